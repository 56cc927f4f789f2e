package projection

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
)

// t0 is the time of position 0; the event at position n happens n seconds
// later (see at).
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 123_000_000, time.UTC)

func at(seq uint64) time.Time { return t0.Add(time.Duration(seq) * time.Second) }

// id returns a fixed, readable artifact id. Its placement key is 0, so
// every tree of such ids is in shard 00.
func id(n uint64) ulid.ULID {
	var u ulid.ULID
	binary.BigEndian.PutUint64(u[8:], n)
	return u
}

var (
	root    = id(1)
	root2   = id(2)
	child   = id(10)
	child2  = id(11)
	child3  = id(12)
	unknown = id(99)
	none    ulid.ULID
)

// testLayout is the subject layout of the fold tests: 256 shards and one
// seal per artifact, what a stream on one server gets.
var testLayout = events.Layout{Prefix: "arbor", Shards: 256, Seals: 1}

// levels is the depth of every hierarchy in the tests: level_0 to
// level_2. Above the deepest level an artifact could have children, so
// its deletion seals it.
const levels = 3

// label is the level label of level n in the tests' hierarchies.
func label(n int) string { return "level_" + strconv.Itoa(n) }

func created(id, parent ulid.ULID, level int, data string, tags ...string) events.ArtifactCreated {
	return events.ArtifactCreated{ID: id, Parent: parent, Hierarchy: "default", Level: level, Tags: tags, Data: json.RawMessage(data)}
}

func updated(id ulid.ULID, data string, tags ...string) events.ArtifactUpdated {
	return events.ArtifactUpdated{ID: id, Tags: tags, Data: json.RawMessage(data)}
}

func deleted(id ulid.ULID) events.ArtifactDeleted { return events.ArtifactDeleted{ID: id} }

// decideWrite is the write a command makes for ev as s has it before ev
// (see command/decide.go): a root's creation on its root subject,
// expecting no creation of its id as a root; a child's creation on its
// parent's kids subject, expecting the parent's first seal empty; an
// update or a deletion on the artifact's own subject, expecting it where s
// has it. The deletion of an artifact that could have children seals it
// in the same batch, expecting its kids subject where s has it. Events of
// other types (nil too) get an empty write: no subject.
//
// It decides without judging: it gives a subject to events a command
// would refuse (a creation under an unknown parent, an update of an
// unknown id), as a careless writer would.
func decideWrite(s *State, ev events.Event) events.Write {
	l := s.Layout()
	switch ev := ev.(type) {
	case events.ArtifactCreated:
		if ev.Parent.IsZero() {
			place := events.Place{Key: events.Key(ev.ID), Hierarchy: ev.Hierarchy}
			return events.Write{
				Subject: l.Root(place, ev.ID, label(0)),
				Expect:  events.Expect{Subject: l.RootFilter(ev.ID)},
				Label:   label(0),
			}
		}
		p, ok := s.Get(ev.Parent)
		if !ok {
			p = Artifact{ID: ev.Parent, Key: events.Key(ev.Parent), Hierarchy: ev.Hierarchy, Level: ev.Level - 1}
		}
		return events.Write{
			Subject: l.Kids(p.Place(), p.ID, kidsLabel(p)),
			Expect:  events.Expect{Subject: l.Seal(p.Place(), p.ID, 0)},
			Label:   label(ev.Level),
		}
	case events.ArtifactUpdated:
		return ownWrite(s, ev.ID)
	case events.ArtifactDeleted:
		w := ownWrite(s, ev.ID)
		if a, ok := s.Get(ev.ID); ok && (a.Level+1 < levels || a.KidsLabel != "") {
			for i := range l.Seals {
				w.Seals = append(w.Seals, l.Seal(a.Place(), a.ID, i))
			}
			w.SealExpect = events.Expect{Subject: l.Kids(a.Place(), a.ID, kidsLabel(a)), Last: a.KidsSeq}
		}
		return w
	case events.ArtifactSealed:
		a, ok := s.Get(ev.ID)
		if !ok {
			a = Artifact{ID: ev.ID, Key: events.Key(ev.ID), Hierarchy: "default"}
		}
		return events.Write{Subject: l.Seal(a.Place(), a.ID, 0)}
	}
	return events.Write{}
}

// ownWrite is a write on id's own subject, expecting it where s has it.
func ownWrite(s *State, id ulid.ULID) events.Write {
	a, ok := s.Get(id)
	if !ok {
		a = Artifact{ID: id, Key: events.Key(id), Hierarchy: "default"}
	}
	art := s.Layout().Art(a.Place(), id)
	return events.Write{Subject: art, Expect: events.Expect{Subject: art, Last: a.OwnSeq}, Label: label(a.Level)}
}

// kidsLabel is the label token of p's kids subject: the one its first
// child's creation used, or the label of the level below p.
func kidsLabel(p Artifact) string {
	if p.KidsLabel != "" {
		return p.KidsLabel
	}
	return label(p.Level + 1)
}

// applyWrite applies ev at seq on the subject decideWrite gives it, as s
// has it; seals are not written (a table states them as events).
func applyWrite(s *State, seq uint64, ev events.Event) {
	s.Apply(events.Envelope{ID: ulid.Make(), Time: at(seq), Seq: seq, Subject: decideWrite(s, ev).Subject, Event: ev})
}

