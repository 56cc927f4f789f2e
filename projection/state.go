package projection

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
)

// Artifact is the state of one artifact as the fold knows it. Values are
// copies; their slices are never modified after the fold hands them out.
type Artifact struct {
	ID        ulid.ULID
	Parent    ulid.ULID // zero for a root
	Hierarchy string
	Level     int
	Tags      []string
	// Data is the artifact's data as written; Summary is the same without
	// its top-level "content" (the very same bytes when it has none).
	Data    json.RawMessage
	Summary json.RawMessage
	// Content is the artifact's content in the object store, if any. For
	// JSON content moved there, Data holds a null in its place.
	Content *events.Content
	// Version counts the artifact's own events: 1 after its creation.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
	// Live is false once the artifact is deleted; its id stays taken.
	Live bool
	// Children counts live children.
	Children int
	// Boundary is the position of the last event in the artifact's
	// consistency boundary (its own events and its children's creations):
	// what a conditional write into the boundary expects.
	Boundary uint64
	// Created is the position of the artifact's creation event.
	Created uint64
}

type node struct {
	Artifact
	pos      int     // index in State.order
	children []*node // live children in creation order
}

// State is the fold of the log: an index by id, children in creation order,
// boundary positions, live artifacts in creation order and counts. The zero
// value is not usable; call NewState. A State is not safe for concurrent
// use; Projection guards one.
type State struct {
	byID map[ulid.ULID]*node
	// boundary holds the last position of every boundary that has events,
	// including those of events the fold ignored: the server counts them.
	boundary map[ulid.ULID]uint64
	order    []*node // every artifact ever created, in creation order
	live     fenwick // 1 at order[i] while it is live
	counts   map[string][]int
	applied  uint64
}

// NewState returns the fold of an empty log.
func NewState() *State {
	return &State{
		byID:     make(map[ulid.ULID]*node),
		boundary: make(map[ulid.ULID]uint64),
		counts:   make(map[string][]int),
	}
}

// Applied is the position of the last event folded in.
func (s *State) Applied() uint64 { return s.applied }

// Apply folds one event in. It does no I/O and never fails: an event that
// does not fit the state (an unknown type, a creation under a parent that is
// not live, a second creation of an id, a change to an artifact that is not
// live) leaves the artifacts as they are and only moves positions, so that
// every replica of the fold agrees.
func (s *State) Apply(env events.Envelope) {
	s.applied = env.Seq
	if env.Event == nil {
		// The server counted the event in its boundary all the same.
		if p, ok := events.ParseSubject(env.Subject); ok {
			s.boundary[p.Boundary] = env.Seq
		}
		return
	}
	// The server counts an event in the boundary its subject names. An
	// event whose subject and body disagree was not written by arbor's
	// commands: count it there, and fold nothing from it.
	if p, ok := events.ParseSubject(env.Subject); ok &&
		(p.Boundary != events.Boundary(env.Event) || p.Artifact != env.Event.ArtifactID()) {
		s.boundary[p.Boundary] = env.Seq
		return
	}
	s.boundary[events.Boundary(env.Event)] = env.Seq
	switch ev := env.Event.(type) {
	case events.ArtifactCreated:
		s.create(env, ev)
	case events.ArtifactUpdated:
		if n := s.byID[ev.ID]; n != nil && n.Live {
			n.Artifact = n.Artifact.AfterUpdate(env, ev)
		}
	case events.ArtifactDeleted:
		if n := s.byID[ev.ID]; n != nil && n.Live && len(n.children) == 0 {
			s.delete(env, n)
		}
	}
}

func (s *State) delete(env events.Envelope, n *node) {
	n.Live = false
	n.Version++
	n.UpdatedAt = env.Time
	n.Data, n.Summary, n.Tags, n.Content = nil, nil, nil, nil
	s.live.add(n.pos, -1)
	s.counts[n.Hierarchy][n.Level]--
	if p := s.byID[n.Parent]; p != nil {
		p.children = slices.DeleteFunc(p.children, func(c *node) bool { return c == n })
	}
}

