package events_test

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/arbortest"
	"arbor/internal/natsserver"
	"arbor/internal/natstest"
)

var (
	followML   = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}
	followDocs = hierarchy.Hierarchy{Name: "documents", Labels: []string{"project", "document", "version"}}
)

// layout is the layout of a stream arbor creates on one server.
var layout = events.Layout{Prefix: "arbor", Shards: events.DefaultShards, Seals: 1}

// written is one event a test wrote, with what its subject must say.
type written struct {
	seq       uint64
	id        ulid.ULID
	parent    ulid.ULID // of a created child
	key       uint16    // the placement key of its root
	hierarchy string
	label     string
	kind      string // created, updated, deleted or sealed
	data      string // the artifact's data, for created and updated
}

func (w written) subject() string {
	place := events.Place{Key: w.key, Hierarchy: w.hierarchy}
	switch {
	case w.kind == "created" && w.parent.IsZero():
		return layout.Root(place, w.id, w.label)
	case w.kind == "created":
		return layout.Kids(place, w.parent, w.label)
	case w.kind == "sealed":
		return layout.Seal(place, w.id, 0)
	}
	return layout.Art(place, w.id)
}

func (w written) shard() int { return layout.Shard(w.key) }

// world writes through an instance's command handler and remembers what
// it wrote, in log order.
type world struct {
	t      *testing.T
	st     *arbortest.Stack
	writes []written
	where  map[ulid.ULID]written // the creation of each artifact
	roots  int
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return &world{t: t, st: arbortest.New(t, followML, followDocs), where: map[ulid.ULID]written{}}
}

func label(hier string, level int) string {
	for _, h := range []hierarchy.Hierarchy{followML, followDocs} {
		if h.Name == hier {
			return h.Label(level)
		}
	}
	return "level_" + strconv.Itoa(level)
}

// create creates an artifact under parent, or a root in hier; every root
// gets a shard of its own.
func (w *world) create(parent ulid.ULID, hier string) ulid.ULID {
	w.t.Helper()
	c := command.Create{Parent: parent, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, len(w.writes)))}
	if parent.IsZero() {
		c.Hierarchy = hier
		w.roots++
		c.ID = events.WithKey(ulid.Make(), uint16(w.roots)<<7)
	}
	a, pos, err := w.st.Handler.Create(w.t.Context(), c)
	if err != nil {
		w.t.Fatalf("create under %s: %v", parent, err)
	}
	if a.Key != events.Key(a.ID) && !parent.IsZero() {
		w.t.Fatalf("child %s has key %d, want its root's %d", a.ID, events.Key(a.ID), a.Key)
	}
	wr := written{seq: pos, id: a.ID, parent: parent, key: a.Key, hierarchy: a.Hierarchy, label: label(a.Hierarchy, a.Level), kind: "created", data: string(c.Data)}
	w.writes = append(w.writes, wr)
	w.where[a.ID] = wr
	return a.ID
}

func (w *world) update(id ulid.ULID) {
	w.t.Helper()
	data := fmt.Sprintf(`{"n":%d}`, len(w.writes))
	_, pos, err := w.st.Handler.Update(w.t.Context(), command.Update{ID: id, Data: json.RawMessage(data)})
	if err != nil {
		w.t.Fatalf("update %s: %v", id, err)
	}
	c := w.where[id]
	w.writes = append(w.writes, written{seq: pos, id: id, key: c.key, hierarchy: c.hierarchy, label: c.label, kind: "updated", data: data})
}

func (w *world) delete(id ulid.ULID) {
	w.t.Helper()
	pos, err := w.st.Handler.Delete(w.t.Context(), command.Delete{ID: id})
	if err != nil {
		w.t.Fatalf("delete %s: %v", id, err)
	}
	c := w.where[id]
	del := written{seq: pos, id: id, key: c.key, hierarchy: c.hierarchy, label: c.label, kind: "deleted"}
	if c.label != "predictions" && c.label != "version" {
		// Not at the deepest level: sealed in the same batch.
		del.seq = pos - 1
		w.writes = append(w.writes, del, written{seq: pos, id: id, key: c.key, hierarchy: c.hierarchy, kind: "sealed"})
		return
	}
	w.writes = append(w.writes, del)
}

