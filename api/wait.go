package api

import (
	"context"
	"strconv"
	"time"

	"arbor/projection"
)

// Request and response headers every transport shares. A write answers
// with HeaderPosition, its log position: a consistency token. A read that
// sends it back as HeaderMinPosition to any instance is answered once that
// instance has applied the write. HeaderIfMatch names the version a write
// applies to.
const (
	HeaderPosition    = "Arbor-Position"
	HeaderMinPosition = "Arbor-Min-Position"
	HeaderIfMatch     = "If-Match"
)

// Log tells where the log ends: *events.Log.
type Log interface {
	LastSeq(ctx context.Context) (uint64, error)
}

// WaitConsistent waits, at most wait, until p is ready and has applied the
// position minPos names (a HeaderMinPosition value; empty: none). Its
// errors are problems: 400 for a malformed position or one past the end of
// log (no write ever answered it: waiting would only hold the request),
// 503 when the wait runs out.
func WaitConsistent(ctx context.Context, p *projection.Projection, log Log, wait time.Duration, minPos string) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := p.WaitReady(ctx); err != nil {
		return Unavailable("arbor is still reading its event log; retry shortly")
	}
	if minPos == "" {
		return nil
	}
	pos, err := strconv.ParseUint(minPos, 10, 64)
	if err != nil {
		return BadRequest("%s must be a log position such as 42", HeaderMinPosition)
	}
	if pos > p.Applied() {
		last, err := log.LastSeq(ctx)
		if err != nil {
			return err
		}
		if pos > last {
			return BadRequest("%s %d is past the end of the log (%d): no write answered it", HeaderMinPosition, pos, last)
		}
	}
	if err := p.WaitFor(ctx, pos); err != nil {
		return Unavailable("this instance has not yet applied position " + minPos + "; retry shortly")
	}
	return nil
}
