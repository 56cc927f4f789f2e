package command_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/internal/arbortest"
	"arbor/projection"
)

func isField(err error, field string) bool {
	var v *command.ValidationError
	return errors.As(err, &v) && len(v.Errors) == 1 && v.Errors[0].Field == field
}

func isConflict(err error) bool {
	var c *command.ConflictError
	return errors.As(err, &c)
}

// oneOf reports whether errs match one of the outcomes, each a pair of
// predicates.
func oneOf(errs [2]error, outcomes ...[2]func(error) bool) bool {
	for _, o := range outcomes {
		if o[0](errs[0]) && o[1](errs[1]) {
			return true
		}
	}
	return false
}

var (
	okErr       = func(err error) bool { return err == nil }
	conflictErr = isConflict
	staleErr    = func(err error) bool { return errors.Is(err, command.ErrStale) }
	notFoundErr = func(err error) bool { return errors.Is(err, command.ErrNotFound) }
	noParentErr = func(err error) bool { return isField(err, "parent_id") }
)

// losersFixture is the state every case starts from: roots P (no child)
// and Q with a leaf L, plus an unused id X.
type losersFixture struct{ p, q, l, x ulid.ULID }

type op func(ctx context.Context, h *command.Handler, f losersFixture) error

func createUnder(parent func(losersFixture) ulid.ULID) op {
	return func(ctx context.Context, h *command.Handler, f losersFixture) error {
		_, _, err := h.Create(ctx, command.Create{Parent: parent(f), Data: obj(`{}`)})
		return err
	}
}

func createID(parent func(losersFixture) ulid.ULID) op {
	return func(ctx context.Context, h *command.Handler, f losersFixture) error {
		_, _, err := h.Create(ctx, command.Create{ID: f.x, Parent: parent(f), Data: obj(`{}`)})
		return err
	}
}

func update(id func(losersFixture) ulid.ULID, ifMatch int) op {
	return func(ctx context.Context, h *command.Handler, f losersFixture) error {
		_, _, err := h.Update(ctx, command.Update{ID: id(f), IfMatch: ifMatch, Data: obj(`{"u":1}`)})
		return err
	}
}

func remove(id func(losersFixture) ulid.ULID) op {
	return func(ctx context.Context, h *command.Handler, f losersFixture) error {
		_, err := h.Delete(ctx, command.Delete{ID: id(f)})
		return err
	}
}

var (
	fp    = func(f losersFixture) ulid.ULID { return f.p }
	fq    = func(f losersFixture) ulid.ULID { return f.q }
	fl    = func(f losersFixture) ulid.ULID { return f.l }
	fnone = func(losersFixture) ulid.ULID { return ulid.ULID{} }
)

