package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"arbor/internal/jsopen"
	"arbor/projection"
)

// Store keeps projection snapshots in an object store bucket, one object
// per snapshot named after its position. JS and Stream are required; the
// other fields have defaults. Calls to Save must not overlap; Load may run
// at any time.
type Store struct {
	JS       jetstream.JetStream
	Bucket   string // default "ARTIFACTS_SNAPSHOTS"
	Replicas int    // default 1
	Stream   string // the event stream's name
	Keep     int    // how many snapshots Save leaves; default 2
	Logger   *slog.Logger
	// Dir, if set, keeps a copy of the newest snapshot on local disk (the
	// embedded server's data directory, say): Load reads it instead of
	// downloading the object when it is that very object (the same size
	// and checksum), which takes a fraction of the time. Local, if set, is
	// that copy prefetched (see Prefetch).
	Dir   string
	Local *Local
}

// Object metadata: what a snapshot was taken of.
const (
	metaFormat  = "arbor.snapshot_format" // projection.SnapshotVersion
	metaStream  = "arbor.stream"          // the stream's name
	metaCreated = "arbor.stream_created"  // the stream's creation time, RFC 3339
	// metaPosTime is the time the server stored the event at the
	// snapshot's position: the event the snapshot saw last. A stream
	// restored from a backup and written again has other events there.
	metaPosTime = "arbor.pos_time"
	// metaCRC is the snapshot's own checksum, its last four bytes in hex:
	// what a local copy must end with.
	metaCRC = "arbor.crc"
)

const namePrefix = "projection/"

// maxTransfer bounds one upload or download. Without a deadline of its own,
// nats.go gives reading a whole object its default timeout of a few
// seconds, too short for a large snapshot.
const maxTransfer = 10 * time.Minute

func objectName(pos uint64) string { return fmt.Sprintf("%s%020d", namePrefix, pos) }

// parseName returns the position a snapshot's object name gives, or false
// for an object that is no snapshot.
func parseName(name string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, namePrefix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	pos, err := strconv.ParseUint(digits, 10, 64)
	return pos, err == nil
}

func (s *Store) bucket() string { return cmp.Or(s.Bucket, "ARTIFACTS_SNAPSHOTS") }
func (s *Store) keep() int      { return max(1, cmp.Or(s.Keep, 2)) }

func (s *Store) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// open opens the bucket, creating it if it does not exist.
func (s *Store) open(ctx context.Context) (jetstream.ObjectStore, error) {
	obs, err := jsopen.GetOrCreate(
		func() (jetstream.ObjectStore, error) { return s.JS.ObjectStore(ctx, s.bucket()) },
		func() (jetstream.ObjectStore, error) {
			return s.JS.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
				Bucket:      s.bucket(),
				Description: "arbor: snapshots of the projection of " + s.Stream,
				Storage:     jetstream.FileStorage,
				Replicas:    max(1, s.Replicas),
			})
		}, jetstream.ErrBucketNotFound)
	if err != nil {
		return nil, fmt.Errorf("snapshot: open object store %s: %w", s.bucket(), err)
	}
	return obs, nil
}

// Save writes a snapshot of p and returns its position. The projection is
// locked for reading only while the snapshot is encoded in memory; the
// upload runs without the lock. A snapshot identical to one stored at the
// same position is not uploaded again. Save then deletes all but the
// newest Keep snapshots of the stream, and the snapshots of an earlier
// stream of the same name; failing to delete is logged, not returned.
func (s *Store) Save(ctx context.Context, p *projection.Projection) (uint64, error) {
	var (
		buf chunks
		pos uint64
		err error
	)
	p.Read(func(st *projection.State) {
		pos = st.Applied()
		err = st.WriteSnapshot(&buf)
	})
	if err != nil {
		return 0, fmt.Errorf("snapshot: %w", err)
	}
	stream, err := s.JS.Stream(ctx, s.Stream)
	if err != nil {
		return 0, fmt.Errorf("snapshot: stream %s: %w", s.Stream, err)
	}
	meta := map[string]string{
		metaFormat:  strconv.Itoa(projection.SnapshotVersion),
		metaStream:  s.Stream,
		metaCreated: stream.CachedInfo().Created.UTC().Format(time.RFC3339Nano),
	}
	if pos > 0 {
		msg, err := stream.GetMsg(ctx, pos)
		if err != nil {
			return 0, fmt.Errorf("snapshot: event at %d in %s: %w", pos, s.Stream, err)
		}
		meta[metaPosTime] = msg.Time.UTC().Format(time.RFC3339Nano)
	}
	obs, err := s.open(ctx)
	if err != nil {
		return 0, err
	}
	name := objectName(pos)
	meta[metaCRC] = buf.trailer()
	if !s.stored(ctx, obs, name, meta, &buf) {
		ctx, cancel := transferContext(ctx)
		defer cancel()
		_, err := obs.Put(ctx, jetstream.ObjectMeta{
			Name:        name,
			Description: fmt.Sprintf("arbor: projection of %s at %d", s.Stream, pos),
			Metadata:    meta,
		}, buf.reader())
		if err != nil {
			return 0, fmt.Errorf("snapshot: store %s: %w", name, err)
		}
	}
	s.prune(ctx, obs, stream)
	s.keepLocal(name, &buf)
	return pos, nil
}

