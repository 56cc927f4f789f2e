package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"arbor/internal/natstest"

	"github.com/nats-io/nats.go/jetstream"
)

// TestKVWriterConsumerDeleted: the consumer that writes the KV bucket,
// deleted by hand under a running arbor, is made again, and the bucket
// goes on following the log.
func TestKVWriterConsumerDeleted(t *testing.T) {
	in := openTestMain(t, testMainConfig(t.TempDir()))
	in.c.waitHealthy(10 * time.Second)
	var a, b testDoc
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 1}}, &a)
	waitKV(t, in, a.ID)

	js, _ := jetstream.New(in.m.Conn())
	if err := js.DeleteConsumer(t.Context(), "ARTIFACTS", in.m.KVView().Durable()); err != nil {
		t.Fatal(err)
	}
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 2}}, &b)
	waitKV(t, in, b.ID)
	if _, err := js.Consumer(t.Context(), "ARTIFACTS", in.m.KVView().Durable()); err != nil {
		t.Fatalf("the KV writer's consumer was not made again: %v", err)
	}
}

// TestStreamDeleted: the event stream deleted under a running arbor cannot
// be made again safely (ids used once rest on it), so /health says
// unhealthy and writes answer 503 at once, naming the stream.
func TestStreamDeleted(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.WriteTimeout = 30 * time.Second
	in := openTestMain(t, cfg)
	in.c.waitHealthy(10 * time.Second)
	var a testDoc
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 1}}, &a)

	js, _ := jetstream.New(in.m.Conn())
	if err := js.DeleteStream(t.Context(), "ARTIFACTS"); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(t.Context(), 20*time.Second, func() bool {
		status, _ := in.c.health(t.Context())
		return status == http.StatusServiceUnavailable
	}) {
		status, body := in.c.health(t.Context())
		t.Fatalf("/health %d %s with the stream deleted", status, body)
	}
	if r := in.c.do(http.MethodGet, "/health", nil, nil); !strings.Contains(string(r.body), "ARTIFACTS") {
		t.Errorf("/health does not name the stream: %s", r.body)
	}
	start := time.Now()
	r := in.c.do(http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 2}}, nil)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "ARTIFACTS") {
		t.Fatalf("create with the stream deleted: %s", r)
	}
	// Not held for the write timeout: the answer is known at once.
	if took := time.Since(start); took >= cfg.WriteTimeout {
		t.Fatalf("create held %v, the whole write timeout", took)
	}
	r = in.c.do(http.MethodPut, testAPI+"/"+a.ID, map[string]any{"data": map[string]any{"n": 3}}, nil)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("update with the stream deleted: %s", r)
	}
}

// TestSlowFeedsHurtOnlyThemselves: live feeds whose clients never read
// cost arbor a bounded amount, on a NATS connection of their own: writes
// and /health go on; feeds past --max-feeds are refused with 503; a feed
// left unread for --response-timeout is closed, which makes room again.
func TestSlowFeedsHurtOnlyThemselves(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.MaxFeeds = 6
	cfg.ResponseTimeout = time.Second
	in := openTestMain(t, cfg)
	in.c.waitHealthy(10 * time.Second)
	big := strings.Repeat("x", 64<<10) // 13 MB of events: more than the sockets buffer
	for i := range 200 {
		in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"i": i, "pad": big}}, nil)
	}
	subs := in.m.Conn().NumSubscriptions()

	// Clients that ask for the whole history and never read a byte.
	var stuck []net.Conn
	for range cfg.MaxFeeds {
		c, err := net.Dial("tcp", in.m.HTTPAddr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.(*net.TCPConn).SetReadBuffer(4 << 10)
		if _, err := io.WriteString(c, "GET "+testAPI+"/$events?since=0 HTTP/1.1\r\nHost: arbor\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		stuck = append(stuck, c)
	}
	if !pollUntil(t.Context(), 10*time.Second, func() bool { return in.m.api.Feeds() == cfg.MaxFeeds }) {
		t.Fatalf("%d feeds open, want %d", in.m.api.Feeds(), cfg.MaxFeeds)
	}
	if n := in.m.Conn().NumSubscriptions(); n != subs {
		t.Errorf("the feeds subscribe on arbor's own connection: %d subscriptions, was %d", n, subs)
	}
	r := in.c.do(http.MethodGet, testAPI+"/$events?since=0", nil, nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("a feed past --max-feeds: %s", r)
	}
	for i := range 20 {
		in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"while_stuck": i}}, nil)
	}
	if status, _ := in.c.health(t.Context()); status != http.StatusOK {
		t.Fatalf("/health %d with stuck feeds", status)
	}
	// Unread for --response-timeout, the stuck feeds are closed.
	if !pollUntil(t.Context(), 30*time.Second, func() bool { return in.m.api.Feeds() == 0 }) {
		t.Fatalf("%d stuck feeds still open", in.m.api.Feeds())
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, in.c.base+testAPI+"/$events?since=0", nil)
	resp, err := in.c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a feed once the stuck ones are closed: %d", resp.StatusCode)
	}
}

