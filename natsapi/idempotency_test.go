package natsapi_test

import (
	"fmt"
	"sync"
	"testing"

	"arbor/internal/arbortest"
)

// TestIdempotencyKeyOverNATS: the same key sent to two instances at once,
// many times, makes one event; each answer names it; a different request
// with the key is 422.
func TestIdempotencyKeyOverNATS(t *testing.T) {
	stacks, nc := startInstances(t, 2, nil)
	for i := range 5 {
		before := lastSeq(t, stacks[0])
		key := fmt.Sprint("nats-key-", i)
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			ids     = map[string]int{}
			replays int
		)
		for range 8 {
			wg.Go(func() {
				var d doc
				r := ok(t, nc, "create", `{"data":{"n":1}}`, &d, "Idempotency-Key", key)
				mu.Lock()
				defer mu.Unlock()
				ids[d.ID]++
				if r.Header.Get("Idempotent-Replayed") == "true" {
					replays++
				}
			})
		}
		wg.Wait()
		if len(ids) != 1 || replays != 7 {
			t.Fatalf("key %s: answers name %v, %d replayed; want one artifact, 7 replays", key, ids, replays)
		}
		last := arbortest.WaitAll(t, stacks...)
		// One creation and its key's record.
		if last != before+2 {
			t.Fatalf("key %s: the log moved from %d to %d, want 2 messages", key, before, last)
		}
		if r := call(t, nc, "create", `{"data":{"n":2}}`, "Idempotency-Key", key); r.Status != 422 {
			t.Fatalf("key %s with another body: status %d, want 422: %s", key, r.Status, r.Body)
		}
	}
}
