package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"arbor/api"
	"arbor/hierarchy"
	"arbor/httpapi"
	"arbor/internal/arbortest"
	"arbor/internal/openapitest"
	"arbor/internal/wiretest"
)

// The API's JSON, as wiretest declares it.
type (
	artifact = wiretest.Exact
	node     = wiretest.Node
	page     = wiretest.Page[wiretest.Exact]
	problem  = wiretest.Problem
	stats    = wiretest.Stats
)

const (
	base = "/api/v1/artifacts"

	typeInvalidULID  = "urn:servicekit:error:invalid-ulid"
	typeBadRequest   = "urn:servicekit:error:bad-request"
	typeNotFound     = "urn:servicekit:error:not-found"
	typeMethod       = "urn:servicekit:error:method-not-allowed"
	typeConflict     = "urn:servicekit:error:conflict"
	typePrecondition = "urn:servicekit:error:precondition-failed"
	typeTooLarge     = "urn:servicekit:error:payload-too-large"
	typeValidation   = "urn:servicekit:error:validation-failed"
	typeUnavailable  = "urn:servicekit:error:unavailable"

	maxBody    = 1 << 20
	maxContent = 8 << 20

	// unknownID is a valid ULID no test creates.
	unknownID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
)

var (
	mlPipeline = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}
	documents  = hierarchy.Hierarchy{Name: "documents", Labels: []string{"project", "document", "version"}}
	// free has no labels: any depth, levels labelled level_<n>.
	free = hierarchy.Hierarchy{Name: "free"}

	timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	ulidRE = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)
)

// env is one arbor instance core behind a real HTTP server.
type env struct {
	t   *testing.T
	st  *arbortest.Stack
	url string
}

// newEnv starts a JetStream, an instance on it with the test hierarchies
// (ml_pipeline the default), and the HTTP API in front of it.
func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, st: arbortest.New(t, mlPipeline, documents, free)}
	e.url = e.serve(nil, 5*time.Second)
	return e
}

// serve starts another HTTP server on the same core with the given checks
// and wait, and returns its URL.
func (e *env) serve(checks []httpapi.Check, wait time.Duration) string {
	e.t.Helper()
	srv := e.st.API()
	srv.Checks, srv.MaxBody, srv.MaxContent, srv.Wait = checks, maxBody, maxContent, wait
	srv.Pages = httpapi.DocsPages()
	ts := httptest.NewServer(srv.Handler())
	e.t.Cleanup(ts.Close)
	return ts.URL
}

// response is what a client sees of one exchange.
type response struct {
	Status int
	Header http.Header
	Body   []byte
	// Path is the request's path as sent, without the query.
	Path string
	desc string
}

func (r response) String() string { return r.desc }

// do sends method path with body (none when empty) to the default server.
// hdr holds header name, value pairs (an empty value removes the header); a
// body gets Content-Type application/json unless hdr names one.
func (e *env) do(method, path, body string, hdr ...string) response {
	e.t.Helper()
	return e.doAt(e.url, method, path, body, hdr...)
}

func (e *env) doAt(serverURL, method, path, body string, hdr ...string) response {
	e.t.Helper()
	return send(e.t, serverURL, method, path, strings.NewReader(body), body != "", hdr...)
}

func send(t *testing.T, serverURL, method, path string, body io.Reader, hasBody bool, hdr ...string) response {
	t.Helper()
	if !hasBody {
		body = nil
	}
	sent := keep(keepLimit)
	if body != nil {
		body = io.TeeReader(body, sent)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, serverURL+path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	reqBody, reqKnown := sent.bytes()
	checkExchange(t, exchange{req: req, reqBody: reqBody, reqKnown: reqKnown, res: res, resBody: b, resKnown: true})
	p, _, _ := strings.Cut(path, "?")
	return response{Status: res.StatusCode, Header: res.Header, Body: b, Path: p,
		desc: method + " " + path + " = " + strconv.Itoa(res.StatusCode) + " " + strings.TrimSpace(string(b))}
}

// want fails the test unless r has status.
func want(t *testing.T, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%v, want status %d", r, status)
	}
}

// wantJSON checks r has status and a JSON body and decodes it into v.
func wantJSON(t *testing.T, r response, status int, v any) {
	t.Helper()
	want(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%v: Content-Type = %q, want application/json", r, ct)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%v: decode body: %v", r, err)
	}
}

// wantProblem checks r is an RFC 9457 problem with status and type (any
// type when empty) whose instance is the request path, and returns it.
func wantProblem(t *testing.T, r response, status int, typ string) problem {
	t.Helper()
	want(t, r, status)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%v: Content-Type = %q, want application/problem+json", r, ct)
	}
	var p problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("%v: decode problem: %v", r, err)
	}
	if p.Status != status {
		t.Errorf("%v: problem status = %d, want %d", r, p.Status, status)
	}
	if typ != "" && p.Type != typ {
		t.Errorf("%v: problem type = %q, want %q", r, p.Type, typ)
	}
	if p.Title == "" || p.Detail == "" {
		t.Errorf("%v: problem title %q, detail %q: want both", r, p.Title, p.Detail)
	}
	if wantInstance, err := url.PathUnescape(r.Path); err != nil || p.Instance != wantInstance {
		t.Errorf("%v: problem instance = %q, want %q", r, p.Instance, wantInstance)
	}
	return p
}

