// Package openapitest holds tests that talk HTTP to arbor to the OpenAPI
// document of its API (httpapi/openapi.json, as the binary embeds it):
// every request a test sends and every answer it gets go through a
// Validator, which fails the test on an answer the document does not
// describe.
//
// A test validates an exchange it made itself with Check or CheckExchange,
// or gives its HTTP client a Transport that validates every exchange it
// carries.
package openapitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
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

// DocName names the document in what a failed check says.
const DocName = "openapi.json"

// Limit is how much of a request's or an answer's body a check is given:
// larger bodies (uploads, downloads) are checked on status and headers.
const Limit = 4 << 20

// Validator is the document, parsed once for every test of a binary, and
// the validators every exchange goes through. It is safe for concurrent
// use.
type Validator struct {
	doc   libopenapi.Document
	model *v3.Document
	// validators by what is known of an exchange: [request body
	// known][response body known]. A body a test streamed (an upload, a
	// download, the live feed) is not validated; its status, parameters and
	// headers are.
	validators [2][2]validator.Validator
	problem    *highbase.Schema
	schemas    schema_validation.SchemaValidator
	// outside are pages served beside the API that the document does not
	// describe, as Outside declares them.
	outside []string
}

var load = sync.OnceValues(func() (*Validator, error) {
	raw := httpapi.OpenAPIDocument()
	// A tree's node holds its children, nodes too: a circular reference
	// through an array, which may be empty, so finite.
	doc, err := libopenapi.NewDocumentWithConfiguration(raw, &datamodel.DocumentConfiguration{IgnoreArrayCircularReferences: true})
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", DocName, err)
	}
	m, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("build the model of %s: %w", DocName, err)
	}
	v := &Validator{doc: doc, model: &m.Model, schemas: schema_validation.NewSchemaValidator()}
	for reqBody := range 2 {
		for resBody := range 2 {
			var opts []config.Option
			if reqBody == 0 {
				opts = append(opts, config.WithoutRequestBodyValidation())
			}
			if resBody == 0 {
				opts = append(opts, config.WithoutResponseBodyValidation())
			}
			v.validators[reqBody][resBody] = validator.NewValidatorFromV3Model(&m.Model, opts...)
		}
	}
	if p := m.Model.Components.Schemas.GetOrZero("Problem"); p != nil {
		v.problem = p.Schema()
	}
	if v.problem == nil {
		return nil, fmt.Errorf("%s has no Problem schema", DocName)
	}
	return v, nil
})

// Load returns the validator of the embedded document, failing tb if the
// document cannot be parsed.
func Load(tb testing.TB) *Validator {
	tb.Helper()
	v, err := load()
	if err != nil {
		tb.Fatalf("%s: %v", DocName, err)
	}
	return v
}

// Outside returns a validator that lets requests to the given pages pass
// unchecked: pages a binary serves beside the API that the document does
// not describe (the lineage browser). A path is one as httpapi.Page has
// it: exact, or ending in "/*filepath" for everything under it.
func (v *Validator) Outside(paths ...string) *Validator {
	o := *v
	o.outside = append(slices.Clone(v.outside), paths...)
	return &o
}

// isOutside reports whether the request path p is one of the pages
// Outside declared.
func (v *Validator) isOutside(p string) bool {
	for _, o := range v.outside {
		if prefix, ok := strings.CutSuffix(o, "*filepath"); ok {
			if strings.HasPrefix(p, prefix) {
				return true
			}
		} else if p == o {
			return true
		}
	}
	return false
}

// Document returns the parsed document.
func (v *Validator) Document() libopenapi.Document { return v.doc }

// Model returns the document's OpenAPI 3 model.
func (v *Validator) Model() *v3.Document { return v.model }

// Problem returns the document's Problem schema.
func (v *Validator) Problem() *highbase.Schema { return v.problem }

// Exchange is one request a test sent and the answer it got, as much of
// them as the test kept.
type Exchange struct {
	Req *http.Request
	// ReqBody is the body sent; ReqKnown is false when the test streamed
	// it without keeping it.
	ReqBody  []byte
	ReqKnown bool
	Resp     *http.Response
	// RespBody is the answer's whole body; RespKnown is false for a
	// stream, a body read only in part, or one broken off.
	RespBody  []byte
	RespKnown bool
}

