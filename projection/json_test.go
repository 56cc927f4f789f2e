package projection

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDoc(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	rootArt := Artifact{
		ID: root, Hierarchy: "default",
		Data:     json.RawMessage(`{"type":"generic","content":"big","metadata":{}}`),
		ListData: json.RawMessage(`{"type":"generic","metadata":{}}`),
		Version:  1, CreatedAt: t0, UpdatedAt: t0, Live: true, CreatedSeq: 1,
	}
	childArt := Artifact{
		ID: child, Parent: root, Hierarchy: "ml", Level: 2, Tags: []string{"b", "a"},
		Data: json.RawMessage(`{"k":1}`), ListData: json.RawMessage(`{"k":1}`),
		Version: 3,
		// Another zone, and more precision than milliseconds.
		CreatedAt: time.Date(2026, 11, 27, 13, 0, 0, 999_999_999, berlin),
		UpdatedAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
		Live:      true, CreatedSeq: 2,
	}
	deletedArt := Artifact{ID: root2, Hierarchy: "default", Version: 2, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}
	tests := []struct {
		name string
		a    Artifact
		full bool
		want string
	}{
		{
			name: "root, full",
			a:    rootArt, full: true,
			want: `{"id":"` + root.String() + `","parent_id":null,"level":0,"hierarchy":"default","tags":[],` +
				`"data":{"type":"generic","content":"big","metadata":{}},"version":1,` +
				`"created_at":"2026-11-27T12:00:00.123Z","updated_at":"2026-11-27T12:00:00.123Z"}`,
		},
		{
			name: "root, summary",
			a:    rootArt, full: false,
			want: `{"id":"` + root.String() + `","parent_id":null,"level":0,"hierarchy":"default","tags":[],` +
				`"data":{"type":"generic","metadata":{}},"version":1,` +
				`"created_at":"2026-11-27T12:00:00.123Z","updated_at":"2026-11-27T12:00:00.123Z"}`,
		},
		{
			name: "child",
			a:    childArt, full: true,
			want: `{"id":"` + child.String() + `","parent_id":"` + root.String() + `","level":2,"hierarchy":"ml","tags":["b","a"],` +
				`"data":{"k":1},"version":3,` +
				`"created_at":"2026-11-27T12:00:00.999Z","updated_at":"2027-01-02T03:04:05.000Z"}`,
		},
		{
			name: "deleted: no data, no tags",
			a:    deletedArt, full: true,
			want: `{"id":"` + root2.String() + `","parent_id":null,"level":0,"hierarchy":"default","tags":[],` +
				`"data":{},"version":2,` +
				`"created_at":"2026-11-27T12:00:00.123Z","updated_at":"2026-11-27T13:00:00.123Z"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.a.Doc(tt.full)
			got, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Doc(%v) =\n%s\nwant\n%s", tt.full, got, tt.want)
			}
		})
	}
}

// Doc is built from the fold's own output: a summary from the fold drops
// content, and a fresh artifact's tags are an empty list, not null.
func TestDocFromTheFold(t *testing.T) {
	s := fold(created(root, none, 0, `{"content":"x","a":1}`))
	a, _ := s.Get(root)
	if got := string(a.Doc(false).Data); got != `{"a":1}` {
		t.Fatalf("Doc(false).Data = %s, want {\"a\":1}", got)
	}
	if got := string(a.Doc(true).Data); got != `{"content":"x","a":1}` {
		t.Fatalf("Doc(true).Data = %s, want the data as written", got)
	}
	d := a.Doc(true)
	if d.Tags == nil || len(d.Tags) != 0 {
		t.Fatalf("Doc.Tags = %#v, want an empty list", d.Tags)
	}
	if d.ParentID != nil {
		t.Fatalf("Doc.ParentID = %q, want nil for a root", *d.ParentID)
	}
}
