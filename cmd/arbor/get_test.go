package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestCLIGetVersionAsOf(t *testing.T) {
	e := newCLIEnv(t)
	id := e.createID("--data", `{"v": 1}`, "--tag", "old")
	e.ok("update", id, "--data", `{"v": 2}`, "--tags", "new")
	e.ok("update", id, "--data", `{"v": 3}`)
	// A time after the last write was stored. (A version's time in the
	// history is when arbor made the event, to the millisecond, before
	// the log stored it: as of that time the log may not have it yet.)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	vs, err := e.c.History(t.Context(), id)
	if err != nil || len(vs) != 3 {
		t.Fatalf("History = %+v, %v", vs, err)
	}
	// summary is the lines of get that tell versions apart.
	summary := func(out string) string {
		var keep []string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "version:") || strings.HasPrefix(l, "tags:") || strings.HasPrefix(l, "    \"v\"") {
				keep = append(keep, strings.Join(strings.Fields(l), " "))
			}
		}
		return strings.Join(keep, "; ")
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--version", "1"}, `version: 1; tags: old; "v": 1`},
		{[]string{"--version", "2"}, `version: 2; tags: new; "v": 2`},
		{[]string{"--version", "3"}, `version: 3; tags: new; "v": 3`},
		{[]string{"--as-of", fmt.Sprint(vs[0].Position)}, `version: 1; tags: old; "v": 1`},
		{[]string{"--as-of", fmt.Sprint(vs[1].Position)}, `version: 2; tags: new; "v": 2`},
		{[]string{"--as-of", now}, `version: 3; tags: new; "v": 3`},
		{nil, `version: 3; tags: new; "v": 3`},
	} {
		out := e.ok("get", append([]string{id}, c.args...)...)
		if got := summary(out); got != c.want {
			t.Errorf("get %q: %s, want %s\n%s", c.args, got, c.want, out)
		}
	}
	// --json: the server's answer.
	out := e.ok("get", id, "--version", "1", "--json")
	if raw := e.in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+id+"?version=1", nil, nil); !jsonEqual([]byte(out), raw.body) {
		t.Fatalf("get --version 1 --json printed %s, the server %s", out, raw.body)
	}

	// A deleted artifact: its versions still read, the present does not.
	e.ok("delete", id)
	if got := summary(e.ok("get", id, "--version", "2")); got != `version: 2; tags: new; "v": 2` {
		t.Fatalf("get --version 2 of a deleted artifact: %s", got)
	}
	if got := summary(e.ok("get", id, "--as-of", fmt.Sprint(vs[2].Position))); got != `version: 3; tags: new; "v": 3` {
		t.Fatalf("get --as-of of a deleted artifact: %s", got)
	}
	for _, args := range [][]string{{}, {"--version", "4"}, {"--version", "5"}, {"--as-of", "0"}} {
		if r := e.run("get", append([]string{id}, args...)...); exitCode(r.err) != 1 || !strings.Contains(r.stderr, "404 Not Found") {
			t.Errorf("get %q of the deleted artifact: %v", args, r)
		}
	}
	if r := e.run("get", id, "--as-of", "yesterday"); exitCode(r.err) != 1 || !strings.Contains(r.stderr, "422") || !strings.Contains(r.stderr, "  as_of: ") {
		t.Fatalf("get --as-of yesterday: %v", r)
	}
	for _, args := range [][]string{{"--version", "0"}, {"--version", "-2"}, {"--version", "1", "--as-of", "3"}, {"--version", "x"}} {
		if r := e.run("get", append([]string{id}, args...)...); exitCode(r.err) != 2 || !strings.Contains(r.stderr, "Usage: arbor get") {
			t.Errorf("get %q: %v, want a usage error", args, r)
		}
	}
}
