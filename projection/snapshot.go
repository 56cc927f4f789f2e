package projection

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
)

var (
	// ErrSnapshotFormat means the input is not a projection snapshot, or one
	// of a format version this build does not read.
	ErrSnapshotFormat = errors.New("projection: not a snapshot of this format")
	// ErrSnapshotCorrupt means a snapshot of the right format whose bytes are
	// damaged: a checksum that does not match, a truncated file, or content
	// no fold can produce (a parent that does not exist, say).
	ErrSnapshotCorrupt = errors.New("projection: snapshot corrupt")
)

// SnapshotVersion is the format WriteSnapshot writes and the only one
// DecodeSnapshot reads. Bump it on any change to the encoding, on any
// change to the fold that breaks what DecodeSnapshot derives rather than
// reads: Level (the parent's plus one), Key (the root's), children, the
// live index and counts; and on any change to what the fold ignores, since
// a snapshot holds the fold of the log under the rules of its build.
//
// Version 2 has the encoding of version 1; its fold also ignores payloads
// arbor never writes (see wellFormed) and first-layout events whose
// hierarchy is not their subject's. A version 1 snapshot may hold such
// events folded in, and fewer events counted as ignored, than a replay by
// this build: it is skipped like any other format, and the log replayed,
// so that an instance started from a snapshot answers (and counts) as one
// that replays the whole log.
//
// Version 3 adds the positions of every artifact's events after its
// creation, the idempotency keys of the last day and the last event a
// key's record may follow.
const SnapshotVersion = 3

// snapshotMagic opens every snapshot.
const snapshotMagic = "arborprj"

// The format, after the magic and the version (a uvarint):
//
//	layout     prefix (uvarint length, bytes), shards, seals (varints)
//	applied    uvarint
//	ignored    varint
//	stray      count (uvarint), then per subject in increasing order:
//	           subject (uvarint length, bytes), position (uvarint)
//	artifacts  count (uvarint), then each in creation order (see writeNode)
//	keys       count (uvarint), then each in the order recorded (see writeKey)
//	last event position (uvarint), then if not zero: id (16 bytes), version
//	           (varint), type (uvarint length, bytes)
//	checksum   CRC-32C of everything before it, 4 bytes big-endian
//
// Strings that repeat (hierarchies, tags, labels, content types) are
// interned: a uvarint reference, 0 followed by a new string (its length
// and bytes) or n for the n-th new string so far.

// Flags of an artifact in a snapshot.
const (
	snapLive        = 1 << iota
	snapSealed      // Sealed
	snapContent     // Content follows
	snapContentJSON // Content.JSON
	snapRawSHA      // Content.SHA256 is 64 lowercase hex digits, kept as 32 bytes
	snapOwnSeq      // OwnSeq is not zero
	snapKids        // KidsLabel or KidsSeq is set
	snapListData    // ListData is not Data
)