// local is the path of the local copy of the snapshot called name.
func (s *Store) local(name string) string {
	return filepath.Join(s.Dir, strings.ReplaceAll(name, "/", "-"))
}

// keepLocal writes the snapshot in buf as the local copy, replacing any
// other; failing to is logged, and costs only a download at the next
// start.
func (s *Store) keepLocal(name string, buf *chunks) {
	if s.Dir == "" {
		return
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		s.logger().Warn("snapshot: local copy", "err", err)
		return
	}
	tmp, err := os.CreateTemp(s.Dir, ".snapshot-*")
	if err == nil {
		_, err = io.Copy(tmp, buf.reader())
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), s.local(name))
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}
	if err != nil {
		s.logger().Warn("snapshot: local copy", "err", err)
		return
	}
	old, _ := filepath.Glob(filepath.Join(s.Dir, strings.TrimSuffix(namePrefix, "/")+"-*"))
	for _, f := range old {
		if f != s.local(name) {
			_ = os.Remove(f)
		}
	}
}

// Local is the local copy of the newest snapshot, read and decoded in the
// background from the moment Prefetch is called: started before NATS, it
// overlaps with the server's own start-up. Load uses it only if it is the
// very snapshot Load picks from the bucket.
type Local struct {
	done chan struct{}
	name string // the object it is a copy of
	size uint64
	crc  string // its last four bytes, in hex
	st   *projection.State
	err  error
}

// Prefetch starts reading the local copy kept in dir.
func Prefetch(dir string) *Local {
	l := &Local{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		files, _ := filepath.Glob(filepath.Join(dir, strings.TrimSuffix(namePrefix, "/")+"-*"))
		if len(files) == 0 {
			l.err = os.ErrNotExist
			return
		}
		newest := slices.Max(files)
		b, err := os.ReadFile(newest)
		if err != nil || len(b) < 4 {
			l.err = fmt.Errorf("read %s: %v", newest, err)
			return
		}
		l.name = namePrefix + strings.TrimPrefix(filepath.Base(newest), strings.TrimSuffix(namePrefix, "/")+"-")
		l.size, l.crc = uint64(len(b)), hex.EncodeToString(b[len(b)-4:])
		l.st, l.err = projection.DecodeSnapshot(b)
	}()
	return l
}

// state returns the local copy's state if it is the snapshot sn, once.
func (l *Local) state(sn snap) (*projection.State, bool) {
	if l == nil || sn.info.Metadata[metaCRC] == "" {
		return nil, false
	}
	<-l.done
	if l.err != nil || l.st == nil || l.name != sn.info.Name || l.size != sn.info.Size ||
		l.crc != sn.info.Metadata[metaCRC] || l.st.Applied() != sn.pos {
		return nil, false
	}
	st := l.st
	l.st = nil // the state is the caller's now
	return st, true
}

// stored reports whether obs holds exactly data under name, with meta.
func (s *Store) stored(ctx context.Context, obs jetstream.ObjectStore, name string, meta map[string]string, data *chunks) bool {
	info, err := obs.GetInfo(ctx, name)
	if err != nil || info.Size != uint64(data.size) {
		return false
	}
	for k, v := range meta {
		if info.Metadata[k] != v {
			return false
		}
	}
	h := sha256.New()
	for _, c := range data.list {
		h.Write(c)
	}
	return info.Digest == "SHA-256="+base64.URLEncoding.EncodeToString(h.Sum(nil))
}