func (w *world) matching(match func(written) bool, after uint64) []written {
	return filter(w.writes, match, after)
}

// recordOf is what a test compares of a record: position and subject.
type recordOf struct {
	Seq     uint64
	Subject string
}

// recordsOf is what records of ws must say.
func recordsOf(ws []written) []recordOf {
	out := []recordOf{}
	for _, w := range ws {
		out = append(out, recordOf{w.seq, w.subject()})
	}
	return out
}

// first is the first of ws, which the test wrote to be there.
func first(t *testing.T, ws []written) []recordOf {
	t.Helper()
	if len(ws) == 0 {
		t.Fatal("the sentinel wrote no matching event")
	}
	return recordsOf(ws[:1])
}

// follow runs a Follow iterator into a channel, closed when the iterator
// ends, so that tests can wait on it with a deadline.
func follow(seq iter.Seq[events.Record], err error) (<-chan events.Record, error) {
	if err != nil {
		return nil, err
	}
	ch := make(chan events.Record)
	go func() {
		defer close(ch)
		for r := range seq {
			ch <- r
		}
	}()
	return ch, nil
}

// next is the next record on ch, within a deadline.
func next(t *testing.T, ch <-chan events.Record) events.Record {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("the channel closed, want a record")
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no record within 10s")
	}
	return events.Record{}
}

func take(t *testing.T, ch <-chan events.Record, n int) []recordOf {
	t.Helper()
	out := []recordOf{}
	for range n {
		r := next(t, ch)
		// The headers agree with the subject.
		p, ok := events.ParseSubject(r.Subject)
		types := map[string][]string{
			events.KindRoot: {"artifact.created"}, events.KindKids: {"artifact.created"},
			events.KindArt: {"artifact.updated", "artifact.deleted"}, "seal": {"artifact.sealed"},
		}
		if !ok || (p.Kind != events.KindKids && r.Header.Get(events.HeaderSubject) != p.ID.String()) ||
			!slices.Contains(types[p.Kind], r.Type()) || r.Hierarchy() != p.Hierarchy {
			t.Fatalf("record %d on %s: ce-subject %q, ce-type %q", r.Seq, r.Subject, r.Header.Get(events.HeaderSubject), r.Type())
		}
		out = append(out, recordOf{r.Seq, r.Subject})
	}
	return out
}

// closes checks that ch is closed within a deadline, after whatever it
// still buffered.
func closes(t *testing.T, ch <-chan events.Record) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the channel did not close after its context was cancelled")
		}
	}
}

// readFiltered reads with a plain JetStream ordered consumer on the
// stream every message matching filter: as many as the consumer reports
// pending when it is created.
func readFiltered(t *testing.T, js jetstream.JetStream, filter string) []recordOf {
	t.Helper()
	stream, err := js.Stream(t.Context(), "ARTIFACTS")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := stream.OrderedConsumer(t.Context(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}})
	if err != nil {
		t.Fatalf("ordered consumer on %s: %v", filter, err)
	}
	pending := cons.CachedInfo().NumPending
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Stop()
	out := []recordOf{}
	for range pending {
		m, err := it.Next(jetstream.NextMaxWait(10 * time.Second))
		if err != nil {
			t.Fatalf("%s: after %d of %d messages: %v", filter, len(out), pending, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, recordOf{meta.Sequence.Stream, m.Subject()})
	}
	return out
}

