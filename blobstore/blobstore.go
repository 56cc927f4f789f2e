package blobstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync/atomic"
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
	// ErrCorrupt means the object stored under a digest is not the content
	// that digest names: other bytes (the object overwritten, or its
	// chunks), or another size than it is said to have. Such content is
	// never handed out whole.
	ErrCorrupt = errors.New("blobstore: content does not match its digest")
)

// Ref names stored content.
type Ref struct {
	SHA256 string // lowercase hex
	Size   int64
}

// Store is a bucket of the object store. It is safe for concurrent use.
type Store struct {
	js     jetstream.JetStream
	obs    jetstream.ObjectStore
	bucket string
	stream jetstream.Stream // the bucket's stream, which readers read chunks from

	stored atomic.Uint64 // bytes Put has taken in
	read   atomic.Uint64 // bytes readers have handed out
}

// BytesStored counts the bytes of content Put has stored since Open: every
// upload whole, content that was stored already too.
func (s *Store) BytesStored() uint64 { return s.stored.Load() }

// BytesRead counts the bytes of content readers have handed out since
// Open, checked bytes only.
func (s *Store) BytesRead() uint64 { return s.read.Load() }

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
	stream, err := js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", bucket, err)
	}
	return &Store{js: js, obs: obs, bucket: bucket, stream: stream}, nil
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
		err = s.keepOne(ctx, tmp, ref)
	}
	if err != nil {
		return Ref{}, fmt.Errorf("store content %s: %w", sha, err)
	}
	s.stored.Add(uint64(ref.Size))
	return ref, nil
}

// keepOne settles an upload stored under tmp whose digest is already
// taken: the object there stays if its recorded digest and size are ref's,
// and the upload is dropped; otherwise the object is not that content (it
// was overwritten) and the upload, which is, replaces it.
//
// An object that stays is touched: its modification time is what Collect's
// grace period counts from, and a touch makes a collection under way leave
// it alone. If it was collected meanwhile, the upload takes its place.
func (s *Store) keepOne(ctx context.Context, tmp string, ref Ref) error {
	name := objectName(ref.SHA256)
	alive, err := s.touch(ctx, name, ref)
	switch {
	case alive:
		return s.obs.Delete(ctx, tmp)
	case errors.Is(err, ErrCorrupt):
		if err := s.obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return err
		}
	case err != nil:
		return err
	}
	err = s.obs.UpdateMeta(ctx, tmp, jetstream.ObjectMeta{Name: name})
	if errors.Is(err, jetstream.ErrObjectAlreadyExists) {
		// Another upload of the same content took the name first.
		return s.obs.Delete(ctx, tmp)
	}
	return err
}

// maxTransfer bounds how long reading one content may take. Without a
// deadline of its own, nats.go would give the whole read its default
// timeout of a few seconds, too short for a slow client of a large file.
const maxTransfer = 24 * time.Hour

// Open returns a reader of the content with digest sha, until ctx is done.
// The caller closes it. It fails with ErrNotFound when there is no such
// content, and with ErrCorrupt, before handing out a byte, when the object
// stored under sha records another digest (it was overwritten).
//
// The reader hashes what it reads: content whose bytes turn out not to be
// sha's (its chunks overwritten) fails with ErrCorrupt instead of handing
// out its last bytes, so that no reader ever gets all of the wrong bytes;
// so does content longer or shorter than the object records.
func (s *Store) Open(ctx context.Context, sha string) (io.ReadCloser, error) {
	return s.open(ctx, sha)
}

// OpenRef is Open of the content ref names, which must also have ref's
// size: content of another size fails with ErrCorrupt before a byte is
// read. Whoever announces the size first (a Content-Length) opens content
// this way.
func (s *Store) OpenRef(ctx context.Context, ref Ref) (io.ReadCloser, error) {
	r, err := s.open(ctx, ref.SHA256)
	if err != nil {
		return nil, err
	}
	if r.size != ref.Size {
		r.Close()
		return nil, fmt.Errorf("%w: %s holds %d bytes, not %d", ErrCorrupt, ref.SHA256, r.size, ref.Size)
	}
	return r, nil
}

// Has reports whether content with digest sha is stored.
func (s *Store) Has(ctx context.Context, sha string) (bool, error) {
	_, err := s.obs.GetInfo(ctx, objectName(sha))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (s *Store) open(ctx context.Context, sha string) (*reader, error) {
	// The info the object store keeps beside the chunks.
	info, err := s.obs.GetInfo(ctx, objectName(sha))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, sha)
	}
	if err == nil && info.Opts != nil && info.Opts.Link != nil {
		err = errors.New("a link, which arbor never makes")
	}
	if err == nil {
		if got := recorded(info); got.SHA256 != sha {
			err = fmt.Errorf("%w: %s holds content of digest %q", ErrCorrupt, sha, got.SHA256)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open content %s: %w", sha, err)
	}
	ctx, cancel := context.WithTimeout(ctx, maxTransfer)
	c, err := s.chunks(ctx, info)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open content %s: %w", sha, err)
	}
	return &reader{obj: c, cancel: cancel, sha: sha, size: int64(info.Size), hash: sha256.New(), handed: &s.read}, nil
}

// chunkWindow is how many chunks (128 KiB each) a reader holds at most
// before its caller takes them: a download costs that much memory however
// slowly its client reads. Eight keep a fast download within two thirds of
// the object store's own reader (make bench); two halved it.
const chunkWindow = 8

