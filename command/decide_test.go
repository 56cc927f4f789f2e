package command

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/hierarchy"
	"arbor/projection"
)

// testLayout has several seal subjects per artifact, so that a table can
// tell "every seal" from "one seal".
var testLayout = events.Layout{Prefix: "arbor", Shards: events.DefaultShards, Seals: 4}

// Fixed ids, so that a failing case names something readable. Roots carry
// placement keys of their own, each in another shard; children keep key 0,
// so that a subject in the child's own shard rather than its root's shows.
var (
	idExp      = keyed(1, 0x1234) // ml_pipeline root, one live child (idModel)
	idModel    = testID(2)        // under idExp, updated once, one live child (idPred)
	idPred     = testID(3)        // under idModel, level 2: the last labelled level
	idGone     = keyed(4, 0x7fff) // ml_pipeline root, deleted
	idDoc      = keyed(5, 0x0155) // documents root (no labels)
	idDoc1     = testID(6)        // documents, level 1
	idDoc2     = testID(7)        // documents, level 2
	idDoc3     = testID(8)        // documents, level 3
	idOld      = keyed(9, 0x4321) // root of a hierarchy arbor is no longer started with
	idEmptied  = keyed(10, 0x2abc)
	idDropped  = testID(11)        // the deleted child of idEmptied
	idOldKid   = testID(12)        // under idOld, created when its kids subject was labelled "step"
	idSealed   = keyed(13, 0x6000) // live ml_pipeline root with a seal in the log
	idFresh    = testID(20)        // never used
	idStranger = testID(21)        // never used
	idKeyed    = keyed(22, 0x7abc) // never used, with a placement key
)

func testID(n byte) ulid.ULID { return ulid.ULID{0: 1, 15: n} }

func keyed(n byte, key uint16) ulid.ULID { return events.WithKey(testID(n), key) }

// at is the place of the tree whose root is root.
func at(root ulid.ULID, hierarchy string) events.Place {
	return events.Place{Key: events.Key(root), Hierarchy: hierarchy}
}

var (
	mlPipeline = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}
	documents  = hierarchy.Hierarchy{Name: "documents"}
	t0         = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	pExp     = at(idExp, "ml_pipeline")
	pGone    = at(idGone, "ml_pipeline")
	pDoc     = at(idDoc, "documents")
	pOld     = at(idOld, "retired")
	pEmptied = at(idEmptied, "ml_pipeline")
	pSealed  = at(idSealed, "ml_pipeline")
)

