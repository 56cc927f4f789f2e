package main

import (
	"net/http"
	"testing"
)

func TestCLIMetadata(t *testing.T) {
	e := newCLIEnv(t)
	id := e.createID("--data", `{"type": "generic", "metadata": {"k": "v", "n": [1, 2]}}`)
	want := "{\n  \"k\": \"v\",\n  \"n\": [\n    1,\n    2\n  ]\n}\n"
	if got := e.ok("metadata", id); got != want {
		t.Fatalf("metadata printed\n%s\nwant\n%s", got, want)
	}
	out := e.ok("metadata", id, "--json")
	if raw := e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+id+"/$metadata", nil, nil); !jsonEqual([]byte(out), raw.body) || out != `{"k":"v","n":[1,2]}`+"\n" {
		t.Fatalf("metadata --json printed %q, the server %s", out, raw.body)
	}
	if got := e.ok("metadata", e.createID()); got != "{}\n" {
		t.Fatalf("metadata of an artifact without any printed %q", got)
	}
	const unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
	if r := e.run("metadata", unknown); exitCode(r.err) != 1 || r.stderr != "arbor: 404 Not Found: Artifact with id "+unknown+" not found\n" {
		t.Fatalf("metadata of an unknown id: %v", r)
	}
}
