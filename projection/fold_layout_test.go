package projection

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/events"
)

// The ids of the layout tests carry placement keys, as the ids arbor mints
// do: a root's key picks the shard of its whole tree. The children's own
// keys are 0 (shard 00), which must not matter.
var (
	keyA  = uint16(0x2a<<7 | 5) // shard 2a
	rA    = events.WithKey(id(201), keyA)
	rB    = events.WithKey(id(202), 0x7f<<7) // shard 7f
	cA    = id(210)
	cA2   = id(211)
	gA    = id(220)
	aHome = events.Place{Key: keyA, Hierarchy: "default"}
	bHome = events.Place{Key: events.Key(rB), Hierarchy: "default"}
)

// msg is a message in the log: an event on a subject.
type msg struct {
	subject string
	ev      events.Event // nil: a type no build knows
}

func rootSubj(p events.Place, x ulid.ULID) string { return testLayout.Root(p, x, label(0)) }
func artSubj(p events.Place, x ulid.ULID) string  { return testLayout.Art(p, x) }
func kidsSubj(p events.Place, x ulid.ULID, label string) string {
	return testLayout.Kids(p, x, label)
}
func sealSubj(p events.Place, x ulid.ULID, i int) string { return testLayout.Seal(p, x, i) }

// legacySubj is a subject of the first layout: the event of artifact x in
// the consistency boundary b (x itself, or x's parent for its creation).
func legacySubj(b, x ulid.ULID, label, kind string) string {
	return "arbor.default." + b.String() + "." + x.String() + "." + label + "." + kind
}

// Messages that recur in the tables.
var (
	createA  = msg{rootSubj(aHome, rA), created(rA, none, 0, `{}`)}
	createB  = msg{rootSubj(bHome, rB), created(rB, none, 0, `{}`)}
	createCA = msg{kidsSubj(aHome, rA, "level_1"), created(cA, rA, 1, `{}`)}
)

func sealed(x ulid.ULID) events.ArtifactSealed { return events.ArtifactSealed{ID: x} }

// seen is what a reader sees of one artifact in the layout tests.
type seen struct {
	Live     bool
	Version  int
	Children int
	Key      uint16
	Data     string
	Subjects
}

func seenOf(a Artifact) seen {
	return seen{Live: a.Live, Version: a.Version, Children: a.Children, Key: a.Key, Data: string(a.Data), Subjects: a.Subjects}
}

// layoutCase is a log and what a reader of its fold sees.
type layoutCase struct {
	name     string
	layout   events.Layout // zero: testLayout
	msgs     []msg
	want     map[ulid.ULID]seen
	absent   []ulid.ULID
	children map[ulid.ULID][]ulid.ULID
	page     []ulid.ULID // the live artifacts in creation order
	counts   map[string][]int
	ignored  int
}

// foldMsgs folds msgs at positions 1, 2, ... with layout l.
func foldMsgs(l events.Layout, msgs []msg) *State {
	s := NewState(l)
	for i, m := range msgs {
		seq := uint64(i + 1)
		s.Apply(events.Envelope{ID: ulid.Make(), Time: at(seq), Seq: seq, Subject: m.subject, Event: m.ev})
	}
	return s
}

func runLayoutCases(t *testing.T, tests []layoutCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := tt.layout
			if l == (events.Layout{}) {
				l = testLayout
			}
			s := foldMsgs(l, tt.msgs)
			if got, want := s.Applied(), uint64(len(tt.msgs)); got != want {
				t.Fatalf("Applied = %d, want %d", got, want)
			}
			for id, want := range tt.want {
				a, ok := s.Get(id)
				if !ok {
					t.Fatalf("Get(%s) found nothing", id)
				}
				if got := seenOf(a); !reflect.DeepEqual(got, want) {
					t.Fatalf("Get(%s) =\n%+v\nwant\n%+v", id, got, want)
				}
			}
			for _, id := range tt.absent {
				if got, ok := s.Get(id); ok {
					t.Fatalf("Get(%s) = %+v, want nothing", id, got)
				}
			}
			for parent, want := range tt.children {
				if got := childIDs(s, parent); !slices.Equal(got, want) {
					t.Fatalf("Children(%s) = %v, want %v", parent, got, want)
				}
			}
			page := tt.page
			if page == nil {
				page = []ulid.ULID{}
			}
			if got := ids(s.Page(0, 100)); !slices.Equal(got, page) {
				t.Fatalf("Page(0, 100) = %v, want %v", got, page)
			}
			if got := s.Total(); got != len(page) {
				t.Fatalf("Total = %d, want %d", got, len(page))
			}
			counts := tt.counts
			if counts == nil {
				counts = map[string][]int{}
			}
			if got := s.Counts(); !reflect.DeepEqual(got, counts) {
				t.Fatalf("Counts = %v, want %v", got, counts)
			}
			if got := s.Ignored(); got != tt.ignored {
				t.Fatalf("Ignored = %d, want %d", got, tt.ignored)
			}
		})
	}
}

