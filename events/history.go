package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
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
// to, both included, in order, in one batch of direct gets, n of them
// expected. Messages that do not decode are left out, and so may be some
// past the server's limit on the bytes of one batch: the caller fetches
// what it misses one by one.
func (l *Log) FetchOn(ctx context.Context, subject string, from, to uint64, n int) ([]Envelope, error) {
	if from > to {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	nc := l.js.Conn()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	// A few more than expected: messages on the subject the fold ignored.
	batch := min(to-from+1, uint64(n)+8)
	req, _ := json.Marshal(map[string]any{"seq": from, "next_by_subj": subject, "batch": batch, "up_to_seq": to})
	if err := nc.PublishRequest(l.directGet(), inbox, req); err != nil {
		return nil, err
	}
	var out []Envelope
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("read %s from %d: %w", subject, from, err)
		}
		switch m.Header.Get("Status") {
		case "":
		case "204", "404":
			return out, nil // the end of the batch, or nothing there
		default:
			return nil, fmt.Errorf("read %s from %d: %s %s", subject, from, m.Header.Get("Status"), m.Header.Get("Description"))
		}
		seq, _ := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
		env, err := Decode(m.Header, m.Data)
		if err != nil || seq == 0 {
			continue
		}
		env.Seq, env.Subject = seq, m.Header.Get(jetstream.SubjectHeader)
		out = append(out, env)
		if seq >= to {
			return out, nil
		}
	}
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