// TestNATSAway: with its NATS server gone, arbor answers writes with 503
// within --write-timeout, serves reads from its projection, says unhealthy,
// and goes on once the server is back, with nothing lost.
func TestNATSAway(t *testing.T) {
	store, addr := t.TempDir(), freePort(t)
	ns := natstest.ServerAt(t, store, addr)
	cfg := testMainConfig("")
	cfg.NATSURL, cfg.SnapshotEvery = ns.ClientURL(), 0
	cfg.WriteTimeout = 3 * time.Second
	in := openTestMain(t, cfg)
	in.c.waitHealthy(10 * time.Second)
	var a testDoc
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 1}}, &a)

	ns.Shutdown()
	ns.WaitForShutdown()
	start := time.Now()
	r := in.c.do(http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 2}}, nil)
	took := time.Since(start)
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("create with NATS away: %s", r)
	}
	if bound := cfg.WriteTimeout + 2*time.Second; took > bound {
		t.Errorf("create with NATS away held %v, past --write-timeout %v", took, cfg.WriteTimeout)
	}
	in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+a.ID, nil, nil)
	if status, _ := in.c.health(t.Context()); status != http.StatusServiceUnavailable {
		t.Errorf("/health %d with NATS away", status)
	}

	natstest.ServerAt(t, store, addr)
	in.c.waitHealthy(20 * time.Second)
	var b testDoc
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 3}}, &b)
	in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+a.ID, nil, nil)
	if n := len(in.c.listAll()); n != 2 {
		t.Fatalf("%d artifacts after the outage, want 2 (the one refused is not there)", n)
	}
}

// TestDiskFull: below --min-free-disk, writes that add data answer 507 at
// once and change nothing, deletions still work, /health says unhealthy;
// once there is room again arbor goes on by itself.
func TestDiskFull(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.MinFreeDisk = 100 << 20
	var free atomic.Uint64
	free.Store(1 << 40)
	errs := &errorRecorder{}
	m := &Main{Config: cfg, Logger: slog.New(errs), freeDisk: func(string) (uint64, error) { return free.Load(), nil }}
	if err := m.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	c := newTestClient(t, m.BaseURL())
	c.waitHealthy(10 * time.Second)
	var root, leaf testDoc
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 1}}, &root)
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": root.ID, "data": map[string]any{"n": 2}}, &leaf)

	free.Store(10 << 20)
	made := 1 // the root; the leaf is deleted below
	full := func() bool {
		r := c.do(http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 3}}, nil)
		if r.status == http.StatusCreated { // the disk was looked at before it filled
			made++
		}
		return r.status == http.StatusInsufficientStorage && strings.Contains(string(r.body), "urn:arbor:error:storage-full")
	}
	if !pollUntil(t.Context(), 10*time.Second, full) {
		t.Fatal("creates were not refused with 507 on a full disk")
	}
	if r := c.do(http.MethodPut, testAPI+"/"+root.ID+"/$content", []byte("bytes"), nil); r.status != http.StatusInsufficientStorage {
		t.Errorf("upload on a full disk: %s", r)
	}
	r := c.do(http.MethodGet, "/health", nil, nil)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "min-free-disk") {
		t.Errorf("/health on a full disk: %s", r)
	}
	c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+leaf.ID, nil, nil)

	free.Store(1 << 40)
	if !pollUntil(t.Context(), 10*time.Second, func() bool {
		return c.do(http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 4}}, nil).status == http.StatusCreated
	}) {
		t.Fatal("creates did not go on once there was room")
	}
	c.waitHealthy(10 * time.Second)
	if n := len(c.listAll()); n != made+1 {
		t.Fatalf("%d artifacts, want %d: the refused creates are not there", n, made+1)
	}
}