// Each documented subject filter selects exactly its events, in stream
// order: through a plain JetStream ordered consumer, and through Log.Follow
// with the equivalent Filter, from a position and from "new only".
func TestFollowFilters(t *testing.T) {
	w := newWorld(t)
	exp1 := w.create(ulid.ULID{}, "ml_pipeline")
	model1 := w.create(exp1, "")
	pred1 := w.create(model1, "")
	pred2 := w.create(model1, "")
	project := w.create(ulid.ULID{}, "documents")
	document := w.create(project, "")
	w.update(model1)
	model2 := w.create(exp1, "")
	w.create(model2, "")
	w.create(document, "")
	w.update(pred1)
	w.delete(pred2)
	exp2 := w.create(ulid.ULID{}, "ml_pipeline")
	w.create(w.create(exp2, ""), "")
	w.update(exp1)
	w.create(model1, "")
	w.update(model1)
	w.update(document)
	w.delete(w.create(document, ""))

	// The stream holds what was written, and nothing else.
	if got, wantAll := readFiltered(t, w.st.JS, "arbor.>"), recordsOf(w.writes); !slices.Equal(got, wantAll) {
		t.Fatalf("the stream holds\n%v\nwant\n%v", got, wantAll)
	}

	ss := layout.ShardToken(w.where[exp1].shard())
	tests := []struct {
		name string
		// subject is the one NATS subject filter that selects the case's
		// events; empty when only Filter can (by headers).
		subject string
		filter  *events.Filter // nil: Filter cannot say it
		match   func(written) bool
		// sentinel writes one more event matching, maybe after others.
		sentinel func()
	}{
		{
			"every creation", "arbor.*.*.*.*.*", &events.Filter{Kind: "created"},
			func(w written) bool { return w.kind == "created" },
			func() { w.create(ulid.ULID{}, "documents") },
		},
		{
			"deletions", "", &events.Filter{Kind: "deleted"},
			func(w written) bool { return w.kind == "deleted" },
			func() { w.delete(w.create(project, "")) },
		},
		{
			"by hierarchy", "arbor.*.ml_pipeline.>", &events.Filter{Hierarchy: "ml_pipeline"},
			func(w written) bool { return w.hierarchy == "ml_pipeline" },
			func() { w.update(document); w.update(exp2) },
		},
		{
			"every new artifact at one level label", "arbor.*.*.*.*.predictions",
			&events.Filter{Label: "predictions", Kind: "created"},
			func(w written) bool { return w.label == "predictions" && w.kind == "created" },
			func() { w.update(pred1); w.create(model2, "") },
		},
		{
			"by hierarchy and level label", "arbor.*.ml_pipeline.*.*.predictions",
			&events.Filter{Hierarchy: "ml_pipeline", Label: "predictions", Kind: "created"},
			func(w written) bool {
				return w.hierarchy == "ml_pipeline" && w.label == "predictions" && w.kind == "created"
			},
			func() { w.update(pred1); w.create(model2, "") },
		},
		{
			"one artifact after its creation", "arbor.*.*.art." + model1.String(), &events.Filter{Artifact: model1},
			func(w written) bool { return w.id == model1 && (w.kind == "updated" || w.kind == "deleted") },
			func() { w.create(model1, ""); w.update(model1) },
		},
		{
			"one artifact with its creation", "", &events.Filter{Artifact: model1, ArtifactParent: exp1},
			func(w written) bool { return w.id == model1 && w.kind != "sealed" },
			func() { w.create(exp1, ""); w.update(model1) },
		},
		{
			"new children of one parent", "arbor.*.*.kids." + model1.String() + ".*", &events.Filter{Parent: model1},
			func(w written) bool { return w.kind == "created" && w.parent == model1 },
			func() { w.update(model1); w.create(model1, "") },
		},
		{
			"one shard", "arbor." + ss + ".>", nil,
			func(wr written) bool { return wr.shard() == w.where[exp1].shard() },
			func() { w.create(exp1, "") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := w.matching(tt.match, 0)
			if len(all) < 2 || len(all) == len(w.writes) {
				t.Fatalf("%d of %d events match: the case tells nothing", len(all), len(w.writes))
			}
			if tt.subject != "" {
				if got := readFiltered(t, w.st.JS, tt.subject); !slices.Equal(got, recordsOf(all)) {
					t.Errorf("ordered consumer on %s:\n got %v\nwant %v", tt.subject, got, recordsOf(all))
				}
			}
			if tt.filter == nil {
				return
			}
			if _, err := tt.filter.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if subjects := tt.filter.Subjects("arbor"); tt.subject != "" && len(subjects) == 1 && subjects[0] != tt.subject {
				t.Errorf("Filter.Subjects = %v, want the one filter %s", subjects, tt.subject)
			}

			// From a position: everything after it, then what comes next.
			from := all[len(all)/2].seq - 1
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			ch, err := follow(w.st.Log.Follow(ctx, *tt.filter, &from))
			if err != nil {
				t.Fatal(err)
			}
			wantFrom := recordsOf(w.matching(tt.match, from))
			if got := take(t, ch, len(wantFrom)); !slices.Equal(got, wantFrom) {
				t.Errorf("Follow from %d:\n got %v\nwant %v", from, got, wantFrom)
			}
			before := w.writes[len(w.writes)-1].seq
			tt.sentinel()
			if got, want := take(t, ch, 1), first(t, w.matching(tt.match, before)); !slices.Equal(got, want) {
				t.Errorf("Follow from %d, after the history: %v, want the next match %v", from, got, want)
			}

			// From nil: only what is appended after it started.
			ch, err = follow(w.st.Log.Follow(ctx, *tt.filter, nil))
			if err != nil {
				t.Fatal(err)
			}
			before = w.writes[len(w.writes)-1].seq
			tt.sentinel()
			if got, want := take(t, ch, 1), first(t, w.matching(tt.match, before)); !slices.Equal(got, want) {
				t.Errorf("Follow from nil: first record %v, want the first new match %v", got, want)
			}
			cancel()
			closes(t, ch)
		})
	}
}

