package query

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/oklog/ulid/v2"

	"arbor/content"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/jsonobj"
	"arbor/projection"
)

// ErrNotFound means the artifact does not exist or was deleted; errors
// about one artifact are *projection.NotFoundError, which wraps it.
var ErrNotFound = projection.ErrNotFound

// Source is the projection queries read: *projection.Projection.
type Source interface {
	Read(fn func(*projection.State))
	Applied() uint64
	WaitFor(ctx context.Context, pos uint64) error
}

// ErrNoContent means an artifact has no content to download.
var ErrNoContent = errors.New("query: artifact has no content")

// Blobs reads content kept in the object store: *blobstore.Store.
type Blobs interface {
	ReadAll(ctx context.Context, sha256 string) ([]byte, error)
}

// Service answers reads. Its fields must be set (Blobs only for Content);
// it is safe for concurrent use.
type Service struct {
	Projection  Source
	Hierarchies hierarchy.Set
	Blobs       Blobs
	Log         Log
}

// Tree is an artifact with its level label and, when loaded, its live
// children in creation order. Children is nil when not loaded (cut off by
// a depth, or in expand), empty for a leaf.
type Tree struct {
	Artifact   projection.Artifact
	LevelLabel string
	Children   []Tree
}

// Page is one page of a list. Next, when more follow, is where the page
// ended.
type Page struct {
	Items []projection.Artifact
	Total int
	Page  int
	Size  int
	Pages int
	Next  *Cursor
}

// Get returns the live artifact id, or ErrNotFound.
func (q *Service) Get(id ulid.ULID) (projection.Artifact, error) {
	var (
		a  projection.Artifact
		ok bool
	)
	q.Projection.Read(func(s *projection.State) { a, ok = s.Get(id) })
	if !ok || !a.Live {
		return projection.Artifact{}, &projection.NotFoundError{ID: id}
	}
	return a, nil
}

// Tree returns the subtree under id down to maxDepth levels below it
// (negative: all of it), as of one position.
func (q *Service) Tree(id ulid.ULID, maxDepth int) (Tree, error) {
	var (
		t   Tree
		err error
	)
	q.Projection.Read(func(s *projection.State) {
		a, ok := s.Get(id)
		if !ok || !a.Live {
			err = &projection.NotFoundError{ID: id}
			return
		}
		t = q.tree(s, a, maxDepth)
	})
	return t, err
}

func (q *Service) tree(s *projection.State, a projection.Artifact, depth int) Tree {
	t := q.node(a)
	if depth == 0 {
		return t
	}
	t.Children = []Tree{}
	s.Children(a.ID, func(c projection.Artifact) bool {
		t.Children = append(t.Children, q.tree(s, c, depth-1))
		return true
	})
	return t
}

// Ancestors returns the ancestors of the live artifact id with their level
// labels, its root first and its parent last (none for a root), as of one
// position. It costs one step per level.
func (q *Service) Ancestors(id ulid.ULID) ([]Tree, error) {
	var (
		out []Tree
		err error
	)
	q.Projection.Read(func(s *projection.State) {
		a, ok := s.Get(id)
		if !ok || !a.Live {
			err = &projection.NotFoundError{ID: id}
			return
		}
		// A live artifact's ancestors are live: a parent with a live child
		// cannot be deleted.
		for p, ok := s.Get(a.Parent); ok; p, ok = s.Get(p.Parent) {
			out = append(out, q.node(p))
		}
	})
	slices.Reverse(out)
	return out, err
}

// Expand returns the live artifact id with its level label and no
// children.
func (q *Service) Expand(id ulid.ULID) (Tree, error) {
	a, err := q.Get(id)
	if err != nil {
		return Tree{}, err
	}
	return q.node(a), nil
}

func (q *Service) node(a projection.Artifact) Tree {
	return Tree{Artifact: a, LevelLabel: q.Hierarchies.Label(a.Hierarchy, a.Level)}
}

// Metadata returns data.metadata of the live artifact id verbatim, or {}
// when it has none.
func (q *Service) Metadata(id ulid.ULID) (json.RawMessage, error) {
	a, err := q.Get(id)
	if err != nil {
		return nil, err
	}
	// Keys compare exactly (after unescaping): "Metadata" is another member.
	m, ok := jsonobj.Get(a.Data, "metadata")
	if !ok || string(m.Value) == "null" {
		return json.RawMessage(`{}`), nil
	}
	return m.Value, nil
}

// Stats counts live artifacts, in all and per hierarchy and level label.
type Stats struct {
	Total       int                       `json:"total"`
	Hierarchies map[string]HierarchyStats `json:"hierarchies"`
}

// HierarchyStats counts the live artifacts of one hierarchy.
type HierarchyStats struct {
	Total  int            `json:"total"`
	Levels map[string]int `json:"levels"`
}

// Stats returns the counts.
func (q *Service) Stats() Stats {
	var (
		total  int
		counts map[string][]int
	)
	q.Projection.Read(func(s *projection.State) {
		total = s.Total()
		counts = s.Counts()
	})
	return q.stats(total, counts)
}

func (q *Service) stats(total int, counts map[string][]int) Stats {
	st := Stats{Total: total, Hierarchies: map[string]HierarchyStats{}}
	for _, h := range q.Hierarchies.All() {
		st.Hierarchies[h.Name] = HierarchyStats{Levels: map[string]int{}}
	}
	for name, levels := range counts {
		hs := HierarchyStats{Levels: map[string]int{}}
		for level, n := range levels {
			hs.Total += n
			hs.Levels[q.Hierarchies.Label(name, level)] = n
		}
		st.Hierarchies[name] = hs
	}
	return st
}

// Content is what an artifact's download serves: a file kept in the object
// store (File), or JSON content, inline in the data or moved to the object
// store and read back (JSON).
type Content struct {
	Type      string          // the media type
	File      *events.Content // a file: serve its bytes as stored
	JSON      json.RawMessage // JSON content, when File is nil
	DataFrame bool            // the JSON content is a DataFrame
}

// Content returns the live artifact id and what its download serves, or
// ErrNoContent.
func (q *Service) Content(ctx context.Context, id ulid.ULID) (projection.Artifact, Content, error) {
	a, err := q.Get(id)
	if err != nil {
		return a, Content{}, err
	}
	if c := a.Content; c != nil && !c.JSON {
		return a, Content{Type: c.Type, File: c}, nil
	}
	out := Content{Type: content.TypeOf(a.Data, "application/json"), DataFrame: content.IsDataFrame(a.Data)}
	if c := a.Content; c != nil {
		out.JSON, err = q.Blobs.ReadAll(ctx, c.SHA256)
		return a, out, err
	}
	m, ok := content.Inline(a.Data)
	if !ok {
		return a, Content{}, ErrNoContent
	}
	out.JSON = m.Value
	return a, out, nil
}
