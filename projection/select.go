package projection

import (
	"slices"
	"sort"
	"time"

	"github.com/oklog/ulid/v2"
)

// Level is one level of one hierarchy.
type Level struct {
	Hierarchy string
	Level     int
}

// Selection narrows the list of artifacts. Its zero value selects every
// live artifact.
type Selection struct {
	Hierarchy string  // empty: any
	Levels    []Level // nil: any; empty: none
	// Parent, when HasParent, selects its children.
	Parent    ulid.ULID
	HasParent bool
	Tags      []string // each among the artifact's tags
	// Strict bounds on the artifact's times; zero: none.
	CreatedAfter, CreatedBefore, UpdatedAfter time.Time
}

// Candidate is one artifact a selection found, for a further test or
// sort that the state does not know.
type Candidate struct {
	node *node
}

// Artifact is the candidate as it is now.
func (c Candidate) Artifact(s *State) Artifact { return s.artifact(c.node) }

// Peek is the candidate as it is now, without a copy or its count of
// children: to read while the state is, never to keep or change.
func (c Candidate) Peek() *Artifact { return &c.node.Artifact }

// Seq is the candidate's creation position: its place in creation order.
func (c Candidate) Seq() uint64 { return c.node.CreatedSeq }

// source is a list of artifacts in creation order that a selection
// starts from, with a flag per entry that is set while it counts.
type source struct {
	nodes []*node
	live  *fenwick // nil: every entry counts
}

func (src source) counts(i int) bool { return src.live == nil || src.live.get(i) }

// before is the number of entries that count among the first i.
func (src source) before(i int) int {
	if src.live == nil {
		return i
	}
	return src.live.prefix(i)
}

// kth is the index of the k-th entry that counts (k from 1).
func (src source) kth(k int) int {
	if src.live == nil {
		return k - 1
	}
	return src.live.find(k)
}

// search is the index of the first entry created at or after position
// pos of the creation order.
func (src source) search(pos int) int {
	return sort.Search(len(src.nodes), func(i int) bool { return src.nodes[i].pos >= pos })
}

// sources are the lists that sel can start from: each holds every live
// artifact sel selects, and more. None at all means sel selects nothing.
func (s *State) sources(sel Selection) []source {
	var out []source
	add := func(p *postings) {
		if p == nil {
			p = &postings{}
		}
		out = append(out, source{nodes: p.nodes, live: &p.live})
	}
	if sel.HasParent {
		if p := s.byID[sel.Parent]; p != nil {
			out = append(out, source{nodes: p.children})
		} else {
			out = append(out, source{})
		}
	}
	if sel.Levels != nil {
		switch len(sel.Levels) {
		case 0:
			out = append(out, source{})
		case 1:
			add(s.index.byLevel[levelKey{sel.Levels[0].Hierarchy, sel.Levels[0].Level}])
		}
	}
	if sel.Hierarchy != "" {
		add(s.index.byHierarchy[sel.Hierarchy])
	}
	for _, t := range sel.Tags {
		add(s.index.byTag[t])
	}
	if len(out) == 0 {
		out = append(out, source{nodes: s.order, live: &s.live})
	}
	return out
}

// matches reports whether the live artifact n is one sel selects.
func (s *State) matches(n *node, sel Selection) bool {
	if !s.matchesFixed(n, sel) || !sel.UpdatedAfter.IsZero() && !n.UpdatedAt.After(sel.UpdatedAfter) {
		return false
	}
	for _, t := range sel.Tags {
		if !slices.Contains(n.Tags, t) {
			return false
		}
	}
	return true
}

// createdRange is the range [lo, hi) of the creation order where sel's
// created bounds may hold.
func (s *State) createdRange(sel Selection) (lo, hi int) {
	sp := s.times.span(len(s.order), sel.CreatedAfter, sel.CreatedBefore)
	return sp.a, sp.d
}

// Select returns the number of live artifacts sel selects and up to size
// of them in creation order (newest first when desc), skipping the first
// offset, or, when after is not zero, those created after (before, when
// desc) the artifact created at position after. Together they cost
// O(size log n) when sel names one list (a hierarchy, a level, a parent
// or a tag, with or without a created range); otherwise O(n) in the
// shortest list named.
func (s *State) Select(sel Selection, desc bool, after uint64, offset, size int) (page []Artifact, total int) {
	src, exact := s.pick(sel)
	var list selected
	if exact {
		list = s.ranked(src, sel)
	} else {
		lo, hi := s.createdRange(sel)
		var all []*node
		for i := src.search(lo); i < src.search(hi); i++ {
			if n := src.nodes[i]; src.counts(i) && s.matches(n, sel) {
				all = append(all, n)
			}
		}
		list = selected{head: all}
	}
	total = list.len()
	start, end := min(offset, total), total // the ranks of the page, ascending
	if after != 0 {
		start = list.upTo(after)
		if desc {
			start, end = 0, list.upTo(after-1)
		}
	} else if desc {
		start, end = 0, total-min(offset, total)
	}
	for k := range min(size, end-start) {
		r := start + k
		if desc {
			r = end - 1 - k
		}
		page = append(page, s.artifact(list.at(r)))
	}
	return page, total
}