// A subscriber that stops mid-stream and starts again from the last
// position it saw gets every later event once: none twice, none missing.
func TestFollowResumes(t *testing.T) {
	w := newWorld(t)
	f := events.Filter{Hierarchy: "ml_pipeline"}
	match := func(w written) bool { return w.hierarchy == "ml_pipeline" }
	exp := w.create(ulid.ULID{}, "ml_pipeline")
	for range 4 {
		m := w.create(exp, "")
		w.create(m, "")
		w.create(ulid.ULID{}, "documents")
		w.update(m)
	}

	var seen []recordOf
	var zero uint64
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := follow(w.st.Log.Follow(ctx, f, &zero))
	if err != nil {
		t.Fatal(err)
	}
	const k = 7
	seen = append(seen, take(t, ch, k)...)
	cancel()
	closes(t, ch)

	// More is written while the subscriber is away.
	for range 3 {
		w.update(exp)
		w.create(ulid.ULID{}, "documents")
	}
	last := seen[len(seen)-1].Seq
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	ch, err = follow(w.st.Log.Follow(ctx, f, &last))
	if err != nil {
		t.Fatal(err)
	}
	all := recordsOf(w.matching(match, 0))
	seen = append(seen, take(t, ch, len(all)-k)...)
	if !slices.Equal(seen, all) {
		t.Fatalf("before and after resuming at %d:\n got %v\nwant %v", last, seen, all)
	}
	// Nothing more was queued: the next record is the next event.
	before := w.writes[len(w.writes)-1].seq
	w.update(exp)
	if got, want := take(t, ch, 1), recordsOf(w.matching(match, before)); !slices.Equal(got, want) {
		t.Fatalf("after everything: %v, want %v", got, want)
	}
}

// appender writes roots and their updates straight to a log, as arbor's
// commands would.
type appender struct {
	t      *testing.T
	log    *events.Log
	own    map[ulid.ULID]uint64 // the last position of each artifact's own subject
	writes []written
}

func newAppender(t *testing.T, log *events.Log) *appender {
	return &appender{t: t, log: log, own: map[ulid.ULID]uint64{}}
}

func (a *appender) root(hier, lbl string) ulid.ULID {
	a.t.Helper()
	id := ulid.Make()
	wr := written{id: id, key: events.Key(id), hierarchy: hier, label: lbl, kind: "created", data: `{}`}
	a.append(events.ArtifactCreated{ID: id, Hierarchy: hier, Tags: []string{}, Data: json.RawMessage(`{}`)},
		events.Expect{Subject: layout.RootFilter(id)}, wr)
	return id
}

func (a *appender) update(id ulid.ULID) {
	a.t.Helper()
	c := slices.IndexFunc(a.writes, func(w written) bool { return w.id == id && w.kind == "created" })
	data := fmt.Sprintf(`{"n":%d}`, len(a.writes))
	wr := written{id: id, key: a.writes[c].key, hierarchy: a.writes[c].hierarchy, label: a.writes[c].label, kind: "updated", data: data}
	a.append(events.ArtifactUpdated{ID: id, Tags: []string{}, Data: json.RawMessage(data)},
		events.Expect{Subject: wr.subject(), Last: a.own[id]}, wr)
}

