package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestCLIUpdate(t *testing.T) {
	e := newCLIEnv(t)
	id := e.createID("--data", `{"name": "weights"}`, "--tag", "a", "--tag", "b")

	// --data replaces the data; the tags stay.
	if got := e.ok("update", id, "--data", `{"name": "weights", "epoch": 2}`); got != id+" version 2\n" {
		t.Fatalf("update printed %q", got)
	}
	if a := e.get(id); a.Version != 2 || string(a.Data) != `{"name":"weights","epoch":2}` || !slices.Equal(a.Tags, []string{"a", "b"}) {
		t.Fatalf("after update: %+v, want version 2, the new data and tags [a b]", a)
	}

	// --tags replaces them; "" removes them.
	e.ok("update", "--tags", "x, y", id, "--data", `{"epoch": 3}`)
	if a := e.get(id); a.Version != 3 || !slices.Equal(a.Tags, []string{"x", "y"}) || string(a.Data) != `{"epoch":3}` {
		t.Fatalf("after update --tags x,y: %+v", a)
	}
	e.ok("update", id, "--data", `{"epoch": 4}`, "--tags", "")
	if a := e.get(id); a.Version != 4 || len(a.Tags) != 0 {
		t.Fatalf("after update --tags '': %+v", a)
	}

	// --if-match: the current version applies, another is 412 and
	// changes nothing.
	e.ok("update", id, "--data", `{"epoch": 5}`, "--if-match", "4")
	r := e.run("update", id, "--data", `{"epoch": 6}`, "--if-match", "4")
	if exitCode(r.err) != 1 || r.stderr != "arbor: 412 Precondition Failed: If-Match does not match the artifact's current version\n" || r.stdout != "" {
		t.Fatalf("update --if-match of a stale version: %v", r)
	}
	r = e.run("update", id, "--data", `{"epoch": 6}`, "--if-match", "4", "--tags", "z")
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 412 ") {
		t.Fatalf("update --if-match --tags of a stale version: %v", r)
	}
	if a := e.get(id); a.Version != 5 || string(a.Data) != `{"epoch":5}` {
		t.Fatalf("after the 412s: %+v, want version 5", a)
	}

	// --json: the artifact as the server has it.
	out := e.ok("update", id, "--data", `{"epoch": 7}`, "--json")
	if raw := e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+id, nil, nil); !jsonEqual([]byte(out), raw.body) {
		t.Fatalf("update --json printed %s, the server has %s", out, raw.body)
	}

	// The server's rules: data must be an object; an unknown id is 404.
	r = e.run("update", id, "--data", `[1]`, "--tags", "k")
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 422 Validation Failed\n  data: ") {
		t.Fatalf("update with an array: %v", r)
	}
	const unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	r = e.run("update", unknown, "--data", `{}`)
	if exitCode(r.err) != 1 || r.stderr != "arbor: 404 Not Found: Artifact with id "+unknown+" not found\n" {
		t.Fatalf("update of an unknown id: %v", r)
	}
}
