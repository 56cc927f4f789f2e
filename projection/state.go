package projection

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/content"
	"arbor/events"
	"arbor/internal/jsonobj"
)

// Artifact is the state of one artifact as the fold knows it. Values are
// copies; their slices are never modified after the fold hands them out.
type Artifact struct {
	ID        ulid.ULID
	Parent    ulid.ULID // zero for a root
	Hierarchy string
	Level     int
	// Key is the placement key of the artifact's root: with the layout it
	// gives the shard token of every subject of the tree.
	Key uint16
	// Live is false once the artifact is deleted; its id stays taken. (It
	// sits by Key so that the two share a word: a node fits a smaller
	// allocation.)
	Live bool
	Tags []string
	// Data is the artifact's data as written; ListData is the same without
	// its top-level "content" (the very same bytes when it has none).
	Data     json.RawMessage
	ListData json.RawMessage
	// Content is the artifact's content in the object store, if any. For
	// JSON content moved there, Data holds a null in its place.
	Content *events.Content
	// Version counts the artifact's own events: 1 after its creation.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
	// Children counts live children.
	Children int
	// CreatedSeq is the position of the artifact's creation event.
	CreatedSeq uint64
	Subjects
}

// Subjects holds where the artifact's subjects stand in the log: what the
// preconditions of writes to it expect.
type Subjects struct {
	// OwnSeq is the position of the last message on the artifact's own
	// subject, zero when there is none.
	OwnSeq uint64
	// KidsLabel is the label token of the artifact's kids subject, fixed by
	// the first creation under it; empty until then. KidsSeq is the
	// position of the last message on that subject.
	KidsLabel string
	KidsSeq   uint64
	// Sealed is true once a seal of the artifact is in the log: no child
	// can be created under it any more.
	Sealed bool
}

// Place is where the artifact's tree lives in the subject space.
func (a Artifact) Place() events.Place { return events.Place{Key: a.Key, Hierarchy: a.Hierarchy} }

type node struct {
	Artifact
	pos      int     // index in State.order
	children []*node // live children in creation order
}

// State is the fold of the log: an index by id, children in creation order,
// subject positions, live artifacts in creation order and counts. The zero
// value is not usable; call NewState. A State is not safe for concurrent
// use; Projection guards one.
type State struct {
	layout events.Layout
	byID   map[ulid.ULID]*node
	// stray holds the positions of arbor's subjects about artifacts not
	// created (yet): what a later creation of that id finds there.
	stray map[string]uint64
	// strayOf indexes the subjects in stray by id (derived from stray).
	strayOf map[ulid.ULID][]string
	order   []*node // every artifact ever created, in creation order
	live    fenwick // 1 at order[i] while it is live
	counts  map[string][]int
	applied uint64
	ignored int
	// names interns hierarchies and labels: a handful of strings that
	// every artifact would otherwise hold a copy of.
	names map[string]string
	// tokens are the layout's shard tokens, by shard (derived).
	tokens []string
	// changes holds the positions of the events after its creation of
	// every artifact that has any (see Versions); dead the deleted
	// children of every parent that has any, in creation order.
	changes map[ulid.ULID][]uint64
	dead    map[ulid.ULID][]*node
	// index lists artifacts by hierarchy, level and tag (derived).
	index indexes
	// times bounds creation times along the creation order (derived).
	times createdTimes
	// keys are the idempotency keys of the last day (see keys.go), and
	// lastEvent what a key's record is about.
	keys      keyring
	lastEvent lastEvent
}

// NewState returns the fold of an empty log whose subjects follow layout.
func NewState(layout events.Layout) *State {
	return &State{
		layout: layout,
		byID:   make(map[ulid.ULID]*node),
		stray:  make(map[string]uint64),

		strayOf: make(map[ulid.ULID][]string),
		counts:  make(map[string][]int),
		names:   make(map[string]string),
		changes: make(map[ulid.ULID][]uint64),
		dead:    make(map[ulid.ULID][]*node),
		index:   newIndexes(),
		keys:    newKeyring(),
	}
}

