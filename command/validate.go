package command

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"

	"arbor/content"
)

const (
	maxTags   = 50
	maxTagLen = 100
)

var tagRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// validateBody checks data (chapkit's typed layouts and DataFrames
// included) and tags, and returns data compacted and tags never nil. Every
// problem is reported, not just the first.
func validateBody(data json.RawMessage, tags []string) (json.RawMessage, []string, error) {
	var errs []FieldError
	compact, err := checkData(data)
	if err != nil {
		errs = append(errs, FieldError{Field: "data", Reason: err.Error()})
	} else {
		for _, e := range content.Validate(compact) {
			errs = append(errs, FieldError{Field: e.Field, Reason: e.Reason})
		}
		for _, e := range content.ValidateDataFrameContent(compact) {
			errs = append(errs, FieldError{Field: e.Field, Reason: e.Reason})
		}
	}
	if len(tags) > maxTags {
		errs = append(errs, FieldError{Field: "tags", Reason: fmt.Sprintf("at most %d tags", maxTags)})
	}
	seen := make(map[string]bool, len(tags))
	for i, t := range tags {
		field := fmt.Sprintf("tags[%d]", i)
		switch {
		case len(t) == 0 || len(t) > maxTagLen:
			errs = append(errs, FieldError{Field: field, Reason: fmt.Sprintf("must be 1 to %d characters", maxTagLen)})
		case !tagRE.MatchString(t):
			errs = append(errs, FieldError{Field: field, Reason: "only letters, digits, '-' and '_'"})
		case seen[t]:
			errs = append(errs, FieldError{Field: field, Reason: fmt.Sprintf("duplicate tag %q", t)})
		}
		seen[t] = true
	}
	if len(errs) > 0 {
		return nil, nil, &ValidationError{Errors: errs}
	}
	if tags == nil {
		tags = []string{}
	}
	return compact, tags, nil
}

func checkData(data json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("required")
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("must be a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	return buf.Bytes(), nil
}
