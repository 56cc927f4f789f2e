package query

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"arbor/internal/filter"
	"arbor/internal/jsonobj"
	"arbor/projection"
)

// ListQuery asks for one page of the list of artifacts.
type ListQuery struct {
	projection.Selection
	// Filter, if set, is a further test every artifact must pass.
	Filter *filter.Expr
	Sort   Sort
	// After, if set, asks for the page that follows it (keyset paging);
	// else Page (from 1) of Size.
	After *Cursor
	Page  int
	Size  int
	// AsOf, if set, reads the list as it stood at that position.
	AsOf *uint64
}

// Sort is the order of a list: by creation (the default), by last update,
// or by a member of the data (Path), ascending unless Desc. Ties go by
// creation order, reversed too when descending; artifacts without the
// member come last either way.
type Sort struct {
	By   string   // "created_at", "updated_at" or "data"
	Path []string // for "data": the members, outermost first
	Desc bool
}

// ParseSort reads a sort as clients write it: created_at, updated_at or
// data.<path>, with a leading '-' for descending.
func ParseSort(v string) (Sort, bool) {
	var s Sort
	v, s.Desc = strings.CutPrefix(v, "-")
	switch {
	case v == "" || v == "created_at":
		s.By = "created_at"
	case v == "updated_at":
		s.By = v
	case strings.HasPrefix(v, "data."):
		s.By, s.Path = "data", strings.Split(v[len("data."):], ".")
		if slices.Contains(s.Path, "") {
			return Sort{}, false
		}
	default:
		return Sort{}, false
	}
	return s, true
}

// String is the sort as clients write it.
func (s Sort) String() string {
	v := s.By
	if s.By == "data" {
		v = "data." + strings.Join(s.Path, ".")
	}
	if s.Desc {
		v = "-" + v
	}
	return v
}

// Cursor is where a page ended: its last artifact's place in the sort.
type Cursor struct {
	Sort string   `json:"s"`
	Seq  uint64   `json:"q"`           // the artifact's creation position
	Key  *sortKey `json:"k,omitempty"` // its sort key, but for created_at
}

// sortKey is the value an artifact sorts by: a time, or a member of its
// data (absent ones last, whichever the direction).
type sortKey struct {
	Kind int     `json:"t"` // see kind*
	Num  float64 `json:"n,omitempty"`
	Str  string  `json:"s,omitempty"`
}

// Kinds of sort keys, in the order they sort in.
const (
	kindNumber = iota
	kindString
	kindFalse
	kindTrue
	kindOther // an object, an array or null: by its JSON text
	kindAbsent
)

func compareKeys(a, b sortKey) int {
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Num, b.Num); c != 0 {
		return c
	}
	return strings.Compare(a.Str, b.Str)
}

// keyOf is the sort key of a under s.
func keyOf(a projection.Artifact, s Sort) sortKey {
	switch s.By {
	case "updated_at":
		return sortKey{Num: float64(a.UpdatedAt.UnixNano())}
	case "data":
		v := []byte(a.ListData)
		for _, name := range s.Path {
			m, ok := jsonobj.Get(v, name)
			if !ok {
				return sortKey{Kind: kindAbsent}
			}
			v = m.Value
		}
		return jsonKey(v)
	}
	return sortKey{}
}

func jsonKey(v []byte) sortKey {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0:
		return sortKey{Kind: kindAbsent}
	case v[0] == '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return sortKey{Kind: kindString, Str: s}
		}
	case string(v) == "true":
		return sortKey{Kind: kindTrue}
	case string(v) == "false":
		return sortKey{Kind: kindFalse}
	case v[0] == '-' || v[0] >= '0' && v[0] <= '9':
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return sortKey{Kind: kindNumber, Num: f}
		}
	}
	return sortKey{Kind: kindOther, Str: string(v)}
}

// sorted is one artifact of a list being sorted.
type sorted struct {
	a   projection.Artifact
	key sortKey
}

