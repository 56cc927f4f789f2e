package blobstore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"arbor/blobstore"
	"arbor/internal/natstest"
)

func open(t *testing.T) (*blobstore.Store, jetstream.JetStream) {
	t.Helper()
	js := natstest.JetStream(t)
	s, err := blobstore.Open(t.Context(), js, "CONTENT", 1)
	if err != nil {
		t.Fatal(err)
	}
	return s, js
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestPutOpenRoundTrip(t *testing.T) {
	s, _ := open(t)
	for _, n := range []int{0, 1, 128 << 10, 128<<10 + 1, 3 << 20} {
		want := randomBytes(n)
		ref, err := s.Put(t.Context(), bytes.NewReader(want), 1<<30)
		if err != nil {
			t.Fatalf("Put %d bytes: %v", n, err)
		}
		sum := sha256.Sum256(want)
		if ref.SHA256 != hex.EncodeToString(sum[:]) || ref.Size != int64(n) {
			t.Fatalf("Put %d bytes = %+v, want sha %x", n, ref, sum)
		}
		got, err := s.ReadAll(t.Context(), ref.SHA256)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadAll %d bytes: %d bytes back, err %v", n, len(got), err)
		}
	}
}

func TestSameBytesStoredOnce(t *testing.T) {
	s, js := open(t)
	data := randomBytes(300 << 10)
	a, err := s.Put(t.Context(), bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Put(t.Context(), bytes.NewReader(data), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("second Put = %+v, want %+v", b, a)
	}
	obs, _ := js.ObjectStore(t.Context(), "CONTENT")
	list, err := obs.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "sha256/"+a.SHA256 {
		t.Fatalf("objects = %v, want the one named by its digest", names(list))
	}
}

func TestTooLargeLeavesNothing(t *testing.T) {
	s, js := open(t)
	_, err := s.Put(t.Context(), bytes.NewReader(randomBytes(1<<20)), 1<<20-1)
	if !errors.Is(err, blobstore.ErrTooLarge) {
		t.Fatalf("Put over the limit = %v, want ErrTooLarge", err)
	}
	// Exactly at the limit is fine.
	if _, err := s.Put(t.Context(), bytes.NewReader(randomBytes(1000)), 1000); err != nil {
		t.Fatalf("Put at the limit: %v", err)
	}
	stream, err := js.Stream(t.Context(), "OBJ_CONTENT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(t.Context(), jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	// What is left is the one object at the limit: one chunk and its meta.
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d messages, want 2 (subjects %v)", info.State.Msgs, info.State.Subjects)
	}
}

func TestOpenUnknown(t *testing.T) {
	s, _ := open(t)
	_, err := s.Open(t.Context(), "00")
	if !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Open unknown = %v, want ErrNotFound", err)
	}
}

func names(list []*jetstream.ObjectInfo) []string {
	var out []string
	for _, o := range list {
		out = append(out, o.Name)
	}
	return out
}

// TestSlowReaderHoldsFewChunks: a reader that takes one chunk and then
// stops costs a few chunks fetched from NATS, not the rest of the object.
func TestSlowReaderHoldsFewChunks(t *testing.T) {
	s, js := open(t)
	const size = 16 << 20
	ref, err := s.Put(t.Context(), bytes.NewReader(randomBytes(size)), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	nc := js.Conn()
	before := nc.Stats().InBytes
	r, err := s.Open(t.Context(), ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 128<<10)); err != nil {
		t.Fatal(err)
	}
	// Wait until nothing more arrives across three looks.
	var pulled uint64
	for still := 0; still < 3; {
		time.Sleep(200 * time.Millisecond)
		now := nc.Stats().InBytes - before
		if now == pulled {
			still++
		} else {
			still = 0
		}
		pulled = now
	}
	if pulled > 2<<20 {
		t.Fatalf("a reader that took 128 KiB made %d KiB come from NATS", pulled>>10)
	}
}

// A reader closed leaves no consumer behind on the server: downloads come
// fast enough to reach the server's limit on consumers otherwise.
func TestReadersLeaveNoConsumers(t *testing.T) {
	s, js := open(t)
	ref, err := s.Put(t.Context(), bytes.NewReader(randomBytes(300<<10)), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := s.ReadAll(t.Context(), ref.SHA256); err != nil {
			t.Fatal(err)
		}
		r, err := s.Open(t.Context(), ref.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // unread
	}
	st, err := js.Stream(t.Context(), "OBJ_CONTENT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("%d consumers left after 40 readers closed", info.State.Consumers)
	}
}
