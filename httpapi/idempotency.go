package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"

	"arbor/api"
	"arbor/command"
)

// HeaderIdempotencyKey names a write so that sending it again is safe: the
// same key with the same request is answered as the first time, from the
// log, without writing again (see command.Key).
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
)

// idempotencyKey reads r's Idempotency-Key, nil when it has none, and
// digests the request from the parts that make it what it is: its method
// and path, and what each handler passes (its body, If-Match, uploaded
// content's digest and type).
func idempotencyKey(r *http.Request, parts ...string) (*command.Key, error) {
	key := r.Header.Get(HeaderIdempotencyKey)
	if key == "" && len(r.Header.Values(HeaderIdempotencyKey)) == 0 {
		return nil, nil
	}
	if err := api.CheckIdempotencyKey(key); err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, p := range append([]string{r.Method, r.URL.Path}, parts...) {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return &command.Key{Key: key, Request: hex.EncodeToString(h.Sum(nil))}, nil
}

// replayed answers a request its key answered before, as it was answered
// then: a deletion with 204, a creation with 201 and the artifact as
// created, an update with 200 and the artifact as updated. Any other
// error is returned as it is.
func (s *Server) replayed(w http.ResponseWriter, r *http.Request, err error) error {
	var rep *command.ReplayedError
	if !errors.As(err, &rep) {
		return err
	}
	w.Header().Set(HeaderReplayed, "true")
	if rep.Type == "artifact.deleted" {
		w.Header().Set(api.HeaderPosition, strconv.FormatUint(rep.Seq, 10))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	a, err := s.Queries.AtVersion(r.Context(), rep.ID, rep.Version)
	if err != nil {
		w.Header().Del(HeaderReplayed)
		return err
	}
	status := http.StatusOK
	if rep.Type == "artifact.created" {
		status = http.StatusCreated
		w.Header().Set("Location", base+"/"+a.ID.String())
	}
	if c := a.Content; c != nil && c.JSON {
		if has, err := s.Blobs.Has(r.Context(), c.SHA256); err == nil && !has {
			a.Content = nil
		}
	}
	return s.writeFullArtifact(w, r, status, a, rep.Seq)
}
