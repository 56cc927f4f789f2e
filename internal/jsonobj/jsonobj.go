// Package jsonobj edits the top level of a JSON object without decoding its
// values: members keep their bytes and their order.
package jsonobj

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrNotObject means the input is not a JSON object.
var ErrNotObject = errors.New("jsonobj: not a JSON object")

// Member is one top-level member of an object. RawKey is the key as
// written, quotes and escapes included; Start and End are the offsets of
// the value in the object's bytes.
type Member struct {
	Key        string
	RawKey     []byte
	Value      json.RawMessage
	Start, End int
}

// Members returns the top-level members of obj in order.
func Members(obj []byte) ([]Member, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, ErrNotObject
	}
	var out []Member
	for dec.More() {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		// Between the previous value and the end of the key stand a comma,
		// white space and the key.
		rawKey := bytes.TrimLeft(obj[before:dec.InputOffset()], ", \t\r\n")
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		end := int(dec.InputOffset())
		out = append(out, Member{Key: tok.(string), RawKey: rawKey, Value: v, Start: end - len(v), End: end})
	}
	return out, nil
}

// Get returns the member key of obj.
func Get(obj []byte, key string) (Member, bool) {
	ms, err := Members(obj)
	if err != nil {
		return Member{}, false
	}
	for _, m := range ms {
		if m.Key == key {
			return m, true
		}
	}
	return Member{}, false
}

// Without returns obj without its member key: obj itself, not a copy, when
// it has no such member or is not an object.
func Without(obj []byte, key string) []byte {
	// A quick answer only when no key can be spelled with escapes.
	if !bytes.Contains(obj, []byte(`"`+key+`"`)) && !bytes.ContainsRune(obj, '\\') {
		return obj
	}
	ms, err := Members(obj)
	if err != nil {
		return obj
	}
	kept := ms[:0:0]
	for _, m := range ms {
		if m.Key != key {
			kept = append(kept, m)
		}
	}
	if len(kept) == len(ms) {
		return obj
	}
	return build(kept)
}

// With returns obj with member key set to value: in its place if obj has
// it, last otherwise. obj must be an object.
func With(obj []byte, key string, value json.RawMessage) ([]byte, error) {
	ms, err := Members(obj)
	if err != nil {
		return nil, err
	}
	found := false
	for i := range ms {
		if ms[i].Key == key {
			ms[i].Value, found = value, true
		}
	}
	if !found {
		k, _ := json.Marshal(key)
		ms = append(ms, Member{Key: key, RawKey: k, Value: value})
	}
	return build(ms), nil
}

func build(ms []Member) []byte {
	out := []byte{'{'}
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, m.RawKey...)
		out = append(out, ':')
		out = append(out, m.Value...)
	}
	return append(out, '}')
}
