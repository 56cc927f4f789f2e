package natsapi_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/oklog/ulid/v2"

	"arbor/api"
	"arbor/internal/arbortest"
	"arbor/natsapi"
)

func checkTime(t *testing.T, what, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") || len(s) != len("2006-01-02T15:04:05.000Z") {
		t.Fatalf("%s = %q, want RFC 3339 UTC with milliseconds", what, s)
	}
	return at
}

func compact(t *testing.T, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func sameJSON(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	return compact(t, string(got)) == compact(t, want)
}

// Every endpoint's success: the artifacts, levels, hierarchies, versions,
// positions and trees it answers.
func TestEndpoints(t *testing.T) {
	st, nc := start(t)

	// A root in the default hierarchy, named explicitly.
	root, rootPos := create(t, nc, `{"hierarchy": "ml_pipeline", "tags": ["exp-1"], "data": {"experiment_name": "weather"}}`)
	if _, err := ulid.ParseStrict(root.ID); err != nil {
		t.Fatalf("id = %q, want a ULID", root.ID)
	}
	if root.ParentID != nil || root.Level != 0 || root.Hierarchy != "ml_pipeline" || root.Version != 1 ||
		!slices.Equal(root.Tags, []string{"exp-1"}) || !sameJSON(t, root.Data, `{"experiment_name":"weather"}`) {
		t.Fatalf("root = %+v, want level 0 of ml_pipeline, version 1, its tags and data", root)
	}
	if checkTime(t, "created_at", root.CreatedAt) != checkTime(t, "updated_at", root.UpdatedAt) {
		t.Fatalf("created_at %s != updated_at %s", root.CreatedAt, root.UpdatedAt)
	}
	if last := lastSeq(t, st); rootPos != last {
		t.Fatalf("Arbor-Position = %d, want the log's last position %d", rootPos, last)
	}

	// A child, naming its parent in lower case; it belongs to the parent's
	// hierarchy and has no tags.
	model, modelPos := create(t, nc, `{"parent_id": "`+strings.ToLower(root.ID)+`", "data": {"model_type": "LinearRegression"}}`)
	if model.ParentID == nil || *model.ParentID != root.ID || model.Level != 1 || model.Hierarchy != "ml_pipeline" ||
		model.Tags == nil || len(model.Tags) != 0 || model.Version != 1 {
		t.Fatalf("model = %+v, want level 1 under %s in ml_pipeline, tags []", model, root.ID)
	}
	if modelPos <= rootPos {
		t.Fatalf("model's position %d, want after the root's %d", modelPos, rootPos)
	}

	// A grandchild with an id the client chose.
	chosen := ulid.Make().String()
	pred, _ := create(t, nc, `{"id": "`+strings.ToLower(chosen)+`", "parent_id": "`+model.ID+`", "hierarchy": "ml_pipeline", "data": {"n": 1000}}`)
	if pred.ID != chosen || pred.ParentID == nil || *pred.ParentID != model.ID || pred.Level != 2 || pred.Hierarchy != "ml_pipeline" {
		t.Fatalf("prediction = %+v, want %s at level 2 under %s", pred, chosen, model.ID)
	}

	// Roots in another hierarchy, and in the default one without naming it.
	project, _ := create(t, nc, `{"hierarchy": "documents", "data": {}}`)
	if project.Hierarchy != "documents" || project.Level != 0 {
		t.Fatalf("project = %+v, want level 0 of documents", project)
	}
	plain, _ := create(t, nc, `{"data": {}}`)
	if plain.Hierarchy != "ml_pipeline" {
		t.Fatalf("root without hierarchy is in %q, want the default ml_pipeline", plain.Hierarchy)
	}

	// get answers what create did, without a position.
	var got doc
	r := ok(t, nc, "get", `{"id": "`+strings.ToLower(model.ID)+`"}`, &got)
	if !reflect.DeepEqual(got, model) {
		t.Fatalf("get = %+v, want %+v", got, model)
	}
	if r.Header.Get("Arbor-Position") != "" {
		t.Fatalf("get answered Arbor-Position %q, want none", r.Header.Get("Arbor-Position"))
	}

	// update replaces data and tags, on the current version.
	var upd doc
	r = ok(t, nc, "update", `{"id": "`+model.ID+`", "tags": ["best"], "data": {"model_type": "LinearRegression", "rmse": 0.21}}`, &upd, "If-Match", `"1"`)
	if upd.ID != model.ID || upd.Version != 2 || !slices.Equal(upd.Tags, []string{"best"}) ||
		!sameJSON(t, upd.Data, `{"model_type":"LinearRegression","rmse":0.21}`) || upd.Level != 1 ||
		upd.ParentID == nil || *upd.ParentID != root.ID || upd.CreatedAt != model.CreatedAt {
		t.Fatalf("update = %+v, want version 2 with the new tags and data", upd)
	}
	if checkTime(t, "updated_at", upd.UpdatedAt).Before(checkTime(t, "created_at", upd.CreatedAt)) {
		t.Fatalf("updated_at %s before created_at %s", upd.UpdatedAt, upd.CreatedAt)
	}
	if r.Pos() != lastSeq(t, st) {
		t.Fatalf("update's Arbor-Position = %d, want %d", r.Pos(), lastSeq(t, st))
	}
	// Naming the current parent is no change; tags omitted means none.
	ok(t, nc, "update", `{"id": "`+model.ID+`", "parent_id": "`+root.ID+`", "data": {"rmse": 0.2}}`, &upd, "If-Match", `"2"`)
	if upd.Version != 3 || len(upd.Tags) != 0 || !sameJSON(t, upd.Data, `{"rmse":0.2}`) {
		t.Fatalf("second update = %+v, want version 3, no tags", upd)
	}
	// Without If-Match it applies to any version.
	ok(t, nc, "update", `{"id": "`+model.ID+`", "tags": ["final"], "data": {"rmse": 0.19}}`, &upd)
	if upd.Version != 4 {
		t.Fatalf("update without If-Match: version %d, want 4", upd.Version)
	}
	ok(t, nc, "get", `{"id": "`+model.ID+`"}`, &got)
	if !reflect.DeepEqual(got, upd) {
		t.Fatalf("get after update = %+v, want %+v", got, upd)
	}

	// The whole tree, with level labels; a leaf has children [].
	var tree doc
	r = ok(t, nc, "tree", `{"root_id": "`+root.ID+`"}`, &tree)
	if tree.ID != root.ID || tree.LevelLabel != "experiment" || tree.Children == nil || len(*tree.Children) != 1 {
		t.Fatalf("tree = %+v, want the experiment with one child", tree)
	}
	m := (*tree.Children)[0]
	if m.ID != model.ID || m.LevelLabel != "model" || m.Version != 4 || m.Children == nil || len(*m.Children) != 1 {
		t.Fatalf("tree's model = %+v, want the model with one child", m)
	}
	p := (*m.Children)[0]
	if p.ID != pred.ID || p.LevelLabel != "predictions" || p.Level != 2 || p.Children == nil || len(*p.Children) != 0 {
		t.Fatalf("tree's prediction = %+v, want a leaf with children []", p)
	}
	if !strings.Contains(string(r.Body), `"children":[]`) {
		t.Fatalf("tree %s: a leaf's children are not []", r.Body)
	}
	// max_depth 1: the model is there, its children are not loaded (null).
	ok(t, nc, "tree", `{"root_id": "`+root.ID+`", "max_depth": 1}`, &tree)
	if tree.Children == nil || len(*tree.Children) != 1 || (*tree.Children)[0].Children != nil {
		t.Fatalf("tree to depth 1 = %+v, want the model with children null", tree)
	}
	// max_depth 0: the root alone, children null.
	r = ok(t, nc, "tree", `{"root_id": "`+root.ID+`", "max_depth": 0}`, &tree)
	if tree.ID != root.ID || tree.Children != nil || !strings.Contains(string(r.Body), `"children":null`) {
		t.Fatalf("tree to depth 0 = %s, want the root with children null", r.Body)
	}

	// delete on the current version answers the id and a position; the
	// artifact is gone.
	var del api.IDRequest
	r = ok(t, nc, "delete", `{"id": "`+pred.ID+`"}`, &del, "If-Match", `"1"`)
	if del.ID != pred.ID || r.Pos() != lastSeq(t, st) {
		t.Fatalf("delete = %+v at %d, want %s at %d", del, r.Pos(), pred.ID, lastSeq(t, st))
	}
	if r := call(t, nc, "get", `{"id": "`+pred.ID+`"}`); r.Status != 404 {
		t.Fatalf("get after delete: status %d, want 404", r.Status)
	}
	ok(t, nc, "tree", `{"root_id": "`+root.ID+`"}`, &tree)
	if m := (*tree.Children)[0]; m.Children == nil || len(*m.Children) != 0 {
		t.Fatalf("tree after delete: model's children %+v, want []", m.Children)
	}
	// Without If-Match, and then the parents in turn.
	for _, id := range []string{project.ID, model.ID, root.ID} {
		ok(t, nc, "delete", `{"id": "`+id+`"}`, nil)
	}
	for _, id := range []string{project.ID, model.ID, root.ID} {
		if a, found := getArtifact(st.Projection, ulid.MustParse(id)); !found || a.Live {
			t.Fatalf("%s after delete: found %v, %+v, want deleted", id, found, a)
		}
	}
}

// Every error: its status in Nats-Service-Error-Code, its problem in the
// body, and nothing written.
func TestErrors(t *testing.T) {
	st, nc := start(t)
	root, _ := create(t, nc, `{"data": {}}`)
	model, _ := create(t, nc, `{"parent_id": "`+root.ID+`", "data": {}}`)
	pred, _ := create(t, nc, `{"parent_id": "`+model.ID+`", "data": {}}`)
	project, _ := create(t, nc, `{"hierarchy": "documents", "data": {}}`)
	gone, _ := create(t, nc, `{"data": {}}`)
	ok(t, nc, "delete", `{"id": "`+gone.ID+`"}`, nil)
	unknown := ulid.Make().String()

	const (
		badRequest = "urn:servicekit:error:bad-request"
		notFound   = "urn:servicekit:error:not-found"
		conflict   = "urn:servicekit:error:conflict"
		stale      = "urn:servicekit:error:precondition-failed"
		invalid    = "urn:servicekit:error:validation-failed"
	)
	titles := map[int]string{400: "Bad Request", 404: "Not Found", 409: "Conflict", 412: "Precondition Failed", 422: "Validation Failed"}
	tests := []struct {
		name, endpoint, body string
		hdr                  []string
		status               int
		typ                  string
		field                string // the one field in errors, on 422
		detail               string // in the detail
	}{
		{"malformed JSON", "create", `{"data": `, nil, 400, badRequest, "", "malformed JSON"},
		{"no body", "create", ``, nil, 400, badRequest, "", "body is required"},
		{"malformed JSON on get", "get", `{"id"`, nil, 400, badRequest, "", "malformed JSON"},
		{"not UTF-8", "get", "{\"id\": \"\xff\"}", nil, 400, badRequest, "", "UTF-8"},
		{"bad Arbor-Min-Position", "get", `{"id": "` + root.ID + `"}`, []string{"Arbor-Min-Position", "soon"}, 400, badRequest, "", "Arbor-Min-Position"},
		{"data an array", "create", `{"data": [1, 2]}`, nil, 422, invalid, "data", "object"},
		{"data a string", "create", `{"data": "x"}`, nil, 422, invalid, "data", "object"},
		{"data null", "create", `{"data": null}`, nil, 422, invalid, "data", ""},
		{"data missing", "create", `{"tags": []}`, nil, 422, invalid, "data", "required"},
		{"data not an object on update", "update", `{"id": "` + root.ID + `", "data": [1]}`, nil, 422, invalid, "data", "object"},
		{"a field of the wrong type", "create", `{"tags": "x", "data": {}}`, nil, 422, invalid, "tags", "must be an array, not string"},
		{"a bad tag", "create", `{"tags": ["a b"], "data": {}}`, nil, 422, invalid, "tags[0]", ""},
		{"unknown parent", "create", `{"parent_id": "` + unknown + `", "data": {}}`, nil, 422, invalid, "parent_id", unknown},
		{"deleted parent", "create", `{"parent_id": "` + gone.ID + `", "data": {}}`, nil, 422, invalid, "parent_id", gone.ID},
		{"parent not a ULID", "create", `{"parent_id": "nope", "data": {}}`, nil, 422, invalid, "parent_id", "nope"},
		{"too deep", "create", `{"parent_id": "` + pred.ID + `", "data": {}}`, nil, 422, invalid, "parent_id", "3 levels"},
		{"unknown hierarchy", "create", `{"hierarchy": "nope", "data": {}}`, nil, 422, invalid, "hierarchy", "nope"},
		{"child in another hierarchy", "create", `{"parent_id": "` + root.ID + `", "hierarchy": "documents", "data": {}}`, nil, 422, invalid, "hierarchy", ""},
		{"id not a ULID", "create", `{"id": "nope", "data": {}}`, nil, 422, invalid, "id", "nope"},
		{"id taken", "create", `{"id": "` + root.ID + `", "data": {}}`, nil, 409, conflict, "", root.ID},
		{"id of a deleted artifact", "create", `{"id": "` + gone.ID + `", "data": {}}`, nil, 409, conflict, "", gone.ID},
		{"id taken under a parent", "create", `{"id": "` + pred.ID + `", "parent_id": "` + model.ID + `", "data": {}}`, nil, 409, conflict, "", pred.ID},
		{"delete with children", "delete", `{"id": "` + root.ID + `"}`, nil, 409, conflict, "", "children"},
		{"parent change", "update", `{"id": "` + model.ID + `", "parent_id": "` + project.ID + `", "data": {}}`, nil, 409, conflict, "", "parent_id"},
		{"parent removed", "update", `{"id": "` + model.ID + `", "parent_id": null, "data": {}}`, nil, 409, conflict, "", "parent_id"},
		{"parent given to a root", "update", `{"id": "` + root.ID + `", "parent_id": "` + project.ID + `", "data": {}}`, nil, 409, conflict, "", "parent_id"},
		{"stale update", "update", `{"id": "` + model.ID + `", "data": {}}`, []string{"If-Match", `"2"`}, 412, stale, "", "If-Match"},
		{"weak If-Match", "update", `{"id": "` + model.ID + `", "data": {}}`, []string{"If-Match", `W/"1"`}, 412, stale, "", ""},
		{"stale delete", "delete", `{"id": "` + pred.ID + `"}`, []string{"If-Match", `"7"`}, 412, stale, "", ""},
		{"get unknown", "get", `{"id": "` + unknown + `"}`, nil, 404, notFound, "", unknown},
		{"get deleted", "get", `{"id": "` + gone.ID + `"}`, nil, 404, notFound, "", gone.ID},
		{"update unknown", "update", `{"id": "` + unknown + `", "data": {}}`, nil, 404, notFound, "", unknown},
		{"delete unknown", "delete", `{"id": "` + strings.ToLower(unknown) + `"}`, nil, 404, notFound, "", unknown},
		{"delete deleted", "delete", `{"id": "` + gone.ID + `"}`, nil, 404, notFound, "", gone.ID},
		{"tree unknown", "tree", `{"root_id": "` + unknown + `"}`, nil, 404, notFound, "", unknown},
		{"get invalid id", "get", `{"id": "nope"}`, nil, 422, invalid, "id", "nope"},
		{"update invalid id", "update", `{"id": "nope", "data": {}}`, nil, 422, invalid, "id", "nope"},
		{"delete invalid id", "delete", `{"id": "nope"}`, nil, 422, invalid, "id", "nope"},
		{"tree invalid id", "tree", `{"root_id": "nope"}`, nil, 422, invalid, "root_id", "nope"},
		{"id of the wrong type", "get", `{"id": 5}`, nil, 422, invalid, "id", "must be a string, not number"},
		{"get missing id", "get", `{}`, nil, 422, invalid, "id", "required"},
		{"update missing id", "update", `{"data": {}}`, nil, 422, invalid, "id", "required"},
		{"delete missing id", "delete", `{}`, nil, 422, invalid, "id", "required"},
		{"tree missing id", "tree", `{}`, nil, 422, invalid, "root_id", "required"},
		{"negative max_depth", "tree", `{"root_id": "` + root.ID + `", "max_depth": -1}`, nil, 422, invalid, "max_depth", ""},
	}
	before := lastSeq(t, st)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, nc, tt.endpoint, tt.body, tt.hdr...)
			if r.Status != tt.status {
				t.Fatalf("Nats-Service-Error-Code = %d, want %d; body %s", r.Status, tt.status, r.Body)
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			var p problem
			if err := json.Unmarshal(r.Body, &p); err != nil {
				t.Fatalf("body %q: %v", r.Body, err)
			}
			if p.Type != tt.typ || p.Status != tt.status || p.Title != titles[tt.status] {
				t.Errorf("problem type, status, title = %q, %d, %q, want %q, %d, %q", p.Type, p.Status, p.Title, tt.typ, tt.status, titles[tt.status])
			}
			if p.Detail == "" || !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail = %q, want it to mention %q", p.Detail, tt.detail)
			}
			if want := natsapi.Prefix + "." + tt.endpoint; p.Instance != want {
				t.Errorf("instance = %q, want %q", p.Instance, want)
			}
			if want := p.Title + ": " + p.Detail; r.Header.Get(micro.ErrorHeader) != want {
				t.Errorf("Nats-Service-Error = %q, want %q", r.Header.Get(micro.ErrorHeader), want)
			}
			switch {
			case tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field || p.Errors[0].Reason == ""):
				t.Errorf("errors = %+v, want one on %s", p.Errors, tt.field)
			case tt.field == "" && len(p.Errors) != 0:
				t.Errorf("errors = %+v, want none", p.Errors)
			}
			if r.Header.Get("Arbor-Position") != "" {
				t.Errorf("an error answered Arbor-Position %s", r.Header.Get("Arbor-Position"))
			}
			if last := lastSeq(t, st); last != before {
				t.Fatalf("the log's last position is %d, want %d: an error wrote", last, before)
			}
		})
	}
	// The refused writes left every artifact as it was.
	for _, id := range []string{root.ID, model.ID, pred.ID, project.ID} {
		var d doc
		ok(t, nc, "get", `{"id": "`+id+`"}`, &d)
		if d.Version != 1 || len(d.Tags) != 0 || !sameJSON(t, d.Data, `{}`) {
			t.Errorf("%s after the errors = %+v, want version 1 as created", id, d)
		}
	}
	if r := call(t, nc, "get", `{"id": "`+gone.ID+`"}`); r.Status != 404 {
		t.Errorf("deleted %s after the errors: status %d, want 404", gone.ID, r.Status)
	}
}

