package projection

import (
	"encoding/json"

	"arbor/internal/jsonobj"
)

// withoutContent returns data without its top-level "content" member, for
// lists and trees, which omit content. Other members keep their bytes and
// order. Data without such a member is returned as is, sharing its bytes.
func withoutContent(data json.RawMessage) json.RawMessage {
	return jsonobj.Without(data, "content")
}
