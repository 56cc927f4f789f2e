package httpapi_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

const (
	dataFrameType = "application/vnd.chapkit.dataframe+json"
	contentBucket = "ARTIFACTS_CONTENT"
	contentStream = "OBJ_ARTIFACTS_CONTENT"
)

// serveLimits starts another HTTP server on e's core with its own body
// and content limits, and returns its URL.
func serveLimits(e *env, maxBody, maxContent int64) string {
	e.t.Helper()
	srv := e.st.API()
	srv.MaxBody, srv.MaxContent = maxBody, maxContent
	srv.Logger = slog.New(slog.NewTextHandler(testWriter{e.t}, nil))
	ts := httptest.NewServer(srv.Handler())
	e.t.Cleanup(ts.Close)
	return ts.URL
}

// testWriter writes the server's log (5xx, failed downloads) to the
// test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// genBytes returns n deterministic pseudo-random bytes for seed, generated
// as they are read.
func genBytes(seed byte, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{seed, 'a', 'r', 'b', 'o', 'r'}), n)
}

// genAll returns the bytes of genBytes(seed, n) in memory, for small n.
func genAll(t *testing.T, seed byte, n int64) []byte {
	t.Helper()
	b, err := io.ReadAll(genBytes(seed, n))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hashingBody is a request body that hashes what is read of it. The
// transport may go on reading it after the response has arrived (a 413
// sent before the body was read), so the digest is taken only once the
// transport has closed it.
type hashingBody struct {
	mu     sync.Mutex
	r      io.Reader
	h      hash.Hash
	closed chan struct{}
}

func (b *hashingBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.closed:
		return 0, errors.New("read after close")
	default:
	}
	n, err := b.r.Read(p)
	b.h.Write(p[:n])
	return n, err
}

func (b *hashingBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	return nil
}

// uploadContent PUTs body as the content of id on serverURL with
// Content-Type ctype (none when empty). With length >= 0 the request
// declares it as Content-Length; otherwise the body goes chunked. It
// returns the response and the SHA-256 of the bytes sent, hashed as they
// stream.
func uploadContent(t *testing.T, serverURL, id string, body io.Reader, length int64, ctype string, hdr ...string) (response, string) {
	t.Helper()
	path := base + "/" + id + "/$content"
	hb := &hashingBody{r: body, h: sha256.New(), closed: make(chan struct{})}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, serverURL+path, hb)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	if length == 0 {
		req.Body = http.NoBody
		hb.Close()
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("PUT %s: %v", path, err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatalf("PUT %s: read body: %v", path, err)
	}
	checkExchange(t, exchange{req: req, res: res, resBody: b, resKnown: true})
	select {
	case <-hb.closed:
	case <-t.Context().Done():
		t.Fatalf("PUT %s: the transport never closed the body", path)
	}
	hb.mu.Lock()
	sha := hex.EncodeToString(hb.h.Sum(nil))
	hb.mu.Unlock()
	return response{Status: res.StatusCode, Header: res.Header, Body: b, Path: path,
		desc: "PUT " + path + " = " + strconv.Itoa(res.StatusCode) + " " + strings.TrimSpace(string(b))}, sha
}

// fetched is a download read as a stream: its size and digest, not its
// bytes.
type fetched struct {
	Status int
	Header http.Header
	Size   int64
	SHA256 string
}

// fetch GETs path from serverURL and hashes the body as it arrives: all of
// it, or its first limit bytes when limit >= 0.
func fetch(t *testing.T, serverURL, path string, limit int64, hdr ...string) fetched {
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
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	var body io.Reader = res.Body
	if limit >= 0 {
		body = io.LimitReader(body, limit)
	}
	h := sha256.New()
	got := keep(keepLimit)
	n, err := io.Copy(io.MultiWriter(h, got), body)
	if err != nil {
		t.Fatalf("GET %s: read body after %d bytes: %v", path, n, err)
	}
	resBody, whole := got.bytes()
	checkExchange(t, exchange{req: req, reqKnown: true, res: res, resBody: resBody, resKnown: whole && limit < 0})
	return fetched{Status: res.StatusCode, Header: res.Header, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
}

// genSHA256 returns the digest of genBytes(seed, n).
func genSHA256(t *testing.T, seed byte, n int64) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, genBytes(seed, n)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// createAt posts body to serverURL and returns the artifact, failing
// unless it is 201. Unlike e.create it reports to t, so subtests may use it.
func createAt(t *testing.T, serverURL, body string) artifact {
	t.Helper()
	var a artifact
	wantJSON(t, send(t, serverURL, http.MethodPost, base, strings.NewReader(body), true), http.StatusCreated, &a)
	return a
}

func getAt(t *testing.T, serverURL, id string) artifact {
	t.Helper()
	var a artifact
	wantJSON(t, send(t, serverURL, http.MethodGet, base+"/"+id, nil, false), http.StatusOK, &a)
	return a
}

// stamped is what data says of uploaded content.
type stamped struct {
	Type   *string         `json:"content_type"`
	Size   *int64          `json:"content_size"`
	SHA256 *string         `json:"content_sha256"`
	Inline json.RawMessage `json:"content"`
}

// checkStamped checks data describes uploaded content of ctype, size and
// sha, and holds no inline content.
func checkStamped(t *testing.T, what string, data json.RawMessage, ctype string, size int64, sha string) {
	t.Helper()
	var s stamped
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("%s: data %.200s: %v", what, data, err)
	}
	if s.Type == nil || *s.Type != ctype {
		t.Errorf("%s: data.content_type = %v, want %q", what, deref(s.Type), ctype)
	}
	if s.Size == nil || *s.Size != size {
		t.Errorf("%s: data.content_size = %v, want %d", what, deref(s.Size), size)
	}
	if s.SHA256 == nil || *s.SHA256 != sha {
		t.Errorf("%s: data.content_sha256 = %v, want %q", what, deref(s.SHA256), sha)
	}
	if s.Inline != nil {
		t.Errorf("%s: data.content = %.100s, want none (the bytes live in the object store)", what, s.Inline)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "missing"
	}
	return *p
}

// checkDownloadHeaders checks the Content-Type and Content-Disposition of
// a download of id.
func checkDownloadHeaders(t *testing.T, what string, h http.Header, id, ctype, ext string) {
	t.Helper()
	if got := h.Get("Content-Type"); got != ctype {
		t.Errorf("%s: Content-Type = %q, want %q", what, got, ctype)
	}
	wantCD := "attachment; filename=artifact_" + id + "." + ext
	if got := h.Get("Content-Disposition"); got != wantCD {
		t.Errorf("%s: Content-Disposition = %q, want %q", what, got, wantCD)
	}
}

// checkCSVHeaders checks a download of id is CSV: Content-Type text/csv
// (any parameters) and a .csv filename.
func checkCSVHeaders(t *testing.T, what string, h http.Header, id string) {
	t.Helper()
	if mt, _, err := mime.ParseMediaType(h.Get("Content-Type")); err != nil || mt != "text/csv" {
		t.Errorf("%s: Content-Type = %q, want text/csv", what, h.Get("Content-Type"))
	}
	wantCD := "attachment; filename=artifact_" + id + ".csv"
	if got := h.Get("Content-Disposition"); got != wantCD {
		t.Errorf("%s: Content-Disposition = %q, want %q", what, got, wantCD)
	}
}

// contentMsgs returns the number of messages in the object store's
// stream: any chunk left behind shows here.
func contentMsgs(t *testing.T, e *env) uint64 {
	t.Helper()
	s, err := e.st.JS.Stream(t.Context(), contentStream)
	if err != nil {
		t.Fatalf("stream %s: %v", contentStream, err)
	}
	info, err := s.Info(t.Context())
	if err != nil {
		t.Fatalf("stream %s info: %v", contentStream, err)
	}
	return info.State.Msgs
}

// objectNames returns the names of the objects in the content bucket.
func objectNames(t *testing.T, e *env) []string {
	t.Helper()
	obs, err := e.st.JS.ObjectStore(t.Context(), contentBucket)
	if err != nil {
		t.Fatalf("object store %s: %v", contentBucket, err)
	}
	infos, err := obs.List(t.Context())
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("list %s: %v", contentBucket, err)
	}
	var names []string
	for _, info := range infos {
		names = append(names, info.Name)
	}
	slices.Sort(names)
	return names
}

// wantSame fails unless got is want, byte for byte, saying where they part.
func wantSame(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-40)
	t.Errorf("%s: %d bytes, want %d; they differ at byte %d: got %q, want %q", what, len(got), len(want), i,
		got[lo:min(len(got), i+40)], want[lo:min(len(want), i+40)])
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("compact %.100s: %v", b, err)
	}
	return buf.Bytes()
}

// mlMeta is valid chapkit MLMetadata.
const mlMeta = `{"status":"success","config_id":"cfg-1","started_at":"2025-10-18T10:00:00Z",` +
	`"completed_at":"2025-10-18T10:05:00.5Z","duration_seconds":300.5,"exit_code":0,"stdout":"ok","stderr":null}`

func TestContentTypedData(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	valid := []string{
		`{"type":"ml_training","metadata":` + mlMeta + `,"content":{"weights":[1,2]},"content_type":"application/json"}`,
		`{"type":"ml_prediction","metadata":{"status":"failed","config_id":"c","started_at":"2025-10-18T10:00:00",` +
			`"completed_at":"2025-10-18T10:00:01","duration_seconds":1,"exit_code":2,"stderr":"boom"}}`,
		`{"type":"ml_training_workspace","metadata":` + mlMeta + `,"content_size":12,"content_sha256":null}`,
		`{"type":"generic","metadata":{"anything":[1,{"x":null}]},"content":"hello"}`,
		`{"type":"generic"}`,
	}
	for _, data := range valid {
		a := e.create(`{"data":` + data + `}`)
		if !bytes.Equal(a.Data, []byte(data)) {
			t.Errorf("POST %s: data = %s, want as sent", data, a.Data)
		}
	}

	// Each invalid body is the valid ml_training one with one thing wrong.
	ml := func(meta, rest string) string {
		return `{"data":{"type":"ml_training","metadata":` + meta + rest + `}}`
	}
	without := func(key string) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(mlMeta), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, key)
		b, _ := json.Marshal(m)
		return string(b)
	}
	with := func(key, value string) string {
		return strings.TrimSuffix(mlMeta, "}") + `,"` + key + `":` + value + `}`
	}
	for _, c := range []struct{ body, field string }{
		{ml(strings.Replace(mlMeta, `"success"`, `"pending"`, 1), ""), "data.metadata.status"},
		{ml(without("config_id"), ""), "data.metadata.config_id"},
		{ml(without("started_at"), ""), "data.metadata.started_at"},
		{ml(with("gpu", `"a100"`), ""), "data.metadata.gpu"},
		{ml(mlMeta, `,"extra":1`), "data.extra"},
		{ml(`[1,2]`, ""), "data.metadata"},
		{ml(`"done"`, ""), "data.metadata"},
		{`{"data":{"type":"ml_prediction","content":{}}}`, "data.metadata"},
		{`{"data":{"type":"generic","metadata":"x"}}`, "data.metadata"},
		{`{"data":{"type":"generic","extra":true}}`, "data.extra"},
		{`{"data":{"type":"generic","content_size":-1}}`, "data.content_size"},
		{`{"data":{"type":"generic","content_sha256":"ABC"}}`, "data.content_sha256"},
		{`{"data":{"type":7}}`, "data.type"},
	} {
		before := e.written()
		wantField(t, e.do(http.MethodPost, base, c.body), c.field)
		if after := e.written(); after != before {
			t.Errorf("POST %s: written %v, want %v unchanged", c.body, after, before)
		}
	}
}

func TestContentUntypedDataStoredAsGiven(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, data := range []string{
		`{"metadata":{"status":"pending"},"extra":1,"content":{"a":[1,2]}}`,
		`{"type":"my_own_type","metadata":"not an object","extra":[1],"content_size":"big"}`,
		`{"type":"ML_TRAINING","metadata":5}`,
	} {
		a := e.create(`{"data": ` + data + `}`)
		if !bytes.Equal(a.Data, []byte(data)) {
			t.Errorf("POST %s: data = %s, want as sent", data, a.Data)
		}
		if got := e.get(a.ID); !bytes.Equal(got.Data, []byte(data)) {
			t.Errorf("GET after POST %s: data = %s, want as sent", data, got.Data)
		}
	}
}

func TestContentTypedDataPut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	data := `{"type":"ml_training","metadata":` + mlMeta + `}`
	a := e.create(`{"data":` + data + `}`)
	path := base + "/" + a.ID
	for _, c := range []struct{ body, field string }{
		{`{"data":{"type":"ml_training","metadata":` + strings.Replace(mlMeta, `"success"`, `"pending"`, 1) + `}}`, "data.metadata.status"},
		{`{"data":{"type":"ml_training"}}`, "data.metadata"},
		{`{"data":{"type":"generic","metadata":[]}}`, "data.metadata"},
		{`{"data":{"type":"ml_training","metadata":` + mlMeta + `,"extra":1}}`, "data.extra"},
	} {
		before := e.written()
		wantField(t, e.do(http.MethodPut, path, c.body), c.field)
		if after := e.written(); after != before {
			t.Errorf("PUT %s: written %v, want %v unchanged", c.body, after, before)
		}
	}
	if got := e.get(a.ID); got.Version != 1 || !bytes.Equal(got.Data, []byte(data)) {
		t.Errorf("after invalid PUTs: version %d data %s, want 1 and the data created", got.Version, got.Data)
	}
	// A valid one goes through.
	var up artifact
	wantJSON(t, e.do(http.MethodPut, path, `{"data":{"type":"generic","metadata":{"k":"v"}}}`), http.StatusOK, &up)
	if up.Version != 2 {
		t.Errorf("valid PUT: version %d, want 2", up.Version)
	}
}

// frameContent is a DataFrame with what CSV must quote: commas, double
// quotes, a newline, and non-ASCII text. Its columns are not in sorted order.
const frameContent = `{"columns":["z_city","a_pop","note","flag"],"data":[` +
	`["Zürich, \"CH\"",415367,"line1\nline2",true],` +
	`["東京",13960000,"plain",null],` +
	`["a,b",1.50,"say \"hi\"",false]]}`

func TestContentDataFrameDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.create(`{"data":{"name":"cities","content_type":"` + dataFrameType + `","content":` + frameContent + `}}`)
	path := base + "/" + a.ID + "/$download"

	r := e.do(http.MethodGet, path, "")
	want(t, r, http.StatusOK)
	const records = `[{"z_city":"Zürich, \"CH\"","a_pop":415367,"note":"line1\nline2","flag":true},` +
		`{"z_city":"東京","a_pop":13960000,"note":"plain","flag":null},` +
		`{"z_city":"a,b","a_pop":1.50,"note":"say \"hi\"","flag":false}]`
	wantSame(t, "records", r.Body, []byte(records))
	checkDownloadHeaders(t, "records", r.Header, a.ID, dataFrameType, "json")

	wantRows := [][]string{
		{"z_city", "a_pop", "note", "flag"},
		{`Zürich, "CH"`, "415367", "line1\nline2", "true"},
		{"東京", "13960000", "plain", ""},
		{"a,b", "1.50", `say "hi"`, "false"},
	}
	for _, c := range []struct {
		query string
		hdr   []string
	}{
		{"?format=csv", nil},
		{"", []string{"Accept", "text/csv"}},
		{"", []string{"Accept", "application/json;q=0.5, text/csv"}},
	} {
		r := e.do(http.MethodGet, path+c.query, "", c.hdr...)
		want(t, r, http.StatusOK)
		checkCSVHeaders(t, r.String(), r.Header, a.ID)
		rows, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatalf("%v: parse CSV: %v", r, err)
		}
		if !slices.EqualFunc(rows, wantRows, slices.Equal) {
			t.Errorf("%v: rows %q, want %q", r, rows, wantRows)
		}
		// RFC 4180 quoting, as written.
		for _, field := range []string{`"Zürich, ""CH"""`, "\"line1\nline2\"", `"a,b"`, `"say ""hi"""`, "\n東京,"} {
			if !bytes.Contains(r.Body, []byte(field)) {
				t.Errorf("%v: no %q in the CSV", r, field)
			}
		}
	}

	// ?format= other than csv keeps JSON.
	r = e.do(http.MethodGet, path+"?format=json", "")
	want(t, r, http.StatusOK)
	wantSame(t, "?format=json", r.Body, []byte(records))
}

func TestContentDataFrameMalformed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	frame := func(content string) string {
		return `{"data":{"content_type":"` + dataFrameType + `","content":` + content + `}}`
	}
	for _, c := range []struct{ body, field string }{
		{frame(`{"columns":["a","b"],"data":[[1,2],[3]]}`), "data.content.data[1]"},
		{frame(`{"columns":["a","b"],"data":[[1,2,3]]}`), "data.content.data[0]"},
		{frame(`{"columns":["a",2],"data":[[1,2]]}`), "data.content.columns[1]"},
		{frame(`{"columns":"a","data":[]}`), "data.content.columns"},
		{frame(`{"columns":["a"],"data":[[1],5]}`), "data.content.data[1]"},
		{frame(`{"columns":["a"]}`), "data.content.data"},
		{frame(`{"columns":["a"],"data":[],"extra":1}`), "data.content.extra"},
		{frame(`[1,2]`), "data.content"},
	} {
		before := e.written()
		wantField(t, e.do(http.MethodPost, base, c.body), c.field)
		if after := e.written(); after != before {
			t.Errorf("POST %s: written %v, want %v unchanged", c.body, after, before)
		}
	}
	// The same on PUT.
	a := e.root("", "frame")
	wantField(t, e.do(http.MethodPut, base+"/"+a.ID, frame(`{"columns":["a","b"],"data":[[1]]}`)), "data.content.data[0]")
}

func TestContentJSONDownload(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.create(`{"data":{"content": {"a": 1, "b": [true, "東京"]}}}`)
	r := e.do(http.MethodGet, base+"/"+a.ID+"/$download", "")
	want(t, r, http.StatusOK)
	wantSame(t, "JSON content", r.Body, []byte(`{"a":1,"b":[true,"東京"]}`))
	checkDownloadHeaders(t, "JSON content", r.Header, a.ID, "application/json", "json")

	for _, data := range []string{`{"name":"none"}`, `{"content":null}`, `{}`} {
		a := e.create(`{"data":` + data + `}`)
		path := base + "/" + a.ID + "/$download"
		p := wantProblem(t, e.do(http.MethodGet, path, ""), http.StatusNotFound, typeNotFound)
		if p.Detail != "Artifact has no content" {
			t.Errorf("GET %s (data %s): detail %q, want %q", path, data, p.Detail, "Artifact has no content")
		}
	}
	wantProblem(t, e.do(http.MethodGet, base+"/"+unknownID+"/$download", ""), http.StatusNotFound, typeNotFound)
	wantProblem(t, e.do(http.MethodGet, base+"/nope/$download", ""), http.StatusBadRequest, typeInvalidULID)
}

func TestContentOmittedFromListsAndTrees(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.create(`{"data":{"name":"root","content_type":"` + dataFrameType + `","content":` + frameContent + `}}`)
	kid := e.create(`{"parent_id":"` + root.ID + `","data":{"name":"kid","content":{"a":1}}}`)
	ids := []string{root.ID, kid.ID}
	summaries := map[string]string{
		root.ID: `{"name":"root","content_type":"` + dataFrameType + `"}`,
		kid.ID:  `{"name":"kid"}`,
	}

	var pg page
	wantJSON(t, e.do(http.MethodGet, base, ""), http.StatusOK, &pg)
	if len(pg.Items) != 2 {
		t.Fatalf("list: %d items, want 2", len(pg.Items))
	}
	for _, it := range pg.Items {
		if !sameJSON(it.Data, []byte(summaries[it.ID])) {
			t.Errorf("list item %s: data %s, want %s (no content)", it.ID, it.Data, summaries[it.ID])
		}
	}

	var trees []node
	for _, r := range []response{
		e.do(http.MethodGet, base+"/"+root.ID+"/$tree", ""),
		e.do(http.MethodPost, base+"/$tree", `{"root_id":"`+root.ID+`"}`),
	} {
		var n node
		wantJSON(t, r, http.StatusOK, &n)
		trees = append(trees, n)
	}
	for _, n := range trees {
		kids := n.Kids(t)
		if len(kids) != 1 {
			t.Fatalf("tree: %d children, want 1", len(kids))
		}
		for _, x := range []node{n, kids[0]} {
			if !sameJSON(x.Data, []byte(summaries[x.ID])) {
				t.Errorf("tree node %s: data %s, want %s (no content)", x.ID, x.Data, summaries[x.ID])
			}
		}
	}

	full := map[string]string{
		root.ID: `{"name":"root","content_type":"` + dataFrameType + `","content":` + frameContent + `}`,
		kid.ID:  `{"name":"kid","content":{"a":1}}`,
	}
	for _, id := range ids {
		if got := e.get(id); !bytes.Equal(got.Data, []byte(full[id])) {
			t.Errorf("GET %s: data %s, want %s (with content)", id, got.Data, full[id])
		}
	}
}

func TestContentBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := serveLimits(e, maxBody, 256<<20)
	for _, c := range []struct {
		name             string
		size             int64
		ctype, want, ext string
		// check is how much of the download is read and compared.
		check int64
	}{
		{"empty", 0, "", "application/octet-stream", "bin", 0},
		{"5MiB", 5 << 20, "image/png", "image/png", "png", 5 << 20},
		{"200MiB", 200 << 20, "application/zip", "application/zip", "zip", 200 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := createAt(t, big, `{"tags":["bin"],"data":{"name":"`+c.name+`","content":{"old":true}}}`)
			r, sha := uploadContent(t, big, a.ID, genBytes(1, c.size), c.size, c.ctype)
			var up artifact
			wantJSON(t, r, http.StatusOK, &up)
			if up.Version != a.Version+1 {
				t.Errorf("upload: version %d, want %d", up.Version, a.Version+1)
			}
			if etag, wantTag := r.Header.Get("ETag"), strconv.Quote(strconv.Itoa(a.Version+1)); etag != wantTag {
				t.Errorf("upload: ETag = %s, want %s", etag, wantTag)
			}
			// The digest the server records is of the bytes it stored.
			checkStamped(t, "upload response", up.Data, c.want, c.size, sha)
			if s := dataMap(t, up.Data); s["name"] != c.name {
				t.Errorf("upload: data %s, want the name kept", up.Data)
			}
			if strings.Join(up.Tags, ",") != "bin" {
				t.Errorf("upload: tags %q, want [bin] kept", up.Tags)
			}
			got := getAt(t, big, a.ID)
			checkStamped(t, "GET after upload", got.Data, c.want, c.size, sha)
			if got.Version != up.Version {
				t.Errorf("GET after upload: version %d, want %d", got.Version, up.Version)
			}

			d := fetch(t, big, base+"/"+a.ID+"/$download", c.check)
			if d.Status != http.StatusOK {
				t.Fatalf("download: status %d, want 200", d.Status)
			}
			wantSHA := sha
			if c.check < c.size {
				wantSHA = genSHA256(t, 1, c.check)
			}
			if d.Size != c.check || d.SHA256 != wantSHA {
				t.Errorf("download: %d bytes sha256 %s, want %d bytes %s", d.Size, d.SHA256, c.check, wantSHA)
			}
			if cl := d.Header.Get("Content-Length"); cl != strconv.FormatInt(c.size, 10) {
				t.Errorf("download: Content-Length = %q, want %d", cl, c.size)
			}
			if etag := d.Header.Get("ETag"); etag != `"`+sha+`"` {
				t.Errorf("download: ETag = %s, want %q", etag, sha)
			}
			checkDownloadHeaders(t, "download", d.Header, a.ID, c.want, c.ext)
		})
	}
}

func TestContentRanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Past the object store's 128 KiB chunks, so ranges start mid-object.
	const size = 300_000
	blob := genAll(t, 2, size)
	a := e.root("", "ranged")
	r, sha := uploadContent(t, e.url, a.ID, bytes.NewReader(blob), size, "image/png")
	want(t, r, http.StatusOK)
	path := base + "/" + a.ID + "/$download"

	for _, c := range []struct {
		rng        string
		from, to   int // the bytes wanted: blob[from:to]
		contentRng string
	}{
		{"bytes=0-99", 0, 100, "bytes 0-99/300000"},
		{"bytes=-10", size - 10, size, "bytes 299990-299999/300000"},
		{"bytes=100-", 100, size, "bytes 100-299999/300000"},
		{"bytes=131000-131100", 131000, 131101, "bytes 131000-131100/300000"},
		{"bytes=299999-", size - 1, size, "bytes 299999-299999/300000"},
	} {
		r := e.do(http.MethodGet, path, "", "Range", c.rng)
		if r.Status != http.StatusPartialContent {
			t.Errorf("Range %s: status %d, want 206", c.rng, r.Status)
			continue
		}
		wantSame(t, "Range "+c.rng, r.Body, blob[c.from:c.to])
		if got := r.Header.Get("Content-Range"); got != c.contentRng {
			t.Errorf("Range %s: Content-Range = %q, want %q", c.rng, got, c.contentRng)
		}
		if got := r.Header.Get("Content-Length"); got != strconv.Itoa(c.to-c.from) {
			t.Errorf("Range %s: Content-Length = %q, want %d", c.rng, got, c.to-c.from)
		}
	}

	r = e.do(http.MethodGet, path, "", "Range", fmt.Sprintf("bytes=%d-", size))
	want(t, r, http.StatusRequestedRangeNotSatisfiable)
	if got := r.Header.Get("Content-Range"); got != "bytes */300000" {
		t.Errorf("unsatisfiable range: Content-Range = %q, want %q", got, "bytes */300000")
	}

	r = e.do(http.MethodGet, path, "", "If-None-Match", `"`+sha+`"`)
	want(t, r, http.StatusNotModified)
	if len(r.Body) != 0 {
		t.Errorf("304: body of %d bytes, want none", len(r.Body))
	}
	// Another tag is not a match: the whole content.
	r = e.do(http.MethodGet, path, "", "If-None-Match", `"`+strings.Repeat("0", 64)+`"`)
	want(t, r, http.StatusOK)
	wantSame(t, "If-None-Match another tag", r.Body, blob)
}

func TestContentStoredOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	blob := genAll(t, 3, 200_000)
	var shas []string
	for _, name := range []string{"one", "two"} {
		a := e.root("", name)
		r, sha := uploadContent(t, e.url, a.ID, bytes.NewReader(blob), int64(len(blob)), "application/zip")
		var up artifact
		wantJSON(t, r, http.StatusOK, &up)
		checkStamped(t, name, up.Data, "application/zip", int64(len(blob)), sha)
		shas = append(shas, sha)
	}
	if shas[0] != shas[1] || shas[0] != sha256Hex(blob) {
		t.Fatalf("digests %q, want both %s", shas, sha256Hex(blob))
	}
	if names := objectNames(t, e); !slices.Equal(names, []string{"sha256/" + shas[0]}) {
		t.Errorf("objects %q, want one: sha256/%s", names, shas[0])
	}

	// Other bytes are another object.
	a := e.root("", "three")
	other := genAll(t, 4, 1000)
	r, sha := uploadContent(t, e.url, a.ID, bytes.NewReader(other), int64(len(other)), "")
	want(t, r, http.StatusOK)
	if names := objectNames(t, e); !slices.Equal(names, slices.Sorted(slices.Values([]string{"sha256/" + shas[0], "sha256/" + sha}))) {
		t.Errorf("objects %q, want sha256/%s and sha256/%s", names, shas[0], sha)
	}
}

func TestContentUploadTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.create(`{"data":{"name":"small","content":{"keep":1}}}`)
	for _, c := range []struct {
		name   string
		length int64
	}{
		{"declared", maxContent + 1},
		{"chunked", -1},
	} {
		before, msgs := e.written(), contentMsgs(t, e)
		r, _ := uploadContent(t, e.url, a.ID, genBytes(5, maxContent+1), c.length, "image/png")
		wantProblem(t, r, http.StatusRequestEntityTooLarge, typeTooLarge)
		if got := e.get(a.ID); got.Version != a.Version || !bytes.Equal(got.Data, a.Data) {
			t.Errorf("%s: after 413 version %d data %s, want %d %s", c.name, got.Version, got.Data, a.Version, a.Data)
		}
		if after := e.written(); after != before {
			t.Errorf("%s: written %v, want %v unchanged", c.name, after, before)
		}
		if after := contentMsgs(t, e); after != msgs {
			t.Errorf("%s: %s holds %d messages, want %d: the refused upload left chunks behind", c.name, contentStream, after, msgs)
		}
		if names := objectNames(t, e); len(names) != 0 {
			t.Errorf("%s: objects %q, want none", c.name, names)
		}
	}

	// Exactly the limit is fine.
	r, sha := uploadContent(t, e.url, a.ID, genBytes(5, maxContent), -1, "image/png")
	var up artifact
	wantJSON(t, r, http.StatusOK, &up)
	checkStamped(t, "upload at the limit", up.Data, "image/png", maxContent, sha)
}

func TestContentUploadErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.written()
	r, _ := uploadContent(t, e.url, unknownID, strings.NewReader("abc"), 3, "image/png")
	p := wantProblem(t, r, http.StatusNotFound, typeNotFound)
	if want := "Artifact with id " + unknownID + " not found"; p.Detail != want {
		t.Errorf("upload to unknown id: detail %q, want %q", p.Detail, want)
	}
	r, _ = uploadContent(t, e.url, "not-a-ulid", strings.NewReader("abc"), 3, "image/png")
	wantProblem(t, r, http.StatusBadRequest, typeInvalidULID)
	if after := e.written(); after != before {
		t.Errorf("written %v, want %v unchanged", after, before)
	}
	if names := objectNames(t, e); len(names) != 0 {
		t.Errorf("objects %q after refused uploads, want none", names)
	}

	a := e.root("", "x")
	r, _ = uploadContent(t, e.url, a.ID, strings.NewReader("first"), 5, "text/plain", "If-Match", `"1"`)
	var up artifact
	wantJSON(t, r, http.StatusOK, &up)
	for _, im := range []string{`"1"`, `"3"`, `W/"2"`} {
		before, msgs := e.written(), contentMsgs(t, e)
		r, _ = uploadContent(t, e.url, a.ID, strings.NewReader("second"), 6, "text/plain", "If-Match", im)
		if after := contentMsgs(t, e); after != msgs {
			t.Errorf("If-Match %s: %s holds %d messages, want %d: the refused file was stored", im, contentStream, after, msgs)
		}
		wantProblem(t, r, http.StatusPreconditionFailed, typePrecondition)
		if got := e.get(a.ID); got.Version != 2 || !bytes.Equal(got.Data, up.Data) {
			t.Errorf("If-Match %s: version %d data %s, want 2 %s", im, got.Version, got.Data, up.Data)
		}
		if after := e.written(); after != before {
			t.Errorf("If-Match %s: written %v, want %v unchanged", im, after, before)
		}
	}
	r = e.do(http.MethodGet, base+"/"+a.ID+"/$download", "")
	want(t, r, http.StatusOK)
	wantSame(t, "download after stale uploads", r.Body, []byte("first"))
	checkDownloadHeaders(t, "text/plain", r.Header, a.ID, "text/plain", "bin")

	// $content takes PUT only.
	r = e.do(http.MethodPost, base+"/"+a.ID+"/$content", "x", "Content-Type", "text/plain")
	wantProblem(t, r, http.StatusMethodNotAllowed, typeMethod)
}

func TestContentPutKeepsOrReplaces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.root("", "img")
	blob := genAll(t, 6, 4096)
	r, sha := uploadContent(t, e.url, a.ID, bytes.NewReader(blob), int64(len(blob)), "image/png")
	want(t, r, http.StatusOK)
	path := base + "/" + a.ID

	// New data without content: the upload stays.
	var up artifact
	wantJSON(t, e.do(http.MethodPut, path, `{"tags":["t"],"data":{"name":"renamed"}}`), http.StatusOK, &up)
	checkStamped(t, "PUT without content", up.Data, "image/png", int64(len(blob)), sha)
	if m := dataMap(t, up.Data); m["name"] != "renamed" || up.Version != 3 {
		t.Errorf("PUT without content: version %d data %s, want 3 and the new name", up.Version, up.Data)
	}
	checkStamped(t, "GET after PUT without content", e.get(a.ID).Data, "image/png", int64(len(blob)), sha)
	r = e.do(http.MethodGet, path+"/$download", "")
	want(t, r, http.StatusOK)
	wantSame(t, "download after PUT without content", r.Body, blob)
	checkDownloadHeaders(t, "download after PUT without content", r.Header, a.ID, "image/png", "png")

	// The data a client read, sent back: still the upload.
	wantJSON(t, e.do(http.MethodPut, path, `{"data":`+string(up.Data)+`}`), http.StatusOK, &up)
	checkStamped(t, "PUT of the data read", up.Data, "image/png", int64(len(blob)), sha)

	// Inline content replaces it.
	wantJSON(t, e.do(http.MethodPut, path, `{"data":{"name":"json","content":{"a":1}}}`), http.StatusOK, &up)
	if !bytes.Equal(up.Data, []byte(`{"name":"json","content":{"a":1}}`)) {
		t.Errorf("PUT with content: data %s, want exactly what was sent", up.Data)
	}
	r = e.do(http.MethodGet, path+"/$download", "")
	want(t, r, http.StatusOK)
	wantSame(t, "download after PUT with content", r.Body, []byte(`{"a":1}`))
	checkDownloadHeaders(t, "download after PUT with content", r.Header, a.ID, "application/json", "json")
	if r.Header.Get("ETag") == `"`+sha+`"` {
		t.Errorf("download after PUT with content: ETag %s of the replaced upload", r.Header.Get("ETag"))
	}
}

// part is one part of a multipart body: a form field, or a file when it
// has a filename.
type part struct{ name, filename, ctype, body string }

func multipartBody(t *testing.T, parts ...part) (string, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := fmt.Sprintf(`form-data; name=%q`, p.name)
		if p.filename != "" {
			cd += fmt.Sprintf(`; filename=%q`, p.filename)
		}
		h.Set("Content-Disposition", cd)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, p.body)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String(), mw.FormDataContentType()
}

func TestContentMultipartCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.root("", "exp")
	blob := string(genAll(t, 7, 300_000))
	body, ctype := multipartBody(t,
		part{name: "artifact", ctype: "application/json",
			body: `{"parent_id":"` + root.ID + `","tags":["mp"],"data":{"type":"generic","metadata":{"k":1}}}`},
		part{name: "content", filename: "plot.png", ctype: "image/png", body: blob})
	r := e.do(http.MethodPost, base, body, "Content-Type", ctype)
	var a artifact
	wantJSON(t, r, http.StatusCreated, &a)
	if got := r.Header.Get("Location"); got != base+"/"+a.ID {
		t.Errorf("Location = %q, want %q", got, base+"/"+a.ID)
	}
	if a.Version != 1 || a.ParentID == nil || *a.ParentID != root.ID || strings.Join(a.Tags, ",") != "mp" {
		t.Errorf("multipart create: %+v, want version 1, parent %s, tags [mp]", a, root.ID)
	}
	sha := sha256Hex([]byte(blob))
	checkStamped(t, "multipart create", a.Data, "image/png", int64(len(blob)), sha)
	if m := dataMap(t, a.Data); m["type"] != "generic" || m["metadata"] == nil {
		t.Errorf("multipart create: data %s, want the type and metadata kept", a.Data)
	}
	checkStamped(t, "GET after multipart create", e.get(a.ID).Data, "image/png", int64(len(blob)), sha)

	d := fetch(t, e.url, base+"/"+a.ID+"/$download", -1)
	if d.Status != http.StatusOK || d.SHA256 != sha || d.Size != int64(len(blob)) {
		t.Errorf("download: status %d, %d bytes sha256 %s, want 200, %d bytes %s", d.Status, d.Size, d.SHA256, len(blob), sha)
	}
	checkDownloadHeaders(t, "download", d.Header, a.ID, "image/png", "png")

	// A file part without a Content-Type is application/octet-stream.
	body, ctype = multipartBody(t,
		part{name: "artifact", body: `{"data":{}}`},
		part{name: "content", filename: "x", body: "raw"})
	wantJSON(t, e.do(http.MethodPost, base, body, "Content-Type", ctype), http.StatusCreated, &a)
	checkStamped(t, "file without Content-Type", a.Data, "application/octet-stream", 3, sha256Hex([]byte("raw")))
}

func TestContentMultipartBadParts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	art := part{name: "artifact", body: `{"data":{"name":"x"}}`}
	file := part{name: "content", filename: "f.bin", ctype: "application/octet-stream", body: "bytes"}
	extra := part{name: "extra", body: "more"}
	for _, c := range []struct {
		name  string
		parts []part
	}{
		{"no parts", nil},
		{"artifact only", []part{art}},
		{"content only", []part{file}},
		{"content first", []part{file, art}},
		{"another first", []part{extra, art, file}},
		{"another second", []part{art, extra, file}},
		{"a third part", []part{art, file, extra}},
		{"artifact twice", []part{art, art, file}},
	} {
		before := e.written()
		body, ctype := multipartBody(t, c.parts...)
		wantProblem(t, e.do(http.MethodPost, base, body, "Content-Type", ctype), http.StatusBadRequest, typeBadRequest)
		if after := e.written(); after != before {
			t.Errorf("%s: written %v, want %v unchanged", c.name, after, before)
		}
	}
	// Not multipart at all, though it says so.
	wantProblem(t, e.do(http.MethodPost, base, "junk", "Content-Type", "multipart/form-data"), http.StatusBadRequest, typeBadRequest)
}

func TestContentMultipartInvalidArtifact(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	file := part{name: "content", filename: "f.png", ctype: "image/png", body: string(genAll(t, 8, 200_000))}
	for _, c := range []struct {
		artifact string
		status   int
		field    string
	}{
		{`{"data":{"type":"ml_training","metadata":` + strings.Replace(mlMeta, `"success"`, `"pending"`, 1) + `}}`, 422, "data.metadata.status"},
		{`{"data":{"type":"generic","extra":1}}`, 422, "data.extra"},
		{`{"data":[1]}`, 422, "data"},
		{`{"data":{},"tags":["no spaces"]}`, 422, "tags[0]"},
		{`{"id":"nope","data":{}}`, 422, "id"},
		{`{"data":`, 400, ""},
		{`{"data":{}} trailing`, 400, ""},
	} {
		before, msgs := e.written(), contentMsgs(t, e)
		body, ctype := multipartBody(t, part{name: "artifact", body: c.artifact}, file)
		r := e.do(http.MethodPost, base, body, "Content-Type", ctype)
		if c.status == 422 {
			wantField(t, r, c.field)
		} else {
			wantProblem(t, r, c.status, typeBadRequest)
		}
		if after := e.written(); after != before {
			t.Errorf("%s: written %v, want %v unchanged", c.artifact, after, before)
		}
		if after := contentMsgs(t, e); after != msgs {
			t.Errorf("%s: %s holds %d messages, want %d: the file was stored", c.artifact, contentStream, after, msgs)
		}
	}
	if names := objectNames(t, e); len(names) != 0 {
		t.Errorf("objects %q, want none", names)
	}

	// An unknown parent is 422 too, found before the file is stored.
	before, msgs := e.written(), contentMsgs(t, e)
	body, ctype := multipartBody(t, part{name: "artifact", body: `{"parent_id":"` + unknownID + `","data":{}}`}, file)
	wantField(t, e.do(http.MethodPost, base, body, "Content-Type", ctype), "parent_id")
	if after := e.written(); after != before {
		t.Errorf("unknown parent: written %v, want %v unchanged", after, before)
	}
	if after := contentMsgs(t, e); after != msgs {
		t.Errorf("unknown parent: %s holds %d messages, want %d: the file was stored", contentStream, after, msgs)
	}
}

func TestContentMultipartTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before, msgs := e.written(), contentMsgs(t, e)
	body, ctype := multipartBody(t,
		part{name: "artifact", body: `{"data":{}}`},
		part{name: "content", filename: "big.zip", ctype: "application/zip", body: string(genAll(t, 9, maxContent+1))})
	wantProblem(t, e.do(http.MethodPost, base, body, "Content-Type", ctype), http.StatusRequestEntityTooLarge, typeTooLarge)
	if after := e.written(); after != before {
		t.Errorf("written %v, want %v unchanged", after, before)
	}
	if after := contentMsgs(t, e); after != msgs {
		t.Errorf("%s holds %d messages, want %d", contentStream, after, msgs)
	}
}

var (
	bigColumns = []string{"id", "city", "temp", "ok", "note"}
	bigCities  = []string{`Zürich, "CH"`, "東京", "Oslo", "a\tb"}
	// bigFiller makes rows wide: it is the bytes that matter here, and
	// the server's work grows with the rows as well.
	bigFiller = strings.Repeat(`lorem "ipsum", dolor; `, 40)
	// bigFillerJSON is bigFiller's escaped text and closing quote, to end a
	// JSON string.
	bigFillerJSON = strings.ReplaceAll(bigFiller, `"`, `\"`) + `"`
)

// bigRow is row i of a frame of n rows: its cells as JSON and as CSV
// fields.
func bigRow(i, n int) (cells, fields []string) {
	city, head := bigCities[i%len(bigCities)], "row "+strconv.Itoa(i)+", of "+strconv.Itoa(n)+": "
	temp, ok := fmt.Sprintf("%d.%02d", i%40-10, i%100), strconv.FormatBool(i%3 == 0)
	// The filler is escaped once: escaping 20 MB row by row is slow under -race.
	note := jsonString(head)
	note = note[:len(note)-1] + bigFillerJSON
	return []string{strconv.Itoa(i), jsonString(city), temp, ok, note},
		[]string{strconv.Itoa(i), city, temp, ok, head + bigFiller}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// bigRecord is row i of a frame of n rows as a record object.
func bigRecord(i, n int) string {
	cells, _ := bigRow(i, n)
	var b strings.Builder
	b.WriteByte('{')
	for j, c := range cells {
		if j > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonString(bigColumns[j]) + ":" + c)
	}
	b.WriteByte('}')
	return b.String()
}

