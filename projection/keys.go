package projection

import (
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
)

// KeyTTL is how long an idempotency key answers for its first request.
const KeyTTL = 24 * time.Hour

// Keyed is a write made for a request that carried an idempotency key, as
// the log recorded it (see events.KeyRecorded).
type Keyed struct {
	Key     string
	Request string    // the request's digest
	ID      ulid.ULID // the artifact written
	// Type is the event's type, and Version the artifact's version after
	// it: what the first answer was made of.
	Type    string
	Version int
	Seq     uint64 // the position of the key's record
	Time    time.Time
}

// lastEvent is the last artifact event the fold applied: what a key's
// record, which follows it in its batch, is about.
type lastEvent struct {
	seq     uint64
	id      ulid.ULID
	version int
	typ     string
}

// keyring holds the keys recorded in the last KeyTTL of the log's time, in
// the order they were recorded.
type keyring struct {
	byKey map[string]*Keyed
	queue []*Keyed // from head on
	head  int
}

func newKeyring() keyring { return keyring{byKey: make(map[string]*Keyed)} }

// Key returns the write recorded for key, if it was recorded within
// KeyTTL of now.
func (s *State) Key(key string, now time.Time) (Keyed, bool) {
	k := s.keys.byKey[key]
	if k == nil || now.Sub(k.Time) >= KeyTTL {
		return Keyed{}, false
	}
	return *k, true
}

// KeyPosition is the position of the last record of key the state holds,
// expired or not; zero when none.
func (s *State) KeyPosition(key string) uint64 {
	if k := s.keys.byKey[key]; k != nil {
		return k.Seq
	}
	return 0
}

// isKeySubject reports whether subject is one of the layout's key subjects.
func (s *State) isKeySubject(subject string) bool {
	rest, ok := strings.CutPrefix(subject, s.layout.Prefix+"."+events.KindKey+".")
	return ok && len(rest) == 32 && !strings.ContainsAny(rest, ".*>")
}

// applyKey folds a key's record in. It counts only right after the write
// it is about, on its key's subject; the key then answers for KeyTTL.
func (s *State) applyKey(env events.Envelope) {
	ev, ok := env.Event.(events.KeyRecorded)
	last := s.lastEvent
	if !ok || ev.ID != last.id || last.seq == 0 || env.Subject != s.layout.KeySubject(ev.Key) || !s.recordedAfter(last) {
		s.ignored++
		return
	}
	s.lastEvent = lastEvent{}
	k := &Keyed{Key: ev.Key, Request: ev.Request, ID: ev.ID, Type: last.typ, Version: last.version, Seq: env.Seq, Time: env.Time}
	s.keys.add(k)
}

// recordedAfter reports whether the message being folded follows the event
// last in its batch: nothing but the event's seals in between.
func (s *State) recordedAfter(last lastEvent) bool {
	n := s.byID[last.id]
	return n != nil && s.applied-last.seq <= uint64(1+s.layout.Seals)
}

// add records k, and forgets the keys recorded more than KeyTTL before it.
func (r *keyring) add(k *Keyed) {
	r.byKey[k.Key] = k
	r.queue = append(r.queue, k)
	for ; r.head < len(r.queue) && k.Time.Sub(r.queue[r.head].Time) >= KeyTTL; r.head++ {
		if old := r.queue[r.head]; r.byKey[old.Key] == old {
			delete(r.byKey, old.Key)
		}
		r.queue[r.head] = nil
	}
	if r.head > len(r.queue)/2 {
		r.queue, r.head = append(r.queue[:0], r.queue[r.head:]...), 0
	}
}

// all is every key recorded within KeyTTL of the last, oldest first.
func (r *keyring) all() []*Keyed { return r.queue[r.head:] }
