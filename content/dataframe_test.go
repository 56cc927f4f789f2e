package content

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseDataFrame(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		columns []string
		rows    [][]string // each cell's exact bytes
		schema  string
	}{
		{"records example", `{"columns":["rainfall","temperature"],"data":[[110.0,26.0],[90.0,28.0]]}`,
			[]string{"rainfall", "temperature"}, [][]string{{"110.0", "26.0"}, {"90.0", "28.0"}}, ""},
		{"no rows", `{"columns":["a"],"data":[]}`, []string{"a"}, [][]string{}, ""},
		{"exact numbers and any JSON", `{"columns":["n","s","o","z"],"data":[[1e400, "x" , {"a": [1, 2]}, null],[0.1000,"",[],true]]}`,
			[]string{"n", "s", "o", "z"}, [][]string{{"1e400", `"x"`, `{"a": [1, 2]}`, "null"}, {"0.1000", `""`, "[]", "true"}}, ""},
		{"schema kept", `{"columns":["a"],"data":[[1]],"schema":{"fields":[{"name":"a","type":"integer"}]}}`,
			[]string{"a"}, [][]string{{"1"}}, `{"fields":[{"name":"a","type":"integer"}]}`},
		{"schema null", `{"columns":["a"],"data":[[1]],"schema":null}`, []string{"a"}, [][]string{{"1"}}, ""},
		{"escaped column names", `{"columns":["a\"b","\u6771\u4eac",""],"data":[[1,2,3]]}`,
			[]string{`a"b`, "東京", ""}, [][]string{{"1", "2", "3"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, errs := ParseDataFrame([]byte(tt.in))
			if errs != nil || df == nil {
				t.Fatalf("ParseDataFrame(%s) = %v, %v, want a frame and no errors", tt.in, df, errs)
			}
			if !reflect.DeepEqual(df.Columns, tt.columns) {
				t.Fatalf("Columns = %q, want %q", df.Columns, tt.columns)
			}
			got := make([][]string, len(df.Rows))
			for i, row := range df.Rows {
				got[i] = make([]string, len(row))
				for j, cell := range row {
					got[i][j] = string(cell)
				}
			}
			if !reflect.DeepEqual(got, tt.rows) {
				t.Fatalf("Rows = %q, want %q", got, tt.rows)
			}
			if string(df.Schema) != tt.schema {
				t.Fatalf("Schema = %s, want %s", df.Schema, tt.schema)
			}
		})
	}
}

func TestParseDataFrameErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []FieldError
	}{
		{"null", `null`, []FieldError{fe("content", "must be an object")}},
		{"array", `[]`, []FieldError{fe("content", "must be an object")}},
		{"string", `"a,b"`, []FieldError{fe("content", "must be an object")}},
		{"empty object", `{}`, []FieldError{fe("content.columns", "required"), fe("content.data", "required")}},
		{"malformed", `{"columns":["a"],"data":[[1]]`, []FieldError{fe("content", "must be valid JSON")}},
		{"empty input", ``, []FieldError{fe("content", "must be valid JSON")}},
		{"columns string", `{"columns":"a","data":[]}`, []FieldError{fe("content.columns", "must be an array of strings")}},
		{"columns null", `{"columns":null,"data":[]}`, []FieldError{fe("content.columns", "must be an array of strings")}},
		{"columns empty", `{"columns":[],"data":[]}`, []FieldError{fe("content.columns", "must not be empty")}},
		{"column not a string", `{"columns":["a",1,null],"data":[]}`, []FieldError{
			fe("content.columns[1]", "must be a string"), fe("content.columns[2]", "must be a string")}},
		{"duplicate column", `{"columns":["a","b","a"],"data":[]}`, []FieldError{fe("content.columns[2]", `duplicate column "a"`)}},
		{"data null", `{"columns":["a"],"data":null}`, []FieldError{fe("content.data", "must be an array")}},
		{"data object", `{"columns":["a"],"data":{"0":[1]}}`, []FieldError{fe("content.data", "must be an array")}},
		{"row not an array", `{"columns":["a"],"data":[[1],null,{"a":1},2]}`, []FieldError{
			fe("content.data[1]", "must be an array"), fe("content.data[2]", "must be an array"), fe("content.data[3]", "must be an array")}},
		{"short row", `{"columns":["a","b","c"],"data":[[1,2,3],[1,2,3],[1,2,3],[1,2]]}`, []FieldError{
			fe("content.data[3]", "row has 2 values, want 3 (one per column)")}},
		{"long and empty rows", `{"columns":["a"],"data":[[1,2],[]]}`, []FieldError{
			fe("content.data[0]", "row has 2 values, want 1 (one per column)"),
			fe("content.data[1]", "row has 0 values, want 1 (one per column)")}},
		{"rows checked against bad columns", `{"columns":["a","a"],"data":[[1]]}`, []FieldError{
			fe("content.columns[1]", `duplicate column "a"`),
			fe("content.data[0]", "row has 1 values, want 2 (one per column)")}},
		{"schema array", `{"columns":["a"],"data":[],"schema":[]}`, []FieldError{fe("content.schema", "must be an object")}},
		{"unknown keys sorted", `{"index":[0],"columns":["a"],"data":[[1]],"Columns":[]}`, []FieldError{
			fe("content.Columns", "not allowed in a DataFrame"), fe("content.index", "not allowed in a DataFrame")}},
		{"order: columns, data, schema, keys", `{"x":1,"schema":1,"data":[[1]],"columns":[]}`, []FieldError{
			fe("content.columns", "must not be empty"),
			fe("content.data[0]", "row has 1 values, want 0 (one per column)"),
			fe("content.schema", "must be an object"),
			fe("content.x", "not allowed in a DataFrame")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, errs := ParseDataFrame([]byte(tt.in))
			if df != nil {
				t.Fatalf("ParseDataFrame(%s) frame = %+v, want nil", tt.in, df)
			}
			if !reflect.DeepEqual(errs, tt.want) {
				t.Fatalf("ParseDataFrame(%s) errors = %v, want %v", tt.in, errs, tt.want)
			}
		})
	}
}

