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
	"arbor/httpapi"
	"arbor/internal/natstest"
	"arbor/kvview"
	"arbor/natsapi"
	"arbor/projection"
	"arbor/query"
)

// Stack is one arbor instance's core.
type Stack struct {
	Server     *server.Server
	Conn       *nats.Conn
	JS         jetstream.JetStream
	Log        *events.Log
	Projection *projection.Projection
	Handler    *command.Handler
	KV         *kvview.View
	Blobs      *blobstore.Store
	Queries    *query.Service
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
	st := &Stack{Server: s, Conn: nc, JS: js, Log: log, Projection: projection.New(log.Layout()), Blobs: blobs}
	st.Handler = &command.Handler{
		Log: log, Projection: st.Projection, Hierarchies: set,
		NewID: ulid.Make, Now: time.Now,
		MaxData: int(nc.MaxPayload()) - 8<<10, Blobs: blobs, Timeout: 30 * time.Second,
	}
	st.Queries = &query.Service{Projection: st.Projection, Hierarchies: set, Blobs: blobs, Log: log}
	st.KV = &kvview.View{JS: js, Log: log, Projection: st.Projection, Logger: slog.New(slog.DiscardHandler)}
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

// ServeNATS starts the NATS request/reply service of st, carrying out
// commands with h (nil: st.Handler), until the test ends.
func (st *Stack) ServeNATS(t testing.TB, h *command.Handler) *natsapi.Service {
	t.Helper()
	if h == nil {
		h = st.Handler
	}
	svc := &natsapi.Service{
		Commands: h, Queries: st.Queries, Projection: st.Projection, Blobs: st.Blobs,
		Wait: 5 * time.Second, Timeout: 30 * time.Second, Version: "0.3.0",
		Logger: slog.New(slog.DiscardHandler),
	}
	if err := svc.Start(st.Conn); err != nil {
		t.Fatalf("start the NATS service: %v", err)
	}
	t.Cleanup(func() {
		if err := svc.Stop(context.Background()); err != nil {
			t.Errorf("stop the NATS service: %v", err)
		}
	})
	return svc
}

// API returns an HTTP API server over st, with limits fit for tests (1 MiB
// bodies, 16 MiB content) and a 5 s wait; callers change what they need
// before calling its Handler.
func (st *Stack) API() *httpapi.Server {
	return &httpapi.Server{
		Commands: st.Handler, Queries: st.Queries, Projection: st.Projection,
		Blobs: st.Blobs, Events: st.Log,
		MaxBody: 1 << 20, MaxContent: 16 << 20, Wait: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler),
	}
}
