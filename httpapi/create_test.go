package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

func TestCreateRoot(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodPost, base, `{"level": 7, "tags": ["exp-1", "b_2"], "data": { "name" : "run", "n": [1, 2] }}`)
	var a artifact
	wantJSON(t, r, http.StatusCreated, &a)

	if !ulidRE.MatchString(a.ID) {
		t.Errorf("id = %q, want an uppercase ULID", a.ID)
	}
	if got := r.Header.Get("Location"); got != base+"/"+a.ID {
		t.Errorf("Location = %q, want %q", got, base+"/"+a.ID)
	}
	if got := r.Header.Get("ETag"); got != `"1"` {
		t.Errorf(`ETag = %q, want "1"`, got)
	}
	position(t, r)
	if a.ParentID != nil {
		t.Errorf("parent_id = %q, want null", *a.ParentID)
	}
	if a.Level == nil || *a.Level != 0 {
		t.Errorf("level = %v, want 0 (the client's 7 ignored)", a.Level)
	}
	if a.Hierarchy != "ml_pipeline" {
		t.Errorf("hierarchy = %q, want the default ml_pipeline", a.Hierarchy)
	}
	if strings.Join(a.Tags, ",") != "exp-1,b_2" {
		t.Errorf("tags = %q, want [exp-1 b_2]", a.Tags)
	}
	if !sameJSON(a.Data, []byte(`{"name":"run","n":[1,2]}`)) {
		t.Errorf("data = %s, want the object sent", a.Data)
	}
	if a.Version != 1 {
		t.Errorf("version = %d, want 1", a.Version)
	}
	created := checkTime(t, "created_at", a.CreatedAt)
	if updated := checkTime(t, "updated_at", a.UpdatedAt); !updated.Equal(created) {
		t.Errorf("updated_at = %s, want created_at %s", a.UpdatedAt, a.CreatedAt)
	}

	// Read your writes: the Location is served at once, identical.
	got := e.get(a.ID)
	if got.ID != a.ID || got.Version != 1 || !sameJSON(got.Data, a.Data) || got.CreatedAt != a.CreatedAt {
		t.Errorf("GET %s = %+v, want %+v", a.ID, got, a)
	}
}

func TestCreateTagsOmitted(t *testing.T) {
	e := newEnv(t)
	a := e.create(`{"data":{}}`)
	if a.Tags == nil || len(a.Tags) != 0 {
		t.Errorf("tags = %#v, want []", a.Tags)
	}
	if string(a.Data) != `{}` {
		t.Errorf("data = %s, want {}", a.Data)
	}
}

func TestCreateLevelsAndHierarchies(t *testing.T) {
	e := newEnv(t)
	exp := e.root("", "exp")
	model := e.create(`{"parent_id":"` + exp.ID + `","level":0,"data":{}}`)
	pred := e.child(model.ID, "pred")
	for _, c := range []struct {
		a         artifact
		level     int
		parent    string
		hierarchy string
	}{
		{exp, 0, "", "ml_pipeline"},
		{model, 1, exp.ID, "ml_pipeline"},
		{pred, 2, model.ID, "ml_pipeline"},
	} {
		if c.a.Level == nil || *c.a.Level != c.level {
			t.Errorf("%s: level = %v, want %d", c.a.ID, c.a.Level, c.level)
		}
		if got := ""; c.a.ParentID != nil {
			got = *c.a.ParentID
			if got != c.parent {
				t.Errorf("%s: parent_id = %q, want %q", c.a.ID, got, c.parent)
			}
		} else if c.parent != "" {
			t.Errorf("%s: parent_id = null, want %q", c.a.ID, c.parent)
		}
		if c.a.Hierarchy != c.hierarchy {
			t.Errorf("%s: hierarchy = %q, want %q", c.a.ID, c.a.Hierarchy, c.hierarchy)
		}
	}

	// An explicit hierarchy for a root; children inherit it, also when
	// they name it again.
	project := e.root("documents", "p")
	if project.Hierarchy != "documents" || *project.Level != 0 {
		t.Errorf("root in documents: hierarchy %q level %d", project.Hierarchy, *project.Level)
	}
	doc := e.child(project.ID, "d")
	ver := e.create(`{"parent_id":"` + doc.ID + `","hierarchy":"documents","data":{}}`)
	for _, a := range []artifact{doc, ver} {
		if a.Hierarchy != "documents" {
			t.Errorf("child %s: hierarchy = %q, want documents (inherited)", a.ID, a.Hierarchy)
		}
	}
	if *ver.Level != 2 {
		t.Errorf("version: level = %d, want 2", *ver.Level)
	}

	// Without labels, depth is free.
	parent := e.root("free", "f0")
	for level := 1; level <= 5; level++ {
		parent = e.child(parent.ID, fmt.Sprint("f", level))
		if *parent.Level != level || parent.Hierarchy != "free" {
			t.Fatalf("free level %d: got level %d hierarchy %q", level, *parent.Level, parent.Hierarchy)
		}
	}
}

