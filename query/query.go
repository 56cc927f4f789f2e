package query

import (
	"encoding/json"
	"errors"

	"github.com/oklog/ulid/v2"

	"arbor/hierarchy"
	"arbor/projection"
)

// ErrNotFound means the artifact does not exist or was deleted.
var ErrNotFound = errors.New("query: not found")

// Source is the projection queries read: *projection.Projection.
type Source interface {
	Read(fn func(*projection.State))
}

// Service answers reads. Its fields must be set; it is safe for concurrent
// use.
type Service struct {
	Projection  Source
	Hierarchies hierarchy.Set
}

// Node is an artifact with its place in a hierarchy, as trees and expand
// return it. Children is nil when not loaded (cut off by a depth, or in
// expand), empty for a leaf.
type Node struct {
	projection.Doc
	LevelLabel string  `json:"level_label"`
	Children   *[]Node `json:"children"`
}

// Page is one page of the list of live artifacts, in creation order.
type Page struct {
	Items []projection.Doc `json:"items"`
	Total int              `json:"total"`
	Page  int              `json:"page"`
	Size  int              `json:"size"`
	Pages int              `json:"pages"`
}

// Get returns the live artifact id, or ErrNotFound.
func (q *Service) Get(id ulid.ULID) (projection.Artifact, error) {
	var (
		a  projection.Artifact
		ok bool
	)
	q.Projection.Read(func(s *projection.State) { a, ok = s.Get(id) })
	if !ok || !a.Live {
		return projection.Artifact{}, ErrNotFound
	}
	return a, nil
}

// List returns page number page (from 1) of size items. Items omit their
// data's content.
func (q *Service) List(page, size int) Page {
	p := Page{Page: page, Size: size, Items: []projection.Doc{}}
	q.Projection.Read(func(s *projection.State) {
		p.Total = s.Total()
		if page-1 > p.Total/size {
			return // past the end, and (page-1)*size might overflow
		}
		for _, a := range s.Page((page-1)*size, size) {
			p.Items = append(p.Items, a.Doc(false))
		}
	})
	p.Pages = (p.Total + size - 1) / size
	return p
}

// Tree returns the subtree under id down to maxDepth levels below it
// (negative: all of it). Nodes omit their data's content.
func (q *Service) Tree(id ulid.ULID, maxDepth int) (Node, error) {
	var (
		n   Node
		err error
	)
	q.Projection.Read(func(s *projection.State) {
		a, ok := s.Get(id)
		if !ok || !a.Live {
			err = ErrNotFound
			return
		}
		n = q.tree(s, a, maxDepth)
	})
	return n, err
}

func (q *Service) tree(s *projection.State, a projection.Artifact, depth int) Node {
	n := q.node(a, false)
	if depth == 0 {
		return n
	}
	children := []Node{}
	s.Children(a.ID, func(c projection.Artifact) bool {
		children = append(children, q.tree(s, c, depth-1))
		return true
	})
	n.Children = &children
	return n
}

// Expand returns the live artifact id with its level label, full data and
// no children.
func (q *Service) Expand(id ulid.ULID) (Node, error) {
	a, err := q.Get(id)
	if err != nil {
		return Node{}, err
	}
	return q.node(a, true), nil
}

func (q *Service) node(a projection.Artifact, full bool) Node {
	return Node{Doc: a.Doc(full), LevelLabel: q.Hierarchies.Label(a.Hierarchy, a.Level)}
}

// Metadata returns data.metadata of the live artifact id verbatim, or {}
// when it has none.
func (q *Service) Metadata(id ulid.ULID) (json.RawMessage, error) {
	a, err := q.Get(id)
	if err != nil {
		return nil, err
	}
	var d struct {
		Metadata json.RawMessage `json:"metadata"`
	}
	if json.Unmarshal(a.Data, &d) != nil || len(d.Metadata) == 0 || string(d.Metadata) == "null" {
		return json.RawMessage(`{}`), nil
	}
	return d.Metadata, nil
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
	st := Stats{Hierarchies: map[string]HierarchyStats{}}
	var counts map[string][]int
	q.Projection.Read(func(s *projection.State) {
		st.Total = s.Total()
		counts = s.Counts()
	})
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