// A read with Arbor-Min-Position is answered once its instance has applied
// that position; a position past the end of the log, which no write
// answered, is refused at once rather than held.
func TestMinPosition(t *testing.T) {
	st, nc := start(t)
	id := ulid.Make().String()
	next := lastSeq(t, st) + 1
	r, err := request(t.Context(), nc, "get", `{"id": "`+id+`"}`, "Arbor-Min-Position", strconv.FormatUint(next, 10))
	if err != nil {
		t.Fatal(err)
	}
	var p problem
	if r.Status != 400 || json.Unmarshal(r.Body, &p) != nil || !strings.Contains(p.Detail, "past the end") {
		t.Fatalf("get at a position not yet written = %d %s, want 400 past the end", r.Status, r.Body)
	}
	d, pos := create(t, nc, `{"id": "`+id+`", "data": {}}`)
	if pos != next {
		t.Fatalf("create at %d, want %d: something else wrote", pos, next)
	}
	r, err = request(t.Context(), nc, "get", `{"id": "`+id+`"}`, "Arbor-Min-Position", strconv.FormatUint(pos, 10))
	var got doc
	if err != nil || r.Status != 200 || json.Unmarshal(r.Body, &got) != nil || got.ID != d.ID {
		t.Fatalf("get with Arbor-Min-Position %d = %d %s (%v), want the artifact created there", pos, r.Status, r.Body, err)
	}
}

