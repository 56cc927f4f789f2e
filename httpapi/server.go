package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"arbor/api"
	"arbor/blobstore"
	"arbor/command"
	"arbor/internal/apikey"
	"arbor/projection"
	"arbor/query"
)

// Check is one named health check. A failing critical check makes arbor
// unhealthy (503); any other failing check makes it degraded.
type Check struct {
	Name     string
	Critical bool
	Run      func(ctx context.Context) error
}

// Server serves the REST API. Its fields must be set before Handler is
// called.
type Server struct {
	Commands   *command.Handler
	Queries    *query.Service
	Projection *projection.Projection
	Blobs      *blobstore.Store
	Events     EventSource
	Checks     []Check
	// SnapshotPosition, if set, reports the position of the newest
	// snapshot of the projection, and whether snapshots are on.
	SnapshotPosition func() (uint64, bool)
	// BodyTimeout and ResponseTimeout bound how long a request's body and
	// its response may pause; zero: no bound.
	BodyTimeout     time.Duration
	ResponseTimeout time.Duration
	// MaxBody is the largest JSON request body in bytes; MaxContent the
	// largest uploaded content.
	MaxBody    int64
	MaxContent int64
	// Wait bounds how long a request waits for the projection: at start-up
	// until it has caught up, and for an api.HeaderMinPosition.
	Wait   time.Duration
	Logger *slog.Logger
	// Keys, if set, are the API keys a request needs (see authenticate);
	// nil: the API is open.
	Keys *apikey.Set
	// MaxFeeds caps the live feeds open at once; zero: no cap.
	MaxFeeds int
	// Version is arbor's version, as /health reports it.
	Version string
	// CORSOrigins are the origins whose pages may read the live feed
	// (Access-Control-Allow-Origin on $events); "*" is any.
	CORSOrigins []string
	// Pages are served beside the API: the OpenAPI document and its
	// reference, metrics, the lineage browser.
	Pages []Page
	// Observe, if set, is told of every request answered: its route (see
	// Route), method, status and how long it took.
	Observe func(route, method string, status int, took time.Duration)

	routes routeNames // what Route knows, set by Handler

	feeds     atomic.Int64  // live feeds open
	closing   chan struct{} // closed by CloseStreams; see streamsDone
	initOnce  sync.Once
	closeOnce sync.Once
}

// Page is a handler served beside the API at Path, for Method (GET and
// HEAD when empty). A Path ending in "/*filepath" serves everything under
// it. An Open page needs no API key; any other needs a key with the read
// scope once keys are set.
type Page struct {
	Method  string
	Path    string
	Handler http.Handler
	Open    bool
}

// matches reports whether the request path p is one the page serves.
func (pg Page) matches(p string) bool {
	if prefix, ok := strings.CutSuffix(pg.Path, "*filepath"); ok {
		return strings.HasPrefix(p, prefix)
	}
	return p == pg.Path
}

// streamsDone is closed once CloseStreams is called.
func (s *Server) streamsDone() chan struct{} {
	s.initOnce.Do(func() { s.closing = make(chan struct{}) })
	return s.closing
}

// CloseStreams ends every live feed, so that a graceful shutdown of the
// HTTP server is not held up by clients that never hang up.
func (s *Server) CloseStreams() { s.closeOnce.Do(func() { close(s.streamsDone()) }) }

// handlerFunc is a route's handler. It returns an error rather than
// writing one; handle turns it into a problem.
type handlerFunc func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error

// methods maps the methods one resource allows to their handlers.
type methods map[string]handlerFunc

const base = "/api/v1/artifacts"

