// Package wiretest holds the API's JSON as a client decodes it, for tests
// of every transport. The types are declared apart from arbor's own on
// purpose: a change of what arbor sends shows up as a failing test, not as
// a test that changed with it.
package wiretest

import (
	"encoding/json"
	"testing"
)

// Artifact is an artifact as a client decodes it; LevelLabel and Children
// only in trees and expand, Children nil when not loaded.
type Artifact struct {
	ID         string          `json:"id"`
	ParentID   *string         `json:"parent_id"`
	Level      int             `json:"level"`
	Hierarchy  string          `json:"hierarchy"`
	Tags       []string        `json:"tags"`
	Data       json.RawMessage `json:"data"`
	Version    int             `json:"version"`
	CreatedAt  string          `json:"created_at"`
	UpdatedAt  string          `json:"updated_at"`
	LevelLabel string          `json:"level_label"`
	Children   *[]Artifact     `json:"children"`
}

// Exact is an artifact decoded to tell a missing level from level 0.
type Exact struct {
	ID        string          `json:"id"`
	ParentID  *string         `json:"parent_id"`
	Level     *int            `json:"level"`
	Hierarchy string          `json:"hierarchy"`
	Tags      []string        `json:"tags"`
	Data      json.RawMessage `json:"data"`
	Version   int             `json:"version"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

// Node is a tree or expand node decoded to tell null children from [] from
// none at all.
type Node struct {
	Exact
	LevelLabel string          `json:"level_label"`
	Children   json.RawMessage `json:"children"`
}

// Kids returns n's children, failing t unless they are a JSON array.
func (n Node) Kids(t testing.TB) []Node {
	t.Helper()
	if len(n.Children) == 0 || n.Children[0] != '[' {
		got := string(n.Children)
		if n.Children == nil {
			got = "missing"
		}
		t.Fatalf("node %s: children = %s, want an array", n.ID, got)
	}
	var out []Node
	if err := json.Unmarshal(n.Children, &out); err != nil {
		t.Fatalf("node %s: children: %v", n.ID, err)
	}
	return out
}

// Page is one page of the list.
type Page[A any] struct {
	Items []A `json:"items"`
	Total int `json:"total"`
	Page  int `json:"page"`
	Size  int `json:"size"`
	Pages int `json:"pages"`
	// NextCursor asks for the next page; nil on the last.
	NextCursor *string `json:"next_cursor"`
}

// Problem is an RFC 9457 problem.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Errors   []struct {
		Field  string `json:"field"`
		Reason string `json:"reason"`
	} `json:"errors"`
}

// Stats is the answer of $stats.
type Stats struct {
	Total       int `json:"total"`
	Hierarchies map[string]struct {
		Total  int            `json:"total"`
		Levels map[string]int `json:"levels"`
	} `json:"hierarchies"`
}
