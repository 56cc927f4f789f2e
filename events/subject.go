package events

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/bits"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"
)

// Layout is the shape of the subject space: where each event goes and which
// subject each write's precondition names. Every precondition names one
// exact subject (or, for a root's creation, a filter matching at most one
// subject per hierarchy), so a check costs the same however many artifacts
// there are.
//
//	<prefix>.<ss>.<h>.root.<R>.<label>   the creation of root R
//	<prefix>.<ss>.<h>.kids.<P>.<label>   the creations of P's children
//	<prefix>.<ss>.<h>.art.<X>            X's own events after its creation
//	<prefix>.<ss>.<h>.seal<i>.<X>        seal shard i, written once when inner X is deleted
//
// ss is the tree's shard as two or more lowercase hex digits, h the
// hierarchy, label a level label (the created artifact's).
type Layout struct {
	Prefix string // default "arbor"
	// Shards is the number of shard tokens, a power of two from 1 to
	// 32768; fixed when the stream is created.
	Shards int
	// Seals is the number of seal subjects per artifact: 1 on a single
	// server, more on replicated streams so that concurrent creations
	// under one parent check different subjects. Fixed with the stream.
	Seals int
}

// Default layout values for a new stream.
const (
	DefaultShards = 256
	keyBits       = 15 // bits of a placement key
)

// Kinds of subject, the fourth token.
const (
	KindRoot = "root"
	KindKids = "kids"
	KindArt  = "art"
	KindSeal = "seal" // followed by the seal's index
)

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidToken reports whether s can stand as one token of a subject: a
// hierarchy name or a level label. It returns an error saying why not.
func ValidToken(s string) error {
	if !tokenRE.MatchString(s) {
		return fmt.Errorf("%q must be 1 to 64 letters, digits, '-' or '_'", s)
	}
	return nil
}

// Key is the placement key of id: the top 15 bits of its random part
// (characters 11 to 13 of its text). A tree's shard follows from its root's
// key, and ids arbor mints for children carry their root's key.
func Key(id ulid.ULID) uint16 { return uint16(id[6])<<7 | uint16(id[7]>>1) }

// WithKey returns id with its placement key replaced by key; the rest of its
// random part is unchanged.
func WithKey(id ulid.ULID, key uint16) ulid.ULID {
	id[6] = byte(key >> 7)
	id[7] = byte(key<<1) | id[7]&1
	return id
}

// Shard is the shard of a tree whose root has placement key key.
func (l Layout) Shard(key uint16) int {
	return int(key) >> (keyBits - bits.TrailingZeros(uint(l.Shards)))
}

// ShardToken is shard as it appears in subjects: lowercase hex, as wide as
// the largest shard needs (two digits for 256 shards).
func (l Layout) ShardToken(shard int) string {
	width := max(1, (bits.TrailingZeros(uint(l.Shards))+3)/4)
	return fmt.Sprintf("%0*x", width, shard)
}

// Validate checks the layout's numbers.
func (l Layout) Validate() error {
	if l.Shards < 1 || l.Shards > 1<<keyBits || l.Shards&(l.Shards-1) != 0 {
		return fmt.Errorf("events: %d shards: must be a power of two from 1 to %d", l.Shards, 1<<keyBits)
	}
	if l.Seals < 1 || l.Seals > 256 {
		return fmt.Errorf("events: %d seal subjects: must be from 1 to 256", l.Seals)
	}
	return nil
}

// Place is where a tree's events go: its shard and hierarchy.
type Place struct {
	Key       uint16 // the root's placement key
	Hierarchy string
}

func (l Layout) base(p Place) string {
	return l.Prefix + "." + l.ShardToken(l.Shard(p.Key)) + "." + p.Hierarchy
}

// Root is the subject of the creation of root id, whose level label is label.
func (l Layout) Root(p Place, id ulid.ULID, label string) string {
	return l.base(p) + "." + KindRoot + "." + id.String() + "." + label
}

