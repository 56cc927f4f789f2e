package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// typed is data in chapkit's typed layout, with content.
const typed = `{"type":"generic","metadata":{"b":2,"a":[1,"x"]},"content":{"rows":[1,2,3]},"content_type":"application/json"}`

func TestList(t *testing.T) {
	e := newEnv(t)

	var empty page
	wantJSON(t, e.do(http.MethodGet, base, ""), http.StatusOK, &empty)
	if empty.Items == nil || len(empty.Items) != 0 || empty.Total != 0 || empty.Page != 1 || empty.Size != 50 || empty.Pages != 0 {
		t.Errorf("empty list = %+v, want {items: [], total 0, page 1, size 50, pages 0}", empty)
	}

	var ids []string
	root := e.create(`{"data":` + typed + `}`)
	ids = append(ids, root.ID)
	for i := range 4 {
		ids = append(ids, e.child(root.ID, fmt.Sprint("c", i)).ID)
	}
	ids = append(ids, e.root("documents", "d").ID)

	var all page
	wantJSON(t, e.do(http.MethodGet, base, ""), http.StatusOK, &all)
	if all.Total != 6 || all.Page != 1 || all.Size != 50 || all.Pages != 1 || len(all.Items) != 6 {
		t.Fatalf("list = total %d page %d size %d pages %d items %d, want 6 1 50 1 6",
			all.Total, all.Page, all.Size, all.Pages, len(all.Items))
	}
	for i, a := range all.Items {
		if a.ID != ids[i] {
			t.Errorf("items[%d].id = %s, want %s (creation order)", i, a.ID, ids[i])
		}
	}
	first := all.Items[0]
	if m := dataMap(t, first.Data); m["content"] != nil || m["type"] != "generic" || m["metadata"] == nil || m["content_type"] == nil {
		t.Errorf("list item data = %s, want it without content and with the rest", first.Data)
	}
	if first.Version != 1 || *first.Level != 0 || first.Hierarchy != "ml_pipeline" || first.Tags == nil {
		t.Errorf("list item = %+v, want a full artifact apart from content", first)
	}
	if full := e.get(root.ID); !sameJSON(full.Data, []byte(typed)) {
		t.Errorf("GET data = %s, want it with content: %s", full.Data, typed)
	}

	pages := []struct {
		query string
		want  []string
		pages int
	}{
		{"?size=4", ids[:4], 2},
		{"?size=4&page=2", ids[4:], 2},
		{"?page=2&size=2", ids[2:4], 3},
		{"?page=3&size=2", ids[4:6], 3},
		{"?page=4&size=2", []string{}, 3},
		{"?page=100", []string{}, 1},
		{"?size=1000", ids, 1},
		{"?size=1&page=6", ids[5:], 6},
		{"?size=1&page=7", []string{}, 6},
	}
	for _, p := range pages {
		var got page
		wantJSON(t, e.do(http.MethodGet, base+p.query, ""), http.StatusOK, &got)
		if got.Items == nil {
			t.Errorf("%s: items = null, want an array", p.query)
		}
		var gotIDs []string
		for _, a := range got.Items {
			gotIDs = append(gotIDs, a.ID)
		}
		if strings.Join(gotIDs, ",") != strings.Join(p.want, ",") || got.Total != 6 || got.Pages != p.pages {
			t.Errorf("%s: items %v total %d pages %d, want %v 6 %d", p.query, gotIDs, got.Total, got.Pages, p.want, p.pages)
		}
	}

	bad := []struct{ query, field string }{
		{"?size=1001", "size"},
		{"?size=0", "size"},
		{"?size=-1", "size"},
		{"?size=abc", "size"},
		{"?size=1.5", "size"},
		{"?page=0", "page"},
		{"?page=-3", "page"},
		{"?page=abc", "page"},
	}
	for _, b := range bad {
		wantField(t, e.do(http.MethodGet, base+b.query, ""), b.field)
	}

	// A deleted artifact leaves the list.
	want(t, e.do(http.MethodDelete, base+"/"+ids[5], ""), http.StatusNoContent)
	wantJSON(t, e.do(http.MethodGet, base, ""), http.StatusOK, &all)
	if all.Total != 5 || len(all.Items) != 5 || all.Items[4].ID != ids[4] {
		t.Errorf("after a delete: total %d, %d items, want 5 without %s", all.Total, len(all.Items), ids[5])
	}
}