// intern returns the state's copy of name.
func (s *State) intern(name string) string {
	if in, ok := s.names[name]; ok {
		return in
	}
	name = strings.Clone(name)
	s.names[name] = name
	return name
}

// Applied is the position of the last event folded in.
func (s *State) Applied() uint64 { return s.applied }

// Ignored counts the events the fold left out because they break a rule,
// carry a payload arbor never writes (see wellFormed), or are not on the
// subject arbor writes them to; the server stored them all the same.
func (s *State) Ignored() int { return s.ignored }

// Layout is the subject layout the state was folded with.
func (s *State) Layout() events.Layout { return s.layout }

// Apply folds one event in. It does no I/O and never fails. An event that
// does not fit the state (an unknown type, a creation under a parent that
// is not live or is sealed, a second creation of an id, a change to an
// artifact that is not live, an event on a subject other than the one arbor
// writes it to, a payload arbor never writes) leaves the artifacts as they
// are, is counted in Ignored, and only moves the positions the server
// moved, so that every replica of the fold agrees.
func (s *State) Apply(env events.Envelope) {
	ignored := s.ignored
	s.fold(env)
	if s.ignored != ignored {
		// A key's record is about the event right before it (and its
		// seals): whatever the fold ignores in between breaks the link.
		s.lastEvent = lastEvent{}
	}
}

func (s *State) fold(env events.Envelope) {
	s.applied = env.Seq
	sub, ok := events.ParseSubject(env.Subject)
	switch {
	case !ok && s.isKeySubject(env.Subject):
		s.applyKey(env)
	case !ok || sub.Prefix != s.layout.Prefix:
		s.ignored++
	case sub.Legacy:
		s.applyLegacy(env, sub)
	default:
		s.apply(env, sub)
	}
}

// apply folds an event of the exact-subject layout.
func (s *State) apply(env events.Envelope, sub events.Subject) {
	if sub.Kind == events.KindRoot {
		ev, ok := env.Event.(events.ArtifactCreated)
		if !ok || ev.ID != sub.ID || !ev.Parent.IsZero() || ev.Hierarchy != sub.Hierarchy ||
			sub.Shard != s.shardToken(events.Key(ev.ID)) || !s.create(env, ev, events.Key(ev.ID)) {
			s.ignored++
		}
		return
	}
	// The message moves its subject's position, whatever it holds.
	n := s.byID[sub.ID]
	if n == nil {
		s.addStray(env, sub)
		s.ignored++
		return
	}
	if !s.ownSubject(n, sub) {
		s.ignored++
		return
	}
	switch sub.Kind {
	case events.KindArt:
		n.OwnSeq = env.Seq
	case events.KindKids:
		n.KidsLabel, n.KidsSeq = s.intern(sub.Label), env.Seq
	default:
		n.Sealed = true
	}
	fits := false
	switch ev := env.Event.(type) {
	case events.ArtifactCreated:
		fits = sub.Kind == events.KindKids && ev.Parent == n.ID && ev.Hierarchy == n.Hierarchy && s.create(env, ev, n.Key)
	case events.ArtifactUpdated:
		if fits = sub.Kind == events.KindArt && ev.ID == n.ID && n.Live && wellFormed(ev.Data, ev.Content); fits {
			s.update(env, n, ev)
		}
	case events.ArtifactDeleted:
		if fits = sub.Kind == events.KindArt && ev.ID == n.ID && n.Live && len(n.children) == 0; fits {
			s.delete(env, n)
		}
	case events.ArtifactSealed:
		fits = sub.Kind == events.KindSeal && ev.ID == n.ID
	}
	if !fits {
		s.ignored++
	}
}

