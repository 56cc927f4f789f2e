package natsapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"arbor/internal/natstest"
	"arbor/natsapi"
	"arbor/projection"
	"arbor/query"
)

// Requests still queued when Stop is called are answered "shutting down",
// not worked on: once Stop returns, nothing the service does is left.
func TestStopWaitsForRequestsInFlight(t *testing.T) {
	s := natstest.Server(t)
	nc, _ := natstest.Connect(t, s)
	proj := projection.New() // never ready: every request it works on waits Wait
	svc := &natsapi.Service{Projection: proj, Queries: &query.Service{Projection: proj, Hierarchies: hierarchies(t)},
		Wait: 200 * time.Millisecond, Timeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler), Version: "0.0.1"}
	if err := svc.Start(nc); err != nil {
		t.Fatal(err)
	}
	cl, _ := natstest.Connect(t, s)
	const requests = 400
	// The subscription sees replies in the order the server routed them;
	// a marker sent once Stop has returned (and every reply published
	// before that has been routed) splits them in two.
	var stopped atomic.Bool
	var replies, worked atomic.Int32
	_, err := cl.Subscribe("reply.>", func(m *nats.Msg) {
		if m.Subject == "reply.marker" {
			stopped.Store(true)
			return
		}
		replies.Add(1)
		var p struct{ Detail string }
		_ = json.Unmarshal(m.Data, &p)
		if stopped.Load() && !strings.Contains(p.Detail, "shutting down") {
			worked.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range requests {
		if err := cl.PublishRequest("arbor-api.get", "reply."+string(rune('a'+i%26)), []byte(`{"id":"01JD0000000000000000000001"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := svc.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil { // every reply published so far is routed
		t.Fatal(err)
	}
	if err := cl.Publish("reply.marker", nil); err != nil {
		t.Fatal(err)
	}
	// Every request is answered, one way or the other.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for replies.Load() < requests && ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	if got := replies.Load(); got != requests {
		t.Fatalf("%d of %d requests answered", got, requests)
	}
	if n := worked.Load(); n > 0 {
		t.Errorf("%d requests were worked on after Stop returned", n)
	}
}
