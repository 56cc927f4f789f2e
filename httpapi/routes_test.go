package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"arbor/api"
	"arbor/httpapi"
)

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	a := e.root("", "a")
	before := e.written()

	tests := []struct {
		method, path string
		allow        []string // must be listed
		deny         []string // must not be listed
	}{
		{"GET", base + "/$tree", []string{"POST"}, []string{"GET", "PUT", "DELETE"}},
		{"PUT", base + "/$tree", []string{"POST"}, []string{"PUT"}},
		{"POST", base + "/" + a.ID, []string{"GET", "PUT", "DELETE"}, []string{"POST", "PATCH"}},
		{"PATCH", base + "/" + a.ID, []string{"GET", "PUT", "DELETE"}, []string{"POST", "PATCH"}},
		{"PATCH", base, []string{"GET", "POST"}, []string{"PATCH", "PUT", "DELETE"}},
		{"DELETE", base, []string{"GET", "POST"}, []string{"PATCH", "PUT", "DELETE"}},
		{"DELETE", base + "/$stats", []string{"GET"}, []string{"DELETE", "POST", "PUT"}},
		{"POST", base + "/$schema", []string{"GET"}, []string{"POST"}},
		{"POST", base + "/" + a.ID + "/$expand", []string{"GET"}, []string{"POST"}},
		{"DELETE", base + "/" + a.ID + "/$tree", []string{"GET"}, []string{"DELETE", "POST"}},
		{"PUT", base + "/" + a.ID + "/$metadata", []string{"GET"}, []string{"PUT"}},
		{"POST", "/health", []string{"GET"}, []string{"POST"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			body := ""
			if tt.method != http.MethodGet && tt.method != http.MethodDelete {
				body = `{"data":{}}`
			}
			r := e.do(tt.method, tt.path, body)
			wantProblem(t, r, http.StatusMethodNotAllowed, typeMethod)
			allow := r.Header.Get("Allow")
			listed := map[string]bool{}
			for m := range strings.SplitSeq(allow, ",") {
				listed[strings.TrimSpace(m)] = true
			}
			for _, m := range tt.allow {
				if !listed[m] {
					t.Errorf("Allow = %q, want it to list %s", allow, m)
				}
			}
			for _, m := range tt.deny {
				if listed[m] {
					t.Errorf("Allow = %q, want it not to list %s", allow, m)
				}
			}
		})
	}
	if after := e.written(); after != before {
		t.Errorf("(count, position) went from %v to %v", before, after)
	}
}

func TestNotFoundRoutes(t *testing.T) {
	e := newEnv(t)
	a := e.root("", "a")
	for _, path := range []string{
		"/nope",
		"/",
		"/api/v1",
		"/api/v1/nope",
		base + "/$nope",
		base + "/%24nope",
		base + "/" + a.ID + "/$nope",
		base + "/" + a.ID + "/nope",
		base + "/" + a.ID + "/$stats",
		base + "/" + a.ID + "/$tree/extra",
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			body := ""
			if method == http.MethodPost {
				body = `{"data":{}}`
			}
			p := wantProblem(t, e.do(method, path, body), http.StatusNotFound, typeNotFound)
			if p.Detail == "" {
				t.Errorf("%s %s: empty detail", method, path)
			}
		}
	}
}