// chunks returns a reader of the chunks of the object info describes, in
// order, fetched chunkWindow at a time as they are read. (The object
// store's own reader takes the chunks as fast as the server sends them and
// queues them in memory for a slow reader: a whole object, at worst.)
func (s *Store) chunks(ctx context.Context, info *jetstream.ObjectInfo) (*chunkReader, error) {
	c := &chunkReader{left: info.Chunks, chunks: info.Chunks}
	if info.Chunks == 0 {
		return c, nil
	}
	cons, err := s.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"$O." + s.bucket + ".C." + info.NUID},
		// Close deletes it; should arbor go first, the server does soon.
		InactiveThreshold: 30 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	if c.it, err = cons.Messages(jetstream.PullMaxMessages(chunkWindow)); err != nil {
		return nil, err
	}
	c.stop = context.AfterFunc(ctx, c.it.Stop)
	c.cons, c.stream = cons, s.stream
	return c, nil
}

// chunkReader reads an object's chunks as one stream of bytes, ending after
// the number of chunks the object records.
type chunkReader struct {
	stream jetstream.Stream
	cons   jetstream.Consumer
	it     jetstream.MessagesContext
	stop   func() bool
	cur    []byte
	chunks uint32 // the object's, as recorded
	left   uint32 // chunks not yet taken
	last   bool   // the stream had no more chunks of the object after cur
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.cur) == 0 {
		switch {
		case c.left == 0 && c.it != nil && !c.last:
			return 0, fmt.Errorf("%w: more chunks than the %d it records", ErrCorrupt, c.chunks)
		case c.left == 0, c.last:
			// All the chunks the object records, or all the stream holds.
			return 0, io.EOF
		}
		msg, err := c.it.Next()
		if err != nil {
			return 0, err
		}
		c.cur, c.left = msg.Data(), c.left-1
		if meta, err := msg.Metadata(); err == nil && meta.NumPending == 0 {
			c.last = true
		}
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}

// Close stops reading and deletes the consumer on the server: a server
// keeps a consumer left alone for its inactive threshold, and downloads
// come fast enough to reach its limit on consumers in the meantime.
func (c *chunkReader) Close() error {
	if c.it == nil {
		return nil
	}
	c.stop()
	c.it.Stop()
	if info := c.cons.CachedInfo(); info != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.stream.DeleteConsumer(ctx, info.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return err
		}
	}
	return nil
}

// recorded is the digest and size the object store records for an object;
// an empty digest when the recorded one does not parse.
func recorded(info *jetstream.ObjectInfo) Ref {
	sha, _ := digestHex(info.Digest)
	return Ref{SHA256: sha, Size: int64(info.Size)}
}

// reader reads content and checks it is sha's: size bytes whose SHA-256 is
// sha. It hands out no more than size bytes, and the read that would
// complete them only once they check out.
type reader struct {
	obj    io.ReadCloser
	cancel context.CancelFunc
	sha    string
	size   int64
	n      int64 // read so far
	hash   hash.Hash
	done   bool  // all size bytes read and checked
	err    error // sticks

	handed *atomic.Uint64 // the store's count of bytes read, which Read adds to
}

func (r *reader) Read(p []byte) (int, error) {
	switch {
	case r.err != nil:
		return 0, r.err
	case r.done || r.n == r.size:
		return 0, r.end()
	case len(p) == 0:
		return 0, nil
	}
	p = p[:min(int64(len(p)), r.size-r.n)]
	n, err := r.obj.Read(p)
	r.hash.Write(p[:n])
	r.n += int64(n)
	switch {
	case r.n == r.size:
		if sum := hex.EncodeToString(r.hash.Sum(nil)); sum != r.sha {
			return 0, r.fail(fmt.Errorf("%w: %s read back as content of digest %s", ErrCorrupt, r.sha, sum))
		}
		r.done = true
		r.handed.Add(uint64(n))
		return n, nil
	case errors.Is(err, io.EOF):
		return 0, r.fail(fmt.Errorf("%w: %s ends after %d of its %d bytes", ErrCorrupt, r.sha, r.n, r.size))
	case err != nil:
		return 0, r.fail(r.cause(err))
	}
	r.handed.Add(uint64(n))
	return n, nil
}

// end is what reading past the checked bytes finds: the end of the object,
// or else more bytes than it records.
func (r *reader) end() error {
	if !r.done {
		// Empty content: nothing was read to check.
		if sum := hex.EncodeToString(r.hash.Sum(nil)); sum != r.sha {
			return r.fail(fmt.Errorf("%w: %s read back as content of digest %s", ErrCorrupt, r.sha, sum))
		}
		r.done = true
	}
	var b [1]byte
	n, err := r.obj.Read(b[:])
	switch {
	case n > 0:
		return r.fail(fmt.Errorf("%w: %s holds more than its %d bytes", ErrCorrupt, r.sha, r.size))
	case err == nil || errors.Is(err, io.EOF):
		return io.EOF
	}
	return r.fail(r.cause(err))
}

// cause is err from the object store as the reader reports it.
func (r *reader) cause(err error) error {
	if errors.Is(err, jetstream.ErrDigestMismatch) {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, r.sha, err)
	}
	return fmt.Errorf("read content %s: %w", r.sha, err)
}

func (r *reader) fail(err error) error {
	r.err = err
	return err
}

func (r *reader) Close() error {
	err := r.obj.Close()
	r.cancel()
	return err
}

// ReadAll returns the content with digest sha, for content known to be
// small enough to hold (JSON moved out of an event). Its errors are Open's
// and the reader's: ErrNotFound, ErrCorrupt.
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
