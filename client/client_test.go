package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"arbor/client"
	"arbor/command"
	"arbor/hierarchy"
	"arbor/httpapi"
	"arbor/internal/arbortest"
	"arbor/internal/openapitest"
)

var (
	mlPipeline = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}
	documents  = hierarchy.Hierarchy{Name: "documents", Labels: []string{"project", "document", "version"}}
	ulidRE     = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)
)

const (
	dataFrameType = "application/vnd.chapkit.dataframe+json"
	// serverVersion is the version the test servers report.
	serverVersion = "1.2.3-test"
	// unknownID is a valid ULID no test creates.
	unknownID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
)

// env is a real arbor (JetStream, projection, commands, HTTP API) behind
// an httptest server, with a client of it.
type env struct {
	t   *testing.T
	st  *arbortest.Stack
	srv *httpapi.Server
	h   http.Handler // srv.Handler(), built once
	ts  *httptest.Server
	c   *client.Client

	// unhealthy makes the server's critical health check fail.
	unhealthy atomic.Bool

	mu       sync.Mutex
	requests []*http.Request // as received, bodies not kept
}

func newEnv(t *testing.T) *env {
	t.Helper()
	hs := []hierarchy.Hierarchy{mlPipeline, documents}
	e := &env{t: t, st: arbortest.New(t, hs...)}
	e.srv = e.server(e.st)
	e.h = e.srv.Handler()
	e.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.requests = append(e.requests, r.Clone(context.Background()))
		e.mu.Unlock()
		e.h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		e.srv.CloseStreams()
		e.ts.Close()
	})
	e.c = newClient(t, e.ts.URL)
	return e
}

// newClient is client.New with an HTTP client whose every exchange is
// validated against the OpenAPI document (specClient); an option given
// after it, WithHTTPClient say, takes its place.
func newClient(t *testing.T, baseURL string, opts ...client.Option) *client.Client {
	t.Helper()
	return client.New(baseURL, append([]client.Option{client.WithHTTPClient(specClient(t, 0))}, opts...)...)
}

// specClient is an HTTP client, with timeout (none when zero), that
// validates every request it sends and every answer it gets against the
// OpenAPI document, failing t on a mismatch.
func specClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	return &http.Client{Transport: openapitest.Load(t).Transport(t, nil), Timeout: timeout}
}

// server is an API server over st, whose one check is switched by
// e.unhealthy.
func (e *env) server(st *arbortest.Stack) *httpapi.Server {
	e.t.Helper()
	srv := st.API()
	srv.MaxContent = 64 << 20
	srv.Version = serverVersion
	srv.Checks = []httpapi.Check{{Name: "switch", Critical: true, Run: func(context.Context) error {
		if e.unhealthy.Load() {
			return errors.New("switched off")
		}
		return nil
	}}}
	return srv
}

// received returns the requests the server has received so far.
func (e *env) received() []*http.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.requests)
}

// create creates an artifact with data, failing the test on an error.
func (e *env) create(req client.CreateRequest) client.Artifact {
	e.t.Helper()
	a, err := e.c.Create(e.t.Context(), req)
	if err != nil {
		e.t.Fatalf("Create(%+v): %v", req, err)
	}
	return a
}

// rawGet is the body of GET path, read by plain net/http.
func (e *env) rawGet(path string) []byte {
	e.t.Helper()
	resp, err := specClient(e.t, 0).Get(e.ts.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s = %d %s", path, resp.StatusCode, b)
	}
	return b
}

func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// wantProblem checks that err is a *client.Problem of status and type.
func wantProblem(t *testing.T, what string, err error, status int, typ string) *client.Problem {
	t.Helper()
	var p *client.Problem
	if !errors.As(err, &p) {
		t.Fatalf("%s: error %v (%T), want a *client.Problem", what, err, err)
	}
	if p.Status != status || p.Type != typ {
		t.Fatalf("%s: problem %d %q (%v), want %d %q", what, p.Status, p.Type, p, status, typ)
	}
	return p
}

func TestArtifactLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	start := time.Now().Add(-time.Second)

	exp := e.create(client.CreateRequest{Data: map[string]any{"experiment_name": "weather"}, Tags: []string{"exp-1", "b"}})
	if !ulidRE.MatchString(exp.ID) || exp.ParentID != "" || exp.Level != 0 || exp.Hierarchy != "ml_pipeline" ||
		exp.Version != 1 || !slices.Equal(exp.Tags, []string{"exp-1", "b"}) || !jsonEqual(exp.Data, []byte(`{"experiment_name":"weather"}`)) {
		t.Fatalf("created root %+v", exp)
	}
	if exp.CreatedAt.Before(start) || exp.CreatedAt.After(time.Now().Add(time.Second)) || !exp.UpdatedAt.Equal(exp.CreatedAt) {
		t.Fatalf("created root at %v, updated %v; want now", exp.CreatedAt, exp.UpdatedAt)
	}
	model := e.create(client.CreateRequest{ParentID: exp.ID, Data: json.RawMessage(`{"model_type": "LinearRegression"}`)})
	if model.ParentID != exp.ID || model.Level != 1 || model.Hierarchy != "ml_pipeline" || model.Tags == nil || len(model.Tags) != 0 {
		t.Fatalf("created child %+v", model)
	}
	const chosen = "01KBX3R6ZQ5J8W2M4N7P9T1V3Y"
	doc := e.create(client.CreateRequest{ID: strings.ToLower(chosen), Hierarchy: "documents", Data: struct {
		Title string `json:"title"`
	}{"notes"}})
	if doc.ID != chosen || doc.Hierarchy != "documents" || !jsonEqual(doc.Data, []byte(`{"title":"notes"}`)) {
		t.Fatalf("created with a chosen id: %+v", doc)
	}
	_, err := e.c.Create(ctx, client.CreateRequest{ID: chosen, Data: map[string]any{}})
	wantProblem(t, "create with a used id", err, http.StatusConflict, client.TypeConflict)
	if !client.IsConflict(err) || client.IsNotFound(err) {
		t.Fatalf("IsConflict(%v) false or IsNotFound true", err)
	}

	got, err := e.c.Get(ctx, model.ID)
	if err != nil || !reflect.DeepEqual(got, model) {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, model)
	}
	// Artifact marshals to what the server sends.
	b, err := json.Marshal(got)
	if err != nil || !jsonEqual(b, e.rawGet("/api/v1/artifacts/"+model.ID)) {
		t.Fatalf("json.Marshal(Get) = %s, %v; want the server's JSON %s", b, err, e.rawGet("/api/v1/artifacts/"+model.ID))
	}
	if bytes.Contains(b, []byte(`"parent_id":null`)) {
		t.Fatalf("a child marshals with a null parent: %s", b)
	}
	if b, _ := json.Marshal(exp); !bytes.Contains(b, []byte(`"parent_id":null`)) {
		t.Fatalf("a root marshals as %s, want parent_id null", b)
	}

	up, err := e.c.Update(ctx, model.ID, client.UpdateRequest{Data: map[string]any{"rmse": 0.21}, Tags: []string{"best"}}, client.IfMatch(1))
	if err != nil || up.Version != 2 || !slices.Equal(up.Tags, []string{"best"}) || !jsonEqual(up.Data, []byte(`{"rmse":0.21}`)) ||
		up.UpdatedAt.Before(up.CreatedAt) || !up.CreatedAt.Equal(model.CreatedAt) {
		t.Fatalf("Update = %+v, %v", up, err)
	}
	_, err = e.c.Update(ctx, model.ID, client.UpdateRequest{Data: map[string]any{}}, client.IfMatch(1))
	wantProblem(t, "stale update", err, http.StatusPreconditionFailed, client.TypePreconditionFailed)
	if !client.IsPreconditionFailed(err) {
		t.Fatalf("IsPreconditionFailed(%v) = false", err)
	}
	// Without tags, an update leaves none.
	if up, err = e.c.Update(ctx, model.ID, client.UpdateRequest{Data: map[string]any{"x": 1}}); err != nil || len(up.Tags) != 0 || up.Version != 3 {
		t.Fatalf("Update without tags = %+v, %v", up, err)
	}

	err = e.c.Delete(ctx, exp.ID)
	wantProblem(t, "delete with children", err, http.StatusConflict, client.TypeConflict)
	err = e.c.Delete(ctx, model.ID, client.IfMatch(2))
	wantProblem(t, "stale delete", err, http.StatusPreconditionFailed, client.TypePreconditionFailed)
	if err := e.c.Delete(ctx, model.ID, client.IfMatch(3)); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = e.c.Get(ctx, model.ID)
	p := wantProblem(t, "get deleted", err, http.StatusNotFound, client.TypeNotFound)
	if !client.IsNotFound(err) || p.Detail != "Artifact with id "+model.ID+" not found" || p.Title != "Not Found" ||
		p.Instance != "/api/v1/artifacts/"+model.ID {
		t.Fatalf("get deleted: %+v", p)
	}
	if want := "404 Not Found: Artifact with id " + model.ID + " not found"; err.Error() != want {
		t.Fatalf("Error() = %q, want %q", err.Error(), want)
	}
	if err := e.c.Delete(ctx, exp.ID); err != nil {
		t.Fatalf("Delete of the root once its child is gone: %v", err)
	}
}

func TestProblems(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	_, err := e.c.Create(ctx, client.CreateRequest{ParentID: unknownID, Tags: []string{"ok", "not ok!", "ok"}, Data: map[string]any{}})
	p := wantProblem(t, "invalid create", err, http.StatusUnprocessableEntity, client.TypeValidationFailed)
	fields := map[string]bool{}
	for _, fe := range p.Errors {
		if fe.Reason == "" {
			t.Errorf("field error %+v has no reason", fe)
		}
		fields[fe.Field] = true
	}
	if !fields["tags[1]"] || !fields["tags[2]"] {
		t.Fatalf("field errors %+v, want tags[1] and tags[2]", p.Errors)
	}
	_, err = e.c.Create(ctx, client.CreateRequest{ParentID: unknownID, Data: map[string]any{}})
	p = wantProblem(t, "unknown parent", err, http.StatusUnprocessableEntity, client.TypeValidationFailed)
	if len(p.Errors) != 1 || p.Errors[0].Field != "parent_id" {
		t.Fatalf("unknown parent: field errors %+v, want parent_id", p.Errors)
	}
	_, err = e.c.Create(ctx, client.CreateRequest{Data: []int{1}})
	p = wantProblem(t, "data not an object", err, http.StatusUnprocessableEntity, client.TypeValidationFailed)
	if len(p.Errors) != 1 || p.Errors[0].Field != "data" {
		t.Fatalf("data not an object: field errors %+v, want data", p.Errors)
	}
	_, err = e.c.Get(ctx, "notAULID")
	wantProblem(t, "get a malformed id", err, http.StatusBadRequest, client.TypeInvalidULID)
	_, err = e.c.Tree(ctx, unknownID, -1)
	wantProblem(t, "tree of an unknown id", err, http.StatusNotFound, client.TypeNotFound)
	_, err = e.c.List(ctx, 1, 5000)
	wantProblem(t, "list size 5000", err, http.StatusUnprocessableEntity, client.TypeValidationFailed)

	// Ids that would name another route are refused before sending.
	before := len(e.received())
	for _, id := range []string{"", "$stats", "a/b", "..", "01ARZ3NDEKTSV4RRFFQ69G5FAV/$tree"} {
		if _, err := e.c.Get(ctx, id); !errors.Is(err, client.ErrInvalidID) {
			t.Errorf("Get(%q) = %v, want ErrInvalidID", id, err)
		}
	}
	if n := len(e.received()) - before; n != 0 {
		t.Errorf("invalid ids sent %d requests", n)
	}

	// A response that is not a problem document: its status and body.
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the gateway is down", http.StatusBadGateway)
	}))
	defer plain.Close()
	_, err = client.New(plain.URL).Get(ctx, unknownID)
	p = wantProblem(t, "plain 502", err, http.StatusBadGateway, "")
	if p.Detail != "the gateway is down" || p.Title != "Bad Gateway" {
		t.Fatalf("plain 502: %+v", p)
	}
}

