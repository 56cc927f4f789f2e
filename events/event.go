package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"
)

// Event is a fact about one artifact. Concrete events are plain structs named
// in the past tense; their EventType is a wire name that never changes.
type Event interface {
	EventType() string
	// ArtifactID is the artifact the event is about.
	ArtifactID() ulid.ULID
}

// ArtifactCreated records a new artifact under Parent (zero for a root).
// Level and Hierarchy are decided by the command from the parent and kept so
// that subscribers need no other state to read the event.
type ArtifactCreated struct {
	ID        ulid.ULID       `json:"id"`
	Parent    ulid.ULID       `json:"parent_id,omitzero"`
	Hierarchy string          `json:"hierarchy"`
	Level     int             `json:"level"`
	Tags      []string        `json:"tags"`
	Data      json.RawMessage `json:"data"`
	Content   *Content        `json:"content,omitempty"`
}

// ArtifactUpdated records that an artifact's data, tags and content were
// replaced: Content is the artifact's content after the update (nil: none
// in the object store).
type ArtifactUpdated struct {
	ID      ulid.ULID       `json:"id"`
	Tags    []string        `json:"tags"`
	Data    json.RawMessage `json:"data"`
	Content *Content        `json:"content,omitempty"`
}

// Content is an artifact's content kept in the object store, by digest:
// uploaded bytes, or JSON content too large for an event. Events never
// carry big bytes themselves.
type Content struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	Type   string `json:"content_type"`
	// JSON marks JSON content moved out of the artifact's data: its value
	// belongs at byte Offset of Data, where a null stands in for it.
	JSON   bool `json:"json,omitempty"`
	Offset int  `json:"offset,omitempty"`
}

// ArtifactDeleted records that an artifact was deleted. Its id stays used.
type ArtifactDeleted struct {
	ID ulid.ULID `json:"id"`
}

// ArtifactSealed records that no child can be created under an artifact any
// more. It is written on the artifact's seal subjects, in one atomic batch
// with the artifact's deletion, when the artifact could have children; a
// child's creation expects its parent's seal to be empty.
type ArtifactSealed struct {
	ID ulid.ULID `json:"id"`
}

// KeyRecorded records that the write before it, in one atomic batch,
// answered a request that carried an Idempotency-Key: the same key with the
// same request is answered from it rather than written again. It goes on
// the key's own subject (see Layout.KeySubject), which the write expects empty,
// or as it was when the key was last used, long enough ago.
type KeyRecorded struct {
	ID      ulid.ULID `json:"id"`      // the artifact the write changed
	Key     string    `json:"key"`     // as the client sent it
	Request string    `json:"request"` // a digest of the request
}

func (ArtifactCreated) EventType() string { return "artifact.created" }
func (ArtifactUpdated) EventType() string { return "artifact.updated" }
func (ArtifactDeleted) EventType() string { return "artifact.deleted" }
func (ArtifactSealed) EventType() string  { return "artifact.sealed" }
func (KeyRecorded) EventType() string     { return "request.keyed" }

func (e ArtifactCreated) ArtifactID() ulid.ULID { return e.ID }
func (e ArtifactUpdated) ArtifactID() ulid.ULID { return e.ID }
func (e ArtifactDeleted) ArtifactID() ulid.ULID { return e.ID }
func (e ArtifactSealed) ArtifactID() ulid.ULID  { return e.ID }
func (e KeyRecorded) ArtifactID() ulid.ULID     { return e.ID }

// Envelope is an event with the attributes the log gives it. ID doubles as
// the Nats-Msg-Id; Seq is the stream sequence and Subject the subject, both
// set by the log when it reads the event.
type Envelope struct {
	ID      ulid.ULID
	Time    time.Time
	Seq     uint64
	Subject string
	Event   Event
}

// schemaVersion is the current shape number of every event type. Adding an
// optional field keeps it; a breaking change bumps it and keeps a decoder
// for the old shape in decoders.
const schemaVersion = 1

// decoders maps "<type>/v<schema>" to a function that decodes that shape into
// the current event struct. Every shape ever written stays here.
var decoders = map[string]func([]byte) (Event, error){
	"artifact.created/v1": decodeAs[ArtifactCreated],
	"artifact.updated/v1": decodeAs[ArtifactUpdated],
	"artifact.deleted/v1": decodeAs[ArtifactDeleted],
	"artifact.sealed/v1":  decodeAs[ArtifactSealed],
	"request.keyed/v1":    decodeAs[KeyRecorded],
}

func decodeAs[E Event](b []byte) (Event, error) {
	var e E
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	if e.ArtifactID().IsZero() {
		return nil, fmt.Errorf("%s without id", e.EventType())
	}
	return e, nil
}
