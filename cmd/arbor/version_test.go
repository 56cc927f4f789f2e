package main

import (
	"bytes"
	"testing"
)

func TestCLIVersion(t *testing.T) {
	e := newCLIEnv(t)
	if version == "" {
		t.Fatal("version is empty")
	}
	// The arbor in this process reports the same version.
	if got, want := e.ok("version"), "arbor "+version+" (server "+version+" at "+e.url+")\n"; got != want {
		t.Fatalf("version printed %q, want %q", got, want)
	}
	if got := e.ok("version", "--json"); !jsonEqual([]byte(got), []byte(`{"version":"`+version+`","server":{"url":"`+e.url+`","version":"`+version+`"}}`)) {
		t.Fatalf("version --json printed %s", got)
	}

	// No arbor there: the client's version alone, and success.
	for _, c := range []struct{ args []string }{
		{[]string{"version", "--url", freePort(t)}},
		{[]string{"version", "--url", "http://" + freePort(t), "--json"}},
	} {
		var stdout, stderr bytes.Buffer
		err := run(t.Context(), c.args, &stdout, &stderr)
		want := "arbor " + version + "\n"
		if len(c.args) == 4 {
			want = `{"version":"` + version + `"}` + "\n"
		}
		if err != nil || stdout.String() != want || stderr.Len() != 0 {
			t.Fatalf("arbor %q without an arbor: %v %q %q, want %q", c.args, err, stdout.String(), stderr.String(), want)
		}
	}
}