func TestPercentEncodedActions(t *testing.T) {
	e := newEnv(t)
	root := e.create(`{"data":` + typed + `}`)
	e.child(root.ID, "c")

	for _, op := range []string{"$tree", "$expand", "$metadata"} {
		plain := e.do(http.MethodGet, base+"/"+root.ID+"/"+op, "")
		enc := e.do(http.MethodGet, base+"/"+root.ID+"/"+strings.Replace(op, "$", "%24", 1), "")
		want(t, plain, http.StatusOK)
		want(t, enc, http.StatusOK)
		if !sameJSON(plain.Body, enc.Body) {
			t.Errorf("%s: encoded %s, plain %s", op, enc.Body, plain.Body)
		}
	}
	var n node
	wantJSON(t, e.do(http.MethodGet, base+"/"+root.ID+"/%24expand", ""), http.StatusOK, &n)
	withoutContent := `{"type":"generic","metadata":{"b":2,"a":[1,"x"]},"content_type":"application/json"}`
	if n.ID != root.ID || n.LevelLabel != "experiment" || string(n.Children) != "null" || !sameJSON(n.Data, []byte(withoutContent)) {
		t.Errorf("%%24expand = %+v children %s", n, string(n.Children))
	}
	wantJSON(t, e.do(http.MethodGet, base+"/"+root.ID+"/%24tree", ""), http.StatusOK, &n)
	if len(n.Kids(t)) != 1 {
		t.Errorf("%%24tree: %d children, want 1", len(n.Kids(t)))
	}
	var s stats
	wantJSON(t, e.do(http.MethodGet, base+"/%24stats", ""), http.StatusOK, &s)
	if s.Total != 2 {
		t.Errorf("%%24stats total = %d, want 2", s.Total)
	}
	want(t, e.do(http.MethodGet, base+"/%24schema", ""), http.StatusOK)
	r := e.do(http.MethodGet, base+"/%24tree", "")
	wantProblem(t, r, http.StatusMethodNotAllowed, typeMethod)
	if allow := r.Header.Get("Allow"); allow != "OPTIONS, POST" {
		t.Errorf("Allow = %q, want OPTIONS, POST", allow)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	down := errors.New("log down")
	tests := []struct {
		name   string
		checks []httpapi.Check
		status int
		state  string
		want   map[string]string // check name -> state
	}{
		{"no checks", nil, 200, "healthy", map[string]string{}},
		{"all pass", []httpapi.Check{check("log", true, nil), check("kv", false, nil)}, 200, "healthy",
			map[string]string{"log": "healthy", "kv": "healthy"}},
		{"critical fails", []httpapi.Check{check("log", true, down), check("kv", false, nil)}, 503, "unhealthy",
			map[string]string{"log": "unhealthy", "kv": "healthy"}},
		{"non-critical fails", []httpapi.Check{check("log", true, nil), check("kv", false, down)}, 200, "degraded",
			map[string]string{"log": "healthy", "kv": "unhealthy"}},
		{"both fail", []httpapi.Check{check("kv", false, down), check("log", true, down)}, 503, "unhealthy",
			map[string]string{"log": "unhealthy", "kv": "unhealthy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := e.serve(tt.checks, 5*time.Second)
			var rep struct {
				Status string `json:"status"`
				Checks map[string]struct {
					State   string  `json:"state"`
					Message *string `json:"message"`
				} `json:"checks"`
			}
			wantJSON(t, e.doAt(u, http.MethodGet, "/health", ""), tt.status, &rep)
			if rep.Status != tt.state {
				t.Errorf("status = %q, want %q", rep.Status, tt.state)
			}
			if rep.Checks == nil || len(rep.Checks) != len(tt.want) {
				t.Errorf("checks = %+v, want %v", rep.Checks, tt.want)
			}
			for name, state := range tt.want {
				c, ok := rep.Checks[name]
				if !ok || c.State != state {
					t.Errorf("checks[%s] = %+v, want state %s", name, c, state)
				}
				if state == "unhealthy" && (c.Message == nil || *c.Message != down.Error()) {
					t.Errorf("checks[%s].message = %v, want %q", name, c.Message, down)
				}
				if state == "healthy" && c.Message != nil {
					t.Errorf("checks[%s].message = %q, want none", name, *c.Message)
				}
			}
		})
	}
}

func TestHealthCheckContext(t *testing.T) {
	e := newEnv(t)
	var deadline bool
	u := e.serve([]httpapi.Check{{Name: "ctx", Critical: true, Run: func(ctx context.Context) error {
		_, deadline = ctx.Deadline()
		return nil
	}}}, 5*time.Second)
	want(t, e.doAt(u, http.MethodGet, "/health", ""), http.StatusOK)
	if !deadline {
		t.Errorf("a check's context has no deadline")
	}
}

func TestConsistencyToken(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, base, `{"data":{}}`)
	var a artifact
	wantJSON(t, r, http.StatusCreated, &a)
	pos := r.Header.Get(api.HeaderPosition)
	position(t, r)

	for _, path := range []string{base + "/" + a.ID, base, base + "/$stats", base + "/" + a.ID + "/$tree"} {
		want(t, e.do(http.MethodGet, path, "", api.HeaderMinPosition, pos), http.StatusOK)
	}
	// Writes honour it too.
	r = e.do(http.MethodPut, base+"/"+a.ID, `{"data":{"v":2}}`, api.HeaderMinPosition, pos)
	want(t, r, http.StatusOK)
	next := position(t, r)
	if p, _ := strconv.ParseUint(pos, 10, 64); next <= p {
		t.Errorf("PUT position %d, want more than %d", next, p)
	}

	for _, bad := range []string{"abc", "-1", "1.5", "0x10"} {
		before := e.written()
		wantProblem(t, e.do(http.MethodGet, base+"/"+a.ID, "", api.HeaderMinPosition, bad), http.StatusBadRequest, typeBadRequest)
		wantProblem(t, e.do(http.MethodPost, base, `{"data":{}}`, api.HeaderMinPosition, bad), http.StatusBadRequest, typeBadRequest)
		if after := e.written(); after != before {
			t.Errorf("%s %q: (count, position) went from %v to %v", api.HeaderMinPosition, bad, before, after)
		}
	}

	// A position past the end of the log, which no write ever answered, is
	// refused at once, not held for the whole wait (which would end 503).
	long := e.serve(nil, time.Minute)
	ahead := fmt.Sprint(next + 1000)
	wantProblem(t, e.doAt(long, http.MethodGet, base+"/"+a.ID, "", api.HeaderMinPosition, ahead), http.StatusBadRequest, typeBadRequest)
	want(t, e.doAt(long, http.MethodGet, base+"/"+a.ID, "", api.HeaderMinPosition, fmt.Sprint(next)), http.StatusOK)
}

