package projection

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/internal/natstest"
)

var discard = slog.New(slog.DiscardHandler)

// writer appends events to a log in a real embedded JetStream, each as a
// command would write it (see decideWrite), with preconditions taken from
// its own fold of what it wrote.
type writer struct {
	t     *testing.T
	log   *events.Log
	js    jetstream.JetStream
	state *State
	seq   uint64 // counts appends, to give each event its own time
}

func newWriter(t *testing.T) *writer {
	t.Helper()
	return newWriterWith(t, events.Config{})
}

// newWriterWith is newWriter on a stream made with cfg.
func newWriterWith(t *testing.T, cfg events.Config) *writer {
	t.Helper()
	_, js := natstest.Connect(t, natstest.Server(t))
	log, err := events.OpenLog(t.Context(), js, cfg)
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	return &writer{t: t, log: log, js: js, state: NewState(log.Layout())}
}

// append writes ev as a command would and returns the position of its
// last message: the event's, or its last seal's when it seals.
func (w *writer) append(ev events.Event) uint64 {
	w.t.Helper()
	seq, err := w.try(ev)
	if err != nil {
		w.t.Fatalf("append %s %s: %v", ev.EventType(), ev.ArtifactID(), err)
	}
	return seq
}

// try is append returning the log's error.
func (w *writer) try(ev events.Event) (uint64, error) {
	w.t.Helper()
	w.seq++
	wr := decideWrite(w.state, ev)
	wr.Env = events.Envelope{ID: ulid.Make(), Time: at(w.seq), Event: ev}
	seq, err := w.log.Append(w.t.Context(), wr)
	if err != nil {
		return 0, err
	}
	// The event, then its seals, at consecutive positions.
	first := seq - uint64(len(wr.Seals))
	w.state.Apply(events.Envelope{ID: wr.Env.ID, Time: wr.Env.Time, Seq: first, Subject: wr.Subject, Event: ev})
	for i, subject := range wr.Seals {
		w.state.Apply(events.Envelope{ID: wr.Env.ID, Time: wr.Env.Time, Seq: first + 1 + uint64(i), Subject: subject,
			Event: events.ArtifactSealed{ID: ev.ArtifactID()}})
	}
	return seq, nil
}

// publish writes ev on subject with no precondition, as a writer that
// does not follow arbor's rules might, and returns its position. A nil ev
// is a message of a type no build knows.
func (w *writer) publish(subject string, ev events.Event) uint64 {
	w.t.Helper()
	w.seq++
	env := events.Envelope{ID: ulid.Make(), Time: at(w.seq), Event: ev}
	msg := nats.NewMsg(subject)
	if ev == nil {
		msg.Header.Set(events.HeaderType, "artifact.frobbed")
		msg.Header.Set(events.HeaderID, env.ID.String())
		msg.Data = []byte(`{}`)
	} else {
		h, body, err := events.Encode(env, "arbor")
		if err != nil {
			w.t.Fatal(err)
		}
		h.Del(nats.MsgIdHdr) // a second creation of an id must land too
		msg.Header, msg.Data = h, body
	}
	ack, err := w.js.PublishMsg(w.t.Context(), msg)
	if err != nil {
		w.t.Fatalf("publish on %s: %v", subject, err)
	}
	env.Seq, env.Subject = ack.Sequence, subject
	w.state.Apply(env)
	return ack.Sequence
}

// run starts a Runner for p in a goroutine. The runner stops, and must
// return context.Canceled, when the test ends.
func run(t *testing.T, log *events.Log, p *Projection) {
	t.Helper()
	start(t, "runner", (&Runner{Log: log, Projection: p, Logger: discard}).Run)
}

// start runs fn until the test ends, then cancels it and checks that it
// returns context.Canceled.
func start(t *testing.T, name string, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s returned %v, want context.Canceled", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not return after its context was cancelled", name)
		}
	})
}