// Read your writes across instances: a get sent right after a create,
// with the create's Arbor-Position, sees it on whichever instance the
// queue group hands it to.
func TestReadYourWritesAcrossInstances(t *testing.T) {
	const rounds = 40
	stacks, nc := startInstances(t, 2, nil)
	parent, pos := create(t, nc, `{"data": {}}`)
	for i := range rounds {
		d, p := create(t, nc, fmt.Sprintf(`{"parent_id": %q, "data": {"i": %d}}`, parent.ID, i))
		if p <= pos {
			t.Fatalf("round %d: position %d, want after %d", i, p, pos)
		}
		pos = p
		hdr := []string{"Arbor-Min-Position", strconv.FormatUint(p, 10)}
		var got doc
		ok(t, nc, "get", `{"id": "`+d.ID+`"}`, &got, hdr...)
		if got.ID != d.ID || got.Version != 1 || !sameJSON(t, got.Data, fmt.Sprintf(`{"i":%d}`, i)) {
			t.Fatalf("round %d: get = %+v, want %+v", i, got, d)
		}
		var tree doc
		ok(t, nc, "tree", `{"root_id": "`+parent.ID+`", "max_depth": 1}`, &tree, hdr...)
		if tree.Children == nil || len(*tree.Children) != i+1 || (*tree.Children)[i].ID != d.ID {
			t.Fatalf("round %d: tree has %d children, want %d ending with %s", i, len(*tree.Children), i+1, d.ID)
		}
	}
	// Both instances took creates and reads, so reads went across.
	for _, s := range stats(t, nc, len(stacks)) {
		if s.requests("create") == 0 || s.requests("get") == 0 {
			t.Errorf("instance %s answered %d creates and %d gets, want some of each", s.ID, s.requests("create"), s.requests("get"))
		}
	}
}

