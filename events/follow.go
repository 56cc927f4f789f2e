package events

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// heartbeat is how often the server tells an idle reader it is still
// there. A reader that misses two resets itself (onto another server of a
// cluster, say): one second keeps a projection from stalling for long
// after a stream leader goes away.
const heartbeat = jetstream.PullHeartbeat(time.Second)

// followBuffer is how many records a follower holds at most before its
// reader takes them: a follower that reads slowly costs that much memory,
// however far behind it falls.
const followBuffer = 64

// Record is an event as stored: its position, subject, headers and payload.
type Record struct {
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
}

// Type is the record's event type.
func (r Record) Type() string { return r.Header.Get(HeaderType) }

// Hierarchy is the hierarchy of the record's artifact.
func (r Record) Hierarchy() string {
	if h := r.Header.Get(HeaderHierarchy); h != "" {
		return h
	}
	s, _ := ParseSubject(r.Subject)
	return s.Hierarchy
}

// LevelLabel is the level label of the record's artifact; events of the
// first layout carry it in their subject, later ones in a header.
func (r Record) LevelLabel() string {
	if l := r.Header.Get(HeaderLevelLabel); l != "" {
		return l
	}
	s, _ := ParseSubject(r.Subject)
	return s.Label
}

// Follow returns the records matching f (its Subjects, then Match) after
// position from, in stream order, then every new one as it is appended,
// until ctx is done or the caller stops ranging. With from nil it starts
// with the next event appended. It survives reconnects to NATS.
func (l *Log) Follow(ctx context.Context, f Filter, from *uint64) (iter.Seq[Record], error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: f.Subjects(l.cfg.Prefix),
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}
	if from != nil {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = *from + 1
	}
	records, err := l.records(ctx, cfg, jetstream.PullMaxMessages(followBuffer))
	if err != nil {
		return nil, fmt.Errorf("%w: follow %s: %v", ErrUnavailable, l.cfg.Stream, err)
	}
	return func(yield func(Record) bool) {
		for r := range records {
			if f.Match(r) && !yield(r) {
				return
			}
		}
	}, nil
}

// cloudEvent is a record in the CloudEvents JSON format (structured mode),
// with the extension attributes sequence (the stream position, as the
// CloudEvents sequence extension has it), hierarchy and levellabel.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time"`
	Subject         string          `json:"subject"`
	DataContentType string          `json:"datacontenttype"`
	Sequence        string          `json:"sequence"`
	Hierarchy       string          `json:"hierarchy,omitempty"`
	LevelLabel      string          `json:"levellabel,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// CloudEvent renders r as a CloudEvents JSON document.
func (r Record) CloudEvent() ([]byte, error) {
	ce := cloudEvent{
		SpecVersion: "1.0", ID: r.Header.Get(HeaderID), Source: r.Header.Get(HeaderSource),
		Type: r.Type(), Time: r.Header.Get(HeaderTime), Subject: r.Header.Get(HeaderSubject),
		DataContentType: "application/json", Sequence: strconv.FormatUint(r.Seq, 10), Data: r.Data,
	}
	ce.Hierarchy, ce.LevelLabel = r.Hierarchy(), r.LevelLabel()
	if !json.Valid(ce.Data) {
		ce.Data = json.RawMessage("null")
	}
	return json.Marshal(ce)
}
