package command_test

import (
	"context"
	"sync"
	"testing"

	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/arbortest"
	"arbor/projection"
)

// inOrder lets two commands decide on the same state, then appends the
// first's write before the second's.
type inOrder struct {
	decided, firstDone chan struct{}
}

type orderedLog struct {
	command.Appender
	o     *inOrder
	first bool
}

func (l orderedLog) Append(ctx context.Context, w events.Write) (uint64, error) {
	if l.first {
		<-l.o.decided
		defer close(l.o.firstDone)
		return l.Appender.Append(ctx, w)
	}
	close(l.o.decided)
	<-l.o.firstDone
	return l.Appender.Append(ctx, w)
}

// Two instances that disagree on a hierarchy (one started without it, as
// after it left the config; or during a rolling change of its labels or
// depth) name different kids subjects for one parent, or none. A child's
// creation through one and the parent's deletion through the other, both
// decided on a childless parent, then do not invalidate each other at the
// server. The fold, the same on every instance, keeps the child and
// ignores the deletion, so the deletion must not be acknowledged: it is
// answered as the conflict it is.
func TestDeleteRacesCreateAcrossConfigs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		creator  hierarchy.Hierarchy // the creating instance's view of "h"
		deleter  []hierarchy.Hierarchy
		parentAt int // the level of the parent
	}{
		{"hierarchy unknown to the deleting instance",
			hierarchy.Hierarchy{Name: "h", Labels: []string{"run", "step"}}, []hierarchy.Hierarchy{mlPipeline}, 0},
		{"level label renamed on the deleting instance",
			hierarchy.Hierarchy{Name: "h", Labels: []string{"run", "step"}}, []hierarchy.Hierarchy{mlPipeline, {Name: "h", Labels: []string{"run", "stage"}}}, 0},
		{"level added on the creating instance",
			hierarchy.Hierarchy{Name: "h", Labels: []string{"run", "step", "leaf"}}, []hierarchy.Hierarchy{mlPipeline, {Name: "h", Labels: []string{"run", "step"}}}, 1},
		{"control: same config",
			hierarchy.Hierarchy{Name: "h", Labels: []string{"run", "step"}}, []hierarchy.Hierarchy{mlPipeline, {Name: "h", Labels: []string{"run", "step"}}}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			del := arbortest.New(t, tc.deleter...)
			mustCreate(t, del, command.Create{Tags: []string{"warm-up"}})
			if _, _, err := del.KV.Open(t.Context()); err != nil {
				t.Fatal(err)
			}
			cre := arbortest.Join(t, del.Server, mlPipeline, tc.creator)
			p := mustCreate(t, cre, command.Create{Hierarchy: "h"})
			for range tc.parentAt {
				p = mustCreate(t, cre, command.Create{Parent: p.ID})
			}
			arbortest.WaitAll(t, del, cre)
			o := &inOrder{decided: make(chan struct{}), firstDone: make(chan struct{})}
			var (
				delErr, createErr error
				wg                sync.WaitGroup
			)
			wg.Go(func() {
				_, _, createErr = withLog(cre.Handler, orderedLog{Appender: cre.Log, o: o, first: true}).
					Create(t.Context(), command.Create{Parent: p.ID, Data: obj(`{}`)})
			})
			wg.Go(func() {
				_, delErr = withLog(del.Handler, orderedLog{Appender: del.Log, o: o}).Delete(t.Context(), command.Delete{ID: p.ID})
			})
			wg.Wait()
			if delErr == nil && createErr == nil {
				t.Errorf("the delete of %s and a child's creation under it were both acknowledged", p.ID)
			}
			arbortest.WaitAll(t, del, cre)
			for i, st := range []*arbortest.Stack{del, cre} {
				st.Projection.Read(func(s *projection.State) {
					a, _ := s.Get(p.ID)
					if delErr == nil && a.Live {
						t.Errorf("instance %d: %s acknowledged deleted, but lives with %d children (sealed %v; %d messages ignored)",
							i, p.ID, a.Children, a.Sealed, s.Ignored())
					}
				})
			}
		})
	}
}
