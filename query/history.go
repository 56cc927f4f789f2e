package query

import (
	"context"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/projection"
)

// Log is where reads of earlier versions find the events that made them:
// *events.Log.
type Log interface {
	Fetch(ctx context.Context, seqs []uint64) (map[uint64]events.Envelope, error)
	FetchOn(ctx context.Context, subject string, from, to uint64, n int) ([]events.Envelope, error)
	PositionAt(ctx context.Context, t time.Time) (uint64, error)
	LastSeq(ctx context.Context) (uint64, error)
}

// AsOf is a point in the log's past, as a client names it: a position, or
// a time (when the log had stored the events).
type AsOf struct {
	Pos  uint64
	Time time.Time // if not zero, rather than Pos
}

// Position is the position as names, once the projection has applied it
// (or the whole log, if that is shorter); it waits at most wait.
func (q *Service) Position(ctx context.Context, as AsOf, wait time.Duration) (uint64, error) {
	pos := as.Pos
	if !as.Time.IsZero() {
		var err error
		if pos, err = q.Log.PositionAt(ctx, as.Time); err != nil {
			return 0, fmt.Errorf("%w: %v", events.ErrUnavailable, err)
		}
	}
	if q.Projection.Applied() >= pos {
		return pos, nil
	}
	last, err := q.Log.LastSeq(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", events.ErrUnavailable, err)
	}
	pos = min(pos, last)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := q.Projection.WaitFor(ctx, pos); err != nil {
		return 0, fmt.Errorf("%w: the projection has not reached position %d", events.ErrUnavailable, pos)
	}
	return pos, nil
}

// Version is one version of an artifact: the artifact as the event at
// Position left it. A deletion's Artifact has no data, tags or content.
type Version struct {
	Artifact projection.Artifact
	Type     string
	Time     time.Time
	Position uint64
}

// History returns every version of the artifact id, live or deleted,
// oldest first. It reads the events from the log: one direct get for the
// creation and one batch for the changes.
func (q *Service) History(ctx context.Context, id ulid.ULID) ([]Version, error) {
	var (
		a         projection.Artifact
		positions []uint64
		ok        bool
		art       string
	)
	q.Projection.Read(func(s *projection.State) {
		a, positions, ok = s.Versions(id)
		art = s.Layout().Art(a.Place(), a.ID)
	})
	if !ok {
		return nil, &projection.NotFoundError{ID: id}
	}
	found, err := q.Log.Fetch(ctx, positions[:1])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", events.ErrUnavailable, err)
	}
	if len(positions) > 1 {
		changes, err := q.Log.FetchOn(ctx, art, positions[1], positions[len(positions)-1], len(positions)-1)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", events.ErrUnavailable, err)
		}
		for _, env := range changes {
			found[env.Seq] = env
		}
		var missing []uint64 // events of the first layout, on other subjects
		for _, seq := range positions[1:] {
			if _, ok := found[seq]; !ok {
				missing = append(missing, seq)
			}
		}
		if len(missing) > 0 {
			more, err := q.Log.Fetch(ctx, missing)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", events.ErrUnavailable, err)
			}
			for seq, env := range more {
				found[seq] = env
			}
		}
	}
	out := make([]Version, 0, len(positions))
	for i, seq := range positions {
		env := found[seq]
		v := Version{Type: "artifact.deleted", Time: env.Time, Position: seq}
		if env.Event != nil {
			v.Type = env.Event.EventType()
		}
		if _, deleted := env.Event.(events.ArtifactDeleted); !deleted {
			then := projection.Then{Artifact: a, Need: seq}
			then.Version = i + 1
			if v.Artifact, ok = then.With(env); !ok {
				return nil, fmt.Errorf("position %d does not hold version %d of %s", seq, i+1, id)
			}
		} else {
			v.Artifact = a
			v.Artifact.Version, v.Artifact.Live = i+1, false
			v.Artifact.Data, v.Artifact.ListData, v.Artifact.Tags, v.Artifact.Content = nil, nil, nil, nil
			v.Artifact.UpdatedAt = env.Time
		}
		out = append(out, v)
	}
	return out, nil
}

// AtVersion returns the artifact id as version n left it, or
// ErrNotFound when it has no version n or version n is its deletion.
func (q *Service) AtVersion(ctx context.Context, id ulid.ULID, n int) (projection.Artifact, error) {
	var (
		a         projection.Artifact
		positions []uint64
		ok        bool
	)
	q.Projection.Read(func(s *projection.State) { a, positions, ok = s.Versions(id) })
	notFound := &projection.NotFoundError{ID: id}
	switch {
	case !ok || n < 1 || n > len(positions), n == len(positions) && !a.Live:
		return projection.Artifact{}, notFound
	case n == len(positions):
		return a, nil
	}
	then := projection.Then{Artifact: a, Need: positions[n-1]}
	then.Version, then.Live = n, true
	as, err := q.settle(ctx, []projection.Then{then})
	if err != nil {
		return projection.Artifact{}, err
	}
	return as[0], nil
}

