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

var (
	addr    = events.Address{Hierarchy: "default", Label: "level_0"}
	discard = slog.New(slog.DiscardHandler)
)

// writer appends events to a log in a real embedded JetStream, with the
// boundary precondition taken from its own fold of what it wrote.
type writer struct {
	t     *testing.T
	log   *events.Log
	js    jetstream.JetStream
	state *State
	seq   uint64 // counts appends, to give each event its own time
}

func newWriter(t *testing.T) *writer {
	t.Helper()
	_, js := natstest.Connect(t, natstest.Server(t))
	log, err := events.OpenLog(t.Context(), js, events.Config{})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	return &writer{t: t, log: log, js: js, state: NewState()}
}

// append writes ev and returns its position.
func (w *writer) append(ev events.Event) uint64 {
	w.t.Helper()
	w.seq++
	env := events.Envelope{ID: ulid.Make(), Time: at(w.seq), Event: ev}
	seq, err := w.log.Append(w.t.Context(), addr, env, w.state.BoundaryOf(events.Boundary(ev)))
	if err != nil {
		w.t.Fatalf("append %s %s: %v", ev.EventType(), ev.ArtifactID(), err)
	}
	env.Seq = seq
	w.state.Apply(env)
	return seq
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
	Boundary map[ulid.ULID]uint64
	Children map[ulid.ULID][]ulid.ULID
	All      []Artifact // every id in ids, live or deleted
}

func snap(s *State, ids []ulid.ULID) snapshot {
	out := snapshot{
		Applied: s.Applied(), Total: s.Total(), Page: s.Page(0, s.Total()+1), Counts: s.Counts(),
		Boundary: map[ulid.ULID]uint64{}, Children: map[ulid.ULID][]ulid.ULID{},
	}
	for _, id := range ids {
		out.Boundary[id] = s.BoundaryOf(id)
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
	last := w.append(deleted(root2))
	if last != 5 {
		t.Fatalf("last position = %d, want 5", last)
	}
	all := []ulid.ULID{root, root2, child, child2, unknown}

	p := New()
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
	if a.Version != 2 || string(a.Data) != `{"b":3}` || a.Parent != root || !a.Live {
		t.Fatalf("child = Version %d Data %s Parent %s Live %v, want 2 {\"b\":3} %s true", a.Version, a.Data, a.Parent, a.Live, root)
	}

	// Events appended once it runs are applied in order: each depends on
	// the one before.
	pos := w.append(updated(root, `{"a":2}`))
	waitFor(t, p, pos)
	p.Read(func(s *State) { a, _ = s.Get(root) })
	if a.Version != 2 || string(a.Data) != `{"a":2}` || a.Boundary != pos {
		t.Fatalf("root after update = Version %d Data %s Boundary %d, want 2 {\"a\":2} %d", a.Version, a.Data, a.Boundary, pos)
	}
	w.append(created(child2, child, 2, `{}`))
	w.append(deleted(child2))
	w.append(deleted(child))
	pos = w.append(deleted(root))
	waitFor(t, p, pos)
	got, want := snapOf(p, all), snap(w.state, all)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("projection after following =\n%+v\nwant\n%+v", got, want)
	}
	if got.Total != 0 || got.Applied != 10 {
		t.Fatalf("Total = %d, Applied = %d, want 0 and 10", got.Total, got.Applied)
	}
}

func TestRunnerOnAnEmptyStream(t *testing.T) {
	w := newWriter(t)
	p := New()
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
// held back by it.
func TestRunnerSkipsUnknownEvents(t *testing.T) {
	w := newWriter(t)
	w.append(created(root, none, 0, `{}`))
	msg := nats.NewMsg("arbor.default." + unknown.String() + "." + unknown.String() + ".level_0.frobbed")
	msg.Header.Set(events.HeaderType, "artifact.frobbed")
	msg.Header.Set(events.HeaderID, ulid.Make().String())
	msg.Data = []byte(`{}`)
	ack, err := w.js.PublishMsg(t.Context(), msg)
	if err != nil {
		t.Fatalf("publish an unknown event: %v", err)
	}
	p := New()
	run(t, w.log, p)
	waitReady(t, p)
	if got := p.Applied(); got != ack.Sequence {
		t.Fatalf("Applied when ready = %d, want %d (the unknown event)", got, ack.Sequence)
	}
	pos := w.append(updated(root, `{"v":2}`))
	waitFor(t, p, pos)
	var a Artifact
	p.Read(func(s *State) { a, _ = s.Get(root) })
	if a.Version != 2 {
		t.Fatalf("root Version = %d, want 2", a.Version)
	}
}

// Replaying the log into a fresh projection gives the same answers: the
// projection is a pure function of the log, ignored events included.
func TestRunnerReplay(t *testing.T) {
	w := newWriter(t)
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
	// Events the fold ignores, which still move boundaries.
	ignored := w.append(deleted(id(100)))         // has live children
	w.append(updated(made[2], `{"late":true}`))   // deleted
	w.append(created(id(5000), made[2], 1, `{}`)) // under a deleted parent
	// (A second creation of a taken id the server itself refuses, as a
	// duplicate: the fold's tables cover it.)
	w.append(updated(unknown, `{}`)) // never created
	all := append(made, id(5000), unknown)

	p1 := New()
	run(t, w.log, p1)
	waitReady(t, p1)
	p2 := New()
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
	if a, _ := s1.find(id(100)); !a.Live || a.Children != 2 || s1.Boundary[id(100)] != ignored {
		t.Fatalf("root %s = Live %v Children %d BoundaryOf %d, want live with 2 children and boundary %d", id(100), a.Live, a.Children, s1.Boundary[id(100)], ignored)
	}
}
