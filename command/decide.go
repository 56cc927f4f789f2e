package command

import (
	"fmt"
	"strings"

	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/jsonobj"
	"arbor/projection"
)

// A decision is the event a command appends, where, and the position its
// boundary must still be at; prev is the artifact it was decided on.
type decision struct {
	event events.Event
	addr  events.Address
	last  uint64
	prev  projection.Artifact
}

// decideCreate decides the creation of id, with content in the object
// store if not nil, as the state s has it. c is validated already.
func decideCreate(s *projection.State, hs hierarchy.Set, c Create, id ulid.ULID, content *events.Content) (decision, error) {
	if _, taken := s.Get(id); taken {
		return decision{}, &ConflictError{Reason: fmt.Sprintf("id %s is already used", id)}
	}
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
		// A root's creation opens its own boundary, which is empty unless
		// the id was used before.
		return decision{event: ev, addr: address(h, 0), last: s.BoundaryOf(id)}, nil
	}
	p, ok := s.Get(c.Parent)
	if !ok || !p.Live {
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
	return decision{event: ev, addr: address(h, ev.Level), last: p.Boundary}, nil
}

// decideUpdate decides the update of the artifact a (found: whether it was
// ever created). u is validated already; moved is its JSON content if it
// went to the object store. Uploaded content of a stays unless the new data
// has content of its own.
func decideUpdate(a projection.Artifact, found bool, hs hierarchy.Set, u Update, moved *events.Content) (decision, error) {
	switch {
	case !found || !a.Live:
		return decision{}, ErrNotFound
	case u.ParentSet && u.Parent != a.Parent:
		return decision{}, &ConflictError{Reason: "parent_id cannot change: lineage is append-only"}
	case u.IfMatch != 0 && u.IfMatch != a.Version:
		return decision{}, ErrStale
	}
	ev := events.ArtifactUpdated{ID: a.ID, Tags: u.Tags, Data: u.Data, Content: moved}
	if _, inline := jsonobj.Get(u.Data, "content"); !inline && a.Content != nil && !a.Content.JSON {
		data, err := stamp(u.Data, *a.Content)
		if err != nil {
			return decision{}, err
		}
		ev.Data, ev.Content = data, a.Content
	}
	return decision{event: ev, addr: addressOf(hs, a), last: a.Boundary, prev: a}, nil
}

// decideDelete decides the deletion of the artifact a.
func decideDelete(a projection.Artifact, found bool, hs hierarchy.Set, d Delete) (decision, error) {
	switch {
	case !found || !a.Live:
		return decision{}, ErrNotFound
	case a.Children > 0:
		return decision{}, &ConflictError{Reason: fmt.Sprintf("artifact has children (%d live); delete them first", a.Children)}
	case d.IfMatch != 0 && d.IfMatch != a.Version:
		return decision{}, ErrStale
	}
	return decision{event: events.ArtifactDeleted{ID: a.ID}, addr: addressOf(hs, a), last: a.Boundary}, nil
}

func address(h hierarchy.Hierarchy, level int) events.Address {
	return events.Address{Hierarchy: h.Name, Label: h.Label(level)}
}

func addressOf(hs hierarchy.Set, a projection.Artifact) events.Address {
	return events.Address{Hierarchy: a.Hierarchy, Label: hs.Label(a.Hierarchy, a.Level)}
}

func names(hs hierarchy.Set) string {
	var out []string
	for _, h := range hs.All() {
		out = append(out, h.Name)
	}
	return strings.Join(out, ", ")
}
