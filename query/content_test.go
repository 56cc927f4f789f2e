package query_test

import (
	"errors"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/query"
)

// Content decides what a download serves: a file as stored, JSON content
// (with its media type, a DataFrame or not), or nothing.
func TestContent(t *testing.T) {
	hs := hierarchies(t)
	h := newHistory(t, hs)
	file, inline, frame, none, gone := id(901), id(902), id(903), id(904), id(905)
	const sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // of "abc"
	h.root(file, "plain", `{"content_type":"application/zip","content_size":3,"content_sha256":"`+sha+`"}`)
	h.apply(layoutArt(h, file), events.ArtifactUpdated{ID: file, Data: h.artifact(file).Data,
		Content: &events.Content{SHA256: sha, Size: 3, Type: "application/zip"}})
	h.root(inline, "plain", `{"content":{"a":1},"content_type":"application/geo+json"}`)
	h.root(frame, "plain", `{"content_type":"application/vnd.chapkit.dataframe+json","content":{"columns":["a"],"data":[[1]]}}`)
	h.root(none, "plain", `{"content":null}`)
	h.root(gone, "plain", `{"content":1}`)
	h.remove(gone)
	q := &query.Service{Projection: h.p, Hierarchies: hs}

	_, c, err := q.Content(t.Context(), file)
	if err != nil || c.File == nil || c.File.SHA256 != sha || c.Type != "application/zip" || c.JSON != nil {
		t.Fatalf("file: %+v, %v; want the stored file", c, err)
	}
	_, c, err = q.Content(t.Context(), inline)
	if err != nil || c.File != nil || string(c.JSON) != `{"a":1}` || c.Type != "application/geo+json" || c.DataFrame {
		t.Fatalf("inline: %+v, %v; want the JSON and its type", c, err)
	}
	_, c, err = q.Content(t.Context(), frame)
	if err != nil || !c.DataFrame || c.JSON == nil {
		t.Fatalf("DataFrame: %+v, %v; want it marked", c, err)
	}
	if _, _, err := q.Content(t.Context(), none); !errors.Is(err, query.ErrNoContent) {
		t.Fatalf("null content: %v, want ErrNoContent", err)
	}
	if _, _, err := q.Content(t.Context(), gone); !errors.Is(err, query.ErrNotFound) {
		t.Fatalf("deleted: %v, want ErrNotFound", err)
	}
}

func layoutArt(h *history, id ulid.ULID) string {
	a := h.artifact(id)
	return layout.Art(a.Place(), id)
}
