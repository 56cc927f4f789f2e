package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

var (
	// ErrConflict means a boundary moved since the position a command read:
	// another write got there first. See ConflictError for where it is now.
	ErrConflict = errors.New("events: boundary moved")
	// ErrUnavailable means the log could not be reached in time and the
	// event was not written. Retrying is safe.
	ErrUnavailable = errors.New("events: log unavailable")
	// ErrUnknownOutcome means the log stopped answering after the event was
	// sent: it may or may not have been written. Read before retrying.
	ErrUnknownOutcome = errors.New("events: outcome unknown")
	// ErrTooLarge means the event is larger than the server takes in one
	// message. Retrying is pointless.
	ErrTooLarge = errors.New("events: event too large")
)

// ConflictError is a failed precondition. Last is the boundary's position
// the server reported (zero when it did not say).
type ConflictError struct{ Last uint64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("events: boundary moved (last is %d)", e.Last)
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Config names the stream and its subjects.
type Config struct {
	Stream   string // default "ARTIFACTS"
	Prefix   string // subject prefix, default "arbor"
	Source   string // CloudEvents source, default "arbor"
	Replicas int    // default 1
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "ARTIFACTS"
	}
	if c.Prefix == "" {
		c.Prefix = "arbor"
	}
	if c.Source == "" {
		c.Source = "arbor"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	return c
}

// Log is the append-only event log in a JetStream stream. It is safe for
// concurrent use.
type Log struct {
	js     jetstream.JetStream
	stream jetstream.Stream
	cfg    Config
}

// OpenLog opens the stream described by cfg, creating it if it does not
// exist, and returns the log over it.
func OpenLog(ctx context.Context, js jetstream.JetStream, cfg Config) (*Log, error) {
	cfg = cfg.withDefaults()
	// An existing stream is used as it is: updating a stream while another
	// instance adds consumers to it races inside nats-server, and changing
	// a running deployment's stream is an operator's decision.
	s, err := js.Stream(ctx, cfg.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        cfg.Stream,
			Description: "arbor artifact events",
			Subjects:    []string{cfg.Prefix + ".>"},
			Storage:     jetstream.FileStorage,
			Replicas:    cfg.Replicas,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardOld,
			AllowDirect: true,
			Duplicates:  2 * time.Minute,
		})
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, cfg.Stream) // another instance was first
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", cfg.Stream, err)
	}
	return &Log{js: js, stream: s, cfg: cfg}, nil
}

// Stream is the name of the stream behind the log.
func (l *Log) Stream() string { return l.cfg.Stream }

// Append writes env at addr if the boundary of env's event is still at
// position last (zero: the boundary has no event yet), and returns the
// event's stream sequence.
//
// A moved boundary returns a *ConflictError, and so does the creation of an
// id that another event created within the server's deduplication window
// (see msgID). An event that was never sent (no connection, no stream)
// returns an error wrapping ErrUnavailable. When the outcome of a publish
// is unknown (a timeout), Append sends the same event again: the server
// handles it after the first, so its answer settles whether the first was
// written. If even that cannot be known, the error wraps ErrUnknownOutcome.
func (l *Log) Append(ctx context.Context, addr Address, env Envelope, last uint64) (uint64, error) {
	h, body, err := Encode(env, l.cfg.Source)
	if err != nil {
		return 0, err
	}
	msg := &nats.Msg{Subject: Subject(l.cfg.Prefix, addr, env.Event), Header: h, Data: body}
	filter := BoundaryFilter(l.cfg.Prefix, Boundary(env.Event))
	closed := l.js.Conn().IsClosed()
	seq, err := l.publish(ctx, msg, env, filter, last)
	switch {
	case err == nil:
		return seq, nil
	case errors.Is(err, nats.ErrMaxPayload):
		return 0, fmt.Errorf("%w: %s of %d bytes", ErrTooLarge, env.Event.EventType(), len(body))
	case isConflict(err):
		return 0, err
	case closed || neverSent(err):
		return 0, fmt.Errorf("%w: append %s: %v", ErrUnavailable, env.Event.EventType(), err)
	}
	// Sent, but no answer came back.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	seq, rerr := l.publish(rctx, msg, env, filter, last)
	if rerr == nil {
		return seq, nil // the first was written and this is its duplicate, or this one was
	}
	if isConflict(rerr) {
		// The boundary moved: if the first copy moved it, it is the first
		// event in the boundary after last; otherwise it can never land.
		if m, gerr := l.stream.GetMsg(rctx, last+1, jetstream.WithGetMsgSubject(filter)); gerr == nil {
			if m.Header.Get(HeaderID) == env.ID.String() {
				return m.Sequence, nil
			}
			return 0, fmt.Errorf("%w: append %s: %v", ErrUnavailable, env.Event.EventType(), err)
		}
	}
	return 0, fmt.Errorf("%w: append %s: %v", ErrUnknownOutcome, env.Event.EventType(), err)
}

