package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/oklog/ulid/v2"

	"arbor/blobstore"
)

// Problem types of content the object store cannot hand out as an artifact
// refers to it. They join the append-only list in problem.go.
const (
	TypeContentCorrupt = "urn:arbor:error:content-corrupt"
	TypeContentMissing = "urn:arbor:error:content-missing"
)

// ContentError is an artifact's content in the object store that cannot be
// served: missing, or not the bytes (or the size) its digest names. It is
// a 502 problem: arbor's own store answered wrong, and retrying will not
// help until an operator restores the content. Its Error names the artifact
// and the digest, for the log line of the request; the problem names only
// the artifact.
type ContentError struct {
	Artifact ulid.ULID
	SHA256   string
	Err      error // wraps blobstore.ErrNotFound or blobstore.ErrCorrupt
}

func (e *ContentError) Error() string {
	return fmt.Sprintf("content sha256:%s of artifact %s: %v", e.SHA256, e.Artifact, e.Err)
}

// Unwrap gives the problem (so that ProblemFor finds it) and the cause.
func (e *ContentError) Unwrap() []error { return []error{e.problem(), e.Err} }

func (e *ContentError) problem() *Problem {
	if errors.Is(e.Err, blobstore.ErrNotFound) {
		return &Problem{Type: TypeContentMissing, Title: "Bad Gateway", Status: http.StatusBadGateway,
			Detail: fmt.Sprintf("The content of artifact %s is missing from the object store", e.Artifact)}
	}
	return &Problem{Type: TypeContentCorrupt, Title: "Bad Gateway", Status: http.StatusBadGateway,
		Detail: fmt.Sprintf("The stored content of artifact %s is not what the artifact refers to; it is not served", e.Artifact)}
}

// ContentFault is err, from reading the content with digest sha of the
// artifact id, as the problem a client sees: a *ContentError when the
// content is missing or corrupt (blobstore.ErrNotFound, ErrCorrupt), err
// itself otherwise (nil included).
func ContentFault(id ulid.ULID, sha string, err error) error {
	if errors.Is(err, blobstore.ErrNotFound) || errors.Is(err, blobstore.ErrCorrupt) {
		return &ContentError{Artifact: id, SHA256: sha, Err: err}
	}
	return err
}