func testSet(t *testing.T) hierarchy.Set {
	t.Helper()
	hs, err := hierarchy.NewSet(mlPipeline, documents)
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// msg is one message of a test log: an event on the subject arbor writes
// it to.
type msg struct {
	seq     uint64
	subject string
	event   events.Event
}

// sealsOf are the messages of the seals written with the deletion of id at
// seq, in one batch.
func sealsOf(l events.Layout, p events.Place, id ulid.ULID, seq uint64) []msg {
	var out []msg
	for i := range l.Seals {
		out = append(out, msg{seq + 1 + uint64(i), l.Seal(p, id, i), events.ArtifactSealed{ID: id}})
	}
	return out
}

// allSeals are the seal subjects of id.
func allSeals(l events.Layout, p events.Place, id ulid.ULID) []string {
	var out []string
	for i := range l.Seals {
		out = append(out, l.Seal(p, id, i))
	}
	return out
}

// testState folds a small log whose positions go up in tens (a batch's
// seals follow its deletion), so that a position cannot be mistaken for a
// count of events. The fold must take every message.
func testState(t *testing.T) *projection.State {
	t.Helper()
	l := testLayout
	data := json.RawMessage(`{"k":1}`)
	tags := []string{}
	created := func(id, parent ulid.ULID, h string, level int) events.ArtifactCreated {
		return events.ArtifactCreated{ID: id, Parent: parent, Hierarchy: h, Level: level, Tags: tags, Data: data}
	}
	log := []msg{
		{10, l.Root(pExp, idExp, "experiment"), created(idExp, ulid.ULID{}, "ml_pipeline", 0)},
		{20, l.Kids(pExp, idExp, "model"), created(idModel, idExp, "ml_pipeline", 1)},
		{30, l.Kids(pExp, idModel, "predictions"), created(idPred, idModel, "ml_pipeline", 2)},
		{40, l.Art(pExp, idModel), events.ArtifactUpdated{ID: idModel, Tags: []string{"v2"}, Data: data}},
		{50, l.Root(pGone, idGone, "experiment"), created(idGone, ulid.ULID{}, "ml_pipeline", 0)},
		{60, l.Art(pGone, idGone), events.ArtifactDeleted{ID: idGone}},
	}
	log = append(log, sealsOf(l, pGone, idGone, 60)...)
	log = append(log, []msg{
		{70, l.Root(pDoc, idDoc, "level_0"), created(idDoc, ulid.ULID{}, "documents", 0)},
		{80, l.Kids(pDoc, idDoc, "level_1"), created(idDoc1, idDoc, "documents", 1)},
		{90, l.Kids(pDoc, idDoc1, "level_2"), created(idDoc2, idDoc1, "documents", 2)},
		{100, l.Kids(pDoc, idDoc2, "level_3"), created(idDoc3, idDoc2, "documents", 3)},
		// Written while "retired" was configured with labels run, step.
		{110, l.Root(pOld, idOld, "run"), created(idOld, ulid.ULID{}, "retired", 0)},
		{115, l.Kids(pOld, idOld, "step"), created(idOldKid, idOld, "retired", 1)},
		{120, l.Root(pEmptied, idEmptied, "experiment"), created(idEmptied, ulid.ULID{}, "ml_pipeline", 0)},
		{130, l.Kids(pEmptied, idEmptied, "model"), created(idDropped, idEmptied, "ml_pipeline", 1)},
		{140, l.Art(pEmptied, idDropped), events.ArtifactDeleted{ID: idDropped}},
	}...)
	log = append(log, sealsOf(l, pEmptied, idDropped, 140)...)
	log = append(log, []msg{
		{150, l.Art(pEmptied, idEmptied), events.ArtifactUpdated{ID: idEmptied, Tags: tags, Data: data}},
		{160, l.Root(pSealed, idSealed, "experiment"), created(idSealed, ulid.ULID{}, "ml_pipeline", 0)},
		// A seal without a deletion (written by hand): the parent lives,
		// but no child can be created under it.
		{170, l.Seal(pSealed, idSealed, 2), events.ArtifactSealed{ID: idSealed}},
	}...)
	s := projection.NewState(l)
	for i, m := range log {
		s.Apply(events.Envelope{ID: ulid.Make(), Seq: m.seq, Subject: m.subject, Time: t0.Add(time.Duration(i) * time.Second), Event: m.event})
	}
	if s.Ignored() != 0 {
		t.Fatalf("the fold ignored %d messages of the test log, want 0", s.Ignored())
	}
	return s
}

func wantValidation(t *testing.T, err error, field string) {
	t.Helper()
	var v *ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("err = %v, want a *ValidationError on %s", err, field)
	}
	if len(v.Errors) != 1 || v.Errors[0].Field != field {
		t.Fatalf("err = %v, want one error on field %q", err, field)
	}
}

// checkErr checks err against a table's expectation: field names the field
// of a *ValidationError, conflict asks for a *ConflictError, and is for a
// sentinel. It reports whether an error was expected.
func checkErr(t *testing.T, err error, field string, conflict bool, is error) bool {
	t.Helper()
	switch {
	case field != "":
		wantValidation(t, err, field)
	case conflict:
		var c *ConflictError
		if !errors.As(err, &c) {
			t.Fatalf("err = %v, want a *ConflictError", err)
		}
	case is != nil:
		if !errors.Is(err, is) {
			t.Fatalf("err = %v, want %v", err, is)
		}
	default:
		if err != nil {
			t.Fatalf("err = %v, want none", err)
		}
		return false
	}
	return true
}