func TestListAndAll(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	var ids []string
	for i := range 23 {
		ids = append(ids, e.create(client.CreateRequest{Data: map[string]any{"i": i}}).ID)
	}
	p, err := e.c.List(ctx, 3, 10)
	if err != nil || p.Total != 23 || p.Pages != 3 || p.Page != 3 || p.Size != 10 || len(p.Items) != 3 || p.Items[0].ID != ids[20] {
		t.Fatalf("List(3, 10) = %+v, %v", p, err)
	}
	p, err = e.c.List(ctx, 0, 0)
	if err != nil || p.Page != 1 || p.Size != 50 || len(p.Items) != 23 {
		t.Fatalf("List(0, 0) = page %d size %d, %d items, %v; want the defaults", p.Page, p.Size, len(p.Items), err)
	}

	var got []string
	for a, err := range e.c.All(ctx, 4) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.ID)
	}
	if !slices.Equal(got, ids) {
		t.Fatalf("All(4) = %d ids %v, want %v", len(got), got, ids)
	}
	pages := 0
	for _, r := range e.received() {
		if r.URL.Path == "/api/v1/artifacts" && r.URL.Query().Get("size") == "4" {
			pages++
		}
	}
	if pages != 6 {
		t.Fatalf("All(4) over 23 artifacts read %d pages, want 6", pages)
	}
	// Breaking out stops it.
	got = got[:0]
	for a := range e.c.All(ctx, 4) {
		got = append(got, a.ID)
		if len(got) == 5 {
			break
		}
	}
	if !slices.Equal(got, ids[:5]) {
		t.Fatalf("All with a break after 5 = %v", got)
	}
	// An error is yielded once, and ends it.
	n := 0
	for _, err := range e.c.All(ctx, 5000) {
		n++
		wantProblem(t, "All(5000)", err, http.StatusUnprocessableEntity, client.TypeValidationFailed)
	}
	if n != 1 {
		t.Fatalf("All(5000) yielded %d times, want one error", n)
	}
	// An empty store: no items, no error.
	empty := newEnv(t)
	for a, err := range empty.c.All(ctx, 0) {
		t.Fatalf("All on an empty store yielded %+v, %v", a, err)
	}
}

