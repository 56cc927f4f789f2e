package projection

import (
	"errors"

	"github.com/oklog/ulid/v2"
)

// ErrNotFound means an artifact does not exist or was deleted. Errors
// about one artifact are NotFoundError, which wraps it.
var ErrNotFound = errors.New("artifact not found")

// NotFoundError is an artifact that does not exist or was deleted.
type NotFoundError struct{ ID ulid.ULID }

func (e *NotFoundError) Error() string { return "artifact " + e.ID.String() + " not found" }

// Unwrap makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }
