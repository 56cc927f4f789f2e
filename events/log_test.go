package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/internal/natsserver"
	"arbor/internal/natstest"
)

func openLog(t testing.TB) (*events.Log, *nats.Conn) {
	t.Helper()
	nc, js := natstest.Connect(t, natstest.Server(t))
	log, err := events.OpenLog(t.Context(), js, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return log, nc
}

func envelope(ev events.Event) events.Envelope {
	return events.Envelope{ID: ulid.Make(), Time: time.Now(), Event: ev}
}

// tree writes the way arbor's commands do, keeping the positions they
// expect; a test breaks them on purpose by editing a Write.
type tree struct {
	t   testing.TB
	log *events.Log
	l   events.Layout
}

var place = events.Place{Key: 5, Hierarchy: "ml"}

func (tr tree) root(id ulid.ULID) events.Write {
	return events.Write{
		Env:     envelope(events.ArtifactCreated{ID: id, Hierarchy: place.Hierarchy, Tags: []string{}, Data: json.RawMessage(`{}`)}),
		Subject: tr.l.Root(events.Place{Key: events.Key(id), Hierarchy: place.Hierarchy}, id, "experiment"),
		Expect:  events.Expect{Subject: tr.l.RootFilter(id)},
		Label:   "experiment",
	}
}

func (tr tree) child(id, parent ulid.ULID) events.Write {
	return events.Write{
		Env: envelope(events.ArtifactCreated{ID: id, Parent: parent, Hierarchy: place.Hierarchy, Level: 1,
			Tags: []string{}, Data: json.RawMessage(`{}`)}),
		Subject: tr.l.Kids(place, parent, "model"),
		Expect:  events.Expect{Subject: tr.l.Seal(place, parent, 0)},
		Label:   "model",
	}
}

func (tr tree) update(id ulid.ULID, own uint64) events.Write {
	art := tr.l.Art(place, id)
	return events.Write{
		Env:     envelope(events.ArtifactUpdated{ID: id, Tags: []string{}, Data: json.RawMessage(`{}`)}),
		Subject: art, Expect: events.Expect{Subject: art, Last: own},
	}
}

// deleteInner is the deletion of id sealed in one batch, expecting its
// own subject at own and its kids subject at kids.
func (tr tree) deleteInner(id ulid.ULID, own, kids uint64) events.Write {
	w := tr.update(id, own)
	w.Env = envelope(events.ArtifactDeleted{ID: id})
	for i := range tr.l.Seals {
		w.Seals = append(w.Seals, tr.l.Seal(place, id, i))
	}
	w.SealExpect = events.Expect{Subject: tr.l.Kids(place, id, "model"), Last: kids}
	return w
}

func (tr tree) append(w events.Write) uint64 {
	tr.t.Helper()
	seq, err := tr.log.Append(tr.t.Context(), w)
	if err != nil {
		tr.t.Fatalf("append %s on %s: %v", w.Env.Event.EventType(), w.Subject, err)
	}
	return seq
}

func (tr tree) last() uint64 {
	tr.t.Helper()
	last, err := tr.log.LastSeq(tr.t.Context())
	if err != nil {
		tr.t.Fatal(err)
	}
	return last
}

func newTree(t testing.TB) tree {
	log, _ := openLog(t)
	return tree{t: t, log: log, l: log.Layout()}
}

func wantConflict(t *testing.T, err error, last uint64) {
	t.Helper()
	var conflict *events.ConflictError
	if !errors.As(err, &conflict) || !errors.Is(err, events.ErrConflict) {
		t.Fatalf("append = %v, want a ConflictError", err)
	}
	if conflict.Last != last {
		t.Fatalf("ConflictError.Last = %d, want %d", conflict.Last, last)
	}
}

// A new stream has the layout of this release, batches switched on.
func TestOpenLogCreatesTheStream(t *testing.T) {
	_, js := natstest.Connect(t, natstest.Server(t))
	log, err := events.OpenLog(t.Context(), js, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if l := log.Layout(); l.Shards != 256 || l.Seals != 1 || l.Prefix != "arbor" {
		t.Fatalf("layout = %+v, want 256 shards, 1 seal, prefix arbor", l)
	}
	s, err := js.Stream(t.Context(), "ARTIFACTS")
	if err != nil {
		t.Fatal(err)
	}
	if !s.CachedInfo().Config.AllowAtomicPublish {
		t.Fatal("the stream does not allow atomic batches")
	}
	// Opened again with other numbers, an existing stream keeps its own.
	again, err := events.OpenLog(t.Context(), js, events.Config{Shards: 16, Seals: 4})
	if err != nil {
		t.Fatal(err)
	}
	if l := again.Layout(); l.Shards != 256 || l.Seals != 1 {
		t.Fatalf("reopened layout = %+v, want the stream's 256 shards and 1 seal", l)
	}
}

// A stream written by an earlier release (no batches, no layout metadata)
// is upgraded in place and keeps its messages.
func TestOpenLogUpgradesAnOldStream(t *testing.T) {
	_, js := natstest.Connect(t, natstest.Server(t))
	_, err := js.CreateStream(t.Context(), jetstream.StreamConfig{
		Name: "ARTIFACTS", Subjects: []string{"arbor.>"}, Storage: jetstream.FileStorage,
		AllowDirect: true, Duplicates: 2 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Acknowledged: stored before the upgrade looks.
	if _, err := js.Publish(t.Context(), "arbor.ml."+ulid.Make().String()+"."+ulid.Make().String()+".experiment.created", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	log, err := events.OpenLog(t.Context(), js, events.Config{Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), "ARTIFACTS")
	if err != nil {
		t.Fatal(err)
	}
	info := s.CachedInfo()
	if !info.Config.AllowAtomicPublish || info.Config.Metadata["arbor.layout"] != "2" || info.State.Msgs != 1 {
		t.Fatalf("after the upgrade: atomic %v, metadata %v, %d messages; want atomic, layout 2, 1 message",
			info.Config.AllowAtomicPublish, info.Config.Metadata, info.State.Msgs)
	}
	// And it takes batches: an inner delete.
	tr := tree{t: t, log: log, l: log.Layout()}
	root := ulid.Make()
	tr.append(tr.root(root))
	tr.append(tr.deleteInner(root, 0, 0))
}

// A root's id is used once, in any hierarchy.
func TestAppendRootOnce(t *testing.T) {
	tr := newTree(t)
	id := ulid.Make()
	first := tr.append(tr.root(id))
	again := tr.root(id)
	_, err := tr.log.Append(t.Context(), again)
	wantConflict(t, err, first)
	elsewhere := tr.root(id)
	elsewhere.Subject = tr.l.Root(events.Place{Key: events.Key(id), Hierarchy: "documents"}, id, "project")
	_, err = tr.log.Append(t.Context(), elsewhere)
	wantConflict(t, err, first)
	if last := tr.last(); last != first {
		t.Fatalf("stream last = %d, want %d: a second creation was written", last, first)
	}
}

// Children's creations do not move each other's preconditions: each only
// checks that the parent is not sealed.
func TestAppendChildrenDoNotConflict(t *testing.T) {
	tr := newTree(t)
	p := ulid.Make()
	tr.append(tr.root(p))
	for range 5 {
		tr.append(tr.child(ulid.Make(), p))
	}
	// Updates of the parent do not move them either.
	own := tr.append(tr.update(p, 0))
	tr.append(tr.child(ulid.Make(), p))
	tr.append(tr.update(p, own))
}

// Deleting an inner artifact seals it in the same atomic batch: a child
// created after finds the seal; a child created since the deleter looked
// makes the whole batch fail, and nothing of it is written.
func TestInnerDeleteAndChildCreation(t *testing.T) {
	tr := newTree(t)
	p := ulid.Make()
	tr.append(tr.root(p))
	kids := tr.append(tr.child(ulid.Make(), p))
	seen := kids // what a deleter saw
	late := tr.append(tr.child(ulid.Make(), p))
	_, err := tr.log.Append(t.Context(), tr.deleteInner(p, 0, seen))
	wantConflict(t, err, late)
	if last := tr.last(); last != late {
		t.Fatalf("stream last = %d, want %d: part of a failed batch was written", last, late)
	}
	end := tr.append(tr.deleteInner(p, 0, late))
	if end != late+2 {
		t.Fatalf("batch ends at %d, want %d: the deletion and one seal", end, late+2)
	}
	// Each is an event of its own: subscribers deduplicate on ce-id.
	var ids []ulid.ULID
	stop := errors.New("stop")
	err = tr.log.Read(t.Context(), end-2, func(env events.Envelope) error {
		ids = append(ids, env.ID)
		if env.Seq == end {
			return stop
		}
		return nil
	}, nil)
	if !errors.Is(err, stop) || len(ids) != 2 {
		t.Fatalf("reading the batch: %v, %d events", err, len(ids))
	}
	if ids[0] == ids[1] {
		t.Fatalf("the deletion and its seal share the event id %s", ids[0])
	}
	_, err = tr.log.Append(t.Context(), tr.child(ulid.Make(), p))
	wantConflict(t, err, end)
	// An update after the deletion finds the own subject moved.
	_, err = tr.log.Append(t.Context(), tr.update(p, 0))
	wantConflict(t, err, late+1)
}

// With several seal subjects (replicated streams), every one is written by
// the deletion, so a creation checking any of them is refused.
func TestInnerDeleteWritesEverySeal(t *testing.T) {
	_, js := natstest.Connect(t, natstest.Server(t))
	log, err := events.OpenLog(t.Context(), js, events.Config{Seals: 8})
	if err != nil {
		t.Fatal(err)
	}
	tr := tree{t: t, log: log, l: log.Layout()}
	p := ulid.Make()
	tr.append(tr.root(p))
	end := tr.append(tr.deleteInner(p, 0, 0))
	for i := range 8 {
		w := tr.child(ulid.Make(), p)
		w.Expect.Subject = tr.l.Seal(place, p, i)
		_, err := tr.log.Append(t.Context(), w)
		wantConflict(t, err, end-uint64(7-i))
	}
}

// An update that read a stale position conflicts and says where the
// subject is now.
func TestAppendStaleUpdate(t *testing.T) {
	tr := newTree(t)
	id := ulid.Make()
	tr.append(tr.root(id))
	own := tr.append(tr.update(id, 0))
	_, err := tr.log.Append(t.Context(), tr.update(id, 0))
	wantConflict(t, err, own)
}

// An event appended twice is written once: the second finds its subject
// moved, by itself.
func TestAppendTwiceWritesOnce(t *testing.T) {
	tr := newTree(t)
	id := ulid.Make()
	tr.append(tr.root(id))
	w := tr.update(id, 0)
	first := tr.append(w)
	if _, err := tr.log.Append(t.Context(), w); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("second append = %v, want a conflict", err)
	}
	if last := tr.last(); last != first {
		t.Fatalf("stream last = %d, want %d: the event was written twice", last, first)
	}
}

// A second creation of one id under another parent, within the server's
// duplicate window, is refused as a duplicate: a conflict, and nothing
// written.
func TestAppendRefusesASecondCreationOfAnID(t *testing.T) {
	tr := newTree(t)
	p1, p2, id := ulid.Make(), ulid.Make(), ulid.Make()
	tr.append(tr.root(p1))
	tr.append(tr.root(p2))
	first := tr.append(tr.child(id, p1))
	_, err := tr.log.Append(t.Context(), tr.child(id, p2))
	wantConflict(t, err, first)
	if last := tr.last(); last != first {
		t.Fatalf("stream last = %d, want %d: the second creation was written", last, first)
	}
}

func TestAppendWhenTheServerIsGone(t *testing.T) {
	log, nc := openLog(t)
	nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	tr := tree{t: t, log: log, l: log.Layout()}
	for _, w := range []events.Write{tr.root(ulid.Make()), tr.deleteInner(ulid.Make(), 1, 1)} {
		if _, err := log.Append(ctx, w); !errors.Is(err, events.ErrUnavailable) {
			t.Fatalf("Append %s = %v, want ErrUnavailable", w.Env.Event.EventType(), err)
		}
	}
}

func TestReadFromAPosition(t *testing.T) {
	log, nc := openLog(t)
	tr := tree{t: t, log: log, l: log.Layout()}
	var ids []ulid.ULID
	for range 5 {
		id := ulid.Make()
		ids = append(ids, id)
		tr.append(tr.root(id))
	}
	// An event of a type this build does not know is passed on with a nil
	// Event so readers advance past it.
	h := nats.Header{}
	h.Set(events.HeaderType, "artifact.renamed")
	if err := nc.PublishMsg(&nats.Msg{Subject: "arbor.x", Header: h, Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var got []events.Envelope
	var skipped []uint64
	stop := errors.New("stop")
	err := log.Read(ctx, 2, func(env events.Envelope) error {
		got = append(got, env)
		if env.Seq == 6 {
			return stop
		}
		return nil
	}, func(seq uint64, err error) { skipped = append(skipped, seq) })
	if !errors.Is(err, stop) {
		t.Fatalf("Read = %v, want the callback's error", err)
	}
	if len(got) != 4 {
		t.Fatalf("read %d events, want 4 (positions 3 to 6)", len(got))
	}
	for i, env := range got[:3] {
		if env.Seq != uint64(i+3) || env.Event.ArtifactID() != ids[i+2] {
			t.Errorf("event %d = seq %d %v, want seq %d %v", i, env.Seq, env.Event, i+3, ids[i+2])
		}
	}
	if got[3].Event != nil || len(skipped) != 1 || skipped[0] != 6 {
		t.Errorf("unknown event: got %#v, skipped %v", got[3], skipped)
	}
}

// The subjects are a contract with subscribers: a change shows here.
func TestSubjectLayout(t *testing.T) {
	l := events.Layout{Prefix: "arbor", Shards: 256, Seals: 4}
	id := ulid.MustParse("01KB0000000000000000000001")
	keyed := events.WithKey(id, 0x3f<<7|5) // shard 0x3f
	p := events.Place{Key: events.Key(keyed), Hierarchy: "ml"}
	for _, tc := range []struct{ got, want string }{
		{l.Root(p, keyed, "experiment"), "arbor.3f.ml.root." + keyed.String() + ".experiment"},
		{l.RootFilter(keyed), "arbor.3f.*.root." + keyed.String() + ".*"},
		{l.Kids(p, id, "model"), "arbor.3f.ml.kids.01KB0000000000000000000001.model"},
		{l.Art(p, id), "arbor.3f.ml.art.01KB0000000000000000000001"},
		{l.Seal(p, id, 3), "arbor.3f.ml.seal3.01KB0000000000000000000001"},
		{events.Layout{Prefix: "arbor", Shards: 4096}.ShardToken(5), "005"},
		{events.Layout{Prefix: "arbor", Shards: 1}.ShardToken(0), "0"},
	} {
		if tc.got != tc.want {
			t.Errorf("subject %s, want %s", tc.got, tc.want)
		}
	}
	if events.Key(keyed) != 0x3f<<7|5 {
		t.Errorf("key of %s = %d, want %d", keyed, events.Key(keyed), 0x3f<<7|5)
	}
	if keyed.Time() != id.Time() || string(keyed[8:]) != string(id[8:]) {
		t.Errorf("WithKey changed more than the key: %s from %s", keyed, id)
	}
}

// The placement key is characters 11 to 13 of an id's text: an id alone
// names its shard, for every number of shards.
func TestKeyIsInTheText(t *testing.T) {
	for range 1000 {
		id := ulid.Make()
		var text uint16
		for _, c := range id.String()[10:13] {
			text = text<<5 | uint16(crockford(c))
		}
		if events.Key(id) != text {
			t.Fatalf("Key(%s) = %d, want %d from its characters 11-13", id, events.Key(id), text)
		}
	}
}

func crockford(c rune) int {
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	for i, a := range alphabet {
		if a == c {
			return i
		}
	}
	return -1
}

func BenchmarkAppend(b *testing.B) {
	tr := newTree(b)
	root := ulid.Make()
	tr.append(tr.root(root))
	for b.Loop() {
		tr.append(tr.child(ulid.Make(), root))
	}
}

// Every precondition names one exact subject, so creating a child costs the
// same however many children its parent has.
func BenchmarkAppendChildOfAParentWith(b *testing.B) {
	for _, children := range []int{10, 10000} {
		b.Run(strconv.Itoa(children), func(b *testing.B) {
			tr := newTree(b)
			root := ulid.Make()
			tr.append(tr.root(root))
			for range children {
				tr.append(tr.child(ulid.Make(), root))
			}
			for b.Loop() {
				tr.append(tr.child(ulid.Make(), root))
			}
		})
	}
}

// What syncing every write to disk costs a create, beside the server's
// default of a sync every two minutes (arbor serve --sync).
func BenchmarkAppendSync(b *testing.B) {
	for _, sync := range []natsserver.Sync{{}, {Always: true}} {
		name := "default"
		if sync.Always {
			name = "always"
		}
		b.Run(name, func(b *testing.B) {
			s, err := natsserver.Start(natsserver.Options{StoreDir: b.TempDir(), Sync: sync})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
			_, js := natstest.Connect(b, s)
			log, err := events.OpenLog(b.Context(), js, events.Config{})
			if err != nil {
				b.Fatal(err)
			}
			tr := tree{t: b, log: log, l: log.Layout()}
			root := ulid.Make()
			tr.append(tr.root(root))
			for b.Loop() {
				tr.append(tr.child(ulid.Make(), root))
			}
		})
	}
}
