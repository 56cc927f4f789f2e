package command_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/arbortest"
	"arbor/projection"
)

var (
	mlPipeline = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}
	documents  = hierarchy.Hierarchy{Name: "documents"}
)

func obj(s string) json.RawMessage { return json.RawMessage(s) }

// withLog returns a handler configured as h that appends to log. (A
// Handler keeps counters of its own and is not copied.)
func withLog(h *command.Handler, log command.Appender) *command.Handler {
	return &command.Handler{
		Log: log, Projection: h.Projection, Hierarchies: h.Hierarchies, NewID: h.NewID, Now: h.Now,
		MaxData: h.MaxData, Blobs: h.Blobs, MaxAttempts: h.MaxAttempts, Timeout: h.Timeout,
	}
}

func lastSeq(t *testing.T, st *arbortest.Stack) uint64 {
	t.Helper()
	seq, err := st.Log.LastSeq(t.Context())
	if err != nil {
		t.Fatalf("LastSeq: %v", err)
	}
	return seq
}

func get(st *arbortest.Stack, id ulid.ULID) (projection.Artifact, bool) {
	var (
		a     projection.Artifact
		found bool
	)
	st.Projection.Read(func(s *projection.State) { a, found = s.Get(id) })
	return a, found
}

func mustCreate(t *testing.T, st *arbortest.Stack, c command.Create) projection.Artifact {
	t.Helper()
	if c.Data == nil {
		c.Data = obj(`{}`)
	}
	a, _, err := st.Handler.Create(t.Context(), c)
	if err != nil {
		t.Fatalf("Create(%+v) = %v", c, err)
	}
	return a
}

// subjectAt returns the subject the event at pos was written to.
func subjectAt(t *testing.T, st *arbortest.Stack, pos uint64) string {
	t.Helper()
	s, err := st.JS.Stream(t.Context(), st.Log.Stream())
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(t.Context(), pos)
	if err != nil {
		t.Fatalf("GetMsg(%d): %v", pos, err)
	}
	return m.Subject
}