func (a *appender) append(ev events.Event, expect events.Expect, wr written) {
	a.t.Helper()
	env := events.Envelope{ID: ulid.Make(), Time: time.Now(), Event: ev}
	seq, err := a.log.Append(a.t.Context(), events.Write{Env: env, Subject: wr.subject(), Expect: expect, Label: wr.label})
	if err != nil {
		a.t.Fatalf("append %s: %v", ev.EventType(), err)
	}
	wr.seq = seq
	a.writes = append(a.writes, wr)
	if wr.kind == "updated" {
		a.own[wr.id] = seq
	}
}

func connectLog(t *testing.T, s *server.Server) (*nats.Conn, *events.Log) {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(s))
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
	return nc, log
}

// A subscriber resumes from the last position it saw across a restart of
// the NATS server on the same store.
func TestFollowResumesAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	s := natstest.ServerAt(t, dir, "")
	nc, log := connectLog(t, s)
	a := newAppender(t, log)
	f := events.Filter{Hierarchy: "ml_pipeline"}
	match := func(w written) bool { return w.hierarchy == "ml_pipeline" }
	var roots []ulid.ULID
	for range 5 {
		roots = append(roots, a.root("ml_pipeline", "experiment"))
		a.root("documents", "project")
	}
	for _, r := range roots {
		a.update(r)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var zero uint64
	ch, err := follow(log.Follow(ctx, f, &zero))
	if err != nil {
		t.Fatal(err)
	}
	const k = 6
	seen := take(t, ch, k)
	cancel()
	closes(t, ch)
	lastBefore, err := log.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	s.Shutdown()
	s.WaitForShutdown()

	s = natstest.ServerAt(t, dir, "")
	_, log = connectLog(t, s)
	if last, err := log.LastSeq(t.Context()); err != nil || last != lastBefore {
		t.Fatalf("after the restart LastSeq = %d, %v, want %d", last, err, lastBefore)
	}
	a.log = log
	for _, r := range roots[:3] {
		a.update(r)
		a.root("documents", "project")
	}
	last := seen[len(seen)-1].Seq
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	ch, err = follow(log.Follow(ctx, f, &last))
	if err != nil {
		t.Fatal(err)
	}
	all := recordsOf(filter(a.writes, match, 0))
	seen = append(seen, take(t, ch, len(all)-k)...)
	if !slices.Equal(seen, all) {
		t.Fatalf("before the restart and after resuming at %d:\n got %v\nwant %v", last, seen, all)
	}
	before := a.writes[len(a.writes)-1].seq
	a.root("documents", "project")
	a.update(roots[4])
	if got, want := take(t, ch, 1), recordsOf(filter(a.writes, match, before)); !slices.Equal(got, want) {
		t.Fatalf("after everything: %v, want %v", got, want)
	}
}

func filter(ws []written, match func(written) bool, after uint64) []written {
	var out []written
	for _, w := range ws {
		if w.seq > after && match(w) {
			out = append(out, w)
		}
	}
	return out
}