func TestGet(t *testing.T) {
	e := newEnv(t)
	a := e.create(`{"tags":["t"],"data":` + typed + `}`)

	r := e.do(http.MethodGet, base+"/"+a.ID, "")
	var got artifact
	wantJSON(t, r, http.StatusOK, &got)
	if etag := r.Header.Get("ETag"); etag != `"1"` {
		t.Errorf(`ETag = %q, want "1"`, etag)
	}
	if got.ID != a.ID || got.Version != 1 || got.Hierarchy != "ml_pipeline" || strings.Join(got.Tags, ",") != "t" {
		t.Errorf("GET = %+v, want %+v", got, a)
	}
	if !sameJSON(got.Data, []byte(typed)) {
		t.Errorf("data = %s, want %s", got.Data, typed)
	}
	checkTime(t, "created_at", got.CreatedAt)
	checkTime(t, "updated_at", got.UpdatedAt)

	gone := e.root("", "gone")
	want(t, e.do(http.MethodDelete, base+"/"+gone.ID, ""), http.StatusNoContent)

	for _, id := range []string{unknownID, gone.ID} {
		p := wantProblem(t, e.do(http.MethodGet, base+"/"+id, ""), http.StatusNotFound, typeNotFound)
		if want := "Artifact with id " + id + " not found"; p.Detail != want {
			t.Errorf("detail = %q, want %q", p.Detail, want)
		}
	}
	for _, id := range []string{"nope", "01ARZ3NDEKTSV4RRFFQ69G5FA", "01ARZ3NDEKTSV4RRFFQ69G5FAVV", "01ARZ3NDEKTSV4RRFFQ69G5FAU", "81ARZ3NDEKTSV4RRFFQ69G5FAV"} {
		p := wantProblem(t, e.do(http.MethodGet, base+"/"+id, ""), http.StatusBadRequest, typeInvalidULID)
		if want := "Invalid ULID format: " + id; p.Detail != want {
			t.Errorf("detail = %q, want %q", p.Detail, want)
		}
	}
}

