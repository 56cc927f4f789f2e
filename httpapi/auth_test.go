package httpapi_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"arbor/internal/apikey"
)

const (
	typeUnauthorized = "urn:servicekit:error:unauthorized"
	typeForbidden    = "urn:servicekit:error:forbidden"
)

// keyring is one key of each scope, and the set that knows them, loaded
// from a keys file as arbor serve loads it.
type keyring struct {
	read, write, admin string
	set                *apikey.Set
}

func newKeyring(t *testing.T) keyring {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.jsonl")
	var k keyring
	for _, add := range []struct {
		key   *string
		name  string
		scope apikey.Scope
	}{{&k.read, "dashboard", apikey.Read}, {&k.write, "pipeline", apikey.Write}, {&k.admin, "ops", apikey.Admin}} {
		key, err := apikey.Add(path, add.name, add.scope)
		if err != nil {
			t.Fatal(err)
		}
		*add.key = key
	}
	set, err := apikey.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	k.set = set
	return k
}

// serveKeyed starts another HTTP server on e's core that requires keys
// from set, and returns its URL. e.url stays open, for setting up and
// checking.
func (e *env) serveKeyed(set *apikey.Set) string {
	e.t.Helper()
	srv := e.st.API()
	srv.MaxBody, srv.MaxContent, srv.Keys = maxBody, maxContent, set
	ts := httptest.NewServer(srv.Handler())
	e.t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
	})
	return ts.URL
}

// route is one request the router serves.
type route struct {
	method, path, body string
	// header holds header name, value pairs, as for env.do.
	header []string
	need   apikey.Scope
	status int // its answer with a key that allows it
	// stream: the answer is the live feed, which does not end.
	stream bool
}

func (r route) String() string { return r.method + " " + r.path }

// routes creates artifacts to aim at (a fresh one to delete each call)
// and returns a request for every method of every route the router
// serves. TestAuthRouteTableIsComplete checks that none is missing.
func (e *env) routes() []route {
	e.t.Helper()
	root := e.create(`{"data":` + typed + `}`)
	child := e.child(root.ID, "model")
	victim := e.child(root.ID, "victim")
	item := base + "/" + root.ID
	const read, write = apikey.Read, apikey.Write
	return []route{
		{method: "GET", path: base, need: read, status: 200},
		{method: "HEAD", path: base, need: read, status: 200},
		{method: "POST", path: base, body: `{"data":{"new":true}}`, need: write, status: 201},
		{method: "POST", path: base + "/$tree", body: `{"root_id":"` + root.ID + `"}`, need: read, status: 200},
		{method: "GET", path: base + "/$stats", need: read, status: 200},
		{method: "GET", path: base + "/$schema", need: read, status: 200},
		{method: "GET", path: base + "/$events", need: read, status: 200, stream: true},
		{method: "GET", path: item, need: read, status: 200},
		{method: "HEAD", path: item, need: read, status: 200},
		{method: "PUT", path: base + "/" + child.ID, body: `{"data":{"n":2}}`, need: write, status: 200},
		{method: "DELETE", path: base + "/" + victim.ID, need: write, status: 204},
		{method: "GET", path: item + "/$tree", need: read, status: 200},
		{method: "GET", path: item + "/$expand", need: read, status: 200},
		{method: "GET", path: item + "/$ancestors", need: read, status: 200},
		{method: "GET", path: item + "/$history", need: read, status: 200},
		{method: "GET", path: item + "/$metadata", need: read, status: 200},
		{method: "GET", path: item + "/$download", need: read, status: 200},
		{method: "PUT", path: base + "/" + child.ID + "/$content", body: "some bytes",
			header: []string{"Content-Type", "application/octet-stream"}, need: write, status: 200},
		{method: "GET", path: "/health", status: 200},
		{method: "HEAD", path: "/health", status: 200},
	}
}