// TestJetStreamFull: with the server's storage limit (--max-store) reached,
// writes answer 507 at once and /health says unhealthy; once JetStream has
// room again, /health is healthy and writes go on.
func TestJetStreamFull(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.MaxStore = 2 << 20
	in := openTestMain(t, cfg)
	in.c.waitHealthy(10 * time.Second)

	// Something else on the server takes most of the room.
	js, _ := jetstream.New(in.m.Conn())
	filler, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "FILLER", Subjects: []string{"filler.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for range 16 {
		if _, err := js.Publish(t.Context(), "filler.x", make([]byte, 100<<10)); err != nil {
			break
		}
	}
	pad := strings.Repeat("x", 100<<10)
	refused := false
	for i := 0; i < 40 && !refused; i++ {
		r := in.c.do(http.MethodPost, testAPI, map[string]any{"data": map[string]any{"pad": pad}}, nil)
		switch r.status {
		case http.StatusCreated:
		case http.StatusInsufficientStorage:
			refused = true
		default:
			t.Fatalf("create as the store fills: %s", r)
		}
	}
	if !refused {
		t.Fatal("no create was refused with 507 past --max-store")
	}
	if status, _ := in.c.health(t.Context()); status != http.StatusServiceUnavailable {
		t.Errorf("/health %d with JetStream full", status)
	}
	if r := in.c.do(http.MethodPost, testAPI, map[string]any{"data": map[string]any{"small": 1}}, nil); r.status != http.StatusInsufficientStorage {
		t.Errorf("a small create with JetStream full: %s", r)
	}
	items := in.c.listAll()
	if r := in.c.do(http.MethodPut, testAPI+"/"+items[0].ID+"/$content", []byte(strings.Repeat("y", 600<<10)), nil); r.status != http.StatusInsufficientStorage {
		t.Errorf("an upload with JetStream full: %s", r)
	}
	if err := filler.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	in.c.waitHealthy(10 * time.Second)
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"after": true}}, nil)
}

// TestSlowDownloadHoldsFewChunks: a client that reads a large download
// slowly (here: not at all) makes arbor fetch only a few chunks ahead of
// it from NATS, not the whole file into memory.
func TestSlowDownloadHoldsFewChunks(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.MaxContent = 64 << 20
	cfg.MaxBody = 64 << 20
	in := openTestMain(t, cfg)
	in.c.waitHealthy(10 * time.Second)
	var a testDoc
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{}}, &a)
	const size = 48 << 20
	in.c.must(http.StatusOK, http.MethodPut, testAPI+"/"+a.ID+"/$content", bytes.Repeat([]byte("0123456789abcdef"), size/16), nil)

	before := in.m.Conn().Stats().InBytes
	c, err := net.Dial("tcp", in.m.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := io.WriteString(c, "GET "+testAPI+"/"+a.ID+"/$download HTTP/1.1\r\nHost: arbor\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Wait until arbor stops fetching: what it took from NATS no longer
	// moves across three looks, a quarter of a second apart.
	var pulled uint64
	for still := 0; still < 3; {
		select {
		case <-t.Context().Done():
			t.Fatalf("arbor never stopped fetching: %d bytes so far", pulled)
		case <-time.After(250 * time.Millisecond):
		}
		now := in.m.Conn().Stats().InBytes - before
		if now > 0 && now == pulled {
			still++
		} else {
			still = 0
		}
		pulled = now
	}
	// The sockets hold at most 4 MiB (Linux's tcp_wmem) and arbor 1 MiB of
	// chunks; the rest must stay in NATS (the object store's own reader
	// took some 11 MiB here).
	if pulled > 8<<20 {
		t.Fatalf("a download nobody reads took %d MiB of its %d MiB from NATS", pulled>>20, size>>20)
	}
	t.Logf("a download nobody reads took %.1f MiB of its %d MiB from NATS", float64(pulled)/(1<<20), size>>20)
}
