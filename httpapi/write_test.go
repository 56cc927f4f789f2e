package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestPut(t *testing.T) {
	e := newEnv(t)
	root := e.create(`{"tags":["a","b"],"data":{"v":1}}`)
	path := base + "/" + root.ID

	r := e.do(http.MethodPut, path, `{"tags":["c"],"data":{"v":2,"content":"x"}}`)
	var a artifact
	wantJSON(t, r, http.StatusOK, &a)
	if etag := r.Header.Get("ETag"); etag != `"2"` {
		t.Errorf(`ETag = %q, want "2"`, etag)
	}
	pos := position(t, r)
	if a.Version != 2 || strings.Join(a.Tags, ",") != "c" || !sameJSON(a.Data, []byte(`{"v":2,"content":"x"}`)) {
		t.Errorf("PUT = %+v, want version 2, tags [c], the new data", a)
	}
	if a.ID != root.ID || a.ParentID != nil || *a.Level != 0 || a.Hierarchy != "ml_pipeline" {
		t.Errorf("PUT changed identity: %+v", a)
	}
	if a.CreatedAt != root.CreatedAt {
		t.Errorf("created_at = %s, want %s kept", a.CreatedAt, root.CreatedAt)
	}
	if up := checkTime(t, "updated_at", a.UpdatedAt); up.Before(checkTime(t, "created_at", a.CreatedAt)) {
		t.Errorf("updated_at %s before created_at %s", a.UpdatedAt, a.CreatedAt)
	}
	if got := e.get(root.ID); got.Version != 2 || !sameJSON(got.Data, a.Data) || strings.Join(got.Tags, ",") != "c" {
		t.Errorf("GET after PUT = %+v, want %+v", got, a)
	}

	// Omitted tags become [].
	r = e.do(http.MethodPut, path, `{"data":{"v":3}}`)
	wantJSON(t, r, http.StatusOK, &a)
	if a.Tags == nil || len(a.Tags) != 0 || a.Version != 3 {
		t.Errorf("PUT without tags: tags %#v version %d, want [] 3", a.Tags, a.Version)
	}
	if next := position(t, r); next <= pos {
		t.Errorf("position %d after %d, want it to grow", next, pos)
	}

	// If-Match: current (any spelling the client may use) passes, stale is
	// 412 and changes nothing.
	for i, im := range []string{`"3"`, `"4"`, `*`} {
		r = e.do(http.MethodPut, path, `{"data":{"v":4}}`, "If-Match", im)
		wantJSON(t, r, http.StatusOK, &a)
		if a.Version != 4+i {
			t.Errorf("If-Match %s: version %d, want %d", im, a.Version, 4+i)
		}
	}
	for _, im := range []string{`"5"`, `"1"`, `"99"`, `"0"`, `"x"`} {
		wantProblem(t, e.do(http.MethodPut, path, `{"data":{"stale":true}}`, "If-Match", im), http.StatusPreconditionFailed, typePrecondition)
	}
	if got := e.get(root.ID); got.Version != 6 || !sameJSON(got.Data, []byte(`{"v":4}`)) {
		t.Errorf("after stale PUTs: version %d data %s, want 6 {\"v\":4}", got.Version, got.Data)
	}
}

func TestPutParent(t *testing.T) {
	e := newEnv(t)
	root := e.root("", "root")
	other := e.root("", "other")
	child := e.child(root.ID, "child")
	path := base + "/" + child.ID

	ok := []struct{ name, body string }{
		{"same parent", `{"parent_id":"` + root.ID + `","data":{}}`},
		{"same parent lowercase", `{"parent_id":"` + strings.ToLower(root.ID) + `","data":{}}`},
		{"omitted", `{"data":{}}`},
	}
	version := 1
	for _, tt := range ok {
		var a artifact
		version++
		wantJSON(t, e.do(http.MethodPut, path, tt.body), http.StatusOK, &a)
		if a.ParentID == nil || *a.ParentID != root.ID || a.Version != version || *a.Level != 1 {
			t.Errorf("%s: parent %v version %d level %d, want %s %d 1", tt.name, a.ParentID, a.Version, *a.Level, root.ID, version)
		}
	}
	var a artifact
	wantJSON(t, e.do(http.MethodPut, base+"/"+root.ID, `{"parent_id":null,"data":{}}`), http.StatusOK, &a)
	if a.ParentID != nil || a.Version != 2 {
		t.Errorf("root with parent_id null: parent %v version %d, want null 2", a.ParentID, a.Version)
	}

	conflicts := []struct{ name, path, body string }{
		{"different parent", path, `{"parent_id":"` + other.ID + `","data":{}}`},
		{"unknown parent", path, `{"parent_id":"` + unknownID + `","data":{}}`},
		{"itself", path, `{"parent_id":"` + child.ID + `","data":{}}`},
		{"null on a child", path, `{"parent_id":null,"data":{}}`},
		{"a parent for a root", base + "/" + other.ID, `{"parent_id":"` + root.ID + `","data":{}}`},
	}
	for _, tt := range conflicts {
		t.Run(tt.name, func(t *testing.T) {
			before := e.written()
			wantProblem(t, e.do(http.MethodPut, tt.path, tt.body), http.StatusConflict, typeConflict)
			if after := e.written(); after != before {
				t.Errorf("(count, position) went from %v to %v", before, after)
			}
		})
	}
	if got := e.get(child.ID); got.ParentID == nil || *got.ParentID != root.ID || got.Version != version {
		t.Errorf("after conflicts: %+v, want parent %s version %d", got, root.ID, version)
	}
}

