package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/hierarchy"
	"arbor/projection"
	"arbor/query"
)

// The artifacts of the fixture. Those marked deleted were created and
// deleted.
//
//	ml (experiment, model, run)      plain (no labels)     retired (not configured)
//	e1                               p1                    g1
//	├── m1 (updated)                 └── p2
//	│   ├── r1                           └── p3
//	│   └── r2                               └── p4
//	├── m2
//	│   └── r3 (deleted, a leaf level)
//	└── d1 (deleted, sealed)
//	e2
//	x1 (deleted root)
var (
	e1, m1, r1, r2, m2, d1, e2, p1, p2, p3, p4, x1, g1, r3 = id(1), id(2), id(3), id(4), id(5), id(6), id(7),
		id(8), id(9), id(10), id(11), id(12), id(13), id(14)
	unknown = id(99)
	zero    ulid.ULID
)

// names gives the fixture's ids their names in failure messages and trees.
var names = map[ulid.ULID]string{
	e1: "e1", m1: "m1", r1: "r1", r2: "r2", m2: "m2", d1: "d1", e2: "e2",
	p1: "p1", p2: "p2", p3: "p3", p4: "p4", x1: "x1", g1: "g1", r3: "r3",
	unknown: "unknown", zero: "zero",
}

func name(id ulid.ULID) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id.String()
}

func nameAll(ids []ulid.ULID) []string {
	out := []string{}
	for _, id := range ids {
		out = append(out, name(id))
	}
	return out
}

// live are the fixture's live artifacts in creation order.
var live = []ulid.ULID{e1, m1, r1, r2, m2, e2, p1, p2, p3, p4, g1}

// gone are ids the queries must not find: deleted artifacts, an id never
// used, and the zero id.
var gone = []ulid.ULID{d1, x1, r3, unknown, zero}

