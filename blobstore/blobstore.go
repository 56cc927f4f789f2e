package blobstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/internal/jsopen"
)

var (
	// ErrTooLarge means the content is over the limit given to Put.
	// Nothing of it is left in the store.
	ErrTooLarge = errors.New("blobstore: content too large")
	// ErrNotFound means no content has that digest.
	ErrNotFound = errors.New("blobstore: content not found")
)

// Ref names stored content.
type Ref struct {
	SHA256 string // lowercase hex
	Size   int64
}

// Store is a bucket of the object store. It is safe for concurrent use.
type Store struct {
	obs jetstream.ObjectStore
}

// Open opens the bucket, creating it if it does not exist, and returns the
// store over it.
func Open(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (*Store, error) {
	obs, err := jsopen.GetOrCreate(
		func() (jetstream.ObjectStore, error) { return js.ObjectStore(ctx, bucket) },
		func() (jetstream.ObjectStore, error) {
			return js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
				Bucket:      bucket,
				Description: "arbor: artifact content by SHA-256",
				Storage:     jetstream.FileStorage,
				Replicas:    max(1, replicas),
			})
		}, jetstream.ErrBucketNotFound)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", bucket, err)
	}
	return &Store{obs: obs}, nil
}

func objectName(sha string) string { return "sha256/" + sha }

// Put streams r into the store, reading at most limit bytes, and returns
// its digest and size. Content over limit fails with ErrTooLarge and leaves
// nothing behind. Content already stored is kept once.
func (s *Store) Put(ctx context.Context, r io.Reader, limit int64) (Ref, error) {
	// The digest is known only at the end: upload under a temporary name,
	// then rename to the digest (or drop the upload if it is there already).
	tmp := "upload/" + ulid.Make().String()
	// Not cancelled with ctx: when a client goes away mid-upload, reading
	// its body fails, and cleaning up the chunks already stored must not.
	ctx = context.WithoutCancel(ctx)
	info, err := s.obs.Put(ctx, jetstream.ObjectMeta{Name: tmp}, &limitReader{r: r, left: limit})
	if err != nil {
		return Ref{}, fmt.Errorf("store content: %w", err)
	}
	sha, err := digestHex(info.Digest)
	if err != nil {
		_ = s.obs.Delete(ctx, tmp)
		return Ref{}, err
	}
	ref := Ref{SHA256: sha, Size: int64(info.Size)}
	err = s.obs.UpdateMeta(ctx, tmp, jetstream.ObjectMeta{Name: objectName(sha)})
	if errors.Is(err, jetstream.ErrObjectAlreadyExists) {
		err = s.obs.Delete(ctx, tmp)
	}
	if err != nil {
		return Ref{}, fmt.Errorf("store content %s: %w", sha, err)
	}
	return ref, nil
}

// maxTransfer bounds how long reading one content may take. Without a
// deadline of its own, nats.go would give the whole read its default
// timeout of a few seconds, too short for a slow client of a large file.
const maxTransfer = 24 * time.Hour

// Open returns a reader of the content with digest sha, until ctx is done.
// The caller closes it. Reading to the end verifies the digest.
func (s *Store) Open(ctx context.Context, sha string) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(ctx, maxTransfer)
	r, err := s.obs.Get(ctx, objectName(sha))
	if err != nil {
		cancel()
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, sha)
		}
		return nil, fmt.Errorf("open content %s: %w", sha, err)
	}
	return &reader{ReadCloser: r, cancel: cancel}, nil
}

type reader struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (r *reader) Close() error {
	err := r.ReadCloser.Close()
	r.cancel()
	return err
}

// ReadAll returns the content with digest sha, for content known to be
// small enough to hold (JSON moved out of an event).
func (s *Store) ReadAll(ctx context.Context, sha string) ([]byte, error) {
	r, err := s.Open(ctx, sha)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// digestHex turns the object store's "SHA-256=<base64url>" into hex.
func digestHex(d string) (string, error) {
	b64, ok := strings.CutPrefix(d, "SHA-256=")
	if !ok {
		return "", fmt.Errorf("blobstore: unexpected digest %q", d)
	}
	sum, err := base64.URLEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("blobstore: digest %q: %w", d, err)
	}
	return hex.EncodeToString(sum), nil
}

// limitReader fails with ErrTooLarge once more than left bytes are read.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, ErrTooLarge
	}
	return n, err
}