// deadline is a context for waits that must not hang the test.
func deadline(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitReady(t *testing.T, p *Projection) {
	t.Helper()
	if err := p.WaitReady(deadline(t)); err != nil {
		t.Fatalf("WaitReady: %v (applied %d)", err, p.Applied())
	}
}

func waitFor(t *testing.T, p *Projection, pos uint64) {
	t.Helper()
	if err := p.WaitFor(deadline(t), pos); err != nil {
		t.Fatalf("WaitFor(%d): %v (applied %d)", pos, err, p.Applied())
	}
}

// snapshot is what a projection answers: everything a reader can see.
type snapshot struct {
	Applied  uint64
	Total    int
	Page     []Artifact
	Counts   map[string][]int
	Ignored  int
	Children map[ulid.ULID][]ulid.ULID
	All      []Artifact // every id in ids, live or deleted
}

func snap(s *State, ids []ulid.ULID) snapshot {
	out := snapshot{
		Applied: s.Applied(), Total: s.Total(), Page: s.Page(0, s.Total()+1), Counts: s.Counts(),
		Ignored: s.Ignored(), Children: map[ulid.ULID][]ulid.ULID{},
	}
	for _, id := range ids {
		out.Children[id] = childIDs(s, id)
		if a, ok := s.Get(id); ok {
			out.All = append(out.All, a)
		}
	}
	return out
}

func (s snapshot) find(id ulid.ULID) (Artifact, bool) {
	for _, a := range s.All {
		if a.ID == id {
			return a, true
		}
	}
	return Artifact{}, false
}

func snapOf(p *Projection, ids []ulid.ULID) snapshot {
	var out snapshot
	p.Read(func(s *State) { out = snap(s, ids) })
	return out
}

func TestRunnerCatchesUpThenFollows(t *testing.T) {
	w := newWriter(t)
	w.append(created(root, none, 0, `{"a":1}`, "t"))
	w.append(created(child, root, 1, `{"content":"x","b":2}`))
	w.append(updated(child, `{"b":3}`))
	w.append(created(root2, none, 0, `{}`))
	// root2 could have children: its deletion is a batch with its seal.
	last := w.append(deleted(root2))
	if last != 6 {
		t.Fatalf("last position = %d, want 6 (the deletion at 5, its seal at 6)", last)
	}
	all := []ulid.ULID{root, root2, child, child2, unknown}

	p := New(w.log.Layout())
	if p.Ready() {
		t.Fatal("Ready before Run = true, want false")
	}
	run(t, w.log, p)
	waitReady(t, p)
	// Ready only once every event in the log at start-up is applied.
	if got := p.Applied(); got != last {
		t.Fatalf("Applied when ready = %d, want %d", got, last)
	}
	if got, want := snapOf(p, all), snap(w.state, all); !reflect.DeepEqual(got, want) {
		t.Fatalf("projection after catching up =\n%+v\nwant\n%+v", got, want)
	}
	var a Artifact
	p.Read(func(s *State) { a, _ = s.Get(child) })
	if a.Version != 2 || string(a.Data) != `{"b":3}` || a.Parent != root || !a.Live || a.OwnSeq != 3 {
		t.Fatalf("child = Version %d Data %s Parent %s Live %v OwnSeq %d, want 2 {\"b\":3} %s true 3", a.Version, a.Data, a.Parent, a.Live, a.OwnSeq, root)
	}
	p.Read(func(s *State) { a, _ = s.Get(root2) })
	if want := (Subjects{OwnSeq: 5, Sealed: true}); a.Live || a.Subjects != want {
		t.Fatalf("root2 = Live %v Subjects %+v, want deleted with %+v", a.Live, a.Subjects, want)
	}

	// Events appended once it runs are applied in order: each depends on
	// the one before.
	pos := w.append(updated(root, `{"a":2}`))
	waitFor(t, p, pos)
	p.Read(func(s *State) { a, _ = s.Get(root) })
	if want := (Subjects{OwnSeq: pos, KidsLabel: "level_1", KidsSeq: 2}); a.Version != 2 || string(a.Data) != `{"a":2}` || a.Subjects != want {
		t.Fatalf("root after update = Version %d Data %s Subjects %+v, want 2 {\"a\":2} %+v", a.Version, a.Data, a.Subjects, want)
	}
	w.append(created(child2, child, 2, `{}`))
	w.append(deleted(child2)) // the deepest level: no seal
	w.append(deleted(child))  // expects child's kids subject where child2's creation left it
	pos = w.append(deleted(root))
	waitFor(t, p, pos)
	got, want := snapOf(p, all), snap(w.state, all)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("projection after following =\n%+v\nwant\n%+v", got, want)
	}
	if got.Total != 0 || got.Applied != 13 || got.Ignored != 0 {
		t.Fatalf("Total = %d, Applied = %d, Ignored = %d, want 0, 13 and 0", got.Total, got.Applied, got.Ignored)
	}
}

func TestRunnerOnAnEmptyStream(t *testing.T) {
	w := newWriter(t)
	p := New(w.log.Layout())
	run(t, w.log, p)
	waitReady(t, p)
	if got := p.Applied(); got != 0 {
		t.Fatalf("Applied = %d, want 0", got)
	}
	pos := w.append(created(root, none, 0, `{}`))
	waitFor(t, p, pos)
	var total int
	p.Read(func(s *State) { total = s.Total() })
	if total != 1 {
		t.Fatalf("Total = %d, want 1", total)
	}
}

// An event this build cannot decode still moves the projection, so that
// readers waiting for a later position are not stuck, and readiness is not
// held back by it. On an artifact's own subject it moves that subject's
// position, as it did on the server: the next write there expects it.
func TestRunnerSkipsUnknownEvents(t *testing.T) {
	w := newWriter(t)
	w.append(created(root, none, 0, `{}`))
	frob := w.publish(w.log.Layout().Art(events.Place{Key: events.Key(root), Hierarchy: "default"}, root), nil)
	p := New(w.log.Layout())
	run(t, w.log, p)
	waitReady(t, p)
	if got := p.Applied(); got != frob {
		t.Fatalf("Applied when ready = %d, want %d (the unknown event)", got, frob)
	}
	var a Artifact
	var ignored int
	p.Read(func(s *State) { a, _ = s.Get(root); ignored = s.Ignored() })
	if a.Version != 1 || a.OwnSeq != frob || ignored != 1 {
		t.Fatalf("root = Version %d OwnSeq %d, Ignored %d; want 1, %d and 1", a.Version, a.OwnSeq, ignored, frob)
	}
	pos := w.append(updated(root, `{"v":2}`))
	waitFor(t, p, pos)
	p.Read(func(s *State) { a, _ = s.Get(root) })
	if a.Version != 2 || a.OwnSeq != pos {
		t.Fatalf("root = Version %d OwnSeq %d, want 2 and %d", a.Version, a.OwnSeq, pos)
	}
}