func TestCreateClientID(t *testing.T) {
	e := newEnv(t)
	id := ulid.Make().String()
	r := e.do(http.MethodPost, base, `{"id":"`+strings.ToLower(id)+`","data":{}}`)
	var a artifact
	wantJSON(t, r, http.StatusCreated, &a)
	if a.ID != id {
		t.Errorf("id = %q, want %q (canonical uppercase)", a.ID, id)
	}
	if got := r.Header.Get("Location"); got != base+"/"+id {
		t.Errorf("Location = %q, want %q", got, base+"/"+id)
	}
	if got := e.get(strings.ToLower(id)); got.ID != id {
		t.Errorf("GET by lowercase id: id = %q, want %q", got.ID, id)
	}

	// The same id again, in either case or under a parent: 409, nothing
	// written.
	before := e.written()
	for _, body := range []string{
		`{"id":"` + id + `","data":{}}`,
		`{"id":"` + strings.ToLower(id) + `","data":{"other":true}}`,
		`{"id":"` + id + `","parent_id":"` + id + `","data":{}}`,
	} {
		wantProblem(t, e.do(http.MethodPost, base, body), http.StatusConflict, typeConflict)
	}
	if after := e.written(); after != before {
		t.Errorf("after conflicts: (count, position) = %v, want %v", after, before)
	}
	if got := e.get(id); !sameJSON(got.Data, []byte(`{}`)) || got.Version != 1 {
		t.Errorf("after conflicts: %+v, want the first creation untouched", got)
	}

	// A deleted id stays used.
	del := e.root("", "gone")
	want(t, e.do(http.MethodDelete, base+"/"+del.ID, ""), http.StatusNoContent)
	wantProblem(t, e.do(http.MethodPost, base, `{"id":"`+del.ID+`","data":{}}`), http.StatusConflict, typeConflict)
}