func TestTreeExpandMetadataStatsHealth(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	exp := e.create(client.CreateRequest{Data: map[string]any{"experiment_name": "weather"}})
	model := e.create(client.CreateRequest{ParentID: exp.ID,
		Data: map[string]any{"type": "generic", "metadata": map[string]any{"k": "v", "n": 1}}})
	p1 := e.create(client.CreateRequest{ParentID: model.ID, Data: map[string]any{"day": 1}})
	p2 := e.create(client.CreateRequest{ParentID: model.ID, Data: map[string]any{"day": 2}})

	anc, err := e.c.Ancestors(ctx, p2.ID)
	if err != nil || len(anc) != 2 || anc[0].ID != exp.ID || anc[0].LevelLabel != "experiment" ||
		anc[1].ID != model.ID || anc[1].LevelLabel != "model" || anc[1].ChildrenLoaded {
		t.Fatalf("Ancestors of a prediction: %+v, %v", anc, err)
	}
	if anc, err := e.c.Ancestors(ctx, exp.ID); err != nil || len(anc) != 0 {
		t.Fatalf("Ancestors of a root: %+v, %v", anc, err)
	}

	tree, err := e.c.Tree(ctx, exp.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	if tree.ID != exp.ID || tree.LevelLabel != "experiment" || !tree.ChildrenLoaded || len(tree.Children) != 1 {
		t.Fatalf("tree root %+v", tree)
	}
	m := tree.Children[0]
	if m.ID != model.ID || m.LevelLabel != "model" || !m.ChildrenLoaded || len(m.Children) != 2 {
		t.Fatalf("tree model %+v", m)
	}
	for i, want := range []string{p1.ID, p2.ID} {
		c := m.Children[i]
		if c.ID != want || c.LevelLabel != "predictions" || !c.ChildrenLoaded || len(c.Children) != 0 || c.Level != 2 {
			t.Fatalf("tree leaf %d: %+v, want %s, loaded and empty", i, c, want)
		}
	}
	// Node marshals to what the server sends: null for children not
	// loaded, [] for a leaf.
	for _, depth := range []int{-1, 0, 1} {
		n, err := e.c.Tree(ctx, exp.ID, depth)
		if err != nil {
			t.Fatal(err)
		}
		path := "/api/v1/artifacts/" + exp.ID + "/$tree"
		if depth >= 0 {
			path += "?max_depth=" + strconv.Itoa(depth)
		}
		if b, err := json.Marshal(n); err != nil || !jsonEqual(b, e.rawGet(path)) {
			t.Fatalf("json.Marshal(Tree(%d)) = %s, %v; want the server's %s", depth, b, err, e.rawGet(path))
		}
	}
	cut, err := e.c.Tree(ctx, exp.ID, 1)
	if err != nil || !cut.ChildrenLoaded || len(cut.Children) != 1 || cut.Children[0].ChildrenLoaded || cut.Children[0].Children != nil {
		t.Fatalf("Tree(1) = %+v, %v; want the model's children not loaded", cut, err)
	}
	if root, err := e.c.Tree(ctx, exp.ID, 0); err != nil || root.ChildrenLoaded {
		t.Fatalf("Tree(0) = %+v, %v; want the root alone", root, err)
	}

	x, err := e.c.Expand(ctx, model.ID)
	if err != nil || x.LevelLabel != "model" || x.ChildrenLoaded || x.ID != model.ID || !jsonEqual(x.Data, model.Data) {
		t.Fatalf("Expand = %+v, %v", x, err)
	}
	md, err := e.c.Metadata(ctx, model.ID)
	if err != nil || !jsonEqual(md, []byte(`{"k":"v","n":1}`)) {
		t.Fatalf("Metadata = %s, %v", md, err)
	}
	if md, err := e.c.Metadata(ctx, exp.ID); err != nil || string(md) != "{}" {
		t.Fatalf("Metadata without any = %s, %v; want {}", md, err)
	}
	st, err := e.c.Stats(ctx)
	want := client.Stats{Total: 4, Hierarchies: map[string]client.HierarchyStats{
		"ml_pipeline": {Total: 4, Levels: map[string]int{"experiment": 1, "model": 1, "predictions": 2}},
		"documents":   {Levels: map[string]int{}},
	}}
	if err != nil || !reflect.DeepEqual(st, want) {
		t.Fatalf("Stats = %+v, %v; want %+v", st, err, want)
	}
	schema, err := e.c.Schema(ctx)
	if err != nil || !bytes.HasPrefix(bytes.TrimSpace(schema), []byte("{")) || !bytes.Contains(schema, []byte("parent_id")) {
		t.Fatalf("Schema = %.100s, %v", schema, err)
	}

	h, err := e.c.Health(ctx)
	if err != nil || h.Status != "healthy" || h.Checks["switch"].State != "healthy" || h.Version != serverVersion {
		t.Fatalf("Health = %+v, %v; want healthy, version %s", h, err, serverVersion)
	}
	e.unhealthy.Store(true)
	h, err = e.c.Health(ctx)
	wantProblem(t, "Health when unhealthy", err, http.StatusServiceUnavailable, client.TypeUnavailable)
	if h.Status != "unhealthy" || h.Checks["switch"].Message != "switched off" || h.Version != serverVersion {
		t.Fatalf("Health when unhealthy = %+v", h)
	}
}

// noLength hides the length of a reader, so that it streams unknown.
type noLength struct{ r io.Reader }

func (n noLength) Read(p []byte) (int, error) { return n.r.Read(p) }

// failingReader returns n bytes, then an error.
type failingReader struct{ n int }

var errBroken = errors.New("the disk broke")

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, errBroken
	}
	k := min(len(p), f.n)
	clear(p[:k])
	f.n -= k
	return k, nil
}

