package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestCLIDelete(t *testing.T) {
	e := newCLIEnv(t)
	parent := e.createID()
	child := e.createID("--parent", parent)

	// An artifact with children: 409, nothing deleted.
	r := e.run("delete", parent)
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 409 Conflict: ") || r.stdout != "" {
		t.Fatalf("delete of a parent: %v", r)
	}
	e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+parent, nil, nil)

	// --if-match of another version: 412, still there.
	r = e.run("delete", child, "--if-match", "2")
	if exitCode(r.err) != 1 || !strings.HasPrefix(r.stderr, "arbor: 412 ") {
		t.Fatalf("delete --if-match 2: %v", r)
	}
	e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+child, nil, nil)

	if got := e.ok("delete", child, "--if-match", "1"); got != "deleted "+child+"\n" {
		t.Fatalf("delete printed %q", got)
	}
	e.in.c.must(http.StatusNotFound, http.MethodGet, testAPI+"/"+child, nil, nil)
	if got := e.ok("delete", parent, "--json"); !jsonEqual([]byte(got), []byte(`{"id":"`+parent+`","deleted":true}`)) {
		t.Fatalf("delete --json printed %q", got)
	}
	e.in.c.must(http.StatusNotFound, http.MethodGet, testAPI+"/"+parent, nil, nil)

	// Deleted is gone: a second delete is 404.
	r = e.run("delete", parent)
	if exitCode(r.err) != 1 || r.stderr != "arbor: 404 Not Found: Artifact with id "+parent+" not found\n" {
		t.Fatalf("second delete: %v", r)
	}
}
