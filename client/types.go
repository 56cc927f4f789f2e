package client

import (
	"encoding/json"
	"time"
)

// TimeFormat is how arbor writes times: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Artifact is an artifact as the API returns it. It marshals to and from
// the API's JSON, where a root's parent_id is null.
type Artifact struct {
	ID string
	// ParentID is empty for a root.
	ParentID  string
	Level     int
	Hierarchy string
	Tags      []string
	// Data is the artifact's JSON object. Lists and trees leave out its
	// content; Get returns it whole.
	Data json.RawMessage
	// Version counts the artifact's own events (1 after creation); it is
	// what IfMatch takes.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// artifactJSON is the wire form of an Artifact.
type artifactJSON struct {
	ID        string          `json:"id"`
	ParentID  *string         `json:"parent_id"`
	Level     int             `json:"level"`
	Hierarchy string          `json:"hierarchy"`
	Tags      []string        `json:"tags"`
	Data      json.RawMessage `json:"data"`
	Version   int             `json:"version"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

func (a Artifact) wire() artifactJSON {
	w := artifactJSON{
		ID: a.ID, Level: a.Level, Hierarchy: a.Hierarchy, Tags: a.Tags, Data: a.Data, Version: a.Version,
		CreatedAt: formatTime(a.CreatedAt), UpdatedAt: formatTime(a.UpdatedAt),
	}
	if a.ParentID != "" {
		p := a.ParentID
		w.ParentID = &p
	}
	if w.Tags == nil {
		w.Tags = []string{}
	}
	if w.Data == nil {
		w.Data = json.RawMessage(`{}`)
	}
	return w
}

func (w artifactJSON) artifact() (Artifact, error) {
	a := Artifact{ID: w.ID, Level: w.Level, Hierarchy: w.Hierarchy, Tags: w.Tags, Data: w.Data, Version: w.Version}
	if w.ParentID != nil {
		a.ParentID = *w.ParentID
	}
	var err error
	if a.CreatedAt, err = parseTime(w.CreatedAt); err != nil {
		return Artifact{}, err
	}
	if a.UpdatedAt, err = parseTime(w.UpdatedAt); err != nil {
		return Artifact{}, err
	}
	return a, nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(TimeFormat)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// MarshalJSON writes a as the API does.
func (a Artifact) MarshalJSON() ([]byte, error) { return json.Marshal(a.wire()) }

// UnmarshalJSON reads the API's JSON of an artifact.
func (a *Artifact) UnmarshalJSON(b []byte) error {
	var w artifactJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	v, err := w.artifact()
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Node is an artifact with its place in its hierarchy, as Tree and Expand
// return it.
type Node struct {
	Artifact
	// LevelLabel names the artifact's level in its hierarchy, such as
	// "model", or "level_<n>" for an unlabelled level.
	LevelLabel string
	// Children are in creation order. They are loaded (ChildrenLoaded)
	// unless the node lies at the depth a tree was cut off at, or comes
	// from Expand; a loaded leaf has none.
	Children       []Node
	ChildrenLoaded bool
}

// nodeJSON is the wire form of a Node: an artifact with level_label and
// children, null when not loaded.
type nodeJSON struct {
	artifactJSON
	LevelLabel string  `json:"level_label"`
	Children   *[]Node `json:"children"`
}

// MarshalJSON writes n as the API does: children null when not loaded.
func (n Node) MarshalJSON() ([]byte, error) {
	w := nodeJSON{artifactJSON: n.Artifact.wire(), LevelLabel: n.LevelLabel}
	if n.ChildrenLoaded {
		children := n.Children
		if children == nil {
			children = []Node{}
		}
		w.Children = &children
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the API's JSON of a node.
func (n *Node) UnmarshalJSON(b []byte) error {
	var w nodeJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	a, err := w.artifactJSON.artifact()
	if err != nil {
		return err
	}
	*n = Node{Artifact: a, LevelLabel: w.LevelLabel}
	if w.Children != nil {
		n.Children, n.ChildrenLoaded = *w.Children, true
	}
	return nil
}

// Page is one page of a list of artifacts. Its items leave out their
// data's content.
type Page struct {
	Items []Artifact `json:"items"`
	// Total counts every artifact the list selects; Pages the pages of
	// Size items they fill.
	Total int `json:"total"`
	// Page is the page's number, 0 for a page asked for by cursor.
	Page  int `json:"page"`
	Size  int `json:"size"`
	Pages int `json:"pages"`
	// NextCursor asks for the next page (ListOptions.Cursor); empty on
	// the last.
	NextCursor string `json:"next_cursor"`
}

// MarshalJSON writes p as the API does: next_cursor null on the last
// page.
func (p Page) MarshalJSON() ([]byte, error) {
	type page Page // without this method
	w := struct {
		page
		NextCursor *string `json:"next_cursor"`
	}{page: page(p)}
	if p.NextCursor != "" {
		w.NextCursor = &p.NextCursor
	}
	return json.Marshal(w)
}

// Stats counts live artifacts, in all and per hierarchy.
type Stats struct {
	Total       int                       `json:"total"`
	Hierarchies map[string]HierarchyStats `json:"hierarchies"`
}

// HierarchyStats counts the live artifacts of one hierarchy, in all and
// per level label.
type HierarchyStats struct {
	Total  int            `json:"total"`
	Levels map[string]int `json:"levels"`
}

// Health is arbor's report on itself.
type Health struct {
	// Status is "healthy", "degraded" (a non-critical check fails) or
	// "unhealthy".
	Status string                 `json:"status"`
	Checks map[string]HealthCheck `json:"checks"`
	// Version is the version of arbor answering; empty when it does not
	// say.
	Version string `json:"version,omitempty"`
}

// HealthCheck is the outcome of one named check.
type HealthCheck struct {
	// State is "healthy" or "unhealthy"; Message says why when unhealthy.
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
}
