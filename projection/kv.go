package projection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/events"
)

// KVView keeps a JetStream KV bucket holding every live artifact's current
// JSON (as Doc, with full data) under its id, for readers that speak NATS but
// not HTTP. arbor never reads its own answers from it.
//
// The bucket is written from a durable consumer on the log that hands out
// one event at a time (MaxAckPending 1), so however many instances run a
// KVView, one writes at a time and the writes follow stream order. For each
// event it writes its artifact's state as the local projection has it once
// that event is applied: the state then, or a later one, so the bucket
// converges to the fold of the log, and a redelivered event writes nothing
// wrong.
type KVView struct {
	JS         jetstream.JetStream
	Log        *events.Log
	Projection *Projection
	Bucket     string // default "ARTIFACTS_STATE"
	Replicas   int    // default 1
	Logger     *slog.Logger
}

func (v *KVView) bucket() string {
	if v.Bucket == "" {
		return "ARTIFACTS_STATE"
	}
	return v.Bucket
}

func (v *KVView) durable() string { return v.bucket() + "_writer" }

// Open creates (or updates) the bucket and the durable consumer.
func (v *KVView) Open(ctx context.Context) (jetstream.KeyValue, jetstream.Consumer, error) {
	kv, err := v.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      v.bucket(),
		Description: "arbor: the current state of every live artifact",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    max(1, v.Replicas),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open bucket %s: %w", v.bucket(), err)
	}
	cons, err := v.JS.CreateOrUpdateConsumer(ctx, v.Log.Stream(), jetstream.ConsumerConfig{
		Durable:       v.durable(),
		Description:   "arbor: writes the " + v.bucket() + " bucket",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxAckPending: 1,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open consumer %s: %w", v.durable(), err)
	}
	return kv, cons, nil
}

// Run writes the bucket until ctx is done, and returns ctx's error or an
// error opening the bucket.
func (v *KVView) Run(ctx context.Context) error {
	kv, cons, err := v.Open(ctx)
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consume %s: %w", v.durable(), err)
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			continue
		}
		if err := v.write(ctx, kv, msg); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			v.Logger.Warn("kv view write failed", "err", err)
			_ = msg.NakWithDelay(time.Second)
			continue
		}
		_ = msg.Ack()
	}
}

func (v *KVView) write(ctx context.Context, kv jetstream.KeyValue, msg jetstream.Msg) error {
	meta, err := msg.Metadata()
	if err != nil {
		return err
	}
	id, err := ulid.ParseStrict(msg.Headers().Get(events.HeaderSubject))
	if err != nil {
		return nil // not an artifact's event: nothing to show
	}
	if err := v.Projection.WaitFor(ctx, meta.Sequence.Stream); err != nil {
		return err
	}
	var (
		doc  []byte
		live bool
	)
	v.Projection.Read(func(s *State) {
		a, ok := s.Get(id)
		if live = ok && a.Live; live {
			doc, err = json.Marshal(a.Doc(true))
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

// Lag is the number of events the bucket has yet to reflect.
func (v *KVView) Lag(ctx context.Context) (uint64, error) {
	cons, err := v.JS.Consumer(ctx, v.Log.Stream(), v.durable())
	if err != nil {
		return 0, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending + uint64(info.NumAckPending), nil
}
