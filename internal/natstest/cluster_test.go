package natstest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterSurvivesLeaderKill checks what the cluster harness is for: an
// R3 stream keeps every acknowledged write when its leader dies, another
// server takes over, and the dead server rejoins after a restart.
func TestClusterSurvivesLeaderKill(t *testing.T) {
	c := StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	_, js := c.Connect(t, 0)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     "ORDERS",
		Subjects: []string{"orders.>"},
		Storage:  jetstream.FileStorage,
		Replicas: 3,
	}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	old := c.StreamLeader(t, "ORDERS")
	// Publish through the leader itself so the client has to fail over too.
	_, js = c.Connect(t, old)

	acked := map[uint64][]byte{} // stream sequence -> payload
	// publish retries one message until it is acknowledged. The message ID
	// makes a retry of a write that did land a duplicate, which the stream
	// acknowledges with the first sequence rather than storing again.
	publish := func(n int, within time.Duration) {
		t.Helper()
		payload := fmt.Appendf(nil, "order %d", n)
		deadline := time.Now().Add(within)
		for {
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
			ack, err := js.Publish(pctx, fmt.Sprintf("orders.%d", n), payload, jetstream.WithMsgID(fmt.Sprint(n)))
			pcancel()
			if err == nil {
				if prev, ok := acked[ack.Sequence]; ok && !bytes.Equal(prev, payload) {
					t.Fatalf("seq %d acked for %q and %q", ack.Sequence, prev, payload)
				}
				acked[ack.Sequence] = payload
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("publish %d: not acknowledged within %v: %v", n, within, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for n := range 100 {
		publish(n, 5*time.Second)
	}

	killed := time.Now()
	c.Kill(old)
	// The first publish after the kill waits out the failover.
	for n := 100; n < 150; n++ {
		publish(n, 15*time.Second)
	}
	t.Logf("writes resumed %v after killing stream leader n%d", time.Since(killed).Round(time.Millisecond), old)

	if got := c.StreamLeader(t, "ORDERS"); got == old {
		t.Fatalf("stream leader = n%d after killing it, want another server", got)
	}
	if len(acked) != 150 {
		t.Fatalf("%d distinct sequences acked, want 150", len(acked))
	}
	stream, err := js.Stream(ctx, "ORDERS")
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	for seq, want := range acked {
		msg, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get seq %d: %v", seq, err)
		}
		if !bytes.Equal(msg.Data, want) {
			t.Fatalf("seq %d = %q, want %q", seq, msg.Data, want)
		}
	}

	c.Restart(t, old)
	// The leader reports each replica; the restarted one must be back
	// among them and caught up with the writes it missed.
	name := c.Server(old).Name()
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := stream.Info(ctx)
		if err == nil && rejoined(info, name) {
			break
		}
		if time.Now().After(deadline) {
			if err == nil {
				t.Fatalf("restarted %s not a current replica: leader %q, replicas %s", name, info.Cluster.Leader, replicas(info))
			}
			t.Fatalf("stream info after restart: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rejoined reports whether the stream has a leader and two current replicas,
// one of which is server name.
func rejoined(info *jetstream.StreamInfo, name string) bool {
	if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
		return false
	}
	found := info.Cluster.Leader == name
	for _, r := range info.Cluster.Replicas {
		if !r.Current || r.Offline {
			return false
		}
		found = found || r.Name == name
	}
	return found
}

func replicas(info *jetstream.StreamInfo) string {
	if info.Cluster == nil {
		return "none"
	}
	var s string
	for _, r := range info.Cluster.Replicas {
		s += fmt.Sprintf(" %s(current=%t offline=%t lag=%d)", r.Name, r.Current, r.Offline, r.Lag)
	}
	return s
}