// Check validates an exchange whose bodies are both known in whole (nil
// for none); see CheckExchange.
func (v *Validator) Check(tb testing.TB, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	tb.Helper()
	v.CheckExchange(tb, Exchange{Req: req, ReqBody: reqBody, ReqKnown: true, Resp: resp, RespBody: respBody, RespKnown: true})
}

// CheckExchange validates one exchange against the document and fails tb
// (with Errorf, so that it may run on any goroutine) naming the route, the
// status and what does not match:
//
//   - the answer must be one the document gives for the request's
//     operation: its status, its Content-Type, its body against the
//     schema, its required headers;
//   - a request the document calls invalid must be refused with a 4xx;
//   - a request to a path or method the document does not have must be
//     answered with a problem (404, 405 with Allow, 401 or 403; 400 for a
//     path the router takes for an artifact's, with an empty id).
//
// Requests to pages declared Outside are not checked, nor answers that
// come from the HTTP server beneath arbor (see fromHTTPServer).
func (v *Validator) CheckExchange(tb testing.TB, x Exchange) {
	tb.Helper()
	route := x.Req.Method + " " + x.Req.URL.RequestURI()
	req := v.normalize(x)
	if v.isOutside(req.URL.Path) || fromHTTPServer(x.Resp) {
		return
	}
	docPath, ok := v.Match(req.URL.Path)
	if !ok || v.Operation(req.Method, docPath) == nil {
		v.checkUndocumented(tb, route, x)
		return
	}
	res := *x.Resp
	res.Body = http.NoBody
	if x.RespKnown {
		res.Body = io.NopCloser(bytes.NewReader(x.RespBody))
	}
	val := v.validators[b2i(x.ReqKnown)][b2i(x.RespKnown)]

	reqOK, reqErrs := val.ValidateHttpRequestSync(req)
	if !reqOK && undocumented(reqErrs) {
		tb.Errorf("%s = %d: %s has %s %s, but its validator finds no operation:%s", route, x.Resp.StatusCode, DocName, req.Method, docPath, Describe(reqErrs))
		return
	}
	// The request's body is read again for the response's operation.
	if x.ReqKnown && len(x.ReqBody) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(x.ReqBody))
	}
	if ok, errs := val.ValidateHttpResponse(req, &res); !ok {
		tb.Errorf("%s = %d: the answer does not match %s:%s", route, x.Resp.StatusCode, DocName, Describe(errs))
	}
	if !reqOK && (x.Resp.StatusCode < 400 || x.Resp.StatusCode >= 500) {
		tb.Errorf("%s = %d: %s calls the request invalid, so it must be refused with a 4xx:%s",
			route, x.Resp.StatusCode, DocName, Describe(reqErrs))
	}
}

// fromHTTPServer reports whether resp is an answer net/http's server makes
// itself, before any handler of arbor runs: to a request it cannot parse,
// or to plain HTTP on a TLS port. Such an answer is an error in plain
// text (or with no headers at all), without the X-Request-Id that arbor
// gives every answer of its own.
func fromHTTPServer(resp *http.Response) bool {
	if resp.StatusCode < 400 || resp.Header.Get(httpapi.HeaderRequestID) != "" {
		return false
	}
	ct := resp.Header.Get("Content-Type")
	return ct == "" || ct == "text/plain; charset=utf-8"
}