func TestDecideCreate(t *testing.T) {
	l := testLayout
	data := json.RawMessage(`{"x":true}`)
	tags := []string{"a", "b"}
	// root is the write of a root's creation: on its root subject,
	// expecting no creation of the id as a root in any hierarchy.
	root := func(id ulid.ULID, h, label string) events.Write {
		return events.Write{
			Subject: l.Root(at(id, h), id, label),
			Expect:  events.Expect{Subject: l.RootFilter(id)},
			Label:   label,
		}
	}
	tests := []struct {
		name      string
		c         Create
		id        ulid.ULID
		wantLevel int
		wantHier  string
		// For a root, the whole write. For a child, the write but its
		// precondition, which must name one of wantSeals at 0.
		want      events.Write
		wantSeals []string
		// expected errors
		field    string
		conflict bool
	}{
		{
			name: "root in the default hierarchy", c: Create{}, id: idFresh,
			wantHier: "ml_pipeline", want: root(idFresh, "ml_pipeline", "experiment"),
		},
		{
			name: "root naming the default hierarchy", c: Create{Hierarchy: "ml_pipeline"}, id: idFresh,
			wantHier: "ml_pipeline", want: root(idFresh, "ml_pipeline", "experiment"),
		},
		{
			name: "root in a hierarchy without labels", c: Create{Hierarchy: "documents"}, id: idFresh,
			wantHier: "documents", want: root(idFresh, "documents", "level_0"),
		},
		{
			name: "root in the shard of its id's placement key", c: Create{}, id: idKeyed,
			wantHier: "ml_pipeline", want: root(idKeyed, "ml_pipeline", "experiment"),
		},
		{
			name: "child of a root, on the root's kids subject", c: Create{Parent: idExp}, id: idFresh,
			wantLevel: 1, wantHier: "ml_pipeline",
			want:      events.Write{Subject: l.Kids(pExp, idExp, "model"), Label: "model"},
			wantSeals: allSeals(l, pExp, idExp),
		},
		{
			name: "grandchild, in the root's shard whatever its parent's id", c: Create{Parent: idModel}, id: idKeyed,
			wantLevel: 2, wantHier: "ml_pipeline",
			want:      events.Write{Subject: l.Kids(pExp, idModel, "predictions"), Label: "predictions"},
			wantSeals: allSeals(l, pExp, idModel),
		},
		{
			name: "child naming its parent's hierarchy", c: Create{Parent: idExp, Hierarchy: "ml_pipeline"}, id: idFresh,
			wantLevel: 1, wantHier: "ml_pipeline",
			want:      events.Write{Subject: l.Kids(pExp, idExp, "model"), Label: "model"},
			wantSeals: allSeals(l, pExp, idExp),
		},
		{
			name: "a parent whose only child was deleted", c: Create{Parent: idEmptied}, id: idFresh,
			wantLevel: 1, wantHier: "ml_pipeline",
			want:      events.Write{Subject: l.Kids(pEmptied, idEmptied, "model"), Label: "model"},
			wantSeals: allSeals(l, pEmptied, idEmptied),
		},
		{
			name: "any depth without labels", c: Create{Parent: idDoc3}, id: idFresh,
			wantLevel: 4, wantHier: "documents",
			want:      events.Write{Subject: l.Kids(pDoc, idDoc3, "level_4"), Label: "level_4"},
			wantSeals: allSeals(l, pDoc, idDoc3),
		},
		{
			name: "the parent's kids subject keeps the label its first child fixed", c: Create{Parent: idOld}, id: idFresh,
			wantLevel: 1, wantHier: "retired",
			want:      events.Write{Subject: l.Kids(pOld, idOld, "step"), Label: "level_1"},
			wantSeals: allSeals(l, pOld, idOld),
		},
		{
			name: "first child in a hierarchy no longer configured", c: Create{Parent: idOldKid}, id: idFresh,
			wantLevel: 2, wantHier: "retired",
			want:      events.Write{Subject: l.Kids(pOld, idOldKid, "level_2"), Label: "level_2"},
			wantSeals: allSeals(l, pOld, idOldKid),
		},
		{name: "too deep in a strict hierarchy", c: Create{Parent: idPred}, id: idFresh, field: "parent_id"},
		{name: "unknown parent", c: Create{Parent: idStranger}, id: idFresh, field: "parent_id"},
		{name: "deleted parent", c: Create{Parent: idGone}, id: idFresh, field: "parent_id"},
		{name: "deleted child as parent", c: Create{Parent: idDropped}, id: idFresh, field: "parent_id"},
		{name: "live parent with a seal", c: Create{Parent: idSealed}, id: idFresh, field: "parent_id"},
		{name: "unknown hierarchy", c: Create{Hierarchy: "nope"}, id: idFresh, field: "hierarchy"},
		{name: "unknown hierarchy is not a subject wildcard", c: Create{Hierarchy: "*"}, id: idFresh, field: "hierarchy"},
		{name: "child naming another hierarchy", c: Create{Parent: idExp, Hierarchy: "documents"}, id: idFresh, field: "hierarchy"},
		{name: "child naming an unknown hierarchy", c: Create{Parent: idExp, Hierarchy: "nope"}, id: idFresh, field: "hierarchy"},
		{name: "id of a live root", c: Create{}, id: idExp, conflict: true},
		{name: "id of a live root, as a child", c: Create{Parent: idEmptied}, id: idExp, conflict: true},
		{name: "id of a live child, as a child", c: Create{Parent: idExp}, id: idModel, conflict: true},
		{name: "id of a live child, as a root", c: Create{}, id: idModel, conflict: true},
		{name: "id of a deleted artifact", c: Create{}, id: idGone, conflict: true},
		{name: "id of a deleted child, under a live parent", c: Create{Parent: idEmptied}, id: idDropped, conflict: true},
	}
	hs := testSet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testState(t)
			c := tt.c
			c.Tags, c.Data = tags, data
			d, err := decideCreate(s, hs, c, tt.id, nil)
			if checkErr(t, err, tt.field, tt.conflict, nil) {
				return
			}
			want := events.ArtifactCreated{
				ID: tt.id, Parent: c.Parent, Hierarchy: tt.wantHier, Level: tt.wantLevel, Tags: tags, Data: data,
			}
			if !reflect.DeepEqual(d.event, want) {
				t.Fatalf("event = %+v, want %+v", d.event, want)
			}
			got := d.write
			if tt.wantSeals != nil {
				// A child expects one of its parent's seals, any, empty.
				if !slices.Contains(tt.wantSeals, got.Expect.Subject) || got.Expect.Last != 0 {
					t.Fatalf("Expect = %+v, want one of %q at 0", got.Expect, tt.wantSeals)
				}
				got.Expect = events.Expect{}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("write = %+v, want %+v", got, tt.want)
			}
			// A root's id taken meanwhile is final; a child's conflict
			// is retried (its parent's seal may have moved).
			var taken *ConflictError
			if root := c.Parent.IsZero(); root != errors.As(d.taken, &taken) {
				t.Fatalf("taken = %v, want a *ConflictError only for a root", d.taken)
			}
		})
	}
}

