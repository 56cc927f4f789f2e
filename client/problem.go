package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// Problem is an error answered by the server: an RFC 9457 problem detail
// when the server sent one (application/problem+json), otherwise the
// response's status with its body as Detail. Get at it with errors.As.
type Problem struct {
	// Type is a URN such as "urn:servicekit:error:not-found"; empty when
	// the response was not a problem document.
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail"`
	Instance string       `json:"instance"`
	Errors   []FieldError `json:"errors,omitempty"`
}

// FieldError names a field of a request body that failed validation
// (status 422), such as "tags[1]" or "parent_id", and why.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Error returns the status, title and detail, as
// "404 Not Found: Artifact with id X not found".
func (p *Problem) Error() string {
	title := p.Title
	if title == "" {
		title = http.StatusText(p.Status)
	}
	s := fmt.Sprintf("%d %s", p.Status, title)
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Problem types arbor answers with, as in its API contract.
const (
	TypeInvalidULID         = "urn:servicekit:error:invalid-ulid"
	TypeBadRequest          = "urn:servicekit:error:bad-request"
	TypeNotFound            = "urn:servicekit:error:not-found"
	TypeMethodNotAllowed    = "urn:servicekit:error:method-not-allowed"
	TypeConflict            = "urn:servicekit:error:conflict"
	TypePreconditionFailed  = "urn:servicekit:error:precondition-failed"
	TypePayloadTooLarge     = "urn:servicekit:error:payload-too-large"
	TypeValidationFailed    = "urn:servicekit:error:validation-failed"
	TypeRangeNotSatisfiable = "urn:servicekit:error:range-not-satisfiable"
	TypeUnavailable         = "urn:servicekit:error:unavailable" // nothing was written: retrying is safe
	TypeOutcomeUnknown      = "urn:arbor:error:outcome-unknown"  // the write may have been recorded: read before retrying
	TypeNotYetVisible       = "urn:arbor:error:not-yet-visible"  // the write was recorded (Arbor-Position), not yet visible
	TypeInternal            = "urn:servicekit:error:internal"
	TypeUnauthorized        = "urn:servicekit:error:unauthorized" // no API key, or one arbor does not know
	TypeForbidden           = "urn:servicekit:error:forbidden"    // the key's scope does not allow the request
	// TypeIdempotencyKeyReused (422): the Idempotency-Key came with another
	// request within 24 hours; nothing was written.
	TypeIdempotencyKeyReused = "urn:arbor:error:idempotency-key-reused"
)

// IsNotFound reports whether err is a 404 problem: an unknown or deleted
// artifact, or an artifact without content.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports whether err is a 409 problem: an id already used, a
// delete of an artifact with children, a change of parent.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsPreconditionFailed reports whether err is a 412 problem: an IfMatch
// version that is not the artifact's current one.
func IsPreconditionFailed(err error) bool { return hasStatus(err, http.StatusPreconditionFailed) }

// IsUnauthorized reports whether err is a 401 problem: arbor needs an API
// key (WithAPIKey) and got none, or one it does not know.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsForbidden reports whether err is a 403 problem: the API key is valid
// but its scope does not allow the request.
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

func hasStatus(err error, status int) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == status
}

// readProblem turns a non-2xx response into a *Problem.
func readProblem(resp *http.Response) *Problem {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/problem+json" {
		var p Problem
		if json.Unmarshal(body, &p) == nil {
			if p.Status == 0 {
				p.Status = resp.StatusCode
			}
			return &p
		}
	}
	return &Problem{
		Status:   resp.StatusCode,
		Title:    http.StatusText(resp.StatusCode),
		Detail:   strings.TrimSpace(string(body)),
		Instance: resp.Request.URL.Path,
	}
}
