package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/internal/jsopen"
)

var (
	// ErrConflict means a precondition failed: the subject it names moved
	// since the position a command read, another write got there first.
	// See ConflictError for where it is now.
	ErrConflict = errors.New("events: precondition failed")
	// ErrUnavailable means the log could not be reached in time and the
	// event was not written. Retrying is safe.
	ErrUnavailable = errors.New("events: log unavailable")
	// ErrUnknownOutcome means the log stopped answering after the event was
	// sent: it may or may not have been written. Read before retrying.
	ErrUnknownOutcome = errors.New("events: outcome unknown")
	// ErrNoStream means the stream itself is gone (deleted by hand, say).
	// arbor does not make it again: its rules rest on the whole log. An
	// error wrapping it wraps ErrUnavailable too: nothing was written.
	ErrNoStream = errors.New("events: the stream is gone")
	// ErrStorageFull means the server has no room for the event (its
	// storage limit is reached, or its disk is full), or the log's Guard
	// says so. It wraps ErrUnavailable too: nothing was written.
	ErrStorageFull = errors.New("events: storage is full")
	// ErrTooLarge means the event is larger than the server takes in one
	// message. Retrying is pointless.
	ErrTooLarge = errors.New("events: event too large")
)

// ConflictError is a failed precondition. Last is the position of the
// subject the server reported (zero when it did not say, as for a subject
// with a write in flight on a replicated stream).
type ConflictError struct{ Last uint64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("events: precondition failed (last is %d)", e.Last)
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Config names the stream and its subjects.
type Config struct {
	Stream   string // default "ARTIFACTS"
	Prefix   string // subject prefix, default "arbor"
	Source   string // CloudEvents source, default "arbor"
	Replicas int    // default 1
	// Shards and Seals shape a stream arbor creates (see Layout); an
	// existing stream keeps its own. Zero: DefaultShards, and 1 seal on a
	// single replica or 64 on replicated streams.
	Shards int
	Seals  int
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
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.Seals == 0 {
		c.Seals = 1
		if c.Replicas > 1 {
			c.Seals = 64
		}
	}
	return c
}

// Stream metadata keys: the layout of a stream is fixed when it is created
// and read back by every instance.
const (
	metaLayout = "arbor.layout"
	metaShards = "arbor.shards"
	metaSeals  = "arbor.seals"
	layoutV2   = "2"
)

// minServer is the oldest nats-server arbor runs on: atomic batches came in
// 2.12.
var minServer = [2]int{2, 12}

// Log is the append-only event log in a JetStream stream. It is safe for
// concurrent use.
type Log struct {
	// Guard, if set, is asked before every append that adds data (all but
	// deletions, which free room): an error it returns refuses the append
	// at once, as ErrStorageFull. Set it before the log is used.
	Guard func() error

	js     jetstream.JetStream
	stream jetstream.Stream
	cfg    Config
	layout Layout
	full   atomic.Bool // the last append was refused for storage
}

// OpenLog opens the stream described by cfg, creating it if it does not
// exist, and returns the log over it. A stream written by a release of
// arbor before the exact-subject layout is upgraded once: it gains atomic
// batches and the layout's metadata; its old events stay as they are.
// A server older than 2.12 is refused.
func OpenLog(ctx context.Context, js jetstream.JetStream, cfg Config) (*Log, error) {
	cfg = cfg.withDefaults()
	if err := checkServer(js.Conn().ConnectedServerVersion()); err != nil {
		return nil, err
	}
	fresh := Layout{Prefix: cfg.Prefix, Shards: cfg.Shards, Seals: cfg.Seals}
	if err := fresh.Validate(); err != nil {
		return nil, err
	}
	want := jetstream.StreamConfig{
		Name:               cfg.Stream,
		Description:        "arbor artifact events",
		Subjects:           []string{cfg.Prefix + ".>"},
		Storage:            jetstream.FileStorage,
		Replicas:           cfg.Replicas,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardOld,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		Duplicates:         2 * time.Minute,
		Metadata:           fresh.metadata(),
	}
	s, err := jsopen.GetOrCreate(
		func() (jetstream.Stream, error) { return js.Stream(ctx, cfg.Stream) },
		func() (jetstream.Stream, error) { return js.CreateStream(ctx, want) },
		jetstream.ErrStreamNotFound)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", cfg.Stream, err)
	}
	info := s.CachedInfo()
	if info.Config.Metadata[metaLayout] != layoutV2 || !info.Config.AllowAtomicPublish {
		// Written by an earlier release: upgrade it in place, once.
		up := info.Config
		up.AllowAtomicPublish = true
		if up.Metadata == nil {
			up.Metadata = map[string]string{}
		}
		for k, v := range fresh.metadata() {
			if _, set := up.Metadata[k]; !set || k == metaLayout {
				up.Metadata[k] = v
			}
		}
		if s, err = js.UpdateStream(ctx, up); err != nil {
			return nil, fmt.Errorf("upgrade stream %s to the exact-subject layout: %w", cfg.Stream, err)
		}
		info = s.CachedInfo()
	}
	layout, err := layoutOf(cfg.Prefix, info.Config.Metadata)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", cfg.Stream, err)
	}
	return &Log{js: js, stream: s, cfg: cfg, layout: layout}, nil
}

