package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestCLIAsOf(t *testing.T) {
	e := newCLIEnv(t)
	ctx := t.Context()
	exp := e.createID("--data", `{"name": "weather"}`)
	model := e.createID("--parent", exp, "--data", `{"v": 1}`)
	e.ok("update", model, "--data", `{"v": 2}`)
	pred := e.createID("--parent", model, "--data", `{"day": 1}`)
	e.ok("update", exp, "--data", `{"name": "renamed"}`)
	e.ok("delete", pred)
	position := func(id string, version int) string {
		t.Helper()
		vs, err := e.c.History(ctx, id)
		if err != nil || len(vs) < version {
			t.Fatalf("History(%s) = %+v, %v", id, vs, err)
		}
		return fmt.Sprint(vs[version-1].Position)
	}
	beforePred, withPred := position(model, 2), position(pred, 1)

	// tree: without the prediction before it was created, with it (and
	// the root's old data) while it lived, without it now.
	want := "experiment " + exp + ` {"name":"weather"}` + "\n" +
		"└── model " + model + ` {"v":2}` + "\n"
	if got := e.ok("tree", exp, "--as-of", beforePred); got != want {
		t.Errorf("tree --as-of before the prediction printed\n%s\nwant\n%s", got, want)
	}
	want = "experiment " + exp + ` {"name":"weather"}` + "\n" +
		"└── model " + model + ` {"v":2}` + "\n" +
		"    └── predictions " + pred + ` {"day":1}` + "\n"
	if got := e.ok("tree", exp, "--as-of", withPred); got != want {
		t.Errorf("tree --as-of the prediction printed\n%s\nwant\n%s", got, want)
	}
	want = "experiment " + exp + ` {"name":"renamed"}` + "\n" +
		"└── model " + model + ` {"v":2}` + "\n"
	if got := e.ok("tree", exp); got != want {
		t.Errorf("tree printed\n%s\nwant\n%s", got, want)
	}
	if r := e.run("tree", model, "--as-of", position(exp, 1)); exitCode(r.err) != 1 || !strings.Contains(r.stderr, "404 Not Found") {
		t.Errorf("tree --as-of before the model: %v", r)
	}

	// ancestors of the deleted prediction, as of when it lived.
	want = "experiment " + exp + ` {"name":"weather"}` + "\n" + "model " + model + ` {"v":2}` + "\n"
	if got := e.ok("ancestors", pred, "--as-of", withPred); got != want {
		t.Errorf("ancestors --as-of printed\n%s\nwant\n%s", got, want)
	}
	if r := e.run("ancestors", pred); exitCode(r.err) != 1 {
		t.Errorf("ancestors of the deleted prediction now: %v", r)
	}

	// expand: the old version.
	if got := e.ok("expand", model, "--as-of", position(model, 1)); !strings.Contains(got, "version:    1\n") || !strings.Contains(got, `"v": 1`) ||
		!strings.Contains(got, "level:      1 (model)\n") {
		t.Errorf("expand --as-of printed\n%s", got)
	}

	// stats: the prediction counted while it lived.
	if got := e.ok("stats", "--as-of", withPred); !hasRow(got, "total", "3") || !hasRow(got, "predictions", "1") {
		t.Errorf("stats --as-of the prediction printed\n%s", got)
	}
	if got := e.ok("stats"); !hasRow(got, "total", "2") || hasRow(got, "predictions", "1") {
		t.Errorf("stats printed\n%s", got)
	}

	// list: who lived then, labelled though deleted since.
	out := e.ok("list", "--as-of", withPred)
	labelled := func(l string) bool {
		f := strings.Fields(l)
		return len(f) > 2 && f[0] == pred && f[2] == "predictions"
	}
	if !slices.ContainsFunc(strings.Split(out, "\n"), labelled) || !strings.Contains(out, "page 1 of 1, 3 artifacts\n") {
		t.Errorf("list --as-of the prediction printed\n%s", out)
	}
	if out := e.ok("list", "--as-of", beforePred); strings.Contains(out, pred) || !strings.Contains(out, "2 artifacts") {
		t.Errorf("list --as-of before the prediction printed\n%s", out)
	}

	for _, cmd := range [][]string{{"tree", exp}, {"ancestors", model}, {"expand", model}, {"stats"}, {"list"}, {"get", model}} {
		r := e.run(cmd[0], append(cmd[1:], "--as-of", "soon")...)
		if exitCode(r.err) != 1 || !strings.Contains(r.stderr, "422") || !strings.Contains(r.stderr, "  as_of: ") {
			t.Errorf("%s --as-of soon: %v", cmd[0], r)
		}
	}
}

// hasRow reports whether out, a table, has a row of the fields name and
// value.
func hasRow(out, name, value string) bool {
	for l := range strings.Lines(out) {
		if f := strings.Fields(l); len(f) == 2 && f[0] == name && f[1] == value {
			return true
		}
	}
	return false
}
