package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"arbor/internal/apikey"
)

var keyRE = regexp.MustCompile(`^arb_[A-Za-z0-9_-]{43}\n$`)

// runKeys runs arbor keys args.
func runKeys(t *testing.T, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), append([]string{"keys"}, args...), &stdout, &stderr)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

func TestKeysAddList(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.jsonl")
	r := runKeys(t, "add", "--file", file, "--name", "pipeline", "--scope", "write")
	if r.err != nil || !keyRE.MatchString(r.stdout) || !strings.Contains(r.stderr, `"pipeline"`) {
		t.Fatalf("keys add: %v\nwant the key alone on stdout", r)
	}
	pipeline := strings.TrimSuffix(r.stdout, "\n")
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys file: %v, %v; want mode 0600", fi, err)
	}
	r = runKeys(t, "add", "--name", "dashboard", "--scope", "read", "--file", file)
	if r.err != nil || !keyRE.MatchString(r.stdout) {
		t.Fatalf("keys add: %v", r)
	}
	dashboard := strings.TrimSuffix(r.stdout, "\n")

	set, err := apikey.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := set.Lookup(pipeline); !ok || k != (apikey.Key{Name: "pipeline", Scope: apikey.Write}) {
		t.Fatalf("Lookup(pipeline's key) = %v, %v", k, ok)
	}
	if k, ok := set.Lookup(dashboard); !ok || k != (apikey.Key{Name: "dashboard", Scope: apikey.Read}) {
		t.Fatalf("Lookup(dashboard's key) = %v, %v", k, ok)
	}
	b, _ := os.ReadFile(file)
	if bytes.Contains(b, []byte(pipeline)) || bytes.Contains(b, []byte(dashboard)) {
		t.Fatalf("the keys file holds a key:\n%s", b)
	}

	r = runKeys(t, "list", "--file", file)
	if want := "NAME       SCOPE\npipeline   write\ndashboard  read\n"; r.err != nil || r.stdout != want {
		t.Fatalf("keys list: %v\nwant stdout:\n%s", r, want)
	}
	r = runKeys(t, "list", "--json", "--file", file)
	var listed []map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &listed); r.err != nil || err != nil || len(listed) != 2 ||
		listed[0]["name"] != "pipeline" || listed[0]["scope"] != "write" || len(listed[0]) != 2 || listed[1]["name"] != "dashboard" {
		t.Fatalf("keys list --json: %v (%v)", r, err)
	}

	// A name taken, or a file arbor would refuse: exit status 1, the file
	// unchanged, nothing on stdout.
	r = runKeys(t, "add", "--file", file, "--name", "pipeline", "--scope", "admin")
	if exitCode(r.err) != 1 || r.stdout != "" || !strings.Contains(r.stderr, `"pipeline" already`) {
		t.Fatalf("keys add of a name taken: %v", r)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(after, b) {
		t.Fatalf("a refused add changed the file:\n%s", after)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"name":"x","scope":"root","sha256":"`+apikey.Hash("k")+`"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"add", "--file", bad, "--name", "y", "--scope", "read"},
		{"list", "--file", bad},
		{"list", "--file", filepath.Join(t.TempDir(), "missing.jsonl")},
	} {
		r := runKeys(t, args...)
		if exitCode(r.err) != 1 || r.stdout != "" || !strings.HasPrefix(r.stderr, "arbor: ") {
			t.Errorf("keys %q: %v\nwant exit status 1 and the error on stderr", args, r)
		}
	}
	if r := runKeys(t, "list", "--file", bad); !strings.Contains(r.stderr, bad+`:1: unknown scope "root"`) {
		t.Errorf("keys list of a bad file: %v\nwant the file, the line and why", r)
	}
}

func TestKeysUsage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.jsonl")
	for _, args := range [][]string{
		{},
		{"remove"},
		{"add"},
		{"add", "--name", "a", "--scope", "read"},
		{"add", "--file", file, "--scope", "read"},
		{"add", "--file", file, "--name", "a"},
		{"add", "--file", file, "--name", "a", "--scope", "owner"},
		{"add", "--file", file, "--name", "a b", "--scope", "read"},
		{"add", "--file", file, "--name", "a", "--scope", "read", "extra"},
		{"add", "--bogus"},
		{"list"},
		{"list", "--file", file, "extra"},
	} {
		r := runKeys(t, args...)
		if !errors.Is(r.err, errUsage) || exitCode(r.err) != 2 || r.stdout != "" || !strings.Contains(r.stderr, "arbor keys add --file FILE") {
			t.Errorf("arbor keys %q: %v\nwant the usage and exit status 2", args, r)
		}
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused command made the keys file: %v", err)
	}
	if r := runKeys(t, "add", "-h"); !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stderr, "-scope") {
		t.Fatalf("keys add -h: %v", r)
	}
	if r := runKeys(t, "help"); r.err != nil || !strings.Contains(r.stdout, "arbor keys list") {
		t.Fatalf("keys help: %v", r)
	}
}
