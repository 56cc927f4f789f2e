package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// $ancestors walks up from an artifact to its root: root first, parent
// last, each with its level label and its data without content, as trees
// show them; a root has none.
func TestAncestors(t *testing.T) {
	e := newEnv(t)
	exp := e.create(`{"data": {"name": "exp", "content": {"big": "inline"}, "content_type": "application/json"}}`)
	model := e.child(exp.ID, "model")
	pred := e.child(model.ID, "pred")

	type item struct {
		ID         string          `json:"id"`
		LevelLabel string          `json:"level_label"`
		Level      int             `json:"level"`
		Data       json.RawMessage `json:"data"`
	}
	ancestors := func(id string) []item {
		t.Helper()
		r := e.do(http.MethodGet, base+"/"+id+"/$ancestors", "")
		if r.Status != http.StatusOK {
			t.Fatalf("$ancestors of %s: %s", id, r)
		}
		var out struct{ Items []item }
		if err := json.Unmarshal(r.Body, &out); err != nil || out.Items == nil {
			t.Fatalf("$ancestors of %s: %s (%v)", id, r.Body, err)
		}
		return out.Items
	}
	if got := ancestors(exp.ID); len(got) != 0 {
		t.Errorf("a root's ancestors: %+v, want none", got)
	}
	got := ancestors(pred.ID)
	if len(got) != 2 || got[0].ID != exp.ID || got[1].ID != model.ID {
		t.Fatalf("ancestors of a prediction: %+v, want the experiment then the model", got)
	}
	if got[0].LevelLabel != "experiment" || got[1].LevelLabel != "model" || got[1].Level != 1 {
		t.Errorf("level labels: %+v", got)
	}
	if strings.Contains(string(got[0].Data), "inline") || !strings.Contains(string(got[0].Data), `"name":"exp"`) {
		t.Errorf("the root's data in ancestors: %s, want it without content", got[0].Data)
	}

	for _, tc := range []struct {
		path   string
		status int
	}{
		{base + "/" + unknownID + "/$ancestors", http.StatusNotFound},
		{base + "/not-an-id/$ancestors", http.StatusBadRequest},
	} {
		if r := e.do(http.MethodGet, tc.path, ""); r.Status != tc.status {
			t.Errorf("GET %s: %s, want %d", tc.path, r, tc.status)
		}
	}
	e.do(http.MethodDelete, base+"/"+pred.ID, "")
	if r := e.do(http.MethodGet, base+"/"+pred.ID+"/$ancestors", ""); r.Status != http.StatusNotFound {
		t.Errorf("ancestors of a deleted artifact: %s, want 404", r)
	}
}