// Where an artifact's subjects stand: every message on art.X moves OwnSeq,
// every message on X's kids subject moves KidsSeq (the first fixing
// KidsLabel), and a seal seals X for good, whatever the messages hold.
func TestFoldPositions(t *testing.T) {
	runLayoutCases(t, []layoutCase{
		{
			name: "every message on art.X moves OwnSeq",
			msgs: []msg{
				createA,
				{artSubj(aHome, rA), updated(rA, `{"v":2}`)},
				{artSubj(aHome, rA), nil},
				{artSubj(aHome, rA), created(cA, rA, 1, `{}`)},
				{artSubj(aHome, rA), updated(rA, `{"v":3}`)},
			},
			want:    map[ulid.ULID]seen{rA: {Live: true, Version: 3, Key: keyA, Data: `{"v":3}`, Subjects: own(5)}},
			absent:  []ulid.ULID{cA},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 2,
		},
		{
			name: "a deletion moves OwnSeq, and so does a message after it",
			msgs: []msg{
				createA,
				{artSubj(aHome, rA), deleted(rA)},
				{artSubj(aHome, rA), updated(rA, `{"late":true}`)},
			},
			want:    map[ulid.ULID]seen{rA: {Version: 2, Key: keyA, Subjects: own(3)}},
			counts:  map[string][]int{"default": {0}},
			ignored: 1,
		},
		{
			name: "creations under X move KidsSeq and fix KidsLabel; a child's update does not",
			msgs: []msg{
				createA,
				createCA,
				{kidsSubj(aHome, rA, "level_1"), created(cA2, rA, 1, `{}`)},
				{artSubj(aHome, cA), updated(cA, `{"v":2}`)},
			},
			want: map[ulid.ULID]seen{
				rA:  {Live: true, Version: 1, Children: 2, Key: keyA, Data: `{}`, Subjects: kids(3)},
				cA:  {Live: true, Version: 2, Key: keyA, Data: `{"v":2}`, Subjects: own(4)},
				cA2: {Live: true, Version: 1, Key: keyA, Data: `{}`},
			},
			children: map[ulid.ULID][]ulid.ULID{rA: {cA, cA2}, cA: {}},
			page:     []ulid.ULID{rA, cA, cA2},
			counts:   map[string][]int{"default": {1, 2}},
		},
		{
			name: "a grandchild moves its parent's kids subject, not the root's",
			msgs: []msg{
				createA,
				createCA,
				{kidsSubj(aHome, cA, "level_2"), created(gA, cA, 2, `{}`)},
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: kids(2)},
				cA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: Subjects{KidsLabel: "level_2", KidsSeq: 3}},
				gA: {Live: true, Version: 1, Key: keyA, Data: `{}`},
			},
			children: map[ulid.ULID][]ulid.ULID{rA: {cA}, cA: {gA}},
			page:     []ulid.ULID{rA, cA, gA},
			counts:   map[string][]int{"default": {1, 1, 1}},
		},
		{
			name: "messages on X's kids subject that create nothing move KidsSeq too",
			msgs: []msg{
				createA,
				{kidsSubj(aHome, rA, "level_1"), nil},
				{kidsSubj(aHome, rA, "level_1"), created(cA, rA, 2, `{}`)}, // wrong level
				{kidsSubj(aHome, rA, "level_1"), created(cA2, rA, 1, `{}`)},
			},
			want: map[ulid.ULID]seen{
				rA:  {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: kids(4)},
				cA2: {Live: true, Version: 1, Key: keyA, Data: `{}`},
			},
			absent:   []ulid.ULID{cA},
			children: map[ulid.ULID][]ulid.ULID{rA: {cA2}},
			page:     []ulid.ULID{rA, cA2},
			counts:   map[string][]int{"default": {1, 1}},
			ignored:  2,
		},
		{
			name: "a seal after a deletion; a creation under the sealed artifact is ignored",
			msgs: []msg{
				createA,
				createCA,
				{artSubj(aHome, cA), deleted(cA)},
				{sealSubj(aHome, cA, 0), sealed(cA)},
				{kidsSubj(aHome, cA, "level_2"), created(gA, cA, 2, `{}`)},
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: kids(2)},
				cA: {Version: 2, Key: keyA, Subjects: Subjects{OwnSeq: 3, KidsLabel: "level_2", KidsSeq: 5, Sealed: true}},
			},
			absent:   []ulid.ULID{gA},
			children: map[ulid.ULID][]ulid.ULID{rA: {}, cA: {}},
			page:     []ulid.ULID{rA},
			counts:   map[string][]int{"default": {1, 0}},
			ignored:  1,
		},
		{
			name: "a seal of a live artifact (its deletion ignored) stops creations under it",
			msgs: []msg{
				createA,
				createCA,
				{artSubj(aHome, rA), deleted(rA)}, // has a child
				{sealSubj(aHome, rA, 0), sealed(rA)},
				{kidsSubj(aHome, rA, "level_1"), created(cA2, rA, 1, `{}`)},
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: Subjects{OwnSeq: 3, KidsLabel: "level_1", KidsSeq: 5, Sealed: true}},
				cA: {Live: true, Version: 1, Key: keyA, Data: `{}`},
			},
			absent:   []ulid.ULID{cA2},
			children: map[ulid.ULID][]ulid.ULID{rA: {cA}},
			page:     []ulid.ULID{rA, cA},
			counts:   map[string][]int{"default": {1, 1}},
			ignored:  2,
		},
		{
			name:   "with several seal subjects, any one seals",
			layout: events.Layout{Prefix: "arbor", Shards: 256, Seals: 4},
			msgs: []msg{
				createA,
				{sealSubj(aHome, rA, 3), sealed(rA)},
				createCA,
			},
			want:    map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: Subjects{KidsLabel: "level_1", KidsSeq: 3, Sealed: true}}},
			absent:  []ulid.ULID{cA},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 1,
		},
		{
			name: "the seal subject seals, whatever the message holds",
			msgs: []msg{
				createA,
				createB,
				{sealSubj(aHome, rA, 0), sealed(rB)},
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: Subjects{Sealed: true}},
				rB: {Live: true, Version: 1, Key: events.Key(rB), Data: `{}`},
			},
			page:    []ulid.ULID{rA, rB},
			counts:  map[string][]int{"default": {2}},
			ignored: 1,
		},
		{
			name: "a message of an unknown type on a seal subject seals",
			msgs: []msg{
				createA,
				{sealSubj(aHome, rA, 0), nil},
				createCA,
			},
			want:    map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: Subjects{KidsLabel: "level_1", KidsSeq: 3, Sealed: true}}},
			absent:  []ulid.ULID{cA},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 2,
		},
	})
}