// Via returns the same log read and written through js, another
// connection to the same server: the live feed reads through one of its
// own, so that subscribers that fall behind never hold up arbor's writes
// and projection.
func (l *Log) Via(ctx context.Context, js jetstream.JetStream) (*Log, error) {
	s, err := js.Stream(ctx, l.cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("open stream %s: %w", l.cfg.Stream, err)
	}
	return &Log{js: js, stream: s, cfg: l.cfg, layout: l.layout}, nil
}

func (l Layout) metadata() map[string]string {
	return map[string]string{metaLayout: layoutV2, metaShards: strconv.Itoa(l.Shards), metaSeals: strconv.Itoa(l.Seals)}
}

func layoutOf(prefix string, meta map[string]string) (Layout, error) {
	l := Layout{Prefix: prefix}
	var err1, err2 error
	l.Shards, err1 = strconv.Atoi(meta[metaShards])
	l.Seals, err2 = strconv.Atoi(meta[metaSeals])
	if err := errors.Join(err1, err2); err != nil {
		return Layout{}, fmt.Errorf("stream metadata %s/%s: %w", metaShards, metaSeals, err)
	}
	return l, l.Validate()
}

// checkServer refuses a server older than minServer, naming both versions.
func checkServer(version string) error {
	var v [3]int
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	for i, part := range parts {
		digits := strings.IndexFunc(part, func(r rune) bool { return r < '0' || r > '9' })
		if digits >= 0 {
			part = part[:digits]
		}
		v[i], _ = strconv.Atoi(part)
	}
	if v[0] > minServer[0] || v[0] == minServer[0] && v[1] >= minServer[1] {
		return nil
	}
	return fmt.Errorf("events: nats-server %q is too old: arbor needs %d.%d or later (atomic batch publish)",
		version, minServer[0], minServer[1])
}

// Stream is the name of the stream behind the log.
func (l *Log) Stream() string { return l.cfg.Stream }

// Layout is the subject layout of the stream.
func (l *Log) Layout() Layout { return l.layout }

// Expect is a precondition: the last message on Subject (a subject, or a
// filter matching a few) is at position Last, zero meaning none.
type Expect struct {
	Subject string
	Last    uint64
}

// Write is one decision to append: an event on Subject if Expect holds.
// For the deletion of an inner artifact, Seals are written with it in one
// atomic batch, the first of them only if SealExpect holds too.
type Write struct {
	Env     Envelope
	Subject string
	Expect  Expect
	// Label is the artifact's level label, sent as a header for
	// subscribers.
	Label      string
	Seals      []string
	SealExpect Expect
	// Claim, if set, records an idempotency key after the event (and its
	// seals), in one atomic batch with them.
	Claim *Claim
}

// Claim is the record of an idempotency key that a write carries: see
// KeyRecorded. Its subject is Layout.KeySubject of the key, expected at
// position Last (zero: never used).
type Claim struct {
	Key     string
	Request string
	Last    uint64
	Subject string
}