// compare orders two artifacts under s: by key, absent keys last, then by
// creation; descending reverses both but for the absent ones.
func (s Sort) compare(x, y sorted) int {
	c := compareKeys(x.key, y.key)
	if c == 0 {
		c = cmp.Compare(x.a.CreatedSeq, y.a.CreatedSeq)
	}
	if s.Desc && (x.key.Kind != kindAbsent) == (y.key.Kind != kindAbsent) {
		c = -c
	}
	return c
}

// List returns one page of the live artifacts lq selects, or of those live
// at lq.AsOf. Errors: *filter.Error when the filter runs over its cost.
func (q *Service) List(ctx context.Context, lq ListQuery) (Page, error) {
	if lq.Sort.By == "" {
		lq.Sort.By = "created_at"
	}
	p := Page{Page: lq.Page, Size: lq.Size}
	if lq.After != nil {
		p.Page = 0
	}
	var (
		items []sorted
		err   error
	)
	switch {
	case lq.AsOf != nil:
		items, err = q.listAt(ctx, lq, *lq.AsOf)
	case lq.Filter == nil && lq.Sort.By == "created_at":
		q.Projection.Read(func(s *projection.State) {
			var after uint64
			if lq.After != nil {
				after = lq.After.Seq
			}
			offset := (lq.Page - 1) * lq.Size
			if lq.Page-1 > s.Total()/lq.Size {
				offset = s.Total() // past the end, and the product might overflow
			}
			var page []projection.Artifact
			// One more than asked tells whether a next page follows.
			page, p.Total = s.Select(lq.Selection, lq.Sort.Desc, after, offset, lq.Size+1)
			for _, a := range page {
				items = append(items, sorted{a: a})
			}
		})
		return q.finish(p, lq, items), nil
	default:
		items, err = q.listNow(ctx, lq)
	}
	if err != nil {
		return Page{}, err
	}
	slices.SortStableFunc(items, lq.Sort.compare)
	p.Total = len(items)
	skip := 0
	if lq.After != nil {
		at := sorted{a: projection.Artifact{CreatedSeq: lq.After.Seq}}
		if lq.After.Key != nil {
			at.key = *lq.After.Key
		}
		skip = sort.Search(len(items), func(i int) bool { return lq.Sort.compare(items[i], at) > 0 })
	} else if lq.Page-1 <= len(items)/lq.Size {
		skip = (lq.Page - 1) * lq.Size
	} else {
		skip = len(items)
	}
	return q.finish(p, lq, items[skip:min(len(items), skip+lq.Size+1)]), nil
}

// finish fills p with items, one more than a page if a next one follows.
func (q *Service) finish(p Page, lq ListQuery, items []sorted) Page {
	if len(items) > lq.Size {
		items = items[:lq.Size]
		last := items[len(items)-1]
		p.Next = &Cursor{Sort: lq.Sort.String(), Seq: last.a.CreatedSeq}
		if lq.Sort.By != "created_at" {
			k := last.key
			p.Next.Key = &k
		}
	}
	for _, it := range items {
		p.Items = append(p.Items, it.a)
	}
	p.Pages = (p.Total + p.Size - 1) / p.Size
	return p
}

// listNow is every live artifact lq selects and its filter passes, with
// its sort key, in creation order.
func (q *Service) listNow(ctx context.Context, lq ListQuery) ([]sorted, error) {
	var (
		out []sorted
		err error
	)
	q.Projection.Read(func(s *projection.State) {
		var cands []projection.Candidate
		s.Each(lq.Selection, func(c projection.Candidate) bool {
			cands = append(cands, c)
			return true
		})
		var pass []bool
		if lq.Filter != nil {
			if pass, err = q.match(ctx, lq.Filter, cands); err != nil {
				return
			}
		}
		for i, c := range cands {
			if pass == nil || pass[i] {
				a := c.Artifact(s)
				out = append(out, sorted{a: a, key: keyOf(a, lq.Sort)})
			}
		}
	})
	return out, err
}

