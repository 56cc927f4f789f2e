package content

import (
	"encoding/json"
	"strconv"

	"arbor/internal/jsonobj"
)

// The data.content layout: an artifact's data may hold its content inline
// under "content", say its media type under "content_type", and, for a file
// kept in the object store, describe it with "content_size" and
// "content_sha256". This file is the one place that knows those keys.

// Strip returns data without its top-level content, as lists and trees
// show it. Other members keep their bytes and order; data without content
// is returned as is, sharing its bytes. Keys compare decoded: a key spelled
// with escapes is the same key.
func Strip(data json.RawMessage) json.RawMessage { return jsonobj.Without(data, "content") }

// Inline is data's inline content: its bytes and where they are in data.
// ok is false when data has none (no member, or null).
func Inline(data json.RawMessage) (m jsonobj.Member, ok bool) {
	m, ok = jsonobj.Get(data, "content")
	if !ok || string(m.Value) == "null" {
		return jsonobj.Member{}, false
	}
	return m, true
}

// HasInline reports whether data has a content member at all, null too: a
// member the writer set, which replaces uploaded content.
func HasInline(data json.RawMessage) bool {
	_, ok := jsonobj.Get(data, "content")
	return ok
}

// TypeOf is data's content_type, or def when it names none.
func TypeOf(data json.RawMessage, def string) string {
	var ct string
	if m, ok := jsonobj.Get(data, "content_type"); ok && json.Unmarshal(m.Value, &ct) == nil && ct != "" {
		return ct
	}
	return def
}

// Stamp returns data for a file kept in the object store: without inline
// content, with content_type, content_size and content_sha256 describing
// the file.
func Stamp(data json.RawMessage, contentType string, size int64, sha256 string) (json.RawMessage, error) {
	out := Strip(data)
	var err error
	for _, kv := range []struct {
		key   string
		value json.RawMessage
	}{
		{"content_type", quote(contentType)},
		{"content_size", json.RawMessage(strconv.FormatInt(size, 10))},
		{"content_sha256", quote(sha256)},
	} {
		if out, err = jsonobj.With(out, kv.key, kv.value); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
