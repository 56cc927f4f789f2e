package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/internal/natstest"
)

func openLog(t *testing.T) (*events.Log, *nats.Conn) {
	t.Helper()
	nc, js := natstest.Connect(t, natstest.Server(t))
	log, err := events.OpenLog(t.Context(), js, events.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return log, nc
}

func created(id, parent ulid.ULID) events.Envelope {
	return events.Envelope{ID: ulid.Make(), Time: time.Now(), Event: events.ArtifactCreated{
		ID: id, Parent: parent, Hierarchy: "default", Tags: []string{}, Data: json.RawMessage(`{}`),
	}}
}

var addr = events.Address{Hierarchy: "default", Label: "level_0"}

func TestAppendChecksTheBoundary(t *testing.T) {
	log, _ := openLog(t)
	ctx := t.Context()
	root := ulid.Make()
	rootSeq, err := log.Append(ctx, addr, created(root, ulid.ULID{}), 0)
	if err != nil {
		t.Fatalf("append root: %v", err)
	}
	// A child's creation lands in the parent's boundary.
	child := ulid.Make()
	childSeq, err := log.Append(ctx, addr, created(child, root), rootSeq)
	if err != nil {
		t.Fatalf("append child: %v", err)
	}
	// A write that read the boundary before the child was added conflicts,
	// and says where the boundary is now.
	del := events.Envelope{ID: ulid.Make(), Time: time.Now(), Event: events.ArtifactDeleted{ID: root}}
	_, err = log.Append(ctx, addr, del, rootSeq)
	var conflict *events.ConflictError
	if !errors.As(err, &conflict) || !errors.Is(err, events.ErrConflict) {
		t.Fatalf("stale append = %v, want a ConflictError", err)
	}
	if conflict.Last != childSeq {
		t.Fatalf("ConflictError.Last = %d, want %d", conflict.Last, childSeq)
	}
	// The child's own boundary is separate and still empty.
	upd := events.Envelope{ID: ulid.Make(), Time: time.Now(), Event: events.ArtifactUpdated{ID: child, Data: json.RawMessage(`{}`)}}
	if _, err := log.Append(ctx, addr, upd, 0); err != nil {
		t.Fatalf("append into the child's boundary: %v", err)
	}
	// A root creation with an id whose boundary is taken conflicts.
	if _, err := log.Append(ctx, addr, created(root, ulid.ULID{}), 0); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("second root with the same id = %v, want a conflict", err)
	}
}

// An event appended twice is written once: the second finds its boundary
// moved, by itself.
func TestAppendTwiceWritesOnce(t *testing.T) {
	log, _ := openLog(t)
	env := created(ulid.Make(), ulid.ULID{})
	first, err := log.Append(t.Context(), addr, env, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.Append(t.Context(), addr, env, 0); !errors.Is(err, events.ErrConflict) {
		t.Fatalf("second append = %v, want a conflict", err)
	}
	if last, _ := log.LastSeq(t.Context()); last != first {
		t.Fatalf("stream last = %d, want %d: the event was written twice", last, first)
	}
}

// A second creation of one id, in another boundary, is refused by the
// server as a duplicate: a conflict, and nothing written.
func TestAppendRefusesASecondCreationOfAnID(t *testing.T) {
	log, _ := openLog(t)
	p1, p2, id := ulid.Make(), ulid.Make(), ulid.Make()
	l1, err := log.Append(t.Context(), addr, created(p1, ulid.ULID{}), 0)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := log.Append(t.Context(), addr, created(p2, ulid.ULID{}), 0)
	if err != nil {
		t.Fatal(err)
	}
	first, err := log.Append(t.Context(), addr, created(id, p1), l1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = log.Append(t.Context(), addr, created(id, p2), l2)
	var conflict *events.ConflictError
	if !errors.As(err, &conflict) || conflict.Last != first {
		t.Fatalf("second creation of %s = %v, want a conflict naming %d", id, err, first)
	}
	if last, _ := log.LastSeq(t.Context()); last != first {
		t.Fatalf("stream last = %d, want %d: the second creation was written", last, first)
	}
}

func TestAppendWhenTheServerIsGone(t *testing.T) {
	log, nc := openLog(t)
	nc.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err := log.Append(ctx, addr, created(ulid.Make(), ulid.ULID{}), 0)
	if !errors.Is(err, events.ErrUnavailable) {
		t.Fatalf("Append = %v, want ErrUnavailable", err)
	}
}

func TestReadFromAPosition(t *testing.T) {
	log, nc := openLog(t)
	var ids []ulid.ULID
	for range 5 {
		id := ulid.Make()
		ids = append(ids, id)
		if _, err := log.Append(t.Context(), addr, created(id, ulid.ULID{}), 0); err != nil {
			t.Fatal(err)
		}
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

func TestSubjectLayout(t *testing.T) {
	p, c := ulid.Make(), ulid.Make()
	a := events.Address{Hierarchy: "ml_pipeline", Label: "model"}
	for _, tc := range []struct {
		ev   events.Event
		want string
	}{
		{events.ArtifactCreated{ID: c, Parent: p}, "arbor.ml_pipeline." + p.String() + "." + c.String() + ".model.created"},
		{events.ArtifactCreated{ID: c}, "arbor.ml_pipeline." + c.String() + "." + c.String() + ".model.created"},
		{events.ArtifactUpdated{ID: c}, "arbor.ml_pipeline." + c.String() + "." + c.String() + ".model.updated"},
		{events.ArtifactDeleted{ID: c}, "arbor.ml_pipeline." + c.String() + "." + c.String() + ".model.deleted"},
	} {
		if got := events.Subject("arbor", a, tc.ev); got != tc.want {
			t.Errorf("Subject(%T) = %s, want %s", tc.ev, got, tc.want)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	_, js := natstest.Connect(b, natstest.Server(b))
	log, err := events.OpenLog(b.Context(), js, events.Config{})
	if err != nil {
		b.Fatal(err)
	}
	root := ulid.Make()
	last, err := log.Append(b.Context(), addr, created(root, ulid.ULID{}), 0)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if last, err = log.Append(b.Context(), addr, created(ulid.Make(), root), last); err != nil {
			b.Fatal(err)
		}
	}
}

// The server checks a wildcard precondition against every subject the
// boundary holds, and every child's creation is a subject of its own, so
// creating a child costs more the more children its parent has.
func BenchmarkAppendChildOfAParentWith(b *testing.B) {
	for _, children := range []int{10, 10000} {
		b.Run(strconv.Itoa(children), func(b *testing.B) {
			_, js := natstest.Connect(b, natstest.Server(b))
			log, err := events.OpenLog(b.Context(), js, events.Config{})
			if err != nil {
				b.Fatal(err)
			}
			root := ulid.Make()
			last, err := log.Append(b.Context(), addr, created(root, ulid.ULID{}), 0)
			if err != nil {
				b.Fatal(err)
			}
			for range children {
				if last, err = log.Append(b.Context(), addr, created(ulid.Make(), root), last); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if last, err = log.Append(b.Context(), addr, created(ulid.Make(), root), last); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
