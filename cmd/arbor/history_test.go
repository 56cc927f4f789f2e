package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"arbor/client"
)

// runHistory runs `arbor history --url <arbor> args...`. It runs the
// command itself: the command table of main.go does not name it yet.
func (e *cliEnv) runHistory(args ...string) cliResult {
	e.t.Helper()
	var stdout, stderr bytes.Buffer
	cl := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) (string, bool) { return "", false }}
	err := historyCommand{cl}.Run(e.t.Context(), append([]string{"--url", e.url}, args...))
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

func TestCLIHistory(t *testing.T) {
	e := newCLIEnv(t)
	exp := e.createID()
	id := e.createID("--parent", exp, "--data", `{"model_type": "LinearRegression"}`, "--tag", "draft")
	e.ok("update", id, "--data", `{"model_type": "LinearRegression", "rmse": 0.25}`, "--tags", "a,b")
	file := filepath.Join(t.TempDir(), "weights.bin")
	if err := os.WriteFile(file, []byte("model weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.ok("attach", id, file)
	e.ok("delete", id)

	vs, err := e.c.History(t.Context(), id)
	if err != nil || len(vs) != 4 {
		t.Fatalf("History = %+v, %v; want 4 versions", vs, err)
	}
	r := e.runHistory(id)
	if r.err != nil {
		t.Fatalf("history: %v", r)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "VERSION EVENT TIME POSITION TAGS CONTENT DATA" {
		t.Fatalf("history printed\n%s\nwant a header and 4 rows", r.stdout)
	}
	at := func(i int) (string, string) {
		return vs[i].Time.Format(client.TimeFormat), fmt.Sprint(vs[i].Position)
	}
	digest := vs[2].Content.SHA256[:12] + "…"
	for i, want := range [][]string{
		{"1", "created", "", "", "draft", "-", `{"model_type":"LinearRegression"}`},
		{"2", "updated", "", "", "a,b", "-", `{"model_type":"LinearRegression","rmse":0.25}`},
		{"3", "updated", "", "", "a,b", digest, `{"model_type":"LinearRegression","rmse":0.25,"content_type"…`},
		{"4", "deleted", "", "", "-", "-", "-"},
	} {
		want[2], want[3] = at(i)
		if got := strings.Fields(lines[i+1]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("history row %d: %q, want %q", i+1, got, want)
		}
	}
	// --wide: the data whole.
	r = e.runHistory(id, "--wide")
	if !strings.Contains(r.stdout, `"content_sha256":"`+vs[2].Content.SHA256+`"}`) {
		t.Fatalf("history --wide printed\n%s", r.stdout)
	}
	// --json: the server's items.
	r = e.runHistory(id, "--json")
	raw := e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+id+"/$history", nil, nil)
	var items struct{ Items json.RawMessage }
	if err := json.Unmarshal(raw.body, &items); err != nil {
		t.Fatal(err)
	}
	if r.err != nil || !jsonEqual([]byte(r.stdout), items.Items) {
		t.Fatalf("history --json printed %s (%v), the server %s", r.stdout, r.err, raw.body)
	}
	// A live root: one version.
	if r := e.runHistory(exp); r.err != nil || strings.Count(r.stdout, "\n") != 2 || !strings.Contains(r.stdout, "created") {
		t.Fatalf("history of a live root: %v", r)
	}

	const unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	if r := e.runHistory(unknown); exitCode(r.err) != 1 || !strings.Contains(r.stderr, "404 Not Found") {
		t.Fatalf("history of an unknown id: %v", r)
	}
	if r := e.runHistory(); exitCode(r.err) != 2 || !strings.Contains(r.stderr, "Usage: arbor history") {
		t.Fatalf("history without an id: %v", r)
	}
}
