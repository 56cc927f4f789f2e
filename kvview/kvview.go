package kvview

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/api"
	"arbor/events"
	"arbor/internal/jsopen"
	"arbor/projection"
)

// View keeps a JetStream KV bucket holding every live artifact's current
// JSON (api.Full) under its id, for readers that speak NATS but
// not HTTP. arbor never reads its own answers from it.
//
// The bucket is written from a durable consumer on the log whose priority
// group pins it to one client at a time, so however many instances run a
// KVView, one writes and its writes follow stream order. It takes events in
// batches: for each artifact a batch touches it writes the state the local
// projection has once the batch's last event is applied, which is that
// state or a later one. So the bucket converges to the fold of the log, and
// a redelivered batch writes nothing wrong. All fields but Bucket and
// Replicas are required.
type View struct {
	JS         jetstream.JetStream
	Log        *events.Log
	Projection *projection.Projection
	Bucket     string // default DefaultBucket
	Replicas   int    // default 1
	Logger     *slog.Logger
}

// DefaultBucket is the bucket a View writes when Bucket is empty.
const DefaultBucket = "ARTIFACTS_STATE"

const (
	kvBatch = 256
	kvGroup = "writer"
)

func (v *View) bucket() string {
	if v.Bucket == "" {
		return DefaultBucket
	}
	return v.Bucket
}

// Durable is the name of the durable consumer that writes the bucket.
func (v *View) Durable() string { return v.bucket() + "_writer" }

// Open opens the bucket and the durable consumer, creating what does not
// exist yet.
func (v *View) Open(ctx context.Context) (jetstream.KeyValue, jetstream.Consumer, error) {
	kv, err := jsopen.GetOrCreate(
		func() (jetstream.KeyValue, error) { return v.JS.KeyValue(ctx, v.bucket()) },
		func() (jetstream.KeyValue, error) {
			return v.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket:      v.bucket(),
				Description: "arbor: the current state of every live artifact",
				History:     1,
				Storage:     jetstream.FileStorage,
				Replicas:    max(1, v.Replicas),
			})
		}, jetstream.ErrBucketNotFound)
	if err != nil {
		return nil, nil, fmt.Errorf("open bucket %s: %w", v.bucket(), err)
	}
	cons, err := jsopen.GetOrCreate(
		func() (jetstream.Consumer, error) { return v.JS.Consumer(ctx, v.Log.Stream(), v.Durable()) },
		func() (jetstream.Consumer, error) {
			return v.JS.CreateConsumer(ctx, v.Log.Stream(), jetstream.ConsumerConfig{
				Durable:        v.Durable(),
				Description:    "arbor: writes the " + v.bucket() + " bucket",
				DeliverPolicy:  jetstream.DeliverAllPolicy,
				AckPolicy:      jetstream.AckAllPolicy,
				AckWait:        30 * time.Second,
				MaxAckPending:  kvBatch,
				PriorityGroups: []string{kvGroup},
				PriorityPolicy: jetstream.PriorityPolicyPinned,
				PinnedTTL:      10 * time.Second,
			})
		}, jetstream.ErrConsumerNotFound)
	if err != nil {
		return nil, nil, fmt.Errorf("open consumer %s: %w", v.Durable(), err)
	}
	return kv, cons, nil
}

// Run writes the bucket until ctx is done, and returns ctx's error or an
// error opening the bucket.
func (v *View) Run(ctx context.Context) error {
	kv, cons, err := v.Open(ctx)
	if err != nil {
		return err
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(kvBatch, jetstream.FetchMaxWait(5*time.Second), jetstream.FetchPriorityGroup(kvGroup))
		if err != nil {
			// Another instance is pinned, or NATS is away: try again.
			if cons, err = v.reopen(ctx, cons, err); err != nil {
				return err
			}
			continue
		}
		// Write as messages arrive, a batch of whatever has arrived at a
		// time: little delay when idle, few writes under load. The channel
		// is buffered for the whole batch, so len says what is waiting.
		var pending []jetstream.Msg
		msgs := batch.Messages()
		for open := true; open; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case msg, ok := <-msgs:
				if open = ok; ok {
					pending = append(pending, msg)
					if len(msgs) > 0 {
						continue
					}
				}
				if err := v.flush(ctx, kv, pending); err != nil {
					return err
				}
				pending = nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			if cons, err = v.reopen(ctx, cons, err); err != nil {
				return err
			}
		}
	}
	return ctx.Err()
}

