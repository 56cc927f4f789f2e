package content

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// meta is a valid chapkit MLMetadata object with extra members spliced in
// (replacing same-named ones: Go and Python keep the last duplicate key).
func meta(extra string) string {
	m := `"status":"success","config_id":"01CONFIG","started_at":"2025-10-18T10:00:00Z","completed_at":"2025-10-18T10:05:00Z","duration_seconds":300.0`
	if extra != "" {
		m += "," + extra
	}
	return "{" + m + "}"
}

// without returns a valid MLMetadata object missing key.
func without(key string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(meta("")), &m); err != nil {
		panic(err)
	}
	delete(m, key)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func fe(field, reason string) FieldError { return FieldError{Field: field, Reason: reason} }

func TestValidate(t *testing.T) {
	sha := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name string
		data string
		want []FieldError
	}{
		// Not validated.
		{"no type", `{"experiment":"v1","metadata":5}`, nil},
		{"other type", `{"type":"custom","extra":1}`, nil},
		{"type case matters", `{"type":"ML_TRAINING"}`, nil},
		{"array data", `[{"type":"ml_training"}]`, nil},
		{"string data", `"ml_training"`, nil},
		{"null data", `null`, nil},
		{"type not a string", `{"type":5}`, []FieldError{fe("data.type", "must be a string")}},
		{"type null is no type", `{"type":null,"anything":1}`, nil},

		// Valid ML artifacts.
		{"ml_training minimal", `{"type":"ml_training","metadata":` + meta("") + `}`, nil},
		{"ml_training_workspace", `{"type":"ml_training_workspace","metadata":` + meta("") + `,"content":"x"}`, nil},
		{"ml_prediction", `{"type":"ml_prediction","metadata":` + meta("") + `,"content":{"columns":["a"],"data":[]}}`, nil},
		{"ml_prediction_workspace", `{"type":"ml_prediction_workspace","metadata":` + meta("") + `}`, nil},
		{"ml full", `{"type":"ml_training","metadata":` + meta(`"exit_code":-9,"stdout":"ok\n","stderr":""`) +
			`,"content":[1,2],"content_type":"application/zip","content_size":0,"content_sha256":"` + sha + `"}`, nil},
		{"chapkit model_dump nulls", `{"type":"ml_training","metadata":` + meta(`"exit_code":null,"stdout":null,"stderr":null`) +
			`,"content":null,"content_type":null,"content_size":null,"content_sha256":null}`, nil},
		{"failed status", `{"type":"ml_training","metadata":` + meta(`"status":"failed"`) + `}`, nil},
		{"zero duration", `{"type":"ml_training","metadata":` + meta(`"duration_seconds":0`) + `}`, nil},
		{"huge duration", `{"type":"ml_training","metadata":` + meta(`"duration_seconds":1e400`) + `}`, nil},
		{"naive isoformat", `{"type":"ml_training","metadata":` + meta(`"started_at":"2025-10-18T10:00:00","completed_at":"2025-10-18T10:05:00.123456"`) + `}`, nil},
		{"offset and fraction", `{"type":"ml_training","metadata":` + meta(`"started_at":"2025-10-18T10:00:00.5+02:00","completed_at":"2025-10-18 10:05:00z"`) + `}`, nil},

		// Top level.
		{"extra key", `{"type":"ml_training","metadata":` + meta("") + `,"extra":1}`,
			[]FieldError{fe("data.extra", "not allowed for type ml_training")}},
		{"missing metadata", `{"type":"ml_prediction"}`, []FieldError{fe("data.metadata", "required")}},
		{"metadata null", `{"type":"ml_prediction","metadata":null}`, []FieldError{fe("data.metadata", "must be an object")}},
		{"metadata array", `{"type":"ml_prediction","metadata":[]}`, []FieldError{fe("data.metadata", "must be an object")}},
		{"content_type number", `{"type":"ml_training","metadata":` + meta("") + `,"content_type":7}`,
			[]FieldError{fe("data.content_type", "must be a string")}},
		{"content_size negative", `{"type":"ml_training","metadata":` + meta("") + `,"content_size":-1}`,
			[]FieldError{fe("data.content_size", "must be a non-negative integer")}},
		{"content_size fraction", `{"type":"ml_training","metadata":` + meta("") + `,"content_size":1.5}`,
			[]FieldError{fe("data.content_size", "must be a non-negative integer")}},
		{"content_size string", `{"type":"ml_training","metadata":` + meta("") + `,"content_size":"10"}`,
			[]FieldError{fe("data.content_size", "must be a non-negative integer")}},
		{"content_size overflow", `{"type":"ml_training","metadata":` + meta("") + `,"content_size":99999999999999999999}`,
			[]FieldError{fe("data.content_size", "must be a non-negative integer")}},
		{"sha256 upper case", `{"type":"ml_training","metadata":` + meta("") + `,"content_sha256":"` + strings.ToUpper(sha) + `"}`,
			[]FieldError{fe("data.content_sha256", "must be 64 lowercase hex digits")}},
		{"sha256 short", `{"type":"ml_training","metadata":` + meta("") + `,"content_sha256":"` + sha[1:] + `"}`,
			[]FieldError{fe("data.content_sha256", "must be 64 lowercase hex digits")}},
		{"sha256 number", `{"type":"ml_training","metadata":` + meta("") + `,"content_sha256":1}`,
			[]FieldError{fe("data.content_sha256", "must be 64 lowercase hex digits")}},

		// Metadata.
		{"status pending", `{"type":"ml_training","metadata":` + meta(`"status":"pending"`) + `}`,
			[]FieldError{fe("data.metadata.status", `must be "success" or "failed"`)}},
		{"status case", `{"type":"ml_training","metadata":` + meta(`"status":"Success"`) + `}`,
			[]FieldError{fe("data.metadata.status", `must be "success" or "failed"`)}},
		{"status missing", `{"type":"ml_training","metadata":` + without("status") + `}`,
			[]FieldError{fe("data.metadata.status", "required")}},
		{"config_id empty", `{"type":"ml_training","metadata":` + meta(`"config_id":""`) + `}`,
			[]FieldError{fe("data.metadata.config_id", "must not be empty")}},
		{"config_id number", `{"type":"ml_training","metadata":` + meta(`"config_id":5`) + `}`,
			[]FieldError{fe("data.metadata.config_id", "must be a string")}},
		{"started_at prose", `{"type":"ml_training","metadata":` + meta(`"started_at":"yesterday"`) + `}`,
			[]FieldError{fe("data.metadata.started_at", "must be an RFC 3339 date-time")}},
		{"started_at date only", `{"type":"ml_training","metadata":` + meta(`"started_at":"2025-10-18"`) + `}`,
			[]FieldError{fe("data.metadata.started_at", "must be an RFC 3339 date-time")}},
		{"completed_at month 13", `{"type":"ml_training","metadata":` + meta(`"completed_at":"2025-13-01T00:00:00Z"`) + `}`,
			[]FieldError{fe("data.metadata.completed_at", "must be an RFC 3339 date-time")}},
		{"completed_at trailing junk", `{"type":"ml_training","metadata":` + meta(`"completed_at":"2025-10-18T10:00:00Zjunk"`) + `}`,
			[]FieldError{fe("data.metadata.completed_at", "must be an RFC 3339 date-time")}},
		{"completed_at number", `{"type":"ml_training","metadata":` + meta(`"completed_at":1760781600`) + `}`,
			[]FieldError{fe("data.metadata.completed_at", "must be an RFC 3339 date-time")}},
		{"duration negative", `{"type":"ml_training","metadata":` + meta(`"duration_seconds":-0.5`) + `}`,
			[]FieldError{fe("data.metadata.duration_seconds", "must be a number >= 0")}},
		{"duration string", `{"type":"ml_training","metadata":` + meta(`"duration_seconds":"300"`) + `}`,
			[]FieldError{fe("data.metadata.duration_seconds", "must be a number >= 0")}},
		{"duration null", `{"type":"ml_training","metadata":` + meta(`"duration_seconds":null`) + `}`,
			[]FieldError{fe("data.metadata.duration_seconds", "must be a number >= 0")}},
		{"exit_code fraction", `{"type":"ml_training","metadata":` + meta(`"exit_code":1.5`) + `}`,
			[]FieldError{fe("data.metadata.exit_code", "must be an integer or null")}},
		{"exit_code string", `{"type":"ml_training","metadata":` + meta(`"exit_code":"0"`) + `}`,
			[]FieldError{fe("data.metadata.exit_code", "must be an integer or null")}},
		{"stdout number", `{"type":"ml_training","metadata":` + meta(`"stdout":5`) + `}`,
			[]FieldError{fe("data.metadata.stdout", "must be a string or null")}},
		{"stderr object", `{"type":"ml_training","metadata":` + meta(`"stderr":{}`) + `}`,
			[]FieldError{fe("data.metadata.stderr", "must be a string or null")}},
		{"metadata extra key", `{"type":"ml_prediction","metadata":` + meta(`"model":"x"`) + `}`,
			[]FieldError{fe("data.metadata.model", "not allowed for type ml_prediction")}},
		{"metadata empty", `{"type":"ml_training","metadata":{}}`, []FieldError{
			fe("data.metadata.completed_at", "required"),
			fe("data.metadata.config_id", "required"),
			fe("data.metadata.duration_seconds", "required"),
			fe("data.metadata.started_at", "required"),
			fe("data.metadata.status", "required"),
		}},
		{"every error, sorted", `{"zeta":1,"type":"ml_training_workspace","content_size":-3,"alpha":2,"metadata":` +
			meta(`"status":"pending","stdout":1,"extra":true`) + `}`, []FieldError{
			fe("data.alpha", "not allowed for type ml_training_workspace"),
			fe("data.content_size", "must be a non-negative integer"),
			fe("data.metadata.extra", "not allowed for type ml_training_workspace"),
			fe("data.metadata.status", `must be "success" or "failed"`),
			fe("data.metadata.stdout", "must be a string or null"),
			fe("data.zeta", "not allowed for type ml_training_workspace"),
		}},

		// Generic.
		{"generic bare", `{"type":"generic"}`, nil},
		{"generic any metadata", `{"type":"generic","metadata":{"status":"pending","anything":[1,{"x":null}]},"content":{"a":1},"content_type":"application/json"}`, nil},
		{"generic metadata array", `{"type":"generic","metadata":[1]}`, []FieldError{fe("data.metadata", "must be an object")}},
		{"generic metadata null", `{"type":"generic","metadata":null}`, []FieldError{fe("data.metadata", "must be an object")}},
		{"generic extra key", `{"type":"generic","other":1}`, []FieldError{fe("data.other", "not allowed for type generic")}},
		{"generic bad content fields", `{"type":"generic","content_type":false,"content_size":1e3}`, []FieldError{
			fe("data.content_size", "must be a non-negative integer"),
			fe("data.content_type", "must be a string"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid([]byte(tt.data)) {
				t.Fatalf("test data is not valid JSON: %s", tt.data)
			}
			// Go randomizes map order: several runs catch an unsorted result.
			for range 5 {
				if got := Validate(json.RawMessage(tt.data)); !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("Validate(%s) = %v, want %v", tt.data, got, tt.want)
				}
			}
		})
	}
}

