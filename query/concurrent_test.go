package query_test

import (
	"sync"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/query"
)

// TestReadsWhileApplying reads while events are folded in: every answer
// must be as of one position (counts that add up, a page as long as the
// total it reports allows, a tree of live artifacts under their parents),
// and the race detector must find nothing.
func TestReadsWhileApplying(t *testing.T) {
	hs := hierarchies(t)
	h := newHistory(t, hs)
	q := &query.Service{Projection: h.p, Hierarchies: hs}
	top := id(1000)
	h.root(top, "plain", `{}`)

	const size = 7
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Readers stop before the test ends, even when the writer fails it.
	stopReaders := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopReaders()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				st := q.Stats()
				sum, levels := 0, 0
				for _, hst := range st.Hierarchies {
					sum += hst.Total
					for _, n := range hst.Levels {
						levels += n
					}
				}
				if sum != st.Total || levels != st.Total {
					t.Errorf("Stats: total %d, hierarchies add up to %d, levels to %d", st.Total, sum, levels)
					return
				}
				p := listPage(q, 1, size)
				if len(p.Items) != min(size, p.Total) || p.Pages != (p.Total+size-1)/size {
					t.Errorf("List(1, %d): %d items, %d pages of a total of %d", size, len(p.Items), p.Pages, p.Total)
					return
				}
				tree, err := q.Tree(top, -1)
				if err != nil {
					t.Errorf("Tree: %v", err)
					return
				}
				var walk func(n query.Tree) bool
				walk = func(n query.Tree) bool {
					for _, c := range n.Children {
						if !c.Artifact.Live || c.Artifact.Parent != n.Artifact.ID || !walk(c) {
							t.Errorf("Tree: %s (live %t) under %s, its parent is %s",
								c.Artifact.ID, c.Artifact.Live, n.Artifact.ID, c.Artifact.Parent)
							return false
						}
					}
					return true
				}
				if !walk(tree) {
					return
				}
			}
		}()
	}

	// Grow and prune the tree under top, and add roots of two hierarchies.
	n := uint64(2000)
	next := func() ulid.ULID { n++; return id(n) }
	for i := range 100 {
		a := next()
		h.child(a, top, `{"n":1}`)
		b := next()
		h.child(b, a, `{"n":2}`)
		h.update(a, `{"n":3}`)
		if i%3 == 0 {
			h.remove(b)
			h.remove(a)
		}
		h.root(next(), "ml", `{}`)
	}
	stopReaders()

	// top, 100 roots, and a and b of the 66 rounds that kept them.
	if got, want := q.Stats().Total, 1+100+2*66; got != want {
		t.Fatalf("Stats().Total = %d at the end, want %d", got, want)
	}
}
