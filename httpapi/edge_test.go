package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestEdgeCases(t *testing.T) {
	e := newEnv(t)
	root := e.create(`{"data":{"name":"r"}}`)

	t.Run("a lowercase unknown id is named in upper case", func(t *testing.T) {
		p := wantProblem(t, e.do(http.MethodGet, base+"/"+strings.ToLower(unknownID), ""), http.StatusNotFound, typeNotFound)
		if want := "Artifact with id " + unknownID + " not found"; p.Detail != want {
			t.Fatalf("detail = %q, want %q", p.Detail, want)
		}
	})
	t.Run("a page past any possible end is empty", func(t *testing.T) {
		var pg struct {
			Items []artifact `json:"items"`
			Total int        `json:"total"`
		}
		wantJSON(t, e.do(http.MethodGet, base+"?page=4611686018427387905&size=4", ""), http.StatusOK, &pg)
		if len(pg.Items) != 0 || pg.Total != 1 {
			t.Fatalf("items %d, total %d; want 0 items of 1", len(pg.Items), pg.Total)
		}
	})
	t.Run("data after the JSON value is malformed", func(t *testing.T) {
		before := e.written()
		for _, body := range []string{`{"data":{}}}`, `{"data":{}}]`, `{"data":{}} {"data":{}}`} {
			wantProblem(t, e.do(http.MethodPost, base, body), http.StatusBadRequest, typeBadRequest)
		}
		if after := e.written(); after != before {
			t.Fatalf("written %v, want %v", after, before)
		}
	})
	t.Run("invalid UTF-8 is refused", func(t *testing.T) {
		wantProblem(t, e.do(http.MethodPost, base, "{\"data\":{\"s\":\"\xff\"}}"), http.StatusBadRequest, typeBadRequest)
	})
	t.Run("paths are case-sensitive", func(t *testing.T) {
		wantProblem(t, e.do(http.MethodGet, "/API/V1/ARTIFACTS", ""), http.StatusNotFound, typeNotFound)
	})
	t.Run("HEAD is GET without a body", func(t *testing.T) {
		r := e.do(http.MethodHead, base+"/"+root.ID, "")
		want(t, r, http.StatusOK)
		if len(r.Body) != 0 || r.Header.Get("ETag") != `"1"` {
			t.Fatalf("HEAD: body %q, ETag %q", r.Body, r.Header.Get("ETag"))
		}
	})
	t.Run("OPTIONS lists exactly what is allowed", func(t *testing.T) {
		for path, allow := range map[string]string{
			base + "/" + root.ID:              "DELETE, GET, OPTIONS, PUT",
			base + "/" + root.ID + "/$expand": "GET, OPTIONS",
			base + "/$tree":                   "OPTIONS, POST",
		} {
			r := e.do(http.MethodOptions, path, "")
			want(t, r, http.StatusNoContent)
			if got := r.Header.Get("Allow"); got != allow {
				t.Errorf("OPTIONS %s: Allow = %q, want %q", path, got, allow)
			}
		}
	})
	t.Run("If-Match takes one strong ETag", func(t *testing.T) {
		body := `{"data":{"name":"r2"}}`
		for _, im := range []string{`W/"1"`, `"1", "2"`, `1`} {
			wantProblem(t, e.do(http.MethodPut, base+"/"+root.ID, body, "If-Match", im), http.StatusPreconditionFailed, typePrecondition)
		}
		want(t, e.do(http.MethodPut, base+"/"+root.ID, body, "If-Match", `"1"`), http.StatusOK)
	})
}

func TestIfMatchComparesAsStrings(t *testing.T) {
	e := newEnv(t)
	a := e.create(`{"data":{}}`)
	wantProblem(t, e.do(http.MethodPut, base+"/"+a.ID, `{"data":{"v":2}}`, "If-Match", `"01"`), http.StatusPreconditionFailed, typePrecondition)
	want(t, e.do(http.MethodHead, base, ""), http.StatusOK)
	want(t, e.do(http.MethodHead, "/health", ""), http.StatusOK)
}
