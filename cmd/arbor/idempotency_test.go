package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIdempotencyCLI(t *testing.T) {
	e := newCLIEnv(t)
	// create: run twice with one key, one artifact.
	id := e.createID("--data", `{"n": 1}`, "--idempotency-key", "create-1")
	if again := e.createID("--data", `{"n": 1}`, "--idempotency-key", "create-1"); again != id {
		t.Fatalf("create run again with its key made %s, want %s", again, id)
	}
	if r := e.run("create", "--data", `{"n": 2}`, "--idempotency-key", "create-1"); exitCode(r.err) != 1 ||
		!strings.Contains(r.stderr, "422") {
		t.Fatalf("create with the key of another: %v", r)
	}
	file := filepath.Join(t.TempDir(), "c.txt")
	if err := os.WriteFile(file, []byte("content"), 0o644); err != nil {
		t.Fatal(err)
	}
	withFile := e.createID("--file", file, "--idempotency-key", "create-2")
	if again := e.createID("--file", file, "--idempotency-key", "create-2"); again != withFile {
		t.Fatalf("create --file run again with its key made %s, want %s", again, withFile)
	}

	// update: with --tags or --if-match; run again, the same version.
	for _, args := range [][]string{{"--tags", "a"}, {"--if-match", "2"}} {
		key := "update" + args[0]
		first := e.ok("update", append([]string{id, "--data", `{"n": 5}`, "--idempotency-key", key}, args...)...)
		if again := e.ok("update", append([]string{id, "--data", `{"n": 5}`, "--idempotency-key", key}, args...)...); again != first {
			t.Fatalf("update %q run again printed %q, want %q", args, again, first)
		}
	}
	if v := e.get(id).Version; v != 3 {
		t.Fatalf("after two updates, each run twice, the version is %d, want 3", v)
	}
	if r := e.run("update", id, "--data", `{}`, "--idempotency-key", "update-3"); exitCode(r.err) != 2 {
		t.Fatalf("update --idempotency-key without --tags or --if-match: %v", r)
	}

	// attach and delete, each run twice.
	first := e.ok("attach", id, file, "--idempotency-key", "attach-1")
	if again := e.ok("attach", id, file, "--idempotency-key", "attach-1"); again != first {
		t.Fatalf("attach run again printed %q, want %q", again, first)
	}
	e.ok("delete", id, "--idempotency-key", "delete-1")
	if out := e.ok("delete", id, "--idempotency-key", "delete-1"); out != "deleted "+id+"\n" {
		t.Fatalf("delete run again printed %q", out)
	}
	if r := e.run("delete", id, "--idempotency-key", "delete-2"); exitCode(r.err) != 1 || !strings.Contains(r.stderr, "404") {
		t.Fatalf("delete of the deleted with another key: %v", r)
	}
	if r := e.run("create", "--idempotency-key", "bad key"); exitCode(r.err) != 1 || !strings.Contains(r.stderr, "400") {
		t.Fatalf("create with a malformed key: %v", r)
	}
}