// Record.CloudEvent renders a record as a CloudEvents JSON document with
// the record's attributes, position, hierarchy, level label and payload.
func TestRecordCloudEvent(t *testing.T) {
	w := newWorld(t)
	exp := w.create(ulid.ULID{}, "ml_pipeline")
	model := w.create(exp, "")
	pred := w.create(model, "")
	w.update(pred)
	w.delete(pred)
	var zero uint64
	ch, err := follow(w.st.Log.Follow(t.Context(), events.Filter{Artifact: pred, ArtifactParent: model}, &zero))
	if err != nil {
		t.Fatal(err)
	}
	for i, wr := range w.matching(func(w written) bool { return w.id == pred }, 0) {
		r := next(t, ch)
		if r.Seq != wr.seq || r.Type() != "artifact."+wr.kind {
			t.Fatalf("record %d: %d %s, want %d artifact.%s", i, r.Seq, r.Type(), wr.seq, wr.kind)
		}
		b, err := r.CloudEvent()
		if err != nil {
			t.Fatal(err)
		}
		var ce map[string]json.RawMessage
		if err := json.Unmarshal(b, &ce); err != nil {
			t.Fatalf("CloudEvent %s: %v", b, err)
		}
		str := func(k string) string {
			var s string
			if err := json.Unmarshal(ce[k], &s); err != nil {
				t.Fatalf("%s: %s is not a string: %s", b, k, ce[k])
			}
			return s
		}
		if str("specversion") != "1.0" || str("type") != "artifact."+wr.kind || str("subject") != pred.String() ||
			str("sequence") != strconv.FormatUint(wr.seq, 10) || str("hierarchy") != "ml_pipeline" ||
			str("levellabel") != "predictions" || str("source") != "arbor" || str("datacontenttype") != "application/json" {
			t.Errorf("CloudEvent of the %s = %s, want its attributes", wr.kind, b)
		}
		if id, err := ulid.ParseStrict(str("id")); err != nil || str("id") != r.Header.Get(events.HeaderID) || id == pred {
			t.Errorf("CloudEvent id = %q, want the event's own ULID %q", str("id"), r.Header.Get(events.HeaderID))
		}
		at, err := time.Parse(time.RFC3339Nano, str("time"))
		if err != nil || str("time") != r.Header.Get(events.HeaderTime) || time.Since(at) > time.Minute {
			t.Errorf("CloudEvent time = %q, want the event's time %q", str("time"), r.Header.Get(events.HeaderTime))
		}
		if !jsonEqual(t, ce["data"], r.Data) {
			t.Errorf("CloudEvent data = %s, want the payload %s", ce["data"], r.Data)
		}
		var payload struct {
			ID   string          `json:"id"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(ce["data"], &payload); err != nil || payload.ID != pred.String() ||
			(wr.data != "" && !jsonEqual(t, payload.Data, []byte(wr.data))) {
			t.Errorf("CloudEvent data = %s, want the %s of %s with data %s", ce["data"], wr.kind, pred, wr.data)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return string(bx) == string(by)
}

// Log.Follow's ordered consumer survives a restart of the server under
// its connection: it goes on from where it was, none twice, none missing.
func TestFollowSurvivesAServerRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := natsserver.Start(natsserver.Options{StoreDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	url := s.ClientURL()
	reconnected := make(chan struct{}, 1)
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) {
			select {
			case reconnected <- struct{}{}:
			default:
			}
		}))
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
	a := newAppender(t, log)
	match := func(w written) bool { return w.hierarchy == "ml_pipeline" }
	root := a.root("ml_pipeline", "experiment")
	for range 4 {
		a.update(root)
		a.root("documents", "project")
	}
	var zero uint64
	ch, err := follow(log.Follow(t.Context(), events.Filter{Hierarchy: "ml_pipeline"}, &zero))
	if err != nil {
		t.Fatal(err)
	}
	seen := take(t, ch, len(filter(a.writes, match, 0)))

	s.Shutdown()
	s.WaitForShutdown()
	s, err = natsserver.Start(natsserver.Options{StoreDir: dir, Listen: url[len("nats://"):]})
	if err != nil {
		t.Fatalf("restart on %s: %v", url, err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect within 10s")
	}
	for range 3 {
		a.update(root)
		a.root("documents", "project")
	}
	all := recordsOf(filter(a.writes, match, 0))
	seen = append(seen, take(t, ch, len(all)-len(seen))...)
	if !slices.Equal(seen, all) {
		t.Fatalf("across the restart:\n got %v\nwant %v", seen, all)
	}
}

// A follower that stops leaves no consumer on the server: live feeds that
// come and go would pile them up until the server's limit.
func TestFollowLeavesNoConsumer(t *testing.T) {
	w := newWorld(t)
	w.create(ulid.ULID{}, "ml_pipeline")
	// Readers' consumers are ephemeral (durables, like the KV view's, are
	// made as the instance starts).
	consumers := func() int {
		st, err := w.st.JS.Stream(t.Context(), w.st.Log.Stream())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		list := st.ListConsumers(t.Context())
		for info := range list.Info() {
			if info.Config.Durable == "" {
				n++
			}
		}
		if err := list.Err(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := consumers()
	var zero uint64
	for range 10 {
		ctx, cancel := context.WithCancel(t.Context())
		ch, err := follow(w.st.Log.Follow(ctx, events.Filter{}, &zero))
		if err != nil {
			t.Fatal(err)
		}
		take(t, ch, 1)
		cancel()
		closes(t, ch)
	}
	if n := consumers(); n != before {
		t.Fatalf("%d ephemeral consumers after 10 followers stopped, %d before", n, before)
	}
}
