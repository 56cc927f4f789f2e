package command

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/oklog/ulid/v2"

	"arbor/content"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/projection"
)

// A decision is the event a command appends, where it goes and what its
// write expects; prev is the artifact it was decided on.
type decision struct {
	event events.Event
	write events.Write // all but Env
	prev  projection.Artifact
	// taken, when set, is what a failed precondition means for good: no
	// retry can succeed.
	taken error
}

// decideCreate decides the creation of id, with content in the object
// store if not nil, as the state s has it. c is validated already.
//
// A root's creation goes on its own root subject, expecting no creation of
// id as a root in any hierarchy. A child's creation goes on its parent's
// kids subject, expecting one of the parent's seal subjects to be empty:
// the parent's deletion, if it lands first, writes them all.
func decideCreate(s *projection.State, hs hierarchy.Set, c Create, id ulid.ULID, content *events.Content) (decision, error) {
	if _, taken := s.Get(id); taken {
		return decision{}, &ConflictError{Reason: fmt.Sprintf("id %s is already used", id)}
	}
	l := s.Layout()
	ev := events.ArtifactCreated{ID: id, Parent: c.Parent, Tags: c.Tags, Data: c.Data, Content: content}
	var h hierarchy.Hierarchy
	if c.Parent.IsZero() {
		h = hs.Default()
		if c.Hierarchy != "" {
			var ok bool
			if h, ok = hs.Get(c.Hierarchy); !ok {
				return decision{}, invalid("hierarchy", "unknown hierarchy %q (known: %s)", c.Hierarchy, names(hs))
			}
		}
		ev.Hierarchy = h.Name
		place := events.Place{Key: events.Key(id), Hierarchy: h.Name}
		return decision{event: ev, write: events.Write{
			Subject: l.Root(place, id, h.Label(0)),
			Expect:  events.Expect{Subject: l.RootFilter(id)},
			Label:   h.Label(0),
		}, taken: &ConflictError{Reason: fmt.Sprintf("id %s is already used", id)}}, nil
	}
	p, ok := s.Get(c.Parent)
	if !ok || !p.Live || p.Sealed {
		return decision{}, invalid("parent_id", "parent artifact %s not found", c.Parent)
	}
	if c.Hierarchy != "" && c.Hierarchy != p.Hierarchy {
		return decision{}, invalid("hierarchy", "a child belongs to its parent's hierarchy %q", p.Hierarchy)
	}
	h, known := hs.Get(p.Hierarchy)
	if !known {
		h = hierarchy.Hierarchy{Name: p.Hierarchy}
	}
	ev.Hierarchy, ev.Level = p.Hierarchy, p.Level+1
	if !h.Allows(ev.Level) {
		return decision{}, invalid("parent_id", "hierarchy %s has %d levels (%s): no level below %s",
			h.Name, len(h.Labels), strings.Join(h.Labels, ", "), h.Label(p.Level))
	}
	return decision{event: ev, write: events.Write{
		Subject: l.Kids(p.Place(), p.ID, kidsLabel(p, h)),
		Expect:  events.Expect{Subject: l.Seal(p.Place(), p.ID, rand.IntN(l.Seals))},
		Label:   h.Label(ev.Level),
	}}, nil
}

// kidsLabel is the label token of p's kids subject: the one its first
// child's creation used, or the label of the level below p.
func kidsLabel(p projection.Artifact, h hierarchy.Hierarchy) string {
	if p.KidsLabel != "" {
		return p.KidsLabel
	}
	return h.Label(p.Level + 1)
}

// decideUpdate decides the update of the artifact a (found: whether it was
// ever created). u is validated already; moved is its JSON content if it
// went to the object store. Uploaded content of a stays unless the new data
// has content of its own.
func decideUpdate(a projection.Artifact, found bool, hs hierarchy.Set, u Update, moved *events.Content, l events.Layout) (decision, error) {
	switch {
	case !found || !a.Live:
		return decision{}, &projection.NotFoundError{ID: u.ID}
	case u.ParentSet && u.Parent != a.Parent:
		return decision{}, &ConflictError{Reason: "parent_id cannot change: lineage is append-only"}
	case u.IfMatch != 0 && u.IfMatch != a.Version:
		return decision{}, ErrStale
	}
	ev := events.ArtifactUpdated{ID: a.ID, Tags: u.Tags, Data: u.Data, Content: moved}
	if !content.HasInline(u.Data) && a.Content != nil && !a.Content.JSON {
		data, err := stamp(u.Data, *a.Content)
		if err != nil {
			return decision{}, err
		}
		ev.Data, ev.Content = data, a.Content
	}
	return decision{event: ev, write: ownWrite(a, hs, l), prev: a}, nil
}

// ownWrite is a write on a's own subject, expecting it where the state has
// it: nothing else has changed a since.
func ownWrite(a projection.Artifact, hs hierarchy.Set, l events.Layout) events.Write {
	art := l.Art(a.Place(), a.ID)
	return events.Write{Subject: art, Expect: events.Expect{Subject: art, Last: a.OwnSeq}, Label: hs.Label(a.Hierarchy, a.Level)}
}

// decideDelete decides the deletion of the artifact a. An artifact that
// could have children is sealed in the same atomic batch, the seal
// expecting a's kids subject where the state has it: a child created since
// makes the whole batch fail, and a child created after finds the seal.
// At the deepest level of its hierarchy an artifact can have no children,
// and its deletion is one message.
func decideDelete(a projection.Artifact, found bool, hs hierarchy.Set, d Delete, l events.Layout) (decision, error) {
	switch {
	case !found || !a.Live:
		return decision{}, &projection.NotFoundError{ID: d.ID}
	case a.Children > 0:
		return decision{}, &ConflictError{Reason: fmt.Sprintf("artifact has children (%d live); delete them first", a.Children)}
	case d.IfMatch != 0 && d.IfMatch != a.Version:
		return decision{}, ErrStale
	}
	w := ownWrite(a, hs, l)
	h, known := hs.Get(a.Hierarchy)
	if !known {
		h = hierarchy.Hierarchy{Name: a.Hierarchy}
	}
	if h.Allows(a.Level+1) || a.KidsLabel != "" {
		for i := range l.Seals {
			w.Seals = append(w.Seals, l.Seal(a.Place(), a.ID, i))
		}
		w.SealExpect = events.Expect{Subject: l.Kids(a.Place(), a.ID, kidsLabel(a, h)), Last: a.KidsSeq}
	}
	return decision{event: events.ArtifactDeleted{ID: a.ID}, write: w, prev: a}, nil
}

func names(hs hierarchy.Set) string {
	var out []string
	for _, h := range hs.All() {
		out = append(out, h.Name)
	}
	return strings.Join(out, ", ")
}
