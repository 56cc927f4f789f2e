package content

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldError says what is wrong with one field. Field is a dotted path from
// the artifact's data ("data.metadata.status") or from a DataFrame
// ("content.data[3]"); Reason is a short human-readable sentence fragment.
type FieldError struct {
	Field, Reason string
}

// Validate checks an artifact's data against chapkit's typed layout and
// returns every problem found, sorted by Field (then Reason), or nil.
//
// Only data that is a JSON object with a top-level "type" of ml_training,
// ml_training_workspace, ml_prediction, ml_prediction_workspace or generic is
// validated. Data without "type", with another type string, or that is not a
// JSON object at all is returned as nil: chapkit stores any JSON as data. A
// null "type" is no type. A "type" that is present but neither a string nor
// null is the single error {"data.type", "must be a string"}.
//
// For the known types the top-level keys are type, metadata, content,
// content_type, content_size and content_sha256; any other key is an error.
// content is any JSON. content_type is a string, content_size a non-negative
// integer literal, content_sha256 64 lowercase hex digits; each of the three
// may also be null, as chapkit's model_dump() writes unset optional fields.
//
// For the four ml_* types metadata is required and has exactly the keys of
// chapkit's MLMetadata: status ("success" or "failed"), config_id (a
// non-empty string), started_at and completed_at (RFC 3339 date-times, where
// a missing zone offset as in Python's isoformat() and fractional seconds are
// accepted), duration_seconds (a number >= 0), all required; and optional
// exit_code (an integer or null), stdout and stderr (strings or null). For
// generic, metadata is optional and may be any JSON object.
//
// Validate does not look inside content; ValidateDataFrameContent does that
// for DataFrames.
func Validate(data json.RawMessage) []FieldError {
	top, ok := object(data)
	if !ok {
		return nil
	}
	rawType, ok := top["type"]
	if !ok || string(rawType) == "null" {
		return nil
	}
	typ, ok := str(rawType)
	if !ok {
		return []FieldError{{Field: "data.type", Reason: "must be a string"}}
	}
	var ml bool
	switch typ {
	case "ml_training", "ml_training_workspace", "ml_prediction", "ml_prediction_workspace":
		ml = true
	case "generic":
	default:
		return nil
	}

	var errs []FieldError
	add := func(field, reason string) {
		errs = append(errs, FieldError{Field: field, Reason: reason})
	}
	notAllowed := "not allowed for type " + typ

	for key, v := range top {
		field := "data." + key
		switch key {
		case "type", "content":
		case "metadata":
			if kind(v) != '{' {
				add(field, "must be an object")
			} else if ml {
				meta, _ := object(v)
				errs = append(errs, validateMLMetadata(meta, notAllowed)...)
			}
		case "content_type":
			if k := kind(v); k != '"' && k != 'n' {
				add(field, "must be a string")
			}
		case "content_size":
			if kind(v) != 'n' {
				if n, ok := integer(v); !ok || n < 0 {
					add(field, "must be a non-negative integer")
				}
			}
		case "content_sha256":
			if kind(v) != 'n' {
				if s, ok := str(v); !ok || !isSHA256(s) {
					add(field, "must be 64 lowercase hex digits")
				}
			}
		default:
			add(field, notAllowed)
		}
	}
	if _, ok := top["metadata"]; ml && !ok {
		add("data.metadata", "required")
	}
	sortErrors(errs)
	return errs
}

// validateMLMetadata checks chapkit's MLMetadata. It is given the decoded
// object, so duplicate keys have already collapsed to the last one, as in
// Python's json module.
func validateMLMetadata(meta map[string]json.RawMessage, notAllowed string) []FieldError {
	var errs []FieldError
	add := func(key, reason string) {
		errs = append(errs, FieldError{Field: "data.metadata." + key, Reason: reason})
	}
	for _, key := range []string{"status", "config_id", "started_at", "completed_at", "duration_seconds"} {
		if _, ok := meta[key]; !ok {
			add(key, "required")
		}
	}
	for key, v := range meta {
		switch key {
		case "status":
			if s, ok := str(v); !ok || (s != "success" && s != "failed") {
				add(key, `must be "success" or "failed"`)
			}
		case "config_id":
			if s, ok := str(v); !ok {
				add(key, "must be a string")
			} else if s == "" {
				add(key, "must not be empty")
			}
		case "started_at", "completed_at":
			if s, ok := str(v); !ok || !isDateTime(s) {
				add(key, "must be an RFC 3339 date-time")
			}
		case "duration_seconds":
			if f, ok := number(v); !ok || f < 0 {
				add(key, "must be a number >= 0")
			}
		case "exit_code":
			if kind(v) != 'n' {
				if _, ok := integer(v); !ok {
					add(key, "must be an integer or null")
				}
			}
		case "stdout", "stderr":
			if k := kind(v); k != '"' && k != 'n' {
				add(key, "must be a string or null")
			}
		default:
			add(key, notAllowed)
		}
	}
	return errs
}

// sortErrors puts errs in a deterministic order: by Field, then Reason.
func sortErrors(errs []FieldError) {
	slices.SortFunc(errs, func(a, b FieldError) int {
		return cmp.Or(strings.Compare(a.Field, b.Field), strings.Compare(a.Reason, b.Reason))
	})
}

// kind returns the first byte of the JSON value v after leading whitespace:
// '{', '[', '"', 't', 'f', 'n', '-' or a digit; 0 for empty input. It assumes
// v is valid JSON and does not check the rest.
func kind(v []byte) byte {
	for _, c := range v {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

// object decodes v as a JSON object. ok is false if v is not one (null
// included: json.Unmarshal would accept it into a nil map).
func object(v []byte) (map[string]json.RawMessage, bool) {
	if kind(v) != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, false
	}
	return m, true
}

// str decodes v as a JSON string; ok is false for any other value, null too.
func str(v []byte) (string, bool) {
	if kind(v) != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// isNumber reports whether v, a valid JSON value, is a number.
func isNumber(v []byte) bool {
	k := kind(v)
	return k == '-' || ('0' <= k && k <= '9')
}

// number decodes v as a JSON number. A number too large for float64 (1e400)
// decodes as ±Inf, which keeps its sign for the comparisons callers make.
func number(v []byte) (float64, bool) {
	if !isNumber(v) {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(string(v)), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

// integer decodes v as a JSON integer literal (no fraction, no exponent) that
// fits in an int64. Pydantic would also take 3.0; chapkit's own clients send
// Python ints, which are always written without a fraction.
func integer(v []byte) (int64, bool) {
	if !isNumber(v) {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(v)), 10, 64)
	return n, err == nil
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// isDateTime reports whether s is an RFC 3339 date-time, also accepting what
// Python's datetime.isoformat() writes for naive times: no zone offset
// ("2025-10-18T10:00:00", "2025-10-18T10:00:00.123456"). The separator may be
// 'T', 't' or a space (RFC 3339 section 5.6 allows the space), and 'z' is read
// as 'Z'.
func isDateTime(s string) bool {
	if len(s) < len("2006-01-02T15:04:05") {
		return false
	}
	b := []byte(s)
	if b[10] == 't' || b[10] == ' ' {
		b[10] = 'T'
	}
	if b[len(b)-1] == 'z' {
		b[len(b)-1] = 'Z'
	}
	s = string(b)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// errorf builds a FieldError with a formatted reason.
func errorf(field, format string, args ...any) FieldError {
	return FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
