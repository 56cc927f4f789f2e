package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/internal/natstest"
	"arbor/projection"
)

// fixture is a real embedded JetStream with arbor's stream, a projection
// of it, and a Store whose warnings are kept.
type fixture struct {
	t     *testing.T
	js    jetstream.JetStream
	log   *events.Log
	p     *projection.Projection
	store *Store
	logs  *syncBuffer
	ids   []ulid.ULID // roots and children created, in order
	n     int
	pad   int // bytes added to each artifact's data
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	_, js := natstest.Connect(t, natstest.Server(t))
	f := &fixture{t: t, js: js, logs: &syncBuffer{}}
	f.openLog()
	f.store = &Store{JS: js, Stream: f.log.Stream(), Logger: slog.New(slog.NewTextHandler(f.logs, nil))}
	return f
}

// openLog opens (or creates) the stream and starts an empty projection.
func (f *fixture) openLog() {
	f.t.Helper()
	log, err := events.OpenLog(f.t.Context(), f.js, events.Config{Stream: "ARTIFACTS"})
	if err != nil {
		f.t.Fatalf("OpenLog: %v", err)
	}
	f.log, f.p, f.ids = log, projection.New(log.Layout()), nil
}

// write appends n events to the stream, as arbor writes them, and folds
// them into the projection: roots, children, updates and deletions.
func (f *fixture) write(n int) {
	f.t.Helper()
	l := f.log.Layout()
	for range n {
		f.n++
		env := events.Envelope{ID: ulid.Make(), Time: time.Date(2026, 5, 1, 0, 0, f.n, 0, time.UTC)}
		var subject string
		data := json.RawMessage(fmt.Sprintf(`{"n":%d,"content":{"big":true},"pad":"%s"}`, f.n, strings.Repeat("p", f.pad)))
		switch {
		case len(f.ids) == 0 || f.n%5 == 0:
			id := ulid.Make()
			f.ids = append(f.ids, id)
			subject = l.Root(events.Place{Key: events.Key(id), Hierarchy: "default"}, id, "project")
			env.Event = events.ArtifactCreated{ID: id, Hierarchy: "default", Tags: []string{"t"}, Data: data}
		case f.n%5 == 1 || f.n%5 == 2:
			parent := f.artifact(f.ids[len(f.ids)-1])
			id := events.WithKey(ulid.Make(), parent.Key)
			f.ids = append(f.ids, id)
			subject = l.Kids(parent.Place(), parent.ID, "model")
			env.Event = events.ArtifactCreated{ID: id, Parent: parent.ID, Hierarchy: "default", Level: parent.Level + 1, Data: data}
		case f.n%5 == 3:
			a := f.artifact(f.ids[f.n%len(f.ids)])
			subject = l.Art(a.Place(), a.ID)
			env.Event = events.ArtifactUpdated{ID: a.ID, Tags: []string{"u"}, Data: data,
				Content: &events.Content{SHA256: strings.Repeat("ab", 32), Size: 9, Type: "text/csv"}}
		default:
			a := f.artifact(f.ids[len(f.ids)-1])
			subject = l.Art(a.Place(), a.ID)
			env.Event = events.ArtifactDeleted{ID: a.ID}
		}
		h, body, err := events.Encode(env, "test")
		if err != nil {
			f.t.Fatalf("Encode: %v", err)
		}
		ack, err := f.js.PublishMsg(f.t.Context(), &nats.Msg{Subject: subject, Header: h, Data: body})
		if err != nil {
			f.t.Fatalf("publish: %v", err)
		}
		env.Seq, env.Subject = ack.Sequence, subject
		f.p.Apply(env)
	}
}

func (f *fixture) artifact(id ulid.ULID) projection.Artifact {
	var a projection.Artifact
	f.p.Read(func(s *projection.State) { a, _ = s.Get(id) })
	return a
}

func (f *fixture) save() uint64 {
	f.t.Helper()
	pos, err := f.store.Save(f.t.Context(), f.p)
	if err != nil {
		f.t.Fatalf("Save: %v", err)
	}
	if applied := f.p.Applied(); pos != applied {
		f.t.Fatalf("Save = %d, want %d", pos, applied)
	}
	return pos
}

