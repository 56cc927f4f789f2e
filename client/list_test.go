package client_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"arbor/client"
)

// listWith is ListWith of one page of up to 1000, failing the test on an
// error; it returns the ids in their order.
func (e *env) listWith(opts client.ListOptions) []string {
	e.t.Helper()
	opts.Size = 1000
	p, err := e.c.ListWith(e.t.Context(), opts)
	if err != nil {
		e.t.Fatalf("ListWith(%+v): %v", opts, err)
	}
	if p.Total != len(p.Items) || p.NextCursor != "" {
		e.t.Fatalf("ListWith(%+v): total %d, %d items, next cursor %q; want one whole page", opts, p.Total, len(p.Items), p.NextCursor)
	}
	return ids(p.Items)
}

// pick are the ids of as that keep passes, in order.
func pick(as []client.Artifact, keep func(client.Artifact) bool) []string {
	var out []string
	for _, a := range as {
		if keep(a) {
			out = append(out, a.ID)
		}
	}
	return out
}

func TestListWithFilters(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	level := func(n int) *int { return &n }

	exp1 := e.create(client.CreateRequest{Data: map[string]any{"name": "e1"}, Tags: []string{"prod", "a"}})
	m1 := e.create(client.CreateRequest{ParentID: exp1.ID, Tags: []string{"prod"},
		Data: map[string]any{"model_type": "LinearRegression", "metrics": map[string]any{"rmse": 0.25}}})
	m2 := e.create(client.CreateRequest{ParentID: exp1.ID, Data: map[string]any{"model_type": "RandomForest", "metrics": map[string]any{"rmse": 0.4}}})
	m3 := e.create(client.CreateRequest{ParentID: exp1.ID, Tags: []string{"b"},
		Data: map[string]any{"model_type": "LinearRegression", "metrics": map[string]any{"rmse": 0.5}}})
	m4 := e.create(client.CreateRequest{ParentID: exp1.ID, Data: map[string]any{"model_type": "LinearRegression"}})
	doc := e.create(client.CreateRequest{Hierarchy: "documents", Data: map[string]any{"title": "notes"}, Tags: []string{"prod"}})
	exp2 := e.create(client.CreateRequest{Data: map[string]any{"name": "e2"}})
	m5 := e.create(client.CreateRequest{ParentID: exp2.ID, Data: map[string]any{"metrics": map[string]any{"rmse": 0.1}}})
	// Updated last, so that it sorts last by updated_at.
	if _, err := e.c.Update(ctx, m2.ID, client.UpdateRequest{Data: json.RawMessage(m2.Data)}); err != nil {
		t.Fatal(err)
	}
	all := []client.Artifact{exp1, m1, m2, m3, m4, doc, exp2, m5}
	for i, a := range all { // as they stand now
		all[i] = e.get(a.ID)
	}
	models := []string{m1.ID, m2.ID, m3.ID, m4.ID, m5.ID}

	for _, c := range []struct {
		name string
		opts client.ListOptions
		want []string
	}{
		{"none", client.ListOptions{}, ids(all)},
		{"hierarchy", client.ListOptions{Hierarchy: "documents"}, []string{doc.ID}},
		{"unknown hierarchy", client.ListOptions{Hierarchy: "nope"}, nil},
		{"level 0", client.ListOptions{Level: level(0)}, []string{exp1.ID, doc.ID, exp2.ID}},
		{"level 1", client.ListOptions{Level: level(1)}, models},
		{"level 2", client.ListOptions{Level: level(2)}, nil},
		{"hierarchy and level", client.ListOptions{Hierarchy: "ml_pipeline", Level: level(0)}, []string{exp1.ID, exp2.ID}},
		{"level label", client.ListOptions{LevelLabel: "model"}, models},
		{"another hierarchy's label", client.ListOptions{LevelLabel: "project"}, []string{doc.ID}},
		{"label and hierarchy apart", client.ListOptions{Hierarchy: "documents", LevelLabel: "model"}, nil},
		{"label and level apart", client.ListOptions{Level: level(0), LevelLabel: "model"}, nil},
		{"parent", client.ListOptions{ParentID: exp1.ID}, []string{m1.ID, m2.ID, m3.ID, m4.ID}},
		{"parent and tag", client.ListOptions{ParentID: exp1.ID, Tags: []string{"prod"}}, []string{m1.ID}},
		{"a leaf's children", client.ListOptions{ParentID: m5.ID}, nil},
		{"unknown parent", client.ListOptions{ParentID: unknownID}, nil},
		{"tag", client.ListOptions{Tags: []string{"prod"}}, []string{exp1.ID, m1.ID, doc.ID}},
		{"tags, all of them", client.ListOptions{Tags: []string{"prod", "a"}}, []string{exp1.ID}},
		{"tags no one has together", client.ListOptions{Tags: []string{"a", "b"}}, nil},
		{"created after", client.ListOptions{CreatedAfter: m3.CreatedAt},
			pick(all, func(a client.Artifact) bool { return a.CreatedAt.After(m3.CreatedAt) })},
		{"created before", client.ListOptions{CreatedBefore: m3.CreatedAt},
			pick(all, func(a client.Artifact) bool { return a.CreatedAt.Before(m3.CreatedAt) })},
		{"created between", client.ListOptions{CreatedAfter: exp1.CreatedAt.Add(-time.Millisecond), CreatedBefore: m5.CreatedAt.Add(time.Millisecond)}, ids(all)},
		{"updated after", client.ListOptions{UpdatedAfter: m5.UpdatedAt},
			pick(all, func(a client.Artifact) bool { return a.UpdatedAt.After(m5.UpdatedAt) })},
		{"filter", client.ListOptions{Filter: `data.metrics.rmse < 0.3 && data.model_type == "LinearRegression"`}, []string{m1.ID}},
		{"filter over a member some lack", client.ListOptions{Filter: `data.metrics.rmse > 0.3`}, []string{m2.ID, m3.ID}},
		{"filter on tags or label", client.ListOptions{Filter: `"prod" in tags || level_label == "project"`}, []string{exp1.ID, m1.ID, doc.ID}},
		{"filter on parent", client.ListOptions{Filter: `parent_id == "` + exp2.ID + `"`}, []string{m5.ID}},
		{"filter on roots", client.ListOptions{Filter: `parent_id == null`}, []string{exp1.ID, doc.ID, exp2.ID}},
		{"filter on level and hierarchy", client.ListOptions{Filter: `level == 1 && hierarchy == "ml_pipeline" && !has(data.model_type)`}, []string{m5.ID}},
		{"filter on time", client.ListOptions{Filter: `updated_at > created_at`},
			pick(all, func(a client.Artifact) bool { return a.UpdatedAt.After(a.CreatedAt) })},
		{"filter and selection", client.ListOptions{LevelLabel: "model", Filter: `data.model_type == "LinearRegression"`, Tags: []string{"b"}}, []string{m3.ID}},
	} {
		if got := e.listWith(c.opts); !slices.Equal(got, c.want) {
			t.Errorf("%s: ListWith(%+v) = %q, want %q", c.name, c.opts, got, c.want)
		}
	}

	// Sorts; ties and artifacts without the member in creation order.
	absent := []string{exp1.ID, m4.ID, doc.ID, exp2.ID}
	byUpdate := slices.Clone(all) // times have milliseconds: ties are likely
	slices.SortStableFunc(byUpdate, func(a, b client.Artifact) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	for _, c := range []struct {
		sort string
		want []string
	}{
		{"created_at", ids(all)},
		{"-created_at", reversed(ids(all))},
		{"updated_at", ids(byUpdate)},
		{"data.metrics.rmse", append([]string{m5.ID, m1.ID, m2.ID, m3.ID}, absent...)},
		{"data.model_type", []string{m1.ID, m3.ID, m4.ID, m2.ID, exp1.ID, doc.ID, exp2.ID, m5.ID}},
	} {
		if got := e.listWith(client.ListOptions{Sort: c.sort}); !slices.Equal(got, c.want) {
			t.Errorf("sort %s: %q, want %q", c.sort, got, c.want)
		}
	}
	// Descending: the values reversed (ties are not checked: see the
	// report), artifacts without the member still last.
	got := e.listWith(client.ListOptions{Sort: "-updated_at"})
	last := byUpdate[len(byUpdate)-1].UpdatedAt
	if !sameSet(got, ids(all)) || !e.get(got[0]).UpdatedAt.Equal(last) || !slices.IsSortedFunc(got, func(a, b string) int {
		return e.get(b).UpdatedAt.Compare(e.get(a).UpdatedAt)
	}) {
		t.Errorf("sort -updated_at: %q, want the last updated first", got)
	}
	got = e.listWith(client.ListOptions{Sort: "-data.metrics.rmse"})
	if len(got) != len(all) || !slices.Equal(got[:4], []string{m3.ID, m2.ID, m1.ID, m5.ID}) || !sameSet(got[4:], absent) {
		t.Errorf("sort -data.metrics.rmse: %q, want %q then %q", got, []string{m3.ID, m2.ID, m1.ID, m5.ID}, absent)
	}

	// Page numbers still work with filters; the page reports its number.
	p, err := e.c.ListWith(ctx, client.ListOptions{LevelLabel: "model", Page: 2, Size: 2})
	if err != nil || p.Page != 2 || p.Pages != 3 || p.Total != 5 || !slices.Equal(ids(p.Items), models[2:4]) || p.NextCursor == "" {
		t.Fatalf("ListWith(model, page 2 of 2) = %+v, %v", p, err)
	}
	// And the cursor of a numbered page goes on from it.
	p, err = e.c.ListWith(ctx, client.ListOptions{LevelLabel: "model", Size: 2, Cursor: p.NextCursor})
	if err != nil || p.Page != 0 || p.Total != 5 || !slices.Equal(ids(p.Items), models[4:]) || p.NextCursor != "" {
		t.Fatalf("ListWith(model, the cursor after page 2) = %+v, %v", p, err)
	}
	// Page marshals to what the server sends, next_cursor null at the end.
	for _, c := range []struct {
		page int
		path string
	}{{0, "?size=3"}, {3, "?size=3&page=3"}} {
		p, err := e.c.ListWith(ctx, client.ListOptions{Size: 3, Page: c.page})
		raw := e.rawGet("/api/v1/artifacts" + c.path)
		if b, merr := json.Marshal(p); err != nil || merr != nil || !jsonEqual(b, raw) {
			t.Fatalf("json.Marshal(ListWith %s) = %s, %v %v; the server sent %s", c.path, b, err, merr, raw)
		}
	}
}

// reversed is a reversed copy of s.
func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool { return !slices.Contains(b, s) })
}