// publish sends msg with the boundary precondition. A duplicate (an event
// with the same msgID within the deduplication window) is env itself sent
// before, whose sequence is returned, or another event: a *ConflictError.
func (l *Log) publish(ctx context.Context, msg *nats.Msg, env Envelope, filter string, last uint64) (uint64, error) {
	ack, err := l.js.PublishMsg(ctx, msg,
		jetstream.WithExpectLastSequenceForSubject(last, filter),
		jetstream.WithExpectStream(l.cfg.Stream))
	if err != nil {
		if c, ok := asConflict(err); ok {
			return 0, c
		}
		return 0, err
	}
	if ack.Duplicate {
		m, err := l.stream.GetMsg(ctx, ack.Sequence)
		if err != nil {
			return 0, err
		}
		if m.Header.Get(HeaderID) != env.ID.String() {
			return 0, &ConflictError{Last: ack.Sequence}
		}
	}
	return ack.Sequence, nil
}

func isConflict(err error) bool { return errors.Is(err, ErrConflict) }

// neverSent reports whether a publish failed before the server could have
// stored it. (The connection keeps no buffer of publishes while it
// reconnects, so a failed publish is never sent later.)
func neverSent(err error) bool {
	for _, e := range []error{nats.ErrConnectionDraining, nats.ErrReconnectBufExceeded,
		nats.ErrNoResponders, jetstream.ErrNoStreamResponse, nats.ErrInvalidConnection} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func asConflict(err error) (*ConflictError, bool) {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return nil, false
	}
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence, jetstream.JSErrCodeStreamWrongLastSequenceConstant:
	default:
		return nil, false
	}
	c := &ConflictError{}
	// "wrong last sequence: N"
	if i := strings.LastIndexByte(apiErr.Description, ':'); i >= 0 {
		c.Last, _ = strconv.ParseUint(strings.TrimSpace(apiErr.Description[i+1:]), 10, 64)
	}
	return c, true
}

// LastSeq returns the stream's last sequence: the position a reader must
// reach to have seen every event acknowledged so far.
func (l *Log) LastSeq(ctx context.Context) (uint64, error) {
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: stream info: %v", ErrUnavailable, err)
	}
	return info.State.LastSeq, nil
}

// Read calls fn with every event after position from, in stream order,
// until ctx is done or fn returns an error. A message that does not decode
// (an event type this build does not know, say) is reported to skip, which
// may be nil, and passed to fn as an envelope with a nil Event, so that
// readers still advance past its position. Read returns ctx's error or fn's.
func (l *Log) Read(ctx context.Context, from uint64, fn func(Envelope) error, skip func(seq uint64, err error)) error {
	cons, err := l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from + 1,
	})
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", l.cfg.Stream, from, err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", l.cfg.Stream, from, err)
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			// The ordered consumer recreates itself after gaps and
			// reconnects; meanwhile it reports missed heartbeats.
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			continue
		}
		env, err := Decode(msg.Headers(), msg.Data())
		if err != nil {
			if skip != nil {
				skip(meta.Sequence.Stream, err)
			}
			env = Envelope{}
		}
		env.Seq, env.Subject = meta.Sequence.Stream, msg.Subject()
		if err := fn(env); err != nil {
			return err
		}
	}
}
