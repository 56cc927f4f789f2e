package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/projection"
)

const (
	typeContentCorrupt = "urn:arbor:error:content-corrupt"
	typeContentMissing = "urn:arbor:error:content-missing"
)

// errorLines keeps the error lines a server logs, with their attributes.
type errorLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLines) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *errorLines) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *errorLines) WithGroup(string) slog.Handler                 { return l }
func (l *errorLines) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

// naming returns the lines that name every one of words.
func (l *errorLines) naming(words ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// serveLogged starts another HTTP server on e's core whose commands move
// JSON content of more than maxData bytes of data to the object store,
// and whose error lines are kept.
func serveLogged(e *env, maxData int) (string, *errorLines) {
	e.t.Helper()
	lines := &errorLines{}
	srv := e.st.API()
	h := e.st.Handler
	srv.Commands = &command.Handler{Log: h.Log, Projection: h.Projection, Hierarchies: h.Hierarchies,
		NewID: h.NewID, Now: h.Now, MaxData: maxData, Blobs: h.Blobs, Timeout: h.Timeout}
	srv.Logger = slog.New(lines)
	ts := httptest.NewServer(srv.Handler())
	e.t.Cleanup(ts.Close)
	return ts.URL, lines
}

// contentStore is the object store bucket of e's content.
func contentStore(t *testing.T, e *env) jetstream.ObjectStore {
	t.Helper()
	obs, err := e.st.JS.ObjectStore(t.Context(), contentBucket)
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

// overwriteContent stores data under the name of the content with digest
// sha, through the object store's own API.
func overwriteContent(t *testing.T, e *env, sha string, data []byte) {
	t.Helper()
	if _, err := contentStore(t, e).Put(t.Context(), jetstream.ObjectMeta{Name: "sha256/" + sha}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// flipChunkByte changes the last byte of the content with digest sha in
// its stored chunks, leaving the object's recorded digest and size as they
// were: damage below the object store's API.
func flipChunkByte(t *testing.T, e *env, sha string) {
	t.Helper()
	obs := contentStore(t, e)
	name := "sha256/" + sha
	data, err := obs.GetBytes(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := obs.GetInfo(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := e.st.JS.Stream(t.Context(), contentStream)
	if err != nil {
		t.Fatal(err)
	}
	subject := "$O." + contentBucket + ".C." + info.NUID
	if err := stream.Purge(t.Context(), jetstream.WithPurgeSubject(subject)); err != nil {
		t.Fatal(err)
	}
	data[len(data)-1] ^= 0xff
	for rest := data; len(rest) > 0; rest = rest[min(len(rest), 128<<10):] {
		if _, err := e.st.JS.Publish(t.Context(), subject, rest[:min(len(rest), 128<<10)]); err != nil {
			t.Fatal(err)
		}
	}
}

// contentRef is the digest of the content the artifact id refers to.
func contentRef(t *testing.T, e *env, id string) string {
	t.Helper()
	var sha string
	e.st.Projection.Read(func(s *projection.State) {
		if a, ok := s.Get(ulid.MustParse(id)); ok && a.Content != nil {
			sha = a.Content.SHA256
		}
	})
	if sha == "" {
		t.Fatalf("artifact %s refers to no content in the object store", id)
	}
	return sha
}

// cutOff GETs path with the headers given as pairs and reports the status
// and how many bytes of the body came before it broke off; it fails the
// test unless the body broke off.
func cutOff(t *testing.T, serverURL, path string, hdr ...string) (int, int) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, serverURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0 // cut before the status line
	}
	defer res.Body.Close()
	checkExchange(t, exchange{req: req, reqKnown: true, res: res})
	n, err := io.Copy(io.Discard, res.Body)
	if err == nil {
		t.Fatalf("GET %s %v = %d with %d bytes, complete; want it cut off", path, hdr, res.StatusCode, n)
	}
	return res.StatusCode, int(n)
}

// A file whose object in the store no longer holds its bytes is never
// served: overwritten through the object store's API, every download,
// ranges too, is a 502 problem and not one byte of the other content, and
// the error is logged with the artifact and the digest; uploading the
// right bytes again heals it. Chunks damaged below the API cut the
// download off before its last bytes. A missing object is a 502 problem.
func TestDownloadRefusesTamperedContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, lines := serveLogged(e, 1<<20)
	const size = 300_000 // three chunks of the object store
	blob := genAll(t, 5, size)
	a := e.root("", "tampered")
	r, sha := uploadContent(t, srv, a.ID, bytes.NewReader(blob), size, "image/png")
	want(t, r, http.StatusOK)
	path := base + "/" + a.ID + "/$download"
	if d := fetch(t, srv, path, -1); d.Status != http.StatusOK || d.SHA256 != sha {
		t.Fatalf("download before: %d, sha256 %s; want 200 and %s", d.Status, d.SHA256, sha)
	}

	evil := bytes.Repeat([]byte("evil"), size/4)
	overwriteContent(t, e, sha, evil)
	for _, hdr := range [][]string{
		nil,
		{"Range", "bytes=0-99"},
		{"Range", "bytes=-10"},
		{"Range", "bytes=131000-131100,200000-"},
		{"Accept", "application/octet-stream"},
	} {
		r := send(t, srv, http.MethodGet, path, nil, false, hdr...)
		wantProblem(t, r, http.StatusBadGateway, typeContentCorrupt)
		if bytes.Contains(r.Body, []byte("evil")) || r.Header.Get("ETag") != "" || r.Header.Get("Content-Range") != "" {
			t.Fatalf("%v: headers %v; want a problem, no ETag, no Content-Range, none of the other bytes", r, r.Header)
		}
		if strings.Contains(string(r.Body), sha) {
			t.Errorf("%v: the problem names the digest; clients see no internal details", r)
		}
	}
	if got := lines.naming(a.ID, sha); len(got) == 0 {
		t.Errorf("no error line names artifact %s and digest %s; logged %q", a.ID, sha, lines.lines)
	}
	// The artifact itself stays readable: its data only describes the file.
	getAt(t, srv, a.ID)

	// The right bytes uploaded again replace the other ones.
	r, _ = uploadContent(t, srv, a.ID, bytes.NewReader(blob), size, "image/png")
	want(t, r, http.StatusOK)
	if d := fetch(t, srv, path, -1); d.Status != http.StatusOK || d.SHA256 != sha {
		t.Fatalf("download after the upload again: %d, sha256 %s; want 200 and %s", d.Status, d.SHA256, sha)
	}

	// One byte changed in the chunks: the object's info still checks out,
	// the download starts, and it is cut off before its last bytes.
	flipChunkByte(t, e, sha)
	if status, n := cutOff(t, srv, path); status != 0 && (status != http.StatusOK || n >= size) {
		t.Fatalf("GET %s = %d after %d bytes, want 200 cut off before %d", path, status, n, size)
	}
	if status, n := cutOff(t, srv, path, "Range", "bytes=200000-"); status != 0 && (status != http.StatusPartialContent || n >= size-200000) {
		t.Fatalf("GET %s bytes=200000- = %d after %d bytes, want 206 cut off before %d", path, status, n, size-200000)
	}
	if got := lines.naming("response cut off", a.ID, sha); len(got) == 0 {
		t.Errorf("no line says the download of %s (%s) was cut off; logged %q", a.ID, sha, lines.lines)
	}

	// Gone from the store.
	if err := contentStore(t, e).Delete(t.Context(), "sha256/"+sha); err != nil {
		t.Fatal(err)
	}
	for _, hdr := range [][]string{nil, {"Range", "bytes=0-99"}} {
		wantProblem(t, send(t, srv, http.MethodGet, path, nil, false, hdr...), http.StatusBadGateway, typeContentMissing)
	}
}

// JSON content moved out of its event and read back into the artifact (GET)
// or its download: a tampered object is a 502 problem, never the other
// JSON, and the artifact can still be updated and deleted.
func TestMovedContentRefusesTamperedContent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv, lines := serveLogged(e, 200)
	content := `{"values": [` + strings.Repeat(`1.5, `, 100) + `2]}`
	a := createAt(t, srv, `{"data": {"name": "moved", "content": `+content+`}}`)
	sha := contentRef(t, e, a.ID)
	getAt(t, srv, a.ID)
	path := base + "/" + a.ID

	overwriteContent(t, e, sha, []byte(`{"evil": true}`))
	for _, p := range []string{path, path + "/$download"} {
		r := send(t, srv, http.MethodGet, p, nil, false)
		wantProblem(t, r, http.StatusBadGateway, typeContentCorrupt)
		if bytes.Contains(r.Body, []byte("evil")) {
			t.Fatalf("%v: the other bytes served", r)
		}
	}
	if got := lines.naming(a.ID, sha); len(got) == 0 {
		t.Errorf("no error line names artifact %s and digest %s; logged %q", a.ID, sha, lines.lines)
	}

	// The same JSON again moves to the same digest and heals it.
	var up artifact
	wantJSON(t, send(t, srv, http.MethodPut, path, strings.NewReader(`{"data": {"name": "moved", "content": `+content+`}}`), true),
		http.StatusOK, &up)
	getAt(t, srv, a.ID)

	// Damaged chunks: the document is cut off before it is whole.
	flipChunkByte(t, e, sha)
	if status, n := cutOff(t, srv, path); status != 0 && status != http.StatusOK {
		t.Fatalf("GET %s = %d after %d bytes, want 200 cut off", path, status, n)
	}
	wantProblem(t, send(t, srv, http.MethodGet, path+"/$download", nil, false), http.StatusBadGateway, typeContentCorrupt)

	// Gone from the store: the artifact can be replaced and deleted all
	// the same.
	if err := contentStore(t, e).Delete(t.Context(), "sha256/"+sha); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, send(t, srv, http.MethodGet, path, nil, false), http.StatusBadGateway, typeContentMissing)
	wantJSON(t, send(t, srv, http.MethodPut, path, strings.NewReader(`{"data": {"name": "small"}}`), true), http.StatusOK, &up)
	want(t, send(t, srv, http.MethodDelete, path, nil, false), http.StatusNoContent)
}