func TestListWithProblems(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for i := range 3 {
		e.create(client.CreateRequest{Data: map[string]any{"i": i}})
	}
	first, err := e.c.ListWith(ctx, client.ListOptions{Size: 1})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", first, err)
	}
	for _, c := range []struct {
		name   string
		opts   client.ListOptions
		status int
		typ    string
		detail string // a part of the problem's detail
	}{
		{"a filter that does not parse", client.ListOptions{Filter: `data.x <`}, 400, client.TypeBadRequest, ""},
		{"a filter of the wrong type", client.ListOptions{Filter: `level == "one"`}, 400, client.TypeBadRequest, ""},
		{"a filter that is not a condition", client.ListOptions{Filter: `level + 1`}, 400, client.TypeBadRequest, ""},
		{"a filter over an unknown variable", client.ListOptions{Filter: `rmse < 0.3`}, 400, client.TypeBadRequest, "rmse"},
		{"an unknown sort", client.ListOptions{Sort: "name"}, 400, client.TypeBadRequest, "name"},
		{"an empty data path", client.ListOptions{Sort: "data."}, 400, client.TypeBadRequest, ""},
		{"cursor with page", client.ListOptions{Cursor: first.NextCursor, Page: 2}, 400, client.TypeBadRequest, ""},
		{"a cursor of another sort", client.ListOptions{Cursor: first.NextCursor, Sort: "-created_at"}, 400, client.TypeBadRequest, ""},
		{"a malformed cursor", client.ListOptions{Cursor: "not-a-cursor"}, 400, client.TypeBadRequest, ""},
		{"a malformed parent", client.ListOptions{ParentID: "nope"}, 400, client.TypeInvalidULID, ""},
		{"a negative level", client.ListOptions{Level: new(-1)}, 422, client.TypeValidationFailed, ""},
		{"a size over 1000", client.ListOptions{Size: 1001}, 422, client.TypeValidationFailed, ""},
	} {
		_, err := e.c.ListWith(ctx, c.opts)
		p := wantProblem(t, c.name, err, c.status, c.typ)
		if p.Detail == "" || !strings.Contains(p.Detail, c.detail) {
			t.Errorf("%s: detail %q, want one naming %q", c.name, p.Detail, c.detail)
		}
	}
	// An unknown query parameter is refused, not ignored.
	resp, err := specClient(t, 0).Get(e.ts.URL + "/api/v1/artifacts?tags=prod")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("list ?tags=prod = %d, want 400", resp.StatusCode)
	}
}