func (s *State) create(env events.Envelope, ev events.ArtifactCreated) {
	if _, taken := s.byID[ev.ID]; taken {
		return
	}
	var parent *node
	if !ev.Parent.IsZero() {
		if parent = s.byID[ev.Parent]; parent == nil || !parent.Live || ev.Level != parent.Level+1 {
			return
		}
	} else if ev.Level != 0 {
		return
	}
	n := &node{Artifact: AfterCreate(env, ev), pos: len(s.order)}
	s.byID[ev.ID] = n
	s.order = append(s.order, n)
	s.live.push(1)
	c := s.counts[ev.Hierarchy]
	for len(c) <= ev.Level {
		c = append(c, 0)
	}
	c[ev.Level]++
	s.counts[ev.Hierarchy] = c
	if parent != nil {
		parent.children = append(parent.children, n)
	}
}

// AfterCreate is the artifact the creation ev at env makes.
func AfterCreate(env events.Envelope, ev events.ArtifactCreated) Artifact {
	a := Artifact{
		ID: ev.ID, Parent: ev.Parent, Hierarchy: ev.Hierarchy, Level: ev.Level,
		Tags: ev.Tags, Data: ev.Data, Summary: withoutContent(ev.Data), Content: ev.Content,
		Version: 1, CreatedAt: env.Time, UpdatedAt: env.Time,
		Live: true, Created: env.Seq,
	}
	if events.Boundary(ev) == ev.ID {
		a.Boundary = env.Seq
	}
	return a
}

// AfterUpdate is a once the update ev at env is applied.
func (a Artifact) AfterUpdate(env events.Envelope, ev events.ArtifactUpdated) Artifact {
	a.Tags, a.Data, a.Summary, a.Content = ev.Tags, ev.Data, withoutContent(ev.Data), ev.Content
	a.Version++
	a.UpdatedAt = env.Time
	a.Boundary = env.Seq
	return a
}

// Get returns the artifact with id, live or deleted, and whether it was
// ever created.
func (s *State) Get(id ulid.ULID) (Artifact, bool) {
	n := s.byID[id]
	if n == nil {
		return Artifact{}, false
	}
	return s.artifact(n), true
}

// artifact is n as readers see it, with its boundary's position and its
// number of live children.
func (s *State) artifact(n *node) Artifact {
	a := n.Artifact
	a.Boundary = s.boundary[n.ID]
	a.Children = len(n.children)
	return a
}

// BoundaryOf is the position of the last event in id's boundary, zero when
// it has none. It is defined for ids not (or not yet) created too.
func (s *State) BoundaryOf(id ulid.ULID) uint64 { return s.boundary[id] }

// Children calls fn with each live child of id in creation order until fn
// returns false.
func (s *State) Children(id ulid.ULID, fn func(Artifact) bool) {
	n := s.byID[id]
	if n == nil {
		return
	}
	for _, c := range n.children {
		if !fn(s.artifact(c)) {
			return
		}
	}
}

// Total is the number of live artifacts.
func (s *State) Total() int { return s.live.sum() }

// Page returns up to size live artifacts in creation order, skipping the
// first offset. It costs O(size log n), however many were deleted.
func (s *State) Page(offset, size int) []Artifact {
	total := s.Total()
	if offset < 0 || size <= 0 || offset >= total {
		return nil
	}
	end := min(total, offset+size)
	out := make([]Artifact, 0, end-offset)
	for k := offset; k < end; k++ {
		out = append(out, s.artifact(s.order[s.live.find(k+1)]))
	}
	return out
}

// Counts returns the live artifacts per hierarchy and level.
func (s *State) Counts() map[string][]int {
	out := make(map[string][]int, len(s.counts))
	for h, c := range s.counts {
		out[h] = slices.Clone(c)
	}
	return out
}
