package command

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/hierarchy"
	"arbor/projection"
)

// Fixed ids, so that a failing case names something readable.
var (
	idExp      = testID(1)  // ml_pipeline root, one live child (idModel)
	idModel    = testID(2)  // under idExp, updated once, one live child (idPred)
	idPred     = testID(3)  // under idModel, level 2: the last labelled level
	idGone     = testID(4)  // ml_pipeline root, deleted
	idDoc      = testID(5)  // documents root (no labels)
	idDoc1     = testID(6)  // documents, level 1
	idDoc2     = testID(7)  // documents, level 2
	idDoc3     = testID(8)  // documents, level 3
	idOld      = testID(9)  // root of a hierarchy arbor is no longer started with
	idEmptied  = testID(10) // ml_pipeline root whose only child was deleted
	idDropped  = testID(11) // the deleted child of idEmptied
	idFresh    = testID(20) // never used
	idStranger = testID(21) // never used
)

func testID(n byte) ulid.ULID { return ulid.ULID{0: 1, 15: n} }

var (
	mlPipeline = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}
	documents  = hierarchy.Hierarchy{Name: "documents"}
	t0         = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
)

func testSet(t *testing.T) hierarchy.Set {
	t.Helper()
	hs, err := hierarchy.NewSet(mlPipeline, documents)
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

// testState folds a small log whose positions go up in tens, so that a
// boundary position cannot be mistaken for a count of events.
func testState() *projection.State {
	data := json.RawMessage(`{"k":1}`)
	tags := []string{}
	evs := []events.Event{
		events.ArtifactCreated{ID: idExp, Hierarchy: "ml_pipeline", Tags: tags, Data: data},                             // 10
		events.ArtifactCreated{ID: idModel, Parent: idExp, Hierarchy: "ml_pipeline", Level: 1, Tags: tags, Data: data},  // 20
		events.ArtifactCreated{ID: idPred, Parent: idModel, Hierarchy: "ml_pipeline", Level: 2, Tags: tags, Data: data}, // 30
		events.ArtifactUpdated{ID: idModel, Tags: []string{"v2"}, Data: data},                                           // 40
		events.ArtifactCreated{ID: idGone, Hierarchy: "ml_pipeline", Tags: tags, Data: data},                            // 50
		events.ArtifactDeleted{ID: idGone},                                                                                   // 60
		events.ArtifactCreated{ID: idDoc, Hierarchy: "documents", Tags: tags, Data: data},                                    // 70
		events.ArtifactCreated{ID: idDoc1, Parent: idDoc, Hierarchy: "documents", Level: 1, Tags: tags, Data: data},          // 80
		events.ArtifactCreated{ID: idDoc2, Parent: idDoc1, Hierarchy: "documents", Level: 2, Tags: tags, Data: data},         // 90
		events.ArtifactCreated{ID: idDoc3, Parent: idDoc2, Hierarchy: "documents", Level: 3, Tags: tags, Data: data},         // 100
		events.ArtifactCreated{ID: idOld, Hierarchy: "retired", Tags: tags, Data: data},                                      // 110
		events.ArtifactCreated{ID: idEmptied, Hierarchy: "ml_pipeline", Tags: tags, Data: data},                              // 120
		events.ArtifactCreated{ID: idDropped, Parent: idEmptied, Hierarchy: "ml_pipeline", Level: 1, Tags: tags, Data: data}, // 130
		events.ArtifactDeleted{ID: idDropped},                                                                                // 140
	}
	s := projection.NewState()
	for i, ev := range evs {
		s.Apply(events.Envelope{ID: ulid.Make(), Seq: uint64(10 * (i + 1)), Time: t0.Add(time.Duration(i) * time.Second), Event: ev})
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
	data := json.RawMessage(`{"x":true}`)
	tags := []string{"a", "b"}
	tests := []struct {
		name      string
		c         Create
		id        ulid.ULID
		wantLevel int
		wantHier  string
		wantAddr  events.Address
		wantLast  uint64
		// expected errors
		field    string
		conflict bool
	}{
		{
			name: "root in the default hierarchy", c: Create{}, id: idFresh,
			wantHier: "ml_pipeline", wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "experiment"},
		},
		{
			name: "root naming the default hierarchy", c: Create{Hierarchy: "ml_pipeline"}, id: idFresh,
			wantHier: "ml_pipeline", wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "experiment"},
		},
		{
			name: "root in a hierarchy without labels", c: Create{Hierarchy: "documents"}, id: idFresh,
			wantHier: "documents", wantAddr: events.Address{Hierarchy: "documents", Label: "level_0"},
		},
		{
			name: "child of a root expects the root's boundary", c: Create{Parent: idExp}, id: idFresh,
			wantLevel: 1, wantHier: "ml_pipeline", wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "model"}, wantLast: 20,
		},
		{
			name: "grandchild expects the parent's boundary, moved by its update", c: Create{Parent: idModel}, id: idFresh,
			wantLevel: 2, wantHier: "ml_pipeline", wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "predictions"}, wantLast: 40,
		},
		{
			name: "child naming its parent's hierarchy", c: Create{Parent: idExp, Hierarchy: "ml_pipeline"}, id: idFresh,
			wantLevel: 1, wantHier: "ml_pipeline", wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "model"}, wantLast: 20,
		},
		{
			name: "a parent whose only child was deleted", c: Create{Parent: idEmptied}, id: idFresh,
			wantLevel: 1, wantHier: "ml_pipeline", wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "model"}, wantLast: 130,
		},
		{
			name: "any depth without labels", c: Create{Parent: idDoc3}, id: idFresh,
			wantLevel: 4, wantHier: "documents", wantAddr: events.Address{Hierarchy: "documents", Label: "level_4"}, wantLast: 0,
		},
		{
			name: "child in a hierarchy no longer configured", c: Create{Parent: idOld}, id: idFresh,
			wantLevel: 1, wantHier: "retired", wantAddr: events.Address{Hierarchy: "retired", Label: "level_1"}, wantLast: 110,
		},
		{name: "too deep in a strict hierarchy", c: Create{Parent: idPred}, id: idFresh, field: "parent_id"},
		{name: "unknown parent", c: Create{Parent: idStranger}, id: idFresh, field: "parent_id"},
		{name: "deleted parent", c: Create{Parent: idGone}, id: idFresh, field: "parent_id"},
		{name: "deleted child as parent", c: Create{Parent: idDropped}, id: idFresh, field: "parent_id"},
		{name: "unknown hierarchy", c: Create{Hierarchy: "nope"}, id: idFresh, field: "hierarchy"},
		{name: "unknown hierarchy is not a subject wildcard", c: Create{Hierarchy: "*"}, id: idFresh, field: "hierarchy"},
		{name: "child naming another hierarchy", c: Create{Parent: idExp, Hierarchy: "documents"}, id: idFresh, field: "hierarchy"},
		{name: "child naming an unknown hierarchy", c: Create{Parent: idExp, Hierarchy: "nope"}, id: idFresh, field: "hierarchy"},
		{name: "id of a live root", c: Create{}, id: idExp, conflict: true},
		{name: "id of a live child, as a child", c: Create{Parent: idExp}, id: idModel, conflict: true},
		{name: "id of a deleted artifact", c: Create{}, id: idGone, conflict: true},
		{name: "id of a deleted child, under a live parent", c: Create{Parent: idEmptied}, id: idDropped, conflict: true},
	}
	hs := testSet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testState()
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
			if d.addr != tt.wantAddr {
				t.Fatalf("addr = %+v, want %+v", d.addr, tt.wantAddr)
			}
			if d.last != tt.wantLast {
				t.Fatalf("last = %d, want %d", d.last, tt.wantLast)
			}
		})
	}
}