// An event that is not on exactly the subject arbor writes it to is
// ignored and counted, and moves no position of the artifact it claims;
// the server moved the position of the subject it is on, which is the
// claimed artifact's only when that subject is exactly its.
func TestFoldIgnoresSubjectsNotArbors(t *testing.T) {
	otherShard := events.Place{Key: events.Key(rB), Hierarchy: "default"}
	otherHierarchy := events.Place{Key: keyA, Hierarchy: "ml"}
	childsOwnShard := events.Place{Key: events.Key(cA), Hierarchy: "default"} // not its root's
	liveA := seen{Live: true, Version: 1, Key: keyA, Data: `{}`}
	runLayoutCases(t, []layoutCase{
		{
			name:    "a root's creation in another shard",
			msgs:    []msg{{rootSubj(otherShard, rA), created(rA, none, 0, `{}`)}},
			absent:  []ulid.ULID{rA},
			ignored: 1,
		},
		{
			name:    "a root's creation in another hierarchy than its body's",
			msgs:    []msg{{rootSubj(otherHierarchy, rA), created(rA, none, 0, `{}`)}},
			absent:  []ulid.ULID{rA},
			ignored: 1,
		},
		{
			name:    "a root's creation of another id",
			msgs:    []msg{{rootSubj(aHome, rA), events.ArtifactCreated{ID: events.WithKey(rB, keyA), Hierarchy: "default"}}},
			absent:  []ulid.ULID{rA, rB, events.WithKey(rB, keyA)},
			ignored: 1,
		},
		{
			name:     "a child's creation on a root subject",
			msgs:     []msg{createA, {rootSubj(aHome, cA), created(cA, rA, 1, `{}`)}},
			want:     map[ulid.ULID]seen{rA: liveA},
			absent:   []ulid.ULID{cA},
			children: map[ulid.ULID][]ulid.ULID{rA: {}},
			page:     []ulid.ULID{rA},
			counts:   map[string][]int{"default": {1}},
			ignored:  1,
		},
		{
			name:    "an update in another shard",
			msgs:    []msg{createA, {artSubj(otherShard, rA), updated(rA, `{"v":2}`)}},
			want:    map[ulid.ULID]seen{rA: liveA},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 1,
		},
		{
			name:    "an update in another hierarchy",
			msgs:    []msg{createA, {artSubj(otherHierarchy, rA), updated(rA, `{"v":2}`)}},
			want:    map[ulid.ULID]seen{rA: liveA},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 1,
		},
		{
			name: "an update on someone else's art subject",
			msgs: []msg{createA, createB, {artSubj(bHome, rB), updated(rA, `{"v":2}`)}},
			want: map[ulid.ULID]seen{
				rA: liveA,
				rB: {Live: true, Version: 1, Key: events.Key(rB), Data: `{}`, Subjects: own(3)},
			},
			page:    []ulid.ULID{rA, rB},
			counts:  map[string][]int{"default": {2}},
			ignored: 1,
		},
		{
			name: "a deletion on someone else's art subject",
			msgs: []msg{createA, createB, {artSubj(bHome, rB), deleted(rA)}},
			want: map[ulid.ULID]seen{
				rA: liveA,
				rB: {Live: true, Version: 1, Key: events.Key(rB), Data: `{}`, Subjects: own(3)},
			},
			page:    []ulid.ULID{rA, rB},
			counts:  map[string][]int{"default": {2}},
			ignored: 1,
		},
		{
			name: "a creation on kids.P whose body names another parent",
			msgs: []msg{createA, createB, {kidsSubj(bHome, rB, "level_1"), created(cA, rA, 1, `{}`)}},
			want: map[ulid.ULID]seen{
				rA: liveA,
				rB: {Live: true, Version: 1, Key: events.Key(rB), Data: `{}`, Subjects: kids(3)},
			},
			absent:   []ulid.ULID{cA},
			children: map[ulid.ULID][]ulid.ULID{rA: {}, rB: {}},
			page:     []ulid.ULID{rA, rB},
			counts:   map[string][]int{"default": {2}},
			ignored:  1,
		},
		{
			name: "a second kids label for one parent",
			msgs: []msg{createA, createCA, {kidsSubj(aHome, rA, "other"), created(cA2, rA, 1, `{}`)}},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: kids(2)},
			},
			absent:   []ulid.ULID{cA2},
			children: map[ulid.ULID][]ulid.ULID{rA: {cA}},
			page:     []ulid.ULID{rA, cA},
			counts:   map[string][]int{"default": {1, 1}},
			ignored:  1,
		},
		{
			name:     "a child's creation in its own id's shard, not its root's",
			msgs:     []msg{createA, {kidsSubj(childsOwnShard, rA, "level_1"), created(cA, rA, 1, `{}`)}},
			want:     map[ulid.ULID]seen{rA: liveA},
			absent:   []ulid.ULID{cA},
			children: map[ulid.ULID][]ulid.ULID{rA: {}},
			page:     []ulid.ULID{rA},
			counts:   map[string][]int{"default": {1}},
			ignored:  1,
		},
		{
			name: "a seal index >= Seals does not seal",
			msgs: []msg{createA, {sealSubj(aHome, rA, 1), sealed(rA)}, createCA},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: kids(3)},
			},
			children: map[ulid.ULID][]ulid.ULID{rA: {cA}},
			page:     []ulid.ULID{rA, cA},
			counts:   map[string][]int{"default": {1, 1}},
			ignored:  1,
		},
		{
			name: "a seal in another shard or hierarchy does not seal",
			msgs: []msg{
				createA,
				{sealSubj(otherShard, rA, 0), sealed(rA)},
				{sealSubj(otherHierarchy, rA, 0), sealed(rA)},
				createCA,
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: kids(4)},
			},
			page:    []ulid.ULID{rA, cA},
			counts:  map[string][]int{"default": {1, 1}},
			ignored: 2,
		},
		{
			name: "an artifact's subjects hold only their own kinds of event",
			msgs: []msg{
				createA,
				{kidsSubj(aHome, rA, "level_1"), updated(rA, `{"v":2}`)},
				{artSubj(aHome, rA), sealed(rA)},
				{sealSubj(aHome, rA, 0), updated(rA, `{"v":3}`)},
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: Subjects{OwnSeq: 3, KidsLabel: "level_1", KidsSeq: 2, Sealed: true}},
			},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 3,
		},
		{
			name: "no subject, or one that does not parse",
			msgs: []msg{
				createA,
				{"", updated(rA, `{"v":2}`)},
				{"arbor", updated(rA, `{"v":2}`)},
				{"arbor.2a.default.art", updated(rA, `{"v":2}`)},
				{"arbor.2a.default.art.notanid", updated(rA, `{"v":2}`)},
				{artSubj(aHome, rA) + ".extra", updated(rA, `{"v":2}`)},
				{"arbor.2a.default.kids." + rA.String(), created(cA, rA, 1, `{}`)},
				{"arbor.2a.default.sealx." + rA.String(), sealed(rA)},
				{"arbor.2a.default.seal-1." + rA.String(), sealed(rA)},
				{"arbor.2a.default.seal." + rA.String(), sealed(rA)},
				{"arbor.2a.default.what." + rA.String(), updated(rA, `{"v":2}`)},
				{"arbor.2a.default.root." + rA.String(), created(rA, none, 0, `{}`)},
			},
			want:     map[ulid.ULID]seen{rA: liveA},
			absent:   []ulid.ULID{cA},
			children: map[ulid.ULID][]ulid.ULID{rA: {}},
			page:     []ulid.ULID{rA},
			counts:   map[string][]int{"default": {1}},
			ignored:  11,
		},
	})
}