func (f *fixture) load() *projection.State {
	f.t.Helper()
	st, err := f.store.Load(f.t.Context())
	if err != nil {
		f.t.Fatalf("Load: %v", err)
	}
	return st
}

func (f *fixture) bucket() jetstream.ObjectStore {
	f.t.Helper()
	obs, err := f.js.ObjectStore(f.t.Context(), "ARTIFACTS_SNAPSHOTS")
	if err != nil {
		f.t.Fatalf("object store: %v", err)
	}
	return obs
}

// names lists the bucket's objects.
func (f *fixture) names() []string {
	f.t.Helper()
	infos, err := f.bucket().List(f.t.Context())
	if err != nil {
		f.t.Fatalf("List: %v", err)
	}
	var out []string
	for _, info := range infos {
		out = append(out, info.Name)
	}
	return out
}

// encode is the snapshot of s: equal snapshots mean equal states.
func encode(t *testing.T, s *projection.State) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := s.WriteSnapshot(&b); err != nil {
		t.Fatalf("WriteSnapshot: %v", err)
	}
	return b.Bytes()
}

// wantState fails unless got is the projection's state as of position pos
// (the projection is at pos when pos is zero).
func (f *fixture) wantState(got *projection.State, want []byte) {
	f.t.Helper()
	if got == nil {
		f.t.Fatalf("Load = nil, want a state")
	}
	if !bytes.Equal(encode(f.t, got), want) {
		f.t.Fatalf("Load = a state at %d unlike the one saved", got.Applied())
	}
}

func (f *fixture) current() []byte {
	var b []byte
	f.p.Read(func(s *projection.State) { b = encode(f.t, s) })
	return b
}