func TestDecideUpdate(t *testing.T) {
	data := json.RawMessage(`{"y":2}`)
	tags := []string{"c"}
	tests := []struct {
		name     string
		u        Update
		wantAddr events.Address
		wantLast uint64
		field    string
		conflict bool
		is       error
	}{
		{
			name: "root, its boundary moved by its child's creation", u: Update{ID: idExp},
			wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "experiment"}, wantLast: 20,
		},
		{
			name: "child with an update and a child of its own", u: Update{ID: idModel},
			wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "model"}, wantLast: 40,
		},
		{
			name: "leaf whose boundary is still empty", u: Update{ID: idPred},
			wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "predictions"}, wantLast: 0,
		},
		{
			name: "unlabelled level", u: Update{ID: idDoc3},
			wantAddr: events.Address{Hierarchy: "documents", Label: "level_3"}, wantLast: 0,
		},
		{
			name: "hierarchy no longer configured", u: Update{ID: idOld},
			wantAddr: events.Address{Hierarchy: "retired", Label: "level_0"}, wantLast: 110,
		},
		{
			name: "same parent named", u: Update{ID: idModel, ParentSet: true, Parent: idExp},
			wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "model"}, wantLast: 40,
		},
		{
			name: "a root naming no parent", u: Update{ID: idExp, ParentSet: true},
			wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "experiment"}, wantLast: 20,
		},
		{
			name: "If-Match the current version", u: Update{ID: idModel, IfMatch: 2},
			wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "model"}, wantLast: 40,
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
			s := testState()
			u := tt.u
			u.Tags, u.Data = tags, data
			a, found := s.Get(u.ID)
			d, err := decideUpdate(a, found, hs, u, nil)
			if checkErr(t, err, tt.field, tt.conflict, tt.is) {
				return
			}
			want := events.ArtifactUpdated{ID: u.ID, Tags: tags, Data: data}
			if !reflect.DeepEqual(d.event, want) {
				t.Fatalf("event = %+v, want %+v", d.event, want)
			}
			if d.addr != tt.wantAddr {
				t.Fatalf("addr = %+v, want %+v", d.addr, tt.wantAddr)
			}
			if d.last != tt.wantLast {
				t.Fatalf("last = %d, want %d", d.last, tt.wantLast)
			}
		})
	}
}

