package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	valerrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel"
	highbase "github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"arbor/httpapi"
)

// specFile is the OpenAPI document, read as the package embeds it.
const specFile = "openapi.json"

// theSpec is the document, parsed once for every test of the package, and
// the validators every exchange of every test goes through.
type theSpec struct {
	raw   []byte
	doc   libopenapi.Document
	model *v3.Document
	// validators by what is known of an exchange: [request body
	// known][response body known]. A body a test streamed (an upload, a
	// download, the live feed) is not validated; its status, parameters and
	// headers are.
	validators [2][2]validator.Validator
	problem    *highbase.Schema
	schemas    schema_validation.SchemaValidator
}

var loadSpec = sync.OnceValues(func() (*theSpec, error) {
	raw, err := os.ReadFile(specFile)
	if err != nil {
		return nil, err
	}
	// A tree's node holds its children, nodes too: a circular reference
	// through an array, which may be empty, so finite.
	doc, err := libopenapi.NewDocumentWithConfiguration(raw, &datamodel.DocumentConfiguration{IgnoreArrayCircularReferences: true})
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", specFile, err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build the model of %s: %w", specFile, err)
	}
	s := &theSpec{raw: raw, doc: doc, model: &m.Model, schemas: schema_validation.NewSchemaValidator()}
	for reqBody := range 2 {
		for resBody := range 2 {
			var opts []config.Option
			if reqBody == 0 {
				opts = append(opts, config.WithoutRequestBodyValidation())
			}
			if resBody == 0 {
				opts = append(opts, config.WithoutResponseBodyValidation())
			}
			s.validators[reqBody][resBody] = validator.NewValidatorFromV3Model(&m.Model, opts...)
		}
	}
	if p := m.Model.Components.Schemas.GetOrZero("Problem"); p != nil {
		s.problem = p.Schema()
	}
	if s.problem == nil {
		return nil, fmt.Errorf("%s has no Problem schema", specFile)
	}
	return s, nil
})

func spec(t testing.TB) *theSpec {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatalf("%s: %v", specFile, err)
	}
	return s
}

// exchange is one request a test sent and the answer it got, as much of
// them as the test kept.
type exchange struct {
	req *http.Request
	// reqBody is the body sent; reqKnown is false when the test streamed
	// it without keeping it.
	reqBody  []byte
	reqKnown bool
	res      *http.Response
	// resBody is the answer's whole body; resKnown is false for a stream,
	// a body read only in part, or one broken off.
	resBody  []byte
	resKnown bool
}

// checkExchange validates one exchange of a test against openapi.json and
// fails t (with Errorf, so that it may run on any goroutine) naming the
// route, the status and what does not match:
//
//   - the answer must be one the document gives for the request's
//     operation: its status, its Content-Type, its body against the
//     schema, its required headers;
//   - a request the document calls invalid must be refused with a 4xx;
//   - a request to a path or method the document does not have must be
//     answered with a problem (404, 405 with Allow, 401 or 403; 400 for a
//     path the router takes for an artifact's, with an empty id).
func checkExchange(t testing.TB, x exchange) {
	t.Helper()
	s := spec(t)
	route := x.req.Method + " " + x.req.URL.RequestURI()
	req := s.normalize(x)
	docPath, ok := s.match(req.URL.Path)
	if !ok || s.operation(req.Method, docPath) == nil {
		checkUndocumented(t, s, route, x)
		return
	}
	res := *x.res
	res.Body = http.NoBody
	if x.resKnown {
		res.Body = io.NopCloser(bytes.NewReader(x.resBody))
	}
	v := s.validators[b2i(x.reqKnown)][b2i(x.resKnown)]

	reqOK, reqErrs := v.ValidateHttpRequestSync(req)
	if !reqOK && undocumented(reqErrs) {
		t.Errorf("%s = %d: %s has %s %s, but its validator finds no operation:%s", route, x.res.StatusCode, specFile, req.Method, docPath, describe(reqErrs))
		return
	}
	// The request's body is read again for the response's operation.
	if x.reqKnown && len(x.reqBody) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(x.reqBody))
	}
	if ok, errs := v.ValidateHttpResponse(req, &res); !ok {
		t.Errorf("%s = %d: the answer does not match %s:%s", route, x.res.StatusCode, specFile, describe(errs))
	}
	if !reqOK && (x.res.StatusCode < 400 || x.res.StatusCode >= 500) {
		t.Errorf("%s = %d: %s calls the request invalid, so it must be refused with a 4xx:%s",
			route, x.res.StatusCode, specFile, describe(reqErrs))
	}
}