func TestCreateLineage(t *testing.T) {
	st := arbortest.New(t, mlPipeline, documents)
	ctx := t.Context()
	l := st.Log.Layout()
	var (
		zero   ulid.ULID
		parent ulid.ULID
		root   ulid.ULID
		prev   uint64
	)
	for level, label := range mlPipeline.Labels {
		before := lastSeq(t, st)
		c := command.Create{Parent: parent, Tags: []string{label}, Data: obj(`{ "level" : "` + label + `" }`)}
		a, pos, err := st.Handler.Create(ctx, c)
		if err != nil {
			t.Fatalf("create %s: %v", label, err)
		}
		if pos <= before || pos <= prev {
			t.Fatalf("position = %d, want after %d", pos, max(before, prev))
		}
		if a.CreatedSeq != pos {
			t.Fatalf("%s: CreatedSeq = %d, want the returned position %d", label, a.CreatedSeq, pos)
		}
		if a.ID.IsZero() {
			t.Fatalf("%s: ID is zero, want one chosen by the handler", label)
		}
		if a.Level != level || a.Hierarchy != "ml_pipeline" || a.Version != 1 || !a.Live {
			t.Fatalf("%s: Level, Hierarchy, Version, Live = %d, %q, %d, %v, want %d, ml_pipeline, 1, true",
				label, a.Level, a.Hierarchy, a.Version, a.Live, level)
		}
		if a.Parent != parent {
			t.Fatalf("%s: Parent = %s, want %s", label, a.Parent, parent)
		}
		if string(a.Data) != `{"level":"`+label+`"}` {
			t.Fatalf("%s: Data = %s, want it compacted", label, a.Data)
		}
		if !reflect.DeepEqual(a.Tags, []string{label}) {
			t.Fatalf("%s: Tags = %q, want [%s]", label, a.Tags, label)
		}
		if a.CreatedAt.IsZero() || !a.CreatedAt.Equal(a.UpdatedAt) {
			t.Fatalf("%s: CreatedAt, UpdatedAt = %v, %v, want equal and set", label, a.CreatedAt, a.UpdatedAt)
		}
		// Read your writes: the projection has it as soon as Create returns.
		if got, ok := get(st, a.ID); !ok || !got.Live || got.CreatedSeq != pos {
			t.Fatalf("%s: projection has %+v, %v right after Create, want it live at %d", label, got, ok, pos)
		}
		// A root's creation goes on its root subject, a child's on its
		// parent's kids subject, all in the shard of the root's key.
		if parent == zero {
			root = a.ID
		}
		if events.Key(a.ID) != events.Key(root) || a.Key != events.Key(root) {
			t.Fatalf("%s: Key(id), Key = %#x, %#x, want the root's %#x", label, events.Key(a.ID), a.Key, events.Key(root))
		}
		place := events.Place{Key: events.Key(root), Hierarchy: "ml_pipeline"}
		want := l.Root(place, a.ID, label)
		if parent != zero {
			want = l.Kids(place, parent, label)
		}
		if got := subjectAt(t, st, pos); got != want {
			t.Fatalf("%s: subject = %s, want %s", label, got, want)
		}
		if after := lastSeq(t, st); after != pos {
			t.Fatalf("LastSeq = %d after one create at %d, want one event", after, pos)
		}
		if parent != zero {
			p, _ := get(st, parent)
			if p.Children != 1 {
				t.Fatalf("parent Children = %d, want 1", p.Children)
			}
		}
		parent, prev = a.ID, pos
	}

	// A root of another hierarchy, and a child in it with its unlabelled
	// level. Children need not name the hierarchy.
	doc := mustCreate(t, st, command.Create{Hierarchy: "documents"})
	if doc.Hierarchy != "documents" || doc.Level != 0 {
		t.Fatalf("document root: Hierarchy, Level = %q, %d, want documents, 0", doc.Hierarchy, doc.Level)
	}
	page := mustCreate(t, st, command.Create{Parent: doc.ID})
	if page.Hierarchy != "documents" || page.Level != 1 {
		t.Fatalf("document child: Hierarchy, Level = %q, %d, want documents, 1", page.Hierarchy, page.Level)
	}
	want := l.Kids(events.Place{Key: events.Key(doc.ID), Hierarchy: "documents"}, doc.ID, "level_1")
	if got := subjectAt(t, st, page.CreatedSeq); got != want {
		t.Fatalf("subject = %s, want %s", got, want)
	}
}