// call sends rt to the server at u with the extra header pairs hdr. A
// feed is only opened: its status and headers are the answer.
func (e *env) call(u string, rt route, hdr ...string) response {
	e.t.Helper()
	hdr = append(slices.Clone(rt.header), hdr...)
	if !rt.stream {
		return e.doAt(u, rt.method, rt.path, rt.body, hdr...)
	}
	ctx, cancel := context.WithCancel(e.t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, rt.method, u+rt.path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%v: %v", rt, err)
	}
	res.Body.Close()
	checkExchange(e.t, exchange{req: req, res: res})
	return response{Status: res.StatusCode, Header: res.Header, Path: rt.path,
		desc: rt.String() + " = " + strconv.Itoa(res.StatusCode) + " (a feed)"}
}

// keyHeader returns the header pairs that send key, in X-API-Key or in
// Authorization as i chooses, so that both are exercised throughout.
func keyHeader(i int, key string) []string {
	switch i % 3 {
	case 0:
		return []string{"X-API-Key", key}
	case 1:
		return []string{"Authorization", "Bearer " + key}
	}
	return []string{"Authorization", "bearer " + key}
}

// wantRefused checks r is a refusal of status and type: problem+json (no
// body for HEAD), with a challenge naming arbor's realm.
func wantRefused(t *testing.T, r response, method string, status int, typ string) {
	t.Helper()
	if method == http.MethodHead {
		want(t, r, status)
		if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%v: Content-Type = %q, want application/problem+json", r, ct)
		}
	} else {
		wantProblem(t, r, status, typ)
	}
	if c := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(c, `Bearer realm="arbor"`) {
		t.Errorf("%v: WWW-Authenticate = %q, want a Bearer challenge of realm arbor", r, c)
	}
}

// The methods every path is tried with: all that routes serve, and some
// that none does.
var authMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND"}

// readMethod reports whether a read key may send method to path (as
// sent, perhaps percent-encoded).
func readMethod(method, path string) bool {
	path, _ = url.PathUnescape(path)
	return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "POST" && path == base+"/$tree"
}