// normalize returns a copy of x's request, with its body, as the document
// describes it: the path decoded ("%24tree" is "$tree"), query parameters
// given empty left out, and a JSON body under an operation's JSON media
// type whichever JSON type the client named, if any (arbor reads any of
// them as JSON), and raw content without a type as
// application/octet-stream, as arbor stores it.
func (s *theSpec) normalize(x exchange) *http.Request {
	req := x.req.Clone(x.req.Context())
	req.Body, req.ContentLength = http.NoBody, 0
	if x.reqKnown && len(x.reqBody) > 0 {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(x.reqBody)), int64(len(x.reqBody))
	}
	u := *req.URL
	if p, err := url.PathUnescape(u.EscapedPath()); err == nil {
		u.Path, u.RawPath = p, ""
	}
	q := u.Query()
	for k, vs := range q {
		if slices.Equal(vs, []string{""}) {
			delete(q, k)
		}
	}
	u.RawQuery = q.Encode()
	req.URL = &u

	ct := req.Header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	hasBody := len(x.reqBody) > 0 || (!x.reqKnown && x.req.ContentLength != 0)
	if ct != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return req
	}
	docPath, _ := s.match(u.Path)
	op := s.operation(req.Method, docPath)
	switch {
	case op == nil || op.RequestBody == nil:
	case op.RequestBody.Content.GetOrZero("application/json") == nil:
		// Raw content: an empty body is an empty file.
		if ct == "" {
			req.Header.Set("Content-Type", "application/octet-stream")
		}
	case hasBody:
		req.Header.Set("Content-Type", "application/json")
		if b, ok := foldMembers(x.reqBody, op.RequestBody.Content.GetOrZero("application/json").Schema); ok {
			req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}
	}
	return req
}

// foldMembers returns body, a JSON object, with each member named as the
// schema's property it matches case-insensitively, as arbor's JSON decoding
// (encoding/json) matches them: {"DATA": {}} is {"data": {}}. Of members
// that fold to one name, the last counts, as in decoding. It reports false
// for a body that is not an object.
func foldMembers(body []byte, sp *highbase.SchemaProxy) ([]byte, bool) {
	if sp == nil || sp.Schema() == nil || sp.Schema().Properties == nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		name, _ := tok.(string)
		for p := range sp.Schema().Properties.KeysFromOldest() {
			if strings.EqualFold(name, p) {
				name = p
			}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out[name] = v
	}
	b, err := json.Marshal(out)
	return b, err == nil
}

// operation returns the document's operation for method at its path p, or
// nil.
func (s *theSpec) operation(method, p string) *v3.Operation {
	item := s.model.Paths.PathItems.GetOrZero(p)
	if item == nil {
		return nil
	}
	return item.GetOperations().GetOrZero(strings.ToLower(method))
}

// undocumented reports whether errs say the document has no operation for
// the request's path or method.
func undocumented(errs []*valerrors.ValidationError) bool {
	for _, e := range errs {
		switch e.ValidationSubType {
		case helpers.ValidationMissing, helpers.ValidationMissingOperation, helpers.ValidationAmbiguousPath:
			if e.ValidationType == helpers.PathValidation || e.ValidationType == helpers.RequestValidation {
				return true
			}
		}
	}
	return false
}