func TestCreateErrors(t *testing.T) {
	e := newEnv(t)
	exp := e.root("", "exp")
	model := e.child(exp.ID, "model")
	pred := e.child(model.ID, "pred")
	doc := e.root("documents", "doc")
	gone := e.root("", "gone")
	want(t, e.do(http.MethodDelete, base+"/"+gone.ID, ""), http.StatusNoContent)

	long := strings.Repeat("x", 101)
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf(`"t%d"`, i)
	}

	tests := []struct {
		name   string
		body   string
		hdr    []string
		status int
		typ    string
		field  string // 422 only
	}{
		{"malformed JSON", `{"data":`, nil, 400, typeBadRequest, ""},
		{"not JSON", `data=1`, nil, 400, typeBadRequest, ""},
		{"two values", `{"data":{}} {"data":{}}`, nil, 400, typeBadRequest, ""},
		{"body an array", `[{"data":{}}]`, nil, 400, typeBadRequest, ""},
		{"body a string", `"data"`, nil, 400, typeBadRequest, ""},
		{"wrong content type", `{"data":{}}`, []string{"Content-Type", "text/plain"}, 400, typeBadRequest, ""},
		{"form content type", `{"data":{}}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, typeBadRequest, ""},
		{"bad content type", `{"data":{}}`, []string{"Content-Type", "application/json; ="}, 400, typeBadRequest, ""},
		{"blank body", "  \n", nil, 400, typeBadRequest, ""},
		{"data null", `{"data":null}`, nil, 422, typeValidation, "data"},
		{"data array", `{"data":[1,2]}`, nil, 422, typeValidation, "data"},
		{"data string", `{"data":"x"}`, nil, 422, typeValidation, "data"},
		{"data number", `{"data":42}`, nil, 422, typeValidation, "data"},
		{"data true", `{"data":true}`, nil, 422, typeValidation, "data"},
		{"data missing", `{"tags":["a"]}`, nil, 422, typeValidation, "data"},
		{"body null", `null`, nil, 422, typeValidation, "data"},
		{"tags not an array", `{"tags":"a","data":{}}`, nil, 422, typeValidation, "tags"},
		{"tag with space", `{"tags":["ok","bad tag"],"data":{}}`, nil, 422, typeValidation, "tags[1]"},
		{"tag with dot", `{"tags":["a.b"],"data":{}}`, nil, 422, typeValidation, "tags[0]"},
		{"empty tag", `{"tags":[""],"data":{}}`, nil, 422, typeValidation, "tags[0]"},
		{"tag too long", `{"tags":["` + long + `"],"data":{}}`, nil, 422, typeValidation, "tags[0]"},
		{"duplicate tag", `{"tags":["a","a"],"data":{}}`, nil, 422, typeValidation, "tags[1]"},
		{"51 tags", `{"tags":[` + strings.Join(many, ",") + `],"data":{}}`, nil, 422, typeValidation, "tags"},
		{"tag not a string", `{"tags":[1],"data":{}}`, nil, 422, typeValidation, "tags"},
		{"unknown parent", `{"parent_id":"` + unknownID + `","data":{}}`, nil, 422, typeValidation, "parent_id"},
		{"deleted parent", `{"parent_id":"` + gone.ID + `","data":{}}`, nil, 422, typeValidation, "parent_id"},
		{"parent not a ULID", `{"parent_id":"nope","data":{}}`, nil, 422, typeValidation, "parent_id"},
		{"parent with bad letters", `{"parent_id":"01ARZ3NDEKTSV4RRFFQ69G5FAU","data":{}}`, nil, 422, typeValidation, "parent_id"},
		{"parent empty", `{"parent_id":"","data":{}}`, nil, 422, typeValidation, "parent_id"},
		{"parent a number", `{"parent_id":5,"data":{}}`, nil, 422, typeValidation, "parent_id"},
		{"id not a ULID", `{"id":"nope","data":{}}`, nil, 422, typeValidation, "id"},
		{"id overflows", `{"id":"81ARZ3NDEKTSV4RRFFQ69G5FAV","data":{}}`, nil, 422, typeValidation, "id"},
		{"unknown hierarchy", `{"hierarchy":"nope","data":{}}`, nil, 422, typeValidation, "hierarchy"},
		{"child in another hierarchy", `{"parent_id":"` + doc.ID + `","hierarchy":"ml_pipeline","data":{}}`, nil, 422, typeValidation, "hierarchy"},
		{"too deep", `{"parent_id":"` + pred.ID + `","data":{}}`, nil, 422, typeValidation, "parent_id"},
		{"too deep, lowercase parent", `{"parent_id":"` + strings.ToLower(pred.ID) + `","data":{}}`, nil, 422, typeValidation, "parent_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.written()
			r := e.do(http.MethodPost, base, tt.body, tt.hdr...)
			p := wantProblem(t, r, tt.status, tt.typ)
			if tt.field != "" {
				wantField(t, r, tt.field)
			} else if len(p.Errors) != 0 {
				t.Errorf("%v: errors = %+v, want none on %d", r, p.Errors, tt.status)
			}
			if after := e.written(); after != before {
				t.Errorf("%v: (count, position) went from %v to %v, want nothing written", r, before, after)
			}
		})
	}

	t.Run("missing body", func(t *testing.T) {
		before := e.written()
		r := e.do(http.MethodPost, base, "", "Content-Type", "application/json")
		wantProblem(t, r, http.StatusBadRequest, typeBadRequest)
		if after := e.written(); after != before {
			t.Errorf("(count, position) went from %v to %v", before, after)
		}
	})

	t.Run("every problem reported", func(t *testing.T) {
		r := e.do(http.MethodPost, base, `{"tags":["a b","a b"],"data":[]}`)
		for _, f := range []string{"data", "tags[0]", "tags[1]"} {
			wantField(t, r, f)
		}
	})

	t.Run("too deep names the levels", func(t *testing.T) {
		p := wantField(t, e.do(http.MethodPost, base, `{"parent_id":"`+pred.ID+`","data":{}}`), "parent_id")
		if !strings.Contains(p.Detail, "predictions") {
			t.Errorf("detail = %q, want it to name the last level", p.Detail)
		}
	})
}

func TestCreateAcceptsJSONContentTypes(t *testing.T) {
	e := newEnv(t)
	for _, ct := range []string{"application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json"} {
		a := artifact{}
		wantJSON(t, e.do(http.MethodPost, base, `{"data":{"ct":true}}`, "Content-Type", ct), http.StatusCreated, &a)
	}
	// No Content-Type at all is read as JSON.
	r := send(t, e.url, http.MethodPost, base, strings.NewReader(`{"data":{}}`), true, "Content-Type", "")
	want(t, r, http.StatusCreated)
}

func TestCreateTooLarge(t *testing.T) {
	e := newEnv(t)
	before := e.written()
	big := `{"data":{"x":"` + strings.Repeat("a", maxBody) + `"}}`
	r := e.do(http.MethodPost, base, big)
	p := wantProblem(t, r, http.StatusRequestEntityTooLarge, typeTooLarge)
	if !strings.Contains(p.Detail, fmt.Sprint(maxBody)) {
		t.Errorf("detail = %q, want it to name the limit %d", p.Detail, maxBody)
	}
	if after := e.written(); after != before {
		t.Errorf("(count, position) went from %v to %v, want nothing written", before, after)
	}

	// Just under the limit is read (and then judged on its merits).
	under := `{"data":[` + strings.Repeat(" ", maxBody-12) + `]}`
	if len(under) > maxBody {
		t.Fatalf("test body is %d bytes", len(under))
	}
	wantField(t, e.do(http.MethodPost, base, under), "data")
}

// A body declared larger than the limit is refused before a byte of it is
// read: the answer comes although the body never does.
func TestCreateDeclaredTooLarge(t *testing.T) {
	e := newEnv(t)
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", base, u.Host, maxBody+1)
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body is still to come: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("answer = %d %s, want a 413 problem", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// A body that stops coming is cut off once it has paused for BodyTimeout,
// whatever the request: the client gets an answer, not a connection held
// for good. One that keeps coming may take longer than that.
func TestBodyThatStops(t *testing.T) {
	e := newEnv(t)
	srv := e.st.API()
	srv.MaxBody, srv.MaxContent, srv.Wait, srv.BodyTimeout = maxBody, maxContent, 5*time.Second, time.Second
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	u, _ := url.Parse(ts.URL)

	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"data\":", base, u.Host)
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a body that stopped: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a body that stopped = %d, want 400", resp.StatusCode)
	}

	// A slow body that keeps coming, in all longer than BodyTimeout.
	pr, pw := io.Pipe()
	go func() {
		defer pw.Close()
		body := `{"data":{"slowly":"coming, a few bytes a tenth of a second"}}`
		for part := range slices.Chunk([]byte(body), 5) { // 13 parts
			time.Sleep(100 * time.Millisecond)
			if _, err := pw.Write(part); err != nil {
				return
			}
		}
	}()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+base, pr)
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	checkExchange(t, exchange{req: req, res: r})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("a slow body that kept coming = %d, want 201", r.StatusCode)
	}
}