// Handler returns the API's http.Handler.
func (s *Server) Handler() http.Handler {
	r := httprouter.New()
	// httprouter routes on the decoded path, so "%24tree" is "$tree".
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeProblem(w, req, api.ProblemFor(api.NotFound("No route for "+req.URL.Path)))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeProblem(w, req, api.ProblemFor(api.MethodNotAllowed(req.Method)))
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		if v == http.ErrAbortHandler {
			panic(v) // net/http cuts the connection
		}
		s.Logger.Error("panic", "method", req.Method, "path", req.URL.Path, "err", v)
		writeProblem(w, req, api.ProblemFor(errors.New("panic")))
	}

	collection := methods{http.MethodGet: s.list, http.MethodHead: s.list, http.MethodPost: s.create}
	for m, h := range collection {
		r.Handle(m, base, s.handle(h, true))
	}
	// Collection actions ($tree, $stats, $schema) and artifact ids share a
	// path segment: one dispatcher tells them apart, so each gets its own
	// 404 and 405.
	actions := map[string]methods{
		"$tree":   {http.MethodPost: s.postTree},
		"$stats":  {http.MethodGet: s.stats},
		"$schema": {http.MethodGet: s.schema},
		"$events": {http.MethodGet: s.feed},
	}
	artifact := methods{http.MethodGet: s.get, http.MethodPut: s.put, http.MethodDelete: s.delete}
	ops := map[string]methods{
		"$tree":      {http.MethodGet: s.getTree},
		"$expand":    {http.MethodGet: s.expand},
		"$ancestors": {http.MethodGet: s.ancestors},
		"$history":   {http.MethodGet: s.history},
		"$metadata":  {http.MethodGet: s.metadata},
		"$download":  {http.MethodGet: s.download},
		"$content":   {http.MethodPut: s.putContent},
	}
	s.routes = routeNames{actions: slices.Sorted(maps.Keys(actions)), ops: slices.Sorted(maps.Keys(ops))}
	item := s.handle(func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) error {
		id := ps.ByName("id")
		if strings.HasPrefix(id, "$") {
			ms, ok := actions[id]
			if !ok {
				return api.NotFound("No route for " + req.URL.Path)
			}
			return dispatch(ms, w, req, ps)
		}
		return dispatch(artifact, w, req, ps)
	}, true)
	op := s.handle(func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) error {
		ms, ok := ops[ps.ByName("op")]
		if !ok {
			return api.NotFound("No route for " + req.URL.Path)
		}
		return dispatch(ms, w, req, ps)
	}, true)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		r.Handle(m, base+"/:id", item)
		r.Handle(m, base+"/:id/:op", op)
	}
	r.Handle(http.MethodGet, "/health", s.handle(s.health, false))
	r.Handle(http.MethodHead, "/health", s.handle(s.health, false))
	for _, pg := range s.Pages {
		ms := []string{pg.Method}
		if pg.Method == "" {
			ms = []string{http.MethodGet, http.MethodHead}
		}
		for _, m := range ms {
			r.Handler(m, pg.Path, pg.Handler)
		}
	}
	return s.logRequests(s.deadlines(s.authenticate(r)))
}

// deadlines bounds how long a request's body and its response may pause:
// a client that stops sending or reading is cut off after BodyTimeout or
// ResponseTimeout without progress, however long the transfer itself
// takes (a large upload, a download, the live feed).
func (s *Server) deadlines(next http.Handler) http.Handler {
	if s.BodyTimeout <= 0 && s.ResponseTimeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if s.BodyTimeout > 0 {
			_ = rc.SetReadDeadline(time.Now().Add(s.BodyTimeout))
			r.Body = &progressBody{ReadCloser: r.Body, rc: rc, pause: s.BodyTimeout}
		}
		if s.ResponseTimeout > 0 {
			w = &progressWriter{ResponseWriter: w, rc: rc, pause: s.ResponseTimeout}
		}
		next.ServeHTTP(w, r)
	})
}

// progressBody moves the read deadline on as the body comes.
type progressBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	pause time.Duration
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.pause))
	}
	return n, err
}

// progressWriter gives each write of the response its own deadline: the
// client must take it within pause.
type progressWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	pause time.Duration
}

func (w *progressWriter) WriteHeader(code int) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.pause))
	w.ResponseWriter.WriteHeader(code)
}

func (w *progressWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(w.pause))
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *progressWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// dispatch calls the handler of r's method in ms. HEAD is GET without a
// body (net/http drops it); OPTIONS and a method ms lacks answer with Allow.
func dispatch(ms methods, w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	if h, ok := ms[method]; ok {
		return h(w, r, ps)
	}
	allow := []string{http.MethodOptions}
	for m := range ms {
		allow = append(allow, m)
	}
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return api.MethodNotAllowed(r.Method)
}

// jsonBody reports whether r says it carries JSON.
func jsonBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// handle adapts h to httprouter, turning its error into a problem. With
// consistent set, the request first waits until the projection is ready and
// has applied the position the client asks for.
func (s *Server) handle(h handlerFunc, consistent bool) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		err := func() error {
			if jsonBody(r) && r.ContentLength > s.MaxBody {
				// Declared too large: refused before a byte is read.
				return &http.MaxBytesError{Limit: s.MaxBody}
			}
			if err := s.checkParams(r); err != nil {
				return err
			}
			if consistent {
				if err := s.waitConsistent(r); err != nil {
					return err
				}
			}
			return h(w, r, ps)
		}()
		if err == nil {
			return
		}
		var notApplied *command.NotAppliedError
		if errors.As(err, &notApplied) {
			w.Header().Set(api.HeaderPosition, strconv.FormatUint(notApplied.Pos, 10))
		}
		p := api.ProblemFor(err)
		if p.Status >= 500 {
			s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", p.Status, "err", err)
		}
		writeProblem(w, r, p)
	}
}

func (s *Server) waitConsistent(r *http.Request) error {
	return api.WaitConsistent(r.Context(), s.Projection, s.Events, s.Wait, r.Header.Get(api.HeaderMinPosition))
}

// writeProblem writes p as the answer to r, its instance r's path.
func writeProblem(w http.ResponseWriter, r *http.Request, p *api.Problem) {
	out := *p
	out.Instance = r.URL.Path
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(out.Status)
	_ = json.NewEncoder(w).Encode(out)
}