// checkUndocumented checks the answer to a request the document has no
// operation for: a problem, as the Problem schema has it.
func checkUndocumented(t testing.TB, s *theSpec, route string, x exchange) {
	t.Helper()
	status := x.res.StatusCode
	if x.req.Method == http.MethodOptions && status/100 == 2 && x.res.Header.Get("Allow") != "" {
		return // the router's answer, for a path it takes for one of the document's ("//$tree": an empty id)
	}
	switch status {
	case http.StatusNotFound, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
	case http.StatusMethodNotAllowed:
		if x.res.Header.Get("Allow") == "" {
			t.Errorf("%s = 405 without Allow", route)
		}
	default:
		t.Errorf("%s = %d: %s has no operation for it, so it must be answered 404, 405, 400, 401 or 403", route, status, specFile)
		return
	}
	if ct := x.res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s = %d: Content-Type %q, want application/problem+json", route, status, ct)
		return
	}
	if !x.resKnown || x.req.Method == http.MethodHead {
		return
	}
	if ok, errs := s.schemas.ValidateSchemaBytes(s.problem, x.resBody); !ok {
		t.Errorf("%s = %d: the problem does not match %s's Problem:%s", route, status, specFile, describe(errs))
	}
}

func describe(errs []*valerrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n\t%s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n\t\t%s", f.Error())
		}
	}
	return b.String()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// kept keeps the first bytes that pass through it, up to max, for
// checkExchange; over max it keeps nothing and says so.
type kept struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func keep(max int) *kept { return &kept{max: max} }

func (k *kept) Write(p []byte) (int, error) {
	if !k.over && k.buf.Len()+len(p) <= k.max {
		k.buf.Write(p)
	} else {
		k.over = true
		k.buf.Reset()
	}
	return len(p), nil
}

// bytes returns what was kept, and whether it is all that passed.
func (k *kept) bytes() ([]byte, bool) { return k.buf.Bytes(), !k.over }

// keepLimit is how much of a request or answer checkExchange is given:
// larger bodies (uploads, downloads) are checked on status and headers.
const keepLimit = 4 << 20

// checkRecorded validates a request served through an httptest recorder.
func checkRecorded(t testing.TB, req *http.Request, body []byte, bodyKnown bool, rec *httptest.ResponseRecorder) {
	t.Helper()
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	checkExchange(t, exchange{req: req, reqBody: body, reqKnown: bodyKnown, res: res, resBody: b, resKnown: true})
}

// The document is OpenAPI 3.1 and valid as such, by libopenapi's own
// validation of documents, and it names every problem type arbor has.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	s := spec(t)
	if v := s.doc.GetVersion(); v != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", v)
	}
	v, errs := validator.NewValidator(s.doc)
	if len(errs) > 0 {
		t.Fatalf("NewValidator: %v", errs)
	}
	if ok, errs := v.ValidateDocument(); !ok {
		t.Errorf("%s is not valid OpenAPI 3.1:%s", specFile, describe(errs))
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
	for _, e := range s.problem.Properties.GetOrZero("type").Schema().Enum {
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
func (s *theSpec) operations() []docRoute {
	var out []docRoute
	for p, item := range s.model.Paths.PathItems.FromOldest() {
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

// match returns the document's path for a request path: the one whose
// segments all match, literal segments preferred to {templates} from the
// left, as the router prefers $tree to an id.
func (s *theSpec) match(reqPath string) (string, bool) {
	if p, err := url.PathUnescape(reqPath); err == nil {
		reqPath = p
	}
	segs := strings.Split(reqPath, "/")
	best, bestScore := "", -1
	for p := range s.model.Paths.PathItems.KeysFromOldest() {
		ps := strings.Split(p, "/")
		if len(ps) != len(segs) {
			continue
		}
		score, ok := 0, true
		for i := range ps {
			switch {
			case ps[i] == segs[i]:
				score += 1 << (len(ps) - i)
			case strings.HasPrefix(ps[i], "{") && segs[i] != "":
			default:
				ok = false
			}
		}
		if ok && score > bestScore {
			best, bestScore = p, score
		}
	}
	return best, bestScore >= 0
}

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
	for _, op := range s.operations() {
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
		p, ok := s.match(rt.path)
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
		if m == "OPTIONS" || key == "HEAD "+base+"/$events" {
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
	s := spec(t)
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
		if !bytes.Equal(r.Body, s.raw) {
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
