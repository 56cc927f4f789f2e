package openapitest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"arbor/internal/openapitest"
)

// recorder is a testing.TB that keeps the errors a check reports.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs := r.errs
	r.errs = nil
	return errs
}

// The transport validates what goes through it: an answer the document
// does not describe fails, one it does passes, a page declared outside is
// not checked, and the live feed is handed back as it flows.
func TestTransport(t *testing.T) {
	feed := make(chan struct{})
	var health atomic.Value // the body /health answers
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "test")
		switch r.URL.Path {
		case "/health":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, health.Load().(string))
		case "/api/v1/artifacts/$events":
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			<-feed
			io.WriteString(w, "id: 1\n\n")
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			io.WriteString(w, "<!doctype html>")
		case "/api/v1/artifacts":
			// Whatever the body, 201 with no artifact.
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusCreated)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	rec := &recorder{TB: t}
	v := openapitest.Load(t)
	hc := &http.Client{Transport: v.Transport(rec, nil), Timeout: 10 * time.Second}

	get := func(hc *http.Client, path string) string {
		t.Helper()
		resp, err := hc.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	healthy := `{"status":"healthy","version":"1","checks":{},"position":3,"ignored_events":0}`
	health.Store(healthy)
	if body := get(hc, "/health"); body != healthy {
		t.Errorf("body handed back: %q, want %q", body, healthy)
	}
	if errs := rec.take(); len(errs) != 0 {
		t.Errorf("a healthy answer: %q", errs)
	}
	health.Store(`{"status":5}`)
	get(hc, "/health")
	if errs := rec.take(); len(errs) == 0 {
		t.Error("an answer against the Health schema passed")
	}

	// A page the document lacks must be a problem, unless declared
	// outside.
	get(hc, "/")
	if errs := rec.take(); len(errs) == 0 {
		t.Error("an HTML answer at / passed")
	}
	outside := &http.Client{Transport: v.Outside("/", "/ui/*filepath").Transport(rec, nil)}
	get(outside, "/")
	if errs := rec.take(); len(errs) != 0 {
		t.Errorf("/ declared outside: %q", errs)
	}
	get(hc, "/nope")
	if errs := rec.take(); len(errs) == 0 {
		t.Error("a 404 in plain text passed")
	}

	// The request's body is checked: an invalid one must be refused.
	resp, err := hc.Post(srv.URL+"/api/v1/artifacts", "application/json", strings.NewReader(`{"data":5}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if errs := rec.take(); !strings.Contains(strings.Join(errs, "\n"), "calls the request invalid") {
		t.Errorf("an invalid create answered 201: %q", errs)
	}

	// The feed comes back before its first event.
	resp, err = hc.Get(srv.URL + "/api/v1/artifacts/$events")
	if err != nil {
		t.Fatal(err)
	}
	close(feed)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "id: 1\n\n" {
		t.Errorf("the feed: %q, %v", b, err)
	}
	if errs := rec.take(); len(errs) != 0 {
		t.Errorf("the feed: %q", errs)
	}
}