// ScanBudget bounds how long a list's filter may run over its candidates,
// under the projection's read lock: past it the request is a 400 that
// says to narrow the list.
const ScanBudget = 10 * time.Second

// match runs f on every candidate, on every core: the state is read
// under the caller's read lock, which holds the writer off meanwhile. It
// stops when ctx is done or after ScanBudget.
func (q *Service) match(ctx context.Context, f *filter.Expr, cands []projection.Candidate) ([]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, ScanBudget)
	defer cancel()
	pass := make([]bool, len(cands))
	workers := min(runtime.GOMAXPROCS(0), len(cands)/1024+1)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*len(cands)/workers, (w+1)*len(cands)/workers
		wg.Go(func() {
			var v filter.Vars
			for i := lo; i < hi; i++ {
				if (i-lo)%256 == 0 && ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				ok, err := f.Match(q.vars(&v, cands[i].Peek()))
				if err != nil {
					errs[w] = err
					return
				}
				pass[i] = ok
			}
		})
	}
	wg.Wait()
	err := errors.Join(errs...)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		return nil, &filter.Error{Msg: fmt.Sprintf("it ran past %s over %d artifacts: narrow the list with hierarchy, level_label, parent_id or tag",
			ScanBudget, len(cands))}
	}
	return pass, err
}

// listAt is listNow as of position pos: the artifacts live then, as they
// stood then, earlier versions read from the log.
func (q *Service) listAt(ctx context.Context, lq ListQuery, pos uint64) ([]sorted, error) {
	var thens []projection.Then
	q.Projection.Read(func(s *projection.State) {
		s.EachAt(lq.Selection, pos, func(t projection.Then) bool {
			thens = append(thens, t)
			return true
		})
	})
	as, err := q.settle(ctx, thens)
	if err != nil {
		return nil, err
	}
	var (
		out []sorted
		v   filter.Vars
	)
	for _, a := range as {
		if !lq.UpdatedAfter.IsZero() && !a.UpdatedAt.After(lq.UpdatedAfter) || !hasTags(a.Tags, lq.Tags) {
			continue
		}
		if lq.Filter != nil {
			ok, err := lq.Filter.Match(q.vars(&v, &a))
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		out = append(out, sorted{a: a, key: keyOf(a, lq.Sort)})
	}
	return out, nil
}

func hasTags(tags, want []string) bool {
	for _, t := range want {
		if !slices.Contains(tags, t) {
			return false
		}
	}
	return true
}

// vars fills v with what a filter sees of a.
func (q *Service) vars(v *filter.Vars, a *projection.Artifact) *filter.Vars {
	*v = filter.Vars{
		Data: a.ListData, Tags: a.Tags, Level: a.Level, Hierarchy: a.Hierarchy,
		LevelLabel: q.Hierarchies.Label(a.Hierarchy, a.Level),
		CreatedAt:  a.CreatedAt, UpdatedAt: a.UpdatedAt,
	}
	if !a.Parent.IsZero() {
		v.ParentID = a.Parent.String()
	}
	return v
}

// Levels are the levels that a level number, a level label or both name
// (nil: neither is given), in hierarchy (empty: in any), among the
// hierarchies arbor knows and those the log holds.
func (q *Service) Levels(hierarchy string, level *int, label string) []projection.Level {
	if level == nil && label == "" {
		return nil
	}
	var counts map[string][]int
	q.Projection.Read(func(s *projection.State) { counts = s.Counts() })
	depth := map[string]int{}
	for _, h := range q.Hierarchies.All() {
		depth[h.Name] = len(h.Labels)
	}
	for h, c := range counts {
		depth[h] = max(depth[h], len(c))
	}
	out := []projection.Level{}
	for _, h := range slices.Sorted(maps.Keys(depth)) {
		if hierarchy != "" && h != hierarchy {
			continue
		}
		for i := range depth[h] {
			if (level == nil || *level == i) && (label == "" || q.Hierarchies.Label(h, i) == label) {
				out = append(out, projection.Level{Hierarchy: h, Level: i})
			}
		}
	}
	return out
}