// reopen is what Run fetches from after a fetch failed with err: the
// consumer made again when it is gone (deleted by hand, say: it then
// writes the bucket again from the log's start, which converges to the
// same state), or else the same one, after a pause so that a failure that
// lasts never spins.
func (v *View) reopen(ctx context.Context, cons jetstream.Consumer, err error) (jetstream.Consumer, error) {
	sleep(ctx, time.Second)
	if _, cerr := v.JS.Consumer(ctx, v.Log.Stream(), v.Durable()); !errors.Is(cerr, jetstream.ErrConsumerNotFound) {
		return cons, ctx.Err()
	}
	v.Logger.Warn("kv view consumer gone: making it again", "consumer", v.Durable(), "err", err)
	_, again, err := v.Open(ctx)
	if err != nil {
		v.Logger.Warn("kv view consumer not made; trying again", "err", err)
		return cons, ctx.Err()
	}
	return again, nil
}

// flush writes the state of every artifact msgs touch and acknowledges
// them all. A write that fails is tried again (writes are idempotent) until
// it succeeds or ctx is done, so that acknowledging never skips an
// artifact; flush returns ctx's error then.
func (v *View) flush(ctx context.Context, kv jetstream.KeyValue, msgs []jetstream.Msg) error {
	if len(msgs) == 0 {
		return nil
	}
	last := msgs[len(msgs)-1]
	meta, err := last.Metadata()
	if err != nil {
		return nil // not a JetStream message: nothing to write or acknowledge
	}
	if err := v.Projection.WaitFor(ctx, meta.Sequence.Stream); err != nil {
		return err
	}
	seen := make(map[ulid.ULID]bool, len(msgs))
	for _, msg := range msgs {
		id, err := ulid.ParseStrict(msg.Headers().Get(events.HeaderSubject))
		if err != nil || seen[id] {
			continue // not an artifact's event, or written already
		}
		seen[id] = true
		for backoff := 100 * time.Millisecond; ; backoff = min(2*backoff, 5*time.Second) {
			err := v.write(ctx, kv, id)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			v.Logger.Warn("kv view write failed; trying again", "artifact", id, "err", err)
			sleep(ctx, backoff)
		}
	}
	_ = last.Ack()
	return nil
}

// write puts id's current state, or deletes its key when it is not live.
func (v *View) write(ctx context.Context, kv jetstream.KeyValue, id ulid.ULID) error {
	var (
		doc  []byte
		live bool
		err  error
	)
	v.Projection.Read(func(s *projection.State) {
		a, ok := s.Get(id)
		if live = ok && a.Live; live {
			doc, err = json.Marshal(api.Full(a))
		}
	})
	if err != nil {
		return err
	}
	if live {
		_, err = kv.Put(ctx, id.String(), doc)
	} else {
		err = kv.Delete(ctx, id.String())
	}
	if err != nil {
		return fmt.Errorf("kv %s %s: %w", v.bucket(), id, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// Lag is the number of events the bucket has yet to reflect: the log's
// last position less the last position the writer has acknowledged.
func (v *View) Lag(ctx context.Context) (uint64, error) {
	last, err := v.Log.LastSeq(ctx)
	if err != nil {
		return 0, err
	}
	cons, err := v.JS.Consumer(ctx, v.Log.Stream(), v.Durable())
	if err != nil {
		return 0, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	if info.AckFloor.Stream >= last {
		return 0, nil
	}
	return last - info.AckFloor.Stream, nil
}