// Events of the first layout fold as they did, and events of the
// exact-subject layout after them apply to the same artifacts.
func TestFoldLegacy(t *testing.T) {
	legacyA := msg{legacySubj(rA, rA, "level_0", "created"), created(rA, none, 0, `{}`)}
	legacyCA := msg{legacySubj(rA, cA, "level_1", "created"), created(cA, rA, 1, `{}`)}
	runLayoutCases(t, []layoutCase{
		{
			name: "a tree of the first layout",
			msgs: []msg{
				legacyA,
				legacyCA,
				{legacySubj(cA, cA, "level_1", "updated"), updated(cA, `{"v":2}`)},
				{legacySubj(rA, cA2, "level_1", "created"), created(cA2, rA, 1, `{}`)},
				{legacySubj(cA2, cA2, "level_1", "deleted"), deleted(cA2)},
			},
			want: map[ulid.ULID]seen{
				rA:  {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`},
				cA:  {Live: true, Version: 2, Key: keyA, Data: `{"v":2}`},
				cA2: {Version: 2, Key: keyA},
			},
			children: map[ulid.ULID][]ulid.ULID{rA: {cA}},
			page:     []ulid.ULID{rA, cA},
			counts:   map[string][]int{"default": {1, 1}},
		},
		{
			name: "events of the first layout in another boundary are ignored, as before",
			msgs: []msg{
				legacyA,
				{legacySubj(rB, cA, "level_1", "created"), created(cA, rA, 1, `{}`)},
				{legacySubj(rB, rA, "level_0", "updated"), updated(rA, `{"v":2}`)},
				{legacySubj(cA, rA, "level_0", "deleted"), deleted(rA)},
			},
			want:    map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`}},
			absent:  []ulid.ULID{cA},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 3,
		},
		{
			name: "an old parent gets children of the new layout, and old ones still",
			msgs: []msg{
				legacyA,
				createCA,
				{artSubj(aHome, cA), updated(cA, `{"v":2}`)},
				{legacySubj(rA, cA2, "level_1", "created"), created(cA2, rA, 1, `{}`)},
			},
			want: map[ulid.ULID]seen{
				rA:  {Live: true, Version: 1, Children: 2, Key: keyA, Data: `{}`, Subjects: kids(2)},
				cA:  {Live: true, Version: 2, Key: keyA, Data: `{"v":2}`, Subjects: own(3)},
				cA2: {Live: true, Version: 1, Key: keyA, Data: `{}`},
			},
			children: map[ulid.ULID][]ulid.ULID{rA: {cA, cA2}},
			page:     []ulid.ULID{rA, cA, cA2},
			counts:   map[string][]int{"default": {1, 2}},
		},
		{
			name: "an update of the first layout does not move OwnSeq",
			msgs: []msg{
				legacyA,
				{artSubj(aHome, rA), updated(rA, `{"v":2}`)},
				{legacySubj(rA, rA, "level_0", "updated"), updated(rA, `{"v":3}`)},
			},
			want:   map[ulid.ULID]seen{rA: {Live: true, Version: 3, Key: keyA, Data: `{"v":3}`, Subjects: own(2)}},
			page:   []ulid.ULID{rA},
			counts: map[string][]int{"default": {1}},
		},
		{
			name: "deletions of the new layout end an old tree, and seal it",
			msgs: []msg{
				legacyA,
				legacyCA,
				{artSubj(aHome, cA), deleted(cA)},
				{sealSubj(aHome, cA, 0), sealed(cA)},
				{legacySubj(cA, gA, "level_2", "created"), created(gA, cA, 2, `{}`)},
				{artSubj(aHome, rA), deleted(rA)},
				{sealSubj(aHome, rA, 0), sealed(rA)},
				{legacySubj(rA, cA2, "level_1", "created"), created(cA2, rA, 1, `{}`)},
			},
			want: map[ulid.ULID]seen{
				rA: {Version: 2, Key: keyA, Subjects: Subjects{OwnSeq: 6, Sealed: true}},
				cA: {Version: 2, Key: keyA, Subjects: Subjects{OwnSeq: 3, Sealed: true}},
			},
			absent:  []ulid.ULID{gA, cA2},
			counts:  map[string][]int{"default": {0, 0}},
			ignored: 2,
		},
		{
			name: "a creation of the first layout under a sealed parent is ignored",
			msgs: []msg{
				createA,
				createCA,
				{artSubj(aHome, rA), deleted(rA)}, // has a child
				{sealSubj(aHome, rA, 0), sealed(rA)},
				{legacySubj(rA, cA2, "level_1", "created"), created(cA2, rA, 1, `{}`)},
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: Subjects{OwnSeq: 3, KidsLabel: "level_1", KidsSeq: 2, Sealed: true}},
			},
			absent:  []ulid.ULID{cA2},
			page:    []ulid.ULID{rA, cA},
			counts:  map[string][]int{"default": {1, 1}},
			ignored: 2,
		},
		{
			name: "unknown types and seals on subjects of the first layout are ignored",
			msgs: []msg{
				legacyA,
				{legacySubj(rA, rA, "level_0", "frobbed"), nil},
				{legacySubj(rA, rA, "level_0", "sealed"), sealed(rA)},
				createCA,
			},
			want:    map[ulid.ULID]seen{rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: kids(4)}},
			page:    []ulid.ULID{rA, cA},
			counts:  map[string][]int{"default": {1, 1}},
			ignored: 2,
		},
	})
}