func TestPutErrors(t *testing.T) {
	e := newEnv(t)
	a := e.create(`{"data":{"keep":true}}`)
	path := base + "/" + a.ID
	gone := e.root("", "gone")
	want(t, e.do(http.MethodDelete, base+"/"+gone.ID, ""), http.StatusNoContent)

	tests := []struct {
		name, path, body string
		hdr              []string
		status           int
		typ, field       string
	}{
		{"unknown", base + "/" + unknownID, `{"data":{}}`, nil, 404, typeNotFound, ""},
		{"deleted", base + "/" + gone.ID, `{"data":{}}`, nil, 404, typeNotFound, ""},
		{"invalid id", base + "/nope", `{"data":{}}`, nil, 400, typeInvalidULID, ""},
		{"malformed", path, `{"data":{`, nil, 400, typeBadRequest, ""},
		{"wrong content type", path, `{"data":{}}`, []string{"Content-Type", "text/csv"}, 400, typeBadRequest, ""},
		{"no body", path, ``, []string{"Content-Type", "application/json"}, 400, typeBadRequest, ""},
		{"data array", path, `{"data":[]}`, nil, 422, typeValidation, "data"},
		{"data null", path, `{"data":null}`, nil, 422, typeValidation, "data"},
		{"data scalar", path, `{"data":1}`, nil, 422, typeValidation, "data"},
		{"data missing", path, `{"tags":["a"]}`, nil, 422, typeValidation, "data"},
		{"bad tag", path, `{"tags":["no way"],"data":{}}`, nil, 422, typeValidation, "tags[0]"},
		{"parent not a ULID", path, `{"parent_id":"nope","data":{}}`, nil, 422, typeValidation, "parent_id"},
		{"parent a number", path, `{"parent_id":7,"data":{}}`, nil, 422, typeValidation, "parent_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.written()
			r := e.do(http.MethodPut, tt.path, tt.body, tt.hdr...)
			p := wantProblem(t, r, tt.status, tt.typ)
			if tt.field != "" {
				wantField(t, r, tt.field)
			}
			if tt.status == 404 {
				id := strings.TrimPrefix(tt.path, base+"/")
				if want := "Artifact with id " + id + " not found"; p.Detail != want {
					t.Errorf("detail = %q, want %q", p.Detail, want)
				}
			}
			if after := e.written(); after != before {
				t.Errorf("(count, position) went from %v to %v", before, after)
			}
		})
	}
	if got := e.get(a.ID); got.Version != 1 || !sameJSON(got.Data, []byte(`{"keep":true}`)) {
		t.Errorf("after failed PUTs: %+v, want it untouched", got)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	root := e.root("", "root")
	child := e.child(root.ID, "child")

	// With a child: 409, nothing written.
	before := e.written()
	p := wantProblem(t, e.do(http.MethodDelete, base+"/"+root.ID, ""), http.StatusConflict, typeConflict)
	if !strings.Contains(p.Detail, "children") {
		t.Errorf("detail = %q, want it to mention children", p.Detail)
	}
	if after := e.written(); after != before {
		t.Errorf("(count, position) went from %v to %v", before, after)
	}

	// Stale If-Match: 412; current: 204.
	wantProblem(t, e.do(http.MethodDelete, base+"/"+child.ID, "", "If-Match", `"2"`), http.StatusPreconditionFailed, typePrecondition)
	e.get(child.ID)
	r := e.do(http.MethodDelete, base+"/"+strings.ToLower(child.ID), "", "If-Match", `"1"`)
	want(t, r, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("204 body = %q, want none", r.Body)
	}
	position(t, r)

	// Gone: GET, PUT, DELETE and children under it are 404 / 422.
	p = wantProblem(t, e.do(http.MethodGet, base+"/"+child.ID, ""), http.StatusNotFound, typeNotFound)
	if want := "Artifact with id " + child.ID + " not found"; p.Detail != want {
		t.Errorf("detail = %q, want %q", p.Detail, want)
	}
	wantProblem(t, e.do(http.MethodDelete, base+"/"+child.ID, ""), http.StatusNotFound, typeNotFound)
	wantField(t, e.do(http.MethodPost, base, `{"parent_id":"`+child.ID+`","data":{}}`), "parent_id")

	// Without children the root goes too, by If-Match current as well.
	want(t, e.do(http.MethodDelete, base+"/"+root.ID, "", "If-Match", `"1"`), http.StatusNoContent)
	wantProblem(t, e.do(http.MethodGet, base+"/"+root.ID, ""), http.StatusNotFound, typeNotFound)
	if s := e.stats(); s.Total != 0 {
		t.Errorf("total = %d, want 0", s.Total)
	}

	p = wantProblem(t, e.do(http.MethodDelete, base+"/"+unknownID, ""), http.StatusNotFound, typeNotFound)
	if want := "Artifact with id " + unknownID + " not found"; p.Detail != want {
		t.Errorf("detail = %q, want %q", p.Detail, want)
	}
	wantProblem(t, e.do(http.MethodDelete, base+"/nope", ""), http.StatusBadRequest, typeInvalidULID)
}
