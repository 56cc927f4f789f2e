package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ReadOption qualifies a read: Get, Tree, Expand, Ancestors, Stats.
type ReadOption func(*readOptions)

type readOptions struct {
	asOf string
}

// AsOf makes a read answer as arbor stood at v: a log position (a
// non-negative integer, as Position returns) or an RFC 3339 time, meaning
// the events the log had stored by then. Artifacts created later are not
// found, ones deleted since are, with the data, tags and version they had.
// An empty v reads the present. A malformed v is a 422 problem (field
// "as_of").
func AsOf(v string) ReadOption {
	return func(o *readOptions) { o.asOf = v }
}

// AsOfPosition is AsOf at log position pos.
func AsOfPosition(pos uint64) ReadOption { return AsOf(strconv.FormatUint(pos, 10)) }

// AsOfTime is AsOf at time t.
func AsOfTime(t time.Time) ReadOption { return AsOf(t.UTC().Format(time.RFC3339Nano)) }

// readQuery is the query of a read with opts.
func readQuery(opts []ReadOption) url.Values {
	var o readOptions
	for _, f := range opts {
		f(&o)
	}
	q := url.Values{}
	if o.asOf != "" {
		q.Set("as_of", o.asOf)
	}
	return q
}

// Version is one version of an artifact: the event that made it and the
// artifact as it left it.
type Version struct {
	// Version is 1 for the creation and one more per later event.
	Version int
	// Type is "artifact.created", "artifact.updated" or
	// "artifact.deleted".
	Type string
	// Time is when the event was written; Position is its place in the
	// log, as AsOfPosition takes it.
	Time     time.Time
	Position uint64
	// Data is the artifact's data then, without its content; nil for a
	// deletion.
	Data json.RawMessage
	// Tags are the artifact's tags then; nil for a deletion.
	Tags []string
	// Content names the content the version had in the object store (a
	// file, or JSON content moved there); nil when none.
	Content *ContentRef
}

// ContentRef is content kept in arbor's object store.
type ContentRef struct {
	SHA256      string `json:"sha256"`
	Size        int64  `json:"size"`
	ContentType string `json:"content_type"`
}

// versionJSON is the wire form of a Version.
type versionJSON struct {
	Version  int             `json:"version"`
	Type     string          `json:"type"`
	Time     string          `json:"time"`
	Position uint64          `json:"position"`
	Data     json.RawMessage `json:"data,omitempty"`
	Tags     *[]string       `json:"tags,omitempty"`
	Content  *ContentRef     `json:"content,omitempty"`
}

// MarshalJSON writes v as the API does.
func (v Version) MarshalJSON() ([]byte, error) {
	w := versionJSON{Version: v.Version, Type: v.Type, Time: formatTime(v.Time), Position: v.Position,
		Data: v.Data, Content: v.Content}
	if v.Data != nil || v.Tags != nil {
		tags := v.Tags
		if tags == nil {
			tags = []string{}
		}
		w.Tags = &tags
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the API's JSON of a version.
func (v *Version) UnmarshalJSON(b []byte) error {
	var w versionJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	t, err := parseTime(w.Time)
	if err != nil {
		return err
	}
	*v = Version{Version: w.Version, Type: w.Type, Time: t, Position: w.Position, Data: w.Data, Content: w.Content}
	if w.Tags != nil {
		v.Tags = *w.Tags
		if v.Tags == nil {
			v.Tags = []string{}
		}
	}
	return nil
}

// History returns every version of the artifact id, oldest first, its
// deletion last if it has been deleted. An id never created is a
// not-found problem.
func (c *Client) History(ctx context.Context, id string) ([]Version, error) {
	p, err := artifactPath(id, "$history")
	if err != nil {
		return nil, err
	}
	var out struct {
		Items []Version `json:"items"`
	}
	return out.Items, c.do(ctx, request{method: http.MethodGet, path: p}, &out)
}

// GetVersion returns the artifact id as its version left it, with all of
// its data: its content too while the object store still has it (content
// only earlier versions refer to is collected after a while, and then is
// a null). A deleted artifact's earlier versions are found; a version it
// never had, or its deletion, is a not-found problem, and a version below
// 1 a 422 one.
func (c *Client) GetVersion(ctx context.Context, id string, version int) (Artifact, error) {
	p, err := artifactPath(id)
	if err != nil {
		return Artifact{}, err
	}
	q := url.Values{"version": {strconv.Itoa(version)}}
	var a Artifact
	return a, c.do(ctx, request{method: http.MethodGet, path: p, query: q}, &a)
}