// ownSubject reports whether sub is one of n's own subjects (art, kids,
// seal) exactly as arbor writes them: in n's shard and hierarchy, a seal
// index in range, and one label for its kids.
func (s *State) ownSubject(n *node, sub events.Subject) bool {
	if sub.Shard != s.shardToken(n.Key) || sub.Hierarchy != n.Hierarchy {
		return false
	}
	switch sub.Kind {
	case events.KindArt:
		return true
	case events.KindKids:
		return n.KidsLabel == "" || n.KidsLabel == sub.Label
	default:
		return sub.Seal < s.layout.Seals
	}
}

// shardToken is the shard token of the tree whose root has key key,
// formatted once per shard rather than once per event.
func (s *State) shardToken(key uint16) string {
	if s.tokens == nil {
		s.tokens = make([]string, s.layout.Shards)
		for i := range s.tokens {
			s.tokens[i] = s.layout.ShardToken(i)
		}
	}
	return s.tokens[s.layout.Shard(key)]
}

// applyLegacy folds an event of the first layout, where an event's subject
// named the artifact's hierarchy, the consistency boundary it was written in
// and the artifact.
func (s *State) applyLegacy(env events.Envelope, sub events.Subject) {
	b, _ := events.LegacyBoundary(env.Subject)
	fits := false
	if env.Event != nil && env.Event.ArtifactID() != sub.ID {
		s.ignored++
		return
	}
	switch ev := env.Event.(type) {
	case events.ArtifactCreated:
		boundary := ev.ID
		if !ev.Parent.IsZero() {
			boundary = ev.Parent
		}
		if boundary == b && ev.Hierarchy == sub.Hierarchy {
			key := events.Key(ev.ID)
			if p := s.byID[ev.Parent]; p != nil {
				key = p.Key
			}
			fits = s.create(env, ev, key)
		}
	case events.ArtifactUpdated:
		if n := s.byID[ev.ID]; n != nil && n.Live && b == ev.ID && n.Hierarchy == sub.Hierarchy && wellFormed(ev.Data, ev.Content) {
			own := n.OwnSeq // the first layout had no own subject
			s.update(env, n, ev)
			n.OwnSeq, fits = own, true
		}
	case events.ArtifactDeleted:
		if n := s.byID[ev.ID]; n != nil && n.Live && len(n.children) == 0 && b == ev.ID && n.Hierarchy == sub.Hierarchy {
			s.delete(env, n)
			fits = true
		}
	}
	if !fits {
		s.ignored++
	}
}

// update folds the update ev of n in.
func (s *State) update(env events.Envelope, n *node, ev events.ArtifactUpdated) {
	before := n.Tags
	n.Artifact = n.Artifact.AfterUpdate(env, ev)
	s.changes[n.ID] = append(s.changes[n.ID], env.Seq)
	s.index.retagged(n, before)
	s.lastEvent = lastEvent{seq: env.Seq, id: n.ID, version: n.Version, typ: ev.EventType()}
}

func (s *State) delete(env events.Envelope, n *node) {
	s.changes[n.ID] = append(s.changes[n.ID], env.Seq)
	s.index.deleted(n, n.Tags)
	s.lastEvent = lastEvent{seq: env.Seq, id: n.ID, version: n.Version + 1, typ: "artifact.deleted"}
	n.Live = false
	n.Version++
	n.UpdatedAt = env.Time
	n.Data, n.ListData, n.Tags, n.Content = nil, nil, nil, nil
	s.live.add(n.pos, -1)
	s.counts[n.Hierarchy][n.Level]--
	if p := s.byID[n.Parent]; p != nil {
		p.children = slices.DeleteFunc(p.children, func(c *node) bool { return c == n })
		dead := s.dead[p.ID]
		i := sort.Search(len(dead), func(i int) bool { return dead[i].pos > n.pos })
		s.dead[p.ID] = slices.Insert(dead, i, n)
	}
}