// selected is a list of the artifacts a selection picks, in creation
// order: head, then the entries that count in [from, to) of src, then
// tail.
type selected struct {
	head, tail []*node
	src        source
	from, to   int
}

// ranked is what sel selects from the one list src it names: the entries
// that count in the created range, those of its bands that pass the test.
func (s *State) ranked(src source, sel Selection) selected {
	sp := s.times.span(len(s.order), sel.CreatedAfter, sel.CreatedBefore)
	band := func(lo, hi int) []*node {
		var out []*node
		for i := src.search(lo); i < src.search(hi); i++ {
			if n := src.nodes[i]; src.counts(i) && s.matches(n, sel) {
				out = append(out, n)
			}
		}
		return out
	}
	return selected{head: band(sp.a, sp.b), tail: band(sp.c, sp.d), src: src, from: src.search(sp.b), to: src.search(sp.c)}
}

func (l selected) middle() int { return l.src.before(l.to) - l.src.before(l.from) }

func (l selected) len() int { return len(l.head) + l.middle() + len(l.tail) }

// at is the artifact of rank r (from 0).
func (l selected) at(r int) *node {
	if r < len(l.head) {
		return l.head[r]
	}
	r -= len(l.head)
	if m := l.middle(); r >= m {
		return l.tail[r-m]
	}
	return l.src.nodes[l.src.kth(l.src.before(l.from)+r+1)]
}

// upTo is the number of artifacts in l created at or before position seq.
func (l selected) upTo(seq uint64) int {
	count := func(ns []*node) int {
		return sort.Search(len(ns), func(i int) bool { return ns[i].CreatedSeq > seq })
	}
	n := count(l.head)
	if l.middle() > 0 {
		i := sort.Search(l.to-l.from, func(i int) bool { return l.src.nodes[l.from+i].CreatedSeq > seq })
		n += l.src.before(l.from+i) - l.src.before(l.from)
	}
	return n + count(l.tail)
}

// pick chooses the shortest list sel can start from, and reports whether
// sel names that list alone (and perhaps a created range), so that
// ranked can select from it.
func (s *State) pick(sel Selection) (source, bool) {
	srcs := s.sources(sel)
	best := srcs[0]
	for _, src := range srcs[1:] {
		if len(src.nodes) < len(best.nodes) {
			best = src
		}
	}
	named := len(srcs)
	if sel.Levels == nil && sel.Hierarchy == "" && !sel.HasParent && len(sel.Tags) == 0 {
		named = 1 // the whole order
	}
	return best, named == 1 && len(sel.Levels) <= 1 && sel.UpdatedAfter.IsZero()
}

// Each calls fn with every live artifact sel selects, in creation order,
// until fn returns false: for tests the state cannot run (a filter
// expression) or sorts it does not keep. It costs O(n) in the shortest
// list sel names.
func (s *State) Each(sel Selection, fn func(Candidate) bool) {
	src, _ := s.pick(sel)
	lo, hi := s.createdRange(sel)
	for i := src.search(lo); i < src.search(hi); i++ {
		if n := src.nodes[i]; src.counts(i) && s.matches(n, sel) && !fn(Candidate{n}) {
			return
		}
	}
}

// EachAt calls fn with every artifact that was live at position pos and
// that sel's hierarchy, levels, parent and created range select, as it
// stood then, in creation order, until fn returns false. Tags and update
// times are the caller's to test on what fn gets: they may have changed
// since.
func (s *State) EachAt(sel Selection, pos uint64, fn func(Then) bool) {
	fixed := sel
	fixed.Tags, fixed.UpdatedAfter = nil, time.Time{}
	var src source
	switch {
	case sel.HasParent:
		p := s.byID[sel.Parent]
		if p == nil {
			return
		}
		src = source{nodes: s.kidsAt(p, pos)}
	case len(sel.Levels) == 1:
		src = s.everListed(s.index.byLevel[levelKey{sel.Levels[0].Hierarchy, sel.Levels[0].Level}])
	case sel.Hierarchy != "":
		src = s.everListed(s.index.byHierarchy[sel.Hierarchy])
	default:
		src = source{nodes: s.order}
	}
	lo, hi := s.createdRange(fixed)
	for i := src.search(lo); i < src.search(hi); i++ {
		n := src.nodes[i]
		if n.CreatedSeq > pos {
			return
		}
		if !s.matchesFixed(n, fixed) {
			continue
		}
		if t, ok := s.at(n, pos); ok && !fn(t) {
			return
		}
	}
}

// everListed is every artifact p lists, live or not.
func (s *State) everListed(p *postings) source {
	if p == nil {
		return source{}
	}
	return source{nodes: p.nodes}
}

// matchesFixed is matches for what never changes: hierarchy, level,
// parent and creation time.
func (s *State) matchesFixed(n *node, sel Selection) bool {
	switch {
	case sel.HasParent && n.Parent != sel.Parent,
		sel.Hierarchy != "" && n.Hierarchy != sel.Hierarchy,
		sel.Levels != nil && !slices.Contains(sel.Levels, Level{n.Hierarchy, n.Level}),
		!sel.CreatedAfter.IsZero() && !n.CreatedAt.After(sel.CreatedAfter),
		!sel.CreatedBefore.IsZero() && !n.CreatedAt.Before(sel.CreatedBefore):
		return false
	}
	return true
}