func TestCreateWithClientID(t *testing.T) {
	st := arbortest.New(t, mlPipeline, documents)
	ctx := t.Context()
	id := ulid.Make()
	a, pos, err := st.Handler.Create(ctx, command.Create{ID: id, Data: obj(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != id || a.CreatedSeq != pos {
		t.Fatalf("ID, CreatedSeq = %s, %d, want %s, %d", a.ID, a.CreatedSeq, id, pos)
	}
	child := ulid.Make()
	c, _, err := st.Handler.Create(ctx, command.Create{ID: child, Parent: id, Data: obj(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != child {
		t.Fatalf("child ID = %s, want %s", c.ID, child)
	}

	// Reusing an id, as a root or a child, live or deleted, is a conflict
	// and writes nothing.
	if _, err := st.Handler.Delete(ctx, command.Delete{ID: child}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		c    command.Create
	}{
		{"live root as a root", command.Create{ID: id}},
		{"live root as a child", command.Create{ID: id, Parent: id}},
		{"deleted child as a child", command.Create{ID: child, Parent: id}},
		{"deleted child as a root", command.Create{ID: child}},
		{"deleted child as a root of another hierarchy", command.Create{ID: child, Hierarchy: "documents"}},
		{"live root as a root of another hierarchy", command.Create{ID: id, Hierarchy: "documents"}},
	} {
		before := lastSeq(t, st)
		tt.c.Data = obj(`{}`)
		_, _, err := st.Handler.Create(ctx, tt.c)
		var conflict *command.ConflictError
		if !errors.As(err, &conflict) {
			t.Fatalf("%s: Create = %v, want a *ConflictError", tt.name, err)
		}
		if after := lastSeq(t, st); after != before {
			t.Fatalf("%s: LastSeq = %d, want %d: nothing written", tt.name, after, before)
		}
	}
}

// Every error the API names leaves the log as it was.
func TestErrorsWriteNothing(t *testing.T) {
	st := arbortest.New(t, mlPipeline, documents)
	ctx := t.Context()
	exp := mustCreate(t, st, command.Create{})
	model := mustCreate(t, st, command.Create{Parent: exp.ID})
	pred := mustCreate(t, st, command.Create{Parent: model.ID})
	gone := mustCreate(t, st, command.Create{})
	if _, err := st.Handler.Delete(ctx, command.Delete{ID: gone.ID}); err != nil {
		t.Fatal(err)
	}
	limited := withLog(st.Handler, st.Handler.Log)
	limited.MaxData = 16
	big := obj(`{"a":"0123456789abcdef"}`)
	unknown := ulid.Make()

	type result struct {
		field    string
		conflict bool
		is       error
	}
	tests := []struct {
		name string
		run  func() error
		want result
	}{
		{"create: data missing", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{})
			return err
		}, result{field: "data"}},
		{"create: data an array", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{Data: obj(`[]`)})
			return err
		}, result{field: "data"}},
		{"create: bad tag", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{Data: obj(`{}`), Tags: []string{"a b"}})
			return err
		}, result{field: "tags[0]"}},
		{"create: unknown parent", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{Parent: unknown, Data: obj(`{}`)})
			return err
		}, result{field: "parent_id"}},
		{"create: deleted parent", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{Parent: gone.ID, Data: obj(`{}`)})
			return err
		}, result{field: "parent_id"}},
		{"create: too deep", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{Parent: pred.ID, Data: obj(`{}`)})
			return err
		}, result{field: "parent_id"}},
		{"create: unknown hierarchy", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{Hierarchy: "nope", Data: obj(`{}`)})
			return err
		}, result{field: "hierarchy"}},
		{"create: child in another hierarchy", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{Parent: exp.ID, Hierarchy: "documents", Data: obj(`{}`)})
			return err
		}, result{field: "hierarchy"}},
		{"create: id taken", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{ID: model.ID, Parent: exp.ID, Data: obj(`{}`)})
			return err
		}, result{conflict: true}},
		{"create: id of a deleted artifact", func() error {
			_, _, err := st.Handler.Create(ctx, command.Create{ID: gone.ID, Data: obj(`{}`)})
			return err
		}, result{conflict: true}},
		{"create: too large", func() error {
			_, _, err := limited.Create(ctx, command.Create{Data: big})
			return err
		}, result{is: command.ErrTooLarge}},
		{"update: unknown", func() error {
			_, _, err := st.Handler.Update(ctx, command.Update{ID: unknown, Data: obj(`{}`)})
			return err
		}, result{is: command.ErrNotFound}},
		{"update: deleted", func() error {
			_, _, err := st.Handler.Update(ctx, command.Update{ID: gone.ID, Data: obj(`{}`)})
			return err
		}, result{is: command.ErrNotFound}},
		{"update: stale", func() error {
			_, _, err := st.Handler.Update(ctx, command.Update{ID: model.ID, IfMatch: 2, Data: obj(`{}`)})
			return err
		}, result{is: command.ErrStale}},
		{"update: another parent", func() error {
			_, _, err := st.Handler.Update(ctx, command.Update{ID: pred.ID, ParentSet: true, Parent: exp.ID, Data: obj(`{}`)})
			return err
		}, result{conflict: true}},
		{"update: no parent for a child", func() error {
			_, _, err := st.Handler.Update(ctx, command.Update{ID: pred.ID, ParentSet: true, Data: obj(`{}`)})
			return err
		}, result{conflict: true}},
		{"update: data a string", func() error {
			_, _, err := st.Handler.Update(ctx, command.Update{ID: model.ID, Data: obj(`"x"`)})
			return err
		}, result{field: "data"}},
		{"update: duplicate tags", func() error {
			_, _, err := st.Handler.Update(ctx, command.Update{ID: model.ID, Data: obj(`{}`), Tags: []string{"a", "a"}})
			return err
		}, result{field: "tags[1]"}},
		{"update: too large", func() error {
			_, _, err := limited.Update(ctx, command.Update{ID: model.ID, Data: big})
			return err
		}, result{is: command.ErrTooLarge}},
		{"delete: unknown", func() error {
			_, err := st.Handler.Delete(ctx, command.Delete{ID: unknown})
			return err
		}, result{is: command.ErrNotFound}},
		{"delete: deleted", func() error {
			_, err := st.Handler.Delete(ctx, command.Delete{ID: gone.ID})
			return err
		}, result{is: command.ErrNotFound}},
		{"delete: with children", func() error {
			_, err := st.Handler.Delete(ctx, command.Delete{ID: exp.ID})
			return err
		}, result{conflict: true}},
		{"delete: stale", func() error {
			_, err := st.Handler.Delete(ctx, command.Delete{ID: pred.ID, IfMatch: 2})
			return err
		}, result{is: command.ErrStale}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := lastSeq(t, st)
			err := tt.run()
			switch {
			case tt.want.field != "":
				var v *command.ValidationError
				if !errors.As(err, &v) {
					t.Fatalf("err = %v, want a *ValidationError", err)
				}
				if len(v.Errors) != 1 || v.Errors[0].Field != tt.want.field {
					t.Fatalf("err = %v, want one error on %s", err, tt.want.field)
				}
			case tt.want.conflict:
				var c *command.ConflictError
				if !errors.As(err, &c) {
					t.Fatalf("err = %v, want a *ConflictError", err)
				}
			default:
				if !errors.Is(err, tt.want.is) {
					t.Fatalf("err = %v, want %v", err, tt.want.is)
				}
			}
			if errors.Is(err, events.ErrUnavailable) {
				t.Fatalf("err = %v, want no ErrUnavailable", err)
			}
			if after := lastSeq(t, st); after != before {
				t.Fatalf("LastSeq = %d, want %d: nothing written", after, before)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	st := arbortest.New(t, mlPipeline)
	ctx := t.Context()
	exp := mustCreate(t, st, command.Create{Tags: []string{"a", "b"}, Data: obj(`{"v":1,"keep":true}`)})
	model := mustCreate(t, st, command.Create{Parent: exp.ID, Data: obj(`{}`)})

	tests := []struct {
		name     string
		u        command.Update
		wantTags []string
		wantData string
	}{
		{"replace data and tags", command.Update{ID: exp.ID, Tags: []string{"c"}, Data: obj(`{ "v" : 2 }`)}, []string{"c"}, `{"v":2}`},
		{"omitted tags become none", command.Update{ID: exp.ID, Data: obj(`{"v":3}`)}, []string{}, `{"v":3}`},
		{"If-Match the current version", command.Update{ID: exp.ID, IfMatch: 3, Tags: []string{"d"}, Data: obj(`{"v":4}`)}, []string{"d"}, `{"v":4}`},
		{"a root naming no parent", command.Update{ID: exp.ID, ParentSet: true, Data: obj(`{"v":5}`)}, []string{}, `{"v":5}`},
		{"a child naming its parent", command.Update{ID: model.ID, ParentSet: true, Parent: exp.ID, Data: obj(`{"m":1}`)}, []string{}, `{"m":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := get(st, tt.u.ID)
			a, pos, err := st.Handler.Update(ctx, tt.u)
			if err != nil {
				t.Fatalf("Update = %v", err)
			}
			if a.Version != before.Version+1 {
				t.Fatalf("Version = %d, want %d", a.Version, before.Version+1)
			}
			if !reflect.DeepEqual(a.Tags, tt.wantTags) || string(a.Data) != tt.wantData {
				t.Fatalf("Tags, Data = %q, %s, want %q, %s", a.Tags, a.Data, tt.wantTags, tt.wantData)
			}
			if a.CreatedSeq != before.CreatedSeq || !a.CreatedAt.Equal(before.CreatedAt) || a.Parent != before.Parent || a.Level != before.Level {
				t.Fatalf("update changed what it must not: %+v, was %+v", a, before)
			}
			if a.UpdatedAt.Before(before.UpdatedAt) {
				t.Fatalf("UpdatedAt = %v, before the previous %v", a.UpdatedAt, before.UpdatedAt)
			}
			if after := lastSeq(t, st); after != pos {
				t.Fatalf("LastSeq = %d, want the update's position %d", after, pos)
			}
			if got, _ := get(st, tt.u.ID); !reflect.DeepEqual(got, a) {
				t.Fatalf("projection has %+v, want what Update returned %+v", got, a)
			}
			if got, want := subjectAt(t, st, pos), st.Log.Layout().Art(a.Place(), tt.u.ID); got != want {
				t.Fatalf("subject = %s, want the artifact's own subject %s", got, want)
			}
		})
	}
	// The child's update moved its own subject, not the parent's: the
	// parent can still be updated with the version it had.
	e, _ := get(st, exp.ID)
	if _, _, err := st.Handler.Update(ctx, command.Update{ID: exp.ID, IfMatch: e.Version, Data: obj(`{}`)}); err != nil {
		t.Fatalf("update of the parent after its child's update = %v", err)
	}
}

func TestDelete(t *testing.T) {
	st := arbortest.New(t, mlPipeline)
	ctx := t.Context()
	exp := mustCreate(t, st, command.Create{})
	model := mustCreate(t, st, command.Create{Parent: exp.ID})

	var conflict *command.ConflictError
	if _, err := st.Handler.Delete(ctx, command.Delete{ID: exp.ID}); !errors.As(err, &conflict) {
		t.Fatalf("Delete with a child = %v, want a *ConflictError", err)
	}
	if _, err := st.Handler.Delete(ctx, command.Delete{ID: model.ID, IfMatch: 2}); !errors.Is(err, command.ErrStale) {
		t.Fatalf("Delete with a stale If-Match = %v, want ErrStale", err)
	}
	pos, err := st.Handler.Delete(ctx, command.Delete{ID: model.ID, IfMatch: 1})
	if err != nil {
		t.Fatalf("Delete of the leaf = %v", err)
	}
	// Read your writes: gone as soon as Delete returns.
	m, found := get(st, model.ID)
	if !found || m.Live {
		t.Fatalf("deleted artifact: found, Live = %v, %v, want true, false", found, m.Live)
	}
	if m.Version != 2 {
		t.Fatalf("deleted artifact Version = %d, want 2", m.Version)
	}
	if e, _ := get(st, exp.ID); e.Children != 0 {
		t.Fatalf("parent Children = %d after its child's delete, want 0", e.Children)
	}
	if after := lastSeq(t, st); after != pos {
		t.Fatalf("LastSeq = %d, want the delete's position %d", after, pos)
	}
	if _, _, err := st.Handler.Update(ctx, command.Update{ID: model.ID, Data: obj(`{}`)}); !errors.Is(err, command.ErrNotFound) {
		t.Fatalf("Update of a deleted artifact = %v, want ErrNotFound", err)
	}
	if _, err := st.Handler.Delete(ctx, command.Delete{ID: model.ID}); !errors.Is(err, command.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	// Now the parent has no live child and goes too.
	if _, err := st.Handler.Delete(ctx, command.Delete{ID: exp.ID}); err != nil {
		t.Fatalf("Delete of the emptied parent = %v", err)
	}
	var total int
	st.Projection.Read(func(s *projection.State) { total = s.Total() })
	if total != 0 {
		t.Fatalf("Total = %d, want 0", total)
	}
}
