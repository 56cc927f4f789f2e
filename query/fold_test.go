package query_test

import (
	"encoding/binary"
	"encoding/json"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/hierarchy"
	"arbor/projection"
)

// layout is the subject layout of a stream on one server: 256 shards and
// one seal per artifact.
var layout = events.Layout{Prefix: "arbor", Shards: 256, Seals: 1}

// t0 is the time of position 0; the event at position n happens n seconds
// later.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 123_000_000, time.UTC)

func at(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Second) }

// id returns a fixed, readable artifact id.
func id(n uint64) ulid.ULID {
	var u ulid.ULID
	binary.BigEndian.PutUint64(u[8:], n)
	return u
}

// history folds events into a projection, each on the subject arbor's
// commands write it to (see command/decide.go), the event at position n
// at at(n). It fails the test if the fold leaves an event out: then the
// helper, not the query, would be wrong.
type history struct {
	t   *testing.T
	p   *projection.Projection
	hs  hierarchy.Set
	seq uint64
}

func newHistory(t *testing.T, hs hierarchy.Set) *history {
	return &history{t: t, p: projection.New(layout), hs: hs}
}

func (h *history) apply(subject string, ev events.Event) {
	h.t.Helper()
	h.seq++
	h.p.Apply(events.Envelope{ID: ulid.Make(), Time: at(h.seq), Seq: h.seq, Subject: subject, Event: ev})
	h.p.Read(func(s *projection.State) {
		if s.Ignored() != 0 {
			h.t.Fatalf("the fold left out %T at %d on %s", ev, h.seq, subject)
		}
	})
}

// artifact is id as the projection has it; it must have been created.
func (h *history) artifact(id ulid.ULID) projection.Artifact {
	h.t.Helper()
	var (
		a  projection.Artifact
		ok bool
	)
	h.p.Read(func(s *projection.State) { a, ok = s.Get(id) })
	if !ok {
		h.t.Fatalf("artifact %s was never created", id)
	}
	return a
}

// root creates root id in the hierarchy called hierarchy, which need not
// be one of h's (a hierarchy arbor is no longer started with).
func (h *history) root(id ulid.ULID, hierarchy, data string, tags ...string) {
	h.t.Helper()
	place := events.Place{Key: events.Key(id), Hierarchy: hierarchy}
	h.apply(layout.Root(place, id, h.hs.Label(hierarchy, 0)),
		events.ArtifactCreated{ID: id, Hierarchy: hierarchy, Tags: tags, Data: json.RawMessage(data)})
}

// child creates id under parent, on the parent's kids subject.
func (h *history) child(id, parent ulid.ULID, data string, tags ...string) {
	h.t.Helper()
	p := h.artifact(parent)
	label := p.KidsLabel
	if label == "" {
		label = h.hs.Label(p.Hierarchy, p.Level+1)
	}
	h.apply(layout.Kids(p.Place(), p.ID, label), events.ArtifactCreated{
		ID: id, Parent: parent, Hierarchy: p.Hierarchy, Level: p.Level + 1, Tags: tags, Data: json.RawMessage(data),
	})
}

// update replaces id's data and tags.
func (h *history) update(id ulid.ULID, data string, tags ...string) {
	h.t.Helper()
	a := h.artifact(id)
	h.apply(layout.Art(a.Place(), id), events.ArtifactUpdated{ID: id, Tags: tags, Data: json.RawMessage(data)})
}

// remove deletes id and, when its hierarchy allows children below it,
// seals it: the messages of one atomic batch.
func (h *history) remove(id ulid.ULID) {
	h.t.Helper()
	a := h.artifact(id)
	h.apply(layout.Art(a.Place(), id), events.ArtifactDeleted{ID: id})
	hier, known := h.hs.Get(a.Hierarchy)
	if !known || hier.Allows(a.Level+1) || a.KidsLabel != "" {
		for i := range layout.Seals {
			h.apply(layout.Seal(a.Place(), id, i), events.ArtifactSealed{ID: id})
		}
	}
	if h.artifact(id).Live {
		h.t.Fatalf("artifact %s still live after its deletion", id)
	}
}
