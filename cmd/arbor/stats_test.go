package main

import (
	"net/http"
	"strings"
	"testing"
)

func TestCLIStats(t *testing.T) {
	e := newCLIEnv(t)
	exp := e.createID()
	model := e.createID("--parent", exp)
	e.createID("--parent", model)
	leaf := e.createID("--parent", model)
	e.createID("--hierarchy", "documents")

	want := "total          5\n" +
		"documents      1\n" +
		"  level_0      1\n" +
		"ml_pipeline    4\n" +
		"  experiment   1\n" +
		"  model        1\n" +
		"  predictions  2\n"
	if got := e.ok("stats"); got != want {
		t.Fatalf("stats printed\n%s\nwant\n%s", got, want)
	}
	out := e.ok("stats", "--json")
	if raw := e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/$stats", nil, nil); !jsonEqual([]byte(out), raw.body) {
		t.Fatalf("stats --json printed %s, the server %s", out, raw.body)
	}

	// A deletion counts.
	e.ok("delete", leaf)
	if got := e.ok("stats"); !strings.HasPrefix(got, "total          4\n") || !strings.Contains(got, "\n  predictions  1\n") {
		t.Fatalf("stats after a deletion printed\n%s", got)
	}
}
