package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"arbor/api"
	"arbor/internal/filter"
	"arbor/query"
)

// queryParams are the query parameters each route takes (GET answers
// HEAD too); a route not here takes none. Anything else is a 400, so that
// a misspelt filter never silently returns everything.
var queryParams = map[string][]string{
	base: {"page", "size", "hierarchy", "level", "level_label", "parent_id", "tag",
		"created_after", "created_before", "updated_after", "filter", "sort", "cursor", "as_of"},
	idRoute:                 {"version", "as_of"},
	idRoute + "/$tree":      {"max_depth", "as_of"},
	idRoute + "/$ancestors": {"as_of"},
	idRoute + "/$expand":    {"as_of"},
	idRoute + "/$download":  {"format"},
	base + "/$stats":        {"as_of"},
	base + "/$events":       {"hierarchy", "level_label", "type", "artifact", "parent_id", "since"},
	idRoute + "/$history":   nil,
	idRoute + "/$metadata":  nil,
	idRoute + "/$content":   nil,
	base + "/$tree":         nil,
	base + "/$schema":       nil,
}

// checkParams refuses a request to the API with a query parameter its
// route does not take, naming it.
func (s *Server) checkParams(r *http.Request) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	// url.Values leaves out the pairs it cannot read: a filter with an
	// unescaped ';' or '%' would be dropped, and everything listed.
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return api.BadRequest("malformed query string: %v (escape ';', '%%' and '&' in values)", err)
	}
	route := s.Route(r.URL.Path)
	if route == "other" || r.Method == http.MethodOptions {
		return nil // a 404 for a path arbor does not serve; OPTIONS reads no query
	}
	takes := queryParams[route]
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		takes = nil // writes take no parameters
	}
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(takes, name) {
			return api.BadRequest("unknown query parameter %q", name)
		}
	}
	return nil
}

// asOfParam reads the query's as_of (see asOf); given empty, it is a 422.
func (s *Server) asOfParam(ctx context.Context, q url.Values) (*uint64, error) {
	if q.Has("as_of") && q.Get("as_of") == "" {
		return nil, api.InvalidField("as_of", "must be a log position or an RFC 3339 time, not empty")
	}
	return s.asOf(ctx, q.Get("as_of"))
}

// asOf reads an as_of value: a log position or an RFC 3339 time, and the
// position it names once the projection has it; nil when v is empty.
func (s *Server) asOf(ctx context.Context, v string) (*uint64, error) {
	if v == "" {
		return nil, nil
	}
	as, err := parseAsOf(v)
	if err != nil {
		return nil, err
	}
	pos, err := s.Queries.Position(ctx, as, s.Wait)
	if err != nil {
		return nil, err
	}
	return &pos, nil
}

func parseAsOf(v string) (query.AsOf, error) {
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return query.AsOf{Pos: n}, nil
	}
	t, err := parseTime(v)
	if err != nil {
		return query.AsOf{}, api.InvalidField("as_of", "must be a log position or an RFC 3339 time, not %q", v)
	}
	return query.AsOf{Time: t}, nil
}

// parseTime reads an RFC 3339 time from a query. A '+' of its offset that
// the client did not escape arrives as a space: it is read as the '+'.
func parseTime(v string) (time.Time, error) {
	return time.Parse(time.RFC3339Nano, strings.Replace(v, " ", "+", 1))
}

// setAsOf tells the client the position an as_of read was made at.
func setAsOf(w http.ResponseWriter, pos *uint64) {
	if pos != nil {
		w.Header().Set(api.HeaderPosition, strconv.FormatUint(*pos, 10))
	}
}

// listQuery reads the list's query parameters.
func (s *Server) listQuery(ctx context.Context, q url.Values) (query.ListQuery, error) {
	var (
		lq  query.ListQuery
		err error
	)
	if lq.Size, err = intParam(q.Get("size"), "size", 50, 1, maxPageSize); err != nil {
		return lq, err
	}
	if lq.Page, err = intParam(q.Get("page"), "page", 1, 1, -1); err != nil {
		return lq, err
	}
	sortBy := q.Get("sort")
	var ok bool
	if lq.Sort, ok = query.ParseSort(sortBy); !ok {
		return lq, api.BadRequest("sort must be created_at, updated_at or data.<path>, with '-' for descending; not %q", sortBy)
	}
	if c := q.Get("cursor"); c != "" || q.Has("cursor") {
		if q.Has("page") {
			return lq, api.BadRequest("cursor and page cannot go together: a cursor names its page")
		}
		if lq.After, err = decodeCursor(c); err != nil {
			return lq, err
		}
		if lq.After.Sort != lq.Sort.String() {
			return lq, api.BadRequest("the cursor was made for sort %q, not %q", lq.After.Sort, lq.Sort.String())
		}
	}
	sel := &lq.Selection
	sel.Hierarchy = q.Get("hierarchy")
	var level *int
	if v := q.Get("level"); v != "" {
		n, err := intParam(v, "level", 0, 0, -1)
		if err != nil {
			return lq, err
		}
		level = &n
	}
	if sel.Levels = s.Queries.Levels(sel.Hierarchy, level, q.Get("level_label")); sel.Levels != nil {
		sel.Hierarchy = "" // the levels name it
	}
	if v := q.Get("parent_id"); v != "" {
		if sel.Parent, err = api.ParseID(v); err != nil {
			return lq, api.InvalidULID(v)
		}
		sel.HasParent = true
	}
	sel.Tags = q["tag"]
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"created_after", &sel.CreatedAfter}, {"created_before", &sel.CreatedBefore}, {"updated_after", &sel.UpdatedAfter}} {
		if v := q.Get(t.name); v != "" {
			if *t.to, err = parseTime(v); err != nil {
				return lq, api.InvalidField(t.name, "must be an RFC 3339 time, not %q", v)
			}
		}
	}
	if f := q.Get("filter"); f != "" || q.Has("filter") {
		if lq.Filter, err = filter.Compile(f); err != nil {
			return lq, api.BadRequest("%v", err)
		}
	}
	lq.AsOf, err = s.asOfParam(ctx, q)
	return lq, err
}

// A cursor is its JSON, base64url: opaque to clients, who send it back.
func encodeCursor(c *query.Cursor) *string {
	if c == nil {
		return nil
	}
	b, _ := json.Marshal(c)
	v := base64.RawURLEncoding.EncodeToString(b)
	return &v
}

func decodeCursor(v string) (*query.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(v)
	var c query.Cursor
	if err != nil || json.Unmarshal(b, &c) != nil || c.Seq == 0 {
		return nil, api.BadRequest("cursor %q is not one arbor made: pass next_cursor as it came", v)
	}
	return &c, nil
}

// listView is the view of a page with its next cursor.
func listView(p query.Page) api.Page {
	v := api.PageView(p)
	v.NextCursor = encodeCursor(p.Next)
	return v
}
