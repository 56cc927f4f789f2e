package metrics

import (
	"context"
	"errors"
	"time"

	"arbor/command"
	"arbor/events"
)

// failureReasons are the reasons of arbor_events_append_failures_total.
var failureReasons = []string{"conflict", "unavailable", "storage_full", "unknown_outcome", "too_large", "error"}

// Appender wraps a, counting the events it appends by type, the
// appends that fail by reason, and how long each append took. The
// deletion of an inner artifact counts its seals too (artifact.sealed),
// written in the same batch.
func (m *Metrics) Appender(a command.Appender) command.Appender {
	return appender{Appender: a, m: m}
}

type appender struct {
	command.Appender
	m *Metrics
}

func (a appender) Append(ctx context.Context, w events.Write) (uint64, error) {
	start := time.Now()
	seq, err := a.Appender.Append(ctx, w)
	took := time.Since(start)
	if err != nil {
		r := reason(err)
		a.m.appendFailures.WithLabelValues(r).Inc()
		a.m.appendSeconds.WithLabelValues(r).Observe(took.Seconds())
		return seq, err
	}
	a.m.appendSeconds.WithLabelValues("appended").Observe(took.Seconds())
	a.m.appended.WithLabelValues(w.Env.Event.EventType()).Inc()
	if len(w.Seals) > 0 {
		a.m.appended.WithLabelValues(events.ArtifactSealed{}.EventType()).Add(float64(len(w.Seals)))
	}
	return seq, nil
}

// reason is why an append failed, one of failureReasons. Storage full is
// told apart from the rest of unavailable, which it wraps.
func reason(err error) string {
	switch {
	case errors.Is(err, events.ErrConflict):
		return "conflict"
	case errors.Is(err, events.ErrStorageFull):
		return "storage_full"
	case errors.Is(err, events.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, events.ErrUnknownOutcome):
		return "unknown_outcome"
	case errors.Is(err, events.ErrTooLarge):
		return "too_large"
	}
	return "error"
}