// Append writes w and returns the position of its last message (the event,
// or the last seal). Every precondition holds at that moment, or nothing
// is written.
//
// A failed precondition returns a *ConflictError, and so does the creation
// of an id that another event created within the server's deduplication
// window (see msgID). An event that was never sent (no connection, no
// stream) returns an error wrapping ErrUnavailable. When the outcome of a
// publish is unknown (a timeout), Append reads the log or sends the same
// event again to settle it; if even that cannot be known, the error wraps
// ErrUnknownOutcome.
func (l *Log) Append(ctx context.Context, w Write) (uint64, error) {
	msgs, err := l.encode(w)
	if err != nil {
		return 0, err
	}
	if _, del := w.Env.Event.(ArtifactDeleted); l.Guard != nil && !del {
		if err := l.Guard(); err != nil {
			return 0, fmt.Errorf("%w: %w: append %s: %v", ErrUnavailable, ErrStorageFull, w.Env.Event.EventType(), err)
		}
	}
	seq, err := l.append(ctx, w, msgs)
	switch {
	case err == nil:
		l.full.Store(false)
	case errors.Is(err, ErrStorageFull):
		l.full.Store(true)
	}
	return seq, err
}

// StorageFull reports whether the last append was refused because the
// server had no room for it.
func (l *Log) StorageFull() bool { return l.full.Load() }

func (l *Log) append(ctx context.Context, w Write, msgs []*nats.Msg) (uint64, error) {
	closed := l.js.Conn().IsClosed()
	sctx, cancel := context.WithTimeout(ctx, callTimeout)
	seq, err := l.send(sctx, w, msgs)
	cancel()
	switch {
	case err == nil:
		return seq, nil
	case errors.Is(err, nats.ErrMaxPayload):
		return 0, fmt.Errorf("%w: %s of %d bytes", ErrTooLarge, w.Env.Event.EventType(), len(msgs[0].Data))
	case isConflict(err):
		return 0, err
	case IsStorageFull(err):
		return 0, fmt.Errorf("%w: %w: append %s: %v", ErrUnavailable, ErrStorageFull, w.Env.Event.EventType(), err)
	case closed || neverSent(err):
		if !closed && l.gone(ctx) {
			return 0, fmt.Errorf("%w: %w: append %s: stream %s", ErrUnavailable, ErrNoStream, w.Env.Event.EventType(), l.cfg.Stream)
		}
		return 0, fmt.Errorf("%w: append %s: %v", ErrUnavailable, w.Env.Event.EventType(), err)
	}
	// Sent, but no answer came back.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if seq, ok := l.landed(rctx, w); ok {
		return seq, nil
	}
	msgs, _ = l.encode(w)
	seq, rerr := l.send(rctx, w, msgs)
	if rerr == nil {
		return seq, nil // the first was not written, or this is its duplicate
	}
	if isConflict(rerr) {
		if seq, ok := l.landed(rctx, w); ok {
			return seq, nil
		}
		if settles(w) {
			// The first message after the expected one is not ours: the
			// first copy never landed and never will.
			return 0, fmt.Errorf("%w: append %s: %v", ErrUnavailable, w.Env.Event.EventType(), err)
		}
	}
	return 0, fmt.Errorf("%w: append %s: %v", ErrUnknownOutcome, w.Env.Event.EventType(), err)
}

