package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func manyTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	return tags
}

func TestValidateBody(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		nilData  bool
		tags     []string
		want     string   // compacted data, when valid
		wantTags []string // when valid
		fields   []string // the fields named by the *ValidationError, in order
	}{
		{name: "object", data: `{"a":1}`, want: `{"a":1}`, wantTags: []string{}},
		{name: "empty object", data: `{}`, want: `{}`, wantTags: []string{}},
		{name: "compacted", data: " \n{ \"a\" : [ 1, 2 ],\n\t\"b\": {\"c\" : \"d e\"} }\n ", want: `{"a":[1,2],"b":{"c":"d e"}}`, wantTags: []string{}},
		{name: "nested null and arrays", data: `{"a":null,"b":[],"c":[null]}`, want: `{"a":null,"b":[],"c":[null]}`, wantTags: []string{}},
		{name: "nil data", nilData: true, fields: []string{"data"}},
		{name: "empty data", data: ``, fields: []string{"data"}},
		{name: "blank data", data: " \n\t", fields: []string{"data"}},
		{name: "null", data: `null`, fields: []string{"data"}},
		{name: "array", data: `[]`, fields: []string{"data"}},
		{name: "array of an object", data: `[{"a":1}]`, fields: []string{"data"}},
		{name: "string", data: `"x"`, fields: []string{"data"}},
		{name: "number", data: `1`, fields: []string{"data"}},
		{name: "boolean", data: `true`, fields: []string{"data"}},
		{name: "unterminated object", data: `{"a":`, fields: []string{"data"}},
		{name: "bare word inside", data: `{"a":nope}`, fields: []string{"data"}},
		{name: "trailing comma", data: `{"a":1,}`, fields: []string{"data"}},
		{name: "two objects", data: `{"a":1}{"b":2}`, fields: []string{"data"}},
		{name: "object then garbage", data: `{"a":1} x`, fields: []string{"data"}},
		{name: "single quotes", data: `{'a':1}`, fields: []string{"data"}},

		{name: "nil tags become empty", data: `{}`, tags: nil, want: `{}`, wantTags: []string{}},
		{name: "empty tags stay empty", data: `{}`, tags: []string{}, want: `{}`, wantTags: []string{}},
		{name: "allowed characters", data: `{}`, tags: []string{"exp-1", "A_b", "0", "Z-_9z"}, want: `{}`, wantTags: []string{"exp-1", "A_b", "0", "Z-_9z"}},
		{name: "tags differing in case", data: `{}`, tags: []string{"a", "A"}, want: `{}`, wantTags: []string{"a", "A"}},
		{name: "50 tags", data: `{}`, tags: manyTags(50), want: `{}`, wantTags: manyTags(50)},
		{name: "51 tags", data: `{}`, tags: manyTags(51), fields: []string{"tags"}},
		{name: "tag of 100 characters", data: `{}`, tags: []string{strings.Repeat("x", 100)}, want: `{}`, wantTags: []string{strings.Repeat("x", 100)}},
		{name: "tag of 101 characters", data: `{}`, tags: []string{"ok", strings.Repeat("x", 101)}, fields: []string{"tags[1]"}},
		{name: "empty tag", data: `{}`, tags: []string{""}, fields: []string{"tags[0]"}},
		{name: "space", data: `{}`, tags: []string{"a b"}, fields: []string{"tags[0]"}},
		{name: "dot", data: `{}`, tags: []string{"ok", "a.b"}, fields: []string{"tags[1]"}},
		{name: "subject wildcards", data: `{}`, tags: []string{"*", ">"}, fields: []string{"tags[0]", "tags[1]"}},
		{name: "slash", data: `{}`, tags: []string{"a/b"}, fields: []string{"tags[0]"}},
		{name: "non-ASCII letter", data: `{}`, tags: []string{"é"}, fields: []string{"tags[0]"}},
		{name: "newline", data: `{}`, tags: []string{"a\n"}, fields: []string{"tags[0]"}},
		{name: "duplicate named by its index", data: `{}`, tags: []string{"a", "b", "a"}, fields: []string{"tags[2]"}},
		{name: "every duplicate", data: `{}`, tags: []string{"a", "a", "b", "a", "b"}, fields: []string{"tags[1]", "tags[3]", "tags[4]"}},
		{
			name: "several problems together", data: `null`, tags: []string{"", "a b", "x", "x", strings.Repeat("y", 101)},
			fields: []string{"data", "tags[0]", "tags[1]", "tags[3]", "tags[4]"},
		},
		{name: "too many tags and a bad one", data: `[]`, tags: append(manyTags(50), "bad tag"), fields: []string{"data", "tags", "tags[50]"}},

		{name: "large data", data: `{"a":"` + strings.Repeat("x", 1<<20) + `"}`, want: `{"a":"` + strings.Repeat("x", 1<<20) + `"}`, wantTags: []string{}},
		{name: "typed data is checked", data: `{"type":"ml_training","metadata":{"status":"pending"}}`, fields: []string{"data.metadata.completed_at", "data.metadata.config_id", "data.metadata.duration_seconds", "data.metadata.started_at", "data.metadata.status"}},
		{name: "a DataFrame is checked", data: `{"content_type":"application/vnd.chapkit.dataframe+json","content":{"columns":["a","b"],"data":[[1]]}}`, fields: []string{"data.content.data[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var data json.RawMessage
			if !tt.nilData {
				data = json.RawMessage(tt.data)
			}
			got, tags, err := validateBody(data, tt.tags)
			switch {
			case tt.fields != nil:
				var v *ValidationError
				if !errors.As(err, &v) {
					t.Fatalf("err = %v, want a *ValidationError", err)
				}
				var fields []string
				for _, f := range v.Errors {
					fields = append(fields, f.Field)
					if f.Reason == "" {
						t.Fatalf("field %s has no reason", f.Field)
					}
				}
				if !reflect.DeepEqual(fields, tt.fields) {
					t.Fatalf("fields = %q, want %q (err %v)", fields, tt.fields, err)
				}
				if got != nil || tags != nil {
					t.Fatalf("validateBody = %q, %q with an error, want nil, nil", got, tags)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want none", err)
			}
			if string(got) != tt.want {
				t.Fatalf("data = %s, want %s", got, tt.want)
			}
			if tags == nil || !reflect.DeepEqual(tags, tt.wantTags) {
				t.Fatalf("tags = %#v, want %#v", tags, tt.wantTags)
			}
			if !json.Valid(got) {
				t.Fatalf("data %s is not valid JSON", got)
			}
		})
	}
}

// A duplicate's reason names the tag, and a validation error's message
// lists every field.
func TestValidationErrorMessage(t *testing.T) {
	_, _, err := validateBody(json.RawMessage(`1`), []string{"dup", "dup"})
	var v *ValidationError
	if !errors.As(err, &v) || len(v.Errors) != 2 {
		t.Fatalf("err = %v, want two field errors", err)
	}
	if !strings.Contains(v.Errors[1].Reason, `"dup"`) {
		t.Fatalf("reason = %q, want it to name the tag", v.Errors[1].Reason)
	}
	msg := err.Error()
	for _, f := range []string{"data: ", "tags[1]: "} {
		if !strings.Contains(msg, f) {
			t.Fatalf("Error() = %q, want it to mention %q", msg, f)
		}
	}
}
