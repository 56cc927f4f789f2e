package projection

import (
	"context"
	"fmt"
	"log/slog"

	"arbor/events"
)

// Log is what the runner reads: *events.Log.
type Log interface {
	// Stream names the log, for log lines.
	Stream() string
	// LastSeq is the position of the last event in the log.
	LastSeq(ctx context.Context) (uint64, error)
	// Read calls fn with every event after from, in order, until ctx is
	// done or fn fails; skip hears of events that do not decode.
	Read(ctx context.Context, from uint64, fn func(events.Envelope) error, skip func(seq uint64, err error)) error
}

// Runner feeds a Projection from the log, in stream order, and marks it
// ready once it has applied every event that was in the log when Run began.
// Every field is required.
type Runner struct {
	Log        Log
	Projection *Projection
	Logger     *slog.Logger
}

// Run applies events until ctx is done. It returns ctx's error, or an error
// when the log cannot be read at start-up.
func (r *Runner) Run(ctx context.Context) error {
	target, err := r.Log.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("projection start: %w", err)
	}
	from := r.Projection.Applied()
	if from >= target {
		r.Projection.MarkReady()
	}
	r.Logger.Info("projection catching up", "stream", r.Log.Stream(), "from", from, "target", target)
	return r.Log.Read(ctx, from, func(env events.Envelope) error {
		r.Projection.Apply(env)
		if env.Seq >= target && !r.Projection.Ready() {
			r.Projection.MarkReady()
			r.Logger.Info("projection ready", "pos", env.Seq)
		}
		return nil
	}, func(seq uint64, err error) {
		r.Logger.Warn("event skipped", "pos", seq, "err", err)
	})
}