// wantField checks p is a validation problem that names field.
func wantField(t *testing.T, r response, field string) problem {
	t.Helper()
	p := wantProblem(t, r, http.StatusUnprocessableEntity, typeValidation)
	var fields []string
	for _, f := range p.Errors {
		if f.Field == field && f.Reason != "" {
			return p
		}
		fields = append(fields, f.Field)
	}
	t.Errorf("%v: errors name %q, want %q with a reason", r, fields, field)
	return p
}

// create posts body and returns the artifact, failing unless it is 201.
func (e *env) create(body string) artifact {
	e.t.Helper()
	var a artifact
	wantJSON(e.t, e.do(http.MethodPost, base, body), http.StatusCreated, &a)
	return a
}

// child creates a child of parent with data {"name": name}.
func (e *env) child(parent, name string) artifact {
	e.t.Helper()
	return e.create(`{"parent_id":"` + parent + `","data":{"name":"` + name + `"}}`)
}

// root creates a root of hierarchy (the default when empty).
func (e *env) root(hier, name string) artifact {
	e.t.Helper()
	h := ""
	if hier != "" {
		h = `"hierarchy":"` + hier + `",`
	}
	return e.create(`{` + h + `"data":{"name":"` + name + `"}}`)
}

func (e *env) get(id string) artifact {
	e.t.Helper()
	var a artifact
	wantJSON(e.t, e.do(http.MethodGet, base+"/"+id, ""), http.StatusOK, &a)
	return a
}

func (e *env) stats() stats {
	e.t.Helper()
	var s stats
	wantJSON(e.t, e.do(http.MethodGet, base+"/$stats", ""), http.StatusOK, &s)
	return s
}

// written returns the artifact count and the log's last position, which
// nothing that fails may change.
func (e *env) written() [2]uint64 {
	e.t.Helper()
	seq, err := e.st.Log.LastSeq(e.t.Context())
	if err != nil {
		e.t.Fatalf("LastSeq: %v", err)
	}
	return [2]uint64{uint64(e.stats().Total), seq}
}

// sameJSON reports whether a and b are the same JSON up to insignificant
// whitespace (member order counts).
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// dataMap decodes data into a map.
func dataMap(t *testing.T, data json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil || m == nil {
		t.Fatalf("data %s: want a JSON object (%v)", data, err)
	}
	return m
}

// checkTime checks s is RFC 3339 UTC with milliseconds and recent.
func checkTime(t *testing.T, what, s string) time.Time {
	t.Helper()
	if !timeRE.MatchString(s) {
		t.Errorf("%s = %q, want RFC 3339 UTC with milliseconds", what, s)
	}
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s = %q: %v", what, s, err)
	}
	if d := time.Since(tm); d < -time.Minute || d > time.Minute {
		t.Errorf("%s = %s, %v from now", what, s, d)
	}
	return tm
}

// position returns r's consistency token.
func position(t *testing.T, r response) uint64 {
	t.Helper()
	v := r.Header.Get(api.HeaderPosition)
	pos, err := strconv.ParseUint(v, 10, 64)
	if err != nil || pos == 0 {
		t.Fatalf("%v: %s = %q, want a log position", r, api.HeaderPosition, v)
	}
	return pos
}

// check is a health check with a fixed result.
func check(name string, critical bool, err error) httpapi.Check {
	return httpapi.Check{Name: name, Critical: critical, Run: func(context.Context) error { return err }}
}

// exchange is one request a test sent and the answer it got, as much of
// them as the test kept (openapitest.Exchange).
type exchange struct {
	req      *http.Request
	reqBody  []byte
	reqKnown bool
	res      *http.Response
	resBody  []byte
	resKnown bool
}

// checkExchange validates one exchange of a test against openapi.json
// (openapitest.Validator.CheckExchange), failing t on a mismatch.
func checkExchange(t testing.TB, x exchange) {
	t.Helper()
	spec(t).CheckExchange(t, openapitest.Exchange{Req: x.req, ReqBody: x.reqBody, ReqKnown: x.reqKnown,
		Resp: x.res, RespBody: x.resBody, RespKnown: x.resKnown})
}

// kept keeps the first bytes that pass through it, up to its limit, for
// checkExchange.
type kept struct{ *openapitest.Buffer }

func keep(max int) kept { return kept{openapitest.NewBuffer(max)} }

// bytes returns what was kept, and whether it is all that passed.
func (k kept) bytes() ([]byte, bool) { return k.Bytes() }

// keepLimit is how much of a request or answer checkExchange is given:
// larger bodies (uploads, downloads) are checked on status and headers.
const keepLimit = openapitest.Limit

// checkRecorded validates a request served through an httptest recorder.
func checkRecorded(t testing.TB, req *http.Request, body []byte, bodyKnown bool, rec *httptest.ResponseRecorder) {
	t.Helper()
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	checkExchange(t, exchange{req: req, reqBody: body, reqKnown: bodyKnown, res: res, resBody: b, resKnown: true})
}
