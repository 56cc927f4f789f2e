package httpapi_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	validator "github.com/pb33f/libopenapi-validator"

	"arbor/httpapi"
	"arbor/internal/openapitest"
)

// specFile is the OpenAPI document, as the package embeds it.
const specFile = openapitest.DocName

// spec is the validator every exchange of every test goes through.
func spec(t testing.TB) *openapitest.Validator {
	t.Helper()
	return openapitest.Load(t)
}

// The document is OpenAPI 3.1 and valid as such, by libopenapi's own
// validation of documents, and it names every problem type arbor has.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	s := spec(t)
	if v := s.Document().GetVersion(); v != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", v)
	}
	v, errs := validator.NewValidator(s.Document())
	if len(errs) > 0 {
		t.Fatalf("NewValidator: %v", errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		t.Errorf("%s is not valid OpenAPI 3.1:%s", specFile, openapitest.Describe(errs))
	}

	// The problem types: those the api package declares, no more, no less.
	var declared []string
	fset := token.NewFileSet()
	files, err := filepath.Glob("../api/*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok || len(vs.Values) != len(vs.Names) {
				return true
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if ok && lit.Kind == token.STRING && strings.HasPrefix(name.Name, "Type") {
					v, _ := strconv.Unquote(lit.Value)
					declared = append(declared, v)
				}
			}
			return true
		})
	}
	var listed []string
	for _, e := range s.Problem().Properties.GetOrZero("type").Schema().Enum {
		listed = append(listed, e.Value)
	}
	slices.Sort(declared)
	slices.Sort(listed)
	if len(declared) < 10 || !slices.Equal(declared, listed) {
		t.Errorf("Problem.type lists %q; the api package declares %q", listed, declared)
	}
}

// docRoute is one operation of the document.
type docRoute struct {
	method, path string // path as the document has it, {id} and all
	scope        string // x-arbor-scope
}

// operations returns every operation of the document.
func operations(s *openapitest.Validator) []docRoute {
	var out []docRoute
	for p, item := range s.Model().Paths.PathItems.FromOldest() {
		for m, op := range item.GetOperations().FromOldest() {
			scope := ""
			if ext := op.Extensions.GetOrZero("x-arbor-scope"); ext != nil {
				scope = ext.Value
			}
			out = append(out, docRoute{method: strings.ToUpper(m), path: p, scope: scope})
		}
	}
	return out
}

// servedBeside are the document's paths that arbor serve adds beside the
// API as pages of its own (httpapi.Page): the router of these tests does
// not have them, and the tests of cmd/arbor, whose answers are validated
// too, request them.
var servedBeside = []string{"/metrics"}

// docsRoutes are the requests DocsPages serves.
func docsRoutes() []route {
	var out []route
	for _, p := range []string{"/openapi.json", "/docs", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"} {
		out = append(out, route{method: "GET", path: p, status: 200}, route{method: "HEAD", path: p, status: 200})
	}
	return out
}

// Every route the router serves has its operation in the document, with
// the scope the router asks for; every operation of the document is a
// route the router serves; and the methods of every documented path are
// those its OPTIONS answer allows. env.routes is the route table
// (TestAuthRouteTableIsComplete keeps it complete).
func TestOpenAPIRoutes(t *testing.T) {
	s := spec(t)
	e := newEnv(t)
	k := newKeyring(t)
	keyed := e.serveKeyed(k.set)

	documented := map[string]docRoute{}
	for _, op := range operations(s) {
		documented[op.method+" "+op.path] = op
	}
	// HEAD goes with every GET: the router answers it as GET without the
	// body. The table lists it for some paths; the others are tried here,
	// but for the live feed, whose HEAD does not end either.
	table := append(e.routes(), docsRoutes()...)
	for _, rt := range table {
		if rt.method != "GET" || rt.stream || slices.ContainsFunc(table, func(o route) bool { return o.method == "HEAD" && o.path == rt.path }) {
			continue
		}
		head := rt
		head.method = "HEAD"
		want(t, e.call(keyed, head, "X-API-Key", k.admin), rt.status)
		table = append(table, head)
	}
	served := map[string]bool{}
	for _, rt := range table {
		p, ok := s.Match(rt.path)
		if !ok {
			t.Errorf("%v: no path of %s matches", rt, specFile)
			continue
		}
		served[rt.method+" "+p] = true
		op, ok := documented[rt.method+" "+p]
		if !ok {
			t.Errorf("%v: %s has no %s operation for %s", rt, specFile, rt.method, p)
			continue
		}
		scope := "none"
		if rt.need != 0 {
			scope = rt.need.String()
		}
		if op.scope != scope {
			t.Errorf("%v: x-arbor-scope %q, the router asks for %q", rt, op.scope, scope)
		}
	}

	// Each documented path: its methods are what the router allows there.
	byPath := map[string][]string{}
	for key := range documented {
		m, p, _ := strings.Cut(key, " ")
		byPath[p] = append(byPath[p], m)
		if m == "OPTIONS" || key == "HEAD "+base+"/$events" || slices.Contains(servedBeside, p) {
			continue
		}
		if !served[key] {
			t.Errorf("%s %s is in %s but not in the route table of the tests", m, p, specFile)
		}
	}
	for p, methods := range byPath {
		if !slices.Contains(methods, "OPTIONS") {
			continue // a page: OPTIONS belongs to the router, not to it
		}
		concrete := strings.ReplaceAll(p, "{id}", unknownID)
		r := e.call(keyed, route{method: "OPTIONS", path: concrete}, "X-API-Key", k.read)
		if r.Status/100 != 2 {
			t.Errorf("%v, want 2xx with Allow", r)
			continue
		}
		// HEAD goes with GET: the router answers it, whether or not
		// Allow says so.
		var allowed []string
		for m := range strings.SplitSeq(r.Header.Get("Allow"), ",") {
			if m = strings.TrimSpace(m); m != "HEAD" {
				allowed = append(allowed, m)
			}
		}
		methods = slices.DeleteFunc(methods, func(m string) bool { return m == "HEAD" })
		slices.Sort(allowed)
		slices.Sort(methods)
		if !slices.Equal(allowed, methods) {
			t.Errorf("OPTIONS %s: Allow %q, %s has %v", p, r.Header.Get("Allow"), specFile, methods)
		}
	}
}