// Message is the message Append publishes for w, a write of one event
// (no seals): for a caller that publishes many itself, asynchronously,
// and reads each acknowledgement as Append would.
func (l *Log) Message(w Write) (*nats.Msg, error) {
	if len(w.Seals) > 0 || w.Claim != nil {
		return nil, fmt.Errorf("events: %s with seals or a key is a batch, not one message", w.Env.Event.EventType())
	}
	msgs, err := l.encode(w)
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// settles reports whether the first message after w's expected position on
// w's expected subject is w's event if it landed at all: true when the
// event goes on the subject its precondition names (updates, deletions, a
// root's creation), false for a child's creation, which is checked against
// its parent's seal.
func settles(w Write) bool { return matches(w.Expect.Subject, w.Subject) }

// landed reports whether w's event is in the log, and the position of w's
// last message if so. It can only tell when settles(w).
func (l *Log) landed(ctx context.Context, w Write) (uint64, bool) {
	if !settles(w) {
		return 0, false
	}
	m, err := l.stream.GetMsg(ctx, w.Expect.Last+1, jetstream.WithGetMsgSubject(w.Expect.Subject))
	if err != nil || m.Header.Get(HeaderID) != w.Env.ID.String() {
		return 0, false
	}
	return m.Sequence + uint64(len(w.Seals)) + claims(w), true
}

// claims is the number of key records w carries.
func claims(w Write) uint64 {
	if w.Claim != nil {
		return 1
	}
	return 0
}

// matches reports whether subject matches filter, with NATS wildcards.
func matches(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, t := range f {
		switch {
		case t == ">":
			return len(s) > i
		case i >= len(s):
			return false
		case t != "*" && t != s[i]:
			return false
		}
	}
	return len(f) == len(s)
}

func (l *Log) encode(w Write) ([]*nats.Msg, error) {
	h, body, err := Encode(w.Env, l.cfg.Source)
	if err != nil {
		return nil, err
	}
	h.Set(HeaderHierarchy, hierarchyOf(w.Env.Event, w.Subject))
	if w.Label != "" {
		h.Set(HeaderLevelLabel, w.Label)
	}
	h.Set(jetstream.ExpectedStreamHeader, l.cfg.Stream)
	expect(h, w.Expect)
	msgs := []*nats.Msg{{Subject: w.Subject, Header: h, Data: body}}
	for i, subject := range w.Seals {
		// Each seal is an event of its own, with its own id.
		seal := Envelope{ID: ulid.Make(), Time: w.Env.Time, Event: ArtifactSealed{ID: w.Env.Event.ArtifactID()}}
		sh, sbody, err := Encode(seal, l.cfg.Source)
		if err != nil {
			return nil, err
		}
		sh.Set(HeaderHierarchy, h.Get(HeaderHierarchy))
		if i == 0 {
			expect(sh, w.SealExpect)
		}
		msgs = append(msgs, &nats.Msg{Subject: subject, Header: sh, Data: sbody})
	}
	if c := w.Claim; c != nil {
		rec := Envelope{ID: ulid.Make(), Time: w.Env.Time, Event: KeyRecorded{ID: w.Env.Event.ArtifactID(), Key: c.Key, Request: c.Request}}
		ch, cbody, err := Encode(rec, l.cfg.Source)
		if err != nil {
			return nil, err
		}
		expect(ch, Expect{Subject: c.Subject, Last: c.Last})
		msgs = append(msgs, &nats.Msg{Subject: c.Subject, Header: ch, Data: cbody})
	}
	if len(msgs) > 1 {
		// A duplicate message id would reject the whole batch; the batch
		// settles by reading instead.
		for _, m := range msgs {
			m.Header.Del(nats.MsgIdHdr)
		}
	}
	return msgs, nil
}

func expect(h nats.Header, e Expect) {
	if e.Subject == "" {
		return
	}
	h.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(e.Last, 10))
	h.Set(jetstream.ExpectedLastSubjSeqSubjHeader, e.Subject)
}

func hierarchyOf(ev Event, subject string) string {
	if c, ok := ev.(ArtifactCreated); ok {
		return c.Hierarchy
	}
	if s, ok := ParseSubject(subject); ok {
		return s.Hierarchy
	}
	return ""
}

// send publishes msgs: one message as a plain publish, several as one
// atomic batch. A duplicate (the same creation within the deduplication
// window) is w's event itself sent before, whose sequence is returned, or
// another event: a *ConflictError.
func (l *Log) send(ctx context.Context, w Write, msgs []*nats.Msg) (uint64, error) {
	if len(msgs) > 1 {
		return l.sendBatch(ctx, msgs)
	}
	ack, err := l.js.PublishMsg(ctx, msgs[0])
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
		if m.Header.Get(HeaderID) != w.Env.ID.String() {
			return 0, &ConflictError{Last: ack.Sequence}
		}
	}
	return ack.Sequence, nil
}

