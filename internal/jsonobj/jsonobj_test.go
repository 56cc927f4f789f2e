package jsonobj

import (
	"encoding/json"
	"testing"
)

func TestMembersOffsets(t *testing.T) {
	obj := []byte(`{"a":1, "content" : {"x":[1,2]},"b":"c"}`)
	ms, err := Members(obj)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 3 {
		t.Fatalf("%d members, want 3", len(ms))
	}
	for _, m := range ms {
		if got := string(obj[m.Start:m.End]); got != string(m.Value) {
			t.Errorf("%s: obj[%d:%d] = %q, want %q", m.Key, m.Start, m.End, got, m.Value)
		}
	}
	if _, err := Members([]byte(`[1]`)); err != ErrNotObject {
		t.Errorf("Members(array) = %v, want ErrNotObject", err)
	}
}

func TestWithout(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"a":1,"content":{"b":2},"c":[3]}`, `{"a":1,"c":[3]}`},
		{`{"content":null}`, `{}`},
		{`{"a":{"content":1}}`, `{"a":{"content":1}}`},
		{`{"a":"content"}`, `{"a":"content"}`},
		{`{}`, `{}`},
		{`{"z":1,"a":2,"content":3}`, `{"z":1,"a":2}`},
		{`{"a<b":1,"A\u0041":2,"content":3}`, `{"a<b":1,"A\u0041":2}`},
		{`{ "a" : 1 , "content" : 2 , "b" : 3 }`, `{"a":1,"b":3}`},
	} {
		if got := string(Without([]byte(c.in), "content")); got != c.want {
			t.Errorf("Without(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	same := []byte(`{"a":1}`)
	if got := Without(same, "content"); &got[0] != &same[0] {
		t.Error("Without copied an object that has no such member")
	}
}

func TestWith(t *testing.T) {
	for _, c := range []struct{ in, key, value, want string }{
		{`{"a":1}`, "b", `2`, `{"a":1,"b":2}`},
		{`{"a":1,"b":0,"c":3}`, "b", `"x"`, `{"a":1,"b":"x","c":3}`},
		{`{}`, "k", `null`, `{"k":null}`},
	} {
		got, err := With([]byte(c.in), c.key, json.RawMessage(c.value))
		if err != nil || string(got) != c.want {
			t.Errorf("With(%s, %s, %s) = %s, %v; want %s", c.in, c.key, c.value, got, err, c.want)
		}
	}
	if _, err := With([]byte(`"s"`), "k", json.RawMessage(`1`)); err == nil {
		t.Error("With on a string succeeded")
	}
}
