package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"

	"arbor/command"
)

// The request bodies of the API, the same JSON over every transport.

// CreateRequest is the body of a create.
type CreateRequest struct {
	ID        string          `json:"id"`
	ParentID  *string         `json:"parent_id"`
	Hierarchy string          `json:"hierarchy"`
	Tags      []string        `json:"tags"`
	Data      json.RawMessage `json:"data"`
}

// Command turns r into a create command; a malformed id is a
// *command.ValidationError.
func (r CreateRequest) Command() (command.Create, error) {
	c := command.Create{Hierarchy: r.Hierarchy, Tags: r.Tags, Data: r.Data}
	var err error
	if r.ID != "" {
		if c.ID, err = ParseID(r.ID); err != nil {
			return command.Create{}, InvalidField("id", "not a ULID: %q", r.ID)
		}
		if c.ID.IsZero() {
			return command.Create{}, InvalidField("id", "the zero ULID is no artifact's id; leave id out for a new one")
		}
	}
	if r.ParentID != nil {
		if c.Parent, err = ParseID(*r.ParentID); err != nil {
			return command.Create{}, InvalidField("parent_id", "not a ULID: %q", *r.ParentID)
		}
		if c.Parent.IsZero() {
			return command.Create{}, InvalidField("parent_id", "the zero ULID is no artifact's id; use null for a root")
		}
	}
	return c, nil
}

// UpdateRequest is the body of an update.
type UpdateRequest struct {
	// ParentID is kept raw to tell an omitted parent_id from null.
	ParentID json.RawMessage `json:"parent_id"`
	Tags     []string        `json:"tags"`
	Data     json.RawMessage `json:"data"`
}

// Command turns r into an update of id, applying only to version ifMatch
// when it is not zero.
func (r UpdateRequest) Command(id ulid.ULID, ifMatch int) (command.Update, error) {
	u := command.Update{ID: id, Tags: r.Tags, Data: r.Data, IfMatch: ifMatch}
	if len(r.ParentID) == 0 {
		return u, nil
	}
	u.ParentSet = true
	if string(r.ParentID) == "null" {
		return u, nil
	}
	var p string
	if json.Unmarshal(r.ParentID, &p) != nil {
		return command.Update{}, InvalidField("parent_id", "must be a ULID or null")
	}
	var err error
	if u.Parent, err = ParseID(p); err != nil {
		return command.Update{}, InvalidField("parent_id", "not a ULID: %q", p)
	}
	return u, nil
}

// TreeRequest is the body of POST /$tree.
type TreeRequest struct {
	RootID   string `json:"root_id"`
	MaxDepth *int   `json:"max_depth"`
	// AsOf, if set, is a log position (a number) or an RFC 3339 time (a
	// string), or either as a string.
	AsOf json.RawMessage `json:"as_of"`
}

// AsOfText is the request's as_of as the query parameter has it, "" when
// not given; a value that is neither a number nor a string is an error.
func (r TreeRequest) AsOfText() (string, error) {
	v := bytes.TrimSpace(r.AsOf)
	if len(v) == 0 || string(v) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, nil
	}
	var n uint64
	if json.Unmarshal(v, &n) == nil {
		return strconv.FormatUint(n, 10), nil
	}
	return "", InvalidField("as_of", "must be a log position or an RFC 3339 time")
}

// Query returns the root and depth r asks for (-1: the whole subtree).
func (r TreeRequest) Query() (ulid.ULID, int, error) {
	if r.RootID == "" {
		return ulid.ULID{}, 0, InvalidField("root_id", "required")
	}
	id, err := ParseID(r.RootID)
	if err != nil {
		return ulid.ULID{}, 0, InvalidField("root_id", "not a ULID: %q", r.RootID)
	}
	depth := -1
	if r.MaxDepth != nil {
		if depth = *r.MaxDepth; depth < 0 {
			return ulid.ULID{}, 0, InvalidField("max_depth", "must be 0 or more")
		}
	}
	return id, depth, nil
}

// IDRequest names one artifact: the body of NATS get and delete.
type IDRequest struct {
	ID string `json:"id"`
}

// RequiredID reads a required id field of a body.
func RequiredID(field, s string) (ulid.ULID, error) {
	if s == "" {
		return ulid.ULID{}, InvalidField(field, "required")
	}
	id, err := ParseID(s)
	if err != nil {
		return ulid.ULID{}, InvalidField(field, "not a ULID: %q", s)
	}
	return id, nil
}

