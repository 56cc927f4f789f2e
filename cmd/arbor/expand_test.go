package main

import (
	"net/http"
	"testing"

	"arbor/client"
)

func TestCLIExpand(t *testing.T) {
	e := newCLIEnv(t)
	exp := e.createID()
	model := e.createID("--parent", exp, "--data", `{"model_type": "LinearRegression"}`, "--tag", "m")
	a := e.get(model)
	want := "id:         " + model + "\n" +
		"parent:     " + exp + "\n" +
		"hierarchy:  ml_pipeline\n" +
		"level:      1 (model)\n" +
		"version:    1\n" +
		"created_at: " + a.CreatedAt.Format(client.TimeFormat) + "\n" +
		"updated_at: " + a.UpdatedAt.Format(client.TimeFormat) + "\n" +
		"tags:       m\n" +
		"data:\n" +
		"  {\n" +
		"    \"model_type\": \"LinearRegression\"\n" +
		"  }\n"
	if got := e.ok("expand", model); got != want {
		t.Fatalf("expand printed\n%s\nwant\n%s", got, want)
	}
	out := e.ok("expand", model, "--json")
	if raw := e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+model+"/$expand", nil, nil); !jsonEqual([]byte(out), raw.body) {
		t.Fatalf("expand --json printed %s, the server %s", out, raw.body)
	}
	e.ok("delete", model)
	if r := e.run("expand", model); exitCode(r.err) != 1 || r.stderr != "arbor: 404 Not Found: Artifact with id "+model+" not found\n" {
		t.Fatalf("expand of a deleted artifact: %v", r)
	}
}