// snapMinNode is the fewest bytes an artifact takes: id, flags, parent,
// hierarchy, tags, data, version, two times (two bytes each) and its
// creation position.
const snapMinNode = 16 + 1 + 1 + 1 + 1 + 1 + 1 + 2*2 + 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteSnapshot writes the whole state to w in a compact binary format
// (see SnapshotVersion) that DecodeSnapshot turns back into a state answering
// every read the same, and folding every further event the same. Its output
// depends only on the state. It returns w's first error, or an error for a
// state no fold of events makes (which it would not restore faithfully),
// an invalid layout included.
// It only reads the state.
func (s *State) WriteSnapshot(w io.Writer) error {
	if err := s.layout.Validate(); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	e := &snapWriter{w: w, buf: make([]byte, 0, snapFlushAt+4<<10), strs: make(map[string]uint64)}
	e.buf = append(e.buf, snapshotMagic...)
	e.buf = binary.AppendUvarint(e.buf, SnapshotVersion)
	e.literal(s.layout.Prefix)
	e.varint(int64(s.layout.Shards))
	e.varint(int64(s.layout.Seals))
	e.uvarint(s.applied)
	e.varint(int64(s.ignored))

	e.uvarint(uint64(len(s.stray)))
	for _, subject := range slices.Sorted(maps.Keys(s.stray)) {
		e.literal(subject)
		e.uvarint(s.stray[subject])
		e.maybeFlush()
	}

	e.uvarint(uint64(len(s.order)))
	var prev snapPrev
	for i, n := range s.order {
		parent, err := s.snapParent(i, n)
		if err != nil {
			return err
		}
		e.writeNode(n, parent, &prev, s.changes[n.ID])
		e.maybeFlush()
	}
	keys := s.keys.all()
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		e.writeKey(k)
		e.maybeFlush()
	}
	e.uvarint(s.lastEvent.seq)
	if s.lastEvent.seq != 0 {
		e.buf = append(e.buf, s.lastEvent.id[:]...)
		e.varint(int64(s.lastEvent.version))
		e.literal(s.lastEvent.typ)
	}
	e.flush()
	if e.err != nil {
		return fmt.Errorf("write snapshot: %w", e.err)
	}
	if _, err := w.Write(binary.BigEndian.AppendUint32(nil, e.crc)); err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	return nil
}

// snapParent checks that order[i] is what DecodeSnapshot will make of it and
// returns how far back in creation order its parent is (0 for a root).
func (s *State) snapParent(i int, n *node) (int, error) {
	bad := func(why string) (int, error) {
		return 0, fmt.Errorf("write snapshot: artifact %s at %d: %s", n.ID, i, why)
	}
	switch {
	case n.ID.IsZero():
		return bad("zero id")
	case n.pos != i:
		return bad("out of place")
	case n.Parent.IsZero():
		if n.Level != 0 || n.Key != events.Key(n.ID) {
			return bad("root with a level or key of its own")
		}
		return 0, nil
	}
	p := s.byID[n.Parent]
	switch {
	case p == nil || p.pos >= i:
		return bad("parent created after it")
	case n.Level != p.Level+1 || n.Key != p.Key:
		return bad("level or key not its parent's")
	case n.Live && !p.Live:
		return bad("live under a deleted parent")
	}
	return i - p.pos, nil
}

// snapPrev is what an artifact's times and positions are written relative
// to: those of the artifact created before it.
type snapPrev struct {
	sec int64
	seq uint64
}

