package kvview_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/api"
	"arbor/command"
	"arbor/events"
	"arbor/internal/arbortest"
	"arbor/projection"
)

// waitCaughtUp waits until st's view has written every event in the log:
// its consumer has no lag and its ack floor is the log's last position
// (right after the consumer is made, Lag can be 0 before anything was
// delivered).
func waitCaughtUp(t *testing.T, st *arbortest.Stack) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	last, err := st.Log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		var floor uint64
		lag, err := st.KV.Lag(ctx)
		if err == nil {
			var c jetstream.Consumer
			if c, err = st.JS.Consumer(ctx, st.Log.Stream(), "ARTIFACTS_STATE_writer"); err == nil {
				var info *jetstream.ConsumerInfo
				if info, err = c.Info(ctx); err == nil {
					floor = info.AckFloor.Stream
				}
			}
		}
		if err == nil && lag == 0 && floor >= last {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Lag = %d, ack floor %d (%v), want 0 and %d", lag, floor, err, last)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// checkBucket compares the bucket with the live artifacts of st's
// projection: the same keys, each holding the artifact's full view.
func checkBucket(t *testing.T, st *arbortest.Stack) {
	t.Helper()
	kv, err := st.JS.KeyValue(t.Context(), "ARTIFACTS_STATE")
	if err != nil {
		t.Fatal(err)
	}
	lister, err := kv.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{}
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var live []projection.Artifact
	st.Projection.Read(func(s *projection.State) { live = s.Page(0, s.Total()) })
	want := []string{}
	for _, a := range live {
		want = append(want, a.ID.String())
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Fatalf("bucket keys = %v, want the live artifacts %v", keys, want)
	}
	for _, a := range live {
		e, err := kv.Get(t.Context(), a.ID.String())
		if err != nil {
			t.Fatalf("get %s: %v", a.ID, err)
		}
		doc, _ := json.Marshal(api.Full(a))
		if !bytes.Equal(e.Value(), doc) {
			t.Fatalf("bucket %s =\n%s\nwant\n%s", a.ID, e.Value(), doc)
		}
	}
}

func create(t *testing.T, st *arbortest.Stack, parent ulid.ULID, data string) projection.Artifact {
	t.Helper()
	a, _, err := st.Handler.Create(t.Context(), command.Create{Parent: parent, Data: json.RawMessage(data)})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func update(t *testing.T, st *arbortest.Stack, id ulid.ULID, data string, tags ...string) {
	t.Helper()
	if _, _, err := st.Handler.Update(t.Context(), command.Update{ID: id, Data: json.RawMessage(data), Tags: tags}); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, st *arbortest.Stack, id ulid.ULID) {
	t.Helper()
	if _, err := st.Handler.Delete(t.Context(), command.Delete{ID: id}); err != nil {
		t.Fatal(err)
	}
}

func TestView(t *testing.T) {
	st := arbortest.New(t)
	root := create(t, st, ulid.ULID{}, `{"a":1}`)
	child := create(t, st, root.ID, `{"content":"big","b":1}`)
	gone := create(t, st, root.ID, `{}`)
	remove(t, st, gone.ID)
	waitCaughtUp(t, st)
	checkBucket(t, st)

	root2 := create(t, st, ulid.ULID{}, `{"r":2}`)
	update(t, st, child.ID, `{"content":"bigger","b":2}`, "x", "y")
	child3 := create(t, st, root2.ID, `{"c":3}`)
	update(t, st, root2.ID, `{"r":3}`)
	remove(t, st, child3.ID)
	// An update of a deleted artifact on its own subject, as the server
	// takes it: the fold ignores it, and so does the bucket.
	var c3 projection.Artifact
	st.Projection.Read(func(s *projection.State) { c3, _ = s.Get(child3.ID) })
	art := st.Log.Layout().Art(c3.Place(), c3.ID)
	if _, err := st.Log.Append(t.Context(), events.Write{
		Env:     events.Envelope{ID: ulid.Make(), Time: time.Now(), Event: events.ArtifactUpdated{ID: c3.ID, Data: json.RawMessage(`{"gone":true}`)}},
		Subject: art, Expect: events.Expect{Subject: art, Last: c3.OwnSeq},
	}); err != nil {
		t.Fatal(err)
	}
	create(t, st, child.ID, `{}`)
	waitCaughtUp(t, st)
	checkBucket(t, st)

	kv, err := st.JS.KeyValue(t.Context(), "ARTIFACTS_STATE")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []ulid.ULID{gone.ID, child3.ID} {
		if e, err := kv.Get(t.Context(), id.String()); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Fatalf("get %s = %v, %v; want ErrKeyNotFound", id, e, err)
		}
	}
	e, err := kv.Get(t.Context(), child.ID.String())
	if err != nil {
		t.Fatal(err)
	}
	var d api.Artifact
	if err := json.Unmarshal(e.Value(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Version != 2 || string(d.Data) != `{"content":"bigger","b":2}` || d.ParentID == nil || *d.ParentID != root.ID.String() {
		t.Fatalf("bucket %s = %s, want version 2, full data and parent %s", child.ID, e.Value(), root.ID)
	}
}

// Two instances, each with its own projection and view, write one bucket
// through one durable consumer and still converge to the fold of the log.
func TestViewTwoWriters(t *testing.T) {
	a := arbortest.New(t)
	b := arbortest.Join(t, a.Server)
	var made []ulid.ULID
	for i := range 10 {
		st := []*arbortest.Stack{a, b}[i%2]
		r := create(t, st, ulid.ULID{}, `{"i":0}`)
		c := create(t, st, r.ID, `{"content":"x"}`)
		made = append(made, c.ID, r.ID)
	}
	for i, id := range made {
		st := []*arbortest.Stack{a, b}[i%2]
		switch i % 4 {
		case 0:
			update(t, st, id, `{"v":2}`, "u")
		case 2:
			remove(t, st, id)
		}
	}
	arbortest.WaitAll(t, a, b)
	waitCaughtUp(t, a)
	checkBucket(t, a)
	checkBucket(t, b)
	if total := a.Queries.Stats().Total; total != 15 {
		t.Fatalf("Total = %d, want 15", total)
	}
}

// More events than one fetch takes (batches close full, and then again as
// the view writes) still all reach the bucket.
func TestViewAcrossManyBatches(t *testing.T) {
	st := arbortest.New(t)
	for i := range 3*256 + 7 {
		create(t, st, ulid.ULID{}, `{"i":`+string(rune('0'+i%10))+`}`)
	}
	waitCaughtUp(t, st)
	checkBucket(t, st)
}