func (f *fixture) wantWarned(parts ...string) {
	f.t.Helper()
	for _, line := range strings.Split(f.logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && containsAll(line, parts) {
			return
		}
	}
	f.t.Fatalf("no warning with %q in:\n%s", parts, f.logs.String())
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func TestSaveLoad(t *testing.T) {
	f := newFixture(t)
	if st := f.load(); st != nil {
		t.Fatalf("Load of an empty bucket = a state at %d, want nil", st.Applied())
	}
	f.bucket() // created by Load
	f.write(40)
	pos := f.save()
	if last, _ := f.log.LastSeq(t.Context()); pos != last {
		t.Fatalf("Save = %d, want the last sequence %d", pos, last)
	}
	got := f.load()
	f.wantState(got, f.current())
	var want *projection.State
	f.p.Read(func(s *projection.State) { want = s })
	for _, id := range f.ids {
		w, _ := want.Get(id)
		g, ok := got.Get(id)
		if !ok || g.Version != w.Version || g.Live != w.Live || g.Children != w.Children || !bytes.Equal(g.Data, w.Data) {
			t.Fatalf("Get(%s) = %+v, want %+v", id, g, w)
		}
	}
	if g, w := got.Total(), want.Total(); g != w {
		t.Fatalf("Total = %d, want %d", g, w)
	}
	if f.logs.String() != "" {
		t.Fatalf("logged:\n%s", f.logs.String())
	}

	// A projection over the loaded state goes on from there.
	p := projection.NewFrom(got)
	if p.Ready() || p.Applied() != pos {
		t.Fatalf("NewFrom: Ready, Applied = %t, %d; want false, %d", p.Ready(), p.Applied(), pos)
	}
}

func TestSaveKeepsNewest(t *testing.T) {
	f := newFixture(t)
	var snaps [][]byte
	for range 4 {
		f.write(7)
		f.save()
		snaps = append(snaps, f.current())
	}
	names := f.names()
	want := []string{objectName(28), objectName(21)}
	if strings.Join(names, " ") != strings.Join(want, " ") && strings.Join(names, " ") != want[1]+" "+want[0] {
		t.Fatalf("objects = %q, want %q", names, want)
	}
	f.wantState(f.load(), snaps[3])

	// Saving again with nothing new uploads nothing.
	before, err := f.bucket().GetInfo(t.Context(), objectName(28))
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	f.save()
	after, err := f.bucket().GetInfo(t.Context(), objectName(28))
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	if after.NUID != before.NUID {
		t.Fatalf("the same snapshot was uploaded again")
	}

	f.store.Keep = 3
	f.write(1)
	f.save()
	if n := len(f.names()); n != 3 {
		t.Fatalf("%d objects with Keep 3, want 3", n)
	}
}

// corrupt overwrites the object name with its bytes damaged, keeping its
// metadata.
func (f *fixture) corrupt(name string, damage func([]byte) []byte) {
	f.t.Helper()
	obs := f.bucket()
	info, err := obs.GetInfo(f.t.Context(), name)
	if err != nil {
		f.t.Fatalf("GetInfo: %v", err)
	}
	b, err := obs.GetBytes(f.t.Context(), name)
	if err != nil {
		f.t.Fatalf("GetBytes: %v", err)
	}
	if _, err := obs.Put(f.t.Context(), jetstream.ObjectMeta{Name: name, Metadata: info.Metadata}, bytes.NewReader(damage(b))); err != nil {
		f.t.Fatalf("Put: %v", err)
	}
}

func TestLoadSkipsCorrupt(t *testing.T) {
	f := newFixture(t)
	f.write(10)
	f.save()
	older := f.current()
	f.write(10)
	pos := f.save()
	f.corrupt(objectName(pos), func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
	f.wantState(f.load(), older)
	f.wantWarned("snapshot skipped", objectName(pos), "checksum")

	f.corrupt(objectName(pos), func(b []byte) []byte { return b[:len(b)-1] })
	f.wantState(f.load(), older)
	f.corrupt(objectName(pos), func(b []byte) []byte { return []byte("not a snapshot") })
	f.wantState(f.load(), older)
	f.wantWarned("snapshot skipped", objectName(pos), "not a snapshot")
}

func TestLoadSkipsOtherFormat(t *testing.T) {
	f := newFixture(t)
	f.write(10)
	f.save()
	older := f.current()
	f.write(10)
	pos := f.save()
	obs := f.bucket()
	info, err := obs.GetInfo(t.Context(), objectName(pos))
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	info.Metadata[metaFormat] = "0"
	if err := obs.UpdateMeta(t.Context(), info.Name, info.ObjectMeta); err != nil {
		t.Fatalf("UpdateMeta: %v", err)
	}
	f.wantState(f.load(), older)
	f.wantWarned("snapshot skipped", objectName(pos), "format version")
}

func TestLoadSkipsRecreatedStream(t *testing.T) {
	f := newFixture(t)
	f.write(15)
	pos := f.save()
	if err := f.js.DeleteStream(t.Context(), f.log.Stream()); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	f.openLog()
	f.write(20)
	if st := f.load(); st != nil {
		t.Fatalf("Load = a state at %d, want nil", st.Applied())
	}
	f.wantWarned("snapshot skipped", objectName(pos), "created at")

	// Saving of the new stream drops the old stream's snapshot.
	f.save()
	if names := f.names(); len(names) != 1 || names[0] != objectName(20) {
		t.Fatalf("objects = %q, want only %s", names, objectName(20))
	}
	f.wantState(f.load(), f.current())
}

func TestLoadSkipsAhead(t *testing.T) {
	f := newFixture(t)
	f.write(10)
	pos := f.save()
	want := f.current()
	// A copy as if taken further on, as a stream restored from an older
	// backup would leave.
	obs := f.bucket()
	info, err := obs.GetInfo(t.Context(), objectName(pos))
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	b, err := obs.GetBytes(t.Context(), objectName(pos))
	if err != nil {
		t.Fatalf("GetBytes: %v", err)
	}
	if _, err := obs.Put(t.Context(), jetstream.ObjectMeta{Name: objectName(pos + 5), Metadata: info.Metadata}, bytes.NewReader(b)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	f.wantState(f.load(), want)
	f.wantWarned("snapshot skipped", objectName(pos+5), "ahead of the stream")

	// Once the stream passes it, it is still not trusted: the event at its
	// position is not the one it saw.
	f.write(10)
	f.wantState(f.load(), want)
	f.wantWarned("snapshot skipped", objectName(pos+5), "stored at")
}

func TestLoadSkipsOtherStream(t *testing.T) {
	f := newFixture(t)
	f.write(10)
	pos := f.save()
	other := *f.store
	other.Stream = "OTHER"
	if _, err := f.js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if st, err := other.Load(t.Context()); err != nil || st != nil {
		t.Fatalf("Load of another stream = %v, %v; want nil, nil", st, err)
	}
	f.wantWarned("snapshot skipped", objectName(pos), `taken of stream \"ARTIFACTS\"`)
}

func TestLoadCancelled(t *testing.T) {
	f := newFixture(t)
	f.write(5)
	f.save()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if st, err := f.store.Load(ctx); err == nil {
		t.Fatalf("Load with a cancelled context = %v, nil; want an error", st)
	}
}

func TestChunks(t *testing.T) {
	var c chunks
	var want bytes.Buffer
	for i := range 300 {
		p := bytes.Repeat([]byte{byte(i)}, i*i*5)
		if n, err := c.Write(p); n != len(p) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(p))
		}
		want.Write(p)
	}
	if len(c.list) < 3 || c.size != want.Len() {
		t.Fatalf("%d chunks of %d bytes, want 3 or more of %d", len(c.list), c.size, want.Len())
	}
	got, err := io.ReadAll(c.reader())
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("reader gives %d bytes (%v), unlike the %d written", len(got), err, want.Len())
	}
}