// normalize returns a copy of x's request, with its body, as the document
// describes it: the path decoded ("%24tree" is "$tree"), query parameters
// given empty left out, and a JSON body under an operation's JSON media
// type whichever JSON type the client named, if any (arbor reads any of
// them as JSON), with its members named as the schema's properties they
// match case-insensitively (see foldMembers), and raw content (an upload)
// without a type, or under a JSON type, as application/octet-stream: arbor
// stores the bytes as they come, without reading them as JSON.
func (v *Validator) normalize(x Exchange) *http.Request {
	req := x.Req.Clone(x.Req.Context())
	req.Body, req.ContentLength = http.NoBody, 0
	if x.ReqKnown && len(x.ReqBody) > 0 {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(x.ReqBody)), int64(len(x.ReqBody))
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
	hasBody := len(x.ReqBody) > 0 || (!x.ReqKnown && x.Req.ContentLength != 0)
	if ct != "" && mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		return req
	}
	docPath, _ := v.Match(u.Path)
	op := v.Operation(req.Method, docPath)
	switch {
	case op == nil || op.RequestBody == nil:
	case op.RequestBody.Content.GetOrZero("application/json") == nil:
		// Raw content: bytes under whatever type the client names, JSON
		// or not (arbor keeps them as they come); an empty body is an
		// empty file.
		req.Header.Set("Content-Type", "application/octet-stream")
	case hasBody:
		req.Header.Set("Content-Type", "application/json")
		if b, ok := foldMembers(x.ReqBody, op.RequestBody.Content.GetOrZero("application/json").Schema); ok {
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
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, false
		}
		out[name] = raw
	}
	b, err := json.Marshal(out)
	return b, err == nil
}

// Operation returns the document's operation for method at its path p, or
// nil.
func (v *Validator) Operation(method, p string) *v3.Operation {
	item := v.model.Paths.PathItems.GetOrZero(p)
	if item == nil {
		return nil
	}
	return item.GetOperations().GetOrZero(strings.ToLower(method))
}

// Match returns the document's path for a request path: the one whose
// segments all match, literal segments preferred to {templates} from the
// left, as the router prefers $tree to an id.
func (v *Validator) Match(reqPath string) (string, bool) {
	if p, err := url.PathUnescape(reqPath); err == nil {
		reqPath = p
	}
	segs := strings.Split(reqPath, "/")
	best, bestScore := "", -1
	for p := range v.model.Paths.PathItems.KeysFromOldest() {
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
func (v *Validator) checkUndocumented(tb testing.TB, route string, x Exchange) {
	tb.Helper()
	status := x.Resp.StatusCode
	if x.Req.Method == http.MethodOptions && status/100 == 2 && x.Resp.Header.Get("Allow") != "" {
		return // the router's answer, for a path it takes for one of the document's ("//$tree": an empty id)
	}
	switch status {
	case http.StatusNotFound, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
	case http.StatusMethodNotAllowed:
		if x.Resp.Header.Get("Allow") == "" {
			tb.Errorf("%s = 405 without Allow", route)
		}
	default:
		tb.Errorf("%s = %d: %s has no operation for it, so it must be answered 404, 405, 400, 401 or 403", route, status, DocName)
		return
	}
	if ct := x.Resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		tb.Errorf("%s = %d: Content-Type %q, want application/problem+json", route, status, ct)
		return
	}
	if !x.RespKnown || x.Req.Method == http.MethodHead {
		return
	}
	if ok, errs := v.schemas.ValidateSchemaBytes(v.problem, x.RespBody); !ok {
		tb.Errorf("%s = %d: the problem does not match %s's Problem:%s", route, status, DocName, Describe(errs))
	}
}

// Describe lists validation errors, one a line, each with the schema
// errors under it.
func Describe(errs []*valerrors.ValidationError) string {
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

// Buffer keeps the first bytes written to it, up to a limit; over the
// limit it keeps nothing and says so. It is safe for concurrent use.
type Buffer struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	max  int
	over bool
}

// NewBuffer returns a Buffer that keeps up to max bytes.
func NewBuffer(max int) *Buffer { return &Buffer{max: max} }

func (k *Buffer) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.over && k.buf.Len()+len(p) <= k.max {
		k.buf.Write(p)
	} else {
		k.over = true
		k.buf.Reset()
	}
	return len(p), nil
}

// Bytes returns what was kept, and whether it is all that was written.
func (k *Buffer) Bytes() ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return bytes.Clone(k.buf.Bytes()), !k.over
}

// reset forgets what was written.
func (k *Buffer) reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.buf.Reset()
	k.over = false
}