// create folds the creation ev in the tree whose root has placement key
// key, and reports whether it fits.
func (s *State) create(env events.Envelope, ev events.ArtifactCreated, key uint16) bool {
	if _, taken := s.byID[ev.ID]; taken {
		return false
	}
	var parent *node
	if !ev.Parent.IsZero() {
		if parent = s.byID[ev.Parent]; parent == nil || !parent.Live || parent.Sealed ||
			ev.Level != parent.Level+1 || ev.Hierarchy != parent.Hierarchy {
			return false
		}
	} else if ev.Level != 0 {
		return false
	}
	if !wellFormed(ev.Data, ev.Content) {
		return false
	}
	n := &node{Artifact: AfterCreate(env, ev), pos: len(s.order)}
	n.Key, n.Hierarchy = key, s.intern(ev.Hierarchy)
	if len(s.strayOf[n.ID]) > 0 {
		s.unstray(n)
	}
	s.byID[ev.ID] = n
	s.order = append(s.order, n)
	s.live.push(1)
	c := s.counts[ev.Hierarchy]
	for len(c) <= ev.Level {
		c = append(c, 0)
	}
	c[ev.Level]++
	s.counts[ev.Hierarchy] = c
	if parent != nil {
		parent.children = append(parent.children, n)
	}
	s.times.add(n.pos, n.CreatedAt)
	s.index.created(n)
	s.lastEvent = lastEvent{seq: env.Seq, id: n.ID, version: 1, typ: ev.EventType()}
	return true
}

// addStray remembers a message about an id not created (yet) by its
// subject. As for a created artifact, the first kids subject of an id (in
// one shard and hierarchy) fixes its label: another label is not kept.
func (s *State) addStray(env events.Envelope, sub events.Subject) {
	if sub.Kind == events.KindKids {
		prefix := env.Subject[:len(env.Subject)-len(sub.Label)]
		if kids, _, ok := s.findStray(sub.ID, prefix); ok && kids != env.Subject {
			return
		}
	}
	if _, seen := s.stray[env.Subject]; !seen {
		s.strayOf[sub.ID] = append(s.strayOf[sub.ID], env.Subject)
	}
	s.stray[env.Subject] = env.Seq
}

// indexStrays derives strayOf from stray.
func (s *State) indexStrays() {
	s.strayOf = make(map[ulid.ULID][]string)
	for subject := range s.stray {
		if sub, ok := events.ParseSubject(subject); ok {
			s.strayOf[sub.ID] = append(s.strayOf[sub.ID], subject)
		}
	}
}

// findStray finds a stray subject of id that starts with prefix, and its
// last position.
func (s *State) findStray(id ulid.ULID, prefix string) (string, uint64, bool) {
	for _, subject := range s.strayOf[id] {
		if strings.HasPrefix(subject, prefix) {
			return subject, s.stray[subject], true
		}
	}
	return "", 0, false
}

// unstray gives n the positions of messages about its id that came before
// its creation, on n's subjects exactly as arbor writes them.
func (s *State) unstray(n *node) {
	p := n.Place()
	if seq, ok := s.stray[s.layout.Art(p, n.ID)]; ok {
		n.OwnSeq = seq
	}
	for i := range s.layout.Seals {
		if _, ok := s.stray[s.layout.Seal(p, n.ID, i)]; ok {
			n.Sealed = true
		}
	}
	prefix := s.layout.Kids(p, n.ID, "")
	if subject, seq, ok := s.findStray(n.ID, prefix); ok {
		n.KidsLabel, n.KidsSeq = s.intern(subject[len(prefix):]), seq
	}
}

// wellFormed reports whether data and c, the payload of a creation or an
// update, are what arbor writes: data a JSON object, and c, when not nil, a
// reference to content that arbor makes (see wellFormedContent). Anything
// else came from elsewhere (an operator's mistake, a bug) and would break
// reads and writes of the artifact; the fold leaves it out.
//
// It is a pure function of the payload, so that every instance and every
// replay decides alike, and costs one pass over data (a second for moved
// JSON content): the fold replays the whole log at start-up.
func wellFormed(data json.RawMessage, c *events.Content) bool {
	if !isObject(data) || !json.Valid(data) {
		return false
	}
	return c == nil || wellFormedContent(data, c)
}

