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

// Routes stay few whatever the ids and paths asked for.
func TestRoute(t *testing.T) {
	srv := &httpapi.Server{}
	for path, want := range map[string]string{
		"/health":                               "/health",
		base:                                    base,
		base + "/" + unknownID:                  base + "/{id}",
		base + "/" + unknownID + "/%24download": base + "/{id}/$download",
		base + "/$stats":                        base + "/$stats",
		base + "/x/y/z":                         "other",
		"/wp-admin.php":                         "other",
		base + "/" + unknownID + "/$" + strings.Repeat("x", 40): "other",
	} {
		if got := srv.Route(path); got != want {
			t.Errorf("Route(%q) = %q, want %q", path, got, want)
		}
	}
}