// A child's Key is its root's placement key, whatever its own id says and
// whichever layout created it: every subject of a tree is in one shard.
func TestFoldKey(t *testing.T) {
	cB := events.WithKey(id(240), keyA) // under rB, with rA's key in its id
	runLayoutCases(t, []layoutCase{
		{
			name: "exact-subject layout",
			msgs: []msg{
				createA,
				createCA,
				{kidsSubj(aHome, cA, "level_2"), created(gA, cA, 2, `{}`)},
				createB,
				{kidsSubj(bHome, rB, "level_1"), created(cB, rB, 1, `{}`)},
				{artSubj(bHome, cB), updated(cB, `{"v":2}`)},
				{artSubj(aHome, cB), updated(cB, `{"v":3}`)}, // the shard of its id, not its tree
				{artSubj(aHome, gA), updated(gA, `{"v":2}`)},
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: kids(2)},
				cA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: Subjects{KidsLabel: "level_2", KidsSeq: 3}},
				gA: {Live: true, Version: 2, Key: keyA, Data: `{"v":2}`, Subjects: own(8)},
				rB: {Live: true, Version: 1, Children: 1, Key: events.Key(rB), Data: `{}`, Subjects: kids(5)},
				cB: {Live: true, Version: 2, Key: events.Key(rB), Data: `{"v":2}`, Subjects: own(6)},
			},
			page:    []ulid.ULID{rA, cA, gA, rB, cB},
			counts:  map[string][]int{"default": {2, 2, 1}},
			ignored: 1,
		},
		{
			name: "first layout",
			msgs: []msg{
				{legacySubj(rA, rA, "level_0", "created"), created(rA, none, 0, `{}`)},
				{legacySubj(rA, cA, "level_1", "created"), created(cA, rA, 1, `{}`)},
				{legacySubj(cA, gA, "level_2", "created"), created(gA, cA, 2, `{}`)},
				{legacySubj(rB, rB, "level_0", "created"), created(rB, none, 0, `{}`)},
				{legacySubj(rB, cB, "level_1", "created"), created(cB, rB, 1, `{}`)},
				// Later writes of the new layout find them in their
				// tree's shard.
				{artSubj(aHome, gA), updated(gA, `{"v":2}`)},
				{artSubj(events.Place{Key: events.Key(gA), Hierarchy: "default"}, gA), updated(gA, `{"v":3}`)},
				{artSubj(bHome, cB), updated(cB, `{"v":2}`)},
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`},
				cA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`},
				gA: {Live: true, Version: 2, Key: keyA, Data: `{"v":2}`, Subjects: own(6)},
				rB: {Live: true, Version: 1, Children: 1, Key: events.Key(rB), Data: `{}`},
				cB: {Live: true, Version: 2, Key: events.Key(rB), Data: `{"v":2}`, Subjects: own(8)},
			},
			page:    []ulid.ULID{rA, cA, gA, rB, cB},
			counts:  map[string][]int{"default": {2, 2, 1}},
			ignored: 1,
		},
	})
}

