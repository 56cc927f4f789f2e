package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"arbor/client"
)

// write is a write's outcome as History should report it.
type write struct {
	typ  string
	pos  uint64
	data string // "" for a deletion
	tags []string
	time time.Time // the artifact's updated_at after it; zero for a deletion
}

func TestHistory(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	exp := e.create(client.CreateRequest{Data: map[string]any{"name": "weather"}})
	a := e.create(client.CreateRequest{ParentID: exp.ID, Data: map[string]any{"model_type": "LinearRegression"}, Tags: []string{"draft"}})
	writes := []write{{"artifact.created", e.c.Position(), `{"model_type":"LinearRegression"}`, []string{"draft"}, a.UpdatedAt}}
	u, err := e.c.Update(ctx, a.ID, client.UpdateRequest{Data: map[string]any{"model_type": "LinearRegression", "rmse": 0.3}, Tags: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	writes = append(writes, write{"artifact.updated", e.c.Position(), `{"model_type":"LinearRegression","rmse":0.3}`, []string{"a", "b"}, u.UpdatedAt})
	if u, err = e.c.Update(ctx, a.ID, client.UpdateRequest{Data: map[string]any{"rmse": 0.25}}, client.IfMatch(2)); err != nil {
		t.Fatal(err)
	}
	writes = append(writes, write{"artifact.updated", e.c.Position(), `{"rmse":0.25}`, []string{}, u.UpdatedAt})
	blob := []byte("model weights")
	if u, err = e.c.UploadContent(ctx, a.ID, "application/octet-stream", strings.NewReader(string(blob))); err != nil {
		t.Fatal(err)
	}
	writes = append(writes, write{"artifact.updated", e.c.Position(), string(u.Data), []string{}, u.UpdatedAt})
	if err := e.c.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	writes = append(writes, write{typ: "artifact.deleted", pos: e.c.Position()})

	hist, err := e.c.History(ctx, a.ID)
	if err != nil {
		t.Fatalf("History of a deleted artifact: %v", err)
	}
	if len(hist) != len(writes) {
		t.Fatalf("History has %d versions %+v, want %d", len(hist), hist, len(writes))
	}
	for i, v := range hist {
		w := writes[i]
		// A write's Arbor-Position is its last message's: a deletion that
		// seals the artifact (or a write with an Idempotency-Key) ends
		// after its event.
		var prev uint64
		if i > 0 {
			prev = writes[i-1].pos
		}
		if v.Version != i+1 || v.Type != w.typ || v.Position <= prev || v.Position > w.pos {
			t.Errorf("version %d: %d %s at %d, want %d %s in (%d, %d]", i+1, v.Version, v.Type, v.Position, i+1, w.typ, prev, w.pos)
		}
		// Reading as of its position shows the version.
		got, err := e.c.Get(ctx, a.ID, client.AsOfPosition(v.Position))
		if w.typ == "artifact.deleted" {
			wantProblem(t, "Get as of the deletion", err, http.StatusNotFound, client.TypeNotFound)
		} else if err != nil || got.Version != i+1 || !jsonEqual(got.Data, []byte(w.data)) {
			t.Errorf("Get as of version %d's position %d = %+v, %v", i+1, v.Position, got, err)
		}
		if w.typ == "artifact.deleted" {
			if v.Data != nil || v.Tags != nil || v.Content != nil || v.Time.Before(hist[i-1].Time) {
				t.Errorf("the deletion: %+v, want no data, tags or content, at or after %v", v, hist[i-1].Time)
			}
			continue
		}
		if !jsonEqual(v.Data, []byte(w.data)) || !slices.Equal(v.Tags, w.tags) || v.Tags == nil || !v.Time.Equal(w.time) {
			t.Errorf("version %d: data %s tags %q at %v, want %s %q at %v", i+1, v.Data, v.Tags, v.Time, w.data, w.tags, w.time)
		}
	}
	if c := hist[3].Content; c == nil || c.SHA256 != sha(blob) || c.Size != int64(len(blob)) || c.ContentType != "application/octet-stream" {
		t.Errorf("the upload's version names content %+v, want sha %s, %d bytes", c, sha(blob), len(blob))
	}
	for _, v := range hist[:3] {
		if v.Content != nil {
			t.Errorf("version %d, before any upload, names content %+v", v.Version, v.Content)
		}
	}
	// Version marshals to what the server sends.
	var raw struct{ Items json.RawMessage }
	if err := json.Unmarshal(e.rawGet("/api/v1/artifacts/"+a.ID+"/$history"), &raw); err != nil {
		t.Fatal(err)
	}
	if b, err := json.Marshal(hist); err != nil || !jsonEqual(b, raw.Items) {
		t.Fatalf("json.Marshal(History) = %s, %v; the server sent %s", b, err, raw.Items)
	}

	// A live artifact's history ends with its present.
	if hist, err := e.c.History(ctx, exp.ID); err != nil || len(hist) != 1 || hist[0].Version != 1 ||
		hist[0].Type != "artifact.created" || !jsonEqual(hist[0].Data, exp.Data) {
		t.Fatalf("History of a live root: %+v, %v", hist, err)
	}
	_, err = e.c.History(ctx, unknownID)
	wantProblem(t, "History of an id never created", err, http.StatusNotFound, client.TypeNotFound)
	if _, err := e.c.History(ctx, "no/such"); !errors.Is(err, client.ErrInvalidID) {
		t.Fatalf("History of a malformed id: %v, want ErrInvalidID", err)
	}

	// GetVersion: each earlier version of the deleted artifact in full.
	for i, w := range writes[:4] {
		got, err := e.c.GetVersion(ctx, a.ID, i+1)
		if err != nil {
			t.Fatalf("GetVersion(%d) of a deleted artifact: %v", i+1, err)
		}
		if got.ID != a.ID || got.Version != i+1 || got.ParentID != exp.ID || !jsonEqual(got.Data, []byte(w.data)) ||
			!slices.Equal(got.Tags, w.tags) || !got.CreatedAt.Equal(a.CreatedAt) || !got.UpdatedAt.Equal(w.time) {
			t.Errorf("GetVersion(%d) = %+v, want data %s tags %q updated at %v", i+1, got, w.data, w.tags, w.time)
		}
	}
	for _, n := range []int{5, 6, 1000} { // the deletion, and versions never made
		_, err := e.c.GetVersion(ctx, a.ID, n)
		wantProblem(t, "GetVersion("+strconv.Itoa(n)+")", err, http.StatusNotFound, client.TypeNotFound)
	}
	_, err = e.c.GetVersion(ctx, unknownID, 1)
	wantProblem(t, "GetVersion of an unknown id", err, http.StatusNotFound, client.TypeNotFound)
	_, err = e.c.GetVersion(ctx, a.ID, 0)
	p := wantProblem(t, "GetVersion(0)", err, http.StatusUnprocessableEntity, client.TypeValidationFailed)
	if len(p.Errors) != 1 || p.Errors[0].Field != "version" {
		t.Fatalf("GetVersion(0): field errors %+v, want version", p.Errors)
	}
	// A live artifact's last version is what Get returns.
	if got, err := e.c.GetVersion(ctx, exp.ID, 1); err != nil || !jsonEqual(got.Data, exp.Data) || got.Version != 1 {
		t.Fatalf("GetVersion of a live artifact's present = %+v, %v", got, err)
	}
}

func TestAsOf(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	before := time.Now()

	exp := e.create(client.CreateRequest{Data: map[string]any{"name": "weather"}})
	model := e.create(client.CreateRequest{ParentID: exp.ID, Data: map[string]any{"v": 1}, Tags: []string{"old"}})
	pModel := e.c.Position()
	between := time.Now() // after the model's creation was stored, before its update is sent
	if _, err := e.c.Update(ctx, model.ID, client.UpdateRequest{Data: map[string]any{"v": 2}, Tags: []string{"new"}}); err != nil {
		t.Fatal(err)
	}
	pUpdate := e.c.Position()
	pred := e.create(client.CreateRequest{ParentID: model.ID, Data: map[string]any{"day": 1}})
	pPred := e.c.Position()
	if _, err := e.c.Update(ctx, exp.ID, client.UpdateRequest{Data: map[string]any{"name": "renamed"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Delete(ctx, pred.ID); err != nil {
		t.Fatal(err)
	}
	now := e.c.Position()

	// Get: the data, tags and version of then; not found before its
	// creation; found after its deletion.
	old, err := e.c.Get(ctx, model.ID, client.AsOfPosition(pModel))
	if err != nil || old.Version != 1 || !jsonEqual(old.Data, []byte(`{"v":1}`)) || !slices.Equal(old.Tags, []string{"old"}) {
		t.Fatalf("Get as of the position before the update = %+v, %v; want version 1, v 1", old, err)
	}
	if cur, err := e.c.Get(ctx, model.ID, client.AsOfPosition(pUpdate)); err != nil || cur.Version != 2 || !jsonEqual(cur.Data, []byte(`{"v":2}`)) {
		t.Fatalf("Get as of the update = %+v, %v; want version 2", cur, err)
	}
	_, err = e.c.Get(ctx, pred.ID, client.AsOfPosition(pUpdate))
	wantProblem(t, "Get as of before its creation", err, http.StatusNotFound, client.TypeNotFound)
	if got, err := e.c.Get(ctx, pred.ID, client.AsOfPosition(pPred)); err != nil || got.ID != pred.ID || !jsonEqual(got.Data, []byte(`{"day":1}`)) {
		t.Fatalf("Get of a deleted artifact as of when it lived = %+v, %v", got, err)
	}
	_, err = e.c.Get(ctx, pred.ID)
	wantProblem(t, "Get of the deleted artifact now", err, http.StatusNotFound, client.TypeNotFound)
	// Times: the log's as it stood.
	_, err = e.c.Get(ctx, exp.ID, client.AsOfTime(before))
	wantProblem(t, "Get as of a time before anything", err, http.StatusNotFound, client.TypeNotFound)
	if got, err := e.c.Get(ctx, model.ID, client.AsOfTime(between)); err != nil || got.Version != 1 {
		t.Fatalf("Get as of a time between creation and update = %+v, %v; want version 1", got, err)
	}
	if got, err := e.c.Get(ctx, model.ID, client.AsOf(between.UTC().Format(time.RFC3339Nano))); err != nil || got.Version != 1 {
		t.Fatalf("Get as of the time as text = %+v, %v; want version 1", got, err)
	}
	if got, err := e.c.Get(ctx, model.ID, client.AsOfTime(time.Now())); err != nil || got.Version != 2 {
		t.Fatalf("Get as of now = %+v, %v; want version 2", got, err)
	}
	if got, err := e.c.Get(ctx, model.ID, client.AsOf("")); err != nil || got.Version != 2 {
		t.Fatalf("Get as of \"\" = %+v, %v; want the present", got, err)
	}
	for _, bad := range []string{"yesterday", "-1", "2026-13-01T00:00:00Z"} {
		_, err := e.c.Get(ctx, model.ID, client.AsOf(bad))
		p := wantProblem(t, "Get as of "+bad, err, http.StatusUnprocessableEntity, client.TypeValidationFailed)
		if len(p.Errors) != 1 || p.Errors[0].Field != "as_of" {
			t.Fatalf("as of %q: field errors %+v, want as_of", bad, p.Errors)
		}
	}
	// The answer names the position it was read at.
	resp, err := specClient(t, 0).Get(e.ts.URL + "/api/v1/artifacts/" + model.ID + "?as_of=" + strconv.FormatUint(pModel, 10))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get(client.HeaderPosition); resp.StatusCode != http.StatusOK || got != strconv.FormatUint(pModel, 10) {
		t.Fatalf("GET as_of=%d: %d with %s %q, want 200 and the position", pModel, resp.StatusCode, client.HeaderPosition, got)
	}
	if e.c.Position() != now {
		t.Fatalf("reads of the past moved the client's position from %d to %d", now, e.c.Position())
	}

	// Tree: a child created later is absent, one deleted since present.
	tree, err := e.c.Tree(ctx, exp.ID, -1, client.AsOfPosition(pUpdate))
	if err != nil || len(tree.Children) != 1 || tree.Children[0].ID != model.ID || !tree.Children[0].ChildrenLoaded ||
		len(tree.Children[0].Children) != 0 || !jsonEqual(tree.Children[0].Data, []byte(`{"v":2}`)) {
		t.Fatalf("Tree as of before the prediction = %+v, %v; want the model alone, a leaf", tree, err)
	}
	tree, err = e.c.Tree(ctx, exp.ID, -1, client.AsOfPosition(pPred))
	if err != nil || len(tree.Children) != 1 || len(tree.Children[0].Children) != 1 || tree.Children[0].Children[0].ID != pred.ID ||
		!jsonEqual(tree.Data, exp.Data) {
		t.Fatalf("Tree as of the prediction = %+v, %v; want it, and the root's old data", tree, err)
	}
	if tree, err := e.c.Tree(ctx, exp.ID, -1); err != nil || len(tree.Children[0].Children) != 0 || !jsonEqual(tree.Data, []byte(`{"name":"renamed"}`)) {
		t.Fatalf("Tree now = %+v, %v; want the prediction gone", tree, err)
	}
	if tree, err := e.c.Tree(ctx, exp.ID, 0, client.AsOfPosition(pPred)); err != nil || tree.ChildrenLoaded {
		t.Fatalf("Tree(0) as of = %+v, %v; want the root alone", tree, err)
	}
	_, err = e.c.Tree(ctx, model.ID, -1, client.AsOfTime(before))
	wantProblem(t, "Tree as of before the root", err, http.StatusNotFound, client.TypeNotFound)

	// Expand, Ancestors, Stats.
	if x, err := e.c.Expand(ctx, model.ID, client.AsOfPosition(pModel)); err != nil || x.LevelLabel != "model" || x.Version != 1 || !jsonEqual(x.Data, []byte(`{"v":1}`)) {
		t.Fatalf("Expand as of = %+v, %v", x, err)
	}
	anc, err := e.c.Ancestors(ctx, pred.ID, client.AsOfPosition(pPred))
	if err != nil || len(anc) != 2 || anc[0].ID != exp.ID || !jsonEqual(anc[0].Data, exp.Data) || anc[1].ID != model.ID ||
		anc[1].LevelLabel != "model" || !jsonEqual(anc[1].Data, []byte(`{"v":2}`)) {
		t.Fatalf("Ancestors of the deleted prediction as of when it lived = %+v, %v", anc, err)
	}
	_, err = e.c.Ancestors(ctx, pred.ID)
	wantProblem(t, "Ancestors of the deleted prediction now", err, http.StatusNotFound, client.TypeNotFound)
	st, err := e.c.Stats(ctx, client.AsOfPosition(pPred))
	if err != nil || st.Total != 3 || st.Hierarchies["ml_pipeline"].Levels["predictions"] != 1 {
		t.Fatalf("Stats as of the prediction = %+v, %v; want 3, one prediction", st, err)
	}
	if st, err := e.c.Stats(ctx, client.AsOfPosition(pModel)); err != nil || st.Total != 2 || st.Hierarchies["ml_pipeline"].Levels["predictions"] != 0 {
		t.Fatalf("Stats as of the model = %+v, %v; want 2", st, err)
	}
	if st, err := e.c.Stats(ctx); err != nil || st.Total != 2 {
		t.Fatalf("Stats now = %+v, %v; want 2", st, err)
	}

	// The list as of: who lived then, as they were.
	p, err := e.c.ListWith(ctx, client.ListOptions{AsOf: strconv.FormatUint(pPred, 10)})
	if err != nil || !slices.Equal(ids(p.Items), []string{exp.ID, model.ID, pred.ID}) || !jsonEqual(p.Items[0].Data, exp.Data) || p.Total != 3 {
		t.Fatalf("ListWith as of the prediction = %+v, %v", p, err)
	}
	p, err = e.c.ListWith(ctx, client.ListOptions{AsOf: strconv.FormatUint(pModel, 10), Tags: []string{"old"}})
	if err != nil || !slices.Equal(ids(p.Items), []string{model.ID}) {
		t.Fatalf("ListWith as of, by a tag the model had then = %+v, %v", p, err)
	}
	_, err = e.c.ListWith(ctx, client.ListOptions{AsOf: "soon"})
	wantProblem(t, "ListWith as of soon", err, http.StatusUnprocessableEntity, client.TypeValidationFailed)
}

// ids are the ids of as, in order.
func ids(as []client.Artifact) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}