// chunks is an in-memory file that grows without copying what it holds,
// unlike a bytes.Buffer: a snapshot is large, and written while the
// projection is locked.
type chunks struct {
	list [][]byte
	size int
}

const chunkSize = 1 << 20

func (c *chunks) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(c.list) == 0 || len(c.list[len(c.list)-1]) == chunkSize {
			c.list = append(c.list, make([]byte, 0, chunkSize))
		}
		last := &c.list[len(c.list)-1]
		k := min(len(p), chunkSize-len(*last))
		*last = append(*last, p[:k]...)
		p = p[k:]
	}
	c.size += n
	return n, nil
}

// trailer is the last four bytes written, in hex: a snapshot's checksum.
func (c *chunks) trailer() string {
	var last []byte
	for i := len(c.list) - 1; i >= 0 && len(last) < 4; i-- {
		last = append(append([]byte(nil), c.list[i]...), last...)
	}
	if len(last) < 4 {
		return ""
	}
	return hex.EncodeToString(last[len(last)-4:])
}

func (c *chunks) reader() io.Reader {
	rs := make([]io.Reader, len(c.list))
	for i, b := range c.list {
		rs[i] = bytes.NewReader(b)
	}
	return io.MultiReader(rs...)
}

func transferContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, maxTransfer)
}

// snap is a snapshot's object.
type snap struct {
	pos  uint64
	info *jetstream.ObjectInfo
}

// list returns the snapshots in obs, newest first.
func list(ctx context.Context, obs jetstream.ObjectStore) ([]snap, error) {
	infos, err := obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []snap
	for _, info := range infos {
		if pos, ok := parseName(info.Name); ok {
			out = append(out, snap{pos: pos, info: info})
		}
	}
	slices.SortFunc(out, func(a, b snap) int {
		return cmp.Or(cmp.Compare(b.pos, a.pos), b.info.ModTime.Compare(a.info.ModTime))
	})
	return out, nil
}

// prune deletes all but the newest Keep snapshots of stream that Load
// could use, and every snapshot of an earlier stream of the same name.
// Snapshots of other streams are left alone.
func (s *Store) prune(ctx context.Context, obs jetstream.ObjectStore, stream jetstream.Stream) {
	log := s.logger()
	snaps, err := list(ctx, obs)
	if err != nil {
		log.Warn("snapshot prune: list", "bucket", s.bucket(), "err", err)
		return
	}
	// Looked up after listing, so that every snapshot listed is at or
	// behind the last sequence (another instance may have saved one).
	info, err := stream.Info(ctx)
	if err != nil {
		log.Warn("snapshot prune: stream info", "stream", s.Stream, "err", err)
		return
	}
	kept := 0
	for _, sn := range snaps {
		if sn.info.Metadata[metaStream] != s.Stream {
			continue
		}
		if why := s.mismatch(sn, info); why == "" && kept < s.keep() {
			kept++
			continue
		}
		if err := obs.Delete(ctx, sn.info.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			log.Warn("snapshot prune: delete", "object", sn.info.Name, "err", err)
		}
	}
}

// mismatch says why sn cannot be a snapshot of the stream described by
// info, judging by its name and metadata; empty when it can be.
func (s *Store) mismatch(sn snap, info *jetstream.StreamInfo) string {
	m := sn.info.Metadata
	if v := m[metaFormat]; v != strconv.Itoa(projection.SnapshotVersion) {
		return fmt.Sprintf("format version %q, this build reads %d", v, projection.SnapshotVersion)
	}
	if v := m[metaStream]; v != s.Stream {
		return fmt.Sprintf("taken of stream %q, not %q", v, s.Stream)
	}
	created, err := time.Parse(time.RFC3339Nano, m[metaCreated])
	if err != nil || !created.Equal(info.Created) {
		return fmt.Sprintf("taken of a stream created at %q, not of the one created at %s",
			m[metaCreated], info.Created.UTC().Format(time.RFC3339Nano))
	}
	if sn.pos > info.State.LastSeq {
		return fmt.Sprintf("at position %d, ahead of the stream's last %d", sn.pos, info.State.LastSeq)
	}
	if _, err := time.Parse(time.RFC3339Nano, m[metaPosTime]); sn.pos > 0 && err != nil {
		return fmt.Sprintf("no valid time for the event at its position: %q", m[metaPosTime])
	}
	return ""
}