// Two commands that decided on the same state, held at the log until both
// have: the one that appends second conflicts, re-decides on the state that
// includes the first, and either goes ahead or gets the rule that now fails.
// Deterministic counterpart of TestCreateDeleteRace: here the race is sure
// to happen.
func TestRaceLosers(t *testing.T) {
	tests := []struct {
		name      string
		ops       [2]op
		outcomes  [][2]func(error) bool
		conflicts int // conflicts the log reported
		// batch marks the deletions of artifacts that could have
		// children: one message and every seal, when they succeed.
		batch   [2]bool
		written func(errs [2]error) uint64
		check   func(s *projection.State, f losersFixture, errs [2]error) error
	}{
		{
			name:  "child under P against the delete of P",
			ops:   [2]op{createUnder(fp), remove(fp)},
			batch: [2]bool{false, true},
			outcomes: [][2]func(error) bool{
				{okErr, conflictErr}, {noParentErr, okErr},
			},
			conflicts: 1,
			check: func(s *projection.State, f losersFixture, errs [2]error) error {
				p, _ := s.Get(f.p)
				if p.Live != (errs[0] == nil) || (p.Children == 1) != (errs[0] == nil) {
					return fmt.Errorf("P Live, Children = %v, %d after child err %v", p.Live, p.Children, errs[0])
				}
				return nil
			},
		},
		{
			name:  "child under the leaf L against the delete of L",
			ops:   [2]op{createUnder(fl), remove(fl)},
			batch: [2]bool{false, true},
			outcomes: [][2]func(error) bool{
				{okErr, conflictErr}, {noParentErr, okErr},
			},
			conflicts: 1,
		},
		{
			name:     "two children under P",
			ops:      [2]op{createUnder(fp), createUnder(fp)},
			outcomes: [][2]func(error) bool{{okErr, okErr}},
			// Both check P's seal, which neither writes.
			conflicts: 0,
			check: func(s *projection.State, f losersFixture, _ [2]error) error {
				if p, _ := s.Get(f.p); p.Children != 2 {
					return fmt.Errorf("P Children = %d, want 2", p.Children)
				}
				return nil
			},
		},
		{
			name:      "two updates of P with If-Match 1",
			ops:       [2]op{update(fp, 1), update(fp, 1)},
			outcomes:  [][2]func(error) bool{{okErr, staleErr}, {staleErr, okErr}},
			conflicts: 1,
		},
		{
			name:      "update of P against its delete",
			ops:       [2]op{update(fp, 0), remove(fp)},
			batch:     [2]bool{false, true},
			outcomes:  [][2]func(error) bool{{okErr, okErr}, {notFoundErr, okErr}},
			conflicts: 1,
		},
		{
			name: "update of P with If-Match 1 against its delete with If-Match 1",
			ops: [2]op{update(fp, 1), func(ctx context.Context, h *command.Handler, f losersFixture) error {
				_, err := h.Delete(ctx, command.Delete{ID: f.p, IfMatch: 1})
				return err
			}},
			batch:     [2]bool{false, true},
			outcomes:  [][2]func(error) bool{{okErr, staleErr}, {notFoundErr, okErr}},
			conflicts: 1,
		},
		{
			name:      "two deletes of P",
			ops:       [2]op{remove(fp), remove(fp)},
			batch:     [2]bool{true, true},
			outcomes:  [][2]func(error) bool{{okErr, notFoundErr}, {notFoundErr, okErr}},
			conflicts: 1,
		},
		{
			name:     "update of the leaf L against a child under it",
			ops:      [2]op{update(fl, 0), createUnder(fl)},
			outcomes: [][2]func(error) bool{{okErr, okErr}},
			// L's own subject and its kids subject: nothing in common.
			conflicts: 0,
		},
		{
			name:      "two roots with one id",
			ops:       [2]op{createID(fnone), createID(fnone)},
			outcomes:  [][2]func(error) bool{{okErr, conflictErr}, {conflictErr, okErr}},
			conflicts: 1,
		},
		{
			name:     "one id under P and under Q",
			ops:      [2]op{createID(fp), createID(fq)},
			outcomes: [][2]func(error) bool{{okErr, conflictErr}, {conflictErr, okErr}},
			// Two kids subjects, but one Nats-Msg-Id for the creation of
			// one id: the server refuses the second as a duplicate, a
			// conflict after which the id is taken.
			conflicts: 1,
			written:   func([2]error) uint64 { return 1 },
			check: func(s *projection.State, f losersFixture, errs [2]error) error {
				x, _ := s.Get(f.x)
				want := f.p
				if errs[0] != nil {
					want = f.q
				}
				p, _ := s.Get(f.p)
				q, _ := s.Get(f.q)
				if x.Parent != want || p.Children+q.Children != 2 { // Q has L
					return fmt.Errorf("X under %s, P and Q have %d and %d children, want X only under %s", x.Parent, p.Children, q.Children, want)
				}
				return nil
			},
		},
		{
			name:      "child under P against an update of Q",
			ops:       [2]op{createUnder(fp), update(fq, 1)},
			outcomes:  [][2]func(error) bool{{okErr, okErr}},
			conflicts: 0,
		},
	}
	for _, tt := range tests {
		for _, instances := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/%d instances", tt.name, instances), func(t *testing.T) {
				ctx := t.Context()
				stacks := startInstances(t, instances)
				p := mustCreate(t, stacks[0], command.Create{})
				q := mustCreate(t, stacks[0], command.Create{})
				l := mustCreate(t, stacks[0], command.Create{Parent: q.ID})
				f := losersFixture{p: p.ID, q: q.ID, l: l.ID, x: ulid.Make()}
				before := arbortest.WaitAll(t, stacks...)

				g := newGate(2)
				var (
					errs [2]error
					wg   sync.WaitGroup
				)
				for i, o := range tt.ops {
					h := g.handler(stacks[i%len(stacks)].Handler)
					wg.Go(func() { errs[i] = o(ctx, h, f) })
				}
				wg.Wait()
				if !oneOf(errs, tt.outcomes...) {
					t.Fatalf("errs = %v, want one of the expected outcomes", errs)
				}
				for i, err := range errs {
					if err != nil && !isConflict(err) && !isField(err, "parent_id") && !errors.Is(err, command.ErrStale) && !errors.Is(err, command.ErrNotFound) {
						t.Fatalf("op %d: err = %v, want a rule's error", i, err)
					}
				}
				if got := g.Conflicts(); got != tt.conflicts {
					t.Fatalf("conflicts = %d, want %d", got, tt.conflicts)
				}
				var want uint64
				if tt.written != nil {
					want = tt.written(errs)
				} else {
					for i, err := range errs {
						if err == nil {
							want++
							if tt.batch[i] {
								want += uint64(stacks[0].Log.Layout().Seals)
							}
						}
					}
				}
				last := arbortest.WaitAll(t, stacks...)
				if last-before != want {
					t.Fatalf("%d messages written, want %d", last-before, want)
				}
				if tt.check != nil {
					for i, st := range stacks {
						st.Projection.Read(func(s *projection.State) {
							if err := tt.check(s, f, errs); err != nil {
								t.Errorf("instance %d: %v", i, err)
							}
						})
					}
				}
			})
		}
	}
}