func randomBytes(n int) []byte {
	r := rand.NewChaCha8([32]byte{byte(n)})
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// download reads the whole content of id.
func download(t *testing.T, c *client.Client, id string, opts client.DownloadOptions) (*client.Download, []byte) {
	t.Helper()
	d, err := c.Download(t.Context(), id, opts)
	if err != nil {
		t.Fatalf("Download(%s): %v", id, err)
	}
	defer d.Body.Close()
	b, err := io.ReadAll(d.Body)
	if err != nil {
		t.Fatalf("Download(%s): read: %v", id, err)
	}
	return d, b
}

func TestContent(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	// PUT $content, streamed with no length.
	a := e.create(client.CreateRequest{Data: map[string]any{"name": "weights"}})
	blob := randomBytes(3<<20 + 17)
	up, err := e.c.UploadContent(ctx, a.ID, "application/zip", noLength{bytes.NewReader(blob)}, client.IfMatch(1))
	if err != nil {
		t.Fatalf("UploadContent: %v", err)
	}
	var stamped struct {
		ContentType   string `json:"content_type"`
		ContentSize   int64  `json:"content_size"`
		ContentSHA256 string `json:"content_sha256"`
		Name          string `json:"name"`
	}
	if err := json.Unmarshal(up.Data, &stamped); err != nil || up.Version != 2 || stamped.ContentSHA256 != sha(blob) ||
		stamped.ContentSize != int64(len(blob)) || stamped.ContentType != "application/zip" || stamped.Name != "weights" {
		t.Fatalf("UploadContent = version %d data %s, %v", up.Version, up.Data, err)
	}
	d, got := download(t, e.c, a.ID, client.DownloadOptions{})
	if sha(got) != sha(blob) || d.Size != int64(len(blob)) || d.ContentType != "application/zip" || d.Filename != "artifact_"+a.ID+".zip" {
		t.Fatalf("Download: %d bytes sha %s, %+v; want %d bytes sha %s", len(got), sha(got), d, len(blob), sha(blob))
	}
	_, err = e.c.UploadContent(ctx, a.ID, "application/zip", bytes.NewReader(blob[:10]), client.IfMatch(1))
	wantProblem(t, "stale upload", err, http.StatusPreconditionFailed, client.TypePreconditionFailed)

	// Multipart create, streamed.
	blob2 := randomBytes(2<<20 + 5)
	b, err := e.c.CreateWithContent(ctx, client.CreateRequest{Tags: []string{"img"}, Data: map[string]any{"kind": "plot"}},
		"image/png", noLength{bytes.NewReader(blob2)})
	if err != nil {
		t.Fatalf("CreateWithContent: %v", err)
	}
	if err := json.Unmarshal(b.Data, &stamped); err != nil || b.Version != 1 || stamped.ContentSHA256 != sha(blob2) ||
		stamped.ContentType != "image/png" || !slices.Equal(b.Tags, []string{"img"}) {
		t.Fatalf("CreateWithContent = %+v, %v", b, err)
	}
	d, got = download(t, e.c, b.ID, client.DownloadOptions{})
	if !bytes.Equal(got, blob2) || d.ContentType != "image/png" || d.Filename != "artifact_"+b.ID+".png" {
		t.Fatalf("Download of the multipart create: %d bytes, %+v", len(got), d)
	}
	// No content type: octet-stream.
	c, err := e.c.CreateWithContent(ctx, client.CreateRequest{Data: map[string]any{}}, "", strings.NewReader("raw"))
	if err != nil {
		t.Fatal(err)
	}
	if d, got := download(t, e.c, c.ID, client.DownloadOptions{}); string(got) != "raw" || d.ContentType != "application/octet-stream" {
		t.Fatalf("default content type: %q, %+v", got, d)
	}

	// A create the server rejects before reading the content returns its
	// problem, without reading the rest.
	total := e.stats(t).Total
	_, err = e.c.CreateWithContent(ctx, client.CreateRequest{Tags: []string{"bad tag"}, Data: map[string]any{}},
		"image/png", noLength{bytes.NewReader(randomBytes(8 << 20))})
	wantProblem(t, "multipart create with a bad tag", err, http.StatusUnprocessableEntity, client.TypeValidationFailed)
	// Content that fails to read fails the request, and nothing is made.
	_, err = e.c.CreateWithContent(ctx, client.CreateRequest{Data: map[string]any{}}, "image/png", &failingReader{n: 1 << 20})
	if err == nil {
		t.Fatal("CreateWithContent of a failing reader succeeded")
	}
	_, err = e.c.UploadContent(ctx, a.ID, "", &failingReader{n: 100 << 10})
	if !errors.Is(err, errBroken) {
		t.Logf("UploadContent of a failing reader: %v", err)
	}
	if err == nil {
		t.Fatal("UploadContent of a failing reader succeeded")
	}
	if n := e.stats(t).Total; n != total {
		t.Fatalf("failed creates made artifacts: %d, want %d", n, total)
	}

	// No content: not found.
	plain := e.create(client.CreateRequest{Data: map[string]any{"x": 1}})
	_, err = e.c.Download(ctx, plain.ID, client.DownloadOptions{})
	if p := wantProblem(t, "download without content", err, http.StatusNotFound, client.TypeNotFound); p.Detail != "Artifact has no content" {
		t.Fatalf("download without content: %+v", p)
	}
}

func (e *env) stats(t *testing.T) client.Stats {
	t.Helper()
	s, err := e.c.Stats(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDownloadDataFrame(t *testing.T) {
	e := newEnv(t)
	a := e.create(client.CreateRequest{Data: json.RawMessage(`{"name":"cities","content_type":"` + dataFrameType +
		`","content":{"columns":["city","pop"],"data":[["Oslo",709000],["a,b \"q\"",1.5]]}}`)})
	d, got := download(t, e.c, a.ID, client.DownloadOptions{CSV: true})
	if want := "city,pop\nOslo,709000\n\"a,b \"\"q\"\"\",1.5\n"; string(got) != want {
		t.Fatalf("CSV = %q, want %q", got, want)
	}
	if !strings.HasPrefix(d.ContentType, "text/csv") || d.Filename != "artifact_"+a.ID+".csv" {
		t.Fatalf("CSV download: %+v", d)
	}
	d, got = download(t, e.c, a.ID, client.DownloadOptions{})
	if !jsonEqual(got, []byte(`[{"city":"Oslo","pop":709000},{"city":"a,b \"q\"","pop":1.5}]`)) ||
		d.ContentType != dataFrameType || d.Filename != "artifact_"+a.ID+".json" {
		t.Fatalf("records download: %s, %+v", got, d)
	}
}

// logged is an event as the test wrote it.
type logged struct {
	seq                   uint64
	typ, hierarchy, label string
	subject               string
	parent                string // of a creation
}

// eventLog records, for each write the test makes, the event it appends.
type eventLog struct {
	t      *testing.T
	c      *client.Client
	events []logged
}

func (l *eventLog) add(seq uint64, typ, hierarchy, label, subject string) {
	if n := len(l.events); n > 0 && seq <= l.events[n-1].seq {
		l.t.Fatalf("position %d after %d", seq, l.events[n-1].seq)
	}
	l.events = append(l.events, logged{seq: seq, typ: typ, hierarchy: hierarchy, label: label, subject: subject})
}

// parentOf records the parent of the creation last added.
func (l *eventLog) parentOf(parent string) { l.events[len(l.events)-1].parent = parent }

func (l *eventLog) create(req client.CreateRequest, label string) client.Artifact {
	l.t.Helper()
	a, err := l.c.Create(l.t.Context(), req)
	if err != nil {
		l.t.Fatal(err)
	}
	l.add(l.c.Position(), "artifact.created", a.Hierarchy, label, a.ID)
	l.parentOf(req.ParentID)
	return a
}

// want is the events f selects after position from.
func (l *eventLog) want(f client.EventFilter, from uint64) []logged {
	var out []logged
	for _, ev := range l.events {
		typ := strings.TrimPrefix(f.Type, "artifact.")
		if ev.seq > from && (f.Hierarchy == "" || f.Hierarchy == ev.hierarchy) && (f.LevelLabel == "" || f.LevelLabel == ev.label) &&
			(typ == "" || "artifact."+typ == ev.typ) && (f.Artifact == "" || strings.EqualFold(f.Artifact, ev.subject)) &&
			(f.ParentID == "" || ev.typ == "artifact.created" && strings.EqualFold(f.ParentID, ev.parent)) {
			out = append(out, ev)
		}
	}
	return out
}

// collect reads events until one at position last or later has come, or
// the deadline passes.
func collect(t *testing.T, c *client.Client, f client.EventFilter, from *uint64, last uint64) []client.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var got []client.Event
	for ev, err := range c.Events(ctx, f, from) {
		if err != nil {
			t.Fatalf("Events(%+v): %v", f, err)
		}
		got = append(got, ev)
		if ev.Seq >= last {
			return got
		}
	}
	t.Fatalf("Events(%+v) ended after %d events without reaching position %d: %v", f, len(got), last, ctx.Err())
	return nil
}

func TestEventsFiltered(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	l := &eventLog{t: t, c: e.c}
	start := time.Now().Add(-time.Second)

	exp := l.create(client.CreateRequest{Data: map[string]any{"n": "exp"}}, "experiment")
	model := l.create(client.CreateRequest{ParentID: exp.ID, Data: map[string]any{"n": "model"}}, "model")
	p1 := l.create(client.CreateRequest{ParentID: model.ID, Data: map[string]any{"n": "p1"}}, "predictions")
	l.create(client.CreateRequest{Hierarchy: "documents", Data: map[string]any{"n": "doc"}}, "project")
	if _, err := e.c.Update(ctx, p1.ID, client.UpdateRequest{Data: map[string]any{"n": "p1b"}}); err != nil {
		t.Fatal(err)
	}
	l.add(e.c.Position(), "artifact.updated", "ml_pipeline", "predictions", p1.ID)
	mid := e.c.Position()
	p2 := l.create(client.CreateRequest{ParentID: model.ID, Data: map[string]any{"n": "p2"}}, "predictions")
	if err := e.c.Delete(ctx, p2.ID); err != nil {
		t.Fatal(err)
	}
	l.add(e.c.Position(), "artifact.deleted", "ml_pipeline", "predictions", p2.ID)
	// Last, one event each filter below selects, so that reading up to it
	// shows any event a filter lets through wrongly.
	l.create(client.CreateRequest{Hierarchy: "documents", Data: map[string]any{"n": "doc2"}}, "project")
	p3 := l.create(client.CreateRequest{ParentID: model.ID, Data: map[string]any{"n": "p3"}}, "predictions")
	if _, err := e.c.Update(ctx, p1.ID, client.UpdateRequest{Data: map[string]any{"n": "p1c"}}); err != nil {
		t.Fatal(err)
	}
	l.add(e.c.Position(), "artifact.updated", "ml_pipeline", "predictions", p1.ID)
	if err := e.c.Delete(ctx, p3.ID); err != nil {
		t.Fatal(err)
	}
	l.add(e.c.Position(), "artifact.deleted", "ml_pipeline", "predictions", p3.ID)

	zero := uint64(0)
	for _, c := range []struct {
		f    client.EventFilter
		from uint64
	}{
		{client.EventFilter{}, 0},
		{client.EventFilter{}, mid},
		{client.EventFilter{Hierarchy: "documents"}, 0},
		{client.EventFilter{Hierarchy: "ml_pipeline"}, mid},
		{client.EventFilter{LevelLabel: "predictions"}, 0},
		{client.EventFilter{Type: "deleted"}, 0},
		{client.EventFilter{Type: "artifact.updated"}, 0},
		{client.EventFilter{Artifact: strings.ToLower(p1.ID)}, 0},
		{client.EventFilter{ParentID: model.ID}, 0},
		{client.EventFilter{Hierarchy: "ml_pipeline", LevelLabel: "predictions", Type: "created"}, 0},
	} {
		want := l.want(c.f, c.from)
		if len(want) < 2 {
			t.Fatalf("filter %+v from %d selects %d events: too few to tell anything", c.f, c.from, len(want))
		}
		got := collect(t, e.c, c.f, &c.from, want[len(want)-1].seq)
		if len(got) != len(want) {
			t.Fatalf("filter %+v from %d: %d events %v, want %d %v", c.f, c.from, len(got), seqs(got), len(want), wantSeqs(want))
		}
		for i, ev := range got {
			w := want[i]
			if ev.Seq != w.seq || ev.Type != w.typ || ev.Hierarchy != w.hierarchy || ev.LevelLabel != w.label ||
				ev.Subject != w.subject || !ulidRE.MatchString(ev.ID) || ev.Source == "" ||
				ev.Time.Before(start) || ev.Time.After(time.Now().Add(time.Second)) || !json.Valid(ev.Data) {
				t.Fatalf("filter %+v from %d: event %d is %+v, want %+v", c.f, c.from, i, ev, w)
			}
		}
	}

	// An event marshals to the CloudEvent the feed sent.
	first := collect(t, e.c, client.EventFilter{}, &zero, 1)[0]
	b, err := json.Marshal(first)
	if err != nil {
		t.Fatal(err)
	}
	var ce map[string]any
	if err := json.Unmarshal(b, &ce); err != nil || ce["specversion"] != "1.0" || ce["sequence"] != strconv.FormatUint(first.Seq, 10) ||
		ce["datacontenttype"] != "application/json" || ce["subject"] != exp.ID || ce["type"] != "artifact.created" || ce["levellabel"] != "experiment" {
		t.Fatalf("json.Marshal(event) = %s, %v", b, err)
	}
	var back client.Event
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, first) {
		t.Fatalf("event round trip: %+v, %v; want %+v", back, err, first)
	}

	// A filter the server rejects is an error, once.
	n := 0
	for _, err := range e.c.Events(ctx, client.EventFilter{Type: "exploded"}, nil) {
		n++
		p := wantProblem(t, "bad type filter", err, http.StatusUnprocessableEntity, client.TypeValidationFailed)
		if len(p.Errors) != 1 || p.Errors[0].Field != "type" {
			t.Fatalf("bad type filter: %+v", p)
		}
	}
	if n != 1 {
		t.Fatalf("a bad filter yielded %d times, want once", n)
	}
}

func seqs(evs []client.Event) []uint64 {
	var s []uint64
	for _, ev := range evs {
		s = append(s, ev.Seq)
	}
	return s
}

func wantSeqs(evs []logged) []uint64 {
	var s []uint64
	for _, ev := range evs {
		s = append(s, ev.seq)
	}
	return s
}

// TestEventsFromNow follows new events only: what comes is every event
// appended from some point on, none missing.
func TestEventsFromNow(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	e.create(client.CreateRequest{Data: map[string]any{"old": true}})
	old := e.c.Position()

	got := make(chan client.Event, 100)
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for ev, err := range e.c.Events(ctx, client.EventFilter{}, nil) {
			if err != nil {
				done <- err
				return
			}
			got <- ev
		}
	}()
	// The feed has started once an event comes: write until one does.
	var written []uint64
	var first client.Event
	for first.Seq == 0 {
		e.create(client.CreateRequest{Data: map[string]any{"new": true}})
		written = append(written, e.c.Position())
		select {
		case first = <-got:
		case err := <-done:
			t.Fatalf("Events ended: %v", err)
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("no event came")
		}
	}
	if first.Seq <= old {
		t.Fatalf("a feed of new events began with position %d, written before it at %d", first.Seq, old)
	}
	for range 3 {
		e.create(client.CreateRequest{Data: map[string]any{"new": true}})
		written = append(written, e.c.Position())
	}
	i := slices.Index(written, first.Seq)
	if i < 0 {
		t.Fatalf("first event at %d, not one written: %v", first.Seq, written)
	}
	for _, want := range written[i+1:] {
		select {
		case ev := <-got:
			if ev.Seq != want {
				t.Fatalf("event at %d, want %d (written %v)", ev.Seq, want, written)
			}
		case <-ctx.Done():
			t.Fatalf("event at %d never came", want)
		}
	}
	cancel()
	for err := range done {
		t.Fatalf("Events ended with %v when its context was cancelled, want no error", err)
	}
}