// Messages on the subjects of an id not created yet are remembered: the
// artifact created later starts where the server has its subjects, so the
// first write to it expects the right position. The messages themselves
// are ignored.
func TestFoldStray(t *testing.T) {
	runLayoutCases(t, []layoutCase{
		{
			name: "an update before its artifact's creation",
			msgs: []msg{
				{artSubj(aHome, rA), updated(rA, `{"early":true}`)},
				createA,
			},
			want:    map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: own(1)}},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 1,
		},
		{
			name: "the last of several",
			msgs: []msg{
				{artSubj(aHome, rA), updated(rA, `{"early":true}`)},
				{artSubj(aHome, rA), nil},
				{artSubj(aHome, rB), nil},
				createA,
			},
			want:    map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: own(2)}},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 3,
		},
		{
			name: "a seal before its artifact's creation",
			msgs: []msg{
				{sealSubj(aHome, rA, 0), sealed(rA)},
				createA,
				createCA,
			},
			want:    map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: Subjects{KidsLabel: "level_1", KidsSeq: 3, Sealed: true}}},
			absent:  []ulid.ULID{cA},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 2,
		},
		{
			name: "a child's, in its root's shard",
			msgs: []msg{
				createA,
				{artSubj(aHome, cA), updated(cA, `{"early":true}`)},
				{sealSubj(aHome, cA, 0), sealed(cA)},
				createCA,
				{kidsSubj(aHome, cA, "level_2"), created(gA, cA, 2, `{}`)},
			},
			want: map[ulid.ULID]seen{
				rA: {Live: true, Version: 1, Children: 1, Key: keyA, Data: `{}`, Subjects: kids(4)},
				cA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: Subjects{OwnSeq: 2, KidsLabel: "level_2", KidsSeq: 5, Sealed: true}},
			},
			absent:  []ulid.ULID{gA},
			page:    []ulid.ULID{rA, cA},
			counts:  map[string][]int{"default": {1, 1}},
			ignored: 3,
		},
		{
			name: "messages on subjects that will not be the artifact's do not count",
			msgs: []msg{
				{artSubj(events.Place{Key: events.Key(cA), Hierarchy: "default"}, cA), nil}, // its id's shard
				{artSubj(events.Place{Key: keyA, Hierarchy: "ml"}, cA), nil},
				{sealSubj(aHome, cA, 1), sealed(cA)}, // beyond Seals
				{sealSubj(events.Place{Key: events.Key(cA), Hierarchy: "default"}, cA, 0), sealed(cA)},
				createA,
				createCA,
			},
			want: map[ulid.ULID]seen{
				cA: {Live: true, Version: 1, Key: keyA, Data: `{}`},
			},
			page:    []ulid.ULID{rA, cA},
			counts:  map[string][]int{"default": {1, 1}},
			ignored: 4,
		},
		{
			name: "a message after a refused creation is stray too",
			msgs: []msg{
				{rootSubj(bHome, rA), created(rA, none, 0, `{}`)}, // another shard: refused
				{artSubj(aHome, rA), nil},
				createA,
			},
			want:    map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: own(2)}},
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 2,
		},
	})
}

