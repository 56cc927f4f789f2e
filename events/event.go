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

func (ArtifactCreated) EventType() string { return "artifact.created" }
func (ArtifactUpdated) EventType() string { return "artifact.updated" }
func (ArtifactDeleted) EventType() string { return "artifact.deleted" }

func (e ArtifactCreated) ArtifactID() ulid.ULID { return e.ID }
func (e ArtifactUpdated) ArtifactID() ulid.ULID { return e.ID }
func (e ArtifactDeleted) ArtifactID() ulid.ULID { return e.ID }

// Boundary is the artifact whose consistency boundary ev belongs to: the
// parent for the creation of a child, the artifact itself otherwise. The
// subject of ev and the projection's per-boundary positions both derive
// from it, so they cannot disagree.
func Boundary(ev Event) ulid.ULID {
	if c, ok := ev.(ArtifactCreated); ok && !c.Parent.IsZero() {
		return c.Parent
	}
	return ev.ArtifactID()
}

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

// Kind is the last part of an event's wire name ("created" for
// "artifact.created"), used as the last token of its subject.
func Kind(ev Event) string {
	t := ev.EventType()
	for i := len(t) - 1; i >= 0; i-- {
		if t[i] == '.' {
			return t[i+1:]
		}
	}
	return t
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