// RootFilter matches every creation of id as a root, in any hierarchy: a
// root's creation expects it empty, so an id is a root once, ever.
func (l Layout) RootFilter(id ulid.ULID) string {
	return l.Prefix + "." + l.ShardToken(l.Shard(Key(id))) + ".*." + KindRoot + "." + id.String() + ".*"
}

// Kids is the subject of the creations of parent's children, whose level
// label is label.
func (l Layout) Kids(p Place, parent ulid.ULID, label string) string {
	return l.base(p) + "." + KindKids + "." + parent.String() + "." + label
}

// Art is the subject of id's own events after its creation.
func (l Layout) Art(p Place, id ulid.ULID) string {
	return l.base(p) + "." + KindArt + "." + id.String()
}

// Seal is seal subject i (from 0 to Seals-1) of id.
func (l Layout) Seal(p Place, id ulid.ULID, i int) string {
	return l.base(p) + "." + KindSeal + strconv.Itoa(i) + "." + id.String()
}

// KindKey is the second token of the subjects of idempotency keys.
const KindKey = "key"

// KeySubject is the subject of an idempotency key: a digest of it, so that any
// key the client chose fits one token.
func (l Layout) KeySubject(key string) string {
	sum := sha256.Sum256([]byte(key))
	return l.Prefix + "." + KindKey + "." + hex.EncodeToString(sum[:16])
}

// Subject is a parsed event subject.
type Subject struct {
	Prefix string
	// Legacy marks the first layout:
	// <prefix>.<hierarchy>.<boundary>.<artifact>.<label>.<kind>, where
	// the boundary was the parent for a child's creation and the artifact
	// itself otherwise; Shard holds it as written.
	Legacy    bool
	Shard     string // as written
	Hierarchy string
	Kind      string // KindRoot, KindKids, KindArt or KindSeal
	Seal      int    // the seal shard's index, for Kind "seal"
	ID        ulid.ULID
	Label     string
}

// ParseSubject reads a subject of either layout, whatever its prefix. Ids
// must be spelled as arbor writes them: NATS subjects are case-sensitive,
// so another spelling is another subject.
func ParseSubject(subject string) (Subject, bool) {
	t := strings.Split(subject, ".")
	switch len(t) {
	case 5, 6:
	default:
		return Subject{}, false
	}
	if len(t) == 6 {
		if b, ok := parseID(t[2]); ok {
			id, ok := parseID(t[3])
			if !ok {
				return Subject{}, false
			}
			return Subject{Prefix: t[0], Legacy: true, Hierarchy: t[1], ID: id, Label: t[4], Kind: t[5], Shard: b.String()}, true
		}
	}
	id, ok := parseID(t[4])
	if !ok {
		return Subject{}, false
	}
	s := Subject{Prefix: t[0], Shard: t[1], Hierarchy: t[2], Kind: t[3], ID: id}
	switch {
	case (s.Kind == KindRoot || s.Kind == KindKids) && len(t) == 6:
		s.Label = t[5]
	case s.Kind == KindArt && len(t) == 5:
	case strings.HasPrefix(s.Kind, KindSeal) && len(t) == 5:
		n, err := strconv.Atoi(s.Kind[len(KindSeal):])
		if err != nil || n < 0 || strconv.Itoa(n) != s.Kind[len(KindSeal):] {
			return Subject{}, false
		}
		s.Kind, s.Seal = KindSeal, n
	default:
		return Subject{}, false
	}
	return s, true
}

// parseID reads an id spelled exactly as ulid.ULID.String writes it.
func parseID(token string) (ulid.ULID, bool) {
	id, err := ulid.ParseStrict(token)
	return id, err == nil && id.String() == token
}

// LegacyBoundary is, for a subject of the first layout, the artifact whose
// consistency boundary held it (the parent, for a child's creation).
func LegacyBoundary(subject string) (ulid.ULID, bool) {
	t := strings.Split(subject, ".")
	if len(t) != 6 {
		return ulid.ULID{}, false
	}
	return parseID(t[2])
}

