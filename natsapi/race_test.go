package natsapi_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"

	"arbor/internal/arbortest"
	"arbor/projection"
)

const (
	raceRounds   = 30
	raceChildren = 10
)

// raceRound is what the requests of one round of the create/delete race
// were answered.
type raceRound struct {
	parent   ulid.ULID
	children []ulid.ULID // chosen by the client, so that a refused one can be looked for
	child    []reply
	childErr []error
	del      reply
	delErr   error
}

// acked is the acknowledged children in log order.
func (r raceRound) acked() []ulid.ULID {
	var ids []ulid.ULID
	var pos []uint64
	for i, c := range r.child {
		if r.childErr[i] == nil && c.Status == 200 {
			ids = append(ids, r.children[i])
			pos = append(pos, c.Pos())
		}
	}
	idx := make([]int, len(ids))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case pos[a] < pos[b]:
			return -1
		case pos[a] > pos[b]:
			return 1
		}
		return 0
	})
	out := make([]ulid.ULID, len(ids))
	for i, j := range idx {
		out[i] = ids[j]
	}
	return out
}

func (r raceRound) deleted() bool { return r.delErr == nil && r.del.Status == 200 }

// runRound creates a parent over NATS, then sends at once raceChildren
// creations under it and its deletion, each with the parent's position as
// Arbor-Min-Position so that whichever instance takes it knows the parent.
func runRound(t *testing.T, nc *nats.Conn) raceRound {
	t.Helper()
	p, pos := create(t, nc, `{"data": {"round": true}}`)
	min := []string{"Arbor-Min-Position", strconv.FormatUint(pos, 10)}
	r := raceRound{
		parent:   ulid.MustParse(p.ID),
		children: make([]ulid.ULID, raceChildren),
		child:    make([]reply, raceChildren),
		childErr: make([]error, raceChildren),
	}
	for i := range r.children {
		r.children[i] = ulid.Make()
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range raceChildren {
		wg.Go(func() {
			<-start
			r.child[i], r.childErr[i] = request(t.Context(), nc, "create",
				fmt.Sprintf(`{"id": %q, "parent_id": %q, "data": {"i": %d}}`, r.children[i], p.ID, i), min...)
		})
	}
	wg.Go(func() {
		<-start
		r.del, r.delErr = request(t.Context(), nc, "delete", `{"id": "`+p.ID+`"}`, min...)
	})
	close(start)
	wg.Wait()
	return r
}

// checkReplies checks what the requests of a round were told: a child is
// created under the parent or refused with 422 on parent_id, the delete
// succeeds or is refused with 409, never anything else, and exactly one
// side won.
func checkReplies(r raceRound) []string {
	var bad []string
	for i, c := range r.child {
		switch {
		case r.childErr[i] != nil:
			bad = append(bad, fmt.Sprintf("child %d of %s: %v", i, r.parent, r.childErr[i]))
		case c.Status == 200:
			var d doc
			if err := json.Unmarshal(c.Body, &d); err != nil || d.ID != r.children[i].String() ||
				d.ParentID == nil || *d.ParentID != r.parent.String() || d.Level != 1 || c.Pos() == 0 {
				bad = append(bad, fmt.Sprintf("child %d of %s: acknowledged as %s at %d", i, r.parent, c.Body, c.Pos()))
			}
		case c.Status == 422:
			var p problem
			if err := json.Unmarshal(c.Body, &p); err != nil || p.Status != 422 || len(p.Errors) != 1 || p.Errors[0].Field != "parent_id" {
				bad = append(bad, fmt.Sprintf("child %d of %s: 422 %s, want a problem on parent_id", i, r.parent, c.Body))
			}
		default:
			bad = append(bad, fmt.Sprintf("child %d of %s: status %d %s, want 200 or 422", i, r.parent, c.Status, c.Body))
		}
	}
	switch {
	case r.delErr != nil:
		bad = append(bad, fmt.Sprintf("delete of %s: %v", r.parent, r.delErr))
	case r.del.Status == 200:
	case r.del.Status == 409:
		var p problem
		if err := json.Unmarshal(r.del.Body, &p); err != nil || p.Type != "urn:servicekit:error:conflict" {
			bad = append(bad, fmt.Sprintf("delete of %s: 409 %s, want a conflict problem", r.parent, r.del.Body))
		}
	default:
		bad = append(bad, fmt.Sprintf("delete of %s: status %d %s, want 200 or 409", r.parent, r.del.Status, r.del.Body))
	}
	acked := r.acked()
	if r.deleted() && len(acked) > 0 {
		bad = append(bad, fmt.Sprintf("delete of %s and %d children under it all acknowledged", r.parent, len(acked)))
	}
	if r.del.Status == 409 && len(acked) == 0 {
		bad = append(bad, fmt.Sprintf("delete of %s refused though no child was acknowledged", r.parent))
	}
	return bad
}

// checkState checks the rule of the race on state s: either the parent is
// deleted, no acknowledged child exists and no live artifact has it as
// parent; or it lives and its children are exactly the acknowledged ones,
// in the order they were written.
func checkState(s *projection.State, r raceRound) []string {
	var bad []string
	p, found := s.Get(r.parent)
	if !found {
		return []string{fmt.Sprintf("parent %s unknown", r.parent)}
	}
	var listed, scanned []ulid.ULID
	s.Children(r.parent, func(a projection.Artifact) bool {
		listed = append(listed, a.ID)
		return true
	})
	for _, a := range s.Page(0, s.Total()) {
		if a.Parent == r.parent {
			scanned = append(scanned, a.ID)
		}
	}
	acked := r.acked()
	if p.Live {
		if r.deleted() {
			bad = append(bad, fmt.Sprintf("parent %s lives, but its delete was acknowledged", r.parent))
		}
		if !slices.Equal(listed, acked) || !slices.Equal(scanned, acked) {
			bad = append(bad, fmt.Sprintf("parent %s lives with children %v (scan %v), want the acknowledged %v", r.parent, listed, scanned, acked))
		}
	} else {
		if !r.deleted() {
			bad = append(bad, fmt.Sprintf("parent %s deleted, but its delete was answered %d", r.parent, r.del.Status))
		}
		if len(listed) > 0 || len(scanned) > 0 || p.Children > 0 {
			bad = append(bad, fmt.Sprintf("deleted parent %s has live children %v (scan %v)", r.parent, listed, scanned))
		}
	}
	for i, id := range r.children {
		a, found := s.Get(id)
		ackd := r.childErr[i] == nil && r.child[i].Status == 200
		switch {
		case !ackd && found:
			bad = append(bad, fmt.Sprintf("refused child %s exists: %+v", id, a))
		case ackd && (!found || !a.Live || a.Parent != r.parent || a.CreatedSeq != r.child[i].Pos()):
			bad = append(bad, fmt.Sprintf("acknowledged child %s at %d: found %v, %+v", id, r.child[i].Pos(), found, a))
		}
	}
	return bad
}

// checkTree asks the service for the parent's tree: the acknowledged
// children, or 404 once the parent is deleted.
func checkTree(t *testing.T, nc *nats.Conn, r raceRound, last uint64) []string {
	t.Helper()
	tr := call(t, nc, "tree", `{"root_id": "`+r.parent.String()+`"}`, "Arbor-Min-Position", strconv.FormatUint(last, 10))
	if r.deleted() {
		if tr.Status != 404 {
			return []string{fmt.Sprintf("tree of deleted %s: status %d %s, want 404", r.parent, tr.Status, tr.Body)}
		}
		return nil
	}
	var root doc
	if tr.Status != 200 || json.Unmarshal(tr.Body, &root) != nil || root.Children == nil {
		return []string{fmt.Sprintf("tree of live %s: %d %s", r.parent, tr.Status, tr.Body)}
	}
	var got []ulid.ULID
	for _, c := range *root.Children {
		got = append(got, ulid.MustParse(c.ID))
	}
	if acked := r.acked(); !slices.Equal(got, acked) {
		return []string{fmt.Sprintf("tree of %s has children %v, want the acknowledged %v", r.parent, got, acked)}
	}
	return nil
}

// The race of the issue driven through NATS: children created under a
// parent at the very moment it is deleted, with the requests spread by the
// queue group over one instance or two. The rules hold in every projection,
// the live ones and one rebuilt from the log; losers get 409 or 422, never
// a 5xx.
func TestCreateDeleteRaceOverNATS(t *testing.T) {
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d instances", instances), func(t *testing.T) {
			c := &counter{}
			stacks, nc := startInstances(t, instances, c)
			var (
				rounds               []raceRound
				replyBad, stateBad   []string
				deleteWon, childWon  int
				acknowledgedChildren int
				refusedChildren      int
			)
			for n := range raceRounds {
				r := runRound(t, nc)
				rounds = append(rounds, r)
				for _, b := range checkReplies(r) {
					replyBad = append(replyBad, fmt.Sprintf("round %d: %s", n, b))
				}
				last := arbortest.WaitAll(t, stacks...)
				for i, st := range stacks {
					st.Projection.Read(func(s *projection.State) {
						for _, b := range checkState(s, r) {
							stateBad = append(stateBad, fmt.Sprintf("round %d, instance %d: %s", n, i, b))
						}
					})
				}
				for _, b := range checkTree(t, nc, r, last) {
					stateBad = append(stateBad, fmt.Sprintf("round %d: %s", n, b))
				}
				if r.deleted() {
					deleteWon++
				} else {
					childWon++
				}
				acknowledgedChildren += len(r.acked())
				refusedChildren += raceChildren - len(r.acked())
			}
			t.Logf("%d rounds: the delete won %d, a child won %d; %d children acknowledged, %d refused; %d conflicts retried",
				raceRounds, deleteWon, childWon, acknowledgedChildren, refusedChildren, c.Conflicts())
			if c.Conflicts() == 0 {
				t.Errorf("no append conflicted in %d rounds: the race was not run", raceRounds)
			}
			arbortest.Report(t, "replies", replyBad)
			arbortest.Report(t, "live projections", stateBad)
			if instances > 1 {
				for _, s := range stats(t, nc, instances) {
					if s.requests("create") == 0 || s.requests("delete") == 0 {
						t.Errorf("instance %s answered %d creates and %d deletes, want some of each", s.ID, s.requests("create"), s.requests("delete"))
					}
				}
			}

			// A projection rebuilt from the log agrees. (The KV view's
			// consumer must exist before Join: see startInstances.)
			final := arbortest.WaitAll(t, stacks...)
			if _, _, err := stacks[0].KV.Open(t.Context()); err != nil {
				t.Fatal(err)
			}
			replay := arbortest.Join(t, stacks[0].Server, mlPipeline, documents)
			if err := replay.Projection.WaitFor(t.Context(), final); err != nil {
				t.Fatal(err)
			}
			var replayBad []string
			replay.Projection.Read(func(s *projection.State) {
				if s.Applied() != final {
					replayBad = append(replayBad, fmt.Sprintf("replay applied %d, want %d", s.Applied(), final))
				}
				for n, r := range rounds {
					for _, b := range checkState(s, r) {
						replayBad = append(replayBad, fmt.Sprintf("round %d: %s", n, b))
					}
				}
			})
			arbortest.Report(t, "rebuilt projection", replayBad)
		})
	}
}