// A child's creation picks its parent's seal subject at random, so that
// concurrent creations under one parent on a replicated stream check
// different subjects: every seal gets picked.
func TestDecideCreateSpreadsOverSeals(t *testing.T) {
	l := testLayout
	hs := testSet(t)
	s := testState(t)
	picked := map[string]int{}
	for range 200 {
		d, err := decideCreate(s, hs, Create{Parent: idExp, Data: json.RawMessage(`{}`)}, idFresh, nil)
		if err != nil {
			t.Fatal(err)
		}
		picked[d.write.Expect.Subject]++
	}
	for _, seal := range allSeals(l, pExp, idExp) {
		if picked[seal] == 0 {
			t.Errorf("seal %s never picked in 200 decisions: %v", seal, picked)
		}
	}
	if len(picked) != l.Seals {
		t.Errorf("picked %v, want only the %d seals of the parent", picked, l.Seals)
	}
}

func TestDecideUpdate(t *testing.T) {
	l := testLayout
	data := json.RawMessage(`{"y":2}`)
	tags := []string{"c"}
	// own is a write on id's own subject, expecting it at last.
	own := func(p events.Place, id ulid.ULID, label string, last uint64) events.Write {
		art := l.Art(p, id)
		return events.Write{Subject: art, Expect: events.Expect{Subject: art, Last: last}, Label: label}
	}
	tests := []struct {
		name     string
		u        Update
		want     events.Write
		field    string
		conflict bool
		is       error
	}{
		{
			name: "root: its creation and its child's are on other subjects", u: Update{ID: idExp},
			want: own(pExp, idExp, "experiment", 0),
		},
		{
			name: "child updated before, in its root's shard", u: Update{ID: idModel},
			want: own(pExp, idModel, "model", 40),
		},
		{
			name: "leaf never updated", u: Update{ID: idPred},
			want: own(pExp, idPred, "predictions", 0),
		},
		{
			name: "root updated after its child's deletion", u: Update{ID: idEmptied},
			want: own(pEmptied, idEmptied, "experiment", 150),
		},
		{
			name: "unlabelled level", u: Update{ID: idDoc3},
			want: own(pDoc, idDoc3, "level_3", 0),
		},
		{
			name: "hierarchy no longer configured", u: Update{ID: idOld},
			want: own(pOld, idOld, "level_0", 0),
		},
		{
			name: "same parent named", u: Update{ID: idModel, ParentSet: true, Parent: idExp},
			want: own(pExp, idModel, "model", 40),
		},
		{
			name: "a root naming no parent", u: Update{ID: idExp, ParentSet: true},
			want: own(pExp, idExp, "experiment", 0),
		},
		{
			name: "If-Match the current version", u: Update{ID: idModel, IfMatch: 2},
			want: own(pExp, idModel, "model", 40),
		},
		{name: "another parent", u: Update{ID: idModel, ParentSet: true, Parent: idDoc}, conflict: true},
		{name: "an unknown parent", u: Update{ID: idModel, ParentSet: true, Parent: idStranger}, conflict: true},
		{name: "itself as parent", u: Update{ID: idModel, ParentSet: true, Parent: idModel}, conflict: true},
		{name: "a child naming no parent", u: Update{ID: idModel, ParentSet: true}, conflict: true},
		{name: "a root naming a parent", u: Update{ID: idExp, ParentSet: true, Parent: idDoc}, conflict: true},
		{name: "stale If-Match", u: Update{ID: idModel, IfMatch: 1}, is: ErrStale},
		{name: "If-Match ahead of the version", u: Update{ID: idModel, IfMatch: 3}, is: ErrStale},
		{name: "never created", u: Update{ID: idStranger}, is: ErrNotFound},
		{name: "deleted", u: Update{ID: idGone}, is: ErrNotFound},
		{name: "deleted, with the If-Match it had", u: Update{ID: idGone, IfMatch: 2}, is: ErrNotFound},
	}
	hs := testSet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testState(t)
			u := tt.u
			u.Tags, u.Data = tags, data
			a, found := s.Get(u.ID)
			d, err := decideUpdate(a, found, hs, u, nil, s.Layout())
			if checkErr(t, err, tt.field, tt.conflict, tt.is) {
				return
			}
			want := events.ArtifactUpdated{ID: u.ID, Tags: tags, Data: data}
			if !reflect.DeepEqual(d.event, want) {
				t.Fatalf("event = %+v, want %+v", d.event, want)
			}
			if !reflect.DeepEqual(d.write, tt.want) {
				t.Fatalf("write = %+v, want %+v", d.write, tt.want)
			}
			if d.taken != nil {
				t.Fatalf("taken = %v, want none: an update's conflict is retried", d.taken)
			}
		})
	}
}

