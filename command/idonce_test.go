package command_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/arbortest"
	"arbor/internal/natstest"
	"arbor/projection"
)

// behind is another instance on the log of a stack, with its own
// connection and projection, whose runner starts only when start is
// called: until then its projection is as far behind as can be.
type behind struct {
	handler *command.Handler
	proj    *projection.Projection
	start   func()
}

func newBehind(t *testing.T, st *arbortest.Stack, hs ...hierarchy.Hierarchy) *behind {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(st.Server))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	log, err := events.OpenLog(t.Context(), js, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	set, err := hierarchy.NewSet(hs...)
	if err != nil {
		t.Fatal(err)
	}
	p := projection.New(log.Layout())
	b := &behind{
		proj: p,
		handler: &command.Handler{
			Log: log, Projection: p, Hierarchies: set,
			NewID: ulid.Make, Now: time.Now, Timeout: 20 * time.Second,
		},
	}
	runner := &projection.Runner{Log: log, Projection: p, Logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var once sync.Once
	b.start = func() { once.Do(func() { go func() { done <- runner.Run(ctx) }() }) }
	t.Cleanup(func() {
		cancel()
		started := true
		once.Do(func() { started = false })
		if started {
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("runner: %v", err)
			}
		}
	})
	return b
}

// idUse is one creation of the id under test: under a parent, or a root
// in a hierarchy.
type idUse struct {
	name      string
	parent    func(p, q ulid.ULID) ulid.ULID // zero: a root
	hierarchy string
}

func (u idUse) create(id, p, q ulid.ULID) command.Create {
	return command.Create{ID: id, Parent: u.parent(p, q), Hierarchy: u.hierarchy, Data: obj(`{}`)}
}

var (
	underP  = idUse{name: "child of P", parent: func(p, _ ulid.ULID) ulid.ULID { return p }}
	underQ  = idUse{name: "child of Q", parent: func(_, q ulid.ULID) ulid.ULID { return q }}
	asRoot  = idUse{name: "root", parent: func(_, _ ulid.ULID) ulid.ULID { return ulid.ULID{} }}
	asRootD = idUse{name: "root of documents", parent: func(_, _ ulid.ULID) ulid.ULID { return ulid.ULID{} }, hierarchy: "documents"}
)

// idPairs are two creations of one id that cannot both stand.
var idPairs = [][2]idUse{{underP, underQ}, {asRoot, underQ}, {underP, asRoot}, {asRoot, asRootD}}

// checkOnce checks that id was created once, as first says, in every
// projection given: under that parent and no other.
func checkOnce(t *testing.T, id, p, q ulid.ULID, first command.Create, createdSeq uint64, projs ...*projection.Projection) {
	t.Helper()
	for i, pr := range projs {
		pr.Read(func(s *projection.State) {
			a, found := s.Get(id)
			hier := first.Hierarchy
			if hier == "" {
				hier = "ml_pipeline"
			}
			if !found || !a.Live || a.Parent != first.Parent || a.Hierarchy != hier || a.CreatedSeq != createdSeq {
				t.Errorf("projection %d: %s = %+v (found %v), want it live under %s in %s, created at %d",
					i, id, a, found, first.Parent, hier, createdSeq)
			}
			pa, _ := s.Get(p)
			qa, _ := s.Get(q)
			want := 0
			if !first.Parent.IsZero() {
				want = 1
			}
			if pa.Children+qa.Children != want {
				t.Errorf("projection %d: P and Q have %d and %d children, want %d in all", i, pa.Children, qa.Children, want)
			}
		})
	}
}

