// Package arbortest assembles arbor's core (log, projection, runner,
// command handler) on a real embedded JetStream for tests.
package arbortest

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/blobstore"
	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/natstest"
	"arbor/projection"
)

// Stack is one arbor instance's core.
type Stack struct {
	Server     *server.Server
	Conn       *nats.Conn
	JS         jetstream.JetStream
	Log        *events.Log
	Projection *projection.Projection
	Handler    *command.Handler
	KV         *projection.KVView
	Blobs      *blobstore.Store
}

// New starts a JetStream server and an instance on it with the given
// hierarchies (none: one "default" hierarchy without labels).
func New(t testing.TB, hs ...hierarchy.Hierarchy) *Stack {
	t.Helper()
	return Join(t, natstest.Server(t), hs...)
}

// Join starts another instance, with its own connection and projection, on
// the server of an existing one.
func Join(t testing.TB, s *server.Server, hs ...hierarchy.Hierarchy) *Stack {
	t.Helper()
	set, err := hierarchy.NewSet(hs...)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	log, err := events.OpenLog(t.Context(), js, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := blobstore.Open(t.Context(), js, "ARTIFACTS_CONTENT", 1)
	if err != nil {
		t.Fatal(err)
	}
	st := &Stack{Server: s, Conn: nc, JS: js, Log: log, Projection: projection.New(), Blobs: blobs}
	st.Handler = &command.Handler{
		Log: log, Projection: st.Projection, Hierarchies: set,
		NewID: ulid.Make, Now: time.Now,
		MaxData: int(nc.MaxPayload()) - 8<<10, Blobs: blobs, Timeout: 30 * time.Second,
	}
	st.KV = &projection.KVView{JS: js, Log: log, Projection: st.Projection, Logger: slog.New(slog.DiscardHandler)}
	runner := &projection.Runner{Log: log, Projection: st.Projection, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- runner.Run(ctx) }()
	go func() { done <- st.KV.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("runner: %v", err)
			}
		}
	})
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	if err := st.Projection.WaitReady(wctx); err != nil {
		t.Fatalf("projection not ready: %v", err)
	}
	return st
}

// WaitAll waits until every stack's projection has applied the whole log
// as it is now, and returns that position.
func WaitAll(t testing.TB, stacks ...*Stack) uint64 {
	t.Helper()
	last, err := stacks[0].Log.LastSeq(t.Context())
	if err != nil {
		t.Fatalf("LastSeq: %v", err)
	}
	for _, st := range stacks {
		if err := st.Projection.WaitFor(t.Context(), last); err != nil {
			t.Fatal(err)
		}
	}
	return last
}

// Report fails the test with the first violations in bad, if any.
func Report(t testing.TB, what string, bad []string) {
	t.Helper()
	if len(bad) == 0 {
		return
	}
	t.Errorf("%s: %d violations, want 0", what, len(bad))
	for _, b := range bad[:min(len(bad), 10)] {
		t.Errorf("  %s", b)
	}
}
