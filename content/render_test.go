package content

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// mustParse parses a DataFrame the test relies on being valid.
func mustParse(t *testing.T, in string) *DataFrame {
	t.Helper()
	df, errs := ParseDataFrame([]byte(in))
	if errs != nil {
		t.Fatalf("ParseDataFrame(%s) errors = %v, want none", in, errs)
	}
	return df
}

const (
	rainfall = `{"columns":["rainfall","temperature","prediction"],"data":[[110.0,26.0,13.2],[90.0,28.0,8.5]]}`
	// tricky has text that needs CSV quoting, non-ASCII text, numbers that
	// float64 would change, nested values with insignificant spaces, and
	// columns out of alphabetical order.
	tricky = `{"columns":["city","n","x","nested","flag"],"data":[` +
		`["Zürich, \"CH\"\nline2",1e400,0.1000,{"k": [1, 2]},true],` +
		`["東京",-0,null,[],false],` +
		`["\u00fc\r\n",12345678901234567890,1E-7,{},null]]}`
)

func TestWriteRecords(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"chapkit example", rainfall,
			`[{"rainfall":110.0,"temperature":26.0,"prediction":13.2},{"rainfall":90.0,"temperature":28.0,"prediction":8.5}]`},
		{"no rows", `{"columns":["a","b"],"data":[]}`, `[]`},
		{"cells verbatim, column order kept", tricky,
			`[{"city":"Zürich, \"CH\"\nline2","n":1e400,"x":0.1000,"nested":{"k": [1, 2]},"flag":true},` +
				`{"city":"東京","n":-0,"x":null,"nested":[],"flag":false},` +
				`{"city":"\u00fc\r\n","n":12345678901234567890,"x":1E-7,"nested":{},"flag":null}]`},
		{"keys escaped", `{"columns":["a\"b","<x>&","tab\t","\u00fc",""],"data":[[1,2,3,4,5]]}`,
			`[{"a\"b":1,"<x>&":2,"tab\t":3,"ü":4,"":5}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := mustParse(t, tt.in).WriteRecords(&out); err != nil {
				t.Fatalf("WriteRecords = %v, want nil", err)
			}
			if out.String() != tt.want {
				t.Fatalf("WriteRecords wrote\n%s\nwant\n%s", out.String(), tt.want)
			}
			if !json.Valid(out.Bytes()) {
				t.Fatalf("WriteRecords wrote invalid JSON %s", out.Bytes())
			}
		})
	}
}

func TestWriteCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"chapkit example", rainfall, "rainfall,temperature,prediction\n110.0,26.0,13.2\n90.0,28.0,8.5\n"},
		{"no rows", `{"columns":["a","b"],"data":[]}`, "a,b\n"},
		{"quoting, unicode, exact numbers, nested", tricky,
			"city,n,x,nested,flag\n" +
				"\"Zürich, \"\"CH\"\"\nline2\",1e400,0.1000,\"{\"\"k\"\":[1,2]}\",true\n" +
				"東京,-0,,[],false\n" +
				"\"ü\r\n\",12345678901234567890,1E-7,{},\n"},
		{"header quoted", `{"columns":["a,b","c\"d"," e"],"data":[[" lead","x\ty",""]]}`,
			"\"a,b\",\"c\"\"d\",\" e\"\n\" lead\",x\ty,\n"},
		{"lone empty field", `{"columns":["v"],"data":[[null],[""],["x"],[0]]}`, "v\n\"\"\n\"\"\nx\n0\n"},
		{"lone empty column name", `{"columns":[""],"data":[[1]]}`, "\"\"\n1\n"},
		{"two empty fields", `{"columns":["a","b"],"data":[[null,null]]}`, "a,b\n,\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := mustParse(t, tt.in).WriteCSV(&out); err != nil {
				t.Fatalf("WriteCSV = %v, want nil", err)
			}
			if out.String() != tt.want {
				t.Fatalf("WriteCSV wrote\n%q\nwant\n%q", out.String(), tt.want)
			}
		})
	}
}

// TestWriteCSVReadsBack checks that a CSV reader recovers every field,
// including the empty ones encoding/csv alone would write as blank lines.
func TestWriteCSVReadsBack(t *testing.T) {
	tests := []struct {
		in   string
		want [][]string
	}{
		{tricky, [][]string{
			{"city", "n", "x", "nested", "flag"},
			{"Zürich, \"CH\"\nline2", "1e400", "0.1000", `{"k":[1,2]}`, "true"},
			{"東京", "-0", "", "[]", "false"},
			{"ü\n", "12345678901234567890", "1E-7", "{}", ""}, // the reader folds \r\n to \n
		}},
		{`{"columns":["v"],"data":[[null],["a"],[""]]}`, [][]string{{"v"}, {""}, {"a"}, {""}}},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := mustParse(t, tt.in).WriteCSV(&out); err != nil {
			t.Fatalf("WriteCSV = %v, want nil", err)
		}
		got, err := csv.NewReader(&out).ReadAll()
		if err != nil {
			t.Fatalf("ReadAll = %v, want nil", err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Fatalf("CSV read back = %q, want %q", got, tt.want)
		}
	}
}

// TestRenderHandBuilt covers frames built without ParseDataFrame.
func TestRenderHandBuilt(t *testing.T) {
	ok := &DataFrame{Columns: []string{"a", "b"}, Rows: [][]json.RawMessage{{nil, json.RawMessage(` 1 `)}}}
	var out bytes.Buffer
	if err := ok.WriteRecords(&out); err != nil || out.String() != `[{"a":null,"b": 1 }]` {
		t.Fatalf("WriteRecords = %v, wrote %s, want nil and [{\"a\":null,\"b\": 1 }]", err, out.String())
	}
	out.Reset()
	if err := ok.WriteCSV(&out); err != nil || out.String() != "a,b\n,1\n" {
		t.Fatalf("WriteCSV = %v, wrote %q, want nil and %q", err, out.String(), "a,b\n,1\n")
	}

	short := &DataFrame{Columns: []string{"a", "b"}, Rows: [][]json.RawMessage{{json.RawMessage(`1`), json.RawMessage(`2`)}, {json.RawMessage(`1`)}}}
	const want = "row 1 has 1 values, want 2"
	if err := short.WriteRecords(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("WriteRecords = %v, want an error containing %q", err, want)
	}
	if err := short.WriteCSV(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("WriteCSV = %v, want an error containing %q", err, want)
	}

	bad := &DataFrame{Columns: []string{"a"}, Rows: [][]json.RawMessage{{json.RawMessage(`"unterminated`)}}}
	if err := bad.WriteCSV(&bytes.Buffer{}); err == nil {
		t.Fatalf("WriteCSV with an invalid cell = nil, want an error")
	}
}

