package httpapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"arbor/httpapi"
	"arbor/internal/arbortest"
)

// Every request gets one log line: method, route (ids stand as {id}),
// status, bytes, duration and request id, which the response carries back.
func TestRequestLog(t *testing.T) {
	st := arbortest.New(t, mlPipeline)
	srv := st.API()
	logged := &lockedBuffer{}
	srv.Logger = slog.New(slog.NewJSONHandler(logged, nil))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	send := func(method, path, body, requestID string) (*http.Response, []byte) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if requestID != "" {
			req.Header.Set("X-Request-Id", requestID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, body := send(http.MethodPost, base, `{"data": {"n": 1}}`, "pipeline-run-7")
	var a struct{ ID string }
	json.Unmarshal(body, &a)
	if got := resp.Header.Get("X-Request-Id"); got != "pipeline-run-7" {
		t.Errorf("X-Request-Id %q, want the client's", got)
	}
	resp2, body2 := send(http.MethodGet, base+"/"+a.ID+"/%24tree", "", "")
	made := resp2.Header.Get("X-Request-Id")
	if len(made) != 26 {
		t.Errorf("X-Request-Id %q made by arbor, want a ULID", made)
	}
	resp3, _ := send(http.MethodGet, base+"/"+unknownID, "", "bad id with spaces")
	if got := resp3.Header.Get("X-Request-Id"); got == "bad id with spaces" || got == "" {
		t.Errorf("X-Request-Id %q: a request id with spaces is replaced", got)
	}

	type line struct {
		Msg, Method, Route string
		Status             int
		Bytes              int64
		Duration           int64
		RequestID          string `json:"request_id"`
	}
	var lines []line
	sc := bufio.NewScanner(strings.NewReader(logged.last(1 << 20)))
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "request" {
			lines = append(lines, l)
		}
	}
	want := []line{
		{Msg: "request", Method: "POST", Route: base, Status: 201, Bytes: int64(len(body)), RequestID: "pipeline-run-7"},
		{Msg: "request", Method: "GET", Route: base + "/{id}/$tree", Status: 200, Bytes: int64(len(body2)), RequestID: made},
		{Msg: "request", Method: "GET", Route: base + "/{id}", Status: 404, RequestID: resp3.Header.Get("X-Request-Id")},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d request lines, want %d: %+v", len(lines), len(want), lines)
	}
	for i, w := range want {
		got := lines[i]
		if got.Duration <= 0 {
			t.Errorf("line %d has no duration", i)
		}
		got.Duration = 0
		if w.Bytes == 0 {
			w.Bytes = got.Bytes // a problem's size
		}
		if got != w {
			t.Errorf("line %d = %+v, want %+v", i, got, w)
		}
	}
}

// Routes stay few whatever the ids and paths asked for: only the routes
// arbor serves have their own.
func TestRoute(t *testing.T) {
	srv := &httpapi.Server{Pages: []httpapi.Page{
		{Path: "/metrics", Handler: http.NotFoundHandler()},
		{Path: "/docs/*filepath", Handler: http.NotFoundHandler()},
	}}
	srv.Handler()
	const id = "01KBX3R6ZQ5J8W2M4N7P9T1V3Y"
	for path, want := range map[string]string{
		base:                           base,
		base + "/":                     "other",
		base + "/" + id:                base + "/{id}",
		base + "/not-an-id":            base + "/{id}", // answered 400 there
		base + "/$tree":                base + "/$tree",
		base + "/$stats":               base + "/$stats",
		base + "/$schema":              base + "/$schema",
		base + "/$events":              base + "/$events",
		base + "/$expand":              "other",
		base + "/$zzzz":                "other",
		base + "/$tree/x":              "other",
		base + "/" + id + "/$tree":     base + "/{id}/$tree",
		base + "/" + id + "/$expand":   base + "/{id}/$expand",
		base + "/" + id + "/$content":  base + "/{id}/$content",
		base + "/" + id + "/$download": base + "/{id}/$download",
		base + "/" + id + "/$stats":    "other",
		base + "/" + id + "/%24tree":   "other", // escaped twice by the client
		base + "/" + id + "/":          "other",
		base + "/" + id + "/$tree/x":   "other",
		base + "x":                     "other",
		"/health":                      "/health",
		"/metrics":                     "/metrics",
		"/metrics/x":                   "other",
		"/docs/":                       "/docs/*filepath",
		"/docs/a/b.html":               "/docs/*filepath",
		"/":                            "other",
		"/wp-admin.php":                "other",
	} {
		if got := srv.Route(path); got != want {
			t.Errorf("Route(%q) = %q, want %q", path, got, want)
		}
	}
}