// writeNode writes one artifact:
//
//	id          16 bytes
//	flags       1 byte (snapLive, ...)
//	parent      uvarint: 0 for a root, else how many artifacts back its parent was created
//	hierarchy   string reference
//	tags        uvarint count+1 (0: nil), then string references
//	data        uvarint length+1 (0: nil), then bytes
//	list data   if snapListData: uvarint k; k > 0: data less its bytes from k-1, as many as
//	            the uvarint that follows; k = 0: uvarint length+1 (0: nil), then bytes
//	content     if snapContent: SHA-256 (32 bytes if snapRawSHA, else length and bytes),
//	            size (varint), type (string reference), offset (varint)
//	version     varint
//	created at  seconds since the previous artifact's (varint), nanoseconds (see nanos)
//	updated at  seconds since created at (varint), nanoseconds
//	created seq since the previous artifact's (varint)
//	own seq     if snapOwnSeq: since created seq (varint)
//	kids        if snapKids: label (string reference), seq since created seq (varint)
//	changes     version-1 positions, each since the one before (the first since created seq; varints)
//
// Differences wrap around, so every value round-trips.
func (e *snapWriter) writeNode(n *node, parent int, prev *snapPrev, changes []uint64) {
	a := &n.Artifact
	flags := byte(0)
	if a.Live {
		flags |= snapLive
	}
	if a.Sealed {
		flags |= snapSealed
	}
	if a.Content != nil {
		flags |= snapContent
		if a.Content.JSON {
			flags |= snapContentJSON
		}
		if rawSHA(a.Content.SHA256) {
			flags |= snapRawSHA
		}
	}
	if a.OwnSeq != 0 {
		flags |= snapOwnSeq
	}
	if a.KidsLabel != "" || a.KidsSeq != 0 {
		flags |= snapKids
	}
	if (a.ListData == nil) != (a.Data == nil) || !bytes.Equal(a.ListData, a.Data) {
		flags |= snapListData
	}
	e.buf = append(e.buf, a.ID[:]...)
	e.buf = append(e.buf, flags)
	e.uvarint(uint64(parent))
	e.str(a.Hierarchy)
	if a.Tags == nil {
		e.uvarint(0)
	} else {
		e.uvarint(uint64(len(a.Tags)) + 1)
		for _, t := range a.Tags {
			e.str(t)
		}
	}
	if a.Data == nil {
		e.uvarint(0)
	} else {
		e.uvarint(uint64(len(a.Data)) + 1)
		e.buf = append(e.buf, a.Data...)
	}
	if flags&snapListData != 0 {
		e.listData(a.Data, a.ListData)
	}
	if c := a.Content; c != nil {
		if flags&snapRawSHA != 0 {
			e.buf, _ = hex.AppendDecode(e.buf, []byte(c.SHA256)) // checked by rawSHA
		} else {
			e.literal(c.SHA256)
		}
		e.varint(c.Size)
		e.str(c.Type)
		e.varint(int64(c.Offset))
	}
	e.varint(int64(a.Version))
	created := a.CreatedAt.Unix()
	e.varint(created - prev.sec)
	e.nanos(a.CreatedAt)
	e.varint(a.UpdatedAt.Unix() - created)
	e.nanos(a.UpdatedAt)
	e.varint(int64(a.CreatedSeq - prev.seq))
	if flags&snapOwnSeq != 0 {
		e.varint(int64(a.OwnSeq - a.CreatedSeq))
	}
	if flags&snapKids != 0 {
		e.str(a.KidsLabel)
		e.varint(int64(a.KidsSeq - a.CreatedSeq))
	}
	last := a.CreatedSeq
	for _, seq := range changes {
		e.varint(int64(seq - last))
		last = seq
	}
	prev.sec, prev.seq = created, a.CreatedSeq
}

// writeKey writes one idempotency key: key and request (length, bytes),
// artifact id (16 bytes), event type (string reference), version
// (varint), position (uvarint), time (unix seconds as a varint, then
// nanoseconds as nanos writes them).
func (e *snapWriter) writeKey(k *Keyed) {
	e.literal(k.Key)
	e.literal(k.Request)
	e.buf = append(e.buf, k.ID[:]...)
	e.str(k.Type)
	e.varint(int64(k.Version))
	e.uvarint(k.Seq)
	e.varint(k.Time.Unix())
	e.nanos(k.Time)
}

// listData writes list, which is usually data less its member "content":
// as where that was cut from data, or else as is. Deriving it again on
// reading (content.Strip) takes longer than the rest of reading.
func (e *snapWriter) listData(data, list []byte) {
	if cut := len(data) - len(list); list != nil && cut > 0 {
		p := 0
		for p < len(list) && data[p] == list[p] {
			p++
		}
		if bytes.Equal(list[p:], data[p+cut:]) {
			e.uvarint(uint64(p) + 1)
			e.uvarint(uint64(cut))
			return
		}
	}
	e.uvarint(0)
	if list == nil {
		e.uvarint(0)
	} else {
		e.uvarint(uint64(len(list)) + 1)
		e.buf = append(e.buf, list...)
	}
}