// skipError is why Load does not trust a snapshot, as opposed to a failure
// to read one.
type skipError struct{ why string }

func (e *skipError) Error() string { return e.why }

func skip(format string, args ...any) error { return &skipError{why: fmt.Sprintf(format, args...)} }

// Load returns the state of the newest snapshot it can trust: one that
// decodes, of this build's format, taken of the current stream (same name
// and creation time, its position no further than the stream's last
// sequence, and the same event at that position). Each snapshot it skips
// on the way is logged at Warn, saying why. It returns nil and no error
// when there is none to trust, and an error when the bucket, the stream or
// a snapshot cannot be read (NATS unreachable, ctx done). It creates the
// bucket if it does not exist.
func (s *Store) Load(ctx context.Context) (*projection.State, error) {
	obs, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	stream, err := s.JS.Stream(ctx, s.Stream)
	if err != nil {
		return nil, fmt.Errorf("snapshot: stream %s: %w", s.Stream, err)
	}
	info := stream.CachedInfo()
	snaps, err := list(ctx, obs)
	if err != nil {
		return nil, fmt.Errorf("snapshot: list %s: %w", s.bucket(), err)
	}
	local := s.Local
	if local == nil && s.Dir != "" {
		local = Prefetch(s.Dir)
	}
	for _, sn := range snaps {
		st, err := s.load(ctx, obs, stream, info, sn, local)
		if skipped, ok := errors.AsType[*skipError](err); ok {
			s.logger().Warn("snapshot skipped", "object", sn.info.Name, "pos", sn.pos, "stream", s.Stream, "reason", skipped.why)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("snapshot: load %s: %w", sn.info.Name, err)
		}
		return st, nil
	}
	return nil, nil
}

// load reads sn, returning a *skipError when it is not to be trusted.
func (s *Store) load(ctx context.Context, obs jetstream.ObjectStore, stream jetstream.Stream, info *jetstream.StreamInfo, sn snap, local *Local) (*projection.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if why := s.mismatch(sn, info); why != "" {
		return nil, skip("%s", why)
	}
	if sn.pos > 0 {
		msg, err := stream.GetMsg(ctx, sn.pos)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, skip("the event at its position is gone from the stream")
		}
		if err != nil {
			return nil, fmt.Errorf("event at %d: %w", sn.pos, err)
		}
		saw, _ := time.Parse(time.RFC3339Nano, sn.info.Metadata[metaPosTime])
		if !msg.Time.Equal(saw) {
			return nil, skip("the event at its position was stored at %s, not at %s as when it was taken",
				msg.Time.UTC().Format(time.RFC3339Nano), saw.Format(time.RFC3339Nano))
		}
	}
	if st, ok := local.state(sn); ok {
		return st, nil
	}
	ctx, cancel := transferContext(ctx)
	defer cancel()
	r, err := obs.Get(ctx, sn.info.Name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, skip("deleted while loading")
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	// One buffer of the object's size: growing one as it comes costs a
	// copy of the whole snapshot, several times over.
	b := make([]byte, sn.info.Size)
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, jetstream.ErrDigestMismatch) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, skip("%v", err)
		}
		return nil, err
	}
	// Reading on to the end checks the object's digest.
	switch rest, err := io.Copy(io.Discard, r); {
	case rest > 0:
		return nil, skip("longer than its %d bytes", sn.info.Size)
	case errors.Is(err, jetstream.ErrDigestMismatch):
		return nil, skip("%v", err)
	case err != nil:
		return nil, err
	}
	return decode(b, sn)
}

// decode reads the snapshot sn from b, returning a *skipError when it is
// not to be trusted.
func decode(b []byte, sn snap) (*projection.State, error) {
	st, err := projection.DecodeSnapshot(b)
	switch {
	case errors.Is(err, projection.ErrSnapshotFormat), errors.Is(err, projection.ErrSnapshotCorrupt),
		errors.Is(err, jetstream.ErrDigestMismatch):
		return nil, skip("%v", err)
	case err != nil:
		return nil, err
	case st.Applied() != sn.pos:
		return nil, skip("holds position %d, not the %d of its name", st.Applied(), sn.pos)
	}
	return st, nil
}
