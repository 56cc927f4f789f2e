package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"time"

	"arbor/projection"
	"arbor/query"
)

// TimeFormat is how arbor writes times: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Artifact is an artifact as clients see it, over HTTP, over NATS and in
// the KV bucket.
type Artifact struct {
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

// Full is a with all its data, as a read of one artifact returns it. JSON
// content moved to the object store is a null here; WriteFull puts it back.
func Full(a projection.Artifact) Artifact { return view(a, a.Data) }

// Listed is a as lists and trees show it: its data without the top-level
// content.
func Listed(a projection.Artifact) Artifact { return view(a, a.ListData) }

func view(a projection.Artifact, data json.RawMessage) Artifact {
	v := Artifact{
		ID: a.ID.String(), Level: a.Level, Hierarchy: a.Hierarchy, Tags: a.Tags, Data: data,
		Version: a.Version, CreatedAt: formatTime(a.CreatedAt), UpdatedAt: formatTime(a.UpdatedAt),
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.Data == nil {
		v.Data = json.RawMessage(`{}`)
	}
	if !a.Parent.IsZero() {
		p := a.Parent.String()
		v.ParentID = &p
	}
	return v
}

func formatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }

// Node is an artifact with its level label, as trees and expand show it.
// Children is nil when not loaded (cut off by a depth, or in expand),
// empty for a leaf.
type Node struct {
	Artifact
	LevelLabel string  `json:"level_label"`
	Children   *[]Node `json:"children"`
}

// TreeView is the view of a tree: data without content, as lists show it.
func TreeView(t query.Tree) Node {
	n := Node{Artifact: Listed(t.Artifact), LevelLabel: t.LevelLabel}
	if t.Children != nil {
		children := make([]Node, len(t.Children))
		for i, c := range t.Children {
			children[i] = TreeView(c)
		}
		n.Children = &children
	}
	return n
}

// ExpandView is the view of one artifact with its level label, its data
// without content as lists and trees show it (chapkit's expand does the
// same; GET of the artifact or $download has the content).
func ExpandView(t query.Tree) Node {
	return Node{Artifact: Listed(t.Artifact), LevelLabel: t.LevelLabel}
}

// Ancestors is an artifact's ancestors, its root first.
type Ancestors struct {
	Items []Node `json:"items"`
}

// AncestorsView is the view of ancestors: each as a tree shows it, its
// children not loaded.
func AncestorsView(ts []query.Tree) Ancestors {
	out := Ancestors{Items: make([]Node, len(ts))}
	for i, t := range ts {
		out.Items[i] = TreeView(t)
	}
	return out
}

// Page is one page of the list.
type Page struct {
	Items []Artifact `json:"items"`
	Total int        `json:"total"`
	Page  int        `json:"page"`
	Size  int        `json:"size"`
	Pages int        `json:"pages"`
	// NextCursor asks for the page after this one; nil on the last.
	NextCursor *string `json:"next_cursor"`
}

// PageView is the view of a page of the list.
func PageView(p query.Page) Page {
	out := Page{Items: make([]Artifact, len(p.Items)), Total: p.Total, Page: p.Page, Size: p.Size, Pages: p.Pages}
	for i, a := range p.Items {
		out.Items[i] = Listed(a)
	}
	return out
}

// Blobs opens content in the object store: *blobstore.Store.
type Blobs interface {
	Open(ctx context.Context, sha256 string) (io.ReadCloser, error)
}

// FullJSON is the JSON of Full(a), without a trailing newline, and the
// size WriteFull writes. For JSON content moved to the object store, the
// document holds a 0 in place of data, where WriteFull writes the data with
// the content back in its place.
func FullJSON(a projection.Artifact) (doc []byte, size int64, err error) {
	if !moved(a) {
		doc, err = json.Marshal(Full(a))
		return doc, int64(len(doc)), err
	}
	v := Full(a)
	v.Data = json.RawMessage("0")
	if doc, err = json.Marshal(v); err != nil {
		return nil, 0, err
	}
	return doc, int64(len(doc)-len("0")+len(a.Data)-len("null")) + a.Content.Size, nil
}

func moved(a projection.Artifact) bool { return a.Content != nil && a.Content.JSON }

// WriteFull writes doc, FullJSON's document of a, to w: for JSON content
// moved to the object store, with the content streamed from blobs back into
// its place in data. An error after the first byte leaves w with a partial
// document.
func WriteFull(ctx context.Context, w io.Writer, a projection.Artifact, doc []byte, blobs Blobs) error {
	if !moved(a) {
		_, err := w.Write(doc)
		return err
	}
	blob, err := blobs.Open(ctx, a.Content.SHA256)
	if err != nil {
		return err
	}
	defer blob.Close()
	i := bytes.Index(doc, []byte(`"data":0`)) + len(`"data":`)
	off := a.Content.Offset // where a null stands for the content in data
	for _, part := range [][]byte{doc[:i], a.Data[:off]} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	if _, err := io.Copy(w, blob); err != nil {
		return err
	}
	for _, part := range [][]byte{a.Data[off+len("null"):], doc[i+1:]} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}

// History is an artifact's versions, oldest first.
type History struct {
	Items []VersionView `json:"items"`
}

// VersionView is one version of an artifact: the event that made it and
// the data and tags it left, without content (absent for a deletion).
type VersionView struct {
	Version  int             `json:"version"`
	Type     string          `json:"type"`
	Time     string          `json:"time"`
	Position uint64          `json:"position"`
	Data     json.RawMessage `json:"data,omitempty"`
	Tags     *[]string       `json:"tags,omitempty"`
	Content  *ContentView    `json:"content,omitempty"`
}

// ContentView is content kept in the object store, as a version names it.
type ContentView struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Type   string `json:"content_type"`
}

// HistoryView is the view of an artifact's versions.
func HistoryView(vs []query.Version) History {
	out := History{Items: make([]VersionView, len(vs))}
	for i, v := range vs {
		vv := VersionView{Version: v.Artifact.Version, Type: v.Type, Time: formatTime(v.Time), Position: v.Position}
		if v.Type != "artifact.deleted" {
			a := Listed(v.Artifact)
			vv.Data, vv.Tags = a.Data, &a.Tags
			if c := v.Artifact.Content; c != nil {
				vv.Content = &ContentView{SHA256: c.SHA256, Size: c.Size, Type: c.Type}
			}
		}
		out.Items[i] = vv
	}
	return out
}
