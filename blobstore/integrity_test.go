package blobstore_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"arbor/blobstore"
)

// chunkSize is the object store's default chunk size.
const chunkSize = 128 << 10

// overwrite stores data under the name of the content with digest sha,
// through the object store's own API, as anyone allowed to write the bucket
// could.
func overwrite(t *testing.T, js jetstream.JetStream, sha string, data []byte) {
	t.Helper()
	obs, err := js.ObjectStore(t.Context(), "CONTENT")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.Put(t.Context(), jetstream.ObjectMeta{Name: "sha256/" + sha}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// rechunk replaces the chunks of the content with digest sha, which holds
// data, by edit's, leaving the object's recorded info (digest, size) as it
// was: damage below the object store's API.
func rechunk(t *testing.T, js jetstream.JetStream, sha string, data []byte, edit func([][]byte) [][]byte) {
	t.Helper()
	obs, err := js.ObjectStore(t.Context(), "CONTENT")
	if err != nil {
		t.Fatal(err)
	}
	info, err := obs.GetInfo(t.Context(), "sha256/"+sha)
	if err != nil {
		t.Fatal(err)
	}
	var chunks [][]byte
	for rest := bytes.Clone(data); len(rest) > 0; rest = rest[min(len(rest), chunkSize):] {
		chunks = append(chunks, rest[:min(len(rest), chunkSize)])
	}
	stream, err := js.Stream(t.Context(), "OBJ_CONTENT")
	if err != nil {
		t.Fatal(err)
	}
	subject := "$O.CONTENT.C." + info.NUID
	if err := stream.Purge(t.Context(), jetstream.WithPurgeSubject(subject)); err != nil {
		t.Fatal(err)
	}
	for _, c := range edit(chunks) {
		if _, err := js.Publish(t.Context(), subject, c); err != nil {
			t.Fatal(err)
		}
	}
}

// readCounting reads r to its end or first error, and returns how many
// bytes it handed out and that error (nil at the end).
func readCounting(r io.Reader) (int, error) {
	n, err := io.Copy(io.Discard, r)
	return int(n), err
}

// Content overwritten through the object store's API records another
// digest: opening it fails before a byte is read, whatever its size.
func TestOpenRefusesOverwrittenContent(t *testing.T) {
	for _, size := range []int{0, 1000, 300 << 10} {
		s, js := open(t)
		want := randomBytes(size)
		ref, err := s.Put(t.Context(), bytes.NewReader(want), 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		others := map[string][]byte{"another size": []byte("other bytes")}
		if size > 0 {
			others["the same size"] = bytes.Repeat([]byte("x"), size)
		}
		for name, other := range others {
			overwrite(t, js, ref.SHA256, other)
			if _, err := s.Open(t.Context(), ref.SHA256); !errors.Is(err, blobstore.ErrCorrupt) {
				t.Errorf("%d bytes overwritten with %s: Open = %v, want ErrCorrupt", size, name, err)
			}
			if _, err := s.OpenRef(t.Context(), ref); !errors.Is(err, blobstore.ErrCorrupt) {
				t.Errorf("%d bytes overwritten with %s: OpenRef = %v, want ErrCorrupt", size, name, err)
			}
			if b, err := s.ReadAll(t.Context(), ref.SHA256); !errors.Is(err, blobstore.ErrCorrupt) || b != nil {
				t.Errorf("%d bytes overwritten with %s: ReadAll = %d bytes, %v; want none and ErrCorrupt", size, name, len(b), err)
			}
		}
	}
}

// OpenRef also holds content to the size it is said to have.
func TestOpenRefChecksTheSize(t *testing.T) {
	s, _ := open(t)
	ref, err := s.Put(t.Context(), bytes.NewReader(randomBytes(1000)), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{0, 999, 1001, -1} {
		if _, err := s.OpenRef(t.Context(), blobstore.Ref{SHA256: ref.SHA256, Size: size}); !errors.Is(err, blobstore.ErrCorrupt) {
			t.Errorf("OpenRef of %d bytes = %v, want ErrCorrupt", size, err)
		}
	}
	r, err := s.OpenRef(t.Context(), ref)
	if err != nil {
		t.Fatalf("OpenRef of the right size: %v", err)
	}
	defer r.Close()
	if n, err := readCounting(r); n != 1000 || err != nil {
		t.Fatalf("read %d bytes, %v; want 1000 and the end", n, err)
	}
}

// Chunks overwritten below the object store's API keep the object's info:
// reading finds out, and never hands out every byte of what it read.
func TestReadRefusesOverwrittenChunks(t *testing.T) {
	flip := func(i int) func([][]byte) [][]byte {
		return func(cs [][]byte) [][]byte { cs[i][len(cs[i])/2] ^= 0xff; return cs }
	}
	for _, tt := range []struct {
		name string
		size int
		edit func([][]byte) [][]byte
	}{
		{"one chunk, a byte changed", 1000, flip(0)},
		{"the middle chunk, a byte changed", 300 << 10, flip(1)},
		{"the last chunk, a byte changed", 300 << 10, flip(2)},
		{"the last chunk gone", 300 << 10, func(cs [][]byte) [][]byte { return cs[:2] }},
		{"the last chunk cut short", 300 << 10, func(cs [][]byte) [][]byte { cs[2] = cs[2][:10]; return cs }},
		{"a chunk swapped for another", 300 << 10, func(cs [][]byte) [][]byte { cs[0], cs[1] = cs[1], cs[0]; return cs }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, js := open(t)
			want := randomBytes(tt.size)
			ref, err := s.Put(t.Context(), bytes.NewReader(want), 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			rechunk(t, js, ref.SHA256, want, tt.edit)
			r, err := s.OpenRef(t.Context(), ref)
			if err != nil {
				t.Fatalf("OpenRef: %v, want the damage found while reading", err)
			}
			defer r.Close()
			n, err := readCounting(r)
			if !errors.Is(err, blobstore.ErrCorrupt) || n >= tt.size {
				t.Fatalf("read %d of %d bytes, %v; want fewer and ErrCorrupt", n, tt.size, err)
			}
			if b, err := s.ReadAll(t.Context(), ref.SHA256); !errors.Is(err, blobstore.ErrCorrupt) {
				t.Fatalf("ReadAll = %d bytes, %v; want ErrCorrupt", len(b), err)
			}
		})
	}
}

// A chunk more than the object records: every byte it records is right and
// is handed out, and reading on finds the excess.
func TestReadFindsExtraChunks(t *testing.T) {
	s, js := open(t)
	want := randomBytes(200 << 10)
	ref, err := s.Put(t.Context(), bytes.NewReader(want), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	rechunk(t, js, ref.SHA256, want, func(cs [][]byte) [][]byte { return append(cs, []byte("more")) })
	r, err := s.Open(t.Context(), ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the recorded bytes: %v (equal: %t)", err, bytes.Equal(got, want))
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, blobstore.ErrCorrupt) {
		t.Fatalf("reading past them = %d, %v; want 0 and ErrCorrupt", n, err)
	}
}

// Putting content whose digest names an overwritten object replaces it:
// the store heals with the first upload of the right bytes.
func TestPutReplacesOverwrittenContent(t *testing.T) {
	s, js := open(t)
	want := randomBytes(200 << 10)
	ref, err := s.Put(t.Context(), bytes.NewReader(want), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, js, ref.SHA256, []byte("other bytes"))
	again, err := s.Put(t.Context(), bytes.NewReader(want), 1<<30)
	if err != nil || again != ref {
		t.Fatalf("Put again = %+v, %v; want %+v", again, err, ref)
	}
	got, err := s.ReadAll(t.Context(), ref.SHA256)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("ReadAll after the second Put = %d bytes, %v; want the content", len(got), err)
	}
	obs, _ := js.ObjectStore(t.Context(), "CONTENT")
	list, err := obs.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "sha256/"+ref.SHA256 {
		t.Fatalf("objects = %v, want the one named by its digest", names(list))
	}
}