func TestIsDateTime(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"2025-10-18T10:00:00Z", true},
		{"2025-10-18T10:00:00+00:00", true},
		{"2025-10-18T10:00:00.123456789-07:30", true},
		{"2025-10-18T10:00:00", true},
		{"2025-10-18T10:00:00.123456", true},
		{"2025-10-18t10:00:00z", true},
		{"2025-10-18 10:00:00", true},
		{"2025-10-18", false},
		{"2025-10-18T10:00", false},
		{"2025-10-18T25:00:00Z", false},
		{"2025-02-30T10:00:00Z", false},
		{"2025-10-18T10:00:00+25:00", false},
		{"2025-10-18X10:00:00Z", false},
		{"", false},
		{"18/10/2025 10:00:00", false},
	}
	for _, tt := range tests {
		if got := isDateTime(tt.in); got != tt.want {
			t.Fatalf("isDateTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// ExampleValidate shows the 422 a caller builds from the errors.
func ExampleValidate() {
	data := `{"type":"ml_training","metadata":{"status":"pending","config_id":"c","started_at":"2025-10-18T10:00:00",
		"completed_at":"2025-10-18T10:05:00","duration_seconds":300},"extra":1}`
	for _, e := range Validate(json.RawMessage(data)) {
		fmt.Printf("%s: %s\n", e.Field, e.Reason)
	}
	// Output:
	// data.extra: not allowed for type ml_training
	// data.metadata.status: must be "success" or "failed"
}
