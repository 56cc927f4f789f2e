package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"arbor/blobstore"
	"arbor/command"
	"arbor/events"
	"arbor/internal/filter"
	"arbor/projection"
	"arbor/query"
)

// Problem types. Existing clients match on them: the list only grows.
const (
	TypeInvalidULID      = "urn:servicekit:error:invalid-ulid"
	TypeBadRequest       = "urn:servicekit:error:bad-request"
	TypeNotFound         = "urn:servicekit:error:not-found"
	TypeMethodNotAllowed = "urn:servicekit:error:method-not-allowed"
	TypeConflict         = "urn:servicekit:error:conflict"
	TypePrecondition     = "urn:servicekit:error:precondition-failed"
	TypeTooLarge         = "urn:servicekit:error:payload-too-large"
	TypeRange            = "urn:servicekit:error:range-not-satisfiable"
	TypeValidation       = "urn:servicekit:error:validation-failed"
	TypeUnavailable      = "urn:servicekit:error:unavailable"
	TypeOutcomeUnknown   = "urn:arbor:error:outcome-unknown"
	TypeNotYetVisible    = "urn:arbor:error:not-yet-visible"
	TypeStorageFull      = "urn:arbor:error:storage-full"
	TypeKeyReused        = "urn:arbor:error:idempotency-key-reused"
	TypeInternal         = "urn:servicekit:error:internal"
)

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type     string               `json:"type"`
	Title    string               `json:"title"`
	Status   int                  `json:"status"`
	Detail   string               `json:"detail"`
	Instance string               `json:"instance"`
	Errors   []command.FieldError `json:"errors,omitempty"`
}

func (p *Problem) Error() string { return p.Detail }

// BadRequest, NotFound and friends are errors a transport returns for
// problems it finds itself.

// BadRequest is a 400 problem.
func BadRequest(format string, args ...any) error {
	return &Problem{Type: TypeBadRequest, Title: "Bad Request", Status: http.StatusBadRequest, Detail: fmt.Sprintf(format, args...)}
}

// Unavailable is a 503 problem with detail: retrying later is safe.
func Unavailable(detail string) error {
	return &Problem{Type: TypeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable, Detail: detail}
}

// TooLarge is a 413 problem: what was asked for does not fit the
// transport.
func TooLarge(detail string) error {
	return &Problem{Type: TypeTooLarge, Title: "Content Too Large", Status: http.StatusRequestEntityTooLarge, Detail: detail}
}

// InvalidULID is a 400 problem for an id in a path that is no ULID.
func InvalidULID(s string) error {
	return &Problem{Type: TypeInvalidULID, Title: "Invalid ULID", Status: http.StatusBadRequest, Detail: "Invalid ULID format: " + s}
}

// NotFound is a 404 problem for what is not an artifact (a route, content).
func NotFound(detail string) error {
	return &Problem{Type: TypeNotFound, Title: "Not Found", Status: http.StatusNotFound, Detail: detail}
}

// MethodNotAllowed is a 405 problem.
func MethodNotAllowed(method string) error {
	return &Problem{Type: TypeMethodNotAllowed, Title: "Method Not Allowed", Status: http.StatusMethodNotAllowed,
		Detail: "Method " + method + " is not allowed here"}
}

// InvalidField is a 422 problem naming a field of the request and why.
func InvalidField(field, format string, args ...any) error {
	return &command.ValidationError{Errors: []command.FieldError{{Field: field, Reason: fmt.Sprintf(format, args...)}}}
}

// ProblemFor turns an error into the problem a client sees. It is the only
// place where an error becomes a status. Details of 5xx stay in the log.
func ProblemFor(err error) *Problem {
	var (
		p          *Problem
		missing    *projection.NotFoundError
		validation *command.ValidationError
		conflict   *command.ConflictError
		tooBig     *http.MaxBytesError
		notApplied *command.NotAppliedError
		reused     *command.KeyReusedError
		badFilter  *filter.Error
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &reused):
		return &Problem{Type: TypeKeyReused, Title: "Unprocessable Content", Status: http.StatusUnprocessableEntity,
			Detail: fmt.Sprintf("Idempotency-Key %q was used within the last %.0f hours for another request; use a new key for a new request",
				reused.Key, projection.KeyTTL.Hours())}
	case errors.As(err, &badFilter):
		return &Problem{Type: TypeBadRequest, Title: "Bad Request", Status: http.StatusBadRequest, Detail: badFilter.Error()}
	case errors.As(err, &missing):
		return &Problem{Type: TypeNotFound, Title: "Not Found", Status: http.StatusNotFound,
			Detail: fmt.Sprintf("Artifact with id %s not found", missing.ID)}
	case errors.Is(err, query.ErrNoContent):
		return &Problem{Type: TypeNotFound, Title: "Not Found", Status: http.StatusNotFound, Detail: "Artifact has no content"}
	case errors.As(err, &validation):
		return &Problem{Type: TypeValidation, Title: "Validation Failed", Status: http.StatusUnprocessableEntity,
			Detail: fieldsDetail(validation.Errors), Errors: validation.Errors}
	case errors.As(err, &conflict):
		return &Problem{Type: TypeConflict, Title: "Conflict", Status: http.StatusConflict, Detail: conflict.Reason}
	case errors.Is(err, command.ErrStale):
		return &Problem{Type: TypePrecondition, Title: "Precondition Failed", Status: http.StatusPreconditionFailed,
			Detail: "If-Match does not match the artifact's current version"}
	case errors.As(err, &tooBig):
		return &Problem{Type: TypeTooLarge, Title: "Payload Too Large", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("Request body is larger than %d bytes", tooBig.Limit)}
	case errors.Is(err, blobstore.ErrTooLarge):
		return &Problem{Type: TypeTooLarge, Title: "Payload Too Large", Status: http.StatusRequestEntityTooLarge,
			Detail: "The content is larger than this arbor accepts"}
	case errors.Is(err, command.ErrTooLarge), errors.Is(err, events.ErrTooLarge):
		return &Problem{Type: TypeTooLarge, Title: "Payload Too Large", Status: http.StatusRequestEntityTooLarge,
			Detail: "The artifact's data is larger than one event can carry"}
	case errors.Is(err, events.ErrStorageFull), events.IsStorageFull(err): // the latter from the object store
		return &Problem{Type: TypeStorageFull, Title: "Insufficient Storage", Status: http.StatusInsufficientStorage,
			Detail: "arbor's storage is full; nothing was written. Deleting artifacts still works; writes go on once there is room again"}
	case errors.Is(err, events.ErrNoStream):
		return &Problem{Type: TypeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "The event stream is gone (" + err.Error() + "); nothing was written. An operator must restore it; /health says so"}
	case errors.Is(err, events.ErrUnknownOutcome):
		return &Problem{Type: TypeOutcomeUnknown, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "The event log stopped answering: the write may or may not have been recorded; read it back before retrying"}
	case errors.Is(err, events.ErrUnavailable):
		return &Problem{Type: TypeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "The event log could not be reached in time; nothing was written, retrying is safe"}
	case errors.As(err, &notApplied):
		return &Problem{Type: TypeNotYetVisible, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("The write was recorded at position %d but is not visible here yet: "+
				"read it back with %s: %d rather than retry it", notApplied.Pos, HeaderMinPosition, notApplied.Pos)}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Problem{Type: TypeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "The request timed out"}
	}
	return &Problem{Type: TypeInternal, Title: "Internal Server Error", Status: http.StatusInternalServerError,
		Detail: "An internal error occurred"}
}

func fieldsDetail(errs []command.FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Field + ": " + e.Reason
	}
	return strings.Join(parts, "; ")
}
