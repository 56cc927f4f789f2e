package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"arbor/client"
	"arbor/hierarchy"
	"arbor/internal/apikey"
	"arbor/internal/arbortest"
)

var cliULID = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{26}$`)

// cliEnv is an arbor opened for CLI tests, and a client of it.
type cliEnv struct {
	t   *testing.T
	in  *testInstance
	url string
	c   *client.Client
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	cfg := testMainConfig(t.TempDir())
	in := openTestMain(t, cfg)
	url := "http://" + in.m.HTTPAddr()
	return &cliEnv{t: t, in: in, url: url, c: client.New(url)}
}

// cliResult is what one run of the CLI did.
type cliResult struct {
	stdout, stderr string
	err            error
}

func (r cliResult) String() string {
	return fmt.Sprintf("err %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

// run runs `arbor cmd --url <arbor> args...`.
func (e *cliEnv) run(cmd string, args ...string) cliResult {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(e.t.Context(), append([]string{cmd, "--url", e.url}, args...), &stdout, &stderr)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// ok runs the CLI and fails the test unless it succeeds.
func (e *cliEnv) ok(cmd string, args ...string) string {
	e.t.Helper()
	r := e.run(cmd, args...)
	if r.err != nil {
		e.t.Fatalf("arbor %s %q: %v", cmd, args, r)
	}
	return r.stdout
}

// createID runs arbor create and returns the id it prints.
func (e *cliEnv) createID(args ...string) string {
	e.t.Helper()
	out := e.ok("create", args...)
	id := strings.TrimSuffix(out, "\n")
	if !cliULID.MatchString(id) {
		e.t.Fatalf("arbor create %q printed %q, want an id and a newline", args, out)
	}
	return id
}

func (e *cliEnv) get(id string) client.Artifact {
	e.t.Helper()
	a, err := e.c.Get(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func TestCLICreateGetList(t *testing.T) {
	e := newCLIEnv(t)
	exp := e.createID("--data", `{"experiment_name": "weather"}`, "--tag", "exp-1", "--tag", "b")
	a := e.get(exp)
	if a.Level != 0 || a.Hierarchy != "ml_pipeline" || !slices.Equal(a.Tags, []string{"exp-1", "b"}) ||
		string(a.Data) != `{"experiment_name":"weather"}` {
		t.Fatalf("created %+v", a)
	}

	// --data @file, --parent, --json.
	file := filepath.Join(t.TempDir(), "model.json")
	if err := os.WriteFile(file, []byte(`{"model_type": "LinearRegression"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := e.ok("create", "--parent", exp, "--data", "@"+file, "--json")
	var model struct {
		ID       string          `json:"id"`
		ParentID *string         `json:"parent_id"`
		Level    int             `json:"level"`
		Data     json.RawMessage `json:"data"`
		Version  int             `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &model); err != nil || strings.Count(out, "\n") != 1 ||
		model.ParentID == nil || *model.ParentID != exp || model.Level != 1 || model.Version != 1 ||
		string(model.Data) != `{"model_type":"LinearRegression"}` {
		t.Fatalf("create --json printed %q (%v)", out, err)
	}
	if got := e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+model.ID, nil, nil); !jsonEqual(got.body, []byte(out)) {
		t.Fatalf("create --json printed %s, the server has %s", out, got.body)
	}

	// --data - reads standard input; no --data is {}; --hierarchy.
	var stdout, stderr bytes.Buffer
	cl := &cli{stdin: strings.NewReader(`{"from": "stdin"}`), stdout: &stdout, stderr: &stderr, getenv: lookupEnv}
	if err := (createCommand{cl}).Run(t.Context(), []string{"--url", e.url, "--data", "-", "--hierarchy", "documents"}); err != nil {
		t.Fatalf("create --data -: %v %s", err, stderr.String())
	}
	if d := e.get(strings.TrimSpace(stdout.String())); string(d.Data) != `{"from":"stdin"}` || d.Hierarchy != "documents" {
		t.Fatalf("create --data - made %+v", d)
	}
	if d := e.get(e.createID()); string(d.Data) != "{}" {
		t.Fatalf("create without --data made %+v", d)
	}

	// get: a summary; flags may follow the id.
	a = e.get(exp)
	want := "id:         " + exp + "\n" +
		"parent:     - (a root)\n" +
		"hierarchy:  ml_pipeline\n" +
		"level:      0\n" +
		"version:    1\n" +
		"created_at: " + a.CreatedAt.Format(client.TimeFormat) + "\n" +
		"updated_at: " + a.UpdatedAt.Format(client.TimeFormat) + "\n" +
		"tags:       exp-1, b\n" +
		"data:\n" +
		"  {\n" +
		"    \"experiment_name\": \"weather\"\n" +
		"  }\n"
	if got := e.ok("get", exp); got != want {
		t.Fatalf("get printed\n%s\nwant\n%s", got, want)
	}
	if got := e.ok("get", model.ID); !strings.Contains(got, "parent:     "+exp+"\n") || !strings.Contains(got, "level:      1\n") ||
		!strings.Contains(got, "tags:       -\n") {
		t.Fatalf("get of the model printed\n%s", got)
	}
	if got := e.ok("get", strings.ToLower(exp), "--json"); !jsonEqual([]byte(got), e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+exp, nil, nil).body) {
		t.Fatalf("get --json printed %s", got)
	}

	// list: a table of a page, or of all.
	ids := []string{exp, model.ID}
	for range 3 {
		ids = append(ids, e.createID("--data", `{"n": 1}`))
	}
	var all []string
	for _, d := range e.in.c.listAll() {
		all = append(all, d.ID)
	}
	out = e.ok("list", "--all", "--size", "2")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1+len(all) || strings.Join(strings.Fields(lines[0]), " ") != "ID LEVEL LABEL HIERARCHY VERSION CREATED_AT TAGS" {
		t.Fatalf("list --all printed\n%s\nwant a header and %d rows", out, len(all))
	}
	for i, line := range lines[1:] {
		d := e.get(all[i])
		tags := strings.Join(d.Tags, ",")
		if tags == "" {
			tags = "-"
		}
		x, err := e.c.Expand(t.Context(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{d.ID, fmt.Sprint(d.Level), x.LevelLabel, d.Hierarchy, fmt.Sprint(d.Version), d.CreatedAt.Format(client.TimeFormat), tags}
		if got := strings.Fields(line); !slices.Equal(got, want) {
			t.Fatalf("list --all row %d: %q, want %q", i, got, want)
		}
	}
	for _, id := range ids {
		if !strings.Contains(out, id) {
			t.Fatalf("list --all does not show %s:\n%s", id, out)
		}
	}
	for _, row := range []struct{ id, label string }{{exp, "experiment"}, {model.ID, "model"}} {
		if !slices.ContainsFunc(lines, func(l string) bool { f := strings.Fields(l); return f[0] == row.id && f[2] == row.label }) {
			t.Fatalf("list --all does not label %s %s:\n%s", row.id, row.label, out)
		}
	}
	out = e.ok("list", "--page", "2", "--size", "2")
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	pages := (len(all) + 1) / 2
	if len(lines) != 5 || !strings.HasPrefix(lines[1], all[2]+" ") || !strings.HasPrefix(lines[2], all[3]+" ") ||
		lines[3] != fmt.Sprintf("page 2 of %d, %d artifacts", pages, len(all)) || !strings.HasPrefix(lines[4], "next page: --cursor ") {
		t.Fatalf("list --page 2 --size 2 printed\n%s", out)
	}
	out = e.ok("list", "--all", "--json")
	var jsonIDs []string
	for line := range strings.Lines(out) {
		var d struct{ ID string }
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("list --all --json line %q: %v", line, err)
		}
		jsonIDs = append(jsonIDs, d.ID)
	}
	if !slices.Equal(jsonIDs, all) {
		t.Fatalf("list --all --json: %v, want %v", jsonIDs, all)
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
		Total int               `json:"total"`
	}
	if out := e.ok("list", "--json", "--size", "1"); json.Unmarshal([]byte(out), &page) != nil || len(page.Items) != 1 || page.Total != len(all) {
		t.Fatalf("list --json printed %s", out)
	}
}

func TestCLITree(t *testing.T) {
	e := newCLIEnv(t)
	exp := e.createID("--data", `{"experiment_name":"weather_forecast","description":"hourly temperatures for Oslo"}`)
	m1 := e.createID("--parent", exp, "--data", `{"model_type":"LinearRegression","metrics":{"rmse":0.25}}`)
	p1 := e.createID("--parent", m1, "--data", `{"prediction_date":"2026-11-27","num_predictions":1000}`)
	p2 := e.createID("--parent", m1, "--data", `{"prediction_date":"2026-11-28","num_predictions":900}`)
	m2 := e.createID("--parent", exp, "--data", `{"model_type":"RandomForest"}`)

	want := "experiment " + exp + ` {"experiment_name":"weather_forecast","description":"hourly…` + "\n" +
		"├── model " + m1 + ` {"model_type":"LinearRegression","metrics":{"rmse":0.25}}` + "\n" +
		"│   ├── predictions " + p1 + ` {"prediction_date":"2026-11-27","num_predictions":1000}` + "\n" +
		"│   └── predictions " + p2 + ` {"prediction_date":"2026-11-28","num_predictions":900}` + "\n" +
		"└── model " + m2 + ` {"model_type":"RandomForest"}` + "\n"
	if got := e.ok("tree", exp); got != want {
		t.Fatalf("tree printed\n%s\nwant\n%s", got, want)
	}
	want = "model " + m1 + ` {"model_type":"LinearRegression","metrics":{"rmse":0.25}}` + "\n" +
		"├── predictions " + p1 + ` {"prediction_date":"2026-11-27","num_predictions":1000}` + "\n" +
		"└── predictions " + p2 + ` {"prediction_date":"2026-11-28","num_predictions":900}` + "\n"
	if got := e.ok("tree", m1); got != want {
		t.Fatalf("tree of the model printed\n%s\nwant\n%s", got, want)
	}
	want = "experiment " + exp + ` {"experiment_name":"weather_forecast","description":"hourly…` + "\n" +
		"├── model " + m1 + ` {"model_type":"LinearRegression","metrics":{"rmse":0.25}} (children not loaded)` + "\n" +
		"└── model " + m2 + ` {"model_type":"RandomForest"} (children not loaded)` + "\n"
	if got := e.ok("tree", exp, "--max-depth", "1"); got != want {
		t.Fatalf("tree --max-depth 1 printed\n%s\nwant\n%s", got, want)
	}
	// --wide: the data whole.
	want = "experiment " + exp + ` {"experiment_name":"weather_forecast","description":"hourly temperatures for Oslo"}` + "\n" +
		"├── model " + m1 + ` {"model_type":"LinearRegression","metrics":{"rmse":0.25}} (children not loaded)` + "\n" +
		"└── model " + m2 + ` {"model_type":"RandomForest"} (children not loaded)` + "\n"
	if got := e.ok("tree", exp, "--max-depth", "1", "--wide"); got != want {
		t.Fatalf("tree --wide printed\n%s\nwant\n%s", got, want)
	}
	out := e.ok("tree", "--json", "--max-depth", "1", exp)
	raw := e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+exp+"/$tree?max_depth=1", nil, nil)
	if !jsonEqual([]byte(out), raw.body) {
		t.Fatalf("tree --json printed %s, the server %s", out, raw.body)
	}
}

func TestCLIDownload(t *testing.T) {
	e := newCLIEnv(t)
	dir := t.TempDir()
	content := make([]byte, 1<<20+3)
	if _, err := rand.Read(content); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "weights.zip")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	id := e.createID("--file", src, "--data", `{"name":"weights"}`)
	var stamped struct {
		Name        string `json:"name"`
		ContentType string `json:"content_type"`
		ContentSize int    `json:"content_size"`
	}
	if err := json.Unmarshal(e.get(id).Data, &stamped); err != nil || stamped.Name != "weights" ||
		stamped.ContentType != "application/zip" || stamped.ContentSize != len(content) {
		t.Fatalf("create --file stored %+v (%v)", stamped, err)
	}

	out := filepath.Join(dir, "out.bin")
	if got := e.ok("download", id, "-o", out); got != fmt.Sprintf("%s (%d bytes, application/zip)\n", out, len(content)) {
		t.Fatalf("download -o printed %q", got)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("download -o wrote %d bytes (%v), want the %d uploaded", len(got), err, len(content))
	}
	// Standard output.
	if got := e.ok("download", "-o", "-", id); got != string(content) {
		t.Fatalf("download -o - printed %d bytes, want the %d uploaded", len(got), len(content))
	}
	// The server's file name, in the working directory.
	t.Chdir(t.TempDir())
	if got := e.ok("download", id, "--json"); !jsonEqual([]byte(got),
		fmt.Appendf(nil, `{"file":"artifact_%s.zip","size":%d,"content_type":"application/zip"}`, id, len(content))) {
		t.Fatalf("download --json printed %s", got)
	}
	if got, err := os.ReadFile("artifact_" + id + ".zip"); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("download wrote %d bytes (%v) to the server's file name", len(got), err)
	}
	// --content-type wins over the extension.
	typed := e.createID("--file", src, "--content-type", "application/x-weights")
	if got := e.ok("download", typed, "-o", filepath.Join(dir, "typed")); !strings.HasSuffix(got, "application/x-weights)\n") {
		t.Fatalf("download of content typed by --content-type printed %q", got)
	}

	// A DataFrame as CSV, and as JSON records.
	frame := e.createID("--data", `{"content_type":"application/vnd.chapkit.dataframe+json",`+
		`"content":{"columns":["city","pop"],"data":[["Oslo",709000],["a,b",1.5]]}}`)
	if got := e.ok("download", frame, "--csv", "-o", "-"); got != "city,pop\nOslo,709000\n\"a,b\",1.5\n" {
		t.Fatalf("download --csv printed %q", got)
	}
	csvFile := filepath.Join(dir, "frame.csv")
	e.ok("download", frame, "--csv", "-o", csvFile)
	if got, err := os.ReadFile(csvFile); err != nil || string(got) != "city,pop\nOslo,709000\n\"a,b\",1.5\n" {
		t.Fatalf("download --csv -o wrote %q (%v)", got, err)
	}
	if got := e.ok("download", frame, "-o", "-"); !jsonEqual([]byte(got), []byte(`[{"city":"Oslo","pop":709000},{"city":"a,b","pop":1.5}]`)) {
		t.Fatalf("download of a DataFrame printed %s", got)
	}

	// No content: a problem, and no file.
	plain := e.createID()
	r := e.run("download", plain, "-o", filepath.Join(dir, "none"))
	if exitCode(r.err) != 1 || r.stderr != "arbor: 404 Not Found: Artifact has no content\n" {
		t.Fatalf("download without content: %v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "none")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("download without content left a file: %v", err)
	}
}

// cliBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type cliBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *cliBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *cliBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// watch runs arbor watch with args until stop is called, which returns
// what it printed and the error it returned.
func (e *cliEnv) watch(args ...string) (stdout *cliBuffer, stop func() cliResult) {
	ctx, cancel := context.WithCancel(e.t.Context())
	stdout = &cliBuffer{}
	stderr := &cliBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"watch", "--url", e.url}, args...), stdout, stderr) }()
	var once sync.Once
	var res cliResult
	stop = func() cliResult {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				res = cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
			case <-time.After(10 * time.Second):
				e.t.Fatal("arbor watch did not end when its context was cancelled")
			}
		})
		return res
	}
	e.t.Cleanup(func() { stop() })
	return stdout, stop
}

// waitLines waits until out has n lines.
func (e *cliEnv) waitLines(out *cliBuffer, n int) {
	e.t.Helper()
	if !pollUntil(e.t.Context(), 10*time.Second, func() bool { return strings.Count(out.String(), "\n") >= n }) {
		e.t.Fatalf("watch printed %q, want %d lines", out.String(), n)
	}
}

func TestCLIWatch(t *testing.T) {
	e := newCLIEnv(t)
	ctx := t.Context()
	out, stop := e.watch("--since", "0", "--level-label", "predictions")
	exp, err := e.c.Create(ctx, client.CreateRequest{Data: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	expPos := e.c.Position()
	model, err := e.c.Create(ctx, client.CreateRequest{ParentID: exp.ID, Data: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for range 2 {
		p, err := e.c.Create(ctx, client.CreateRequest{ParentID: model.ID, Data: map[string]any{"n": 1}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d artifact.created ml_pipeline/predictions %s parent %s {\"n\":1}\n", e.c.Position(), p.ID, model.ID))
	}
	e.waitLines(out, 2)
	r := stop()
	if r.err != nil || r.stdout != strings.Join(want, "") || r.stderr != "" {
		t.Fatalf("watch: %v\nwant stdout\n%s", r, strings.Join(want, ""))
	}

	// --json: the CloudEvent per line; --type and --artifact filter.
	out, stop = e.watch("--json", "--since", "0", "--type", "updated", "--artifact", model.ID)
	if _, err := e.c.Update(ctx, model.ID, client.UpdateRequest{Data: map[string]any{"v": 2}}); err != nil {
		t.Fatal(err)
	}
	pos := e.c.Position()
	e.waitLines(out, 1)
	r = stop()
	var ce map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &ce); err != nil || r.err != nil || strings.Count(r.stdout, "\n") != 1 ||
		ce["specversion"] != "1.0" || ce["type"] != "artifact.updated" || ce["subject"] != model.ID ||
		ce["sequence"] != fmt.Sprint(pos) || ce["hierarchy"] != "ml_pipeline" || ce["levellabel"] != "model" {
		t.Fatalf("watch --json: %v", r)
	}

	// Each event's parent: recorded by a creation, remembered for the
	// artifact's later events, else read from arbor (? once deleted);
	// data cut unless --wide.
	long := strings.Repeat("x", 80)
	leaf, err := e.c.Create(ctx, client.CreateRequest{ParentID: model.ID, Data: map[string]any{"note": long}})
	if err != nil {
		t.Fatal(err)
	}
	created := e.c.Position()
	if _, err := e.c.Update(ctx, leaf.ID, client.UpdateRequest{Data: map[string]any{"note": "short"}}); err != nil {
		t.Fatal(err)
	}
	updated := e.c.Position()
	if err := e.c.Delete(ctx, leaf.ID); err != nil {
		t.Fatal(err)
	}
	deleted := e.c.Position()
	prefix := func(pos uint64, typ string) string {
		return fmt.Sprintf("%d artifact.%s ml_pipeline/predictions %s parent ", pos, typ, leaf.ID)
	}
	cut := `{"note":"` + long[:60-len(`{"note":"`)-1] + "…"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--artifact", leaf.ID}, prefix(created, "created") + model.ID + " " + cut + "\n" +
			prefix(updated, "updated") + model.ID + ` {"note":"short"}` + "\n" +
			prefix(deleted, "deleted") + model.ID + "\n"},
		{[]string{"--artifact", leaf.ID, "--wide", "--type", "created"}, prefix(created, "created") + model.ID + ` {"note":"` + long + `"}` + "\n"},
		{[]string{"--artifact", leaf.ID, "--type", "deleted"}, prefix(deleted, "deleted") + "?\n"},
		{[]string{"--artifact", exp.ID}, fmt.Sprintf("%d artifact.created ml_pipeline/experiment %s parent - {}\n", expPos, exp.ID)},
		{[]string{"--parent", exp.ID}, fmt.Sprintf("%d artifact.created ml_pipeline/model %s parent %s {}\n", expPos+1, model.ID, exp.ID)},
		{[]string{"--artifact", model.ID, "--type", "updated"}, fmt.Sprintf("%d artifact.updated ml_pipeline/model %s parent %s {\"v\":2}\n", pos, model.ID, exp.ID)},
	} {
		out, stop := e.watch(append([]string{"--since", "0"}, c.args...)...)
		e.waitLines(out, strings.Count(c.want, "\n"))
		if r := stop(); r.err != nil || r.stdout != c.want || r.stderr != "" {
			t.Errorf("watch %q: %v\nwant stdout\n%s", c.args, r, c.want)
		}
	}

	// Without --since, only new events.
	out, stop = e.watch("--hierarchy", "ml_pipeline", "--type", "deleted")
	line := ""
	// The feed has started once an event of it shows: delete until one
	// does.
	for i := 0; line == ""; i++ {
		if i == 50 {
			t.Fatalf("watch of new events printed nothing: %v", stop())
		}
		a, err := e.c.Create(ctx, client.CreateRequest{Data: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.c.Delete(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if pollUntil(ctx, 200*time.Millisecond, func() bool { return out.String() != "" }) {
			line = out.String()
		}
	}
	if r := stop(); r.err != nil || strings.Contains(r.stdout, "created") || !strings.Contains(line, " artifact.deleted ml_pipeline/experiment ") {
		t.Fatalf("watch of new deletions: %v", r)
	}
}

// exitCode is the status arbor exits with after err, as main decides it
// once it honours exitError.
func exitCode(err error) int {
	var exit *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return 2
}

func TestCLIErrors(t *testing.T) {
	e := newCLIEnv(t)
	const unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"

	r := e.run("get", unknown)
	if exitCode(r.err) != 1 || r.stderr != "arbor: 404 Not Found: Artifact with id "+unknown+" not found\n" || r.stdout != "" {
		t.Fatalf("get of an unknown id: %v", r)
	}
	r = e.run("tree", "nope")
	if exitCode(r.err) != 1 || r.stderr != "arbor: 400 Invalid ULID: Invalid ULID format: nope\n" {
		t.Fatalf("tree of a malformed id: %v", r)
	}
	// A problem with field errors: its status, then each field once.
	r = e.run("create", "--tag", "no way", "--data", `{"n": 1}`)
	if want := "arbor: 422 Validation Failed\n  tags[0]: only letters, digits, '-' and '_'\n"; exitCode(r.err) != 1 || r.stderr != want || r.stdout != "" {
		t.Fatalf("create with a bad tag: %v\nwant stderr\n%s", r, want)
	}
	r = e.run("create", "--tag", "no way", "--tag", "nor/this")
	if want := "arbor: 422 Validation Failed\n  tags[0]: only letters, digits, '-' and '_'\n  tags[1]: only letters, digits, '-' and '_'\n"; exitCode(r.err) != 1 || r.stderr != want {
		t.Fatalf("create with two bad tags: %v\nwant stderr\n%s", r, want)
	}
	r = e.run("create", "--parent", unknown)
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 422 Validation Failed\n  parent_id: ") || strings.Count(r.stderr, "\n") != 2 {
		t.Fatalf("create under an unknown parent: %v", r)
	}
	exp := e.createID()
	e.createID("--parent", exp)
	r = e.run("watch", "--type", "exploded")
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 422 Validation Failed") || strings.Count(r.stderr, "type: ") != 1 {
		t.Fatalf("watch --type exploded: %v", r)
	}

	// Usage mistakes: the command's usage, exit status 2.
	for _, args := range [][]string{
		{"list", "--bogus"},
		{"get"},
		{"get", exp, exp},
		{"tree", "--max-depth", "x", exp},
		{"create", "--content-type", "text/plain"},
		{"list", "--size", "0"},
		{"list", "extra"},
		{"watch", "--since", "-1"},
		{"download"},
		{"update", exp},
		{"update", "--data", "{}"},
		{"update", exp, "--data", "{}", "--if-match", "-1"},
		{"delete"},
		{"delete", exp, "--if-match", "x"},
		{"attach", exp},
		{"attach", exp, "a", "b"},
		{"metadata"},
		{"expand"},
		{"stats", exp},
		{"version", "extra"},
		{"completion"},
		{"completion", "fish"},
	} {
		r := e.run(args[0], args[1:]...)
		if !errors.Is(r.err, errUsage) || exitCode(r.err) != 2 || !strings.Contains(r.stderr, "Usage: arbor "+args[0]) || r.stdout != "" {
			t.Errorf("arbor %q: %v\nwant the usage and exit status 2", args, r)
		}
	}
	r = e.run("get", "-h")
	if !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stderr, "Usage: arbor get [flags] ID") || !strings.Contains(r.stderr, "-json") {
		t.Fatalf("get -h: %v", r)
	}
	// Malformed --data: the JSON error in one line, exit status 2, no
	// usage; nothing is written.
	before := len(e.in.c.listAll())
	for _, c := range []struct{ args []string }{
		{[]string{"create", "--data", "{not json"}},
		{[]string{"update", exp, "--data", "{not json"}},
	} {
		r := e.run(c.args[0], c.args[1:]...)
		want := "arbor: --data is not valid JSON: invalid character 'n' looking for beginning of object key string (at byte 2)\n"
		if exitCode(r.err) != 2 || r.stderr != want || r.stdout != "" {
			t.Errorf("arbor %q: %v\nwant stderr %q and exit status 2", c.args, r, want)
		}
	}
	if after := len(e.in.c.listAll()); after != before || e.get(exp).Version != 1 {
		t.Fatalf("malformed --data wrote: %d artifacts, then %d; version %d", before, after, e.get(exp).Version)
	}

	// A file that cannot be read is not a usage mistake.
	r = e.run("create", "--data", "@"+filepath.Join(t.TempDir(), "missing.json"))
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: read --data: ") {
		t.Fatalf("create --data @missing: %v", r)
	}
	r = e.run("create", "--file", filepath.Join(t.TempDir(), "missing.bin"))
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: open ") {
		t.Fatalf("create --file missing: %v", r)
	}

	// No arbor there: exit status 1.
	var stdout, stderr bytes.Buffer
	nowhere := "http://" + freePort(t)
	err := run(t.Context(), []string{"list", "--url", nowhere}, &stdout, &stderr)
	if want := "arbor: no arbor answers at " + nowhere + " (connection refused): start one with arbor serve, " +
		"or give its URL with --url or ARBOR_URL\n"; exitCode(err) != 1 || stderr.String() != want || stdout.Len() != 0 {
		t.Fatalf("list with no arbor: %v %q\nwant %q", err, stderr.String(), want)
	}

	// ARBOR_URL is the default --url; host:port is enough.
	stdout.Reset()
	stderr.Reset()
	cl := &cli{stdout: &stdout, stderr: &stderr, getenv: func(name string) (string, bool) {
		if name == "ARBOR_URL" {
			return e.in.m.HTTPAddr(), true
		}
		return "", false
	}}
	if err := (getCommand{cl}).Run(t.Context(), []string{exp}); err != nil || !strings.HasPrefix(stdout.String(), "id:         "+exp+"\n") {
		t.Fatalf("get with ARBOR_URL: %v %q %q", err, stdout.String(), stderr.String())
	}
}