// Folding the same log twice gives the same state, however the log mixes
// valid events with events that break the rules or sit on subjects that
// are not arbor's; and whatever the mix, a reader sees a consistent tree.
func TestFoldDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	gen := NewState(testLayout) // decides the writes as the log grows
	var msgs []msg
	add := func(subject string, ev events.Event) {
		msgs = append(msgs, msg{subject, ev})
		seq := uint64(len(msgs))
		gen.Apply(events.Envelope{Time: at(seq), Seq: seq, Subject: subject, Event: ev})
	}
	var made []ulid.ULID
	pick := func() ulid.ULID { return made[rng.IntN(len(made))] }
	for n := range uint64(4000) {
		var ev events.Event
		switch k := rng.IntN(20); {
		case k < 3 || len(made) == 0:
			h := []string{"default", "ml"}[rng.IntN(2)]
			r := events.WithKey(id(10_000+n), uint16(rng.IntN(1<<15)))
			ev = events.ArtifactCreated{ID: r, Hierarchy: h, Data: json.RawMessage(`{}`)}
			made = append(made, r)
		case k < 10:
			p, _ := gen.Get(pick())
			c := id(10_000 + n) // key 0, in its root's shard all the same
			ev = events.ArtifactCreated{ID: c, Parent: p.ID, Hierarchy: p.Hierarchy, Level: p.Level + 1, Data: json.RawMessage(`{}`)}
			made = append(made, c)
		case k < 14:
			ev = updated(pick(), `{"n":1}`)
		case k < 17:
			ev = deleted(pick())
		case k < 18:
			ev = sealed(pick())
		}
		w := decideWrite(gen, ev)
		subject := w.Subject
		switch {
		case ev == nil:
			a, _ := gen.Get(pick())
			subject = []string{
				testLayout.Art(a.Place(), a.ID), testLayout.Kids(a.Place(), a.ID, kidsLabel(a)), testLayout.Seal(a.Place(), a.ID, 0),
			}[rng.IntN(3)]
		case rng.IntN(4) == 0:
			subject = mangle(rng, subject, ev, made)
		}
		if _, isSeal := ev.(events.ArtifactSealed); isSeal {
			if sub, ok := events.ParseSubject(subject); ok && !sub.Legacy && sub.Kind == events.KindRoot {
				// A seal on a root subject panics the fold: see
				// TestFoldSealOnARootSubject.
				continue
			}
		}
		add(subject, ev)
		if len(w.Seals) > 0 && subject == w.Subject && rng.IntN(5) > 0 {
			for _, s := range w.Seals {
				add(s, sealed(ev.ArtifactID()))
			}
		}
	}

	s1, s2 := foldMsgs(testLayout, msgs), foldMsgs(testLayout, msgs)
	if !reflect.DeepEqual(s1, s2) {
		t.Fatal("two folds of one log differ")
	}
	if !reflect.DeepEqual(s1, gen) {
		t.Fatal("a fold of the log differs from the fold that wrote it")
	}

	// The mix is a mix: live, deleted, sealed and ignored all occur.
	var live, dead, sealedLive int
	for _, id := range made {
		a, ok := s1.Get(id)
		switch {
		case !ok:
		case a.Live && a.Sealed:
			sealedLive++
			live++
		case a.Live:
			live++
		default:
			dead++
		}
	}
	if live < 100 || dead < 100 || sealedLive == 0 || s1.Ignored() < 500 {
		t.Fatalf("%d live (%d sealed), %d deleted, %d ignored of %d messages: not much of a mix",
			live, sealedLive, dead, s1.Ignored(), len(msgs))
	}

	// A reader sees a tree: every live artifact's parent is live and
	// lists it, Counts add up to Total, and Page lists the live.
	total := 0
	for _, c := range s1.Counts() {
		for _, n := range c {
			total += n
		}
	}
	page := s1.Page(0, s1.Total()+1)
	if total != s1.Total() || len(page) != s1.Total() || live != s1.Total() {
		t.Fatalf("Counts add up to %d, Page has %d, %d live; Total = %d", total, len(page), live, s1.Total())
	}
	for _, a := range page {
		if a.Parent.IsZero() {
			continue
		}
		p, ok := s1.Get(a.Parent)
		if !ok || !p.Live || !slices.Contains(childIDs(s1, p.ID), a.ID) || a.Key != p.Key {
			t.Fatalf("%s is live, its parent %s: found %v, live %v, lists it %v, same key %v",
				a.ID, a.Parent, ok, p.Live, slices.Contains(childIDs(s1, p.ID), a.ID), a.Key == p.Key)
		}
	}
}

