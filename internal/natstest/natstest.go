// Package natstest starts a real embedded JetStream for tests.
package natstest

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"arbor/internal/natsserver"
)

// Server starts an in-process JetStream server in t.TempDir and shuts it
// down when the test ends.
func Server(t testing.TB) *server.Server {
	t.Helper()
	return ServerAt(t, t.TempDir(), "")
}

// ServerAt starts a JetStream server keeping its files in dir and, unless
// listen is empty, accepting NATS clients there ("127.0.0.1:0": a free
// port; s.ClientURL names it). It shuts down when the test ends.
func ServerAt(t testing.TB, dir, listen string) *server.Server {
	t.Helper()
	s, err := natsserver.Start(natsserver.Options{StoreDir: dir, Listen: listen})
	if err != nil {
		t.Fatalf("start nats: %v", err)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// Connect opens an in-process connection to s, closed when the test ends.
func Connect(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatalf("connect nats: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// JetStream starts a server and connects to it.
func JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	_, js := Connect(t, Server(t))
	return js
}
