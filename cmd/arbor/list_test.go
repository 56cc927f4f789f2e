package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"arbor/client"
)

// listIDs runs arbor list with args and returns the ids of its rows, and
// its last lines (the page and any next cursor).
func (e *cliEnv) listIDs(args ...string) (ids []string, tail []string) {
	e.t.Helper()
	out := e.ok("list", args...)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "ID ") {
		e.t.Fatalf("list %q printed\n%s", args, out)
	}
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) == 7 && cliULID.MatchString(f[0]) {
			ids = append(ids, f[0])
		} else {
			tail = append(tail, l)
		}
	}
	return ids, tail
}

func TestCLIListFilters(t *testing.T) {
	e := newCLIEnv(t)
	exp := e.createID("--data", `{"name": "e1"}`, "--tag", "prod", "--tag", "a")
	m1 := e.createID("--parent", exp, "--data", `{"model_type": "LinearRegression", "metrics": {"rmse": 0.25}}`, "--tag", "prod")
	m2 := e.createID("--parent", exp, "--data", `{"model_type": "RandomForest", "metrics": {"rmse": 0.4}}`)
	doc := e.createID("--hierarchy", "documents", "--data", `{"title": "notes"}`, "--tag", "prod")
	m3 := e.createID("--parent", exp, "--data", `{"model_type": "LinearRegression"}`)
	e.ok("update", m2, "--data", `{"model_type": "RandomForest", "metrics": {"rmse": 0.5}}`)
	all := []string{exp, m1, m2, doc, m3}
	got := map[string]client.Artifact{}
	for _, id := range all {
		got[id] = e.get(id)
	}
	stamp := func(t time.Time) string { return t.Format(client.TimeFormat) }
	after := func(bound time.Time, at func(client.Artifact) time.Time) []string {
		var out []string
		for _, id := range all {
			if at(got[id]).After(bound) {
				out = append(out, id)
			}
		}
		return out
	}
	created := func(a client.Artifact) time.Time { return a.CreatedAt }
	updated := func(a client.Artifact) time.Time { return a.UpdatedAt }

	for _, c := range []struct {
		args []string
		want []string
	}{
		{nil, all},
		{[]string{"--hierarchy", "documents"}, []string{doc}},
		{[]string{"--level", "0"}, []string{exp, doc}},
		{[]string{"--level", "1", "--hierarchy", "ml_pipeline"}, []string{m1, m2, m3}},
		{[]string{"--level-label", "model"}, []string{m1, m2, m3}},
		{[]string{"--parent", exp}, []string{m1, m2, m3}},
		{[]string{"--tag", "prod"}, []string{exp, m1, doc}},
		{[]string{"--tag", "prod", "--tag", "a"}, []string{exp}},
		{[]string{"--created-after", stamp(got[m1].CreatedAt)}, after(got[m1].CreatedAt, created)},
		{[]string{"--created-before", stamp(got[doc].CreatedAt)}, slices.DeleteFunc(slices.Clone(all), func(id string) bool {
			return !got[id].CreatedAt.Before(got[doc].CreatedAt)
		})},
		{[]string{"--created-after", "2000-01-01", "--created-before", "2999-01-01"}, all},
		{[]string{"--updated-after", stamp(got[m3].UpdatedAt)}, after(got[m3].UpdatedAt, updated)},
		{[]string{"--filter", `data.metrics.rmse < 0.3 && data.model_type == "LinearRegression"`}, []string{m1}},
		{[]string{"--filter", `"prod" in tags || level_label == "model"`}, []string{exp, m1, m2, doc, m3}},
		{[]string{"--filter", `data.metrics.rmse > 0.3`, "--level-label", "model"}, []string{m2}},
		{[]string{"--sort", "data.metrics.rmse"}, []string{m1, m2, exp, doc, m3}},
		{[]string{"--sort", "-created_at"}, []string{m3, doc, m2, m1, exp}},
		{[]string{"--sort", "-data.metrics.rmse", "--level-label", "model", "--filter", "has(data.metrics)"}, []string{m2, m1}},
	} {
		ids, tail := e.listIDs(c.args...)
		if !slices.Equal(ids, c.want) {
			t.Errorf("list %q: %q, want %q", c.args, ids, c.want)
		}
		if len(tail) != 1 || !strings.HasPrefix(tail[0], "page 1 of ") {
			t.Errorf("list %q ends %q, want one page and no cursor", c.args, tail)
		}
	}

	// Cursors: each page prints the next one's, until the last; they
	// go together with the selection and the sort.
	var (
		paged []string
		args  = []string{"--size", "2", "--sort", "-data.metrics.rmse"}
		pages int
	)
	for cursor := ""; ; pages++ {
		if pages > 5 {
			t.Fatalf("more than 5 pages: %q", paged)
		}
		a := args
		if cursor != "" {
			a = append(slices.Clone(args), "--cursor", cursor)
		}
		ids, tail := e.listIDs(a...)
		paged = append(paged, ids...)
		if pages == 0 && tail[0] != "page 1 of 3, 5 artifacts" || pages > 0 && tail[0] != "the page after the cursor, of 5 artifacts" {
			t.Fatalf("list %q: %q", a, tail)
		}
		if len(tail) == 1 {
			break
		}
		next, ok := strings.CutPrefix(tail[1], "next page: --cursor ")
		if !ok || len(tail) != 2 || next == "" {
			t.Fatalf("list %q ends %q, want the next page's cursor", a, tail)
		}
		cursor = next
	}
	// (Those without the member come last; their order is not checked:
	// see the report on descending ties.)
	if pages != 2 || len(paged) != 5 || !slices.Equal(paged[:2], []string{m2, m1}) || !sameIDs(paged[2:], []string{exp, doc, m3}) {
		t.Fatalf("list by cursor: %d pages %q, want 3 pages: %s, %s, then the others", pages+1, paged, m2, m1)
	}
	// --all reads by cursor too, with the selection; --json prints the
	// cursor as the API does.
	if ids, _ := e.listIDs("--all", "--size", "1", "--tag", "prod", "--sort", "-created_at"); !slices.Equal(ids, []string{doc, m1, exp}) {
		t.Fatalf("list --all --tag prod --sort -created_at: %q", ids)
	}
	var page struct {
		Items      []struct{ ID string } `json:"items"`
		NextCursor *string               `json:"next_cursor"`
	}
	out := e.ok("list", "--json", "--size", "4")
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Items) != 4 || page.NextCursor == nil {
		t.Fatalf("list --json --size 4 printed %s (%v)", out, err)
	}
	cursor := *page.NextCursor
	out = e.ok("list", "--json", "--size", "4", "--cursor", cursor)
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Items) != 1 || page.Items[0].ID != m3 || page.NextCursor != nil ||
		!strings.Contains(out, `"next_cursor":null`) {
		t.Fatalf("list --json --cursor printed %s (%v)", out, err)
	}

	// The server's refusals, and the CLI's.
	for _, args := range [][]string{
		{"--filter", "data.x <"},
		{"--sort", "name"},
		{"--cursor", "nope"},
		{"--parent", "nope"},
		{"--cursor", cursor, "--sort", "updated_at"}, // a cursor of another sort
	} {
		if r := e.run("list", args...); exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 400 ") {
			t.Errorf("list %q: %v, want a 400", args, r)
		}
	}
	for _, args := range [][]string{
		{"--cursor", "x", "--page", "2"},
		{"--level", "-1"},
		{"--created-after", "yesterday"},
		{"--updated-after", "2026-13-01"},
	} {
		if r := e.run("list", args...); exitCode(r.err) != 2 || !strings.Contains(r.stderr, "Usage: arbor list") {
			t.Errorf("list %q: %v, want a usage error", args, r)
		}
	}
}

// sameIDs reports whether a and b hold the same ids, in any order.
func sameIDs(a, b []string) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(s string) bool { return !slices.Contains(b, s) })
}
