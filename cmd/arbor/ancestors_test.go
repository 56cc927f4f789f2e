package main

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestCLIAncestors(t *testing.T) {
	e := newCLIEnv(t)
	exp := e.createID("--data", `{"experiment_name": "weather"}`)
	model := e.createID("--parent", exp, "--data", `{"model_type": "LinearRegression"}`)
	pred := e.createID("--parent", model, "--data", `{"n": 1}`)
	want := "experiment " + exp + " {\"experiment_name\":\"weather\"}\n" +
		"model " + model + " {\"model_type\":\"LinearRegression\"}\n"
	if got := e.ok("ancestors", pred); got != want {
		t.Fatalf("ancestors printed\n%s\nwant\n%s", got, want)
	}
	if got := e.ok("ancestors", exp); got != "" {
		t.Fatalf("a root's ancestors printed %q", got)
	}
	out := e.ok("ancestors", pred, "--json")
	raw := e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+pred+"/$ancestors", nil, nil)
	var items struct{ Items json.RawMessage }
	if err := json.Unmarshal(raw.body, &items); err != nil {
		t.Fatal(err)
	}
	if !jsonEqual([]byte(out), items.Items) {
		t.Fatalf("ancestors --json printed %s, the server %s", out, raw.body)
	}
	if r := e.run("ancestors"); exitCode(r.err) != 2 {
		t.Fatalf("ancestors without an id: %v", r)
	}
}
