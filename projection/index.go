package projection

import (
	"slices"
	"sort"
)

// postings lists the artifacts that share a hierarchy, a level or a tag,
// in creation order, with a flag per entry that is set while the entry
// counts (the artifact is live, and for a tag still has it), so that a
// page of a filtered list costs O(size log n) however long the list.
type postings struct {
	nodes []*node
	live  fenwick
}

// add lists n, which was created after every artifact listed so far
// (else see insert).
func (p *postings) add(n *node) {
	if k := len(p.nodes); k > 0 && p.nodes[k-1].pos > n.pos {
		p.insert(n)
		return
	}
	p.nodes = append(p.nodes, n)
	p.live.push(1)
}

// insert lists n in its place by creation order, or sets its flag again
// if it is listed: a tag given back by an update.
func (p *postings) insert(n *node) {
	i, found := p.find(n)
	if found {
		p.live.add(i, 1)
		return
	}
	p.nodes = slices.Insert(p.nodes, i, n)
	p.live.insert(i, 1)
}

// drop clears n's flag, if n is listed.
func (p *postings) drop(n *node) {
	if i, found := p.find(n); found {
		p.live.add(i, -1)
	}
}

// find is the index of n, or where it would go.
func (p *postings) find(n *node) (int, bool) {
	i := p.search(n.pos)
	return i, i < len(p.nodes) && p.nodes[i] == n
}

// search is the index of the first entry created at or after position
// pos of the creation order.
func (p *postings) search(pos int) int {
	return sort.Search(len(p.nodes), func(i int) bool { return p.nodes[i].pos >= pos })
}

// levelKey names the artifacts of one level of one hierarchy.
type levelKey struct {
	hierarchy string
	level     int
}

// indexes are the lists a filtered read starts from.
type indexes struct {
	byHierarchy map[string]*postings
	byLevel     map[levelKey]*postings
	byTag       map[string]*postings
}

func newIndexes() indexes {
	return indexes{
		byHierarchy: make(map[string]*postings),
		byLevel:     make(map[levelKey]*postings),
		byTag:       make(map[string]*postings),
	}
}

func list[K comparable](m map[K]*postings, k K) *postings {
	p := m[k]
	if p == nil {
		p = &postings{}
		m[k] = p
	}
	return p
}

// created lists the new artifact n (live, as created).
func (x indexes) created(n *node) {
	list(x.byHierarchy, n.Hierarchy).add(n)
	list(x.byLevel, levelKey{n.Hierarchy, n.Level}).add(n)
	for _, t := range distinct(n.Tags) {
		list(x.byTag, t).add(n)
	}
}

// retagged moves n from the lists of the tags it had to those it has.
func (x indexes) retagged(n *node, before []string) {
	after := distinct(n.Tags)
	for _, t := range distinct(before) {
		if !slices.Contains(after, t) {
			x.byTag[t].drop(n)
		}
	}
	for _, t := range after {
		if !slices.Contains(before, t) {
			list(x.byTag, t).insert(n)
		}
	}
}

// deleted clears n's flags; it stays listed by hierarchy and level, where
// reads as of an earlier position find it.
func (x indexes) deleted(n *node, tags []string) {
	x.byHierarchy[n.Hierarchy].drop(n)
	x.byLevel[levelKey{n.Hierarchy, n.Level}].drop(n)
	for _, t := range distinct(tags) {
		x.byTag[t].drop(n)
	}
}

// distinct is tags without repeats, in their order. Tags are few: a
// quadratic check allocates nothing when there are no repeats.
func distinct(tags []string) []string {
	for i, t := range tags {
		if slices.Contains(tags[:i], t) {
			out := slices.Clone(tags[:i])
			for _, t := range tags[i:] {
				if !slices.Contains(out, t) {
					out = append(out, t)
				}
			}
			return out
		}
	}
	return tags
}