func TestDecideDelete(t *testing.T) {
	l := testLayout
	// leaf is the deletion of an artifact that cannot have children: one
	// message on its own subject, expecting it at last.
	leaf := func(p events.Place, id ulid.ULID, label string, last uint64) events.Write {
		art := l.Art(p, id)
		return events.Write{Subject: art, Expect: events.Expect{Subject: art, Last: last}, Label: label}
	}
	// inner is the deletion of an artifact that could have children: the
	// same, with every seal of it in one batch, the first expecting its
	// kids subject (labelled kids) at kidsSeq.
	inner := func(p events.Place, id ulid.ULID, label string, last uint64, kids string, kidsSeq uint64) events.Write {
		w := leaf(p, id, label, last)
		w.Seals = allSeals(l, p, id)
		w.SealExpect = events.Expect{Subject: l.Kids(p, id, kids), Last: kidsSeq}
		return w
	}
	tests := []struct {
		name     string
		d        Delete
		want     events.Write
		conflict bool
		is       error
	}{
		{
			name: "leaf at the deepest level: one message", d: Delete{ID: idPred},
			want: leaf(pExp, idPred, "predictions", 0),
		},
		{
			name: "leaf with If-Match its version", d: Delete{ID: idPred, IfMatch: 1},
			want: leaf(pExp, idPred, "predictions", 0),
		},
		{
			name: "root whose only child was deleted: seals expect its kids at that child", d: Delete{ID: idEmptied},
			want: inner(pEmptied, idEmptied, "experiment", 150, "model", 130),
		},
		{
			name: "unlabelled level, never a parent: inner all the same", d: Delete{ID: idDoc3},
			want: inner(pDoc, idDoc3, "level_3", 0, "level_4", 0),
		},
		{
			name: "hierarchy no longer configured: treated as inner", d: Delete{ID: idOldKid},
			want: inner(pOld, idOldKid, "level_1", 0, "level_2", 0),
		},
		{name: "root with a live child", d: Delete{ID: idExp}, conflict: true},
		{name: "child with a live child", d: Delete{ID: idModel}, conflict: true},
		{name: "root of a retired hierarchy with a live child", d: Delete{ID: idOld}, conflict: true},
		{name: "live children and If-Match right", d: Delete{ID: idModel, IfMatch: 2}, conflict: true},
		{name: "stale If-Match", d: Delete{ID: idPred, IfMatch: 2}, is: ErrStale},
		{name: "never created", d: Delete{ID: idStranger}, is: ErrNotFound},
		{name: "already deleted", d: Delete{ID: idGone}, is: ErrNotFound},
		{name: "deleted child", d: Delete{ID: idDropped}, is: ErrNotFound},
	}
	hs := testSet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testState(t)
			a, found := s.Get(tt.d.ID)
			d, err := decideDelete(a, found, hs, tt.d, s.Layout())
			if checkErr(t, err, "", tt.conflict, tt.is) {
				return
			}
			want := events.ArtifactDeleted{ID: tt.d.ID}
			if !reflect.DeepEqual(d.event, want) {
				t.Fatalf("event = %+v, want %+v", d.event, want)
			}
			if !reflect.DeepEqual(d.write, tt.want) {
				t.Fatalf("write = %+v\nwant    %+v", d.write, tt.want)
			}
		})
	}
}