// Every method on every path the router serves, and on paths it does not,
// is refused without a key (401), with an unknown key (401), and with a
// read key when it may write (403); nothing is written.
func TestAuthRefuses(t *testing.T) {
	e := newEnv(t)
	k := newKeyring(t)
	u := e.serveKeyed(k.set)
	routes := e.routes()

	paths := []string{"/", "/nope", "/health/", base + "/", base + "/$nope", base + "/%24tree", base + "/" + unknownID, base + "/" + unknownID + "/$tree"}
	bodies := map[string]route{}
	for _, rt := range routes {
		if !slices.Contains(paths, rt.path) {
			paths = append(paths, rt.path)
		}
		bodies[rt.method+" "+rt.path] = rt
	}
	listBefore := e.do(http.MethodGet, base+"?size=1000", "")
	before := e.written()

	i := 0
	for _, path := range paths {
		for _, method := range authMethods {
			if path == "/health" && (method == "GET" || method == "HEAD") {
				continue
			}
			rt, ok := bodies[method+" "+path]
			if !ok {
				rt = route{method: method, path: path}
				if method == "POST" || method == "PUT" || method == "PATCH" {
					rt.body = `{"data":{"x":1},"root_id":"` + unknownID + `"}`
				}
			}
			rt.stream = false // refused: an answer that ends
			t.Run(rt.String(), func(t *testing.T) {
				i++
				wantRefused(t, e.call(u, rt), method, http.StatusUnauthorized, typeUnauthorized)
				wantRefused(t, e.call(u, rt, keyHeader(i, apikey.Generate())...), method, http.StatusUnauthorized, typeUnauthorized)
				wantRefused(t, e.call(u, rt, keyHeader(i, apikey.Hash(k.admin))...), method, http.StatusUnauthorized, typeUnauthorized)
				if !readMethod(method, path) {
					r := e.call(u, rt, keyHeader(i, k.read)...)
					wantRefused(t, r, method, http.StatusForbidden, typeForbidden)
					if c := r.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error="insufficient_scope"`) {
						t.Errorf("%v: WWW-Authenticate = %q, want insufficient_scope", r, c)
					}
				}
			})
		}
	}
	if after := e.written(); after != before {
		t.Errorf("(count, position) went from %v to %v", before, after)
	}
	if listAfter := e.do(http.MethodGet, base+"?size=1000", ""); !sameJSON(listAfter.Body, listBefore.Body) {
		t.Errorf("the list changed:\n%s\nto\n%s", listBefore.Body, listAfter.Body)
	}
}

// A read key reads, a write key writes and reads, an admin key does both;
// one without the scope is 403 and writes nothing.
func TestAuthScopes(t *testing.T) {
	e := newEnv(t)
	k := newKeyring(t)
	u := e.serveKeyed(k.set)
	for _, key := range []struct {
		name  string
		key   string
		scope apikey.Scope
	}{{"read", k.read, apikey.Read}, {"write", k.write, apikey.Write}, {"admin", k.admin, apikey.Admin}} {
		for i, rt := range e.routes() {
			t.Run(key.name+" "+rt.String(), func(t *testing.T) {
				before := e.written()
				r := e.call(u, rt, keyHeader(i, key.key)...)
				if !key.scope.Allows(rt.need) && rt.need != 0 {
					wantRefused(t, r, rt.method, http.StatusForbidden, typeForbidden)
					if after := e.written(); after != before {
						t.Errorf("(count, position) went from %v to %v", before, after)
					}
					return
				}
				want(t, r, rt.status)
			})
		}
	}
}

// Both headers carry a key; a malformed one is 401, and so is a
// request that names two different keys.
func TestAuthHeaders(t *testing.T) {
	e := newEnv(t)
	k := newKeyring(t)
	u := e.serveKeyed(k.set)
	get := route{method: "GET", path: base + "/$stats"}
	for _, tt := range []struct {
		name   string
		header []string
		status int
	}{
		{"X-API-Key", []string{"X-API-Key", k.read}, 200},
		{"Bearer", []string{"Authorization", "Bearer " + k.read}, 200},
		{"bearer, spaced", []string{"Authorization", "  bearer   " + k.read + " "}, 200},
		{"both, the same key", []string{"X-API-Key", k.read, "Authorization", "Bearer " + k.read}, 200},
		{"X-API-Key beside another scheme", []string{"X-API-Key", k.read, "Authorization", "Basic dXNlcjpwdw=="}, 200},
		{"another scheme alone", []string{"Authorization", "Basic dXNlcjpwdw=="}, 401},
		{"the key as Authorization", []string{"Authorization", k.read}, 401},
		{"Bearer without a key", []string{"Authorization", "Bearer "}, 401},
		{"an empty X-API-Key", []string{"X-API-Key", " "}, 401},
		{"two different keys", []string{"X-API-Key", k.read, "Authorization", "Bearer " + k.admin}, 401},
		{"the key's hash", []string{"X-API-Key", apikey.Hash(k.read)}, 401},
		{"the key and more", []string{"X-API-Key", k.read + "x"}, 401},
	} {
		r := e.call(u, get, tt.header...)
		if tt.status == 200 {
			if r.Status != 200 {
				t.Errorf("%s: %v, want 200", tt.name, r)
			}
			continue
		}
		wantRefused(t, r, "GET", http.StatusUnauthorized, typeUnauthorized)
	}

	// A header sent twice is 401 too.
	req, err := http.NewRequestWithContext(t.Context(), "GET", u+base+"/$stats", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Add("X-API-Key", k.read)
	req.Header.Add("X-API-Key", k.admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	checkExchange(t, exchange{req: req, reqKnown: true, res: res, resBody: b, resKnown: true})
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("two X-API-Key headers: %d, want 401", res.StatusCode)
	}

	// /health needs no key, with keys or without; the open server needs none
	// anywhere.
	want(t, e.call(u, route{method: "GET", path: "/health"}), http.StatusOK)
	want(t, e.call(u, route{method: "GET", path: "/health"}, "X-API-Key", "not a key"), http.StatusOK)
	want(t, e.do(http.MethodGet, base+"/$stats", ""), http.StatusOK)
	want(t, e.do(http.MethodPost, base, `{"data":{}}`), http.StatusCreated)
}

// failingBody fails the test if anything reads it.
type failingBody struct{ t *testing.T }

func (b failingBody) Read([]byte) (int, error) {
	b.t.Errorf("the body of a refused request was read")
	return 0, errors.New("read")
}

// A request is refused before its body is read, even a body declared too
// large to accept.
func TestAuthRefusesBeforeTheBody(t *testing.T) {
	e := newEnv(t)
	k := newKeyring(t)
	srv := e.st.API()
	srv.Keys = k.set
	h := srv.Handler()
	for _, tt := range []struct {
		method, path, key string
		status            int
	}{
		{"POST", base, "", 401},
		{"POST", base, k.read, 403},
		{"PUT", base + "/" + unknownID + "/$content", "", 401},
		{"PUT", base + "/" + unknownID + "/$content", k.read, 403},
		{"POST", base + "/$tree", "", 401},
	} {
		req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, failingBody{t})
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = 1 << 40
		if tt.key != "" {
			req.Header.Set("X-API-Key", tt.key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkRecorded(t, req, nil, false, rec)
		if rec.Code != tt.status || rec.Header().Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s, want %d", tt.method, tt.path, rec.Code, rec.Body, tt.status)
		}
	}
}

// The route table of the tests above is the router's: every method a path
// of it allows is in it, and every route name ("$tree", "/health") written
// in the package's code is in one of its paths. A route added to the
// router without being added here fails this test.
func TestAuthRouteTableIsComplete(t *testing.T) {
	e := newEnv(t)
	k := newKeyring(t)
	u := e.serveKeyed(k.set)
	routes := e.routes()

	// pattern -> a path of it, and its methods (HEAD and OPTIONS aside).
	id := regexp.MustCompile(`/[0-9A-HJKMNP-TV-Z]{26}(/|$)`)
	type pattern struct {
		path    string
		methods []string
	}
	listed := map[string]*pattern{}
	for _, rt := range routes {
		p := id.ReplaceAllString(rt.path, "/{id}$1")
		if listed[p] == nil {
			listed[p] = &pattern{path: rt.path}
		}
		if rt.method != "HEAD" {
			listed[p].methods = append(listed[p].methods, rt.method)
		}
	}
	for p, lp := range listed {
		path, methods := lp.path, lp.methods
		r := e.call(u, route{method: "OPTIONS", path: path}, "X-API-Key", k.admin)
		if r.Status/100 != 2 {
			t.Fatalf("%v, want 2xx with Allow", r)
		}
		var allowed []string
		for m := range strings.SplitSeq(r.Header.Get("Allow"), ",") {
			if m = strings.TrimSpace(m); m != "OPTIONS" && m != "HEAD" {
				allowed = append(allowed, m)
			}
		}
		slices.Sort(allowed)
		slices.Sort(methods)
		if !slices.Equal(allowed, methods) {
			t.Errorf("OPTIONS %s: Allow %q, the route table has %v", p, r.Header.Get("Allow"), methods)
		}
	}

	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`^(\$[a-z]+|/[^:]+)$`)
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !name.MatchString(s) {
				return true
			}
			seg := s
			if seg[0] == '$' {
				seg = "/" + seg
			}
			for p := range listed {
				if strings.HasSuffix(p, seg) || strings.Contains(p, seg+"/") {
					return true
				}
			}
			t.Errorf("%s: route name %q is in no path of the route table of the auth tests: add its routes to env.routes",
				fset.Position(lit.Pos()), s)
			return true
		})
	}
}