// Kinds are the short names of the event types a feed can select.
func Kinds() []string { return []string{"created", "updated", "deleted"} }

// Filter selects events; an empty field matches anything. What a subject
// can say is selected by the server (see Subjects); the rest by Match.
type Filter struct {
	Hierarchy string
	Label     string
	Kind      string // created, updated or deleted
	// Artifact selects one artifact's events. Its creation is among them
	// when it is a root, or when ArtifactParent names its parent.
	Artifact       ulid.ULID
	ArtifactParent ulid.ULID
	Parent         ulid.ULID // creations of the parent's children
}

// Validate checks every field can stand in a subject. It names the field
// at fault (as the live feed's query parameters name it) with the error.
func (f Filter) Validate() (field string, err error) {
	for _, t := range []struct{ field, value string }{{"hierarchy", f.Hierarchy}, {"level_label", f.Label}} {
		if t.value != "" {
			if err := ValidToken(t.value); err != nil {
				return t.field, err
			}
		}
	}
	if f.Kind != "" && !slices.Contains(Kinds(), f.Kind) {
		return "type", fmt.Errorf("%q is not one of %s", f.Kind, strings.Join(Kinds(), ", "))
	}
	if !f.Artifact.IsZero() && !f.Parent.IsZero() {
		return "artifact", fmt.Errorf("artifact and parent_id select different subjects; give one")
	}
	if !f.Parent.IsZero() && f.Kind != "" && f.Kind != "created" {
		return "type", fmt.Errorf("parent_id selects creations only, not %q", f.Kind)
	}
	return "", nil
}

// Subjects are the subject filters the server applies for f under prefix:
// every event f can match is on one of them. Match decides the rest.
func (f Filter) Subjects(prefix string) []string {
	or := func(s string) string {
		if s == "" {
			return "*"
		}
		return s
	}
	join := func(tokens ...string) string { return strings.Join(tokens, ".") }
	h := or(f.Hierarchy)
	switch {
	case !f.Parent.IsZero():
		return []string{join(prefix, "*", h, KindKids, f.Parent.String(), or(f.Label))}
	case !f.Artifact.IsZero():
		id := f.Artifact.String()
		var created string
		if f.ArtifactParent.IsZero() {
			created = join(prefix, "*", h, KindRoot, id, or(f.Label))
		} else {
			created = join(prefix, "*", h, KindKids, f.ArtifactParent.String(), or(f.Label))
		}
		switch f.Kind {
		case "created":
			return []string{created}
		case "":
			return []string{created, join(prefix, "*", h, KindArt, id)}
		}
		return []string{join(prefix, "*", h, KindArt, id)}
	case f.Kind == "created":
		// Only creations have six tokens.
		return []string{join(prefix, "*", h, "*", "*", or(f.Label))}
	case f.Kind != "":
		return []string{join(prefix, "*", h, KindArt, "*")}
	case f.Hierarchy != "":
		return []string{join(prefix, "*", h, ">")}
	}
	return []string{prefix + ".>"}
}

// Match reports whether a record the server selected by f.Subjects is one
// f wants: its level label, type and artifact, which only headers carry for
// some events. Seals, which are no artifact's event, never match a filter
// that names a type or label. Records of idempotency keys, arbor's own
// bookkeeping, match none.
func (f Filter) Match(r Record) bool {
	if r.Type() == (KeyRecorded{}).EventType() {
		return false
	}
	if f.Kind != "" && r.Type() != "artifact."+f.Kind {
		return false
	}
	if f.Label != "" && r.LevelLabel() != f.Label {
		return false
	}
	if !f.Artifact.IsZero() && r.Header.Get(HeaderSubject) != f.Artifact.String() {
		return false // a sibling's creation on the parent's kids subject
	}
	return true
}
