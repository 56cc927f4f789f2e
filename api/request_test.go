package api

import (
	"net/http"
	"strings"
	"testing"
)

// A body is refused before anything is written when its meaning is
// unclear: a key twice in one object (anywhere, however it is spelled),
// or the zero ULID standing in for an id.
func TestDecodeCreateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		status     int
		says       string
	}{
		{"a key twice", `{"data": {"content": 1, "content": 2}}`, http.StatusBadRequest, `"content" appears twice`},
		{"a key twice, escaped", `{"data": {"content": 1, "\u0063ontent": 2}}`, http.StatusBadRequest, `"content" appears twice`},
		{"a key twice, deep", `{"data": {"a": [{"x": 1}, {"y": {"k": 1, "k": 2}}]}}`, http.StatusBadRequest, `"k" appears twice`},
		{"a top-level key twice", `{"tags": [], "tags": ["a"], "data": {}}`, http.StatusBadRequest, `"tags" appears twice`},
		{"a key in other case", `{"dAtA": {"n": 1}}`, http.StatusBadRequest, `"dAtA" must be spelled "data"`},
		{"two spellings of one key", `{"data": {"n": 1}, "DATA": {"n": 2}}`, http.StatusBadRequest, `must be spelled "data"`},
		{"the zero id", `{"id": "00000000000000000000000000", "data": {}}`, http.StatusUnprocessableEntity, "zero ULID"},
		{"the zero parent", `{"parent_id": "00000000000000000000000000", "data": {}}`, http.StatusUnprocessableEntity, "zero ULID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r CreateRequest
			err := DecodeJSON([]byte(tc.body), &r)
			if err == nil {
				_, err = r.Command()
			}
			p := ProblemFor(err)
			if p.Status != tc.status || !strings.Contains(p.Detail, tc.says) {
				t.Fatalf("%s = %d %q, want %d saying %q", tc.body, p.Status, p.Detail, tc.status, tc.says)
			}
		})
	}
}

// The same key in different objects, or a value that looks like a key, is
// no duplicate.
func TestDecodeAcceptsDistinctKeys(t *testing.T) {
	for _, body := range []string{
		`{"data": {"a": {"k": 1}, "b": {"k": 2}}, "tags": ["data", "tags"]}`,
		`{"data": {"k": "k", "content": [{"k": 1}, {"k": 1}]}}`,
		`{"data": {}}`,
		`{"data": {"Data": 1, "DATA": 2}, "unknown": true}`, // data's own keys are its own
	} {
		var r CreateRequest
		if err := DecodeJSON([]byte(body), &r); err != nil {
			t.Errorf("%s: %v", body, err)
		}
		if _, err := r.Command(); err != nil {
			t.Errorf("%s: Command: %v", body, err)
		}
	}
}