// mangle returns subject changed the way a careless or hostile writer
// might: another shard, hierarchy, label, id, kind or seal index; the first
// layout; or no subject at all.
func mangle(rng *rand.Rand, subject string, ev events.Event, made []ulid.ULID) string {
	t := strings.Split(subject, ".")
	switch rng.IntN(8) {
	case 0:
		t[1] = testLayout.ShardToken(rng.IntN(testLayout.Shards))
	case 1:
		t[2] = []string{"default", "ml", "other"}[rng.IntN(3)]
	case 2:
		if len(t) == 6 {
			t[5] = []string{"level_1", "level_2", "other"}[rng.IntN(3)]
		}
	case 3:
		t[4] = made[rng.IntN(len(made))].String()
	case 4:
		t[3] = []string{events.KindArt, events.KindKids, "seal0", "seal1"}[rng.IntN(4)]
		t = t[:5]
		if t[3] == events.KindKids {
			t = append(t, "level_1")
		}
	case 5:
		x := ev.ArtifactID()
		b := x
		if c, ok := ev.(events.ArtifactCreated); ok && !c.Parent.IsZero() {
			b = c.Parent
		}
		kind := strings.TrimPrefix(ev.EventType(), "artifact.")
		return legacySubj(b, x, "level_0", kind)
	case 6:
		return ""
	case 7:
		return t[0] + "." + t[1]
	}
	return strings.Join(t, ".")
}
