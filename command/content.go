package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/oklog/ulid/v2"

	"arbor/blobstore"
	"arbor/content"
	"arbor/events"
	"arbor/projection"
)

// Blobs is where content too large for an event goes: *blobstore.Store.
type Blobs interface {
	Put(ctx context.Context, r io.Reader, limit int64) (blobstore.Ref, error)
}

// AttachContent makes uploaded content (already in the object store) the
// artifact's content. IfMatch, when not zero, is the version the client
// saw.
type AttachContent struct {
	ID      ulid.ULID
	IfMatch int
	Content events.Content
	Key     *Key
}

// AttachContent carries out a and returns the artifact and the log position
// of the event. The artifact's data loses any inline content and gains
// content_type, content_size and content_sha256. Errors: ErrNotFound,
// ErrStale, *ValidationError (a typed layout that does not allow it), and
// errors wrapping events.ErrUnavailable.
func (h *Handler) AttachContent(ctx context.Context, a AttachContent) (projection.Artifact, uint64, error) {
	env, pos, d, err := h.run(ctx, a.Key, func(s *projection.State) (decision, error) {
		cur, found := s.Get(a.ID)
		switch {
		case !found || !cur.Live:
			return decision{}, &projection.NotFoundError{ID: a.ID}
		case a.IfMatch != 0 && a.IfMatch != cur.Version:
			return decision{}, ErrStale
		}
		data, err := stamp(cur.Data, a.Content)
		if err != nil {
			return decision{}, err
		}
		c := a.Content
		ev := events.ArtifactUpdated{ID: cur.ID, Tags: cur.Tags, Data: data, Content: &c}
		return decision{event: ev, write: ownWrite(cur, h.Hierarchies, s.Layout()), prev: cur}, nil
	})
	if err != nil {
		return projection.Artifact{}, 0, err
	}
	return d.prev.AfterUpdate(env, d.event.(events.ArtifactUpdated)), pos, nil
}

// stamp returns data for binary content c (see content.Stamp), validated.
func stamp(data json.RawMessage, c events.Content) (json.RawMessage, error) {
	out, err := content.Stamp(data, c.Type, c.Size, c.SHA256)
	if err != nil {
		return nil, err
	}
	if _, _, err := validateBody(out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// fit returns data as one event can carry it. Data too large keeps its
// content in the object store: a null stands in for it, at the offset the
// returned Content records. Data too large even so is ErrTooLarge.
func (h *Handler) fit(ctx context.Context, data json.RawMessage) (json.RawMessage, *events.Content, error) {
	if h.MaxData == 0 || len(data) <= h.MaxData {
		return data, nil, nil
	}
	m, ok := content.Inline(data)
	rest := len(data) - len(m.Value) + len("null")
	if !ok || h.Blobs == nil || rest > h.MaxData {
		return nil, nil, fmt.Errorf("%w: data is %d bytes, at most %d fit in one event besides its content",
			ErrTooLarge, len(data), h.MaxData)
	}
	ref, err := h.Blobs.Put(ctx, bytes.NewReader(m.Value), int64(len(m.Value)))
	if err != nil {
		return nil, nil, fmt.Errorf("move content out of the event: %w", err)
	}
	stub := make(json.RawMessage, 0, rest)
	stub = append(append(append(stub, data[:m.Start]...), "null"...), data[m.End:]...)
	ctype := content.TypeOf(data, "application/json")
	return stub, &events.Content{SHA256: ref.SHA256, Size: ref.Size, Type: ctype, JSON: true, Offset: m.Start}, nil
}
