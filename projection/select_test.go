package projection

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
)

// Select, on its indexes, agrees with a plain filter of the live
// artifacts in creation order, for random selections over a random mix
// of creations, retaggings and deletions; so does Each.
func TestSelectMatchesANaiveFilter(t *testing.T) {
	// Event times follow the log, or go back and forth by up to 90
	// positions' worth (writers stamp events before the log orders them).
	for _, jitter := range []uint64{0, 90} {
		t.Run(fmt.Sprint("jitter ", jitter), func(t *testing.T) { testSelect(t, jitter) })
	}
}

func testSelect(t *testing.T, jitter uint64) {
	rng := rand.New(rand.NewPCG(3, 4+jitter))
	s := NewState(testLayout)
	applyWrite := func(s *State, seq uint64, ev events.Event) {
		when := at(seq + 100)
		if jitter > 0 {
			when = at(seq + 100 - jitter + rng.Uint64N(2*jitter))
		}
		s.Apply(events.Envelope{ID: ulid.Make(), Time: when, Seq: seq, Subject: decideWrite(s, ev).Subject, Event: ev})
	}
	var (
		seq  uint64
		made []ulid.ULID
	)
	tags := []string{"a", "b", "c"}
	someTags := func() []string {
		var out []string
		for _, tag := range tags {
			if rng.IntN(3) == 0 {
				out = append(out, tag)
			}
		}
		if rng.IntN(8) == 0 && len(out) > 0 {
			out = append(out, out[0]) // a repeat
		}
		return out
	}
	next := uint64(1000)
	for range 600 {
		seq++
		var live []Artifact
		s.Each(Selection{}, func(c Candidate) bool { live = append(live, c.Artifact(s)); return true })
		switch k := rng.IntN(10); {
		case k < 5 || len(live) == 0:
			next++
			parent, level := none, 0
			if len(live) > 0 && rng.IntN(2) == 0 {
				if p := live[rng.IntN(len(live))]; p.Level < levels-1 {
					parent, level = p.ID, p.Level+1
				}
			}
			applyWrite(s, seq, created(id(next), parent, level, `{}`, someTags()...))
			made = append(made, id(next))
		case k < 8:
			applyWrite(s, seq, updated(live[rng.IntN(len(live))].ID, `{}`, someTags()...))
		default:
			applyWrite(s, seq, deleted(live[rng.IntN(len(live))].ID))
		}
	}

	var all []Artifact
	for _, x := range made {
		if a, _ := s.Get(x); a.Live {
			all = append(all, a)
		}
	}
	if len(all) < 50 || len(all) == len(made) {
		t.Fatalf("%d live of %d: want a mix", len(all), len(made))
	}
	for i := range 3000 {
		var sel Selection
		if rng.IntN(3) == 0 {
			sel.Hierarchy = []string{"default", "other"}[rng.IntN(2)]
		}
		if rng.IntN(3) == 0 {
			sel.Levels = []Level{}
			for l := range levels {
				if rng.IntN(2) == 0 {
					sel.Levels = append(sel.Levels, Level{"default", l})
				}
			}
		}
		if rng.IntN(4) == 0 {
			sel.Parent, sel.HasParent = all[rng.IntN(len(all))].ID, true
			if p := all[rng.IntN(len(all))].Parent; rng.IntN(3) == 0 && !p.IsZero() {
				sel.Parent = p
			}
		}
		for range rng.IntN(3) {
			sel.Tags = append(sel.Tags, tags[rng.IntN(len(tags))])
		}
		if rng.IntN(3) == 0 {
			sel.CreatedAfter = at(rng.Uint64N(seq + 200))
			if rng.IntN(5) == 0 {
				sel.CreatedAfter = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC) // before what nanoseconds since 1970 hold
			}
		}
		if rng.IntN(3) == 0 {
			sel.CreatedBefore = at(rng.Uint64N(seq + 200))
			if rng.IntN(5) == 0 {
				sel.CreatedBefore = time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC) // past it
			}
		}
		if rng.IntN(4) == 0 {
			sel.UpdatedAfter = at(rng.Uint64N(seq + 200))
		}
		var want []ulid.ULID
		for _, a := range all {
			if naiveMatch(a, sel) {
				want = append(want, a.ID)
			}
		}
		total := len(want)
		desc := rng.IntN(2) == 0
		if desc {
			slices.Reverse(want)
		}
		var after uint64
		offset, size := rng.IntN(total+3), 1+rng.IntN(20)
		if rng.IntN(3) == 0 {
			after = all[rng.IntN(len(all))].CreatedSeq
			if rng.IntN(4) == 0 {
				after++ // a position no live artifact was created at
			}
			want = slices.DeleteFunc(want, func(x ulid.ULID) bool {
				a, _ := s.Get(x)
				return desc && a.CreatedSeq >= after || !desc && a.CreatedSeq <= after
			})
			offset = 0
		}
		want = want[min(offset, len(want)):min(offset+size, len(want))]
		page, gotTotal := s.Select(sel, desc, after, offset, size)
		if got := ids(page); !slices.Equal(got, want) && (len(got) > 0 || len(want) > 0) || gotTotal != total {
			t.Fatalf("case %d: Select(%s, desc %v, after %d, %d, %d) = %v (total %d), want %v (total %d)",
				i, show(sel), desc, after, offset, size, got, gotTotal, want, total)
		}
	}
}

func naiveMatch(a Artifact, sel Selection) bool {
	switch {
	case sel.Hierarchy != "" && a.Hierarchy != sel.Hierarchy,
		sel.Levels != nil && !slices.Contains(sel.Levels, Level{a.Hierarchy, a.Level}),
		sel.HasParent && a.Parent != sel.Parent,
		!sel.CreatedAfter.IsZero() && !a.CreatedAt.After(sel.CreatedAfter),
		!sel.CreatedBefore.IsZero() && !a.CreatedAt.Before(sel.CreatedBefore),
		!sel.UpdatedAfter.IsZero() && !a.UpdatedAt.After(sel.UpdatedAfter):
		return false
	}
	for _, tag := range sel.Tags {
		if !slices.Contains(a.Tags, tag) {
			return false
		}
	}
	return true
}

func show(sel Selection) string {
	t := func(x time.Time) string {
		if x.IsZero() {
			return "-"
		}
		return fmt.Sprint(int64(x.Sub(t0) / time.Second))
	}
	return fmt.Sprintf("{h %q levels %v parent %v/%s tags %v created (%s, %s) updated > %s}",
		sel.Hierarchy, sel.Levels, sel.HasParent, sel.Parent, sel.Tags, t(sel.CreatedAfter), t(sel.CreatedBefore), t(sel.UpdatedAfter))
}