// sendBatch publishes msgs as one atomic batch (nats-server 2.12+): every
// message but the last as a plain publish, then the last as a request that
// commits the batch. The server checks every precondition at the commit,
// against the log before the batch; one failing discards the whole batch.
// Messages on one connection arrive in order, so one round trip does.
func (l *Log) sendBatch(ctx context.Context, msgs []*nats.Msg) (uint64, error) {
	nc := l.js.Conn()
	id := nats.NewInbox()[len(nats.InboxPrefix):]
	for i, m := range msgs {
		m.Header.Set(headerBatchID, id)
		m.Header.Set(headerBatchSeq, strconv.Itoa(i+1))
		if i == len(msgs)-1 {
			m.Header.Set(headerBatchCommit, "1")
			break
		}
		if err := nc.PublishMsg(m); err != nil {
			return 0, err
		}
	}
	resp, err := nc.RequestMsgWithContext(ctx, msgs[len(msgs)-1])
	if err != nil {
		return 0, err
	}
	var ack struct {
		Error *jetstream.APIError `json:"error"`
		Seq   uint64              `json:"seq"`
		Count int                 `json:"count"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("batch commit: %w", err)
	}
	if ack.Error != nil {
		if c, ok := asConflict(ack.Error); ok {
			return 0, c
		}
		return 0, ack.Error
	}
	if ack.Count != len(msgs) {
		return 0, fmt.Errorf("batch commit: %d of %d messages stored", ack.Count, len(msgs))
	}
	return ack.Seq, nil
}

// callTimeout bounds one call to the server within a command's time: a
// server that went away (a stream leader killed, say) costs a few seconds
// and an honest answer, not the command's whole time.
const callTimeout = 5 * time.Second

// Atomic batch headers (nats-server 2.12+).
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

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

// IsStorageFull reports whether err is the server's refusal to store for
// want of room: its storage limit reached (10023, 10047), or its disk full.
func IsStorageFull(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == 10023 || apiErr.ErrorCode == 10047) {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "no space left")
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

// deleteConsumer deletes the server's consumer behind cons, which the
// server would otherwise keep for its inactive threshold: readers that come
// and go (live feeds) would pile them up.
func (l *Log) deleteConsumer(cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	_ = l.stream.DeleteConsumer(ctx, info.Name) // best effort: the server ends it anyway
}

// LastSeq returns the stream's last sequence: the position a reader must
// reach to have seen every event acknowledged so far.
func (l *Log) LastSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	info, err := l.stream.Info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, fmt.Errorf("%w: %w: stream %s", ErrUnavailable, ErrNoStream, l.cfg.Stream)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: stream info: %v", ErrUnavailable, err)
	}
	return info.State.LastSeq, nil
}

// LastOn returns the position of the last message on subject, zero when
// there is none.
func (l *Log) LastOn(ctx context.Context, subject string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	m, err := l.stream.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%w: last message on %s: %v", ErrUnavailable, subject, err)
	}
	return m.Sequence, nil
}

// gone reports whether the server says the stream does not exist.
func (l *Log) gone(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	_, err := l.stream.Info(ctx)
	return errors.Is(err, jetstream.ErrStreamNotFound)
}

// Read calls fn with every event after position from, in stream order,
// until ctx is done or fn returns an error. A message that does not decode
// (an event type this build does not know, say) is reported to skip, which
// may be nil, and passed to fn as an envelope with a nil Event, so that
// readers still advance past its position. Read returns ctx's error or fn's.
func (l *Log) Read(ctx context.Context, from uint64, fn func(Envelope) error, skip func(seq uint64, err error)) error {
	records, err := l.records(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from + 1,
	})
	if err != nil {
		return fmt.Errorf("read %s from %d: %w", l.cfg.Stream, from, err)
	}
	for r := range records {
		env, err := Decode(r.Header, r.Data)
		if err != nil {
			if skip != nil {
				skip(r.Seq, err)
			}
			env = Envelope{}
		}
		env.Seq, env.Subject = r.Seq, r.Subject
		if err := fn(env); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// records returns the records an ordered consumer with cfg delivers, in
// stream order, until ctx is done or the caller stops ranging. The ordered
// consumer recreates itself after gaps and reconnects, on another server of
// a cluster too. Its resources are released when ctx is done, ranged or
// not.
func (l *Log) records(ctx context.Context, cfg jetstream.OrderedConsumerConfig, opts ...jetstream.PullMessagesOpt) (iter.Seq[Record], error) {
	cons, err := l.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	it, err := cons.Messages(append(opts, heartbeat)...)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, it.Stop)
	return func(yield func(Record) bool) {
		defer stop()
		defer l.deleteConsumer(cons)
		defer it.Stop()
		for {
			msg, err := it.Next()
			if err != nil {
				if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				// Missed heartbeats while the consumer recreates itself.
				select {
				case <-ctx.Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
				continue
			}
			meta, err := msg.Metadata()
			if err != nil {
				continue
			}
			if !yield(Record{Seq: meta.Sequence.Stream, Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data()}) {
				return
			}
		}
	}, nil
}