// matchSubject reports whether subject matches filter ('*' wildcards only).
func matchSubject(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	if len(f) != len(s) {
		return false
	}
	for i := range f {
		if f[i] != "*" && f[i] != s[i] {
			return false
		}
	}
	return true
}

// chain is a test log: it checks each decision's preconditions against
// the subjects written so far, then writes it and folds it in.
type chain struct {
	t    *testing.T
	s    *projection.State
	seq  uint64
	last map[string]uint64 // subject -> position of its last message
}

// lastOn is the position of the last message on a subject filter matches.
func (c *chain) lastOn(filter string) uint64 {
	var last uint64
	for subject, seq := range c.last {
		if matchSubject(filter, subject) {
			last = max(last, seq)
		}
	}
	return last
}

// apply checks every precondition of d holds in the log written so far,
// then writes d (a batch's seals right after its event) and folds it in.
// It returns the position of d's event.
func (c *chain) apply(d decision) uint64 {
	c.t.Helper()
	w := d.write
	if got := c.lastOn(w.Expect.Subject); w.Expect.Last != got {
		c.t.Fatalf("%s expects %s at %d; the log has it at %d", d.event.EventType(), w.Expect.Subject, w.Expect.Last, got)
	}
	if w.SealExpect.Subject != "" {
		if got := c.lastOn(w.SealExpect.Subject); w.SealExpect.Last != got {
			c.t.Fatalf("seals expect %s at %d; the log has it at %d", w.SealExpect.Subject, w.SealExpect.Last, got)
		}
	}
	c.seq += 10
	at := c.seq
	c.write(w.Subject, d.event)
	for _, seal := range w.Seals {
		c.seq++
		c.write(seal, events.ArtifactSealed{ID: d.event.ArtifactID()})
	}
	if c.s.Ignored() != 0 {
		c.t.Fatalf("the fold ignored %s on %s", d.event.EventType(), w.Subject)
	}
	return at
}

