package projection

import (
	"testing"

	"arbor/events"
)

// A key's record counts right after the event it is about; one after an
// event the fold ignored (a second creation of an id) records nothing.
func TestKeyRecordFollowsItsEvent(t *testing.T) {
	s := NewState(testLayout)
	record := func(seq uint64, key string) {
		s.Apply(events.Envelope{Seq: seq, Time: at(seq), Subject: testLayout.KeySubject(key),
			Event: events.KeyRecorded{ID: root, Key: key, Request: "r"}})
	}
	applyWrite(s, 1, created(root, none, 0, `{}`))
	record(2, "first")
	k, ok := s.Key("first", at(2))
	if !ok || k.ID != root || k.Version != 1 || k.Type != "artifact.created" || k.Seq != 2 {
		t.Fatalf("Key(first) = %+v, %v; want the creation of root at version 1", k, ok)
	}
	applyWrite(s, 3, updated(root, `{"v":2}`))
	applyWrite(s, 4, created(root, none, 0, `{"again":true}`)) // ignored: the id is taken
	record(5, "second")
	if k, ok := s.Key("second", at(5)); ok {
		t.Fatalf("Key(second) = %+v: recorded after an ignored event", k)
	}
	applyWrite(s, 6, updated(root, `{"v":3}`))
	record(7, "third")
	if k, ok := s.Key("third", at(7)); !ok || k.Version != 3 || k.Type != "artifact.updated" {
		t.Fatalf("Key(third) = %+v, %v; want the update at version 3", k, ok)
	}
	if _, ok := s.Key("first", at(2).Add(KeyTTL)); ok {
		t.Fatal("a key answers past KeyTTL")
	}
}
