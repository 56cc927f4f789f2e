package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"
)

// Message headers. Event attributes follow the CloudEvents NATS binding in
// binary mode: the attributes travel as ce-* headers and the payload is the
// event's JSON, so subscribers can filter and deduplicate without decoding it.
const (
	HeaderSpecVersion   = "ce-specversion"
	HeaderID            = "ce-id"
	HeaderSource        = "ce-source"
	HeaderType          = "ce-type"
	HeaderTime          = "ce-time"
	HeaderSubject       = "ce-subject"
	HeaderSchemaVersion = "ce-schemaversion"
	HeaderContentType   = "content-type"
	// HeaderHierarchy and HeaderLevelLabel are CloudEvents extension
	// attributes: the artifact's hierarchy and level label, which not
	// every subject carries.
	HeaderHierarchy  = "ce-hierarchy"
	HeaderLevelLabel = "ce-levellabel"
)

// ErrUnknownType is returned by Decode for an event type or schema version
// this build does not know. Readers skip such events.
var ErrUnknownType = errors.New("events: unknown event type")

// Encode returns the headers and payload of env as it is stored in the log.
// source is the CloudEvents source attribute.
func Encode(env Envelope, source string) (nats.Header, []byte, error) {
	body, err := json.Marshal(env.Event)
	if err != nil {
		return nil, nil, fmt.Errorf("encode %s: %w", env.Event.EventType(), err)
	}
	id := env.ID.String()
	h := nats.Header{}
	h.Set(nats.MsgIdHdr, msgID(env))
	h.Set(HeaderSpecVersion, "1.0")
	h.Set(HeaderID, id)
	h.Set(HeaderSource, source)
	h.Set(HeaderType, env.Event.EventType())
	h.Set(HeaderTime, env.Time.UTC().Format(time.RFC3339Nano))
	h.Set(HeaderSubject, env.Event.ArtifactID().String())
	h.Set(HeaderSchemaVersion, strconv.Itoa(schemaVersion))
	h.Set(HeaderContentType, "application/json")
	return h, body, nil
}

// msgID is the Nats-Msg-Id of env: its event id, but for a creation the
// artifact's id, so that the server refuses (as a duplicate) a second
// creation of one id in another boundary within its deduplication window.
func msgID(env Envelope) string {
	if c, ok := env.Event.(ArtifactCreated); ok {
		return "created." + c.ID.String()
	}
	return env.ID.String()
}

// Decode reads an envelope from a stored message's headers and payload. It
// returns an error wrapping ErrUnknownType for types it does not know, and
// another error for a malformed message. Seq is left zero.
func Decode(h nats.Header, body []byte) (Envelope, error) {
	typ := h.Get(HeaderType)
	schema := h.Get(HeaderSchemaVersion)
	if schema == "" {
		schema = "1"
	}
	decode, ok := decoders[typ+"/v"+schema]
	if !ok {
		return Envelope{}, fmt.Errorf("%w: %q schema %s", ErrUnknownType, typ, schema)
	}
	id, err := ulid.ParseStrict(h.Get(HeaderID))
	if err != nil {
		return Envelope{}, fmt.Errorf("decode %s: event id: %w", typ, err)
	}
	at, err := time.Parse(time.RFC3339Nano, h.Get(HeaderTime))
	if err != nil {
		return Envelope{}, fmt.Errorf("decode %s: event time: %w", typ, err)
	}
	ev, err := decode(body)
	if err != nil {
		return Envelope{}, fmt.Errorf("decode %s: %w", typ, err)
	}
	return Envelope{ID: id, Time: at.UTC(), Event: ev}, nil
}
