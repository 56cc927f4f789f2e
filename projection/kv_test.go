package projection

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// startKV runs a KVView of p on w's log until the test ends.
func startKV(t *testing.T, w *writer, p *Projection, bucket string) *KVView {
	t.Helper()
	v := &KVView{JS: w.js, Log: w.log, Projection: p, Bucket: bucket, Logger: discard}
	start(t, "kv view", v.Run)
	return v
}

// waitLag waits until the bucket reflects every event in w's log: a wait
// on the view's position, polled because the consumer has no notification.
// Lag alone is not enough: right after the view creates its consumer, Lag
// can be 0 before anything was delivered (the server reports NumPending 0
// at first), so the wait also needs the consumer's ack floor to reach the
// log's last position.
func waitLag(t *testing.T, w *writer, v *KVView) {
	t.Helper()
	ctx := deadline(t)
	last, err := w.log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		var floor uint64
		lag, err := v.Lag(ctx)
		if err == nil {
			floor, err = ackFloor(ctx, v)
		}
		if err == nil && lag == 0 && floor >= last {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Lag = %d, ack floor %d (%v), want 0 and %d", lag, floor, err, last)
		case <-tick.C:
		}
	}
}

// ackFloor is the last stream position the view's consumer has seen
// acknowledged with every position before it.
func ackFloor(ctx context.Context, v *KVView) (uint64, error) {
	c, err := v.JS.Consumer(ctx, v.Log.Stream(), v.durable())
	if err != nil {
		return 0, err
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.AckFloor.Stream, nil
}

// checkBucket compares the bucket with the live artifacts of p: the same
// keys, each holding the artifact's full Doc.
func checkBucket(t *testing.T, w *writer, bucket string, p *Projection) {
	t.Helper()
	ctx := deadline(t)
	kv, err := w.js.KeyValue(ctx, bucket)
	if err != nil {
		t.Fatalf("open bucket %s: %v", bucket, err)
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var live []Artifact
	p.Read(func(s *State) { live = s.Page(0, s.Total()) })
	want := []string{}
	for _, a := range live {
		want = append(want, a.ID.String())
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("bucket keys = %v, want the live artifacts %v", keys, want)
	}
	for _, a := range live {
		e, err := kv.Get(ctx, a.ID.String())
		if err != nil {
			t.Fatalf("get %s: %v", a.ID, err)
		}
		doc, err := json.Marshal(a.Doc(true))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(e.Value(), doc) {
			t.Fatalf("bucket %s =\n%s\nwant\n%s", a.ID, e.Value(), doc)
		}
	}
}

func TestKVView(t *testing.T) {
	w := newWriter(t)
	// Some history before the view starts.
	w.append(created(root, none, 0, `{"a":1}`, "r"))
	w.append(created(child, root, 1, `{"content":"big","b":1}`))
	w.append(created(child2, root, 1, `{}`))
	w.append(deleted(child2))

	p := New(w.log.Layout())
	run(t, w.log, p)
	v := startKV(t, w, p, "")
	waitLag(t, w, v)
	checkBucket(t, w, "ARTIFACTS_STATE", p)

	// More once it runs: creations, updates, deletions, and events the
	// fold ignores.
	w.append(created(root2, none, 0, `{"r":2}`))
	w.append(updated(child, `{"content":"bigger","b":2}`, "x", "y"))
	w.append(created(child3, root2, 1, `{"c":3}`))
	w.append(updated(root2, `{"r":3}`))
	w.append(deleted(child3))
	w.append(updated(child3, `{"gone":true}`)) // deleted: ignored
	w.append(deleted(root))                    // has a child: ignored, and seals root
	w.append(updated(unknown, `{}`))           // never created: ignored
	last := w.append(created(id(20), child, 2, `{}`))
	waitLag(t, w, v)
	if got := p.Applied(); got < last {
		t.Fatalf("projection at %d once the view has no lag, want at least %d", got, last)
	}
	checkBucket(t, w, "ARTIFACTS_STATE", p)

	kv, err := w.js.KeyValue(t.Context(), "ARTIFACTS_STATE")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []ulid.ULID{child2, child3, unknown} {
		if e, err := kv.Get(t.Context(), id.String()); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("get %s = %v, %v; want ErrKeyNotFound", id, e, err)
		}
	}
	e, err := kv.Get(t.Context(), child.String())
	if err != nil {
		t.Fatal(err)
	}
	var d Doc
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Version != 2 || string(d.Data) != `{"content":"bigger","b":2}` || d.ParentID == nil || *d.ParentID != root.String() {
		t.Fatalf("bucket %s = %s, want version 2, full data and parent %s", child, e.Value(), root)
	}
}

// Two instances, each with its own projection and view, write one bucket
// through one durable consumer and still converge to the fold of the log.
func TestKVViewTwoWriters(t *testing.T) {
	w := newWriter(t)
	const bucket = "STATE_TWO"
	p1, p2 := New(w.log.Layout()), New(w.log.Layout())
	run(t, w.log, p1)
	run(t, w.log, p2)
	v1 := startKV(t, w, p1, bucket)
	startKV(t, w, p2, bucket)

	var made []ulid.ULID
	for i := range uint64(10) {
		r := id(200 + i)
		w.append(created(r, none, 0, `{"i":0}`))
		c := id(300 + i)
		w.append(created(c, r, 1, `{"content":"x"}`, "c"))
		made = append(made, r, c)
	}
	for i, id := range made {
		switch i % 5 {
		case 0, 3:
			w.append(updated(id, `{"v":2}`, "u"))
		case 1:
			w.append(deleted(id))
		}
	}
	last := w.append(updated(made[0], `{"v":3}`))
	waitLag(t, w, v1)
	waitFor(t, p1, last)
	waitFor(t, p2, last)
	checkBucket(t, w, bucket, p1)
	checkBucket(t, w, bucket, p2)

	var total int
	p1.Read(func(s *State) { total = s.Total() })
	if total != 18 {
		t.Fatalf("Total = %d, want 18", total)
	}
}

// More events than one fetch takes (batches close full, and then again as
// the view writes) still all reach the bucket.
func TestKVViewAcrossManyBatches(t *testing.T) {
	w := newWriter(t)
	p := New(w.log.Layout())
	run(t, w.log, p)
	v := startKV(t, w, p, "")
	for i := range 3*kvBatch + 7 {
		w.append(created(ulid.Make(), none, 0, `{"i":`+strconv.Itoa(i)+`}`))
	}
	waitLag(t, w, v)
	checkBucket(t, w, "ARTIFACTS_STATE", p)
}
