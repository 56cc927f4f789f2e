package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/projection"
)

// benchTestMain opens a Main as the bench does, on a test directory.
func benchTestMain(t *testing.T) *Main {
	t.Helper()
	b := &bench{}
	m := &Main{Config: b.config(t.TempDir(), 0), Logger: slog.New(slog.DiscardHandler)}
	if err := m.Open(t.Context()); err != nil {
		_ = m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	if err := m.Projection().WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBenchBuildWritesWhatCommandsWrite checks that the messages the bench
// builds a store from are those arbor's create command appends: a root and
// a child created over HTTP are stored with the very headers, body and
// subject the builder makes for the same artifact, event id and time.
func TestBenchBuildWritesWhatCommandsWrite(t *testing.T) {
	m := benchTestMain(t)
	ctx := t.Context()
	js, err := jetstream.New(m.Conn())
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, m.Log().Stream())
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + m.HTTPAddr() + "/api/v1/artifacts"
	create := func(body string) ulid.ULID {
		t.Helper()
		resp, err := http.Post(base, "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a struct{ ID string }
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("create %s: %s, %v", body, resp.Status, err)
		}
		return ulid.MustParseStrict(a.ID)
	}
	// stored is the last message on the subject w writes, and w with the
	// event id and time that message has.
	stored := func(w events.Write) (*jetstream.RawStreamMsg, events.Write) {
		t.Helper()
		msg, err := stream.GetLastMsgForSubject(ctx, w.Subject)
		if err != nil {
			t.Fatalf("message on %s: %v", w.Subject, err)
		}
		w.Env.ID = ulid.MustParseStrict(msg.Header.Get(events.HeaderID))
		at, err := time.Parse(time.RFC3339Nano, msg.Header.Get(events.HeaderTime))
		if err != nil {
			t.Fatal(err)
		}
		w.Env.Time = at
		return msg, w
	}
	same := func(what string, msg *jetstream.RawStreamMsg, w events.Write) {
		t.Helper()
		want, err := m.Log().Message(w)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Subject != want.Subject {
			t.Errorf("%s: subject %s, the builder's %s", what, msg.Subject, want.Subject)
		}
		got := maps.Clone(msg.Header)
		for _, h := range []string{"Nats-Sequence", "Nats-Stream", "Nats-Subject", "Nats-Time-Stamp"} {
			delete(got, h) // added by the direct get that read the message back
		}
		if !reflect.DeepEqual(got, want.Header) {
			t.Errorf("%s: headers\n%v\nthe builder's\n%v", what, got, want.Header)
		}
		if !bytes.Equal(msg.Data, want.Data) {
			t.Errorf("%s: body\n%s\nthe builder's\n%s", what, msg.Data, want.Data)
		}
	}

	layout := m.Log().Layout()
	rootData := experimentData(7)
	root := create(`{"data": ` + string(rootData) + `}`)
	msg, w := stored(rootWrite(layout, benchHierarchy, root, rootData, time.Time{}))
	same("root", msg, w)

	childData := modelData(3)
	child := create(`{"parent_id": "` + root.String() + `", "data": ` + string(childData) + `}`)
	p := benchParent{id: root, key: events.Key(root)}
	msg, w = stored(childWrite(layout, benchHierarchy, p, child, childData, time.Time{}))
	same("child", msg, w)
	if events.Key(child) != p.key {
		t.Errorf("child %s has placement key %d, its root %d", child, events.Key(child), p.key)
	}
}

// TestBenchBuildStore builds a small store through the log and checks that
// the projection takes every event and has the shape asked for.
func TestBenchBuildStore(t *testing.T) {
	m := benchTestMain(t)
	ctx := t.Context()
	shape := shapeFor(3000, 100, 500, 300)
	if shape.Total() != 3000 || shape.Narrow != 15 || shape.Wide != 500 {
		t.Fatalf("shape %+v", shape)
	}
	nc, err := nats.Connect("", m.OwnNATS()...)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	builder, err := newStoreBuilder(nc, m.Log())
	if err != nil {
		t.Fatal(err)
	}
	st, err := builder.build(ctx, shape)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.ids) != 3000 {
		t.Fatalf("%d ids, want 3000", len(st.ids))
	}
	last, err := m.Log().LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Projection().WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
	m.Projection().Read(func(s *projection.State) {
		if s.Total() != 3000 || s.Ignored() != 0 {
			t.Fatalf("projection has %d artifacts and ignored %d events, want 3000 and 0", s.Total(), s.Ignored())
		}
		if got, want := s.Counts()[benchHierarchy.Name], []int{30, 300, 2670}; !reflect.DeepEqual(got, want) {
			t.Errorf("counts per level %v, want %v", got, want)
		}
		children := func(id ulid.ULID) int {
			a, _ := s.Get(id)
			return a.Children
		}
		if n := children(st.wide); n != 500 {
			t.Errorf("wide model has %d children, want 500", n)
		}
		if n := children(st.tree); n != 100 {
			t.Errorf("tree model has %d children, want 100", n)
		}
		for _, id := range st.narrow {
			if n := children(id); n != narrowKids {
				t.Errorf("narrow model %s has %d children, want %d", id, n, narrowKids)
			}
		}
		var data int64
		for _, a := range s.Page(0, 3000) {
			data += int64(len(a.Data))
		}
		if data != st.dataBytes {
			t.Errorf("data of %d bytes in the projection, the builder counted %d", data, st.dataBytes)
		}
	})
}

// TestBenchShapes checks the shapes of the stores the bench builds by
// default.
func TestBenchShapes(t *testing.T) {
	for _, tt := range []struct {
		n, tree, wide, narrow int
		want                  storeShape
	}{
		{1000000, 1000, 100000, 1000, storeShape{Experiments: 10000, Models: 100000, Predictions: 890000, TreeKids: 1000, Wide: 100000, Narrow: 1000}},
		{10000, 1000, 0, 0, storeShape{Experiments: 100, Models: 1000, Predictions: 8900, TreeKids: 1000}},
		{20000, 1000, 100000, 1000, storeShape{Experiments: 200, Models: 2000, Predictions: 17800, TreeKids: 1000, Wide: 15800, Narrow: 100}},
	} {
		if got := shapeFor(tt.n, tt.tree, tt.wide, tt.narrow); got != tt.want {
			t.Errorf("shapeFor(%d, %d, %d, %d) = %+v, want %+v", tt.n, tt.tree, tt.wide, tt.narrow, got, tt.want)
		}
	}
}