// forgetMsgIDs returns once the server has forgotten the message id of
// every message stored so far: the deduplication window is a time, so
// "long ago" is a time too. A probe stored now with a fresh message id is
// sent again until the server no longer calls it a duplicate; the older
// ids are gone by then. (The probes are messages arbor's fold ignores.)
func forgetMsgIDs(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	id := "probe." + ulid.Make().String()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for sent := 0; ; sent++ {
		m := nats.NewMsg("arbor.probe")
		m.Header.Set(nats.MsgIdHdr, id)
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatalf("probe: %v", err)
		}
		if sent > 0 && !ack.Duplicate {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the server still remembers a message id after 20 s")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// An id is used once, ever: created long ago (far back in the log, and
// longer ago than the server remembers message ids), a second creation of
// it through an instance whose projection is behind is refused with a
// conflict, as a child or a root, and writes nothing.
func TestIDUsedOnceLongAgo(t *testing.T) {
	ctx := t.Context()
	// A stream whose duplicate window is short, made before arbor opens
	// it (as an earlier release would have: OpenLog upgrades it in place
	// and keeps its window). Shortening the window of a stream in use is
	// not enough: nats-server 2.15.2 fires its purge timer before it sets
	// the new window, and the purge may re-arm itself with the old one.
	srv := natstest.Server(t)
	_, js := natstest.Connect(t, srv)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "ARTIFACTS", Subjects: []string{"arbor.>"}, Storage: jetstream.FileStorage,
		Duplicates: 200 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	st := arbortest.Join(t, srv, mlPipeline, documents)
	if s, err := st.JS.Stream(ctx, st.Log.Stream()); err != nil || s.CachedInfo().Config.Duplicates != 200*time.Millisecond {
		t.Fatalf("stream: %v; want it opened with its 200 ms duplicate window", err)
	}

	type firstUse struct {
		id, p, q ulid.ULID
		c        command.Create
		pos      uint64
	}
	firsts := make([]firstUse, len(idPairs))
	for i, pair := range idPairs {
		p := mustCreate(t, st, command.Create{})
		q := mustCreate(t, st, command.Create{})
		id := ulid.Make()
		c := pair[0].create(id, p.ID, q.ID)
		a, pos, err := st.Handler.Create(ctx, c)
		if err != nil {
			t.Fatalf("%s: first creation: %v", pair[0].name, err)
		}
		if a.ID != id {
			t.Fatalf("%s: created %s, want %s", pair[0].name, a.ID, id)
		}
		firsts[i] = firstUse{id: id, p: p.ID, q: q.ID, c: c, pos: pos}
	}
	for range 200 {
		mustCreate(t, st, command.Create{})
	}
	forgetMsgIDs(t, st.JS)

	for i, pair := range idPairs {
		t.Run(pair[0].name+" then "+pair[1].name, func(t *testing.T) {
			f := firsts[i]
			b := newBehind(t, st, mlPipeline, documents)
			before := arbortest.WaitAll(t, st)
			errc := make(chan error, 1)
			go func() {
				_, _, err := b.handler.Create(ctx, pair[1].create(f.id, f.p, f.q))
				errc <- err
			}()
			b.start()
			err := <-errc
			var conflict *command.ConflictError
			if !errors.As(err, &conflict) {
				t.Fatalf("second creation of %s = %v, want a *command.ConflictError", f.id, err)
			}
			if last := arbortest.WaitAll(t, st); last != before {
				t.Fatalf("LastSeq = %d, want %d: the refused creation wrote nothing", last, before)
			}
			if err := b.proj.WaitFor(ctx, before); err != nil {
				t.Fatal(err)
			}
			checkOnce(t, f.id, f.p, f.q, f.c, f.pos, st.Projection, b.proj)
		})
	}
}

// An id is used once, ever, also when two instances create it at the same
// moment, one of them with a projection behind: each decides the id is
// free (the gate holds both appends until both have decided), exactly one
// creation stands and the other gets a conflict; one message is written.
func TestIDUsedOnceConcurrently(t *testing.T) {
	const rounds = 4
	st := arbortest.New(t, mlPipeline, documents)
	ctx := t.Context()
	mustCreate(t, st, command.Create{Tags: []string{"warm-up"}})
	if _, _, err := st.KV.Open(ctx); err != nil {
		t.Fatal(err)
	}
	for _, pair := range idPairs {
		t.Run(pair[0].name+" against "+pair[1].name, func(t *testing.T) {
			wins := [2]int{}
			for n := range rounds {
				p := mustCreate(t, st, command.Create{})
				q := mustCreate(t, st, command.Create{})
				b := newBehind(t, st, mlPipeline, documents) // knows neither P nor Q yet
				before := arbortest.WaitAll(t, st)
				id := ulid.Make()
				g := newGate(2)
				hs := [2]*command.Handler{g.handler(st.Handler), g.handler(b.handler)}
				var (
					errs [2]error
					pos  [2]uint64
					cs   [2]command.Create
					wg   sync.WaitGroup
				)
				for i, use := range pair {
					cs[i] = use.create(id, p.ID, q.ID)
					wg.Go(func() { _, pos[i], errs[i] = hs[i].Create(ctx, cs[i]) })
				}
				b.start()
				wg.Wait()
				winner := -1
				for i, err := range errs {
					var conflict *command.ConflictError
					switch {
					case err == nil && winner >= 0:
						t.Fatalf("round %d: both creations of %s succeeded", n, id)
					case err == nil:
						winner = i
					case !errors.As(err, &conflict):
						t.Fatalf("round %d: %s: err = %v, want a *command.ConflictError", n, pair[i].name, err)
					}
				}
				if winner < 0 {
					t.Fatalf("round %d: both creations of %s refused (%v), want one to stand", n, id, errs)
				}
				wins[winner]++
				if g.Conflicts() != 1 {
					t.Errorf("round %d: %d conflicts, want the loser's one", n, g.Conflicts())
				}
				last := arbortest.WaitAll(t, st)
				if last != before+1 {
					t.Fatalf("round %d: %d messages written, want 1", n, last-before)
				}
				if err := b.proj.WaitFor(ctx, last); err != nil {
					t.Fatal(err)
				}
				checkOnce(t, id, p.ID, q.ID, cs[winner], pos[winner], st.Projection, b.proj)
			}
			t.Logf("%d rounds: %s won %d, %s (behind) won %d", rounds, pair[0].name, wins[0], pair[1].name, wins[1])
		})
	}
}
