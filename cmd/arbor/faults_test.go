package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

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