func TestIsDataFrame(t *testing.T) {
	tests := []struct {
		data string
		want bool
	}{
		{`{"content_type":"application/vnd.chapkit.dataframe+json"}`, true},
		{`{"type":"ml_prediction","content_type":"Application/VND.chapkit.DataFrame+JSON; charset=utf-8","content":{}}`, true},
		{`{"content_type":"application/json"}`, false},
		{`{"content_type":"application/vnd.chapkit.dataframe"}`, false},
		{`{"content_type":null}`, false},
		{`{"content_type":["application/vnd.chapkit.dataframe+json"]}`, false},
		{`{"Content_Type":"application/vnd.chapkit.dataframe+json"}`, false},
		{`{"metadata":{"content_type":"application/vnd.chapkit.dataframe+json"}}`, false},
		{`{}`, false},
		{`"application/vnd.chapkit.dataframe+json"`, false},
		{`null`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := IsDataFrame(json.RawMessage(tt.data)); got != tt.want {
			t.Fatalf("IsDataFrame(%s) = %v, want %v", tt.data, got, tt.want)
		}
	}
}

func TestValidateDataFrameContent(t *testing.T) {
	const df = `"content_type":"application/vnd.chapkit.dataframe+json"`
	tests := []struct {
		name string
		data string
		want []FieldError
	}{
		{"valid", `{` + df + `,"content":{"columns":["a","b"],"data":[[1,"x"]]}}`, nil},
		{"no content", `{` + df + `,"content_size":10}`, nil},
		{"null content", `{` + df + `,"content":null}`, nil},
		{"not a dataframe", `{"content_type":"application/json","content":{"rows":[1]}}`, nil},
		{"no content_type", `{"content":{"rows":[1]}}`, nil},
		{"not an object", `[1,2]`, nil},
		{"bad row", `{` + df + `,"content":{"columns":["a","b","c"],"data":[[1,2,3],[1,2,3],[1,2,3],[1,2]]}}`,
			[]FieldError{fe("data.content.data[3]", "row has 2 values, want 3 (one per column)")}},
		{"content a string", `{` + df + `,"content":"a,b\n1,2"}`, []FieldError{fe("data.content", "must be an object")}},
		{"content empty object", `{` + df + `,"content":{}}`,
			[]FieldError{fe("data.content.columns", "required"), fe("data.content.data", "required")}},
		{"unknown key", `{` + df + `,"content":{"columns":["a"],"data":[],"index":[]}}`,
			[]FieldError{fe("data.content.index", "not allowed in a DataFrame")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidateDataFrameContent(json.RawMessage(tt.data)); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ValidateDataFrameContent(%s) = %v, want %v", tt.data, got, tt.want)
			}
		})
	}
}