func TestListCursorPaging(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	var start []client.Artifact
	for i := range 17 {
		start = append(start, e.create(client.CreateRequest{Data: map[string]any{"i": i * 10}}))
	}
	for _, sort := range []string{"", "-created_at", "data.i", "-data.i"} {
		t.Run("sort="+sort, func(t *testing.T) {
			live := map[string]bool{}
			for _, a := range start {
				live[a.ID] = true
			}
			var (
				got     []string
				seen    = map[string]bool{}
				opts    = client.ListOptions{Size: 4, Sort: sort}
				deleted []string
			)
			for pages := 0; ; pages++ {
				if pages > 40 {
					t.Fatalf("more than 40 pages: %q", got)
				}
				p, err := e.c.ListWith(ctx, opts)
				if err != nil {
					t.Fatalf("page %d: %v", pages+1, err)
				}
				for _, a := range p.Items {
					if seen[a.ID] {
						t.Fatalf("page %d repeats %s; so far %q", pages+1, a.ID, got)
					}
					seen[a.ID] = true
					got = append(got, a.ID)
				}
				if p.NextCursor == "" {
					break
				}
				// Writes between pages: new artifacts whose keys fall
				// before or among those listed, and the deletion
				// of one already listed, which would shift page numbers.
				for _, i := range []int{-5, 45} {
					e.create(client.CreateRequest{Data: map[string]any{"i": i}})
				}
				victim := p.Items[0].ID
				if err := e.c.Delete(ctx, victim); err != nil {
					t.Fatal(err)
				}
				deleted = append(deleted, victim)
				opts.Cursor = p.NextCursor
			}
			// Every artifact there at the start and not deleted comes, in
			// the sort's order.
			var want []string
			for _, a := range start {
				want = append(want, a.ID)
			}
			switch sort {
			case "-created_at", "-data.i":
				slices.Reverse(want)
			}
			var listed []string
			for _, id := range got {
				if slices.Contains(want, id) {
					listed = append(listed, id)
				}
			}
			if !slices.Equal(listed, want) {
				t.Fatalf("the artifacts of the start came as %q, want %q", listed, want)
			}
			// Delete the survivors of the start, for the next sort to
			// start alike.
			start = slices.DeleteFunc(start, func(a client.Artifact) bool { return slices.Contains(deleted, a.ID) })
		})
	}
	// AllWith follows the cursors too: as one large page.
	for _, opts := range []client.ListOptions{{Sort: "-data.i"}, {Filter: `data.i >= 40 && data.i < 1000`, Sort: "data.i"}} {
		big := opts
		big.Size = 1000
		whole, err := e.c.ListWith(ctx, big)
		if err != nil {
			t.Fatal(err)
		}
		opts.Size = 3
		var got []string
		for a, err := range e.c.AllWith(ctx, opts) {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, a.ID)
		}
		if !slices.Equal(got, ids(whole.Items)) || len(got) < 4 {
			t.Fatalf("AllWith(%+v) = %q, want the one page %q", opts, got, ids(whole.Items))
		}
	}
	// All, with a deletion while it reads: nothing later is skipped.
	before, err := e.c.ListWith(ctx, client.ListOptions{Size: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for a, err := range e.c.All(ctx, 2) {
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 2 {
			if err := e.c.Delete(ctx, got[0]); err != nil {
				t.Fatal(err)
			}
		}
		got = append(got, a.ID)
	}
	if !slices.Equal(got, ids(before.Items)) {
		t.Fatalf("All(2) with a deletion under way = %q, want %q", got, ids(before.Items))
	}
}

// get is Get, failing the test on an error.
func (e *env) get(id string) client.Artifact {
	e.t.Helper()
	a, err := e.c.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatalf("Get(%s): %v", id, err)
	}
	return a
}