// The client commands reach an arbor that requires keys with --api-key or
// ARBOR_API_KEY (the flag wins), and report its 401 and 403.
func TestCLIAPIKey(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.jsonl")
	addKey := func(name, scope string) string {
		r := runKeys(t, "add", "--file", file, "--name", name, "--scope", scope)
		if r.err != nil {
			t.Fatalf("keys add: %v", r)
		}
		return strings.TrimSpace(r.stdout)
	}
	readKey, writeKey := addKey("dashboard", "read"), addKey("pipeline", "write")
	set, err := apikey.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	srv := arbortest.New(t, hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}).API()
	srv.Keys = set
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
	})

	// cmd runs a client command with the environment env.
	cmd := func(env map[string]string, name string, args ...string) cliResult {
		var stdout, stderr bytes.Buffer
		cl := &cli{stdout: &stdout, stderr: &stderr, getenv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		}}
		c := map[string]Command{"create": createCommand{cl}, "get": getCommand{cl}, "list": listCommand{cl}}[name]
		err := c.Run(t.Context(), append([]string{"--url", ts.URL}, args...))
		return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
	}

	r := cmd(nil, "list")
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 401 Unauthorized: ") || r.stdout != "" {
		t.Fatalf("list without a key: %v", r)
	}
	r = cmd(map[string]string{"ARBOR_API_KEY": readKey}, "create", "--data", `{"n": 1}`)
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 403 Forbidden: ") || r.stdout != "" {
		t.Fatalf("create with a read key: %v", r)
	}
	r = cmd(map[string]string{"ARBOR_API_KEY": readKey}, "create", "--data", `{"n": 1}`, "--api-key", writeKey)
	id := strings.TrimSpace(r.stdout)
	if r.err != nil || !cliULID.MatchString(id) {
		t.Fatalf("create with --api-key, a write key: %v", r)
	}
	r = cmd(map[string]string{"ARBOR_API_KEY": readKey}, "get", id)
	if r.err != nil || !strings.HasPrefix(r.stdout, "id:         "+id+"\n") {
		t.Fatalf("get with ARBOR_API_KEY, a read key: %v", r)
	}
	r = cmd(map[string]string{"ARBOR_API_KEY": readKey}, "list", "--api-key", apikey.Generate())
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 401 Unauthorized: ") {
		t.Fatalf("list with an unknown --api-key over a good ARBOR_API_KEY: %v", r)
	}
	// -h does not show the key of the environment.
	r = cmd(map[string]string{"ARBOR_API_KEY": readKey}, "list", "-h")
	if !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stderr, "-api-key") || strings.Contains(r.stderr, readKey) {
		t.Fatalf("list -h: %v\nwant --api-key listed, without the key", r)
	}
}
