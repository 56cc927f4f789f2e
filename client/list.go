package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ListOptions select, order and page a list of artifacts. The zero value
// asks for the first page of every live artifact, oldest first, of the
// server's default size.
type ListOptions struct {
	// Page (from 1) and Size (at most 1000): 0 takes the server's default
	// (1 and 50). Page cannot go with Cursor.
	Page, Size int

	// Hierarchy is an exact hierarchy name.
	Hierarchy string
	// Level, if set, is a level number (0 for roots).
	Level *int
	// LevelLabel is a level's label in any hierarchy, such as "model".
	LevelLabel string
	// ParentID selects the children of that artifact.
	ParentID string
	// Tags must all be among an artifact's tags.
	Tags []string
	// CreatedAfter, CreatedBefore and UpdatedAfter, if not zero, are
	// strict bounds.
	CreatedAfter, CreatedBefore, UpdatedAfter time.Time
	// Filter is a CEL expression over data, tags, level, level_label,
	// hierarchy, parent_id, created_at and updated_at, such as
	// `data.metrics.rmse < 0.3 && "prod" in tags`. A member missing from
	// data makes the expression false for that artifact. A filter that
	// does not compile is a 400 problem saying why.
	Filter string

	// Sort is created_at (the default), updated_at or data.<dotted path>,
	// with a leading "-" for descending. Ties go by creation order
	// (reversed too when descending); artifacts without the data path
	// come last either way.
	Sort string
	// Cursor is a Page's NextCursor: it asks for the page after that one,
	// of the same Sort (another is a 400 problem) and best the same
	// selection.
	Cursor string

	// AsOf reads the list as it stood then, as the ReadOption AsOf does.
	AsOf string
}

// query is the list's query for o.
func (o ListOptions) query() url.Values {
	q := url.Values{}
	set := func(name, v string) {
		if v != "" {
			q.Set(name, v)
		}
	}
	if o.Page != 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	if o.Size != 0 {
		q.Set("size", strconv.Itoa(o.Size))
	}
	set("hierarchy", o.Hierarchy)
	if o.Level != nil {
		q.Set("level", strconv.Itoa(*o.Level))
	}
	set("level_label", o.LevelLabel)
	set("parent_id", o.ParentID)
	for _, t := range o.Tags {
		q.Add("tag", t)
	}
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"created_after", o.CreatedAfter}, {"created_before", o.CreatedBefore}, {"updated_after", o.UpdatedAfter}} {
		if !t.t.IsZero() {
			q.Set(t.name, t.t.UTC().Format(time.RFC3339Nano))
		}
	}
	set("filter", o.Filter)
	set("sort", o.Sort)
	set("cursor", o.Cursor)
	set("as_of", o.AsOf)
	return q
}

// ListWith returns one page of the artifacts opts selects, in its sort.
// The page's NextCursor, given back as opts.Cursor, asks for the next one
// (AllWith does so): unlike page numbers, cursors keep their place while
// others create and delete artifacts.
func (c *Client) ListWith(ctx context.Context, opts ListOptions) (Page, error) {
	var p Page
	return p, c.do(ctx, request{method: http.MethodGet, path: apiBase, query: opts.query()}, &p)
}
