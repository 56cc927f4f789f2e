package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Reads of earlier versions fetch the events that made them from the log,
// by position: one direct get each, or one batch of direct gets for the
// events of one subject (an artifact's changes).

// fetchers bounds the direct gets one Fetch has in flight.
const fetchers = 16

// Fetch returns the events at positions seqs. A position that holds no
// message, or one that does not decode, is an error.
func (l *Log) Fetch(ctx context.Context, seqs []uint64) (map[uint64]Envelope, error) {
	out := make(map[uint64]Envelope, len(seqs))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	next := make(chan uint64)
	for range min(fetchers, len(seqs)) {
		wg.Go(func() {
			for seq := range next {
				env, err := l.fetch(ctx, seq)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				out[seq] = env
				mu.Unlock()
			}
		})
	}
	for _, seq := range seqs {
		next <- seq
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

func (l *Log) fetch(ctx context.Context, seq uint64) (Envelope, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	m, err := l.stream.GetMsg(ctx, seq)
	if err != nil {
		return Envelope{}, fmt.Errorf("read position %d: %w", seq, err)
	}
	env, err := Decode(m.Header, m.Data)
	if err != nil {
		return Envelope{}, fmt.Errorf("read position %d: %w", seq, err)
	}
	env.Seq, env.Subject = m.Sequence, m.Subject
	return env, nil
}

// FetchOn returns the messages on subject from position from to position
// to, both included, in order, n of them expected, through an ordered
// consumer (which delivers stored messages as they are: a batch of direct
// gets adds six headers to each, and took half as long again). Messages
// that do not decode are left out.
func (l *Log) FetchOn(ctx context.Context, subject string, from, to uint64, n int) ([]Envelope, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	cons, err := l.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from,
		// A consumer that cannot be made again fails the read rather than
		// retrying without end.
		MaxResetAttempts: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("read %s from %d: %w", subject, from, err)
	}
	defer l.deleteConsumer(cons)
	var out []Envelope
	for last := uint64(0); last < to; {
		// One pull of what is there: a few more than expected, for
		// messages on the subject that the fold ignored.
		batch, err := cons.FetchNoWait(n + 8 - len(out))
		if err != nil {
			return nil, fmt.Errorf("read %s from %d: %w", subject, from, err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			meta, err := msg.Metadata()
			if err != nil {
				continue
			}
			last = meta.Sequence.Stream
			if env, err := Decode(msg.Headers(), msg.Data()); err == nil && last <= to {
				env.Seq, env.Subject = last, msg.Subject()
				out = append(out, env)
			}
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("read %s from %d: %w", subject, from, err)
		}
		if got == 0 || len(out) >= n+8 {
			break // the caller fetches what it misses one by one
		}
	}
	return out, nil
}

// PositionAt is the position of the last event the log had stored at time
// t: the log's own timestamps, not the events' times. A time before the
// first event is 0.
func (l *Log) PositionAt(ctx context.Context, t time.Time) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	after := t.Add(time.Nanosecond).UTC()
	req, _ := json.Marshal(map[string]any{"start_time": after})
	m, err := l.js.Conn().RequestWithContext(ctx, l.directGet(), req)
	if err != nil {
		return 0, fmt.Errorf("find the position at %s: %w", t.Format(time.RFC3339Nano), err)
	}
	switch m.Header.Get("Status") {
	case "":
		seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("find the position at %s: %w", t.Format(time.RFC3339Nano), err)
		}
		return seq - 1, nil // the first stored after t, less one
	case "404":
		return l.LastSeq(ctx) // nothing stored after t
	default:
		return 0, fmt.Errorf("find the position at %s: %s %s", t.Format(time.RFC3339Nano), m.Header.Get("Status"), m.Header.Get("Description"))
	}
}

// directGet is the subject of the stream's direct gets.
func (l *Log) directGet() string { return "$JS.API.DIRECT.GET." + l.cfg.Stream }