// The service is discoverable: $SRV.INFO lists the five endpoints on
// arbor-api.<name>, $SRV.PING answers.
func TestDiscovery(t *testing.T) {
	_, nc := start(t)
	m, err := nc.Request("$SRV.INFO.arbor", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Type, Name, ID, Version, Description string
		Endpoints                            []struct {
			Name       string `json:"name"`
			Subject    string `json:"subject"`
			QueueGroup string `json:"queue_group"`
		} `json:"endpoints"`
	}
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatalf("info %s: %v", m.Data, err)
	}
	if info.Type != micro.InfoResponseType || info.Name != "arbor" || info.Version != "0.3.0" || info.ID == "" || info.Description == "" {
		t.Fatalf("info = %s, want arbor 0.3.0 with an id and a description", m.Data)
	}
	var names []string
	for _, e := range info.Endpoints {
		names = append(names, e.Name)
		if e.Subject != "arbor-api."+e.Name || e.QueueGroup != "arbor" {
			t.Errorf("endpoint %s on %q in queue group %q, want arbor-api.%s in arbor", e.Name, e.Subject, e.QueueGroup, e.Name)
		}
	}
	slices.Sort(names)
	if want := []string{"create", "delete", "get", "tree", "update"}; !slices.Equal(names, want) {
		t.Fatalf("endpoints = %v, want %v", names, want)
	}

	m, err = nc.Request("$SRV.PING.arbor", nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var ping struct{ Type, Name, ID, Version string }
	if err := json.Unmarshal(m.Data, &ping); err != nil || ping.Type != micro.PingResponseType || ping.Name != "arbor" || ping.ID != info.ID {
		t.Fatalf("ping = %s, %v, want arbor's ping response", m.Data, err)
	}
}