// rawSHA reports whether sha is 64 lowercase hex digits.
func rawSHA(sha string) bool {
	if len(sha) != 64 {
		return false
	}
	for i := range len(sha) {
		if c := sha[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// snapFlushAt is how much a snapshot writer buffers before writing.
const snapFlushAt = 64 << 10

type snapWriter struct {
	w    io.Writer
	buf  []byte
	crc  uint32
	err  error
	strs map[string]uint64 // interned strings by reference
	// recent caches strs' answers for the strings that repeat most
	// (hierarchies, labels, common tags): a map look-up of strings costs
	// more than the rest of an artifact.
	recent [64]struct {
		s   string
		ref uint64
	}
}

func (e *snapWriter) maybeFlush() {
	if len(e.buf) >= snapFlushAt {
		e.flush()
	}
}

func (e *snapWriter) flush() {
	if e.err == nil {
		e.crc = crc32.Update(e.crc, castagnoli, e.buf)
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

func (e *snapWriter) uvarint(x uint64) { e.buf = binary.AppendUvarint(e.buf, x) }
func (e *snapWriter) varint(x int64)   { e.buf = binary.AppendVarint(e.buf, x) }

// literal writes s as is: its length and bytes.
func (e *snapWriter) literal(s string) {
	e.uvarint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}

func (e *snapWriter) str(s string) {
	h := len(s)
	if h > 0 {
		h = h*31 + int(s[0])*7 + int(s[len(s)-1])
	}
	r := &e.recent[h%len(e.recent)]
	if r.ref != 0 && r.s == s {
		e.uvarint(r.ref)
		return
	}
	ref, ok := e.strs[s]
	if ok {
		e.uvarint(ref)
	} else {
		e.uvarint(0)
		e.literal(s)
		ref = uint64(len(e.strs) + 1)
		e.strs[s] = ref
	}
	r.s, r.ref = s, ref
}

// nanos writes t's nanoseconds: whole milliseconds (what arbor writes) as
// ms<<1, anything else as ns<<1|1.
func (e *snapWriter) nanos(t time.Time) {
	ns := uint64(t.Nanosecond())
	if ns%1e6 == 0 {
		e.uvarint(ns / 1e6 << 1)
	} else {
		e.uvarint(ns<<1 | 1)
	}
}

// DecodeSnapshot reads the state WriteSnapshot wrote as b. It returns an
// error wrapping ErrSnapshotFormat for input that is not a snapshot or is
// of another format version, or one wrapping ErrSnapshotCorrupt for a
// damaged or truncated snapshot. The state keeps the artifacts' data in b.
// Times come back in UTC, without monotonic clock readings.
func DecodeSnapshot(b []byte) (*State, error) {
	if len(b) < len(snapshotMagic) || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: no snapshot magic", ErrSnapshotFormat)
	}
	version, n := binary.Uvarint(b[len(snapshotMagic):])
	if n <= 0 {
		return nil, fmt.Errorf("%w: truncated before its version", ErrSnapshotCorrupt)
	}
	if version != SnapshotVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrSnapshotFormat, version, SnapshotVersion)
	}
	start := len(snapshotMagic) + n
	if len(b) < start+4 {
		return nil, fmt.Errorf("%w: truncated before its checksum", ErrSnapshotCorrupt)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (truncated or damaged)", ErrSnapshotCorrupt)
	}
	d := &snapReader{b: body, off: start}
	s, err := d.state()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// snapReader reads a snapshot's body. Its first error sticks: every read
// after it returns zero values.
type snapReader struct {
	b    []byte
	off  int
	err  error
	strs []string
	tags []string         // allocated in chunks, handed out in slices
	cont []events.Content // likewise
	// changed holds the positions of the changes of the artifact read
	// last, if it has any.
	changed []uint64
}

func (d *snapReader) state() (*State, error) {
	var layout events.Layout
	layout.Prefix = string(d.bytes())
	layout.Shards = d.int()
	layout.Seals = d.int()
	if err := layout.Validate(); d.err == nil && err != nil {
		d.fail("%v", err)
	}
	s := NewState(layout)
	s.applied = d.uvarint()
	if s.ignored = d.int(); s.ignored < 0 {
		d.fail("negative count of ignored events")
	}

	nstray := d.count(2)
	s.stray = make(map[string]uint64, nstray)
	last := ""
	for i := range nstray {
		subject := string(d.bytes())
		if i > 0 && subject <= last {
			d.fail("stray subjects out of order")
		}
		s.stray[subject], last = d.uvarint(), subject
		if d.err != nil {
			return nil, d.err
		}
	}
	s.indexStrays()

	count := d.count(snapMinNode)
	if d.err != nil {
		return nil, d.err
	}
	nodes := make([]node, count)
	s.order = make([]*node, count)
	s.byID = make(map[ulid.ULID]*node, count)
	flags := make([]int8, count)
	kids := make([]int32, count) // live children per artifact
	// The index by id is built beside the decoding, batch by batch: a node
	// names its parent by position, so decoding never looks an id up, and
	// filling the map is a third of reading a large snapshot.
	decoded := make(chan int, 64) // how many nodes are decoded so far
	indexed := make(chan bool)    // whether every id was new
	go func() {
		from, unique := 0, true
		for to := range decoded {
			for i := from; i < to; i++ {
				s.byID[nodes[i].ID] = &nodes[i]
			}
			unique = unique && len(s.byID) == to
			from = to
		}
		indexed <- unique
	}()
	var prev snapPrev
	for i := range nodes {
		n := &nodes[i]
		p := d.node(n, i, nodes, &prev)
		if d.err != nil {
			break
		}
		s.order[i] = n
		if len(d.changed) > 0 {
			s.changes[n.ID], d.changed = d.changed, nil
		}
		if n.Live {
			flags[i] = 1
			if p >= 0 {
				kids[p]++
			}
		}
		if (i+1)%4096 == 0 {
			decoded <- i + 1
		}
	}
	if d.err == nil {
		decoded <- count
	}
	close(decoded)
	if unique := <-indexed; d.err == nil && !unique {
		d.fail("an artifact id appears twice")
	}
	if d.err != nil {
		return nil, d.err
	}
	s.rebuild(nodes, flags, kids)
	for range d.count(16 + 6) {
		if k := d.key(); d.err == nil {
			s.keys.add(k)
		}
	}
	if s.lastEvent.seq = d.uvarint(); s.lastEvent.seq != 0 {
		copy(s.lastEvent.id[:], d.fixed(len(s.lastEvent.id)))
		s.lastEvent.version = d.int()
		s.lastEvent.typ = string(d.bytes())
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.off != len(d.b) {
		d.fail("%d bytes after the last key", len(d.b)-d.off)
		return nil, d.err
	}
	return s, nil
}

// key reads one idempotency key (see writeKey).
func (d *snapReader) key() *Keyed {
	k := &Keyed{Key: string(d.bytes()), Request: string(d.bytes())}
	copy(k.ID[:], d.fixed(len(k.ID)))
	k.Type = d.str()
	k.Version = d.int()
	k.Seq = d.uvarint()
	sec := d.varint()
	k.Time = time.Unix(sec, d.nanos()).UTC()
	return k
}

// rebuild derives the children lists, the live index and the counts.
func (s *State) rebuild(nodes []node, flags []int8, kids []int32) {
	total := 0
	for _, k := range kids {
		total += int(k)
	}
	arena := make([]*node, total)
	for i, k := range kids {
		if k > 0 {
			// Capped, so that a later append never writes into a sibling's
			// list.
			nodes[i].children, arena = arena[:0:k], arena[k:]
		}
	}
	var (
		lastH string
		lastC []int
	)
	for i := range nodes {
		n := &nodes[i]
		if !n.Parent.IsZero() {
			p := &nodes[i-n.pos]
			if n.Live {
				p.children = append(p.children, n)
			} else {
				s.dead[p.ID] = append(s.dead[p.ID], n)
			}
		}
		n.pos = i
		s.index.created(n)
		if !n.Live {
			s.index.deleted(n, nil)
		}
		s.times.add(i, n.CreatedAt)
		if n.Hierarchy != lastH || lastC == nil {
			lastH, lastC = n.Hierarchy, s.counts[n.Hierarchy]
		}
		if len(lastC) <= n.Level {
			for len(lastC) <= n.Level {
				lastC = append(lastC, 0)
			}
			s.counts[lastH] = lastC
		}
		if n.Live {
			lastC[n.Level]++ // the map's slice too
		}
	}
	s.live = fenwickFrom(flags)
}

// node reads the i-th artifact into n and returns its parent's index, -1
// for a root. Until rebuild, n.pos holds how far back its parent is.
func (d *snapReader) node(n *node, i int, nodes []node, prev *snapPrev) int {
	a := &n.Artifact
	copy(a.ID[:], d.fixed(len(a.ID)))
	if d.err == nil && a.ID.IsZero() {
		d.fail("zero artifact id")
	}
	flags := d.byte()
	a.Live, a.Sealed = flags&snapLive != 0, flags&snapSealed != 0
	parent := -1
	back := d.uvarint()
	switch {
	case back == 0:
		a.Key = events.Key(a.ID)
	case back > uint64(i):
		d.fail("artifact %d has a parent before the first", i)
	default:
		parent = i - int(back)
		p := &nodes[parent].Artifact
		a.Parent, a.Level, a.Key = p.ID, p.Level+1, p.Key
		if a.Live && !p.Live {
			d.fail("live artifact %s under deleted %s", a.ID, p.ID)
		}
		n.pos = int(back)
	}
	a.Hierarchy = d.str()
	if t := d.uvarint(); t > 0 {
		a.Tags = d.tagList(t - 1)
	}
	if l := d.uvarint(); l > 0 {
		a.Data = d.fixed(d.length(l - 1))
	}
	a.ListData = a.Data
	if flags&snapListData != 0 {
		a.ListData = d.listData(a.Data)
	}
	if flags&snapContent != 0 {
		a.Content = d.content(flags)
	} else if flags&(snapContentJSON|snapRawSHA) != 0 {
		d.fail("content flags without content")
	}
	a.Version = d.int()
	created := prev.sec + d.varint()
	a.CreatedAt = time.Unix(created, d.nanos()).UTC()
	a.UpdatedAt = time.Unix(created+d.varint(), d.nanos()).UTC()
	a.CreatedSeq = prev.seq + uint64(d.varint())
	if flags&snapOwnSeq != 0 {
		if a.OwnSeq = a.CreatedSeq + uint64(d.varint()); a.OwnSeq == 0 {
			d.fail("own position zero yet flagged")
		}
	}
	if flags&snapKids != 0 {
		a.KidsLabel = d.str()
		a.KidsSeq = a.CreatedSeq + uint64(d.varint())
		if a.KidsLabel == "" && a.KidsSeq == 0 {
			d.fail("kids subject empty yet flagged")
		}
	}
	if a.Version < 1 || !a.Live && a.Version < 2 {
		d.fail("artifact %s at version %d", a.ID, a.Version)
	} else if a.Version > 1 {
		d.changed = make([]uint64, d.count1(uint64(a.Version-1), 1))
		last := a.CreatedSeq
		for j := range d.changed {
			if d.changed[j] = last + uint64(d.varint()); d.changed[j] <= last {
				d.fail("artifact %s: positions out of order", a.ID)
			}
			last = d.changed[j]
		}
	}
	prev.sec, prev.seq = created, a.CreatedSeq
	return parent
}

func (d *snapReader) listData(data []byte) []byte {
	k := d.uvarint()
	if k == 0 {
		if l := d.uvarint(); l > 0 {
			return d.fixed(d.length(l - 1))
		}
		return nil
	}
	p, cut := k-1, d.uvarint()
	if d.err != nil || p > uint64(len(data)) || cut == 0 || cut > uint64(len(data))-p {
		d.fail("list data cut %d+%d out of %d bytes", p, cut, len(data))
		return nil
	}
	list := make([]byte, 0, uint64(len(data))-cut)
	return append(append(list, data[:p]...), data[p+cut:]...)
}

func (d *snapReader) content(flags byte) *events.Content {
	if len(d.cont) == 0 {
		d.cont = make([]events.Content, 256)
	}
	c := &d.cont[0]
	d.cont = d.cont[1:]
	if flags&snapRawSHA != 0 {
		c.SHA256 = hex.EncodeToString(d.fixed(32))
	} else {
		c.SHA256 = string(d.bytes())
	}
	c.Size = d.varint()
	c.Type = d.str()
	c.Offset = d.int()
	c.JSON = flags&snapContentJSON != 0
	return c
}

func (d *snapReader) tagList(n uint64) []string {
	count := d.count1(n, 1)
	if count == 0 {
		return []string{}
	}
	if len(d.tags) < count {
		d.tags = make([]string, max(count, 1024))
	}
	tags := d.tags[:count:count]
	d.tags = d.tags[count:]
	for i := range tags {
		tags[i] = d.str()
	}
	return tags
}

func (d *snapReader) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrSnapshotCorrupt}, args...)...)
	}
}