// fold applies evs at positions 1, 2, ..., each on the subject a command
// would write it to (see applyWrite), the event at position n at at(n). A
// nil event stands for one of a type this build does not know, with no
// subject.
func fold(evs ...events.Event) *State {
	s := NewState(testLayout)
	for i, ev := range evs {
		applyWrite(s, uint64(i+1), ev)
	}
	return s
}

// own and kids are the subject positions of an artifact with messages on
// its own subject only, or on its children's subject (labelled level_1)
// only.
func own(seq uint64) Subjects  { return Subjects{OwnSeq: seq} }
func kids(seq uint64) Subjects { return Subjects{KidsLabel: label(1), KidsSeq: seq} }

func ids(as []Artifact) []ulid.ULID {
	out := []ulid.ULID{}
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

func childIDs(s *State, parent ulid.ULID) []ulid.ULID {
	out := []ulid.ULID{}
	s.Children(parent, func(a Artifact) bool {
		out = append(out, a.ID)
		return true
	})
	return out
}

func TestApply(t *testing.T) {
	tests := []struct {
		name   string
		events []events.Event
		// want is every artifact ever created, in creation order, with
		// the positions of its subjects.
		want     []Artifact
		absent   []ulid.ULID
		children map[ulid.ULID][]ulid.ULID
		counts   map[string][]int
		ignored  int
	}{
		{
			name:   "create root",
			events: []events.Event{created(root, none, 0, `{"name":"r"}`, "a", "b")},
			want: []Artifact{{
				ID: root, Hierarchy: "default", Tags: []string{"a", "b"},
				Data: json.RawMessage(`{"name":"r"}`), ListData: json.RawMessage(`{"name":"r"}`),
				Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, CreatedSeq: 1,
			}},
			absent:   []ulid.ULID{child, unknown},
			children: map[ulid.ULID][]ulid.ULID{root: {}, unknown: {}},
			counts:   map[string][]int{"default": {1}},
		},
		{
			name: "create child",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(child, root, 1, `{"content":"big","k":1}`, "x"),
			},
			want: []Artifact{{
				ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`),
				Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, Children: 1, CreatedSeq: 1, Subjects: kids(2),
			}, {
				ID: child, Parent: root, Hierarchy: "default", Level: 1, Tags: []string{"x"},
				Data: json.RawMessage(`{"content":"big","k":1}`), ListData: json.RawMessage(`{"k":1}`),
				Version: 1, CreatedAt: at(2), UpdatedAt: at(2), Live: true, CreatedSeq: 2,
			}},
			children: map[ulid.ULID][]ulid.ULID{root: {child}, child: {}},
			counts:   map[string][]int{"default": {1, 1}},
		},
		{
			name: "children in creation order, not id order",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(child3, root, 1, `{}`),
				created(child, root, 1, `{}`),
				created(child2, root, 1, `{}`),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, Children: 3, CreatedSeq: 1, Subjects: kids(4)},
				{ID: child3, Parent: root, Hierarchy: "default", Level: 1, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(2), UpdatedAt: at(2), Live: true, CreatedSeq: 2},
				{ID: child, Parent: root, Hierarchy: "default", Level: 1, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(3), UpdatedAt: at(3), Live: true, CreatedSeq: 3},
				{ID: child2, Parent: root, Hierarchy: "default", Level: 1, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(4), UpdatedAt: at(4), Live: true, CreatedSeq: 4},
			},
			children: map[ulid.ULID][]ulid.ULID{root: {child3, child, child2}},
			counts:   map[string][]int{"default": {1, 3}},
		},
		{
			name: "update",
			events: []events.Event{
				created(root, none, 0, `{"v":1,"content":"a"}`, "old"),
				updated(root, `{"v":2}`, "new", "tags"),
			},
			want: []Artifact{{
				ID: root, Hierarchy: "default", Tags: []string{"new", "tags"},
				Data: json.RawMessage(`{"v":2}`), ListData: json.RawMessage(`{"v":2}`),
				Version: 2, CreatedAt: at(1), UpdatedAt: at(2), Live: true, CreatedSeq: 1, Subjects: own(2),
			}},
			counts: map[string][]int{"default": {1}},
		},
		{
			name: "update of a child moves its own subject, not its parent's",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(child, root, 1, `{}`),
				updated(child, `{"content":1,"v":2}`),
				updated(child, `{"v":3}`, "t"),
			},
			want: []Artifact{{
				ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`),
				Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, Children: 1, CreatedSeq: 1, Subjects: kids(2),
			}, {
				ID: child, Parent: root, Hierarchy: "default", Level: 1, Tags: []string{"t"},
				Data: json.RawMessage(`{"v":3}`), ListData: json.RawMessage(`{"v":3}`),
				Version: 3, CreatedAt: at(2), UpdatedAt: at(4), Live: true, CreatedSeq: 2, Subjects: own(4),
			}},
			children: map[ulid.ULID][]ulid.ULID{root: {child}},
			counts:   map[string][]int{"default": {1, 1}},
		},
		{
			name: "delete leaf",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(child, root, 1, `{"a":1}`, "t"),
				deleted(child),
			},
			want: []Artifact{{
				ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`),
				Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, Children: 0, CreatedSeq: 1, Subjects: kids(2),
			}, {
				ID: child, Parent: root, Hierarchy: "default", Level: 1,
				Version: 2, CreatedAt: at(2), UpdatedAt: at(3), Live: false, CreatedSeq: 2, Subjects: own(3),
			}},
			children: map[ulid.ULID][]ulid.ULID{root: {}, child: {}},
			counts:   map[string][]int{"default": {1, 0}},
		},
		{
			name: "delete a middle child keeps the order of the others",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(child, root, 1, `{}`),
				created(child2, root, 1, `{}`),
				created(child3, root, 1, `{}`),
				deleted(child2),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, Children: 2, CreatedSeq: 1, Subjects: kids(4)},
				{ID: child, Parent: root, Hierarchy: "default", Level: 1, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(2), UpdatedAt: at(2), Live: true, CreatedSeq: 2},
				{ID: child2, Parent: root, Hierarchy: "default", Level: 1, Version: 2, CreatedAt: at(3), UpdatedAt: at(5), CreatedSeq: 3, Subjects: own(5)},
				{ID: child3, Parent: root, Hierarchy: "default", Level: 1, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(4), UpdatedAt: at(4), Live: true, CreatedSeq: 4},
			},
			children: map[ulid.ULID][]ulid.ULID{root: {child, child3}},
			counts:   map[string][]int{"default": {1, 2}},
		},
		{
			name: "delete root",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(root2, none, 0, `{}`),
				deleted(root),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Version: 2, CreatedAt: at(1), UpdatedAt: at(3), CreatedSeq: 1, Subjects: own(3)},
				{ID: root2, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(2), UpdatedAt: at(2), Live: true, CreatedSeq: 2},
			},
			counts: map[string][]int{"default": {1}},
		},
		{
			name: "a seal after a deletion",
			events: []events.Event{
				created(root, none, 0, `{}`),
				deleted(root),
				events.ArtifactSealed{ID: root},
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Version: 2, CreatedAt: at(1), UpdatedAt: at(2), CreatedSeq: 1, Subjects: Subjects{OwnSeq: 2, Sealed: true}},
			},
			counts: map[string][]int{"default": {0}},
		},
		{
			name: "counts per hierarchy and level",
			events: []events.Event{
				created(root, none, 0, `{}`),
				events.ArtifactCreated{ID: root2, Hierarchy: "ml", Data: json.RawMessage(`{}`)},
				events.ArtifactCreated{ID: child, Parent: root2, Hierarchy: "ml", Level: 1, Data: json.RawMessage(`{}`)},
				events.ArtifactCreated{ID: child2, Parent: child, Hierarchy: "ml", Level: 2, Data: json.RawMessage(`{}`)},
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, CreatedSeq: 1},
				{ID: root2, Hierarchy: "ml", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(2), UpdatedAt: at(2), Live: true, Children: 1, CreatedSeq: 2, Subjects: kids(3)},
				{ID: child, Parent: root2, Hierarchy: "ml", Level: 1, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(3), UpdatedAt: at(3), Live: true, Children: 1, CreatedSeq: 3, Subjects: Subjects{KidsLabel: label(2), KidsSeq: 4}},
				{ID: child2, Parent: child, Hierarchy: "ml", Level: 2, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(4), UpdatedAt: at(4), Live: true, CreatedSeq: 4},
			},
			children: map[ulid.ULID][]ulid.ULID{root2: {child}, child: {child2}},
			counts:   map[string][]int{"default": {1}, "ml": {1, 1, 1}},
		},

		// Events the fold ignores: they move the positions of the subjects
		// they are on, and nothing else.
		{
			name: "second creation of a taken root id",
			events: []events.Event{
				created(root, none, 0, `{"first":true}`, "a"),
				created(root, none, 0, `{"second":true}`, "b"),
			},
			want: []Artifact{{
				ID: root, Hierarchy: "default", Tags: []string{"a"},
				Data: json.RawMessage(`{"first":true}`), ListData: json.RawMessage(`{"first":true}`),
				Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, CreatedSeq: 1,
			}},
			counts:  map[string][]int{"default": {1}},
			ignored: 1,
		},
		{
			name: "second creation of a taken child id under another parent",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(root2, none, 0, `{}`),
				created(child, root, 1, `{"first":true}`),
				created(child, root2, 1, `{"second":true}`),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, Children: 1, CreatedSeq: 1, Subjects: kids(3)},
				{ID: root2, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(2), UpdatedAt: at(2), Live: true, Children: 0, CreatedSeq: 2, Subjects: kids(4)},
				{ID: child, Parent: root, Hierarchy: "default", Level: 1, Data: json.RawMessage(`{"first":true}`), ListData: json.RawMessage(`{"first":true}`), Version: 1, CreatedAt: at(3), UpdatedAt: at(3), Live: true, CreatedSeq: 3},
			},
			children: map[ulid.ULID][]ulid.ULID{root: {child}, root2: {}},
			counts:   map[string][]int{"default": {2, 1}},
			ignored:  1,
		},
		{
			name: "creation of a deleted id",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(child, root, 1, `{}`),
				deleted(child),
				created(child, root, 1, `{"again":true}`),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, CreatedSeq: 1, Subjects: kids(4)},
				{ID: child, Parent: root, Hierarchy: "default", Level: 1, Version: 2, CreatedAt: at(2), UpdatedAt: at(3), CreatedSeq: 2, Subjects: own(3)},
			},
			children: map[ulid.ULID][]ulid.ULID{root: {}},
			counts:   map[string][]int{"default": {1, 0}},
			ignored:  1,
		},
		{
			name: "creation of a deleted root id",
			events: []events.Event{
				created(root, none, 0, `{}`),
				deleted(root),
				created(root, none, 0, `{"again":true}`),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Version: 2, CreatedAt: at(1), UpdatedAt: at(2), CreatedSeq: 1, Subjects: own(2)},
			},
			counts:  map[string][]int{"default": {0}},
			ignored: 1,
		},
		{
			name:     "creation under an unknown parent",
			events:   []events.Event{created(child, unknown, 1, `{}`)},
			absent:   []ulid.ULID{child, unknown},
			children: map[ulid.ULID][]ulid.ULID{unknown: {}},
			counts:   map[string][]int{},
			ignored:  1,
		},
		{
			name: "creation under a deleted parent",
			events: []events.Event{
				created(root, none, 0, `{}`),
				deleted(root),
				created(child, root, 1, `{}`),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Version: 2, CreatedAt: at(1), UpdatedAt: at(2), CreatedSeq: 1, Subjects: Subjects{OwnSeq: 2, KidsLabel: label(1), KidsSeq: 3}},
			},
			absent:   []ulid.ULID{child},
			children: map[ulid.ULID][]ulid.ULID{root: {}},
			counts:   map[string][]int{"default": {0}},
			ignored:  1,
		},
		{
			name: "creation under a sealed parent",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(child, root, 1, `{}`),
				deleted(root), // has a child: ignored
				events.ArtifactSealed{ID: root},
				created(child2, root, 1, `{}`),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, Children: 1, CreatedSeq: 1, Subjects: Subjects{OwnSeq: 3, KidsLabel: label(1), KidsSeq: 5, Sealed: true}},
				{ID: child, Parent: root, Hierarchy: "default", Level: 1, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(2), UpdatedAt: at(2), Live: true, CreatedSeq: 2},
			},
			absent:   []ulid.ULID{child2},
			children: map[ulid.ULID][]ulid.ULID{root: {child}},
			counts:   map[string][]int{"default": {1, 1}},
			ignored:  2,
		},
		{
			name:    "update of an unknown artifact",
			events:  []events.Event{updated(unknown, `{"a":1}`)},
			absent:  []ulid.ULID{unknown},
			counts:  map[string][]int{},
			ignored: 1,
		},
		{
			name: "a message on an artifact's own subject before its creation counts",
			events: []events.Event{
				created(root, none, 0, `{}`),
				updated(child, `{"early":true}`),
				created(child, root, 1, `{}`),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, Children: 1, CreatedSeq: 1, Subjects: kids(3)},
				{ID: child, Parent: root, Hierarchy: "default", Level: 1, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(3), UpdatedAt: at(3), Live: true, CreatedSeq: 3, Subjects: own(2)},
			},
			counts:  map[string][]int{"default": {1, 1}},
			ignored: 1,
		},
		{
			name: "update of a deleted artifact",
			events: []events.Event{
				created(root, none, 0, `{}`),
				deleted(root),
				updated(root, `{"a":1}`, "t"),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Version: 2, CreatedAt: at(1), UpdatedAt: at(2), CreatedSeq: 1, Subjects: own(3)},
			},
			counts:  map[string][]int{"default": {0}},
			ignored: 1,
		},
		{
			name:    "delete of an unknown artifact",
			events:  []events.Event{deleted(unknown)},
			absent:  []ulid.ULID{unknown},
			counts:  map[string][]int{},
			ignored: 1,
		},
		{
			name: "delete of a deleted artifact",
			events: []events.Event{
				created(root, none, 0, `{}`),
				deleted(root),
				deleted(root),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Version: 2, CreatedAt: at(1), UpdatedAt: at(2), CreatedSeq: 1, Subjects: own(3)},
			},
			counts:  map[string][]int{"default": {0}},
			ignored: 1,
		},
		{
			name: "delete of an artifact with live children",
			events: []events.Event{
				created(root, none, 0, `{"a":1}`, "t"),
				created(child, root, 1, `{}`),
				deleted(root),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Tags: []string{"t"}, Data: json.RawMessage(`{"a":1}`), ListData: json.RawMessage(`{"a":1}`), Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, Children: 1, CreatedSeq: 1, Subjects: Subjects{OwnSeq: 3, KidsLabel: label(1), KidsSeq: 2}},
				{ID: child, Parent: root, Hierarchy: "default", Level: 1, Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(2), UpdatedAt: at(2), Live: true, CreatedSeq: 2},
			},
			children: map[ulid.ULID][]ulid.ULID{root: {child}},
			counts:   map[string][]int{"default": {1, 1}},
			ignored:  1,
		},
		{
			name: "delete once the last child is gone",
			events: []events.Event{
				created(root, none, 0, `{}`),
				created(child, root, 1, `{}`),
				deleted(root),
				deleted(child),
				deleted(root),
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Version: 2, CreatedAt: at(1), UpdatedAt: at(5), CreatedSeq: 1, Subjects: Subjects{OwnSeq: 5, KidsLabel: label(1), KidsSeq: 2}},
				{ID: child, Parent: root, Hierarchy: "default", Level: 1, Version: 2, CreatedAt: at(2), UpdatedAt: at(4), CreatedSeq: 2, Subjects: own(4)},
			},
			counts:  map[string][]int{"default": {0, 0}},
			ignored: 1,
		},
		{
			name: "an event of an unknown type, with no subject",
			events: []events.Event{
				created(root, none, 0, `{}`),
				nil,
			},
			want: []Artifact{
				{ID: root, Hierarchy: "default", Data: json.RawMessage(`{}`), ListData: json.RawMessage(`{}`), Version: 1, CreatedAt: at(1), UpdatedAt: at(1), Live: true, CreatedSeq: 1},
			},
			counts:  map[string][]int{"default": {1}},
			ignored: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fold(tt.events...)
			if got, want := s.Applied(), uint64(len(tt.events)); got != want {
				t.Fatalf("Applied = %d, want %d", got, want)
			}
			var live []ulid.ULID
			for _, want := range tt.want {
				got, ok := s.Get(want.ID)
				if !ok {
					t.Fatalf("Get(%s) found nothing", want.ID)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("Get(%s) =\n%+v\nwant\n%+v", want.ID, got, want)
				}
				if want.Live {
					live = append(live, want.ID)
				}
			}
			for _, id := range tt.absent {
				if got, ok := s.Get(id); ok {
					t.Fatalf("Get(%s) = %+v, want nothing", id, got)
				}
			}
			if got := s.Total(); got != len(live) {
				t.Fatalf("Total = %d, want %d", got, len(live))
			}
			if got := ids(s.Page(0, 100)); !slices.Equal(got, live) {
				t.Fatalf("Page(0, 100) = %v, want %v", got, live)
			}
			for parent, want := range tt.children {
				if got := childIDs(s, parent); !slices.Equal(got, want) {
					t.Fatalf("Children(%s) = %v, want %v", parent, got, want)
				}
			}
			if got := s.Counts(); !reflect.DeepEqual(got, tt.counts) {
				t.Fatalf("Counts = %v, want %v", got, tt.counts)
			}
			if got := s.Ignored(); got != tt.ignored {
				t.Fatalf("Ignored = %d, want %d", got, tt.ignored)
			}
		})
	}
}

// Positions are stream sequences: they need not start at 1 or be
// contiguous, and an ignored event still moves the position of the subject
// it is on.
func TestApplyPositions(t *testing.T) {
	s := NewState(testLayout)
	if got := s.Applied(); got != 0 {
		t.Fatalf("Applied of an empty state = %d, want 0", got)
	}
	place := events.Place{Key: events.Key(root), Hierarchy: "default"}
	steps := []struct {
		seq     uint64
		subject string
		ev      events.Event
		of      ulid.ULID
		want    Subjects
	}{
		{seq: 7, subject: testLayout.Root(place, root, "level_0"), ev: created(root, none, 0, `{}`), of: root},
		{seq: 9, subject: testLayout.Art(place, root), ev: nil, of: root, want: own(9)},
		{seq: 20, subject: testLayout.Kids(place, root, "level_1"), ev: created(child, root, 1, `{}`), of: root, want: Subjects{OwnSeq: 9, KidsLabel: "level_1", KidsSeq: 20}},
		{seq: 21, subject: testLayout.Kids(place, unknown, "level_1"), ev: created(child2, unknown, 1, `{}`), of: unknown},
		{seq: 40, subject: testLayout.Art(place, child), ev: updated(child, `{}`), of: child, want: own(40)},
		{seq: 41, subject: testLayout.Art(place, root), ev: deleted(root), of: root, want: Subjects{OwnSeq: 41, KidsLabel: "level_1", KidsSeq: 20}},
	}
	for _, st := range steps {
		s.Apply(events.Envelope{Seq: st.seq, Time: at(st.seq), Subject: st.subject, Event: st.ev})
		if got := s.Applied(); got != st.seq {
			t.Fatalf("Applied after %d = %d, want %d", st.seq, got, st.seq)
		}
		if a, _ := s.Get(st.of); a.Subjects != st.want {
			t.Fatalf("after %d: Get(%s).Subjects = %+v, want %+v", st.seq, st.of, a.Subjects, st.want)
		}
	}
	// The delete at 41 is ignored (root has a live child), and it moved
	// root's own subject all the same: the next write to root expects 41.
	if a, _ := s.Get(root); !a.Live || a.Children != 1 || a.Version != 1 || a.OwnSeq != 41 {
		t.Fatalf("root = Live %v Children %d Version %d OwnSeq %d, want true 1 1 41", a.Live, a.Children, a.Version, a.OwnSeq)
	}
	if a, _ := s.Get(child); a.OwnSeq != 40 || a.Version != 2 || a.CreatedSeq != 20 {
		t.Fatalf("child = OwnSeq %d Version %d CreatedSeq %d, want 40 2 20", a.OwnSeq, a.Version, a.CreatedSeq)
	}
	if got := s.Ignored(); got != 3 {
		t.Fatalf("Ignored = %d, want 3 (the unknown type, the orphan, the delete)", got)
	}
}

func TestCountsIsACopy(t *testing.T) {
	s := fold(created(root, none, 0, `{}`), created(child, root, 1, `{}`))
	c := s.Counts()
	c["default"][0] = 42
	c["other"] = []int{1}
	if got := s.Counts(); !reflect.DeepEqual(got, map[string][]int{"default": {1, 1}}) {
		t.Fatalf("Counts after changing a returned map = %v, want map[default:[1 1]]", got)
	}
}

func TestChildrenStopsWhenFnReturnsFalse(t *testing.T) {
	s := fold(created(root, none, 0, `{}`), created(child, root, 1, `{}`), created(child2, root, 1, `{}`))
	var got []ulid.ULID
	s.Children(root, func(a Artifact) bool {
		got = append(got, a.ID)
		return false
	})
	if !slices.Equal(got, []ulid.ULID{child}) {
		t.Fatalf("Children visited %v, want only %v", got, child)
	}
}

func TestPage(t *testing.T) {
	// Roots 1..8 in creation order; 2, 5 and 6 deleted: live 1 3 4 7 8.
	var evs []events.Event
	for i := range uint64(8) {
		evs = append(evs, created(id(i+1), none, 0, `{}`))
	}
	evs = append(evs, deleted(id(2)), deleted(id(5)), deleted(id(6)))
	s := fold(evs...)
	tests := []struct {
		offset, size int
		want         []uint64
	}{
		{0, 10, []uint64{1, 3, 4, 7, 8}},
		{0, 5, []uint64{1, 3, 4, 7, 8}},
		{0, 2, []uint64{1, 3}},
		{1, 2, []uint64{3, 4}},
		{2, 2, []uint64{4, 7}},
		{3, 1, []uint64{7}},
		{4, 1, []uint64{8}},
		{4, 100, []uint64{8}},
		{5, 1, nil},
		{6, 10, nil},
		{1000, 10, nil},
		{0, 0, nil},
		{2, 0, nil},
		{-1, 3, nil},
		{0, -1, nil},
	}
	for _, tt := range tests {
		var want []ulid.ULID
		for _, n := range tt.want {
			want = append(want, id(n))
		}
		got := s.Page(tt.offset, tt.size)
		if len(got) != len(want) {
			t.Fatalf("Page(%d, %d) has %d artifacts, want %d", tt.offset, tt.size, len(got), len(want))
		}
		if len(want) > 0 && !slices.Equal(ids(got), want) {
			t.Fatalf("Page(%d, %d) = %v, want %v", tt.offset, tt.size, ids(got), want)
		}
	}
	if got := s.Total(); got != 5 {
		t.Fatalf("Total = %d, want 5", got)
	}
	if got := s.Page(0, 10); got[1].Version != 1 || got[1].CreatedSeq != 3 {
		t.Fatalf("Page(0, 10)[1] = Version %d CreatedSeq %d, want 1 3", got[1].Version, got[1].CreatedSeq)
	}
}

// model is a naive fold of the events TestPageMatchesANaiveFilter applies.
type model struct {
	order  []ulid.ULID
	parent map[ulid.ULID]ulid.ULID
	level  map[ulid.ULID]int
	live   map[ulid.ULID]bool
	kids   map[ulid.ULID]int
}

func (m *model) liveList() []ulid.ULID {
	var out []ulid.ULID
	for _, id := range m.order {
		if m.live[id] {
			out = append(out, id)
		}
	}
	return out
}

// The fenwick-backed Page, Total, Children and Counts agree with a plain
// filter of the creation order after many random creations and deletions,
// interleaved so that the index grows after deletions too.
func TestPageMatchesANaiveFilter(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := NewState(testLayout)
	m := &model{parent: map[ulid.ULID]ulid.ULID{}, level: map[ulid.ULID]int{}, live: map[ulid.ULID]bool{}, kids: map[ulid.ULID]int{}}
	var seq uint64
	apply := func(ev events.Event) {
		seq++
		applyWrite(s, seq, ev)
	}
	check := func() {
		t.Helper()
		live := m.liveList()
		if got := s.Total(); got != len(live) {
			t.Fatalf("at %d: Total = %d, want %d", seq, got, len(live))
		}
		if got := ids(s.Page(0, len(live)+1)); !slices.Equal(got, live) {
			t.Fatalf("at %d: Page(0, all) differs from the live list", seq)
		}
		for range 50 {
			offset, size := rng.IntN(len(live)+3), rng.IntN(40)
			want := live[min(offset, len(live)):min(offset+size, len(live))]
			if got := ids(s.Page(offset, size)); !slices.Equal(got, want) {
				t.Fatalf("at %d: Page(%d, %d) = %v, want %v", seq, offset, size, got, want)
			}
		}
		counts := map[string][]int{}
		for _, id := range m.order {
			c := counts["default"]
			for len(c) <= m.level[id] {
				c = append(c, 0)
			}
			if m.live[id] {
				c[m.level[id]]++
			}
			counts["default"] = c
		}
		if got := s.Counts(); !reflect.DeepEqual(got, counts) {
			t.Fatalf("at %d: Counts = %v, want %v", seq, got, counts)
		}
		for _, p := range live[:min(20, len(live))] {
			var want []ulid.ULID
			for _, id := range m.order {
				if m.live[id] && m.parent[id] == p {
					want = append(want, id)
				}
			}
			if got := childIDs(s, p); !slices.Equal(got, want) {
				t.Fatalf("at %d: Children(%s) = %v, want %v", seq, p, got, want)
			}
		}
	}
	next := uint64(1000)
	for round := range 4 {
		for range 250 {
			next++
			c := id(next)
			live := m.liveList()
			if len(live) == 0 || rng.IntN(3) == 0 {
				apply(created(c, none, 0, `{}`))
				m.level[c] = 0
			} else {
				p := live[rng.IntN(len(live))]
				apply(created(c, p, m.level[p]+1, `{}`))
				m.parent[c], m.level[c] = p, m.level[p]+1
				m.kids[p]++
			}
			m.order = append(m.order, c)
			m.live[c] = true
		}
		// Delete about half the leaves, and try (in vain) some parents.
		for _, id := range m.liveList() {
			if rng.IntN(2) == 0 {
				continue
			}
			apply(deleted(id))
			if m.kids[id] == 0 {
				m.live[id] = false
				if p, ok := m.parent[id]; ok {
					m.kids[p]--
				}
			}
		}
		if len(m.order) != 250*(round+1) {
			t.Fatalf("model has %d artifacts, want %d", len(m.order), 250*(round+1))
		}
		check()
	}
	if got := s.Total(); got == 0 || got == len(m.order) {
		t.Fatalf("Total = %d of %d: the test deleted none or all", got, len(m.order))
	}
}

func BenchmarkApply(b *testing.B) {
	s := NewState(testLayout)
	place := events.Place{Key: events.Key(root), Hierarchy: "default"}
	s.Apply(events.Envelope{Seq: 1, Time: t0, Subject: testLayout.Root(place, root, "level_0"), Event: created(root, none, 0, `{}`)})
	kids := testLayout.Kids(place, root, "level_1")
	data := json.RawMessage(`{"type":"generic","metadata":{"k":1}}`)
	seq := uint64(1)
	for b.Loop() {
		seq++
		s.Apply(events.Envelope{Seq: seq, Time: t0, Subject: kids, Event: events.ArtifactCreated{
			ID: id(seq), Parent: root, Hierarchy: "default", Level: 1, Data: data,
		}})
	}
	if a, _ := s.Get(root); a.Children != int(seq-1) || a.KidsSeq != seq {
		b.Fatalf("root has %d children, kids at %d; want %d and %d", a.Children, a.KidsSeq, seq-1, seq)
	}
}

// An event whose subject names another artifact than its body was not
// written by arbor's commands: the fold moves the position the server
// moved, and folds nothing from it.
func TestApplyTrustsTheSubject(t *testing.T) {
	s := NewState(testLayout)
	a, b := ulid.Make(), ulid.Make()
	pa := events.Place{Key: events.Key(a), Hierarchy: "h"}
	pb := events.Place{Key: events.Key(b), Hierarchy: "h"}
	s.Apply(events.Envelope{Seq: 1, Subject: testLayout.Root(pa, a, "l"), Event: events.ArtifactCreated{ID: a, Hierarchy: "h", Data: json.RawMessage(`{}`)}})
	s.Apply(events.Envelope{Seq: 2, Subject: testLayout.Root(pb, b, "l"), Event: events.ArtifactCreated{ID: b, Hierarchy: "h", Data: json.RawMessage(`{}`)}})
	forged := events.ArtifactUpdated{ID: a, Data: json.RawMessage(`{"forged":true}`)}
	s.Apply(events.Envelope{Seq: 3, Subject: testLayout.Art(pb, b), Event: forged})
	got, _ := s.Get(a)
	if got.Version != 1 || string(got.Data) != `{}` || got.OwnSeq != 0 {
		t.Fatalf("a = version %d data %s OwnSeq %d, want the forged update ignored", got.Version, got.Data, got.OwnSeq)
	}
	if got, _ := s.Get(b); got.Version != 1 || got.OwnSeq != 3 {
		t.Fatalf("b = version %d OwnSeq %d, want 1 and 3 (where the server counted it)", got.Version, got.OwnSeq)
	}
	if got := s.Ignored(); got != 1 {
		t.Fatalf("Ignored = %d, want 1", got)
	}
}

// sha is a SHA-256 as arbor writes it: 64 lowercase hex digits.
const sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// withContent is an update of x to data with the content c.
func withContent(x ulid.ULID, data string, c events.Content) events.ArtifactUpdated {
	return events.ArtifactUpdated{ID: x, Tags: []string{}, Data: json.RawMessage(data), Content: &c}
}

// legacyIn is a subject of the first layout in hierarchy h.
func legacyIn(h string, b, x ulid.ULID, label, kind string) string {
	return "arbor." + h + "." + b.String() + "." + x.String() + "." + label + "." + kind
}

// A creation or an update whose payload arbor never writes (data that is
// no JSON object, a content reference arbor never makes) is ignored and
// counted, whatever the layout: the artifact stays as it was, readable and
// writable, and only the positions the server moved move. So is an event
// of the first layout whose hierarchy is not its subject's.
func TestFoldIgnoresPayloadsArborNeverWrites(t *testing.T) {
	// rA as it is after createA and one ignored message on its own subject.
	untouched := map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: own(2)}}
	update := func(name string, ev events.Event) layoutCase {
		return layoutCase{
			name:    name,
			msgs:    []msg{createA, {artSubj(aHome, rA), ev}},
			want:    untouched,
			page:    []ulid.ULID{rA},
			counts:  map[string][]int{"default": {1}},
			ignored: 1,
		}
	}
	var tests []layoutCase
	for _, data := range []string{`[1,2]`, `"x"`, `null`, ``, `1`, `true`, ` `, `{"a":`, `{"a":}`, `{"a":1}}`, `{} {}`} {
		tests = append(tests, update("update with data "+strconv.Quote(data), updated(rA, data)))
	}
	moved := `{"content_type":"application/json","content":null}`
	nullAt := strings.Index(moved, "null")
	fileRef := events.Content{SHA256: sha, Size: 5, Type: "application/zip"}
	movedRef := events.Content{SHA256: sha, Size: 28, Type: "application/json", JSON: true, Offset: nullAt}
	for name, c := range map[string]events.Content{
		"a SHA-256 in capitals":          {SHA256: "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08", Size: 5, Type: "application/zip"},
		"a SHA-256 of 63 digits":         {SHA256: sha[:63], Size: 5, Type: "application/zip"},
		"a SHA-256 that is not hex":      {SHA256: "g" + sha[1:], Size: 5, Type: "application/zip"},
		"no SHA-256":                     {Size: 5, Type: "application/zip"},
		"a negative size":                {SHA256: sha, Size: -1, Type: "application/zip"},
		"no content type":                {SHA256: sha, Size: 5},
		"a file with an offset":          {SHA256: sha, Size: 5, Type: "application/zip", Offset: 3},
		"moved JSON of no bytes":         {SHA256: sha, Type: "application/json", JSON: true, Offset: nullAt},
		"moved JSON past the data":       {SHA256: sha, Size: 28, Type: "application/json", JSON: true, Offset: len(moved)},
		"moved JSON at a negative place": {SHA256: sha, Size: 28, Type: "application/json", JSON: true, Offset: -1},
		"moved JSON at no null":          {SHA256: sha, Size: 28, Type: "application/json", JSON: true, Offset: 0},
		"moved JSON at another member":   {SHA256: sha, Size: 28, Type: "application/json", JSON: true, Offset: 16},
	} {
		tests = append(tests, update("update with "+name, withContent(rA, moved, c)))
	}
	tests = append(tests,
		update(`moved JSON at a "null" within a string`, withContent(rA, `{"a":"null","content":null}`,
			events.Content{SHA256: sha, Size: 28, Type: "application/json", JSON: true, Offset: 6})),
		update("moved JSON at the null of another member", withContent(rA, `{"b":null,"content":null}`,
			events.Content{SHA256: sha, Size: 28, Type: "application/json", JSON: true, Offset: 5})),
		update("moved JSON where data has no content", withContent(rA, `{"b":null}`,
			events.Content{SHA256: sha, Size: 28, Type: "application/json", JSON: true, Offset: 5})),
		layoutCase{
			name: "well-formed content is folded in",
			msgs: []msg{createA,
				{artSubj(aHome, rA), withContent(rA, `{"content_type":"application/zip"}`, fileRef)},
				{artSubj(aHome, rA), withContent(rA, moved, movedRef)},
				{artSubj(aHome, rA), withContent(rA, `{ "content" : null }`,
					events.Content{SHA256: sha, Size: 1, Type: "text/plain; charset=utf-8", JSON: true, Offset: 14})},
			},
			want:   map[ulid.ULID]seen{rA: {Live: true, Version: 4, Key: keyA, Data: `{ "content" : null }`, Subjects: own(4)}},
			page:   []ulid.ULID{rA},
			counts: map[string][]int{"default": {1}},
		},
		layoutCase{
			name:   "a root created with data that is no object",
			msgs:   []msg{createA, {rootSubj(bHome, rB), created(rB, none, 0, `[1]`)}},
			want:   map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`}},
			absent: []ulid.ULID{rB}, page: []ulid.ULID{rA},
			counts: map[string][]int{"default": {1}}, ignored: 1,
		},
		layoutCase{
			name: "a child created with a malformed content reference",
			msgs: []msg{createA, {kidsSubj(aHome, rA, "level_1"), events.ArtifactCreated{ID: cA, Parent: rA, Hierarchy: "default",
				Level: 1, Data: json.RawMessage(moved), Content: &events.Content{SHA256: sha, Size: -5, Type: "x/y"}}}},
			want: map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`,
				Subjects: Subjects{KidsLabel: "level_1", KidsSeq: 2}}},
			absent: []ulid.ULID{cA}, page: []ulid.ULID{rA},
			counts: map[string][]int{"default": {1}}, ignored: 1,
		},
		layoutCase{
			name: "the first layout: data that is no object",
			msgs: []msg{
				{legacySubj(rA, rA, "level_0", "created"), created(rA, none, 0, `{}`)},
				{legacySubj(rA, cA, "level_1", "created"), created(cA, rA, 1, `"x"`)},
				{legacySubj(rA, rA, "level_0", "updated"), updated(rA, `[]`)},
			},
			want:   map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`}},
			absent: []ulid.ULID{cA}, page: []ulid.ULID{rA},
			counts: map[string][]int{"default": {1}}, ignored: 2,
		},
		layoutCase{
			name: "the first layout: a hierarchy that is not the subject's",
			msgs: []msg{
				{legacySubj(rA, rA, "level_0", "created"), created(rA, none, 0, `{}`)},
				{legacyIn("other", rB, rB, "level_0", "created"), created(rB, none, 0, `{}`)},
				{legacyIn("other", rA, cA, "level_1", "created"), events.ArtifactCreated{ID: cA, Parent: rA, Hierarchy: "other",
					Level: 1, Data: json.RawMessage(`{}`)}},
				{legacyIn("other", rA, rA, "level_0", "updated"), updated(rA, `{"v":2}`)},
				{legacyIn("other", rA, rA, "level_0", "deleted"), deleted(rA)},
			},
			want:   map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`}},
			absent: []ulid.ULID{rB, cA}, page: []ulid.ULID{rA},
			counts: map[string][]int{"default": {1}}, ignored: 4,
		},
	)
	runLayoutCases(t, tests)
}