// settle gives each of thens the data it had then, reading from the log
// the events of those that changed since.
func (q *Service) settle(ctx context.Context, thens []projection.Then) ([]projection.Artifact, error) {
	var need []uint64
	for _, t := range thens {
		if t.Need != 0 {
			need = append(need, t.Need)
		}
	}
	var found map[uint64]events.Envelope
	if len(need) > 0 {
		var err error
		if found, err = q.Log.Fetch(ctx, need); err != nil {
			return nil, fmt.Errorf("%w: %v", events.ErrUnavailable, err)
		}
	}
	out := make([]projection.Artifact, len(thens))
	for i, t := range thens {
		out[i] = t.Artifact
		if t.Need == 0 {
			continue
		}
		a, ok := t.With(found[t.Need])
		if !ok {
			return nil, fmt.Errorf("position %d does not hold version %d of %s", t.Need, t.Version, t.ID)
		}
		out[i] = a
	}
	return out, nil
}

// GetAt returns the artifact id as it stood at position pos, or
// ErrNotFound when it was not live then.
func (q *Service) GetAt(ctx context.Context, id ulid.ULID, pos uint64) (projection.Artifact, error) {
	var (
		t  projection.Then
		ok bool
	)
	q.Projection.Read(func(s *projection.State) { t, ok = s.At(id, pos) })
	if !ok {
		return projection.Artifact{}, &projection.NotFoundError{ID: id}
	}
	as, err := q.settle(ctx, []projection.Then{t})
	if err != nil {
		return projection.Artifact{}, err
	}
	return as[0], nil
}

// thenTree is a tree of artifacts as they stood at one position, before
// their data is settled.
type thenTree struct {
	then     projection.Then
	children []*thenTree // nil when not loaded
}

// TreeAt is Tree as of position pos.
func (q *Service) TreeAt(ctx context.Context, id ulid.ULID, maxDepth int, pos uint64) (Tree, error) {
	var (
		root *thenTree
		all  []*thenTree
	)
	q.Projection.Read(func(s *projection.State) {
		t, ok := s.At(id, pos)
		if !ok {
			return
		}
		root = &thenTree{then: t}
		all = append(all, root)
		var walk func(n *thenTree, depth int)
		walk = func(n *thenTree, depth int) {
			if depth == 0 {
				return
			}
			n.children = []*thenTree{}
			s.ChildrenAt(n.then.ID, pos, func(c projection.Then) bool {
				child := &thenTree{then: c}
				n.children = append(n.children, child)
				all = append(all, child)
				walk(child, depth-1)
				return true
			})
		}
		walk(root, maxDepth)
	})
	if root == nil {
		return Tree{}, &projection.NotFoundError{ID: id}
	}
	thens := make([]projection.Then, len(all))
	for i, n := range all {
		thens[i] = n.then
	}
	as, err := q.settle(ctx, thens)
	if err != nil {
		return Tree{}, err
	}
	index := make(map[*thenTree]projection.Artifact, len(all))
	for i, n := range all {
		index[n] = as[i]
	}
	var build func(n *thenTree) Tree
	build = func(n *thenTree) Tree {
		t := q.node(index[n])
		if n.children != nil {
			t.Children = make([]Tree, len(n.children))
			for i, c := range n.children {
				t.Children[i] = build(c)
			}
		}
		return t
	}
	return build(root), nil
}

// AncestorsAt is Ancestors as of position pos.
func (q *Service) AncestorsAt(ctx context.Context, id ulid.ULID, pos uint64) ([]Tree, error) {
	var (
		thens []projection.Then
		ok    bool
	)
	q.Projection.Read(func(s *projection.State) {
		var t projection.Then
		if t, ok = s.At(id, pos); !ok {
			return
		}
		for p, live := s.At(t.Parent, pos); live; p, live = s.At(p.Parent, pos) {
			thens = append([]projection.Then{p}, thens...)
		}
	})
	if !ok {
		return nil, &projection.NotFoundError{ID: id}
	}
	as, err := q.settle(ctx, thens)
	if err != nil {
		return nil, err
	}
	out := make([]Tree, len(as))
	for i, a := range as {
		out[i] = q.node(a)
	}
	return out, nil
}

// ExpandAt is Expand as of position pos.
func (q *Service) ExpandAt(ctx context.Context, id ulid.ULID, pos uint64) (Tree, error) {
	a, err := q.GetAt(ctx, id, pos)
	if err != nil {
		return Tree{}, err
	}
	return q.node(a), nil
}

// StatsAt is Stats as of position pos. It visits every artifact created
// by then.
func (q *Service) StatsAt(pos uint64) Stats {
	counts := map[string][]int{}
	total := 0
	q.Projection.Read(func(s *projection.State) {
		// Every level Stats shows, at zero: the answers have one shape.
		for h, c := range s.Counts() {
			counts[h] = make([]int, len(c))
		}
		s.EachAt(projection.Selection{}, pos, func(t projection.Then) bool {
			c := counts[t.Hierarchy]
			for len(c) <= t.Level {
				c = append(c, 0)
			}
			c[t.Level]++
			counts[t.Hierarchy] = c
			total++
			return true
		})
	})
	return q.stats(total, counts)
}
