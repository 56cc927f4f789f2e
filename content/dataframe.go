package content

import (
	"encoding/json"
	"slices"
	"strconv"
)

// DataFrameType is the content_type of an artifact whose content is a
// DataFrame.
const DataFrameType = "application/vnd.chapkit.dataframe+json"

// DataFrame is servicekit's tabular interchange format:
//
//	{"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]], "schema": {...}}
//
// Columns are unique names. Every row has exactly one cell per column, in
// column order. A cell is any JSON value, kept as the bytes it arrived as so
// that numbers keep their exact text (1e400, 0.1000). Schema is an optional
// JSON object describing the columns; nil when absent or null. A DataFrame
// from ParseDataFrame satisfies all of this; one built by hand must too before
// it is rendered.
type DataFrame struct {
	Columns []string
	Rows    [][]json.RawMessage
	Schema  json.RawMessage
}

// ParseDataFrame decodes b as a DataFrame. On success it returns the frame and
// nil; otherwise nil and every problem found, with fields rooted at "content"
// ("content.columns[1]", "content.data[3]").
//
// b must be a JSON object with exactly the keys "columns" (required: a
// non-empty array of unique strings), "data" (required: an array, possibly
// empty, of rows, each an array with one value per column) and "schema"
// (optional: an object, or null). Errors are ordered columns, data (by row),
// schema, then unknown keys by name. Every malformed row is reported, so the
// number of errors grows with the input.
func ParseDataFrame(b []byte) (*DataFrame, []FieldError) {
	return parseDataFrame(b, "content")
}

// parseDataFrame is ParseDataFrame with error fields rooted at at.
func parseDataFrame(b []byte, at string) (*DataFrame, []FieldError) {
	if !json.Valid(b) {
		return nil, []FieldError{{Field: at, Reason: "must be valid JSON"}}
	}
	top, ok := object(b)
	if !ok {
		return nil, []FieldError{{Field: at, Reason: "must be an object"}}
	}

	var errs []FieldError
	df := &DataFrame{}

	width := -1 // the number of columns, -1 when there is no usable columns array
	switch raw, ok := top["columns"]; {
	case !ok:
		errs = append(errs, FieldError{Field: at + ".columns", Reason: "required"})
	case kind(raw) != '[':
		errs = append(errs, FieldError{Field: at + ".columns", Reason: "must be an array of strings"})
	default:
		var items []json.RawMessage
		_ = json.Unmarshal(raw, &items) // valid JSON array: cannot fail
		width = len(items)
		if width == 0 {
			errs = append(errs, FieldError{Field: at + ".columns", Reason: "must not be empty"})
		}
		df.Columns = make([]string, 0, len(items))
		seen := make(map[string]bool, len(items))
		for i, item := range items {
			name, ok := str(item)
			switch {
			case !ok:
				errs = append(errs, errorf(at+".columns["+strconv.Itoa(i)+"]", "must be a string"))
			case seen[name]:
				errs = append(errs, errorf(at+".columns["+strconv.Itoa(i)+"]", "duplicate column %q", name))
			default:
				seen[name] = true
			}
			df.Columns = append(df.Columns, name)
		}
	}

	switch raw, ok := top["data"]; {
	case !ok:
		errs = append(errs, FieldError{Field: at + ".data", Reason: "required"})
	case kind(raw) != '[':
		errs = append(errs, FieldError{Field: at + ".data", Reason: "must be an array"})
	default:
		var rows []json.RawMessage
		_ = json.Unmarshal(raw, &rows)
		df.Rows = make([][]json.RawMessage, 0, len(rows))
		for i, row := range rows {
			if kind(row) != '[' {
				errs = append(errs, FieldError{Field: at + ".data[" + strconv.Itoa(i) + "]", Reason: "must be an array"})
				continue
			}
			var cells []json.RawMessage
			_ = json.Unmarshal(row, &cells)
			if width >= 0 && len(cells) != width {
				errs = append(errs, errorf(at+".data["+strconv.Itoa(i)+"]", "row has %d values, want %d (one per column)", len(cells), width))
				continue
			}
			df.Rows = append(df.Rows, cells)
		}
	}

	if raw, ok := top["schema"]; ok {
		switch kind(raw) {
		case 'n':
		case '{':
			df.Schema = raw
		default:
			errs = append(errs, FieldError{Field: at + ".schema", Reason: "must be an object"})
		}
	}

	var unknown []string
	for key := range top {
		switch key {
		case "columns", "data", "schema":
		default:
			unknown = append(unknown, key)
		}
	}
	slices.Sort(unknown)
	for _, key := range unknown {
		errs = append(errs, FieldError{Field: at + "." + key, Reason: "not allowed in a DataFrame"})
	}

	if errs != nil {
		return nil, errs
	}
	return df, nil
}

// IsDataFrame reports whether an artifact's data is a JSON object whose
// content_type is DataFrameType. Like Extension it ignores media type
// parameters and case.
func IsDataFrame(data json.RawMessage) bool {
	top, ok := object(data)
	if !ok {
		return false
	}
	ct, ok := str(top["content_type"])
	return ok && mediaType(ct) == DataFrameType
}

// ValidateDataFrameContent checks that an artifact's data whose content_type
// is DataFrameType (see IsDataFrame) holds a DataFrame in content. It returns
// ParseDataFrame's errors with fields rooted at "data.content"
// ("data.content.data[3]"), or nil. Data that is not a DataFrame, and a
// DataFrame artifact without content or with null content (its bytes live in
// the object store, or it has none yet), are nil.
func ValidateDataFrameContent(data json.RawMessage) []FieldError {
	top, ok := object(data)
	if !ok {
		return nil
	}
	ct, ok := str(top["content_type"])
	if !ok || mediaType(ct) != DataFrameType {
		return nil
	}
	raw, ok := top["content"]
	if !ok || kind(raw) == 'n' {
		return nil
	}
	_, errs := parseDataFrame(raw, "data.content")
	return errs
}