func hierarchies(t *testing.T) hierarchy.Set {
	t.Helper()
	hs, err := hierarchy.NewSet(
		hierarchy.Hierarchy{Name: "ml", Labels: []string{"experiment", "model", "run"}},
		hierarchy.Hierarchy{Name: "plain"},
	)
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// fixture folds the history drawn above: e1 at position 1, m1 at 2, ...;
// m1's update at 12, d1's deletion at 13 and its seal at 14, x1's creation
// at 15, deletion at 16 and seal at 17, g1 at 18, r3 at 19, its deletion
// at 20.
func fixture(t *testing.T) *query.Service {
	t.Helper()
	hs := hierarchies(t)
	h := newHistory(t, hs)
	h.root(e1, "ml", `{"name":"e1","metadata":{"owner":"ann"},"content":{"weights":[1,2,3]}}`, "exp-1")
	h.child(m1, e1, `{"name":"m1"}`)
	h.child(r1, m1, `{"name":"r1","content":"raw"}`)
	h.child(r2, m1, `{"metadata": {"b": 2,  "a": 1}, "name":"r2"}`)
	h.child(m2, e1, `{"name":"m2","metadata":null}`)
	h.child(d1, e1, `{"name":"d1"}`)
	h.root(e2, "ml", `{"name":"e2"}`)
	h.root(p1, "plain", `{}`)
	h.child(p2, p1, `{"name":"p2"}`)
	h.child(p3, p2, `{"name":"p3"}`)
	h.child(p4, p3, `{"name":"p4"}`, "deep")
	h.update(m1, `{"name":"m1b","content":[1,2]}`, "v2")
	h.remove(d1)
	h.root(x1, "ml", `{"name":"x1"}`)
	h.remove(x1)
	h.root(g1, "retired", `{"name":"g1"}`)
	h.child(r3, m2, `{"name":"r3"}`)
	h.remove(r3)
	if h.seq != 20 {
		t.Fatalf("fixture ends at position %d, want 20", h.seq)
	}
	return &query.Service{Projection: h.p, Hierarchies: hs}
}

// listData is the data of each live artifact of the fixture without its
// top-level content, as lists and trees show it.
var listData = map[ulid.ULID]string{
	e1: `{"name":"e1","metadata":{"owner":"ann"}}`,
	m1: `{"name":"m1b"}`,
	r1: `{"name":"r1"}`,
	r2: `{"metadata":{"b":2,"a":1},"name":"r2"}`,
	m2: `{"name":"m2","metadata":null}`,
	e2: `{"name":"e2"}`,
	p1: `{}`,
	p2: `{"name":"p2"}`,
	p3: `{"name":"p3"}`,
	p4: `{"name":"p4"}`,
	g1: `{"name":"g1"}`,
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// wantNotFound fails the test unless err says that id was not found, as
// the transports need it: ErrNotFound, naming id.
func wantNotFound(t *testing.T, err error, id ulid.ULID) {
	t.Helper()
	if !errors.Is(err, query.ErrNotFound) {
		t.Fatalf("%s: error %v, want query.ErrNotFound", name(id), err)
	}
	var nf *projection.NotFoundError
	if !errors.As(err, &nf) || nf.ID != id {
		t.Fatalf("%s: error %#v, want a *projection.NotFoundError naming %s", name(id), err, id)
	}
}

func TestGet(t *testing.T) {
	q := fixture(t)
	tests := []struct {
		id        ulid.ULID
		parent    ulid.ULID
		hierarchy string
		level     int
		version   int
		children  int
		tags      []string
		data      string // exactly as written, content included
		// positions of the creation and of the last change
		created, updated uint64
	}{
		{e1, zero, "ml", 0, 1, 2, []string{"exp-1"}, `{"name":"e1","metadata":{"owner":"ann"},"content":{"weights":[1,2,3]}}`, 1, 1},
		{m1, e1, "ml", 1, 2, 2, []string{"v2"}, `{"name":"m1b","content":[1,2]}`, 2, 12},
		{r1, m1, "ml", 2, 1, 0, nil, `{"name":"r1","content":"raw"}`, 3, 3},
		{r2, m1, "ml", 2, 1, 0, nil, `{"metadata": {"b": 2,  "a": 1}, "name":"r2"}`, 4, 4},
		{m2, e1, "ml", 1, 1, 0, nil, `{"name":"m2","metadata":null}`, 5, 5}, // its child r3 is deleted
		{e2, zero, "ml", 0, 1, 0, nil, `{"name":"e2"}`, 7, 7},
		{p1, zero, "plain", 0, 1, 1, nil, `{}`, 8, 8},
		{p4, p3, "plain", 3, 1, 0, []string{"deep"}, `{"name":"p4"}`, 11, 11},
		{g1, zero, "retired", 0, 1, 0, nil, `{"name":"g1"}`, 18, 18},
	}
	for _, tt := range tests {
		t.Run(name(tt.id), func(t *testing.T) {
			a, err := q.Get(tt.id)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if a.ID != tt.id || a.Parent != tt.parent || a.Hierarchy != tt.hierarchy || a.Level != tt.level {
				t.Errorf("Get = %s under %s in %s at level %d, want %s under %s in %s at level %d",
					name(a.ID), name(a.Parent), a.Hierarchy, a.Level, name(tt.id), name(tt.parent), tt.hierarchy, tt.level)
			}
			if !a.Live || a.Version != tt.version || a.Children != tt.children {
				t.Errorf("Live, Version, Children = %t, %d, %d; want true, %d, %d", a.Live, a.Version, a.Children, tt.version, tt.children)
			}
			if !slices.Equal(a.Tags, tt.tags) {
				t.Errorf("Tags = %q, want %q", a.Tags, tt.tags)
			}
			if string(a.Data) != tt.data {
				t.Errorf("Data = %s, want %s", a.Data, tt.data)
			}
			if !a.CreatedAt.Equal(at(tt.created)) || !a.UpdatedAt.Equal(at(tt.updated)) {
				t.Errorf("CreatedAt, UpdatedAt = %v, %v; want %v, %v", a.CreatedAt, a.UpdatedAt, at(tt.created), at(tt.updated))
			}
			if a.CreatedSeq != tt.created {
				t.Errorf("CreatedSeq = %d, want %d", a.CreatedSeq, tt.created)
			}
		})
	}
	for _, id := range gone {
		t.Run(name(id), func(t *testing.T) {
			_, err := q.Get(id)
			wantNotFound(t, err, id)
		})
	}
}

func TestList(t *testing.T) {
	q := fixture(t)
	tests := []struct {
		page, size int
		want       []ulid.ULID
		pages      int
	}{
		{1, 4, []ulid.ULID{e1, m1, r1, r2}, 3},
		{2, 4, []ulid.ULID{m2, e2, p1, p2}, 3},
		{3, 4, []ulid.ULID{p3, p4, g1}, 3}, // the last page, not full
		{4, 4, nil, 3},                     // just past the end
		{1, 11, live, 1},                   // exactly one page
		{2, 11, nil, 1},
		{1, 10, live[:10], 2},
		{2, 10, []ulid.ULID{g1}, 2},
		{1, 1000, live, 1},
		{1, 1, []ulid.ULID{e1}, 11},
		{6, 1, []ulid.ULID{e2}, 11},
		{11, 1, []ulid.ULID{g1}, 11},
		{12, 1, nil, 11},
		{1000, 3, nil, 4}, // far past the end
		{math.MaxInt, 1, nil, 11},
		{math.MaxInt, 1000, nil, 1},
		// (page-1)*size would overflow to 0: the first page, were it
		// computed.
		{1<<61 + 1, 1000, nil, 1},
		{1<<61 + 1, 8, nil, 2},
	}
	for _, tt := range tests {
		p := listPage(q, tt.page, tt.size)
		var got []ulid.ULID
		for _, a := range p.Items {
			got = append(got, a.ID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("List(%d, %d) items = %s, want %s", tt.page, tt.size, nameAll(got), nameAll(tt.want))
		}
		if p.Total != len(live) || p.Page != tt.page || p.Size != tt.size || p.Pages != tt.pages {
			t.Errorf("List(%d, %d) total, page, size, pages = %d, %d, %d, %d; want %d, %d, %d, %d",
				tt.page, tt.size, p.Total, p.Page, p.Size, p.Pages, len(live), tt.page, tt.size, tt.pages)
		}
	}
}

// TestListData checks that the items of a list are live and carry their
// data twice: as written, and without content for the list to show.
func TestListData(t *testing.T) {
	q := fixture(t)
	for _, a := range listPage(q, 1, 1000).Items {
		if !a.Live {
			t.Errorf("%s: listed but not live", name(a.ID))
		}
		if !sameJSON(t, a.ListData, []byte(listData[a.ID])) {
			t.Errorf("%s: ListData = %s, want %s", name(a.ID), a.ListData, listData[a.ID])
		}
		full, err := q.Get(a.ID)
		if err != nil {
			t.Fatalf("Get(%s): %v", name(a.ID), err)
		}
		if !bytes.Equal(a.Data, full.Data) || a.Version != full.Version {
			t.Errorf("%s: listed with data %s at version %d, Get has %s at %d", name(a.ID), a.Data, a.Version, full.Data, full.Version)
		}
	}
}

func TestListEmpty(t *testing.T) {
	q := &query.Service{Projection: projection.New(layout), Hierarchies: hierarchies(t)}
	for _, page := range []int{1, 2} {
		p := listPage(q, page, 50)
		if len(p.Items) != 0 || p.Total != 0 || p.Pages != 0 || p.Page != page || p.Size != 50 {
			t.Errorf("List(%d, 50) of nothing = %d items, total %d, pages %d, page %d, size %d; want 0, 0, 0, %d, 50",
				page, len(p.Items), p.Total, p.Pages, p.Page, p.Size, page)
		}
	}
}

// render writes t as name:label, followed by its children in parentheses
// when they are loaded: "()" for a leaf, nothing when cut off.
func render(t query.Tree) string {
	s := name(t.Artifact.ID) + ":" + t.LevelLabel
	if t.Children == nil {
		return s
	}
	var kids []string
	for _, c := range t.Children {
		kids = append(kids, render(c))
	}
	return s + "(" + strings.Join(kids, ",") + ")"
}

// checkNodes fails the test unless every node of t is live, a child of
// the node above it, and the artifact Get returns.
func checkNodes(t *testing.T, q *query.Service, n query.Tree) {
	t.Helper()
	a := n.Artifact
	got, err := q.Get(a.ID)
	if err != nil {
		t.Fatalf("%s is in the tree but Get says %v", name(a.ID), err)
	}
	if !a.Live || a.Version != got.Version || !bytes.Equal(a.Data, got.Data) || !bytes.Equal(a.ListData, got.ListData) {
		t.Errorf("%s in the tree: live %t, version %d, data %s; Get has version %d, data %s",
			name(a.ID), a.Live, a.Version, a.Data, got.Version, got.Data)
	}
	for _, c := range n.Children {
		if c.Artifact.Parent != a.ID {
			t.Errorf("%s is under %s in the tree, but its parent is %s", name(c.Artifact.ID), name(a.ID), name(c.Artifact.Parent))
		}
		checkNodes(t, q, c)
	}
}

func TestTree(t *testing.T) {
	q := fixture(t)
	const e1Full = "e1:experiment(m1:model(r1:run(),r2:run()),m2:model())"
	const p1Full = "p1:level_0(p2:level_1(p3:level_2(p4:level_3())))"
	tests := []struct {
		id       ulid.ULID
		maxDepth int
		want     string
	}{
		{e1, -1, e1Full},
		{e1, math.MinInt, e1Full},
		{e1, 0, "e1:experiment"},
		{e1, 1, "e1:experiment(m1:model,m2:model)"},
		{e1, 2, "e1:experiment(m1:model(r1:run,r2:run),m2:model())"}, // runs cut off, leaves or not
		{e1, 3, e1Full},
		{e1, math.MaxInt, e1Full},
		{m1, -1, "m1:model(r1:run(),r2:run())"}, // a subtree from an inner node
		{m1, 0, "m1:model"},
		{m1, 1, "m1:model(r1:run,r2:run)"},
		{m1, 2, "m1:model(r1:run(),r2:run())"},
		{m2, -1, "m2:model()"}, // its only child is deleted
		{r1, -1, "r1:run()"},
		{r1, 0, "r1:run"},
		{e2, -1, "e2:experiment()"},
		{p1, -1, p1Full}, // past any label: level_<n>
		{p1, 2, "p1:level_0(p2:level_1(p3:level_2))"},
		{p2, -1, "p2:level_1(p3:level_2(p4:level_3()))"},
		{p4, -1, "p4:level_3()"},
		{g1, -1, "g1:level_0()"}, // a hierarchy arbor no longer knows
	}
	for _, tt := range tests {
		tree, err := q.Tree(tt.id, tt.maxDepth)
		if err != nil {
			t.Errorf("Tree(%s, %d): %v", name(tt.id), tt.maxDepth, err)
			continue
		}
		if got := render(tree); got != tt.want {
			t.Errorf("Tree(%s, %d) = %s, want %s", name(tt.id), tt.maxDepth, got, tt.want)
		}
		checkNodes(t, q, tree)
	}
	for _, id := range gone {
		for _, depth := range []int{-1, 0, 1} {
			_, err := q.Tree(id, depth)
			wantNotFound(t, err, id)
		}
	}
}

func TestExpand(t *testing.T) {
	q := fixture(t)
	tests := []struct {
		id      ulid.ULID
		label   string
		version int
	}{
		{e1, "experiment", 1},
		{m1, "model", 2},
		{r2, "run", 1},
		{e2, "experiment", 1},
		{p1, "level_0", 1},
		{p4, "level_3", 1},
		{g1, "level_0", 1},
	}
	for _, tt := range tests {
		n, err := q.Expand(tt.id)
		if err != nil {
			t.Errorf("Expand(%s): %v", name(tt.id), err)
			continue
		}
		got, err := q.Get(tt.id)
		if err != nil {
			t.Fatalf("Get(%s): %v", name(tt.id), err)
		}
		if n.Artifact.ID != tt.id || n.LevelLabel != tt.label || n.Artifact.Version != tt.version {
			t.Errorf("Expand(%s) = %s:%s version %d, want %s:%s version %d",
				name(tt.id), name(n.Artifact.ID), n.LevelLabel, n.Artifact.Version, name(tt.id), tt.label, tt.version)
		}
		if !bytes.Equal(n.Artifact.Data, got.Data) {
			t.Errorf("Expand(%s) data = %s, want all of it: %s", name(tt.id), n.Artifact.Data, got.Data)
		}
		if n.Children != nil {
			t.Errorf("Expand(%s) children = %d loaded, want nil (not loaded)", name(tt.id), len(n.Children))
		}
	}
	for _, id := range gone {
		_, err := q.Expand(id)
		wantNotFound(t, err, id)
	}
}

func TestMetadata(t *testing.T) {
	tests := []struct {
		name   string
		data   string // at creation
		update string // if set, the data of an update after it
		want   string // byte for byte
	}{
		{name: "object", data: `{"metadata":{"owner":"ann"},"content":{"w":1}}`, want: `{"owner":"ann"}`},
		{name: "verbatim", data: `{"metadata": {"b": 2,  "a": 1}, "name":"r2"}`, want: `{"b": 2,  "a": 1}`},
		{name: "escaped key", data: `{"meta\u0064ata":{"x":1}}`, want: `{"x":1}`},
		{name: "null", data: `{"metadata":null}`, want: `{}`},
		{name: "none", data: `{"name":"x"}`, want: `{}`},
		{name: "empty data", data: `{}`, want: `{}`},
		{name: "not at the top", data: `{"inner":{"metadata":{"x":1}}}`, want: `{}`},
		{name: "added by an update", data: `{}`, update: `{"metadata":{"v":2}}`, want: `{"v":2}`},
		{name: "removed by an update", data: `{"metadata":{"v":1}}`, update: `{"name":"x"}`, want: `{}`},
		// JSON keys are case-sensitive: "Metadata" is another member.
		{name: "key in another case", data: `{"Metadata":{"x":1}}`, want: `{}`},
		{name: "key in two cases", data: `{"metadata":{"a":1},"METADATA":{"b":2}}`, want: `{"a":1}`},
	}
	hs := hierarchies(t)
	h := newHistory(t, hs)
	q := &query.Service{Projection: h.p, Hierarchies: hs}
	for i, tt := range tests {
		a := id(uint64(100 + i))
		h.root(a, "plain", tt.data)
		if tt.update != "" {
			h.update(a, tt.update)
		}
		got, err := q.Metadata(a)
		if err != nil {
			t.Errorf("%s: Metadata: %v", tt.name, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s: Metadata of data %s = %s, want %s", tt.name, h.artifact(a).Data, got, tt.want)
		}
	}

	f := fixture(t)
	for _, id := range gone {
		_, err := f.Metadata(id)
		wantNotFound(t, err, id)
	}
}

// nonZero is levels without its zero counts: a level whose artifacts are
// all deleted may be listed with 0 or left out.
func nonZero(levels map[string]int) map[string]int {
	out := map[string]int{}
	for l, n := range levels {
		if n != 0 {
			out[l] = n
		}
	}
	return out
}

func TestStats(t *testing.T) {
	tests := []struct {
		name string
		q    func(t *testing.T) *query.Service
		want query.Stats
	}{
		{
			name: "fixture",
			q:    fixture,
			want: query.Stats{Total: 11, Hierarchies: map[string]query.HierarchyStats{
				"ml":      {Total: 6, Levels: map[string]int{"experiment": 2, "model": 2, "run": 2}},
				"plain":   {Total: 4, Levels: map[string]int{"level_0": 1, "level_1": 1, "level_2": 1, "level_3": 1}},
				"retired": {Total: 1, Levels: map[string]int{"level_0": 1}},
			}},
		},
		{
			name: "nothing: every configured hierarchy, at zero",
			q: func(t *testing.T) *query.Service {
				return &query.Service{Projection: projection.New(layout), Hierarchies: hierarchies(t)}
			},
			want: query.Stats{Total: 0, Hierarchies: map[string]query.HierarchyStats{
				"ml":    {Total: 0, Levels: map[string]int{}},
				"plain": {Total: 0, Levels: map[string]int{}},
			}},
		},
		{
			name: "everything deleted",
			q: func(t *testing.T) *query.Service {
				hs := hierarchies(t)
				h := newHistory(t, hs)
				h.root(e1, "ml", `{}`)
				h.child(m1, e1, `{}`)
				h.root(g1, "retired", `{}`)
				h.remove(m1)
				h.remove(e1)
				h.remove(g1)
				return &query.Service{Projection: h.p, Hierarchies: hs}
			},
			// retired, which arbor no longer knows, may be left out.
			want: query.Stats{Total: 0, Hierarchies: map[string]query.HierarchyStats{
				"ml":    {Total: 0, Levels: map[string]int{}},
				"plain": {Total: 0, Levels: map[string]int{}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.q(t).Stats()
			if got.Total != tt.want.Total {
				t.Errorf("Total = %d, want %d", got.Total, tt.want.Total)
			}
			for h, want := range tt.want.Hierarchies {
				g, ok := got.Hierarchies[h]
				if !ok {
					t.Errorf("hierarchy %s missing", h)
					continue
				}
				if g.Total != want.Total || !reflect.DeepEqual(nonZero(g.Levels), want.Levels) {
					t.Errorf("hierarchy %s = %d %v, want %d %v", h, g.Total, g.Levels, want.Total, want.Levels)
				}
				if g.Levels == nil {
					t.Errorf("hierarchy %s: Levels is nil, want a map (JSON {})", h)
				}
			}
			for h, g := range got.Hierarchies {
				if _, ok := tt.want.Hierarchies[h]; !ok && g.Total != 0 {
					t.Errorf("unexpected hierarchy %s: %d %v", h, g.Total, g.Levels)
				}
			}
		})
	}
}

// TestContentLeftOut checks that lists and trees show data without its
// top-level content, and that expand shows all of it.
func TestContentLeftOut(t *testing.T) {
	tests := []struct {
		name string
		data string
		want string // in lists and trees
	}{
		{"content and more", `{"content":"x","a":1}`, `{"a":1}`},
		{"content last", `{"a":1,"content":[1,2]}`, `{"a":1}`},
		{"content only", `{"content":{"big":[1,2]}}`, `{}`},
		{"no content", `{"a":1}`, `{"a":1}`},
		{"nested content kept", `{"a":{"content":1}}`, `{"a":{"content":1}}`},
		{"key in another case kept", `{"Content":"x"}`, `{"Content":"x"}`},
		// The same member as "content" to anyone who decodes the JSON.
		{"escaped key", `{"conten\u0074":"x","a":1}`, `{"a":1}`},
	}
	hs := hierarchies(t)
	h := newHistory(t, hs)
	q := &query.Service{Projection: h.p, Hierarchies: hs}
	top := id(1)
	h.root(top, "plain", `{}`)
	for i, tt := range tests {
		h.child(id(uint64(100+i)), top, tt.data)
	}
	items := listPage(q, 1, 1000).Items
	tree, err := q.Tree(top, -1)
	if err != nil {
		t.Fatalf("Tree: %v", err)
	}
	if len(items) != 1+len(tests) || len(tree.Children) != len(tests) {
		t.Fatalf("%d items listed, %d children in the tree; want %d and %d", len(items), len(tree.Children), 1+len(tests), len(tests))
	}
	for i, tt := range tests {
		a := id(uint64(100 + i))
		if got := items[1+i]; got.ID != a || !sameJSON(t, got.ListData, []byte(tt.want)) {
			t.Errorf("%s: listed as %s with data %s, want %s", tt.name, got.ID, got.ListData, tt.want)
		}
		if got := tree.Children[i].Artifact; got.ID != a || !sameJSON(t, got.ListData, []byte(tt.want)) {
			t.Errorf("%s: in the tree as %s with data %s, want %s", tt.name, got.ID, got.ListData, tt.want)
		}
		n, err := q.Expand(a)
		if err != nil {
			t.Fatalf("%s: Expand: %v", tt.name, err)
		}
		if string(n.Artifact.Data) != tt.data {
			t.Errorf("%s: Expand data = %s, want all of it: %s", tt.name, n.Artifact.Data, tt.data)
		}
	}
}

// listPage is page number page of size items of the whole list.
func listPage(q *query.Service, page, size int) query.Page {
	p, err := q.List(context.Background(), query.ListQuery{Page: page, Size: size})
	if err != nil {
		panic(err)
	}
	return p
}
