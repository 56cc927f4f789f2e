package api

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/projection"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 123_000_000, time.UTC)

func id(n uint64) ulid.ULID {
	var u ulid.ULID
	binary.BigEndian.PutUint64(u[8:], n)
	return u
}

func TestViews(t *testing.T) {
	root, child, gone := id(1), id(10), id(2)
	berlin := time.FixedZone("CET", 3600)
	rootArt := projection.Artifact{
		ID: root, Hierarchy: "default",
		Data:     json.RawMessage(`{"type":"generic","content":"big","metadata":{}}`),
		ListData: json.RawMessage(`{"type":"generic","metadata":{}}`),
		Version:  1, CreatedAt: t0, UpdatedAt: t0, Live: true, CreatedSeq: 1,
	}
	childArt := projection.Artifact{
		ID: child, Parent: root, Hierarchy: "ml", Level: 2, Tags: []string{"b", "a"},
		Data: json.RawMessage(`{"k":1}`), ListData: json.RawMessage(`{"k":1}`),
		Version: 3,
		// Another zone, and more precision than milliseconds.
		CreatedAt: time.Date(2026, 11, 27, 13, 0, 0, 999_999_999, berlin),
		UpdatedAt: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC),
		Live:      true, CreatedSeq: 2,
	}
	deletedArt := projection.Artifact{ID: gone, Hierarchy: "default", Version: 2, CreatedAt: t0, UpdatedAt: t0.Add(time.Hour)}
	for _, tt := range []struct {
		name string
		view Artifact
		want string
	}{
		{"root, full", Full(rootArt),
			`{"id":"` + root.String() + `","parent_id":null,"level":0,"hierarchy":"default","tags":[],` +
				`"data":{"type":"generic","content":"big","metadata":{}},"version":1,` +
				`"created_at":"2026-11-27T12:00:00.123Z","updated_at":"2026-11-27T12:00:00.123Z"}`},
		{"root, listed", Listed(rootArt),
			`{"id":"` + root.String() + `","parent_id":null,"level":0,"hierarchy":"default","tags":[],` +
				`"data":{"type":"generic","metadata":{}},"version":1,` +
				`"created_at":"2026-11-27T12:00:00.123Z","updated_at":"2026-11-27T12:00:00.123Z"}`},
		{"child", Full(childArt),
			`{"id":"` + child.String() + `","parent_id":"` + root.String() + `","level":2,"hierarchy":"ml","tags":["b","a"],` +
				`"data":{"k":1},"version":3,` +
				`"created_at":"2026-11-27T12:00:00.999Z","updated_at":"2027-01-02T03:04:05.000Z"}`},
		{"deleted: no data, no tags", Full(deletedArt),
			`{"id":"` + gone.String() + `","parent_id":null,"level":0,"hierarchy":"default","tags":[],` +
				`"data":{},"version":2,` +
				`"created_at":"2026-11-27T12:00:00.123Z","updated_at":"2026-11-27T13:00:00.123Z"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.view)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("view =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// blobs serves one blob from memory: the object store's part in WriteFull.
type blobs map[string]string

func (b blobs) Open(_ context.Context, sha string) (io.ReadCloser, error) {
	v, ok := b[sha]
	if !ok {
		return nil, errors.New("no such blob")
	}
	return io.NopCloser(strings.NewReader(v)), nil
}

// JSON content moved to the object store goes back in its place, and the
// size FullJSON announces is the size written.
func TestWriteFull(t *testing.T) {
	data := `{"a": 1, "content":null, "content_type":"application/json"}`
	a := projection.Artifact{
		ID: id(1), Hierarchy: "default", Data: json.RawMessage(data), Version: 1, CreatedAt: t0, UpdatedAt: t0,
		Content: &events.Content{SHA256: "abc", Size: 13, Type: "application/json", JSON: true,
			Offset: strings.Index(data, "null")},
	}
	doc, size, err := FullJSON(a)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteFull(t.Context(), &b, a, doc, blobs{"abc": `{"big":[1,2]}`}); err != nil {
		t.Fatal(err)
	}
	if int64(b.Len()) != size {
		t.Fatalf("wrote %d bytes, FullJSON said %d", b.Len(), size)
	}
	var got struct {
		Data struct {
			A       int            `json:"a"`
			Content map[string]any `json:"content"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%s: %v", b.Bytes(), err)
	}
	if got.Data.A != 1 || got.Data.Content["big"] == nil {
		t.Fatalf("full artifact = %s, want the content in place", b.Bytes())
	}
	// Inline content is written as it is.
	a.Content = nil
	a.Data = json.RawMessage(`{"content":{"x":1}}`)
	doc, size, _ = FullJSON(a)
	b.Reset()
	if err := WriteFull(t.Context(), &b, a, doc, nil); err != nil || int64(b.Len()) != size || !bytes.Contains(b.Bytes(), []byte(`"content":{"x":1}`)) {
		t.Fatalf("inline: %s (%v), want %d bytes with the content", b.Bytes(), err, size)
	}
}

// Every error a transport meets becomes the problem a client sees, with the
// artifact a not-found names.
func TestProblemFor(t *testing.T) {
	missing := id(7)
	for _, tc := range []struct {
		err    error
		status int
		detail string
	}{
		{&projection.NotFoundError{ID: missing}, 404, missing.String()},
		{InvalidField("tags", "must be an array"), 422, "tags: must be an array"},
		{events.ErrUnknownOutcome, 503, "may or may not"},
		{errors.New("boom"), 500, "internal"},
		{BadRequest("bad %s", "thing"), 400, "bad thing"},
	} {
		p := ProblemFor(tc.err)
		if p.Status != tc.status || !strings.Contains(p.Detail, tc.detail) {
			t.Errorf("ProblemFor(%v) = %d %q, want %d mentioning %q", tc.err, p.Status, p.Detail, tc.status, tc.detail)
		}
	}
}