// Replaying the log into a fresh projection gives the same answers: the
// projection is a pure function of the log, ignored events included.
func TestRunnerReplay(t *testing.T) {
	w := newWriterWith(t, events.Config{Seals: 3})
	var made []ulid.ULID
	for i := range uint64(12) {
		r := id(100 + i)
		w.append(created(r, none, 0, `{"i":1}`, "root"))
		made = append(made, r)
		for j := range uint64(3) {
			c := id(1000 + 10*i + j)
			w.append(created(c, r, 1, `{"content":"x","j":2}`))
			made = append(made, c)
		}
	}
	for i, id := range made {
		switch i % 4 {
		case 1:
			w.append(updated(id, `{"v":2}`, "u"))
		case 2:
			w.append(deleted(id))
		}
	}
	// Events the fold ignores, which still move the positions of their
	// subjects. A deletion of an artifact with live children (the server
	// cannot tell) writes its seals all the same.
	sealed := w.append(deleted(id(100)))
	w.append(updated(made[2], `{"late":true}`)) // deleted
	// Under a deleted, sealed parent: the server refuses a command's
	// creation, but not the same event without its precondition.
	orphan := created(id(5000), made[2], 2, `{}`)
	if _, err := w.try(orphan); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("creation under a sealed parent = %v, want ErrConflict", err)
	}
	w.publish(decideWrite(w.state, orphan).Subject, orphan)
	w.append(updated(unknown, `{}`)) // never created
	// Subjects that are not exactly arbor's.
	l := w.log.Layout()
	home := events.Place{Key: events.Key(made[1]), Hierarchy: "default"}
	nextShard := events.Place{Key: home.Key + 1<<7, Hierarchy: "default"}
	otherHierarchy := events.Place{Key: home.Key, Hierarchy: "ml"}
	w.publish(l.Art(nextShard, made[1]), updated(made[1], `{"wrong":"shard"}`))
	w.publish(l.Art(otherHierarchy, made[1]), updated(made[1], `{"wrong":"hierarchy"}`))
	w.publish(l.Kids(home, made[0], "other"), created(id(5001), made[0], 1, `{}`))
	w.publish(l.Seal(home, made[4], 3), events.ArtifactSealed{ID: made[4]})
	w.publish(l.Art(home, made[3]), updated(made[1], `{"someone":"else"}`))
	all := append(made, id(5000), id(5001), unknown)

	p1 := New(l)
	run(t, w.log, p1)
	waitReady(t, p1)
	p2 := New(l)
	run(t, w.log, p2)
	waitReady(t, p2)

	s1, s2 := snapOf(p1, all), snapOf(p2, all)
	if !reflect.DeepEqual(s1, s2) {
		t.Fatalf("replayed projection differs:\n%+v\nfirst\n%+v", s2, s1)
	}
	if want := snap(w.state, all); !reflect.DeepEqual(s1, want) {
		t.Fatalf("projection =\n%+v\nwant the writer's fold\n%+v", s1, want)
	}
	var page1, page2 []Artifact
	var counts1, counts2 map[string][]int
	p1.Read(func(s *State) { page1, counts1 = s.Page(0, len(all)), s.Counts() })
	p2.Read(func(s *State) { page2, counts2 = s.Page(0, len(all)), s.Counts() })
	if !reflect.DeepEqual(page1, page2) || !reflect.DeepEqual(counts1, counts2) {
		t.Fatalf("Page or Counts of the replay differ: %v %v, want %v %v", ids(page2), counts2, ids(page1), counts1)
	}
	if len(page1) != 36 || !reflect.DeepEqual(counts1, map[string][]int{"default": {12, 24}}) {
		t.Fatalf("Page has %d artifacts, Counts = %v; want 36 and map[default:[12 24]]", len(page1), counts1)
	}
	// 1 deletion with children, 1 update of a deleted artifact, 1 orphan,
	// 1 update of an unknown id, 5 on subjects that are not arbor's.
	if s1.Ignored != 9 {
		t.Fatalf("Ignored = %d, want 9", s1.Ignored)
	}
	if a, _ := s1.find(id(100)); !a.Live || a.Children != 2 || !a.Sealed || a.OwnSeq != sealed-3 {
		t.Fatalf("root %s = Live %v Children %d Sealed %v OwnSeq %d, want live, 2 children, sealed, own subject at %d",
			id(100), a.Live, a.Children, a.Sealed, a.OwnSeq, sealed-3)
	}
	if a, _ := s1.find(made[1]); a.Version != 2 || string(a.Data) != `{"v":2}` {
		t.Fatalf("%s = Version %d Data %s, want the updates on other subjects ignored", made[1], a.Version, a.Data)
	}
	if a, _ := s1.find(made[0]); a.KidsLabel != "level_1" || a.Children != 2 {
		t.Fatalf("%s = KidsLabel %q Children %d, want level_1 and 2: no child under a second label", made[0], a.KidsLabel, a.Children)
	}
	if a, _ := s1.find(made[4]); a.Sealed {
		t.Fatalf("%s is sealed, want seal 3 of 3 ignored", made[4])
	}
}
