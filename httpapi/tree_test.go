package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// lineage is exp -> (m1 -> (p1, p2), m2), in creation order, plus a
// deleted model that no tree shows.
type lineage struct {
	exp, m1, m2, p1, p2 artifact
}

func newLineage(e *env) lineage {
	e.t.Helper()
	var l lineage
	l.exp = e.create(`{"data":` + typed + `}`)
	l.m1 = e.create(`{"parent_id":"` + l.exp.ID + `","data":` + typed + `}`)
	gone := e.child(l.exp.ID, "gone")
	l.m2 = e.child(l.exp.ID, "m2")
	l.p1 = e.child(l.m1.ID, "p1")
	l.p2 = e.create(`{"parent_id":"` + l.m1.ID + `","tags":["last"],"data":` + typed + `}`)
	want(e.t, e.do(http.MethodDelete, base+"/"+gone.ID, ""), http.StatusNoContent)
	return l
}

// shape renders a tree: "id(child,child)", with "id" for a leaf and "id?"
// for a node whose children were not loaded (at max_depth, even a leaf).
func shape(t *testing.T, n node, name map[string]string) string {
	t.Helper()
	s := name[n.ID]
	if s == "" {
		s = n.ID
	}
	if string(n.Children) == "null" {
		return s + "?"
	}
	kids := n.Kids(t)
	if len(kids) == 0 {
		return s
	}
	parts := make([]string, len(kids))
	for i, k := range kids {
		parts[i] = shape(t, k, name)
	}
	return s + "(" + strings.Join(parts, ",") + ")"
}

// checkNodes checks every node of n: level label, hierarchy, data without
// content, and that it is the artifact GET returns.
func checkNodes(t *testing.T, e *env, n node, labels []string) {
	t.Helper()
	if *n.Level >= len(labels) || n.LevelLabel != labels[*n.Level] {
		t.Errorf("node %s level %d: level_label = %q, want %v[%d]", n.ID, *n.Level, n.LevelLabel, labels, *n.Level)
	}
	full := e.get(n.ID)
	if n.Hierarchy != full.Hierarchy || n.Version != full.Version || n.CreatedAt != full.CreatedAt ||
		strings.Join(n.Tags, ",") != strings.Join(full.Tags, ",") || (n.ParentID == nil) != (full.ParentID == nil) {
		t.Errorf("node %+v, want the artifact %+v", n.Exact, full)
	}
	m := dataMap(t, n.Data)
	if _, ok := m["content"]; ok {
		t.Errorf("node %s: data = %s, want it without content", n.ID, n.Data)
	}
	fm := dataMap(t, full.Data)
	delete(fm, "content")
	if fmt.Sprint(fm) != fmt.Sprint(m) {
		t.Errorf("node %s: data = %v, want %v", n.ID, m, fm)
	}
	if string(n.Children) != "null" {
		for _, k := range n.Kids(t) {
			checkNodes(t, e, k, labels)
		}
	}
}

func TestTree(t *testing.T) {
	e := newEnv(t)
	l := newLineage(e)
	name := map[string]string{l.exp.ID: "exp", l.m1.ID: "m1", l.m2.ID: "m2", l.p1.ID: "p1", l.p2.ID: "p2"}
	exp, m1 := l.exp.ID, l.m1.ID

	tests := []struct {
		name, method, path, body, want string
	}{
		{"get", "GET", base + "/" + exp + "/$tree", "", "exp(m1(p1,p2),m2)"},
		{"get lowercase", "GET", base + "/" + strings.ToLower(exp) + "/$tree", "", "exp(m1(p1,p2),m2)"},
		{"get empty max_depth", "GET", base + "/" + exp + "/$tree?max_depth=", "", "exp(m1(p1,p2),m2)"},
		{"get depth 0", "GET", base + "/" + exp + "/$tree?max_depth=0", "", "exp?"},
		{"get depth 1", "GET", base + "/" + exp + "/$tree?max_depth=1", "", "exp(m1?,m2?)"},
		{"get depth 2", "GET", base + "/" + exp + "/$tree?max_depth=2", "", "exp(m1(p1?,p2?),m2)"},
		{"get depth 3", "GET", base + "/" + exp + "/$tree?max_depth=3", "", "exp(m1(p1,p2),m2)"},
		{"get depth 99", "GET", base + "/" + exp + "/$tree?max_depth=99", "", "exp(m1(p1,p2),m2)"},
		{"get subtree", "GET", base + "/" + m1 + "/$tree", "", "m1(p1,p2)"},
		{"get leaf", "GET", base + "/" + l.p1.ID + "/$tree", "", "p1"},
		{"get leaf depth 0", "GET", base + "/" + l.p1.ID + "/$tree?max_depth=0", "", "p1?"},
		{"post", "POST", base + "/$tree", `{"root_id":"` + exp + `"}`, "exp(m1(p1,p2),m2)"},
		{"post lowercase", "POST", base + "/$tree", `{"root_id":"` + strings.ToLower(exp) + `"}`, "exp(m1(p1,p2),m2)"},
		{"post null depth", "POST", base + "/$tree", `{"root_id":"` + exp + `","max_depth":null}`, "exp(m1(p1,p2),m2)"},
		{"post depth 0", "POST", base + "/$tree", `{"root_id":"` + exp + `","max_depth":0}`, "exp?"},
		{"post depth 1", "POST", base + "/$tree", `{"root_id":"` + exp + `","max_depth":1}`, "exp(m1?,m2?)"},
		{"post subtree depth 1", "POST", base + "/$tree", `{"root_id":"` + m1 + `","max_depth":1}`, "m1(p1?,p2?)"},
		{"encoded get", "GET", base + "/" + exp + "/%24tree?max_depth=1", "", "exp(m1?,m2?)"},
		{"encoded post", "POST", base + "/%24tree", `{"root_id":"` + exp + `"}`, "exp(m1(p1,p2),m2)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n node
			wantJSON(t, e.do(tt.method, tt.path, tt.body), http.StatusOK, &n)
			if got := shape(t, n, name); got != tt.want {
				t.Errorf("tree = %s, want %s", got, tt.want)
			}
			checkNodes(t, e, n, mlPipeline.Labels)
		})
	}

	t.Run("node fields", func(t *testing.T) {
		var n node
		wantJSON(t, e.do(http.MethodGet, base+"/"+m1+"/$tree", ""), http.StatusOK, &n)
		if n.ID != m1 || *n.ParentID != exp || *n.Level != 1 || n.LevelLabel != "model" || n.Hierarchy != "ml_pipeline" {
			t.Errorf("root node = %+v level_label %q", n.Exact, n.LevelLabel)
		}
		p2 := n.Kids(t)[1]
		if p2.ID != l.p2.ID || strings.Join(p2.Tags, ",") != "last" || *p2.ParentID != m1 || p2.LevelLabel != "predictions" {
			t.Errorf("p2 node = %+v level_label %q", p2.Exact, p2.LevelLabel)
		}
		if string(p2.Children) != "[]" {
			t.Errorf("leaf children = %s, want []", string(p2.Children))
		}
		checkTime(t, "node created_at", p2.CreatedAt)
	})
}