// isObject reports whether data, taken as JSON, can only be an object: its
// first and last bytes (past white space) are braces.
func isObject(data []byte) bool {
	data = bytes.TrimSpace(data)
	return len(data) >= 2 && data[0] == '{' && data[len(data)-1] == '}'
}

// wellFormedContent reports whether c is a content reference arbor makes
// beside data: a SHA-256 of 64 lowercase hex digits, a size that is not
// negative, a media type (arbor stores application/octet-stream or
// application/json rather than none); for JSON content moved out of data,
// a size of at least one byte and an offset at the null that stands for
// it, the value of data's top-level "content"; for a file, no offset.
func wellFormedContent(data json.RawMessage, c *events.Content) bool {
	switch {
	case !rawSHA(c.SHA256) || c.Size < 0 || c.Type == "":
		return false
	case !c.JSON:
		return c.Offset == 0
	case c.Size == 0 || c.Offset <= 0 || c.Offset > len(data)-len("null") ||
		string(data[c.Offset:c.Offset+len("null")]) != "null":
		return false
	}
	m, ok := jsonobj.Get(data, "content")
	return ok && m.Start == c.Offset && string(m.Value) == "null"
}

// AfterCreate is the artifact the creation ev at env makes.
func AfterCreate(env events.Envelope, ev events.ArtifactCreated) Artifact {
	return Artifact{
		ID: ev.ID, Parent: ev.Parent, Hierarchy: ev.Hierarchy, Level: ev.Level,
		Tags: ev.Tags, Data: ev.Data, ListData: content.Strip(ev.Data), Content: ev.Content,
		Version: 1, CreatedAt: env.Time, UpdatedAt: env.Time,
		Live: true, CreatedSeq: env.Seq,
	}
}

// AfterUpdate is a once the update ev at env is applied.
func (a Artifact) AfterUpdate(env events.Envelope, ev events.ArtifactUpdated) Artifact {
	a.Tags, a.Data, a.ListData, a.Content = ev.Tags, ev.Data, content.Strip(ev.Data), ev.Content
	a.Version++
	a.UpdatedAt = env.Time
	a.OwnSeq = env.Seq
	return a
}

// Get returns the artifact with id, live or deleted, and whether it was
// ever created.
func (s *State) Get(id ulid.ULID) (Artifact, bool) {
	n := s.byID[id]
	if n == nil {
		return Artifact{}, false
	}
	return s.artifact(n), true
}

// artifact is n as readers see it, with its number of live children.
func (s *State) artifact(n *node) Artifact {
	a := n.Artifact
	a.Children = len(n.children)
	return a
}

// Children calls fn with each live child of id in creation order until fn
// returns false.
func (s *State) Children(id ulid.ULID, fn func(Artifact) bool) {
	n := s.byID[id]
	if n == nil {
		return
	}
	for _, c := range n.children {
		if !fn(s.artifact(c)) {
			return
		}
	}
}

// EachContent calls fn with the digest of the content of every live
// artifact that has content in the object store.
func (s *State) EachContent(fn func(sha256 string)) {
	for _, n := range s.order {
		if n.Live && n.Content != nil {
			fn(n.Content.SHA256)
		}
	}
}

// Total is the number of live artifacts.
func (s *State) Total() int { return s.live.sum() }

// Page returns up to size live artifacts in creation order, skipping the
// first offset. It costs O(size log n), however many were deleted.
func (s *State) Page(offset, size int) []Artifact {
	total := s.Total()
	if offset < 0 || size <= 0 || offset >= total {
		return nil
	}
	end := min(total, offset+size)
	out := make([]Artifact, 0, end-offset)
	for k := offset; k < end; k++ {
		out = append(out, s.artifact(s.order[s.live.find(k+1)]))
	}
	return out
}

// Counts returns the live artifacts per hierarchy and level.
func (s *State) Counts() map[string][]int {
	out := make(map[string][]int, len(s.counts))
	for h, c := range s.counts {
		out[h] = slices.Clone(c)
	}
	return out
}
