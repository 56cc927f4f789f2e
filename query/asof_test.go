package query_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/arbortest"
	"arbor/projection"
	"arbor/query"
)

// TestAsOfEqualsFoldUpToPosition writes a random mix of creations,
// updates and deletions, then reads as of random positions: every answer
// equals what a projection folded from the log up to that position says.
func TestAsOfEqualsFoldUpToPosition(t *testing.T) {
	h := hierarchy.Hierarchy{Name: "ml", Labels: []string{"experiment", "model", "predictions"}}
	st := arbortest.New(t, h)
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(7, 11))
	var (
		live []projection.Artifact
		all  []ulid.ULID // every artifact created, deleted since or not
	)
	for i := range 160 {
		k := rng.IntN(10)
		switch {
		case k < 3 || len(live) == 0:
			a, _, err := st.Handler.Create(ctx, command.Create{Tags: []string{fmt.Sprint("t", i%3)}, Data: data(i)})
			must(t, err)
			live, all = append(live, a), append(all, a.ID)
		case k < 6:
			p := live[rng.IntN(len(live))]
			if p.Level == 2 {
				continue
			}
			a, _, err := st.Handler.Create(ctx, command.Create{Parent: p.ID, Data: data(i)})
			must(t, err)
			live, all = append(live, a), append(all, a.ID)
		case k < 9:
			j := rng.IntN(len(live))
			a, _, err := st.Handler.Update(ctx, command.Update{ID: live[j].ID, Tags: []string{fmt.Sprint("t", i%3)}, Data: data(i)})
			must(t, err)
			live[j] = a
		default:
			j := rng.IntN(len(live))
			if _, err := st.Handler.Delete(ctx, command.Delete{ID: live[j].ID}); err == nil {
				live = slices.Delete(live, j, j+1)
			}
		}
	}
	last, err := st.Log.LastSeq(ctx)
	must(t, err)
	positions := []uint64{0, 1, last}
	for range 12 {
		positions = append(positions, 1+rng.Uint64N(last))
	}
	q := st.Queries
	for _, pos := range positions {
		want := foldTo(t, st.Log, pos)
		for _, id := range all {
			w, ok := want.Get(id)
			got, err := q.GetAt(ctx, id, pos)
			if !ok || !w.Live {
				if err == nil {
					t.Errorf("at %d: %s was not live, yet GetAt found v%d", pos, id, got.Version)
					continue
				}
				if !errors.Is(err, query.ErrNotFound) {
					t.Errorf("at %d: %s: GetAt = %v, want not found", pos, id, err)
				}
				continue
			}
			must(t, err)
			if !sameArtifact(got, w) {
				t.Errorf("at %d: %s = v%d %s %v, want v%d %s %v", pos, id, got.Version, got.Data, got.Tags, w.Version, w.Data, w.Tags)
			}
			if w.Parent.IsZero() {
				tree, err := q.TreeAt(ctx, id, -1, pos)
				must(t, err)
				if got, want := shape(tree), shapeOf(want, w); got != want {
					t.Errorf("at %d: tree of %s = %s, want %s", pos, id, got, want)
				}
			}
		}
		p, err := q.List(ctx, query.ListQuery{Page: 1, Size: 1000, AsOf: &pos})
		must(t, err)
		if got, wantList := versions(p.Items), versions(want.Page(0, 1000)); !reflect.DeepEqual(got, wantList) || p.Total != want.Total() {
			t.Errorf("at %d: list = %v (total %d), want %v", pos, got, p.Total, wantList)
		}
		if got := q.StatsAt(pos); got.Total != want.Total() {
			t.Errorf("at %d: stats total = %d, want %d", pos, got.Total, want.Total())
		}
	}
}

func data(i int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"name":"a%d","n":%d}`, i, i)) }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// foldTo folds the log up to position pos into a new state.
func foldTo(t *testing.T, log *events.Log, pos uint64) *projection.State {
	s := projection.NewState(log.Layout())
	if pos == 0 {
		return s
	}
	stop := errors.New("stop")
	err := log.Read(t.Context(), 0, func(env events.Envelope) error {
		if env.Seq > pos {
			return stop
		}
		s.Apply(env)
		if env.Seq == pos {
			return stop
		}
		return nil
	}, nil)
	if !errors.Is(err, stop) {
		t.Fatal(err)
	}
	return s
}

func sameArtifact(a, b projection.Artifact) bool {
	return a.ID == b.ID && a.Version == b.Version && string(a.Data) == string(b.Data) &&
		reflect.DeepEqual(a.Tags, b.Tags) && a.UpdatedAt.Equal(b.UpdatedAt) && a.Parent == b.Parent
}

func shape(t query.Tree) string {
	s := fmt.Sprintf("%s@%d(", t.Artifact.ID, t.Artifact.Version)
	for _, c := range t.Children {
		s += shape(c)
	}
	return s + ")"
}

func shapeOf(s *projection.State, a projection.Artifact) string {
	out := fmt.Sprintf("%s@%d(", a.ID, a.Version)
	s.Children(a.ID, func(c projection.Artifact) bool {
		out += shapeOf(s, c)
		return true
	})
	return out + ")"
}

func versions(as []projection.Artifact) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, fmt.Sprintf("%s@%d", a.ID, a.Version))
	}
	return out
}