// TestSaveLoadLarge saves a snapshot of several chunks, of the object
// store's and of Save's buffer.
func TestSaveLoadLarge(t *testing.T) {
	f := newFixture(t)
	f.pad = 1000
	f.write(10000)
	f.save()
	want := f.current()
	if len(want) < 2*chunkSize {
		t.Fatalf("snapshot of %d bytes, want more than %d", len(want), 2*chunkSize)
	}
	f.wantState(f.load(), want)
	before, err := f.bucket().GetInfo(t.Context(), objectName(10000))
	if err != nil {
		t.Fatalf("GetInfo: %v", err)
	}
	f.save()
	if after, err := f.bucket().GetInfo(t.Context(), objectName(10000)); err != nil || after.NUID != before.NUID {
		t.Fatalf("the same snapshot was uploaded again (%v)", err)
	}
}

// With Dir set, the newest snapshot is also kept on local disk, and Load
// reads it there when it is the very object in the bucket: the local copy
// stands even if the object is damaged after the save. A local copy that
// is not the object (another snapshot's, or damaged) is never read.
func TestLocalCopy(t *testing.T) {
	f := newFixture(t)
	f.store.Dir = t.TempDir()
	f.write(10)
	f.save()
	older := f.current()
	f.write(10)
	pos := f.save()
	newest := f.current()
	files, _ := filepath.Glob(filepath.Join(f.store.Dir, "*"))
	if len(files) != 1 || filepath.Base(files[0]) != "projection-"+objectName(pos)[len(namePrefix):] {
		t.Fatalf("local copies = %v, want one, of the snapshot at %d", files, pos)
	}
	// The object damaged (its metadata kept): the local copy is read.
	f.corrupt(objectName(pos), func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
	f.wantState(f.load(), newest)
	// The local copy damaged too: the object is read, and skipped.
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 1
	if err := os.WriteFile(files[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	f.wantState(f.load(), older)
	f.wantWarned("snapshot skipped", objectName(pos), "checksum")
}

// A damaged local copy of a whole object: the object is read instead.
func TestLocalCopyDamaged(t *testing.T) {
	f := newFixture(t)
	f.store.Dir = t.TempDir()
	f.write(10)
	f.save()
	want := f.current()
	files, _ := filepath.Glob(filepath.Join(f.store.Dir, "*"))
	if len(files) != 1 {
		t.Fatalf("local copies = %v, want one", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 1
	if err := os.WriteFile(files[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	f.wantState(f.load(), want)
}
