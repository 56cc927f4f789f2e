package command

import (
	"errors"
	"fmt"
	"strings"

	"arbor/projection"
)

var (
	// ErrNotFound means the artifact does not exist or was deleted; the
	// error is a *projection.NotFoundError naming it, which wraps this.
	ErrNotFound = projection.ErrNotFound
	// ErrStale means If-Match named a version that is no longer current.
	ErrStale = errors.New("command: version is stale")
	// ErrTooLarge means the artifact's data does not fit in one event.
	ErrTooLarge = errors.New("command: data too large")
)

// ConflictError is a rule that fails against the current state: a delete
// while children live, an id already used, a change of parent.
type ConflictError struct{ Reason string }

func (e *ConflictError) Error() string { return "command: conflict: " + e.Reason }

// FieldError says what is wrong with one field of a request.
type FieldError struct {
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// ValidationError is a request that fails validation, field by field.
type ValidationError struct{ Errors []FieldError }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Field + ": " + f.Reason
	}
	return "command: invalid: " + strings.Join(parts, "; ")
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Errors: []FieldError{{Field: field, Reason: fmt.Sprintf(format, args...)}}}
}

// NotAppliedError is a write that was made, at position Pos, but that the
// projection had not applied when waiting for it ended with Err. The write
// stands: read it back (waiting for Pos) rather than retry it.
type NotAppliedError struct {
	Pos uint64
	Err error
}

func (e *NotAppliedError) Error() string {
	return fmt.Sprintf("command: written at %d, not yet applied: %v", e.Pos, e.Err)
}

func (e *NotAppliedError) Unwrap() error { return e.Err }

// Key is an idempotency key a request carried, and a digest of the
// request: the same key answers the same request once, for
// projection.KeyTTL.
type Key struct {
	Key     string
	Request string
}

// ReplayedError means the request was answered before under its key:
// nothing was written, and the caller answers as it did then, from the
// write Keyed records.
type ReplayedError struct {
	projection.Keyed
}

func (e *ReplayedError) Error() string {
	return fmt.Sprintf("command: answered before under idempotency key %q", e.Key)
}

// KeyReusedError means the key answered another request within
// projection.KeyTTL.
type KeyReusedError struct{ Key string }

func (e *KeyReusedError) Error() string {
	return fmt.Sprintf("command: idempotency key %q was used for another request", e.Key)
}
