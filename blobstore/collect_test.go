package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"arbor/blobstore"
)

func keepOnly(shas ...string) func(context.Context) (func(string) bool, error) {
	return func(context.Context) (func(string) bool, error) {
		return func(sha string) bool {
			for _, k := range shas {
				if k == sha {
					return true
				}
			}
			return false
		}, nil
	}
}

// Collect deletes the content keep does not want, once older than the
// grace period, and uploads never finished; what is kept stays readable.
func TestCollect(t *testing.T) {
	s, js := open(t)
	ctx := t.Context()
	put := func(b string) blobstore.Ref {
		ref, err := s.Put(ctx, bytes.NewReader([]byte(b)), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	a, b, c := put("needed"), put("replaced"), put(string(randomBytes(300<<10)))
	obs, err := js.ObjectStore(ctx, "CONTENT")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.PutBytes(ctx, "upload/01ARZ3NDEKTSV4RRFFQ69G5FAV", []byte("an upload cut off")); err != nil {
		t.Fatal(err)
	}

	if n, err := s.Collect(ctx, time.Hour, keepOnly(a.SHA256)); err != nil || n != 0 {
		t.Fatalf("Collect within the grace period: %d deleted, %v", n, err)
	}
	n, err := s.Collect(ctx, 0, keepOnly(a.SHA256))
	if err != nil || n != 3 {
		t.Fatalf("Collect: %d deleted, %v; want 3", n, err)
	}
	if got, err := s.ReadAll(ctx, a.SHA256); err != nil || string(got) != "needed" {
		t.Fatalf("kept content: %q, %v", got, err)
	}
	for _, ref := range []blobstore.Ref{b, c} {
		if _, err := s.Open(ctx, ref.SHA256); !errors.Is(err, blobstore.ErrNotFound) {
			t.Errorf("collected content %s: %v, want ErrNotFound", ref.SHA256, err)
		}
	}
	if list, _ := obs.List(ctx); len(list) != 1 {
		t.Errorf("%d objects left, want 1", len(list))
	}
	if st, err := js.Stream(ctx, "OBJ_CONTENT"); err != nil {
		t.Fatal(err)
	} else if info, err := st.Info(ctx); err != nil || info.State.Bytes > 64<<10 {
		t.Errorf("the bucket still holds %d bytes (%v): the chunks were not purged", info.State.Bytes, err)
	}
	// Content collected can be stored again.
	put("replaced")
	if got, err := s.ReadAll(ctx, b.SHA256); err != nil || string(got) != "replaced" {
		t.Fatalf("content stored again: %q, %v", got, err)
	}
}

// An upload of content already stored touches it: a collection that
// listed the content before the upload leaves it alone.
func TestCollectSparesContentUploadedAgain(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	ref, err := s.Put(ctx, bytes.NewReader([]byte("wanted again")), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Collect(ctx, 0, func(ctx context.Context) (func(string) bool, error) {
		// Between the listing and the deletions, a write uploads the same
		// bytes; its event is not in the log yet, so keep does not know.
		if _, err := s.Put(ctx, bytes.NewReader([]byte("wanted again")), 1<<20); err != nil {
			return nil, err
		}
		return func(string) bool { return false }, nil
	})
	if err != nil || n != 0 {
		t.Fatalf("Collect: %d deleted, %v; want the content spared", n, err)
	}
	r, err := s.Open(ctx, ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || string(got) != "wanted again" {
		t.Fatalf("content uploaded again: %q, %v", got, err)
	}
}