func TestConcurrentChildren(t *testing.T) {
	e := newEnv(t)
	parent := e.root("", "parent")
	const n = 20
	var (
		wg       sync.WaitGroup
		statuses [n]int
		ids      [n]string
		bodies   [n]string
	)
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"parent_id":%q,"tags":["c%d"],"data":{"i":%d}}`, parent.ID, i, i)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url+base, strings.NewReader(body))
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			defer res.Body.Close()
			defer checkExchange(t, exchange{req: req, reqBody: []byte(body), reqKnown: true, res: res})
			var a artifact
			statuses[i] = res.StatusCode
			if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
				bodies[i] = err.Error()
				return
			}
			ids[i] = a.ID
		})
	}
	wg.Wait()

	seen := map[string]bool{}
	for i := range n {
		if statuses[i] != http.StatusCreated || ids[i] == "" {
			t.Errorf("child %d: status %d id %q (%s), want 201", i, statuses[i], ids[i], bodies[i])
		}
		seen[ids[i]] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct ids, want %d", len(seen), n)
	}

	var tree node
	wantJSON(t, e.do(http.MethodGet, base+"/"+parent.ID+"/$tree", ""), http.StatusOK, &tree)
	kids := tree.Kids(t)
	if len(kids) != n {
		t.Fatalf("tree lists %d children, want %d", len(kids), n)
	}
	for _, k := range kids {
		if !seen[k.ID] || *k.Level != 1 || *k.ParentID != parent.ID {
			t.Errorf("tree child %+v: not one of the created children", k.Exact)
		}
		delete(seen, k.ID)
	}
	if s := e.stats(); s.Total != n+1 {
		t.Errorf("total = %d, want %d", s.Total, n+1)
	}
	// The parent now has children: it cannot go.
	wantProblem(t, e.do(http.MethodDelete, base+"/"+parent.ID, ""), http.StatusConflict, typeConflict)
}
