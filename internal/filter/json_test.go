package filter

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"arbor/internal/jsonobj"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

var objects = []string{
	`{}`,
	` { } `,
	`{"a":1}`,
	`{"a":1,"b":"two","c":[3,{"d":"]}"}],"e":{"f":{"g":null}},"h":true,"i":false}`,
	"{\n\t\"a\" : -1.5e-3 ,\r\n \"b\" : [ ] , \"c\" : { } }",
	`{"q\"uote":"\"","back\\slash":"\\","uni\u00e9":"\u00e9\ud83d\ude00","slash":"\/"}`,
	`{"nested":{"s":"a}b{c[d]e\"f"},"after":1}`,
	`{"dup":1,"dup":2}`,
	`{"empty":"","zero":0,"neg":-0,"big":1e308,"small":5e-324}`,
	`{"raw":"tab and caf` + "\xc3\xa9" + `","bad":"` + "\xff" + `"}`,
}

// find agrees with jsonobj, which decodes with encoding/json, on every
// member, and finds no other.
func TestFind(t *testing.T) {
	for _, obj := range objects {
		ms, err := jsonobj.Members([]byte(obj))
		if err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		for _, m := range ms {
			want, _ := jsonobj.Get([]byte(obj), m.Key)
			got, _, ok := find([]byte(obj), m.Key)
			if !ok || string(got) != string(want.Value) {
				t.Errorf("find(%s, %q) = %s, %v; want %s", obj, m.Key, got, ok, want.Value)
			}
		}
		if got, scanned, ok := find([]byte(obj), "missing"); ok || scanned != len(obj) {
			t.Errorf("find(%s, missing) = %s, %d, %v", obj, got, scanned, ok)
		}
		if n := (&object{raw: []byte(obj), sc: &scan{left: scanLimit}}).Size(); n != types.Int(len(ms)) {
			t.Errorf("size(%s) = %v, want %d", obj, n, len(ms))
		}
	}
}

// value converts like encoding/json: strings unescaped, numbers to
// float64.
func TestValue(t *testing.T) {
	sc := &scan{left: scanLimit}
	for _, c := range []struct {
		raw  string
		want ref.Val
	}{
		{`"plain"`, types.String("plain")},
		{`""`, types.String("")},
		{`"a\"b\\c\/d\b\f\n\r\t"`, types.String("a\"b\\c/d\b\f\n\r\t")},
		{`"caf\u00e9 \ud83d\ude00"`, types.String("café 😀")},
		{`"caf` + "\xc3\xa9" + `"`, types.String("café")},
		{`"` + "\xff" + `"`, types.String("\ufffd")},
		{`0`, types.Double(0)},
		{`-0.5`, types.Double(-0.5)},
		{`1e3`, types.Double(1000)},
		{`1E+3`, types.Double(1000)},
		{`-2.5e-3`, types.Double(-0.0025)},
		{`12345678901234567890`, types.Double(12345678901234567890)},
		{`true`, types.True},
		{`false`, types.False},
		{`null`, types.NullValue},
	} {
		if got := value([]byte(c.raw), sc); got.Equal(c.want) != types.True || got.Type() != c.want.Type() {
			t.Errorf("value(%s) = %v (%v), want %v", c.raw, got, got.Type(), c.want)
		}
	}
	for _, bad := range []string{`tru`, `nul`, `"open`, `1x`, `-`, `'a'`} {
		if got := value([]byte(bad), sc); !types.IsError(got) {
			t.Errorf("value(%s) = %v, want an error", bad, got)
		}
	}
	if got := value([]byte(`1e400`), sc); got != types.Double(math.Inf(1)) && !types.IsError(got) {
		t.Errorf("value(1e400) = %v", got)
	}
}

func TestObjectConvertToNative(t *testing.T) {
	o := &object{raw: []byte(`{"a":1,"b":["x"]}`), sc: &scan{left: scanLimit}}
	got, err := o.ConvertToNative(reflect.TypeFor[map[string]any]())
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if m["a"] != 1.0 || len(m["b"].([]any)) != 1 {
		t.Errorf("ConvertToNative = %v", m)
	}
	raw, err := o.ConvertToNative(reflect.TypeFor[json.RawMessage]())
	if err != nil || string(raw.(json.RawMessage)) != string(o.raw) {
		t.Errorf("ConvertToNative(json.RawMessage) = %s, %v", raw, err)
	}
}

// FuzzFind checks that the scanner never panics, and that on JSON objects
// it agrees with encoding/json.
func FuzzFind(f *testing.F) {
	for _, obj := range objects {
		f.Add(obj)
	}
	for _, s := range []string{``, `{`, `{"a"`, `{"a":`, `{"a":1`, `{"a":1,`, `{"a":[1,`, `{"a":"\`, `[1,2]`, `"s"`, `null`, `{]`, `{"a":1}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, obj string) {
		raw := []byte(obj)
		o := &object{raw: raw, sc: &scan{left: scanLimit}}
		o.Size()
		o.Iterator()
		value(raw, &scan{left: scanLimit})
		var s seen
		s.m.start(raw)
		s.find(raw, "a")
		s.find(raw, "")

		var want map[string]json.RawMessage
		if json.Unmarshal(raw, &want) != nil || want == nil {
			return
		}
		ms, err := jsonobj.Members(raw)
		if err != nil {
			t.Fatalf("jsonobj.Members(%q): %v", obj, err)
		}
		if n := o.Size(); n != types.Int(len(ms)) {
			t.Errorf("size(%q) = %v, want %d", obj, n, len(ms))
		}
		for _, m := range ms {
			first, _ := jsonobj.Get(raw, m.Key)
			got, _, ok := find(raw, m.Key)
			if !ok || string(got) != string(first.Value) {
				t.Fatalf("find(%q, %q) = %q, %v; want %q", obj, m.Key, got, ok, first.Value)
			}
			got, _, ok = s.find(raw, m.Key)
			if !ok || string(got) != string(first.Value) {
				t.Fatalf("seen.find(%q, %q) = %q, %v; want %q", obj, m.Key, got, ok, first.Value)
			}
			var str string
			if json.Unmarshal(got, &str) == nil {
				if v := value(got, &scan{left: scanLimit}); v != types.String(str) {
					t.Errorf("value(%q) = %v, want %q", got, v, str)
				}
			}
		}
	})
}