func (c *chain) write(subject string, ev events.Event) {
	c.last[subject] = c.seq
	c.s.Apply(events.Envelope{ID: ulid.Make(), Seq: c.seq, Subject: subject, Time: t0, Event: ev})
}

// The precondition a decision carries must be where the fold puts the
// events: deciding on a state, writing the decision and deciding again
// must expect exactly the positions of the messages written, and the fold
// must take every message where the decision put it.
func TestDecisionsChain(t *testing.T) {
	hs := testSet(t)
	c := &chain{t: t, s: projection.NewState(testLayout), last: map[string]uint64{}}
	s := c.s
	obj := json.RawMessage(`{}`)
	must := func(d decision, err error) decision {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	update := func(id ulid.ULID) decision {
		t.Helper()
		a, found := s.Get(id)
		return must(decideUpdate(a, found, hs, Update{ID: id, Data: obj}, nil, s.Layout()))
	}
	remove := func(id ulid.ULID) decision {
		t.Helper()
		a, found := s.Get(id)
		return must(decideDelete(a, found, hs, Delete{ID: id}, s.Layout()))
	}
	root, child, sibling, grandchild := keyed(30, 0x0abc), testID(31), testID(32), testID(33)
	c.apply(must(decideCreate(s, hs, Create{Data: obj}, root, nil)))
	c.apply(must(decideCreate(s, hs, Create{Parent: root, Data: obj}, child, nil)))
	siblingAt := c.apply(must(decideCreate(s, hs, Create{Parent: root, Data: obj}, sibling, nil)))
	grandchildAt := c.apply(must(decideCreate(s, hs, Create{Parent: child, Data: obj}, grandchild, nil)))
	if r, _ := s.Get(root); r.KidsSeq != siblingAt || r.Children != 2 {
		t.Fatalf("root KidsSeq, Children = %d, %d, want %d, 2", r.KidsSeq, r.Children, siblingAt)
	}
	c.apply(update(root))
	updatedAt := c.apply(update(root))
	c.apply(remove(grandchild))
	if d := remove(child); len(d.write.Seals) != testLayout.Seals || d.write.SealExpect.Last != grandchildAt {
		t.Fatalf("delete of the child: %+v, want every seal expecting its kids at %d", d.write, grandchildAt)
	}
	c.apply(remove(child))
	if _, err := decideCreate(s, hs, Create{Parent: child, Data: obj}, testID(34), nil); err == nil {
		t.Fatal("a child under a deleted parent was decided")
	}
	c.apply(remove(sibling))
	d := remove(root)
	if d.write.Expect.Last != updatedAt || d.write.SealExpect.Last != siblingAt {
		t.Fatalf("delete of the root expects %+v and %+v, want its update at %d and its last child at %d",
			d.write.Expect, d.write.SealExpect, updatedAt, siblingAt)
	}
	c.apply(d)
	if r, _ := s.Get(root); r.Live || !r.Sealed {
		t.Fatalf("root Live, Sealed = %v, %v, want deleted and sealed", r.Live, r.Sealed)
	}
}

// The subjects of every command, spelled out for the layout of a new
// stream on one server (256 shards, one seal): a change of layout must
// show up here, since subscribers filter on these strings.
func TestSubjectsOfEachCommand(t *testing.T) {
	hs := testSet(t)
	l := events.Layout{Prefix: "arbor", Shards: events.DefaultShards, Seals: 1}
	s := projection.NewState(l)
	c := &chain{t: t, s: s, last: map[string]uint64{}}
	obj := json.RawMessage(`{}`)
	root := ulid.MustParse("01000000004HM0000000000018") // placement key 0x1234: shard 0x1234>>7 = 0x24
	model := ulid.MustParse("0100000000000000000000001A")
	pred := ulid.MustParse("0100000000000000000000001B")
	want := func(d decision, err error, w events.Write) decision {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d.write, w) {
			t.Fatalf("%s: write = %+v\nwant %+v", d.event.EventType(), d.write, w)
		}
		c.apply(d)
		return d
	}

	d, err := decideCreate(s, hs, Create{Data: obj}, root, nil)
	want(d, err, events.Write{
		Subject: "arbor.24.ml_pipeline.root.01000000004HM0000000000018.experiment",
		Expect:  events.Expect{Subject: "arbor.24.*.root.01000000004HM0000000000018.*"},
		Label:   "experiment",
	}) // 10
	d, err = decideCreate(s, hs, Create{Parent: root, Data: obj}, model, nil)
	want(d, err, events.Write{
		Subject: "arbor.24.ml_pipeline.kids.01000000004HM0000000000018.model",
		Expect:  events.Expect{Subject: "arbor.24.ml_pipeline.seal0.01000000004HM0000000000018"},
		Label:   "model",
	}) // 20
	d, err = decideCreate(s, hs, Create{Parent: model, Data: obj}, pred, nil)
	want(d, err, events.Write{
		Subject: "arbor.24.ml_pipeline.kids.0100000000000000000000001A.predictions",
		Expect:  events.Expect{Subject: "arbor.24.ml_pipeline.seal0.0100000000000000000000001A"},
		Label:   "predictions",
	}) // 30
	a, found := s.Get(model)
	d, err = decideUpdate(a, found, hs, Update{ID: model, Data: obj}, nil, l)
	want(d, err, events.Write{
		Subject: "arbor.24.ml_pipeline.art.0100000000000000000000001A",
		Expect:  events.Expect{Subject: "arbor.24.ml_pipeline.art.0100000000000000000000001A"},
		Label:   "model",
	}) // 40
	a, found = s.Get(pred)
	d, err = decideDelete(a, found, hs, Delete{ID: pred}, l)
	want(d, err, events.Write{
		Subject: "arbor.24.ml_pipeline.art.0100000000000000000000001B",
		Expect:  events.Expect{Subject: "arbor.24.ml_pipeline.art.0100000000000000000000001B"},
		Label:   "predictions",
	}) // 50
	a, found = s.Get(model)
	d, err = decideDelete(a, found, hs, Delete{ID: model}, l)
	want(d, err, events.Write{
		Subject:    "arbor.24.ml_pipeline.art.0100000000000000000000001A",
		Expect:     events.Expect{Subject: "arbor.24.ml_pipeline.art.0100000000000000000000001A", Last: 40},
		Label:      "model",
		Seals:      []string{"arbor.24.ml_pipeline.seal0.0100000000000000000000001A"},
		SealExpect: events.Expect{Subject: "arbor.24.ml_pipeline.kids.0100000000000000000000001A.predictions", Last: 30},
	}) // 60, seal 61
}
