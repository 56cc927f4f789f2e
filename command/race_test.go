package command_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/events"
	"arbor/internal/arbortest"
	"arbor/projection"
)

const (
	raceRounds   = 30
	raceChildren = 10
)

// round is what the commands of one round of the create/delete race were
// told.
type round struct {
	parent   ulid.ULID
	children []ulid.ULID // chosen by the client, so that a refused one can be looked for
	childPos []uint64
	childErr []error
	delPos   uint64
	delErr   error
	// updates of the parent sent with the others, each with its own data
	updPos []uint64
	updErr []error
}

// updated is the positions of the acknowledged updates, in log order.
func (r round) updated() []uint64 {
	var pos []uint64
	for i, err := range r.updErr {
		if err == nil {
			pos = append(pos, r.updPos[i])
		}
	}
	slices.Sort(pos)
	return pos
}

func (r round) acked() []ulid.ULID {
	var ids []ulid.ULID
	for i, err := range r.childErr {
		if err == nil {
			ids = append(ids, r.children[i])
		}
	}
	// Creation order is log order.
	slices.SortFunc(ids, func(a, b ulid.ULID) int {
		return cmpPos(r.childPos[slices.Index(r.children, a)], r.childPos[slices.Index(r.children, b)])
	})
	return ids
}

func cmpPos(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// raceRound creates a parent, then releases at once raceChildren creations
// under it, its deletion and puts updates of it, spread over the stacks.
func raceRound(t *testing.T, stacks []*arbortest.Stack, handlers []*command.Handler, n, puts int) round {
	t.Helper()
	ctx := t.Context()
	creator := handlers[n%len(handlers)]
	deleter := handlers[(n/len(handlers))%len(handlers)]
	p, pos, err := creator.Create(ctx, command.Create{Data: obj(`{}`)})
	if err != nil {
		t.Fatalf("round %d: create parent: %v", n, err)
	}
	for _, st := range stacks {
		if err := st.Projection.WaitFor(ctx, pos); err != nil {
			t.Fatal(err)
		}
	}
	r := round{
		parent:   p.ID,
		children: make([]ulid.ULID, raceChildren),
		childPos: make([]uint64, raceChildren),
		childErr: make([]error, raceChildren),
		updPos:   make([]uint64, puts),
		updErr:   make([]error, puts),
	}
	for i := range r.children {
		r.children[i] = ulid.Make()
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range raceChildren {
		h := handlers[i%len(handlers)]
		wg.Go(func() {
			<-start
			var a projection.Artifact
			a, r.childPos[i], r.childErr[i] = h.Create(ctx, command.Create{ID: r.children[i], Parent: p.ID, Data: obj(`{}`)})
			if r.childErr[i] == nil && (a.ID != r.children[i] || a.Parent != p.ID || a.CreatedSeq != r.childPos[i]) {
				r.childErr[i] = fmt.Errorf("Create returned %+v at %d, want child %s of %s", a, r.childPos[i], r.children[i], p.ID)
			}
		})
	}
	for i := range puts {
		h := handlers[(n+i+1)%len(handlers)]
		wg.Go(func() {
			<-start
			var a projection.Artifact
			a, r.updPos[i], r.updErr[i] = h.Update(ctx, command.Update{ID: p.ID, Data: obj(fmt.Sprintf(`{"put":%d}`, i))})
			if r.updErr[i] == nil && (a.ID != p.ID || a.OwnSeq != r.updPos[i] || string(a.Data) != fmt.Sprintf(`{"put":%d}`, i)) {
				r.updErr[i] = fmt.Errorf("Update returned %+v at %d, want put %d on %s", a, r.updPos[i], i, p.ID)
			}
		})
	}
	wg.Go(func() {
		<-start
		r.delPos, r.delErr = deleter.Delete(ctx, command.Delete{ID: p.ID})
	})
	close(start)
	wg.Wait()
	return r
}

// checkErrors checks that the losers of a round got the rule that beat
// them: a refused child an unknown parent, a refused delete live children.
func checkErrors(r round) []string {
	var bad []string
	for i, err := range r.childErr {
		if err == nil {
			continue
		}
		var v *command.ValidationError
		if !errors.As(err, &v) || len(v.Errors) != 1 || v.Errors[0].Field != "parent_id" {
			bad = append(bad, fmt.Sprintf("child %d of %s: err = %v, want a *ValidationError on parent_id", i, r.parent, err))
		}
	}
	if r.delErr != nil {
		var c *command.ConflictError
		if !errors.As(r.delErr, &c) {
			bad = append(bad, fmt.Sprintf("delete of %s: err = %v, want a *ConflictError", r.parent, r.delErr))
		}
	}
	if r.delErr == nil && len(r.acked()) > 0 {
		bad = append(bad, fmt.Sprintf("delete of %s and %d children under it all acknowledged", r.parent, len(r.acked())))
	}
	if r.delErr != nil && len(r.acked()) == 0 {
		bad = append(bad, fmt.Sprintf("delete of %s refused (%v) though no child was acknowledged", r.parent, r.delErr))
	}
	// An update either applies before the delete, or finds the parent gone.
	for i, err := range r.updErr {
		switch {
		case err == nil && r.delErr == nil && r.updPos[i] >= r.delPos:
			bad = append(bad, fmt.Sprintf("update %d of %s acknowledged at %d, after its delete at %d", i, r.parent, r.updPos[i], r.delPos))
		case errors.Is(err, command.ErrNotFound) && r.delErr != nil:
			bad = append(bad, fmt.Sprintf("update %d of %s: not found, though its delete was refused (%v)", i, r.parent, r.delErr))
		case err != nil && !errors.Is(err, command.ErrNotFound):
			bad = append(bad, fmt.Sprintf("update %d of %s: err = %v, want none or ErrNotFound", i, r.parent, err))
		}
	}
	return bad
}

// checkRound checks the rule of the race on state s: either the parent is
// deleted and has no child, or it lives and its children are exactly the
// acknowledged ones, in the order they were written.
func checkRound(s *projection.State, r round) []string {
	var bad []string
	p, found := s.Get(r.parent)
	if !found {
		return []string{fmt.Sprintf("parent %s unknown", r.parent)}
	}
	var listed []ulid.ULID
	s.Children(r.parent, func(a projection.Artifact) bool {
		listed = append(listed, a.ID)
		return true
	})
	var scanned []ulid.ULID
	for _, a := range s.Page(0, s.Total()) {
		if a.Parent == r.parent {
			scanned = append(scanned, a.ID)
		}
	}
	acked := r.acked()
	// The parent's version counts its creation, the acknowledged updates
	// and its deletion, if any; a live parent has the last update's data.
	updated := r.updated()
	wantVersion := 1 + len(updated)
	if !p.Live {
		wantVersion++
	}
	if p.Version != wantVersion {
		bad = append(bad, fmt.Sprintf("parent %s (live %v): Version = %d, want %d after %d acknowledged updates", r.parent, p.Live, p.Version, wantVersion, len(updated)))
	}
	if p.Live && len(updated) > 0 {
		last := slices.Index(r.updPos, updated[len(updated)-1])
		if want := fmt.Sprintf(`{"put":%d}`, last); p.OwnSeq != r.updPos[last] || string(p.Data) != want {
			bad = append(bad, fmt.Sprintf("parent %s: OwnSeq, Data = %d, %s, want its last update %s at %d", r.parent, p.OwnSeq, p.Data, want, r.updPos[last]))
		}
	}
	if p.Live {
		if r.delErr == nil {
			bad = append(bad, fmt.Sprintf("parent %s lives, but its delete was acknowledged at %d", r.parent, r.delPos))
		}
		if !slices.Equal(listed, acked) {
			bad = append(bad, fmt.Sprintf("parent %s lives with children %v, want the acknowledged %v", r.parent, listed, acked))
		}
		if !slices.Equal(scanned, acked) {
			bad = append(bad, fmt.Sprintf("live artifacts under %s are %v, want the acknowledged %v", r.parent, scanned, acked))
		}
		if p.Children != len(acked) {
			bad = append(bad, fmt.Sprintf("parent %s: Children = %d, want %d", r.parent, p.Children, len(acked)))
		}
	} else {
		if r.delErr != nil {
			bad = append(bad, fmt.Sprintf("parent %s deleted, but its delete returned %v", r.parent, r.delErr))
		}
		if len(listed) > 0 || len(scanned) > 0 || p.Children > 0 {
			bad = append(bad, fmt.Sprintf("deleted parent %s has live children %v (scan %v, Children %d)", r.parent, listed, scanned, p.Children))
		}
		if len(acked) > 0 {
			bad = append(bad, fmt.Sprintf("deleted parent %s, yet children %v were acknowledged", r.parent, acked))
		}
	}
	for i, id := range r.children {
		a, found := s.Get(id)
		switch {
		case r.childErr[i] != nil && found:
			bad = append(bad, fmt.Sprintf("refused child %s exists: %+v", id, a))
		case r.childErr[i] == nil && (!found || !a.Live || a.Parent != r.parent || a.CreatedSeq != r.childPos[i]):
			bad = append(bad, fmt.Sprintf("acknowledged child %s at %d: found %v, %+v", id, r.childPos[i], found, a))
		}
	}
	return bad
}

// startInstances starts n instances on one server, ready and caught up.
//
// Join updates the stream, and nats-server 2.15.2 reads a stream's config
// without its lock when it creates a consumer (fileStore.ConsumerStore
// against fileStore.UpdateConfig): a Join while the first instance still
// creates its consumers in the background is reported by -race. So before
// anyone joins, the first instance writes a root, which its runner's
// consumer must deliver, and its KV view's durable consumer is created.
func startInstances(t *testing.T, n int) []*arbortest.Stack {
	t.Helper()
	st := arbortest.New(t, mlPipeline)
	stacks := []*arbortest.Stack{st}
	if n == 1 {
		return stacks
	}
	mustCreate(t, st, command.Create{Tags: []string{"warm-up"}})
	if _, _, err := st.KV.Open(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range n - 1 {
		stacks = append(stacks, arbortest.Join(t, st.Server, mlPipeline))
	}
	return stacks
}

// The race of the issue: children created under a parent at the very
// moment it is deleted, on one instance or on two sharing the server. The
// rules must hold in every projection, the live ones and one rebuilt from
// the log, and the losers must get the rule that beat them.
//
// With puts, that many updates of the parent are sent with them: they
// contend with the delete on the parent's own subject, never with the
// creations.
func TestCreateDeleteRace(t *testing.T) {
	for _, tc := range []struct{ instances, puts int }{{1, 0}, {2, 0}, {1, 2}, {2, 2}} {
		instances, puts := tc.instances, tc.puts
		t.Run(fmt.Sprintf("%d instances, %d puts", instances, puts), func(t *testing.T) {
			stacks := startInstances(t, instances)
			// The gate only counts the conflicts, to show the race was run.
			g := newGate(0)
			var handlers []*command.Handler
			for _, st := range stacks {
				handlers = append(handlers, g.handler(st.Handler))
			}
			var (
				rounds              []round
				errBad, stateBad    []string
				deleteWon, childWon int
				putsAcked           int
			)
			for n := range raceRounds {
				r := raceRound(t, stacks, handlers, n, puts)
				rounds = append(rounds, r)
				errBad = append(errBad, checkErrors(r)...)
				arbortest.WaitAll(t, stacks...)
				for i, st := range stacks {
					st.Projection.Read(func(s *projection.State) {
						for _, b := range checkRound(s, r) {
							stateBad = append(stateBad, fmt.Sprintf("round %d, instance %d: %s", n, i, b))
						}
					})
				}
				if r.delErr == nil {
					deleteWon++
				} else {
					childWon++
				}
				putsAcked += len(r.updated())
			}
			t.Logf("%d rounds: the delete won %d, a child won %d; %d of %d puts applied; %d conflicts retried",
				raceRounds, deleteWon, childWon, putsAcked, raceRounds*puts, g.Conflicts())
			if g.Conflicts() == 0 {
				t.Errorf("no append conflicted in %d rounds: the race was not run", raceRounds)
			}
			arbortest.Report(t, "losers' errors", errBad)
			arbortest.Report(t, "live projections", stateBad)

			// A projection rebuilt from the log agrees. (The KV view's
			// consumer must exist before Join: see startInstances.)
			last := arbortest.WaitAll(t, stacks...)
			if _, _, err := stacks[0].KV.Open(t.Context()); err != nil {
				t.Fatal(err)
			}
			replay := arbortest.Join(t, stacks[0].Server, mlPipeline)
			if err := replay.Projection.WaitFor(t.Context(), last); err != nil {
				t.Fatal(err)
			}
			var replayBad []string
			replay.Projection.Read(func(s *projection.State) {
				// Every message the server took is one the rules allow.
				if s.Ignored() != 0 {
					replayBad = append(replayBad, fmt.Sprintf("the fold ignored %d messages of the log", s.Ignored()))
				}
				for n, r := range rounds {
					for _, b := range checkRound(s, r) {
						replayBad = append(replayBad, fmt.Sprintf("round %d: %s", n, b))
					}
				}
			})
			arbortest.Report(t, "rebuilt projection", replayBad)
			want := snapshot(replay.Projection, rounds)
			for i, st := range stacks {
				if got := snapshot(st.Projection, rounds); !reflect.DeepEqual(got, want) {
					t.Errorf("instance %d differs from the projection rebuilt from the log:\n got %+v\nwant %+v", i, got, want)
				}
			}
		})
	}
}

// state is what a projection says, for comparing two of them.
type state struct {
	Applied uint64
	Total   int
	Page    []projection.Artifact
	Counts  map[string][]int
	Rounds  []projection.Artifact // every parent and every child tried, live or not
}

func snapshot(p *projection.Projection, rounds []round) state {
	var out state
	p.Read(func(s *projection.State) {
		out = state{Applied: s.Applied(), Total: s.Total(), Page: s.Page(0, s.Total()), Counts: s.Counts()}
		for _, r := range rounds {
			for _, id := range append([]ulid.ULID{r.parent}, r.children...) {
				a, _ := s.Get(id)
				out.Rounds = append(out.Rounds, a)
			}
		}
	})
	return out
}

// Concurrent updates that all saw version 1: exactly one applies, the
// others are stale, on one instance or two.
func TestConcurrentIfMatch(t *testing.T) {
	const writers = 10
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d instances", instances), func(t *testing.T) {
			stacks := startInstances(t, instances)
			a := mustCreate(t, stacks[0], command.Create{})
			before := arbortest.WaitAll(t, stacks...)
			start := make(chan struct{})
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for i := range writers {
				h := stacks[i%len(stacks)].Handler
				wg.Go(func() {
					<-start
					_, _, errs[i] = h.Update(t.Context(), command.Update{ID: a.ID, IfMatch: 1, Data: obj(fmt.Sprintf(`{"w":%d}`, i))})
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("writers %d and %d both applied with If-Match 1", winner, i)
				case err == nil:
					winner = i
				case !errors.Is(err, command.ErrStale):
					t.Fatalf("writer %d: err = %v, want ErrStale", i, err)
				}
			}
			if winner < 0 {
				t.Fatalf("no writer applied, want one")
			}
			if last := arbortest.WaitAll(t, stacks...); last != before+1 {
				t.Fatalf("LastSeq = %d, want %d: one event", last, before+1)
			}
			for i, st := range stacks {
				got, _ := get(st, a.ID)
				if got.Version != 2 || string(got.Data) != fmt.Sprintf(`{"w":%d}`, winner) {
					t.Fatalf("instance %d: Version, Data = %d, %s, want 2 and the winner's", i, got.Version, got.Data)
				}
			}
		})
	}
}

// Concurrent updates without If-Match all apply, one after the other.
func TestConcurrentUpdates(t *testing.T) {
	const writers = 10
	for _, instances := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d instances", instances), func(t *testing.T) {
			stacks := startInstances(t, instances)
			a := mustCreate(t, stacks[0], command.Create{})
			before := arbortest.WaitAll(t, stacks...)
			start := make(chan struct{})
			errs := make([]error, writers)
			pos := make([]uint64, writers)
			var wg sync.WaitGroup
			for i := range writers {
				h := stacks[i%len(stacks)].Handler
				wg.Go(func() {
					<-start
					_, pos[i], errs[i] = h.Update(t.Context(), command.Update{ID: a.ID, Data: obj(fmt.Sprintf(`{"w":%d}`, i))})
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("writer %d: err = %v, want none", i, err)
				}
			}
			last := arbortest.WaitAll(t, stacks...)
			if last != before+writers {
				t.Fatalf("LastSeq = %d, want %d", last, before+writers)
			}
			slices.Sort(pos)
			for i, p := range pos {
				if p != before+1+uint64(i) {
					t.Fatalf("positions = %v, want %d..%d, one each", pos, before+1, last)
				}
			}
			for i, st := range stacks {
				if got, _ := get(st, a.ID); got.Version != 1+writers {
					t.Fatalf("instance %d: Version = %d, want %d", i, got.Version, 1+writers)
				}
			}
		})
	}
}

// gate holds appends until n of them have arrived, so that n commands
// are sure to have decided on the same state; then it lets everything
// through. It counts the conflicts the log reports.
type gate struct {
	n         int
	mu        sync.Mutex
	arrived   int
	conflicts int
	open      chan struct{}
}

func newGate(n int) *gate {
	g := &gate{n: n, open: make(chan struct{})}
	if n <= 0 {
		close(g.open)
	}
	return g
}

// handler returns a handler like h whose appends go through the gate.
func (g *gate) handler(h *command.Handler) *command.Handler {
	return withLog(h, gated{Appender: h.Log, g: g})
}

func (g *gate) Conflicts() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conflicts
}

type gated struct {
	command.Appender
	g *gate
}

func (l gated) Append(ctx context.Context, w events.Write) (uint64, error) {
	g := l.g
	g.mu.Lock()
	g.arrived++
	if g.arrived == g.n {
		close(g.open)
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	seq, err := l.Appender.Append(ctx, w)
	if errors.Is(err, events.ErrConflict) {
		g.mu.Lock()
		g.conflicts++
		g.mu.Unlock()
	}
	return seq, err
}
