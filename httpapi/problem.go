package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"arbor/blobstore"
	"arbor/command"
	"arbor/events"
	"arbor/query"
)

// Problem types. Existing clients match on them: the list only grows.
const (
	typeInvalidULID      = "urn:servicekit:error:invalid-ulid"
	typeBadRequest       = "urn:servicekit:error:bad-request"
	typeNotFound         = "urn:servicekit:error:not-found"
	typeMethodNotAllowed = "urn:servicekit:error:method-not-allowed"
	typeConflict         = "urn:servicekit:error:conflict"
	typePrecondition     = "urn:servicekit:error:precondition-failed"
	typeTooLarge         = "urn:servicekit:error:payload-too-large"
	typeRange            = "urn:servicekit:error:range-not-satisfiable"
	typeValidation       = "urn:servicekit:error:validation-failed"
	typeUnavailable      = "urn:servicekit:error:unavailable"
	typeOutcomeUnknown   = "urn:arbor:error:outcome-unknown"
	typeNotYetVisible    = "urn:arbor:error:not-yet-visible"
	typeInternal         = "urn:servicekit:error:internal"
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

// badRequest, notFound and friends are errors a handler returns for
// problems it finds itself.
func badRequest(format string, args ...any) error {
	return &Problem{Type: typeBadRequest, Title: "Bad Request", Status: http.StatusBadRequest, Detail: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 problem with detail, for other transports.
func BadRequest(detail string) error { return badRequest("%s", detail) }

// Unavailable is a 503 problem with detail: retrying later is safe.
func Unavailable(detail string) error {
	return &Problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable, Detail: detail}
}

func invalidULID(s string) error {
	return &Problem{Type: typeInvalidULID, Title: "Invalid ULID", Status: http.StatusBadRequest, Detail: "Invalid ULID format: " + s}
}

func notFound(detail string) error {
	return &Problem{Type: typeNotFound, Title: "Not Found", Status: http.StatusNotFound, Detail: detail}
}

func methodNotAllowed(method string) error {
	return &Problem{Type: typeMethodNotAllowed, Title: "Method Not Allowed", Status: http.StatusMethodNotAllowed,
		Detail: "Method " + method + " is not allowed here"}
}

func invalidField(field, format string, args ...any) error {
	return &command.ValidationError{Errors: []command.FieldError{{Field: field, Reason: fmt.Sprintf(format, args...)}}}
}

// ProblemFor turns an error into the problem a client sees. It is the only
// place where an error becomes a status. Details of 5xx stay in the log.
func ProblemFor(err error, artifact string) *Problem {
	var (
		p          *Problem
		validation *command.ValidationError
		conflict   *command.ConflictError
		tooBig     *http.MaxBytesError
		notApplied *command.NotAppliedError
	)
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, query.ErrNotFound), errors.Is(err, command.ErrNotFound):
		return &Problem{Type: typeNotFound, Title: "Not Found", Status: http.StatusNotFound,
			Detail: fmt.Sprintf("Artifact with id %s not found", artifact)}
	case errors.As(err, &validation):
		return &Problem{Type: typeValidation, Title: "Validation Failed", Status: http.StatusUnprocessableEntity,
			Detail: fieldsDetail(validation.Errors), Errors: validation.Errors}
	case errors.As(err, &conflict):
		return &Problem{Type: typeConflict, Title: "Conflict", Status: http.StatusConflict, Detail: conflict.Reason}
	case errors.Is(err, command.ErrStale):
		return &Problem{Type: typePrecondition, Title: "Precondition Failed", Status: http.StatusPreconditionFailed,
			Detail: "If-Match does not match the artifact's current version"}
	case errors.As(err, &tooBig):
		return &Problem{Type: typeTooLarge, Title: "Payload Too Large", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("Request body is larger than %d bytes", tooBig.Limit)}
	case errors.Is(err, blobstore.ErrTooLarge):
		return &Problem{Type: typeTooLarge, Title: "Payload Too Large", Status: http.StatusRequestEntityTooLarge,
			Detail: "The content is larger than this arbor accepts"}
	case errors.Is(err, command.ErrTooLarge), errors.Is(err, events.ErrTooLarge):
		return &Problem{Type: typeTooLarge, Title: "Payload Too Large", Status: http.StatusRequestEntityTooLarge,
			Detail: "The artifact's data is larger than one event can carry"}
	case errors.Is(err, events.ErrUnknownOutcome):
		return &Problem{Type: typeOutcomeUnknown, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "The event log stopped answering: the write may or may not have been recorded; read it back before retrying"}
	case errors.Is(err, events.ErrUnavailable):
		return &Problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "The event log could not be reached in time; nothing was written, retrying is safe"}
	case errors.As(err, &notApplied):
		return &Problem{Type: typeNotYetVisible, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: fmt.Sprintf("The write was recorded at position %d but is not visible here yet: "+
				"read it back with %s: %d rather than retry it", notApplied.Pos, HeaderMinPosition, notApplied.Pos)}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Problem{Type: typeUnavailable, Title: "Service Unavailable", Status: http.StatusServiceUnavailable,
			Detail: "The request timed out"}
	}
	return &Problem{Type: typeInternal, Title: "Internal Server Error", Status: http.StatusInternalServerError,
		Detail: "An internal error occurred"}
}

func fieldsDetail(errs []command.FieldError) string {
	parts := make([]string, len(errs))
	for i, e := range errs {
		parts[i] = e.Field + ": " + e.Reason
	}
	return strings.Join(parts, "; ")
}

func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	out := *p
	out.Instance = r.URL.Path
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(out.Status)
	_ = json.NewEncoder(w).Encode(out)
}
