package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"arbor/hierarchy"
	"arbor/internal/openapitest"
	"arbor/internal/wiretest"
	"arbor/web"
)

const testAPI = "/api/v1/artifacts"

// mlPipeline is the hierarchy of the README: experiment, model, predictions.
var mlPipeline = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}

// testMainConfig is a Config for an in-process Main: HTTP on a random port,
// embedded NATS reachable in-process only, its store in dir.
func testMainConfig(dir string) Config {
	return Config{
		Addr:        "127.0.0.1:0",
		DataDir:     dir,
		NATSListen:  "",
		Replicas:    1,
		Hierarchies: []hierarchy.Hierarchy{mlPipeline, {Name: "documents"}},
		MaxBody:     1 << 20,
		MaxContent:  16 << 20,
		Wait:        5 * time.Second,
	}
}

// errorRecorder keeps the error records a Main logs, to show them when a test
// fails; it never writes anywhere itself.
type errorRecorder struct {
	mu      sync.Mutex
	records []string
}

func (l *errorRecorder) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *errorRecorder) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *errorRecorder) WithGroup(string) slog.Handler                 { return l }
func (l *errorRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	l.records = append(l.records, b.String())
	l.mu.Unlock()
	return nil
}

func (l *errorRecorder) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.records...)
}

// testInstance is a Main opened by a test, with a client for its API. close
// may be called any number of times; the first call closes Main.
type testInstance struct {
	m    *Main
	c    *testClient
	errs *errorRecorder

	once     sync.Once
	closeErr error
}

func (in *testInstance) close() error {
	in.once.Do(func() { in.closeErr = in.m.Close() })
	return in.closeErr
}

// openTestMain opens a Main with cfg and closes it when the test ends.
func openTestMain(t *testing.T, cfg Config) *testInstance {
	t.Helper()
	errs := &errorRecorder{}
	m := &Main{Config: cfg, Logger: slog.New(errs)}
	if err := m.Open(t.Context()); err != nil {
		_ = m.Close()
		t.Fatalf("Open: %v", err)
	}
	in := &testInstance{m: m, errs: errs}
	in.c = newTestClient(t, "http://"+m.HTTPAddr())
	t.Cleanup(func() {
		if err := in.close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			for _, r := range errs.all() {
				t.Logf("logged by arbor at %s: %s", cfg.Addr, r)
			}
		}
	})
	return in
}

// testClient talks to one arbor's HTTP API. Every exchange send makes is
// validated against the OpenAPI document; the lineage browser's pages,
// which it does not describe, pass unchecked.
type testClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	spec *openapitest.Validator
}

func newTestClient(t *testing.T, base string) *testClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &testClient{t: t, base: base, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, spec: browserOutside(t)}
}

// browserOutside is the validator of the OpenAPI document with the lineage
// browser's pages left out.
func browserOutside(t *testing.T) *openapitest.Validator {
	t.Helper()
	var pages []string
	for _, pg := range web.Pages() {
		pages = append(pages, pg.Path)
	}
	return openapitest.Load(t).Outside(pages...)
}

// testResponse is an HTTP response, read whole.
type testResponse struct {
	status int
	header http.Header
	body   []byte
}

// position is the response's Arbor-Position, zero when it has none.
func (r testResponse) position() uint64 {
	p, _ := strconv.ParseUint(r.header.Get("Arbor-Position"), 10, 64)
	return p
}

func (r testResponse) String() string {
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// send makes a request; body, when not nil, is sent as JSON (a []byte or
// string as it is). It returns an error only when no response came.
func (c *testClient) send(ctx context.Context, method, path string, body any, header map[string]string) (testResponse, error) {
	var (
		rd   io.Reader
		sent []byte
	)
	switch b := body.(type) {
	case nil:
	case []byte:
		sent = b
	case string:
		sent = []byte(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return testResponse{}, err
		}
		sent = j
	}
	if body != nil {
		rd = bytes.NewReader(sent)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return testResponse{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return testResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return testResponse{}, err
	}
	c.spec.Check(c.t, req, sent, resp, b)
	return testResponse{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// do is send that fails the test when no response comes.
func (c *testClient) do(method, path string, body any, header map[string]string) testResponse {
	c.t.Helper()
	r, err := c.send(c.t.Context(), method, path, body, header)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// must is do that also fails the test unless the status is want. It
// decodes the body into out when out is not nil.
func (c *testClient) must(want int, method, path string, body any, out any) testResponse {
	c.t.Helper()
	r := c.do(method, path, body, nil)
	if r.status != want {
		c.t.Fatalf("%s %s = %s, want %d", method, path, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
	return r
}

// listAll reads every page of the list, in order.
func (c *testClient) listAll() []testDoc {
	c.t.Helper()
	var all []testDoc
	for n := 1; ; n++ {
		var p testPage
		c.must(http.StatusOK, http.MethodGet, fmt.Sprintf("%s?page=%d&size=1000", testAPI, n), nil, &p)
		all = append(all, p.Items...)
		if n >= p.Pages {
			if len(all) != p.Total {
				c.t.Fatalf("list: %d items over %d pages, total says %d", len(all), p.Pages, p.Total)
			}
			return all
		}
	}
}

// health is GET /health; status 0 when no answer came.
func (c *testClient) health(ctx context.Context) (int, string) {
	r, err := c.send(ctx, http.MethodGet, "/health", nil, nil)
	if err != nil {
		return 0, err.Error()
	}
	var h struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(r.body, &h)
	return r.status, h.Status
}

// waitHealthy polls /health until it answers 200 "healthy".
func (c *testClient) waitHealthy(timeout time.Duration) {
	c.t.Helper()
	var last string
	ok := pollUntil(c.t.Context(), timeout, func() bool {
		status, s := c.health(c.t.Context())
		last = fmt.Sprintf("%d %s", status, s)
		return status == http.StatusOK && s == "healthy"
	})
	if !ok {
		c.t.Fatalf("%s/health never became 200 healthy; last: %s", c.base, last)
	}
}

// pollUntil calls cond until it holds (true) or timeout passes (false), backing
// off from 1ms to 50ms between calls.
func pollUntil(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	wait := time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// freePort returns a 127.0.0.1 address nothing listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// The API's JSON, as wiretest declares it.
type (
	testDoc  = wiretest.Artifact
	testPage = wiretest.Page[wiretest.Artifact]
)
