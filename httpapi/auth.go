package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"arbor/api"
	"arbor/internal/apikey"
)

// Headers a client sends its API key in: X-API-Key: <key>, or
// Authorization: Bearer <key>.
const (
	headerAPIKey        = "X-API-Key"
	headerAuthorization = "Authorization"
)

// challenge is the WWW-Authenticate of every 401 (RFC 6750), whichever
// header the client used.
const challenge = `Bearer realm="arbor"`

// authenticate wraps next so that, with s.Keys set, a request passes only
// with a key whose scope allows it; without Keys it is next. It decides on
// the method and path alone, before the router and before any byte of the
// body is read, so a route added to the router is guarded like the others.
// A refused request is a 401 (no key, an unknown key, or a malformed
// header) or a 403 (a valid key without the scope), as problem+json.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if s.Keys == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		need, open := requiredScope(r)
		for _, pg := range s.Pages {
			if pg.Open && pg.matches(r.URL.Path) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				open = true
			}
		}
		if open {
			next.ServeHTTP(w, r)
			return
		}
		presented, err := presentedKey(r.Header)
		switch {
		case err != nil:
			w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_request"`)
			writeProblem(w, r, api.ProblemFor(err))
			return
		case presented == "":
			w.Header().Set("WWW-Authenticate", challenge)
			writeProblem(w, r, api.ProblemFor(api.Unauthorized(
				"An API key is required: send it as X-API-Key: <key> or Authorization: Bearer <key>")))
			return
		}
		key, ok := s.Keys.Lookup(presented)
		if !ok {
			w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
			writeProblem(w, r, api.ProblemFor(api.Unauthorized("The API key is not valid")))
			return
		}
		if !key.Scope.Allows(need) {
			w.Header().Set("WWW-Authenticate", challenge+`, error="insufficient_scope", scope="`+need.String()+`"`)
			writeProblem(w, r, api.ProblemFor(api.Forbidden(fmt.Sprintf(
				"The key %q has scope %s; %s here needs %s", key.Name, key.Scope, r.Method, need))))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requiredScope returns the scope r needs, or open when it needs no key.
//
//   - GET and HEAD of /health are open: load balancers and orchestrators
//     probe it without a key.
//   - GET and HEAD read. So does OPTIONS: arbor answers no CORS preflight
//     (it sends no Access-Control headers), so no browser needs OPTIONS to
//     pass without a key, and arbor's answer to OPTIONS waits on the
//     projection like a read and so depends on the log.
//   - POST of $tree reads too: it is the tree query, its parameters in the
//     body. The path is matched exactly, as the router matches it.
//   - Every other method (POST, PUT, PATCH, DELETE, and any method arbor
//     does not know) needs write: a method that changes nothing today is
//     no reason to open it to read keys.
//
// Admin allows everything write allows; no request needs more yet.
func requiredScope(r *http.Request) (need apikey.Scope, open bool) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.URL.Path == "/health" {
			return 0, true
		}
		return apikey.Read, false
	case http.MethodOptions:
		return apikey.Read, false
	case http.MethodPost:
		if r.URL.Path == base+"/$tree" {
			return apikey.Read, false
		}
	}
	return apikey.Write, false
}

// presentedKey returns the key the request carries in X-API-Key or in
// Authorization: Bearer, or "" when it carries none. Its error is a 401
// problem saying what is wrong with the headers: it is an error to
// repeat a header, to send an empty key, to send an Authorization of
// another scheme without an X-API-Key, or to send two different keys. An
// Authorization of another scheme beside an X-API-Key is meant for
// something else (a proxy in front of arbor) and is left alone.
func presentedKey(h http.Header) (string, error) {
	xs, as := h.Values(headerAPIKey), h.Values(headerAuthorization)
	if len(xs) > 1 || len(as) > 1 {
		return "", api.Unauthorized("Send one API key, in one X-API-Key or Authorization header")
	}
	var x, bearer string
	if len(xs) == 1 {
		if x = strings.TrimSpace(xs[0]); x == "" {
			return "", api.Unauthorized("The X-API-Key header is empty")
		}
	}
	if len(as) == 1 {
		scheme, token, _ := strings.Cut(strings.TrimSpace(as[0]), " ")
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			if bearer = strings.TrimSpace(token); bearer == "" {
				return "", api.Unauthorized("The Authorization header has no key after Bearer")
			}
		case x == "":
			return "", api.Unauthorized("Authorization must be Bearer <key>")
		}
	}
	if x != "" && bearer != "" && x != bearer {
		return "", api.Unauthorized("X-API-Key and Authorization name different keys")
	}
	if x != "" {
		return x, nil
	}
	return bearer, nil
}
