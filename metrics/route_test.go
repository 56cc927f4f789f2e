package metrics

import (
	"errors"
	"fmt"
	"testing"

	"arbor/events"
)

func TestReason(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{&events.ConflictError{Last: 3}, "conflict"},
		{fmt.Errorf("%w: %w: append: no room", events.ErrUnavailable, events.ErrStorageFull), "storage_full"},
		{fmt.Errorf("%w: append: no responders", events.ErrUnavailable), "unavailable"},
		{fmt.Errorf("%w: append: timeout", events.ErrUnknownOutcome), "unknown_outcome"},
		{fmt.Errorf("%w: artifact.created of 2000000 bytes", events.ErrTooLarge), "too_large"},
		{errors.New("encode: bad"), "error"},
	} {
		if got := reason(c.err); got != c.want {
			t.Errorf("reason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}