// bigFrame returns a DataFrame of n rows as JSON with white space.
func bigFrame(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"columns": ["id", "city", "temp", "ok", "note"], "data": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",\n  ")
		}
		cells, _ := bigRow(i, n)
		b.WriteString("[" + strings.Join(cells, ", ") + "]")
	}
	b.WriteString("]}")
	return b.Bytes()
}

// csvLine parses one CSV record.
func csvLine(t *testing.T, line []byte) []string {
	t.Helper()
	rec, err := csv.NewReader(bytes.NewReader(line)).Read()
	if err != nil {
		t.Fatalf("CSV line %.100q: %v", line, err)
	}
	return rec
}

func TestContentInlineTooLargeForEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := serveLimits(e, 48<<20, maxContent)
	const rows = 20_000
	data := slices.Concat([]byte(`{"name": "big", "content_type": "`+dataFrameType+`", "content": `), bigFrame(rows), []byte(`, "after": [1, 2]}`))
	if len(data) < 18<<20 || len(data) > 32<<20 {
		t.Fatalf("the data is %d bytes, want about 20 MB", len(data))
	}
	wantData := compact(t, data)

	body := io.MultiReader(strings.NewReader(`{"tags":["big"],"data":`), bytes.NewReader(data), strings.NewReader(`}`))
	r := send(t, big, http.MethodPost, base, body, true)
	want(t, r, http.StatusCreated)
	id := strings.TrimPrefix(r.Header.Get("Location"), base+"/")
	if !ulidRE.MatchString(id) || r.Header.Get("ETag") != `"1"` {
		t.Fatalf("POST: Location %q, ETag %s; want %s/<id>, \"1\"", r.Header.Get("Location"), r.Header.Get("ETag"), base)
	}
	// The response carries the data whole; its exact bytes are checked on
	// GET. (Short needles: bytes.Index is slow on long ones under -race.)
	end := []byte(`,"after":[1,2]},"version":1,`)
	i := bytes.Index(r.Body, end)
	if tail := wantData[len(wantData)-1000:]; i < 0 || !bytes.HasSuffix(r.Body[:i+len(end)-len(`,"version":1,`)], tail) {
		t.Errorf("POST response: %d bytes, want data ending %.60q... in it", len(r.Body), tail)
	}

	got := getAt(t, big, id)
	wantSame(t, "GET data", got.Data, wantData)
	if got.Version != 1 || got.ID != id || strings.Join(got.Tags, ",") != "big" {
		t.Errorf("GET: %s version %d tags %q, want %s version 1 [big]", got.ID, got.Version, got.Tags, id)
	}

	path := base + "/" + id + "/$download"
	r = send(t, big, http.MethodGet, path, nil, false)
	want(t, r, http.StatusOK)
	checkDownloadHeaders(t, "records", r.Header, id, dataFrameType, "json")
	first, last := "["+bigRecord(0, rows)+",{", "},"+bigRecord(rows-1, rows)+"]"
	if !bytes.HasPrefix(r.Body, []byte(first)) || !bytes.HasSuffix(r.Body, []byte(last)) {
		t.Errorf("records: begin %.100q, end %q; want %.100q ... %q", r.Body, r.Body[max(0, len(r.Body)-len(last)):], first, last)
	}
	if n := bytes.Count(r.Body, []byte(`},{"id":`)) + 1; n != rows {
		t.Errorf("records: %d, want %d", n, rows)
	}
	mid := bigRecord(rows/2, rows)
	if i := bytes.Index(r.Body, []byte(`{"id":`+strconv.Itoa(rows/2)+`,`)); i < 0 || !bytes.HasPrefix(r.Body[i:], []byte(mid+",")) {
		t.Errorf("records: no %.100q", mid)
	}

	r = send(t, big, http.MethodGet, path+"?format=csv", nil, false)
	want(t, r, http.StatusOK)
	checkCSVHeaders(t, "CSV", r.Header, id)
	// No field has a line break: a record is a line.
	lines := bytes.Split(bytes.TrimSuffix(r.Body, []byte("\n")), []byte("\n"))
	if len(lines) != rows+1 {
		t.Fatalf("CSV: %d lines, want %d rows and a header", len(lines), rows+1)
	}
	_, firstRow := bigRow(0, rows)
	_, midRow := bigRow(rows/2, rows)
	_, lastRow := bigRow(rows-1, rows)
	for _, c := range []struct {
		line int
		want []string
	}{{0, bigColumns}, {1, firstRow}, {rows/2 + 1, midRow}, {rows, lastRow}} {
		if got := csvLine(t, lines[c.line]); !slices.Equal(got, c.want) {
			t.Errorf("CSV line %d: %q, want %q", c.line, got, c.want)
		}
	}

	wantSummary := []byte(`{"name":"big","content_type":"` + dataFrameType + `","after":[1,2]}`)
	var pg page
	wantJSON(t, send(t, big, http.MethodGet, base, nil, false), http.StatusOK, &pg)
	if len(pg.Items) != 1 || !bytes.Equal(pg.Items[0].Data, wantSummary) {
		t.Errorf("list: %+v, want one item with data %s", pg.Items, wantSummary)
	}
	var n node
	wantJSON(t, send(t, big, http.MethodGet, base+"/"+id+"/$tree", nil, false), http.StatusOK, &n)
	if !bytes.Equal(n.Data, wantSummary) {
		t.Errorf("tree: data %.200s, want %s", n.Data, wantSummary)
	}
}

func TestContentInlineMovedOnUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := serveLimits(e, 8<<20, maxContent)
	a := e.root("", "grows")
	// JSON content, not a DataFrame, larger than one event.
	items := make([]string, 0, 40_000)
	for i := range 40_000 {
		items = append(items, fmt.Sprintf(`{"i": %d, "s": "value %d"}`, i, i))
	}
	content := "[" + strings.Join(items, ", ") + "]"
	data := `{"name": "grown", "content": ` + content + `, "z": "end"}`
	if len(data) < 1<<20 {
		t.Fatalf("data is %d bytes, want more than one event holds", len(data))
	}
	r := send(t, big, http.MethodPut, base+"/"+a.ID, strings.NewReader(`{"data":`+data+`}`), true)
	var up artifact
	wantJSON(t, r, http.StatusOK, &up)
	wantData := compact(t, []byte(data))
	wantSame(t, "PUT response data", up.Data, wantData)
	if up.Version != 2 {
		t.Errorf("PUT: version %d, want 2", up.Version)
	}
	wantSame(t, "GET data", getAt(t, big, a.ID).Data, wantData)
	r = send(t, big, http.MethodGet, base+"/"+a.ID+"/$download", nil, false)
	want(t, r, http.StatusOK)
	wantSame(t, "download", r.Body, compact(t, []byte(content)))
	checkDownloadHeaders(t, "download", r.Header, a.ID, "application/json", "json")

	// A smaller PUT without content drops it.
	wantJSON(t, send(t, big, http.MethodPut, base+"/"+a.ID, strings.NewReader(`{"data":{"name":"small"}}`), true), http.StatusOK, &up)
	if !bytes.Equal(up.Data, []byte(`{"name":"small"}`)) {
		t.Errorf("PUT without content: data %s", up.Data)
	}
	wantProblem(t, send(t, big, http.MethodGet, base+"/"+a.ID+"/$download", nil, false), http.StatusNotFound, typeNotFound)
}

func TestContentDataTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := serveLimits(e, 8<<20, maxContent)
	a := e.root("", "target")
	s := strings.Repeat("x", 2<<20)
	for _, c := range []struct{ method, path, body string }{
		// Nothing to move out of the event.
		{http.MethodPost, base, `{"data":{"blob":"` + s + `"}}`},
		// Too large even with its content moved out.
		{http.MethodPut, base + "/" + a.ID, `{"data":{"blob":"` + s + `","content":{"a":1}}}`},
	} {
		before := e.written()
		wantProblem(t, send(t, big, c.method, c.path, strings.NewReader(c.body), true), http.StatusRequestEntityTooLarge, typeTooLarge)
		if after := e.written(); after != before {
			t.Errorf("%s %s: written %v, want %v unchanged", c.method, c.path, after, before)
		}
	}
	if got := e.get(a.ID); got.Version != 1 {
		t.Errorf("after the refused PUT: version %d, want 1", got.Version)
	}
}

// A range past the end is a problem; a Range that does not parse is
// ignored, as RFC 9110 says.
func TestContentRangeEdges(t *testing.T) {
	e := newEnv(t)
	a := e.root("", "ranges")
	r, _ := uploadContent(t, e.url, a.ID, strings.NewReader("0123456789"), 10, "text/plain")
	want(t, r, http.StatusOK)
	path := base + "/" + a.ID + "/$download"
	r = e.do(http.MethodGet, path, "", "Range", "bytes=10-")
	wantProblem(t, r, http.StatusRequestedRangeNotSatisfiable, "urn:servicekit:error:range-not-satisfiable")
	if cr := r.Header.Get("Content-Range"); cr != "bytes */10" {
		t.Errorf("416 Content-Range = %q, want bytes */10", cr)
	}
	for _, rng := range []string{"items=0-1", "bytes=abc", "bytes=9-0", "bytes=-"} {
		r := e.do(http.MethodGet, path, "", "Range", rng)
		want(t, r, http.StatusOK)
		if string(r.Body) != "0123456789" {
			t.Errorf("Range %q: body %q, want the whole content", rng, r.Body)
		}
	}
	r = e.do(http.MethodGet, path, "", "Range", "bytes=2-4")
	want(t, r, http.StatusPartialContent)
	if string(r.Body) != "234" {
		t.Errorf("bytes=2-4: %q, want 234", r.Body)
	}
	// RFC 9110: a suffix of no bytes cannot be satisfied; a last byte past
	// the end, however far, is the last byte.
	r = e.do(http.MethodGet, path, "", "Range", "bytes=-0")
	wantProblem(t, r, http.StatusRequestedRangeNotSatisfiable, "urn:servicekit:error:range-not-satisfiable")
	for _, rng := range []string{"bytes=7-12", "bytes=7-9223372036854775808", "bytes=7-99999999999999999999999"} {
		r = e.do(http.MethodGet, path, "", "Range", rng)
		want(t, r, http.StatusPartialContent)
		if string(r.Body) != "789" || r.Header.Get("Content-Range") != "bytes 7-9/10" {
			t.Errorf("%s: %q, Content-Range %q; want 789, bytes 7-9/10", rng, r.Body, r.Header.Get("Content-Range"))
		}
	}
	r = e.do(http.MethodGet, path, "", "Range", "bytes=-3")
	want(t, r, http.StatusPartialContent)
	if string(r.Body) != "789" {
		t.Errorf("bytes=-3: %q, want 789", r.Body)
	}
}

func TestContentDownloadFormats(t *testing.T) {
	e := newEnv(t)
	frame := e.create(`{"data":{"content_type":"` + dataFrameType + `","content":{"columns":["a"],"data":[[1]]}}}`)
	text := e.create(`{"data":{"content_type":"text/plain","content":"plain words"}}`)
	file := e.root("", "file")
	r, _ := uploadContent(t, e.url, file.ID, strings.NewReader("PK"), 2, "application/zip")
	want(t, r, http.StatusOK)

	r = e.do(http.MethodGet, base+"/"+frame.ID+"/$download?format=CSV", "")
	want(t, r, http.StatusOK)
	if string(r.Body) != "a\n1\n" {
		t.Errorf("format=CSV: %q, want the CSV", r.Body)
	}
	wantField(t, e.do(http.MethodGet, base+"/"+frame.ID+"/$download?format=xml", ""), "format")
	wantField(t, e.do(http.MethodGet, base+"/"+text.ID+"/$download?format=csv", ""), "format")
	wantField(t, e.do(http.MethodGet, base+"/"+file.ID+"/$download?format=csv", ""), "format")
	// Accept only chooses where there is a choice.
	r = e.do(http.MethodGet, base+"/"+file.ID+"/$download", "", "Accept", "text/csv, */*")
	want(t, r, http.StatusOK)
	if string(r.Body) != "PK" {
		t.Errorf("zip with Accept text/csv: %q", r.Body)
	}
	r = e.do(http.MethodGet, base+"/"+frame.ID+"/$download", "", "Accept", "text/csv;q=0, application/json")
	if want(t, r, http.StatusOK); string(r.Body) != `[{"a":1}]` {
		t.Errorf("Accept text/csv;q=0: %q, want records", r.Body)
	}
	r = e.do(http.MethodGet, base+"/"+text.ID+"/$download", "")
	if want(t, r, http.StatusOK); string(r.Body) != "plain words" || r.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("text content: %q as %s, want the words as text/plain", r.Body, r.Header.Get("Content-Type"))
	}
}

// A body that breaks off is the client's mistake: 400, nothing written,
// not an error of arbor's. A multipart create cut before its closing
// boundary, and an upload whose chunked encoding breaks.
func TestContentBodyBreaksOff(t *testing.T) {
	e := newEnv(t)
	a := e.root("", "target")
	body, ctype := multipartBody(t, part{name: "artifact", body: `{"data":{"k":1}}`},
		part{name: "content", filename: "f.bin", ctype: "application/octet-stream", body: strings.Repeat("x", 4096)})
	cut := body[:len(body)-len("--\r\n")-40] // the file's end and the closing boundary gone
	before := e.written()
	r := send(t, e.url, http.MethodPost, base, strings.NewReader(cut), true, "Content-Type", ctype)
	wantProblem(t, r, http.StatusBadRequest, typeBadRequest)
	if after := e.written(); after != before {
		t.Errorf("a cut multipart create: written %v, want %v unchanged", after, before)
	}

	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PUT %s/%s/$content HTTP/1.1\r\nHost: %s\r\nContent-Type: application/zip\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"4\r\nPK..\r\nzz\r\nnot a chunk\r\n", base, a.ID, u.Host)
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a broken chunk: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a broken chunk = %d, want 400", resp.StatusCode)
	}
	if after := e.written(); after != before {
		t.Errorf("a broken upload: written %v, want %v unchanged", after, before)
	}
}