// FuzzParseDataFrame checks that the decoder never panics, that it returns
// either a frame or errors, and that every frame it accepts keeps its
// invariants and renders to output that reads back.
func FuzzParseDataFrame(f *testing.F) {
	for _, seed := range []string{
		`{"columns":["rainfall","temperature"],"data":[[110.0,26.0],[90.0,28.0]]}`,
		`{"columns":["s","n","o"],"data":[["Zürich, \"CH\"\nline2",1e400,{"a":[1,null]}],["東京",0.1000,[]]],"schema":{}}`,
		`{"columns":[""],"data":[[null],[""],[" "]]}`,
		`{"columns":["a","a"],"data":[[1]]}`,
		`{"columns":["a"],"data":[[1,2]],"index":[0]}`,
		`{"columns":["a"],"data":[[1]]`,
		`{"columns":`,
		`null`,
		`{}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		df, errs := ParseDataFrame(b)
		if (df == nil) == (errs == nil) {
			t.Fatalf("ParseDataFrame(%q) = %v, %v, want exactly one of frame and errors", b, df, errs)
		}
		for _, e := range errs {
			if e.Field != "content" && !strings.HasPrefix(e.Field, "content.") || e.Reason == "" {
				t.Fatalf("error %+v, want a field under content and a reason", e)
			}
		}
		if df == nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("ParseDataFrame accepted invalid JSON %q", b)
		}
		seen := map[string]bool{}
		for _, c := range df.Columns {
			if seen[c] {
				t.Fatalf("Columns = %q, want unique names", df.Columns)
			}
			seen[c] = true
		}
		if len(df.Columns) == 0 {
			t.Fatalf("Columns = %q, want at least one", df.Columns)
		}
		for i, row := range df.Rows {
			if len(row) != len(df.Columns) {
				t.Fatalf("row %d has %d cells, want %d", i, len(row), len(df.Columns))
			}
			for _, cell := range row {
				if !json.Valid(cell) {
					t.Fatalf("cell %q is not valid JSON", cell)
				}
			}
		}

		var records bytes.Buffer
		if err := df.WriteRecords(&records); err != nil {
			t.Fatalf("WriteRecords = %v, want nil", err)
		}
		var objs []map[string]json.RawMessage
		if err := json.Unmarshal(records.Bytes(), &objs); err != nil {
			t.Fatalf("WriteRecords wrote %q: %v", records.Bytes(), err)
		}
		if len(objs) != len(df.Rows) {
			t.Fatalf("WriteRecords wrote %d objects, want %d", len(objs), len(df.Rows))
		}

		var out bytes.Buffer
		if err := df.WriteCSV(&out); err != nil {
			t.Fatalf("WriteCSV = %v, want nil", err)
		}
		r := csv.NewReader(&out)
		r.FieldsPerRecord = len(df.Columns)
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("reading WriteCSV output back: %v", err)
		}
		if len(recs) != len(df.Rows)+1 {
			t.Fatalf("WriteCSV wrote %d records, want %d", len(recs), len(df.Rows)+1)
		}
		// encoding/csv's reader turns \r\n inside quoted fields into \n.
		crlf := strings.NewReplacer("\r\n", "\n")
		for j, c := range df.Columns {
			if got, want := recs[0][j], crlf.Replace(c); got != want {
				t.Fatalf("CSV header[%d] = %q, want %q", j, got, want)
			}
		}
		for i, row := range df.Rows {
			for j, cell := range row {
				var want string
				switch v := decodeCell(t, cell).(type) {
				case nil:
				case string:
					want = crlf.Replace(v)
				case json.Number, bool:
					want = string(cell)
				default:
					continue // nested values: compact JSON, checked in TestWriteCSV
				}
				if got := recs[i+1][j]; got != want {
					t.Fatalf("CSV row %d cell %d = %q, want %q (from %s)", i, j, got, want, cell)
				}
			}
		}
	})
}

// decodeCell decodes one JSON cell with numbers as json.Number.
func decodeCell(t *testing.T, cell json.RawMessage) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(cell))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decoding cell %q: %v", cell, err)
	}
	return v
}
