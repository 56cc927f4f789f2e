package projection

import (
	"cmp"
	"slices"
	"sort"

	"github.com/oklog/ulid/v2"

	"arbor/content"
	"arbor/events"
)

// An artifact's history is the positions of the events the fold applied
// to it: its creation (CreatedSeq), then its updates and its deletion,
// one per version. The events themselves stay in the log, which reads of
// earlier versions fetch them from; memory keeps the positions of the
// artifacts changed since their creation, and the deleted children of
// every parent (tombstones), which reads as of an earlier position need.

// Versions returns the artifact with id, live or deleted, the positions of
// its events (version v at index v-1), and whether it was ever created.
func (s *State) Versions(id ulid.ULID) (Artifact, []uint64, bool) {
	n := s.byID[id]
	if n == nil {
		return Artifact{}, nil, false
	}
	return s.artifact(n), s.positions(n), true
}

// positions are n's event positions, creation first. The slice is new.
func (s *State) positions(n *node) []uint64 {
	return append([]uint64{n.CreatedSeq}, s.changes[n.ID]...)
}

// Then is an artifact as it stood at an earlier position. Memory holds the
// current version only: when Need is not zero, the artifact's Data,
// ListData, Tags, Content and UpdatedAt are those of the event at position
// Need, which the reader fetches from the log (see Artifact.Became).
type Then struct {
	Artifact
	Need uint64
}

// At returns the artifact with id as it stood once the event at position
// pos was applied, and whether it was live then.
func (s *State) At(id ulid.ULID, pos uint64) (Then, bool) {
	n := s.byID[id]
	if n == nil {
		return Then{}, false
	}
	return s.at(n, pos)
}

func (s *State) at(n *node, pos uint64) (Then, bool) {
	if n.CreatedSeq > pos {
		return Then{}, false
	}
	changes := s.changes[n.ID]
	k := 1 + sort0(changes, pos) // events at or before pos
	switch {
	case k == 1+len(changes) && !n.Live:
		return Then{}, false // deleted by then
	case k == 1+len(changes):
		t := Then{Artifact: s.artifact(n)}
		t.Children = len(s.kidsAt(n, pos))
		return t, true
	}
	t := Then{Artifact: n.Artifact, Need: n.CreatedSeq}
	if k > 1 {
		t.Need = changes[k-2]
	}
	t.Version, t.Live = k, true
	t.Children = len(s.kidsAt(n, pos))
	return t, true
}

// sort0 is the number of positions in the increasing ps at or before pos.
func sort0(ps []uint64, pos uint64) int {
	i, found := slices.BinarySearch(ps, pos)
	if found {
		i++
	}
	return i
}

// ChildrenAt calls fn with each child of id that was live at position pos,
// in creation order, as it stood then, until fn returns false.
func (s *State) ChildrenAt(id ulid.ULID, pos uint64, fn func(Then) bool) {
	n := s.byID[id]
	if n == nil {
		return
	}
	for _, c := range s.kidsAt(n, pos) {
		if t, ok := s.at(c, pos); ok && !fn(t) {
			return
		}
	}
}

// kidsAt is n's children that were live at position pos, in creation
// order: from its live children and its deleted ones, those created by
// then and not yet deleted.
func (s *State) kidsAt(n *node, pos uint64) []*node {
	kids := n.children
	if gone := s.dead[n.ID]; len(gone) > 0 {
		kids = slices.SortedFunc(slices.Values(slices.Concat(kids, gone)), func(a, b *node) int { return cmp.Compare(a.pos, b.pos) })
	}
	end := sort.Search(len(kids), func(i int) bool { return kids[i].CreatedSeq > pos })
	out := kids[:end:end]
	return slices.DeleteFunc(slices.Clone(out), func(c *node) bool { return !s.liveAt(c, pos) })
}

// liveAt reports whether n was live at position pos.
func (s *State) liveAt(n *node, pos uint64) bool {
	if n.CreatedSeq > pos {
		return false
	}
	if n.Live {
		return true
	}
	changes := s.changes[n.ID]
	return len(changes) > 0 && changes[len(changes)-1] > pos
}

// With is t once the event at t.Need, env, read from the log, gives it the
// data, tags, content and update time it had then. It reports false when
// env is not an event that could have made that version.
func (t Then) With(env events.Envelope) (Artifact, bool) {
	a := t.Artifact
	switch ev := env.Event.(type) {
	case events.ArtifactCreated:
		if ev.ID != a.ID || t.Version != 1 {
			return a, false
		}
		a.Tags, a.Data, a.Content = ev.Tags, ev.Data, ev.Content
		a.UpdatedAt = a.CreatedAt
	case events.ArtifactUpdated:
		if ev.ID != a.ID || t.Version < 2 {
			return a, false
		}
		a.Tags, a.Data, a.Content = ev.Tags, ev.Data, ev.Content
		a.UpdatedAt = env.Time
	default:
		return a, false
	}
	a.ListData = content.Strip(a.Data)
	return a, true
}