// TestStoredMessagesAreNotRequests: a client that may create consumers can
// have the server deliver stored messages to any subject. Delivered to an
// endpoint, a stored update must not be taken for a request: replayed, it
// would roll the artifact back.
func TestStoredMessagesAreNotRequests(t *testing.T) {
	st := arbortest.New(t, mlPipeline, documents)
	svc := serve(t, st, nil)
	nc := client(t, st.Server)
	d, _ := create(t, nc, `{"data": {"v": 1}}`)
	ok(t, nc, "update", `{"id": "`+d.ID+`", "data": {"v": 2}}`, nil)
	before := lastSeq(t, st)

	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cons, err := js.CreateConsumer(ctx, st.Log.Stream(), jetstream.ConsumerConfig{
		Durable: "replay", DeliverSubject: natsapi.Prefix + ".update", DeliverGroup: "arbor", DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: "arbor.*.*.art.>",
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.Delivered.Consumer > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the stored update was never delivered")
		case <-time.After(10 * time.Millisecond):
		}
	}
	// Stop waits for every request in flight: a replayed update, had it
	// been taken, has been written by then.
	if err := svc.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if after := lastSeq(t, st); after != before {
		t.Fatalf("a delivered stored message was served as a request: the log moved from %d to %d", before, after)
	}
}