// TestEventsResume drops the feed's connection again and again while
// events are being appended: the sequence still has every event once, in
// order.
func TestEventsResume(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const n = 60

	// The writer appends through the command handler, not HTTP, so that
	// dropping the server's connections does not touch it. It keeps at
	// most a few events ahead of the reader, so that every drop below
	// happens with events still to come.
	start := e.st.Projection.Applied()
	credits := make(chan struct{}, 5)
	for range cap(credits) {
		credits <- struct{}{}
	}
	positions := make(chan uint64, n)
	writeErr := make(chan error, 1)
	go func() {
		defer close(positions)
		for i := range n {
			select {
			case <-credits:
			case <-ctx.Done():
				return
			}
			_, pos, err := e.st.Handler.Create(ctx, command.Create{Data: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))})
			if err != nil {
				writeErr <- err
				return
			}
			positions <- pos
		}
	}()
	feeds := func() (connects int, resumes []string) {
		for _, r := range e.received() {
			if r.URL.Path == "/api/v1/artifacts/$events" {
				connects++
				if id := r.Header.Get("Last-Event-ID"); id != "" {
					resumes = append(resumes, id)
				}
			}
		}
		return connects, resumes
	}

	var got []uint64
	// Drop the connections after these many events, each time once the
	// client has connected again.
	drops := []int{1, 10, 25, 40}
	dropped, connectedAtDrop := 0, 0
	for ev, err := range e.c.Events(ctx, client.EventFilter{}, &start) {
		if err != nil {
			t.Fatalf("Events: %v", err)
		}
		got = append(got, ev.Seq)
		select {
		case credits <- struct{}{}:
		default:
		}
		if dropped < len(drops) && len(got) >= drops[dropped] {
			if connects, _ := feeds(); connects > connectedAtDrop {
				e.ts.CloseClientConnections()
				dropped, connectedAtDrop = dropped+1, connects
			}
		}
		if len(got) == n {
			break
		}
	}
	var want []uint64
	for p := range positions {
		want = append(want, p)
	}
	select {
	case err := <-writeErr:
		t.Fatalf("writing: %v", err)
	default:
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	// Each drop made the client connect again, resuming after the last
	// event it had.
	connects, resumes := feeds()
	if dropped != len(drops) || connects != 1+dropped || len(resumes) != dropped {
		t.Fatalf("%d drops, %d connections, resuming from %v; want %d drops, each followed by a resuming connection",
			dropped, connects, resumes, len(drops))
	}
	for _, id := range resumes {
		pos, _ := strconv.ParseUint(id, 10, 64)
		if !slices.Contains(got, pos) {
			t.Fatalf("resumed from %s, not a position yielded", id)
		}
	}
}

