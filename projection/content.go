package projection

import (
	"bytes"
	"encoding/json"
)

// withoutContent returns data without its top-level "content" member, for
// lists and trees, which omit content. Other members keep their bytes and
// order. Data without such a member is returned as is, sharing its bytes.
func withoutContent(data json.RawMessage) json.RawMessage {
	if !bytes.Contains(data, []byte(`"content"`)) {
		return data
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // {
		return data
	}
	out := []byte{'{'}
	found := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return data
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return data
		}
		key := tok.(string)
		if key == "content" {
			found = true
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		k, _ := json.Marshal(key)
		out = append(out, k...)
		out = append(out, ':')
		out = append(out, value...)
	}
	if !found {
		return data
	}
	return append(out, '}')
}
