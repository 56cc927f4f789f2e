package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIAttach(t *testing.T) {
	e := newCLIEnv(t)
	dir := t.TempDir()
	content := make([]byte, 1<<20+7)
	if _, err := rand.Read(content); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "weights.zip")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	id := e.createID("--data", `{"name": "weights"}`, "--tag", "w")

	r := e.run("attach", id, src)
	if want := fmt.Sprintf("%s version 2 (%d bytes, application/zip)\n", id, len(content)); r.err != nil || r.stdout != want || r.stderr != "" {
		t.Fatalf("attach: %v\nwant stdout %q and nothing on stderr (no terminal: no bar)", r, want)
	}
	if a := e.get(id); !strings.Contains(string(a.Data), `"name":"weights"`) || len(a.Tags) != 1 {
		t.Fatalf("attach changed the data or tags: %+v", a)
	}
	out := filepath.Join(dir, "back.zip")
	e.ok("download", id, "-o", out)
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("download after attach: %d bytes (%v), want the %d attached", len(got), err, len(content))
	}

	// --content-type; standard input; --if-match.
	if got := e.ok("attach", id, src, "--content-type", "application/x-weights", "--if-match", "2"); !strings.HasSuffix(got, "application/x-weights)\n") {
		t.Fatalf("attach --content-type printed %q", got)
	}
	r = e.run("attach", id, src, "--if-match", "2")
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 412 ") {
		t.Fatalf("attach --if-match of a stale version: %v", r)
	}
	var stdout, stderr bytes.Buffer
	cl := &cli{stdin: strings.NewReader("hello, arbor"), stdout: &stdout, stderr: &stderr, getenv: lookupEnv}
	if err := (attachCommand{cl}).Run(t.Context(), []string{"--url", e.url, id, "-", "--content-type", "text/plain"}); err != nil {
		t.Fatalf("attach -: %v %s", err, stderr.String())
	}
	if got := e.ok("download", id, "-o", "-"); got != "hello, arbor" {
		t.Fatalf("download after attach -: %q", got)
	}

	// An unknown artifact is 404; a missing file is named.
	const unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	r = e.run("attach", unknown, src)
	if exitCode(r.err) != 1 || r.stderr != "arbor: 404 Not Found: Artifact with id "+unknown+" not found\n" {
		t.Fatalf("attach to an unknown id: %v", r)
	}
	r = e.run("attach", id, filepath.Join(dir, "missing.bin"))
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: open ") || !strings.Contains(r.stderr, "missing.bin") {
		t.Fatalf("attach of a missing file: %v", r)
	}
	r = e.run("attach", id, dir)
	if exitCode(r.err) != 1 || r.stderr != "arbor: "+dir+" is a directory\n" {
		t.Fatalf("attach of a directory: %v", r)
	}
}

// Uploads and downloads draw a bar on a terminal's stderr: what they print
// on stdout stays the same.
func TestCLIProgress(t *testing.T) {
	e := newCLIEnv(t)
	dir := t.TempDir()
	content := make([]byte, 3<<20)
	if _, err := rand.Read(content); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "weights.bin")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	// tty runs a client command as on a terminal.
	tty := func(name string, args ...string) cliResult {
		var stdout, stderr bytes.Buffer
		cl := &cli{stdin: strings.NewReader("from standard input"), stdout: &stdout, stderr: &stderr, getenv: lookupEnv, progress: true}
		cmds := map[string]Command{"create": createCommand{cl}, "attach": attachCommand{cl}, "download": downloadCommand{cl}}
		err := cmds[name].Run(t.Context(), append([]string{"--url", e.url}, args...))
		return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
	}
	// bar reports whether stderr holds a finished bar of what, and ends
	// its line.
	bar := func(stderr, what string) bool {
		return strings.Contains(stderr, what) && strings.Contains(stderr, "100%") && strings.HasSuffix(stderr, "\n")
	}

	r := tty("create", "--file", src, "--data", `{"name": "weights"}`)
	id := strings.TrimSpace(r.stdout)
	if r.err != nil || !cliULID.MatchString(id) || r.stdout != id+"\n" || !bar(r.stderr, "upload weights.bin") ||
		!strings.Contains(r.stderr, "3.1/3.1 MB") {
		t.Fatalf("create --file on a terminal: %v", r)
	}
	r = tty("attach", id, src)
	if r.err != nil || r.stdout != fmt.Sprintf("%s version 2 (%d bytes, application/octet-stream)\n", id, len(content)) || !bar(r.stderr, "upload weights.bin") {
		t.Fatalf("attach on a terminal: %v", r)
	}
	out := filepath.Join(dir, "back.bin")
	r = tty("download", id, "-o", out)
	if r.err != nil || r.stdout != fmt.Sprintf("%s (%d bytes, application/octet-stream)\n", out, len(content)) || !bar(r.stderr, "download "+out) {
		t.Fatalf("download on a terminal: %v", r)
	}
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("download on a terminal wrote %d bytes (%v), want the %d uploaded", len(got), err, len(content))
	}
	// A size not known ahead: the bar counts bytes, and is finished too.
	r = tty("attach", id, "-")
	if r.err != nil || !strings.Contains(r.stderr, "upload") || !strings.HasSuffix(r.stderr, "\n") {
		t.Fatalf("attach - on a terminal: %v", r)
	}
	// A failure: the bar's line ends before the error.
	const unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	r = tty("attach", unknown, src)
	if exitCode(r.err) != 1 || !strings.Contains(r.stderr, "\narbor: 404 Not Found: Artifact with id "+unknown+" not found\n") {
		t.Fatalf("attach to an unknown id on a terminal: %v", r)
	}
}