// TestEventsStream checks reading a feed by hand: comments, ids without
// data, events split over lines, and where it resumes.
func TestEventsStream(t *testing.T) {
	var (
		mu      sync.Mutex
		lastIDs []string
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID")+"|"+r.URL.Query().Get("since"))
		n := len(lastIDs)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		switch n {
		case 1:
			// A comment, an id alone (the position now), then the end.
			fmt.Fprint(w, ": keep-alive\n\nid: 5\n\n")
		case 2:
			fmt.Fprint(w, "retry: 10\n: hi\r\nid: 6\r\nevent: artifact.created\r\n"+
				`data: {"specversion":"1.0","id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","type":"artifact.created",`+"\n"+
				`data: "subject":"X","sequence":"6","time":"2026-11-27T12:00:00.123456Z","data":{"a":1}}`+"\n\n"+
				// Seen already: skipped.
				"id: 6\ndata: {\"sequence\":\"6\",\"type\":\"dup\"}\n\n"+
				"id: 7\ndata: {\"sequence\":\"7\",\"type\":\"artifact.updated\"}\n\n"+
				"id: 8\ndata: {\"sequence\":\"8\",\"type\":\"artifact.upd") // cut off
		default:
			fmt.Fprint(w, "id: 8\ndata: {\"sequence\":\"8\",\"type\":\"artifact.deleted\"}\n\n"+
				"id: 9\ndata: not json\n\n"+
				"id: 10\ndata: {\"sequence\":\"10\",\"type\":\"artifact.created\"}\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	}))
	defer ts.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var got []string
	for ev, err := range client.New(ts.URL).Events(ctx, client.EventFilter{}, nil) {
		if err != nil {
			got = append(got, fmt.Sprintf("%d error", ev.Seq))
			continue
		}
		got = append(got, fmt.Sprintf("%d %s", ev.Seq, ev.Type))
		if ev.Seq == 6 && (ev.Subject != "X" || string(ev.Data) != `{"a":1}` || ev.Time.Nanosecond() != 123456000) {
			t.Errorf("event 6 = %+v", ev)
		}
		if ev.Seq == 10 {
			break
		}
	}
	want := []string{"6 artifact.created", "7 artifact.updated", "8 artifact.deleted", "9 error", "10 artifact.created"}
	if !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if wantIDs := []string{"|", "5|", "7|"}; !slices.Equal(lastIDs, wantIDs) {
		t.Fatalf("connections with Last-Event-ID|since %q, want %q", lastIDs, wantIDs)
	}
}

// TestConsistencyToken checks that the client sends back the position of
// its writes, and that through it a client whose requests alternate
// between two instances reads its own writes.
func TestConsistencyToken(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	minPositions := func(from int) []string {
		var out []string
		for _, r := range e.received()[from:] {
			out = append(out, r.Method+" "+r.Header.Get(client.HeaderMinPosition))
		}
		return out
	}
	if _, err := e.c.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	a := e.create(client.CreateRequest{Data: map[string]any{}})
	p1 := e.c.Position()
	if p1 == 0 {
		t.Fatal("no position after a create")
	}
	if _, err := e.c.Get(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Update(ctx, a.ID, client.UpdateRequest{Data: map[string]any{"v": 2}}); err != nil {
		t.Fatal(err)
	}
	p2 := e.c.Position()
	if _, err := e.c.List(ctx, 1, 10); err != nil {
		t.Fatal(err)
	}
	// A read of an older client does not lower it.
	if _, err := e.c.Get(ctx, a.ID); err != nil || e.c.Position() != p2 {
		t.Fatalf("position %d after a read, want %d still", e.c.Position(), p2)
	}
	want := []string{"GET ", "POST ", "GET " + strconv.FormatUint(p1, 10), "PUT " + strconv.FormatUint(p1, 10),
		"GET " + strconv.FormatUint(p2, 10), "GET " + strconv.FormatUint(p2, 10)}
	if got := minPositions(0); p2 <= p1 || !slices.Equal(got, want) {
		t.Fatalf("Arbor-Min-Position sent: %q, want %q", got, want)
	}

	n := len(e.received())
	off := newClient(t, e.ts.URL, client.WithoutConsistency())
	if _, err := off.Create(ctx, client.CreateRequest{Data: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := off.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minPositions(n); !slices.Equal(got, []string{"POST ", "GET "}) {
		t.Fatalf("WithoutConsistency sent %q", got)
	}
	n = len(e.received())
	handed := newClient(t, e.ts.URL, client.WithMinPosition(p2), client.WithHTTPClient(specClient(t, 10*time.Second)))
	if _, err := handed.Stats(ctx); err != nil {
		t.Fatal(err)
	}
	if got := minPositions(n); !slices.Equal(got, []string{"GET " + strconv.FormatUint(p2, 10)}) {
		t.Fatalf("WithMinPosition(%d) sent %q", p2, got)
	}

	// Two instances on one JetStream, requests alternating between them.
	other := arbortest.Join(t, e.st.Server, mlPipeline, documents)
	handlers := []http.Handler{e.h, e.server(other).Handler()}
	var turn atomic.Uint64
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers[turn.Add(1)%2].ServeHTTP(w, r)
	}))
	defer lb.Close()
	c := newClient(t, lb.URL)
	parent := ""
	for i := range 30 {
		a, err := c.Create(ctx, client.CreateRequest{ParentID: parent, Data: map[string]any{"i": i}})
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		if got, err := c.Get(ctx, a.ID); err != nil || got.Version != 1 {
			t.Fatalf("read %d of its own write from the other instance: %+v, %v", i, got, err)
		}
		if i%3 == 0 {
			parent = a.ID // and a child created on the other instance
		} else {
			parent = ""
		}
	}
}
