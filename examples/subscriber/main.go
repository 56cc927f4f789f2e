// Command subscriber prints each new prediction as arbor records it, by
// following arbor's event stream in NATS JetStream: no polling, no HTTP.
// It needs nothing but the standard library and nats.go: copy it.
//
//	go run ./examples/subscriber -nats nats://127.0.0.1:4222 -hierarchy ml_pipeline
//
// One line per prediction: "<seq> <artifact id> <data>". seq is the
// event's position in the stream: start again with -since <seq> to get
// everything after it, none missing and none twice.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	natsURL := flag.String("nats", "nats://127.0.0.1:4222", "the NATS server arbor's stream is on")
	hierarchy := flag.String("hierarchy", "ml_pipeline", "the hierarchy whose predictions to print")
	since := flag.Int64("since", -1, "print the predictions after this position first (0: all of them); -1: new ones only")
	nkey := flag.String("nkey", "arbor-data/credentials/reader.nk", "the nkey seed to sign in with (make run makes it); empty: none")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts, err := signIn(*nkey)
	if err != nil {
		fmt.Fprintln(os.Stderr, "subscriber:", err)
		os.Exit(1)
	}
	if err := run(ctx, *natsURL, os.Stdout, *hierarchy, *since, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "subscriber:", err)
		os.Exit(1)
	}
}

// created is the part of an artifact.created event this subscriber reads.
type created struct {
	ID       string          `json:"id"`
	ParentID string          `json:"parent_id"`
	Data     json.RawMessage `json:"data"`
}

// run prints a line for every prediction created in hierarchy: those after
// position since (if since >= 0), then each new one as it arrives, until
// ctx is done; then it returns nil.
func run(ctx context.Context, natsURL string, out io.Writer, hierarchy string, since int64, opts ...nats.Option) error {
	nc, err := nats.Connect(natsURL, append(opts, nats.Name("arbor example subscriber"), nats.MaxReconnects(-1))...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := js.Stream(ctx, "ARTIFACTS")
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return errors.New("no stream ARTIFACTS on this NATS server: start arbor first (make run)")
	}
	if err != nil {
		return fmt.Errorf("stream ARTIFACTS: %w", err)
	}

	// Creations are on arbor.<shard>.<hierarchy>.{root,kids}.<id>.<level label>:
	// one filter selects every new prediction of the hierarchy.
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"arbor.*." + hierarchy + ".*.*.predictions"},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}
	if since >= 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = uint64(since) + 1
	}
	// An ordered consumer delivers in stream order, and recreates itself
	// after a gap or a reconnect from where it was.
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("follow the predictions: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow the predictions: %w", err)
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()

	for {
		msg, err := it.Next()
		if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil
		}
		if err != nil {
			// Missed heartbeats while NATS is away: wait and go on.
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			continue
		}
		// The CloudEvents headers say what the event is without decoding
		// it: ce-subject is the artifact's id, ce-time when it was
		// recorded, ce-type artifact.created.
		id := msg.Headers().Get("ce-subject")
		if _, err := time.Parse(time.RFC3339Nano, msg.Headers().Get("ce-time")); err != nil {
			fmt.Fprintf(os.Stderr, "subscriber: event %d has no valid ce-time: %v\n", meta.Sequence.Stream, err)
		}
		var ev created
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			fmt.Fprintf(os.Stderr, "subscriber: event %d: %v\n", meta.Sequence.Stream, err)
			continue
		}
		var data bytes.Buffer
		if err := json.Compact(&data, ev.Data); err != nil {
			data.WriteString("null")
		}
		if _, err := fmt.Fprintf(out, "%d %s %s\n", meta.Sequence.Stream, id, data.Bytes()); err != nil {
			return err
		}
	}
}

// signIn is how to sign in with the nkey seed in file: arbor's embedded
// NATS server lets no one in without a key. Empty file: no key.
func signIn(file string) ([]nats.Option, error) {
	if file == "" {
		return nil, nil
	}
	opt, err := nats.NkeyOptionFromSeed(file)
	if err != nil {
		return nil, fmt.Errorf("-nkey %s: %w", file, err)
	}
	return []nats.Option{opt}, nil
}