func TestDecideDelete(t *testing.T) {
	tests := []struct {
		name     string
		d        Delete
		wantAddr events.Address
		wantLast uint64
		conflict bool
		is       error
	}{
		{
			name: "leaf", d: Delete{ID: idPred},
			wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "predictions"}, wantLast: 0,
		},
		{
			name: "leaf with If-Match its version", d: Delete{ID: idPred, IfMatch: 1},
			wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "predictions"}, wantLast: 0,
		},
		{
			name: "parent whose only child was deleted", d: Delete{ID: idEmptied},
			wantAddr: events.Address{Hierarchy: "ml_pipeline", Label: "experiment"}, wantLast: 130,
		},
		{
			name: "unlabelled level", d: Delete{ID: idDoc3},
			wantAddr: events.Address{Hierarchy: "documents", Label: "level_3"}, wantLast: 0,
		},
		{
			name: "root of a hierarchy no longer configured", d: Delete{ID: idOld},
			wantAddr: events.Address{Hierarchy: "retired", Label: "level_0"}, wantLast: 110,
		},
		{name: "root with a live child", d: Delete{ID: idExp}, conflict: true},
		{name: "child with a live child", d: Delete{ID: idModel}, conflict: true},
		{name: "live children and If-Match right", d: Delete{ID: idModel, IfMatch: 2}, conflict: true},
		{name: "stale If-Match", d: Delete{ID: idPred, IfMatch: 2}, is: ErrStale},
		{name: "never created", d: Delete{ID: idStranger}, is: ErrNotFound},
		{name: "already deleted", d: Delete{ID: idGone}, is: ErrNotFound},
		{name: "deleted child", d: Delete{ID: idDropped}, is: ErrNotFound},
	}
	hs := testSet(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testState()
			a, found := s.Get(tt.d.ID)
			d, err := decideDelete(a, found, hs, tt.d)
			if checkErr(t, err, "", tt.conflict, tt.is) {
				return
			}
			want := events.ArtifactDeleted{ID: tt.d.ID}
			if !reflect.DeepEqual(d.event, want) {
				t.Fatalf("event = %+v, want %+v", d.event, want)
			}
			if d.addr != tt.wantAddr {
				t.Fatalf("addr = %+v, want %+v", d.addr, tt.wantAddr)
			}
			if d.last != tt.wantLast {
				t.Fatalf("last = %d, want %d", d.last, tt.wantLast)
			}
		})
	}
}

// The boundary a decision expects must be where the fold puts the event:
// deciding on a state, applying the decided event and deciding again in the
// same boundary must expect the new event's position.
func TestDecisionsChainInOneBoundary(t *testing.T) {
	hs := testSet(t)
	s := testState()
	seq := s.Applied()
	apply := func(d decision) {
		t.Helper()
		if d.last != s.BoundaryOf(events.Boundary(d.event)) {
			t.Fatalf("last = %d, want the boundary's position %d", d.last, s.BoundaryOf(events.Boundary(d.event)))
		}
		seq += 10
		s.Apply(events.Envelope{ID: ulid.Make(), Seq: seq, Time: t0, Event: d.event})
	}
	root := testID(30)
	d, err := decideCreate(s, hs, Create{Data: json.RawMessage(`{}`)}, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	apply(d)
	rootAt := seq
	child := testID(31)
	d, err = decideCreate(s, hs, Create{Parent: root, Data: json.RawMessage(`{}`)}, child, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.last != rootAt {
		t.Fatalf("child's last = %d, want the root's creation %d", d.last, rootAt)
	}
	apply(d)
	childAt := seq
	a, found := s.Get(root)
	if d, err = decideUpdate(a, found, hs, Update{ID: root, Data: json.RawMessage(`{}`)}, nil); err != nil {
		t.Fatal(err)
	}
	if d.last != childAt {
		t.Fatalf("root update's last = %d, want the child's creation %d", d.last, childAt)
	}
	apply(d)
	a, found = s.Get(child)
	if d, err = decideDelete(a, found, hs, Delete{ID: child}); err != nil {
		t.Fatal(err)
	}
	if d.last != 0 {
		t.Fatalf("child delete's last = %d, want 0: its creation is in its parent's boundary", d.last)
	}
	apply(d)
	a, found = s.Get(root)
	if d, err = decideDelete(a, found, hs, Delete{ID: root, IfMatch: 2}); err != nil {
		t.Fatalf("delete of the emptied root = %v, want none", err)
	}
	if d.last != seq-10 {
		t.Fatalf("root delete's last = %d, want its update %d", d.last, seq-10)
	}
	apply(d)
}
