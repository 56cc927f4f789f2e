package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"arbor/internal/arbortest"
)

// fuzzDeadline is how long a fuzzed request may take: its context ends
// then, and the handler must have answered soon after.
const fuzzDeadline = 2 * time.Second

// FuzzHandler drives the whole HTTP API with random requests against a
// real JetStream: whatever comes, arbor answers without a 5xx, without a
// panic, and within the request's deadline. make test runs it for 30 s;
// go test runs its seeds.
func FuzzHandler(f *testing.F) {
	st := arbortest.New(f, mlPipeline, documents, free)
	srv := st.API()
	srv.MaxBody, srv.MaxContent, srv.Wait = maxBody, maxContent, time.Second
	logged := &lockedBuffer{}
	srv.Logger = slog.New(slog.NewTextHandler(logged, &slog.HandlerOptions{Level: slog.LevelError}))
	h := srv.Handler()

	// A small tree to aim at: a root, a child with a file, a grandchild.
	mk := func(method, path, body string) string {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
		checkRecorded(f, req, []byte(body), true, rec)
		if rec.Code >= 300 {
			f.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
		var a struct{ ID string }
		_ = json.Unmarshal(rec.Body.Bytes(), &a)
		return a.ID
	}
	root := mk(http.MethodPost, base, `{"data": {"name": "root"}, "tags": ["a"]}`)
	child := mk(http.MethodPost, base, `{"parent_id": "`+root+`", "data": {"content": {"x": [1, 2]}, "content_type": "application/json"}}`)
	mk(http.MethodPost, base, `{"parent_id": "`+child+`", "data": {"content": "hello", "content_type": "text/plain"}}`)
	ids := []string{root, child, unknownID, "00000000000000000000000000", "not-an-id", ""}
	suffixes := []string{"", "/$tree", "/$expand", "/$download", "/$content", "/$metadata", "/%24tree", "/$tree?max_depth=-1",
		"/$download?format=csv", "/$expand?x=%zz", "?page=0&size=100000", "?page=-1", "/..", "//",
		"/$history", "/$ancestors?as_of=0", "?version=2", "?version=1&as_of=1", "?as_of=2026-01-01T00:00:00Z",
		"/$tree?as_of=3&max_depth=1", "/$expand?as_of=99999999999999999999"}
	// A live feed with good parameters streams until its deadline, which
	// would spend the fuzzing time waiting: only bad ones are sent.
	tops := []string{base, base + "/$stats", base + "/$tree", base + "/$events?since=x", base + "/$events?artifact=1&type=%",
		"/health", "/", "/api/v1",
		base + "?filter=" + url.QueryEscape(`data.name.matches("r.*t") || size(tags) > 0`), base + "?sort=-data.name&tag=a&tag=b",
		base + "?cursor=eyJzIjoiY3JlYXRlZF9hdCIsInEiOjF9&size=1", base + "?as_of=3&level_label=model&filter=true",
		base + "?created_after=2026-01-01T00:00:00Z&updated_after=2026-01-01T00:00:00Z&level=1", base + "/$stats?as_of=1"}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodHead,
		http.MethodOptions, http.MethodPatch, "BREW"}

	for _, seed := range []struct {
		m, target, id, suffix uint8
		header, value, body   string
	}{
		{0, 0, 0, 0, "", "", ""},
		{1, 0, 0, 0, "Content-Type", "application/json", `{"parent_id": "` + root + `", "data": {"a": 1}}`},
		{2, 1, 0, 0, "If-Match", `"1"`, `{"data": {"b": 2}, "tags": ["x"]}`},
		{2, 1, 1, 4, "Content-Type", "text/plain", "some bytes"},
		{0, 1, 1, 3, "Range", "bytes=-0", ""},
		{0, 1, 0, 1, "Arbor-Min-Position", "99999999", ""},
		{1, 0, 0, 0, "Content-Type", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n{}\r\n--x"},
		{3, 1, 5, 0, "", "", ""},
		{1, 0, 2, 1, "Content-Type", "application/json", `{"root_id": "` + root + `", "max_depth": 1e99}`},
		{1, 0, 0, 0, "Content-Type", "application/json", `{"data": {"content": 1, "content": 2}}`},
		{1, 0, 0, 0, "Idempotency-Key", "k", `{"data": {"a": 1}}`},
		{2, 1, 0, 0, "Idempotency-Key", "k", `{"data": {"a": 2}}`},
		{1, 10, 0, 0, "", "", `{"root_id": "` + root + `", "as_of": "2026-01-01T00:00:00Z"}`},
	} {
		f.Add(seed.m, seed.target, seed.id, seed.suffix, seed.header, seed.value, []byte(seed.body))
	}

	f.Fuzz(func(t *testing.T, m, target, id, suffix uint8, header, value string, body []byte) {
		path := tops[int(target)%len(tops)]
		if target%2 == 1 { // an artifact's path
			path = base + "/" + ids[int(id)%len(ids)] + suffixes[int(suffix)%len(suffixes)]
		}
		method := methods[int(m)%len(methods)]
		ctx, cancel := context.WithTimeout(context.Background(), fuzzDeadline)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, "http://arbor"+path, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		if header != "" {
			if !validHeader(header, value) {
				return
			}
			req.Header.Set(header, value)
		}
		rec := httptest.NewRecorder()
		start := time.Now()
		aborted := false // a response cut off: not one to check
		func() {
			defer func() {
				p := recover()
				if p != nil && p != http.ErrAbortHandler {
					t.Fatalf("%s %s (%s: %q) %q: panic: %v", method, path, header, value, body, p)
				}
				aborted = p != nil
			}()
			h.ServeHTTP(rec, req)
		}()
		if took := time.Since(start); took > fuzzDeadline+3*time.Second {
			t.Fatalf("%s %s (%s: %q) %q: answered after %v, past its deadline", method, path, header, value, body, took)
		}
		if !aborted {
			checkRecorded(t, req, body, true, rec)
		}
		if rec.Code >= 500 && !(rec.Code == http.StatusServiceUnavailable && ctx.Err() != nil) {
			t.Fatalf("%s %s (%s: %q) %q: %d %s\narbor logged: %s", method, path, header, value, body, rec.Code, rec.Body, logged.last(2000))
		}
	})
}

// validHeader reports whether a client could send the header name: value
// at all (net/http refuses others before they reach a server).
func validHeader(name, value string) bool {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	ok := true
	func() {
		defer func() { ok = recover() == nil }()
		req.Header.Set(name, value)
		var buf bytes.Buffer
		ok = req.Header.Write(&buf) == nil && !strings.ContainsAny(name+value, "\r\n\x00") && fmt.Sprint(name) != ""
	}()
	return ok && httpTokenish(name)
}

// httpTokenish reports whether s is a header field name: a token.
func httpTokenish(s string) bool {
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// last is the last n bytes written.
func (b *lockedBuffer) last(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	return s[max(0, len(s)-n):]
}
