package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// HeaderRequestID names a request in arbor's log: the client's own, when it
// sends a sane one, or one arbor makes; the response carries it back.
const HeaderRequestID = "X-Request-Id"

// logRequests writes one line per request to s.Logger at level Info: its
// method, route, status, the bytes of its response, how long it took and
// its request id. (Requests that fail with a 5xx also get an Error line
// saying why, from handle.)
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
		if !s.Logger.Enabled(r.Context(), slog.LevelInfo) {
			return
		}
		s.Logger.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("route", s.Route(r.URL.Path)),
			slog.Int("status", rec.status), slog.Int64("bytes", rec.bytes),
			slog.Duration("duration", time.Since(start)), slog.String("request_id", id))
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
	if !w.wrote {
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

// Route is the route of a request path, for logs and metrics: artifact
// ids stand as {id}, so that routes are few whatever the ids. A path arbor
// does not serve is "other".
func (s *Server) Route(path string) string {
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
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
	parts := strings.Split(rest, "/")
	out := base
	for i, p := range parts {
		switch {
		case i > 1:
			return "other"
		case strings.HasPrefix(p, "$") && len(p) <= len("$download"):
			out += "/" + p
		case i == 0 && p != "":
			out += "/{id}"
		default:
			return "other"
		}
	}
	return out
}