func TestTreeUnlabelled(t *testing.T) {
	e := newEnv(t)
	ids := []string{e.root("free", "f0").ID}
	for i := 1; i < 5; i++ {
		ids = append(ids, e.child(ids[i-1], fmt.Sprint("f", i)).ID)
	}
	var n node
	wantJSON(t, e.do(http.MethodPost, base+"/$tree", `{"root_id":"`+ids[0]+`"}`), http.StatusOK, &n)
	for level := range 5 {
		if n.ID != ids[level] || n.LevelLabel != fmt.Sprint("level_", level) || n.Hierarchy != "free" {
			t.Fatalf("level %d: node %s level_label %q hierarchy %q, want %s level_%d free",
				level, n.ID, n.LevelLabel, n.Hierarchy, ids[level], level)
		}
		kids := n.Kids(t)
		if level == 4 {
			if len(kids) != 0 {
				t.Errorf("deepest node has %d children", len(kids))
			}
			break
		}
		if len(kids) != 1 {
			t.Fatalf("level %d: %d children, want 1", level, len(kids))
		}
		n = kids[0]
	}

	// A documents tree carries its own labels.
	p := e.root("documents", "p")
	d := e.child(p.ID, "d")
	e.child(d.ID, "v")
	wantJSON(t, e.do(http.MethodGet, base+"/"+p.ID+"/$tree", ""), http.StatusOK, &n)
	checkNodes(t, e, n, documents.Labels)
}

func TestTreeErrors(t *testing.T) {
	e := newEnv(t)
	root := e.root("", "r")
	gone := e.root("", "gone")
	want(t, e.do(http.MethodDelete, base+"/"+gone.ID, ""), http.StatusNoContent)

	tests := []struct {
		name, method, path, body string
		status                   int
		typ, field               string
	}{
		{"get negative", "GET", base + "/" + root.ID + "/$tree?max_depth=-1", "", 422, typeValidation, "max_depth"},
		{"get not a number", "GET", base + "/" + root.ID + "/$tree?max_depth=abc", "", 422, typeValidation, "max_depth"},
		{"get unknown", "GET", base + "/" + unknownID + "/$tree", "", 404, typeNotFound, ""},
		{"get deleted", "GET", base + "/" + gone.ID + "/$tree", "", 404, typeNotFound, ""},
		{"get invalid id", "GET", base + "/nope/$tree", "", 400, typeInvalidULID, ""},
		{"post negative", "POST", base + "/$tree", `{"root_id":"` + root.ID + `","max_depth":-1}`, 422, typeValidation, "max_depth"},
		{"post depth a string", "POST", base + "/$tree", `{"root_id":"` + root.ID + `","max_depth":"1"}`, 422, typeValidation, "max_depth"},
		{"post depth a fraction", "POST", base + "/$tree", `{"root_id":"` + root.ID + `","max_depth":1.5}`, 422, typeValidation, "max_depth"},
		{"post missing root", "POST", base + "/$tree", `{"max_depth":1}`, 422, typeValidation, "root_id"},
		{"post empty root", "POST", base + "/$tree", `{"root_id":""}`, 422, typeValidation, "root_id"},
		{"post invalid root", "POST", base + "/$tree", `{"root_id":"nope"}`, 422, typeValidation, "root_id"},
		{"post root a number", "POST", base + "/$tree", `{"root_id":1}`, 422, typeValidation, "root_id"},
		{"post unknown root", "POST", base + "/$tree", `{"root_id":"` + unknownID + `"}`, 404, typeNotFound, ""},
		{"post deleted root", "POST", base + "/$tree", `{"root_id":"` + gone.ID + `"}`, 404, typeNotFound, ""},
		{"post malformed", "POST", base + "/$tree", `{"root_id":`, 400, typeBadRequest, ""},
		{"post no body", "POST", base + "/$tree", ``, 400, typeBadRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tt.body)
			p := wantProblem(t, r, tt.status, tt.typ)
			if tt.field != "" {
				wantField(t, r, tt.field)
			}
			if tt.status == 404 {
				id := unknownID
				if strings.Contains(tt.name, "deleted") {
					id = gone.ID
				}
				if want := "Artifact with id " + id + " not found"; p.Detail != want {
					t.Errorf("detail = %q, want %q", p.Detail, want)
				}
			}
		})
	}
}