func TestExpand(t *testing.T) {
	e := newEnv(t)
	root := e.create(`{"data":{"name":"root"}}`)
	model := e.create(`{"parent_id":"` + root.ID + `","tags":["m"],"data":` + typed + `}`)
	e.child(model.ID, "pred")

	r := e.do(http.MethodGet, base+"/"+model.ID+"/$expand", "")
	var n node
	wantJSON(t, r, http.StatusOK, &n)
	if n.ID != model.ID || *n.ParentID != root.ID || *n.Level != 1 || n.Version != 1 || strings.Join(n.Tags, ",") != "m" {
		t.Errorf("expand = %+v, want the artifact %+v", n.Exact, model)
	}
	if n.LevelLabel != "model" || n.Hierarchy != "ml_pipeline" {
		t.Errorf("level_label %q hierarchy %q, want model ml_pipeline", n.LevelLabel, n.Hierarchy)
	}
	if string(n.Children) != "null" {
		t.Errorf("children = %s, want null", string(n.Children))
	}
	// Content is left out, as lists and trees leave it out.
	if want := `{"type":"generic","metadata":{"b":2,"a":[1,"x"]},"content_type":"application/json"}`; !sameJSON(n.Data, []byte(want)) {
		t.Errorf("data = %s, want %s: the data without content", n.Data, want)
	}
	checkTime(t, "created_at", n.CreatedAt)

	p := wantProblem(t, e.do(http.MethodGet, base+"/"+unknownID+"/$expand", ""), http.StatusNotFound, typeNotFound)
	if want := "Artifact with id " + unknownID + " not found"; p.Detail != want {
		t.Errorf("detail = %q, want %q", p.Detail, want)
	}
	wantProblem(t, e.do(http.MethodGet, base+"/nope/$expand", ""), http.StatusBadRequest, typeInvalidULID)

	// Unlabelled levels are level_<n>.
	f := e.child(e.root("free", "f").ID, "g")
	wantJSON(t, e.do(http.MethodGet, base+"/"+f.ID+"/$expand", ""), http.StatusOK, &n)
	if n.LevelLabel != "level_1" || n.Hierarchy != "free" {
		t.Errorf("free child: level_label %q hierarchy %q, want level_1 free", n.LevelLabel, n.Hierarchy)
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, data, want string
	}{
		{"typed", typed, `{"b":2,"a":[1,"x"]}`},
		{"nested order kept", `{"metadata":{"z":{"y":1,"x":[true,null]},"a":"s"}}`, `{"z":{"y":1,"x":[true,null]},"a":"s"}`},
		{"none", `{"content":"x"}`, `{}`},
		{"empty data", `{}`, `{}`},
		{"null", `{"metadata":null}`, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := e.create(`{"data":` + tt.data + `}`)
			r := e.do(http.MethodGet, base+"/"+a.ID+"/$metadata", "")
			var v map[string]any
			wantJSON(t, r, http.StatusOK, &v)
			if !sameJSON(r.Body, []byte(tt.want)) {
				t.Errorf("metadata = %s, want %s", r.Body, tt.want)
			}
		})
	}
	p := wantProblem(t, e.do(http.MethodGet, base+"/"+unknownID+"/$metadata", ""), http.StatusNotFound, typeNotFound)
	if want := "Artifact with id " + unknownID + " not found"; p.Detail != want {
		t.Errorf("detail = %q, want %q", p.Detail, want)
	}
	wantProblem(t, e.do(http.MethodGet, base+"/nope/$metadata", ""), http.StatusBadRequest, typeInvalidULID)
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	if s := e.stats(); s.Total != 0 {
		t.Errorf("empty: total = %d, want 0", s.Total)
	}
	exp := e.root("", "exp")
	m1 := e.child(exp.ID, "m1")
	e.child(exp.ID, "m2")
	e.child(m1.ID, "p")
	e.root("documents", "proj")
	f := e.root("free", "f")
	e.child(f.ID, "g")

	s := e.stats()
	if s.Total != 7 {
		t.Errorf("total = %d, want 7", s.Total)
	}
	wantLevels := map[string]map[string]int{
		"ml_pipeline": {"experiment": 1, "model": 2, "predictions": 1},
		"documents":   {"project": 1},
		"free":        {"level_0": 1, "level_1": 1},
	}
	for h, levels := range wantLevels {
		hs, ok := s.Hierarchies[h]
		if !ok {
			t.Errorf("hierarchies[%s] missing: %+v", h, s.Hierarchies)
			continue
		}
		sum := 0
		for l, n := range levels {
			sum += n
			if hs.Levels[l] != n {
				t.Errorf("%s level %s = %d, want %d", h, l, hs.Levels[l], n)
			}
		}
		if hs.Total != sum {
			t.Errorf("%s total = %d, want %d", h, hs.Total, sum)
		}
	}

	want(t, e.do(http.MethodDelete, base+"/"+f.ID, ""), http.StatusConflict)
	var kids node
	wantJSON(t, e.do(http.MethodGet, base+"/"+f.ID+"/$tree", ""), http.StatusOK, &kids)
	want(t, e.do(http.MethodDelete, base+"/"+kids.Kids(t)[0].ID, ""), http.StatusNoContent)
	if s := e.stats(); s.Total != 6 || s.Hierarchies["free"].Total != 1 || s.Hierarchies["free"].Levels["level_1"] != 0 {
		t.Errorf("after a delete: %+v, want total 6 and free 1", s)
	}
}

func TestSchema(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, base+"/$schema", "")
	want(t, r, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.Contains(ct, "json") {
		t.Errorf("Content-Type = %q, want a JSON type", ct)
	}
	var s struct {
		Type       string                     `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(r.Body, &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if s.Type != "object" {
		t.Errorf("type = %q, want object", s.Type)
	}
	for _, f := range []string{"id", "parent_id", "level", "hierarchy", "tags", "data", "version", "created_at", "updated_at"} {
		if _, ok := s.Properties[f]; !ok {
			t.Errorf("properties lack %q", f)
		}
	}
}
