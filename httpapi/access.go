package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// HeaderRequestID names a request in arbor's log: the client's own, when it
// sends a sane one, or one arbor makes; the response carries it back.
const HeaderRequestID = "X-Request-Id"

// logRequests writes one line per request to s.Logger at level Info: its
// method, route, status, the bytes of its response, how long it took and
// its request id; and tells s.Observe. (Requests that fail with a 5xx also
// get an Error line saying why, from handle.)
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !saneRequestID(id) {
			id = ulid.Make().String()
		}
		w.Header().Set(HeaderRequestID, id)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		took, route := time.Since(start), s.Route(r.URL.Path)
		if s.Observe != nil {
			s.Observe(route, r.Method, rec.status, took)
		}
		if !s.Logger.Enabled(r.Context(), slog.LevelInfo) {
			return
		}
		s.Logger.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", took), slog.String("request_id", id))
	})
}

// saneRequestID reports whether a client's request id may go into the log
// as it is: short, and letters, digits and a few marks only.
func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.:", c)) {
			return false
		}
	}
	return true
}

// recorder notes a response's status and size.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *recorder) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Route is the route of a request path as the router sees it (decoded:
// "%24tree" is "$tree"), for logs and metrics: ids stand as {id}, and only
// the routes arbor serves have their own; everything else is "other", so
// that routes stay few whatever clients send. A malformed id is still
// {id}, the route that answers it 400. Handler must have been called.
func (s *Server) Route(path string) string {
	if path == "/health" || path == base {
		return path
	}
	for _, pg := range s.Pages {
		if pg.matches(path) {
			return pg.Path
		}
	}
	rest, ok := strings.CutPrefix(path, base+"/")
	if !ok {
		return "other"
	}
	seg, op, nested := strings.Cut(rest, "/")
	switch {
	case seg == "" || strings.Contains(op, "/"):
		return "other"
	case !nested && strings.HasPrefix(seg, "$"):
		return known(base+"/", seg, s.routes.actions)
	case strings.HasPrefix(seg, "$"):
		return "other"
	case !nested:
		return idRoute
	}
	return known(idRoute+"/", op, s.routes.ops)
}

// idRoute is the route of an artifact's path.
const idRoute = base + "/{id}"

// routeNames are the names of the actions ($tree of the collection) and
// ops ($tree of an artifact) Handler serves.
type routeNames struct {
	actions, ops []string
}

// known is prefix+name if name is one of names, else "other".
func known(prefix, name string, names []string) string {
	if slices.Contains(names, name) {
		return prefix + name
	}
	return "other"
}