// /openapi.json is the document; /docs is a page that loads only what
// arbor serves, each under its own content type; both need no key when
// keys are set, and the API still does.
func TestOpenAPIDocs(t *testing.T) {
	raw, err := os.ReadFile(specFile)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	k := newKeyring(t)
	srv := e.st.API()
	srv.Keys, srv.Pages = k.set, httpapi.DocsPages()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)

	for _, u := range []string{e.url, ts.URL} {
		r := e.doAt(u, http.MethodGet, "/openapi.json", "")
		want(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("/openapi.json: Content-Type %q, want application/json", ct)
		}
		if !bytes.Equal(r.Body, raw) {
			t.Errorf("/openapi.json is not %s", specFile)
		}
		again := e.doAt(u, http.MethodGet, "/openapi.json", "", "If-None-Match", r.Header.Get("ETag"))
		want(t, again, http.StatusNotModified)

		page := e.doAt(u, http.MethodGet, "/docs", "")
		want(t, page, http.StatusOK)
		if ct := page.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("/docs: Content-Type %q, want text/html", ct)
		}
		if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("/docs: Content-Security-Policy %q, want default-src 'self'", csp)
		}
		html := string(page.Body)
		if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+`).FindString(html); m != "" {
			t.Errorf("/docs refers to another host: %q", m)
		}
		refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(html, -1)
		wantTypes := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
		if len(refs) < 3 {
			t.Fatalf("/docs loads %d files, want the bundle, its style sheet and init.js:\n%s", len(refs), html)
		}
		pageURL, _ := url.Parse(u + "/docs")
		for _, ref := range refs {
			to, err := pageURL.Parse(ref[1])
			if err != nil || to.Host != pageURL.Host {
				t.Errorf("/docs loads %q: not one of arbor's files", ref[1])
				continue
			}
			asset := e.doAt(u, http.MethodGet, to.Path, "")
			want(t, asset, http.StatusOK)
			if ct, wantCT := asset.Header.Get("Content-Type"), wantTypes[filepath.Ext(to.Path)]; ct != wantCT || len(asset.Body) == 0 {
				t.Errorf("%s: Content-Type %q (%d bytes), want %q", to.Path, ct, len(asset.Body), wantCT)
			}
			if asset.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: no X-Content-Type-Options: nosniff", to.Path)
			}
		}
		wantProblem(t, e.doAt(u, http.MethodGet, "/docs/nope.js", ""), http.StatusNotFound, typeNotFound)
		wantProblem(t, e.doAt(u, http.MethodGet, "/docs/index.html", ""), http.StatusNotFound, typeNotFound)
	}
	// With keys, the pages are open and the API is not.
	wantProblem(t, e.doAt(ts.URL, http.MethodGet, base, ""), http.StatusUnauthorized, typeUnauthorized)
	want(t, e.doAt(ts.URL, http.MethodGet, base, "", "X-API-Key", k.read), http.StatusOK)
	wantProblem(t, e.doAt(ts.URL, http.MethodPost, "/openapi.json", `{}`, "X-API-Key", k.read), http.StatusForbidden, typeForbidden)
}