// DecodeJSON reads one JSON value, a request body, into v: 400 for a body
// that is empty, not UTF-8, not JSON, or followed by more; 422 naming the
// field for a value of the wrong type.
func DecodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("a JSON body is required")
	}
	if !utf8.Valid(body) {
		return BadRequest("the body is not valid UTF-8")
	}
	dup, top := scanKeys(body)
	if dup != "" {
		return BadRequest("the key %q appears twice in one object: which value is meant is unclear", dup)
	}
	if key, want, ok := misspelled(top, v); ok {
		return BadRequest("the key %q must be spelled %q: keys are case-sensitive", key, want)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return InvalidField(typeErr.Field, "must be %s, not %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
		}
		if errors.As(err, &typeErr) {
			return BadRequest("the body must be a JSON object, not %s", typeErr.Value)
		}
		return BadRequest("malformed JSON: %v", err)
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return BadRequest("malformed JSON: data after the first value")
	}
	return nil
}

// misspelled reports one of the top-level keys of a body that names one of
// the fields of the struct v points to in other case ("Data" for "data"):
// encoding/json would take it for that field, and two spellings of one key
// would pass the duplicate check.
func misspelled(keys []string, v any) (key, want string, ok bool) {
	t := reflect.TypeOf(v)
	if len(keys) == 0 || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return "", "", false
	}
	st := t.Elem()
	for _, k := range keys {
		for i := range st.NumField() {
			name, _, _ := strings.Cut(st.Field(i).Tag.Get("json"), ",")
			if name != "" && name != "-" && k != name && strings.EqualFold(k, name) {
				return k, name, true
			}
		}
	}
	return "", "", false
}

// scanKeys reads the keys of body in one pass: the first key that appears
// twice in one object, anywhere in body, comparing keys as decoded
// ("\u0063ontent" is "content"), and otherwise the keys of the top-level
// object. Malformed JSON has no duplicate: decoding reports it.
func scanKeys(body []byte) (dup string, top []string) {
	if bytes.IndexByte(body, ':') < 0 {
		return "", nil // no object has a key
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next string in an object is a key
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", top
		}
		depth := len(stack) - 1
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{object: true, keys: map[string]bool{}, key: true})
				continue
			case '[':
				stack = append(stack, frame{})
				continue
			default:
				stack = stack[:depth]
				depth--
			}
		case string:
			if depth >= 0 && stack[depth].object && stack[depth].key {
				if stack[depth].keys[t] {
					return t, nil
				}
				if depth == 0 {
					top = append(top, t)
				}
				stack[depth].keys[t] = true
				stack[depth].key = false
				continue
			}
		}
		// A value ended: in an object, a key comes next.
		if depth >= 0 && stack[depth].object {
			stack[depth].key = true
		}
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "slice":
		return "an array"
	case "string", "ptr":
		return "a string"
	case "int":
		return "an integer"
	}
	return "a " + goKind
}

// ParseID reads a ULID, upper or lower case.
func ParseID(s string) (ulid.ULID, error) { return ulid.ParseStrict(strings.ToUpper(s)) }

// IfMatch reads an If-Match value as a version; zero when empty or "*". It
// takes one strong ETag: anything else (a weak tag, a list) cannot match a
// version and is command.ErrStale.
func IfMatch(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" || v == "*" {
		return 0, nil
	}
	unquoted, err := strconv.Unquote(v)
	if err != nil || !strings.HasPrefix(v, `"`) {
		return 0, command.ErrStale
	}
	n, err := strconv.Atoi(unquoted)
	if err != nil || n < 1 || strconv.Itoa(n) != unquoted {
		return 0, command.ErrStale // ETags compare as strings: "01" is not "1"
	}
	return n, nil
}

// CheckIdempotencyKey refuses an Idempotency-Key that is empty, longer
// than 255 characters or not visible ASCII.
func CheckIdempotencyKey(key string) error {
	if key == "" || len(key) > 255 {
		return BadRequest("Idempotency-Key must be 1 to 255 characters long")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < '!' || key[i] > '~' {
			return BadRequest("Idempotency-Key must be visible ASCII characters, without spaces")
		}
	}
	return nil
}
