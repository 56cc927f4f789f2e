package command_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/arbortest"
)

// deep is a hierarchy deep enough to check ids level by level.
var deep = hierarchy.Hierarchy{Name: "deep"}

// An id arbor mints for a child carries its root's placement key, at every
// depth: the id alone names the shard of its tree. A child created with a
// client's id (whose key is anything) does not change that for the ids
// minted below it.
func TestChildIDsCarryTheirRootsKey(t *testing.T) {
	st := arbortest.New(t, deep, mlPipeline)
	l := st.Log.Layout()
	for _, tc := range []struct {
		name string
		root command.Create
	}{
		{"minted root", command.Create{Hierarchy: "deep"}},
		{"client's root", command.Create{Hierarchy: "deep", ID: events.WithKey(ulid.Make(), 0x5a5a)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := mustCreate(t, st, tc.root)
			key := events.Key(root.ID)
			if root.Key != key {
				t.Fatalf("root Key = %#x, want its id's %#x", root.Key, key)
			}
			parent := root.ID
			for depth := 1; depth <= 8; depth++ {
				c := command.Create{Parent: parent}
				if depth == 4 {
					// A client's id in the middle of the tree, with another key.
					c.ID = events.WithKey(ulid.Make(), key^0x7fff)
				}
				a := mustCreate(t, st, c)
				if depth != 4 && events.Key(a.ID) != key {
					t.Fatalf("depth %d: Key(%s) = %#x, want the root's %#x", depth, a.ID, events.Key(a.ID), key)
				}
				if a.Key != key {
					t.Fatalf("depth %d: Key = %#x, want the root's %#x", depth, a.Key, key)
				}
				want := l.Kids(events.Place{Key: key, Hierarchy: "deep"}, parent, fmt.Sprintf("level_%d", depth))
				if got := subjectAt(t, st, a.CreatedSeq); got != want {
					t.Fatalf("depth %d: subject = %s, want %s in the root's shard", depth, got, want)
				}
				parent = a.ID
			}
		})
	}
}

// Roots created in a burst spread over the shards, even though ULIDs
// minted in one millisecond share most of their bits.
func TestRootsSpreadOverShards(t *testing.T) {
	const (
		roots   = 2000
		writers = 16
	)
	st := arbortest.New(t, mlPipeline)
	l := st.Log.Layout()
	ids := make([]ulid.ULID, roots)
	errs := make([]error, roots)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < roots; i += writers {
				a, _, err := st.Handler.Create(t.Context(), command.Create{Data: obj(`{}`)})
				ids[i], errs[i] = a.ID, err
			}
		})
	}
	wg.Wait()
	shards := map[int]int{}
	seen := map[ulid.ULID]bool{}
	for i, id := range ids {
		if errs[i] != nil {
			t.Fatalf("root %d: %v", i, errs[i])
		}
		if seen[id] {
			t.Fatalf("id %s minted twice", id)
		}
		seen[id] = true
		shards[l.Shard(events.Key(id))]++
	}
	most := 0
	for _, n := range shards {
		most = max(most, n)
	}
	t.Logf("%d roots over %d of %d shards, at most %d in one", roots, len(shards), l.Shards, most)
	if len(shards) < 200 {
		t.Fatalf("%d roots landed in %d of %d shards, want at least 200", roots, len(shards), l.Shards)
	}
	// The subject of a root's creation is in its id's shard.
	for _, id := range ids[:10] {
		a, _ := get(st, id)
		if want := l.Root(events.Place{Key: events.Key(id), Hierarchy: "ml_pipeline"}, id, "experiment"); subjectAt(t, st, a.CreatedSeq) != want {
			t.Fatalf("root %s on %s, want %s", id, subjectAt(t, st, a.CreatedSeq), want)
		}
	}
}

// A client's id is kept as given, root or child, whatever its placement
// key; a child's subjects are in its root's shard all the same.
func TestClientIDKeptAsGiven(t *testing.T) {
	st := arbortest.New(t, mlPipeline)
	l := st.Log.Layout()
	rootID := events.WithKey(ulid.Make(), 0x0123)
	childID := events.WithKey(ulid.Make(), 0x7654)
	root := mustCreate(t, st, command.Create{ID: rootID})
	child := mustCreate(t, st, command.Create{ID: childID, Parent: rootID})
	if root.ID != rootID || child.ID != childID {
		t.Fatalf("ids = %s, %s, want %s, %s as given", root.ID, child.ID, rootID, childID)
	}
	if got, _ := get(st, childID); got.ID != childID || got.Parent != rootID || got.Key != 0x0123 {
		t.Fatalf("child = %+v, want %s under %s with its root's key 0x123", got, childID, rootID)
	}
	place := events.Place{Key: 0x0123, Hierarchy: "ml_pipeline"}
	if got, want := subjectAt(t, st, root.CreatedSeq), l.Root(place, rootID, "experiment"); got != want {
		t.Fatalf("root's subject = %s, want %s", got, want)
	}
	if got, want := subjectAt(t, st, child.CreatedSeq), l.Kids(place, rootID, "model"); got != want {
		t.Fatalf("child's subject = %s, want %s", got, want)
	}
	_, pos, err := st.Handler.Update(t.Context(), command.Update{ID: childID, Data: obj(`{"v":2}`)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := subjectAt(t, st, pos), l.Art(place, childID); got != want {
		t.Fatalf("child's update on %s, want %s in its root's shard", got, want)
	}
}
