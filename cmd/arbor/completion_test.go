package main

import (
	"bytes"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// completionScript runs arbor completion shell and returns the script in
// a file.
func completionScript(t *testing.T, shell string) (path, script string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"completion", shell}, &stdout, &stderr); err != nil || stderr.Len() != 0 {
		t.Fatalf("completion %s: %v %s", shell, err, stderr.String())
	}
	path = filepath.Join(t.TempDir(), "arbor."+shell)
	if err := os.WriteFile(path, stdout.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, stdout.String()
}

// tableNames are the commands of the table, and help, sorted.
func tableNames() []string {
	names := append(slices.Collect(maps.Keys(commands(io.Discard, io.Discard))), "help")
	slices.Sort(names)
	return names
}

func TestCLICompletionBash(t *testing.T) {
	path, _ := completionScript(t, "bash")
	if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Fatalf("bash -n rejects the script: %v\n%s", err, out)
	}
	// complete returns what the script completes after the words typed,
	// the last one being completed.
	complete := func(words ...string) []string {
		t.Helper()
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		cmd := exec.Command("bash", "-c", `source "$1" && COMP_WORDS=(`+strings.Join(quoted, " ")+`) && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _arbor && printf '%s\n' "${COMPREPLY[@]}"`, "bash", path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", words, err, out)
		}
		return strings.Fields(string(out))
	}

	if got, want := complete("arbor", ""), tableNames(); !slices.Equal(got, want) {
		t.Fatalf("arbor <tab>: %q, want every command of the table %q", got, want)
	}
	if got := complete("arbor", "up"); !slices.Equal(got, []string{"update"}) {
		t.Fatalf("arbor up<tab>: %q", got)
	}
	for _, c := range []struct {
		words []string
		want  []string
	}{
		{[]string{"arbor", "update", "ID", "--"}, []string{"--api-key", "--data", "--idempotency-key", "--if-match", "--json", "--tags", "--url"}},
		{[]string{"arbor", "list", "--c"}, []string{"--created-after", "--created-before", "--cursor"}},
		{[]string{"arbor", "get", "ID", "--"}, []string{"--api-key", "--as-of", "--json", "--url", "--version"}},
		{[]string{"arbor", "attach", "--c"}, []string{"--content-type"}},
		{[]string{"arbor", "tree", "ID", "--w"}, []string{"--wide"}},
		{[]string{"arbor", "watch", "--l"}, []string{"--level-label"}},
		{[]string{"arbor", "download", "-"}, []string{"--api-key", "--csv", "--json", "--url", "-o"}},
		{[]string{"arbor", "serve", "--data-"}, []string{"--data-dir"}},
		{[]string{"arbor", "keys", ""}, []string{"add", "list"}},
		{[]string{"arbor", "keys", "add", "--"}, []string{"--file", "--name", "--scope"}},
		{[]string{"arbor", "completion", ""}, []string{"bash", "zsh"}},
		{[]string{"arbor", "get", "ID", "--j"}, []string{"--json"}},
	} {
		if got := complete(c.words...); !slices.Equal(got, c.want) {
			t.Errorf("%q<tab>: %q, want %q", c.words, got, c.want)
		}
	}
	// Every command's flags, as its -h lists them.
	for _, name := range tableNames() {
		if name == "help" || name == "keys" || name == "completion" {
			continue
		}
		want := helpFlags(commandHelp(t.Context(), name))
		if got := complete("arbor", name, "-"); len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("arbor %s -<tab>: %q, want %q", name, got, want)
		}
	}
}

func TestCLICompletionZsh(t *testing.T) {
	_, script := completionScript(t, "zsh")
	if !strings.HasPrefix(script, "#compdef arbor\n") || !strings.Contains(script, "compdef _arbor arbor") {
		t.Fatalf("the zsh script is not a completion function:\n%s", script)
	}
	if !strings.Contains(script, "compadd -- "+strings.Join(tableNames(), " ")+"\n") {
		t.Fatalf("the zsh script does not complete every command of the table %q:\n%s", tableNames(), script)
	}
	for _, want := range []string{
		"    update)\n        flags=(--api-key --data --idempotency-key --if-match --json --tags --url)\n",
		"    keys)\n        choices=(add list)\n",
		"        add) flags=(--file --name --scope) ;;\n",
		"    completion)\n        choices=(bash zsh)\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("the zsh script lacks %q", want)
		}
	}
}

func TestCLICompletionUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"completion", "fish"}, &stdout, &stderr)
	if exitCode(err) != 2 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "Usage: arbor completion bash|zsh") {
		t.Fatalf("completion fish: %v %q", err, stderr.String())
	}
}

// The usage arbor prints names every command of the table.
func TestCLIUsageNamesEveryCommand(t *testing.T) {
	for _, name := range tableNames() {
		if name != "help" && !strings.Contains(usage, "\n  arbor "+name+" ") {
			t.Errorf("the usage does not name arbor %s:\n%s", name, usage)
		}
	}
}