func (d *snapReader) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	if d.off < len(d.b) && d.b[d.off] < 0x80 {
		d.off++
		return uint64(d.b[d.off-1])
	}
	x, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("truncated or overlong number at byte %d", d.off)
		return 0
	}
	d.off += n
	return x
}

func (d *snapReader) varint() int64 {
	x := d.uvarint()
	return int64(x>>1) ^ -int64(x&1)
}

// int reads a varint that must fit an int.
func (d *snapReader) int() int {
	x := d.varint()
	if x < math.MinInt || x > math.MaxInt {
		d.fail("number %d out of range", x)
		return 0
	}
	return int(x)
}

func (d *snapReader) byte() byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail("truncated")
		return 0
	}
	d.off++
	return d.b[d.off-1]
}

// length checks that n more bytes are there.
func (d *snapReader) length(n uint64) int {
	if d.err == nil && n > uint64(len(d.b)-d.off) {
		d.fail("length %d past the end", n)
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// count reads a number of items of at least size bytes each, checking
// that the rest of the input can hold them.
func (d *snapReader) count(size int) int { return d.count1(d.uvarint(), size) }

func (d *snapReader) count1(n uint64, size int) int {
	if d.err == nil && n > uint64((len(d.b)-d.off)/size) {
		d.fail("%d items cannot fit in %d bytes", n, len(d.b)-d.off)
	}
	if d.err != nil {
		return 0
	}
	return int(n)
}

// fixed returns the next n bytes, capped so that appending to them copies.
func (d *snapReader) fixed(n int) []byte {
	if d.err == nil && n > len(d.b)-d.off {
		d.fail("truncated")
	}
	if d.err != nil {
		return nil
	}
	b := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

func (d *snapReader) bytes() []byte { return d.fixed(d.length(d.uvarint())) }

func (d *snapReader) str() string {
	ref := d.uvarint()
	switch {
	case d.err != nil:
		return ""
	case ref == 0:
		s := string(d.bytes())
		d.strs = append(d.strs, s)
		return s
	case ref > uint64(len(d.strs)):
		d.fail("string reference %d of %d", ref, len(d.strs))
		return ""
	}
	return d.strs[ref-1]
}

func (d *snapReader) nanos() int64 {
	x := d.uvarint()
	ns := x >> 1
	if x&1 == 0 {
		ns = min(ns, 1000) * 1e6 // 1000 ms and more are refused below
	}
	if ns >= 1e9 {
		d.fail("%d nanoseconds", ns)
		return 0
	}
	return int64(ns)
}

// NewFrom returns a projection over st, such as a state DecodeSnapshot
// restored, not ready until MarkReady. The projection owns st from then on.
func NewFrom(st *State) *Projection {
	return &Projection{state: st, ready: make(chan struct{})}
}