var errBoom = errors.New("boom")

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errBoom
	}
	w.n -= len(p)
	return len(p), nil
}

// bigFrame has about size bytes of cells.
func bigFrame(size int) *DataFrame {
	df := &DataFrame{Columns: []string{"id", "text"}}
	cell := json.RawMessage(`"` + strings.Repeat("x", 90) + `"`)
	for i := 0; i*100 < size; i++ {
		df.Rows = append(df.Rows, []json.RawMessage{json.RawMessage(fmt.Sprint(i)), cell})
	}
	return df
}

func TestRenderWriteErrors(t *testing.T) {
	for _, size := range []int{100, 1 << 20} {
		for name, write := range map[string]func(*DataFrame, *failWriter) error{
			"WriteRecords": func(df *DataFrame, w *failWriter) error { return df.WriteRecords(w) },
			"WriteCSV":     func(df *DataFrame, w *failWriter) error { return df.WriteCSV(w) },
		} {
			for _, n := range []int{0, 10, bufSize + 1} {
				if n > size {
					continue
				}
				if err := write(bigFrame(size), &failWriter{n: n}); !errors.Is(err, errBoom) {
					t.Fatalf("%s of %d bytes failing after %d = %v, want %v", name, size, n, err, errBoom)
				}
			}
		}
	}
}

// writeLog records the size of each write.
type writeLog struct {
	sizes []int
	bytes.Buffer
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

// TestRenderStreams checks that a large frame reaches the writer in pieces
// no larger than the buffer, rather than as one output built in memory.
func TestRenderStreams(t *testing.T) {
	df := bigFrame(1 << 20)
	for name, write := range map[string]func(*DataFrame, *writeLog) error{
		"WriteRecords": func(df *DataFrame, w *writeLog) error { return df.WriteRecords(w) },
		"WriteCSV":     func(df *DataFrame, w *writeLog) error { return df.WriteCSV(w) },
	} {
		var w writeLog
		if err := write(df, &w); err != nil {
			t.Fatalf("%s = %v, want nil", name, err)
		}
		if w.Len() < 900_000 {
			t.Fatalf("%s wrote %d bytes, want at least 900000", name, w.Len())
		}
		if len(w.sizes) < 2 {
			t.Fatalf("%s made %d writes, want several", name, len(w.sizes))
		}
		for _, n := range w.sizes {
			if n > bufSize {
				t.Fatalf("%s made a write of %d bytes, want at most %d", name, n, bufSize)
			}
		}
	}
}
