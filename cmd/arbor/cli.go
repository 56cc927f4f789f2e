package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"arbor/client"
)

// defaultURL is where the client commands find arbor when neither --url
// nor ARBOR_URL says.
const defaultURL = "http://127.0.0.1:8000"

// treeDataWidth is how many characters of an artifact's data a tree line
// shows.
const treeDataWidth = 60

// cli runs the client commands; its fields stand for the process's
// standard streams and environment.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
}

// cliCommand is one client command.
type cliCommand struct {
	args    string // what follows "arbor <name>" in its usage
	summary string
	// run defines the command's flags on fs, and returns the function
	// running it once they are parsed, with the positional arguments.
	run func(cl *cli, fs *flag.FlagSet, g *globalFlags) func(ctx context.Context, c *client.Client, args []string) error
	// nargs is how many positional arguments it takes.
	nargs int
}

// globalFlags are the flags every client command takes.
type globalFlags struct {
	url    string
	apiKey string
	json   bool
}

// run runs the client command cmd, called name, with args: it parses
// the flags every client command takes and cmd's own, checks the number of
// positional arguments, and reports what goes wrong. It returns nil,
// flag.ErrHelp for -h, or an *exitError once it has printed why.
func (cl *cli) run(ctx context.Context, name string, cmd cliCommand, args []string) error {
	fs := flag.NewFlagSet("arbor "+name, flag.ContinueOnError)
	fs.SetOutput(cl.stderr)
	fs.Usage = func() {
		fmt.Fprintf(cl.stderr, "Usage: arbor %s %s\n\n%s\n\nFlags:\n", name, cmd.args, cmd.summary)
		fs.PrintDefaults()
	}
	g := &globalFlags{url: defaultURL}
	if v, ok := cl.getenv("ARBOR_URL"); ok && v != "" {
		g.url = v
	}
	fs.StringVar(&g.url, "url", g.url, "arbor's base URL (ARBOR_URL)")
	// The key from the environment is not the flag's default: -h would
	// print it.
	fs.StringVar(&g.apiKey, "api-key", "", "the API key to send, when arbor requires keys (ARBOR_API_KEY, "+
		"better than the flag, which other users of the machine can see)")
	fs.BoolVar(&g.json, "json", false, "print JSON for scripts instead of the human form")
	runCmd := cmd.run(cl, fs, g)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // the flag package has printed the error and usage
	}
	if !flagSet(fs, "api-key") {
		g.apiKey, _ = cl.getenv("ARBOR_API_KEY")
	}
	if len(pos) != cmd.nargs {
		want := "no arguments"
		if cmd.nargs == 1 {
			want = "one artifact id"
		}
		return cl.usage(fs, "arbor %s takes %s, not %d", name, want, len(pos))
	}
	base := g.url
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	if err := runCmd(ctx, client.New(base, client.WithAPIKey(g.apiKey)), pos); err != nil {
		var exit *exitError
		if errors.As(err, &exit) && exit.usage {
			return cl.usage(fs, "%s", exit.err)
		}
		return cl.fail(err)
	}
	return nil
}

// flagSet reports whether the command line set the flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// usage prints a message and the command's usage, and returns errUsage.
func (cl *cli) usage(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(cl.stderr, format+"\n", args...)
	fs.Usage()
	return errUsage
}

// fail prints err, with the field errors of a problem, and returns it as
// an *exitError of status 1.
func (cl *cli) fail(err error) error {
	fmt.Fprintln(cl.stderr, "arbor:", err)
	var p *client.Problem
	if errors.As(err, &p) {
		for _, fe := range p.Errors {
			fmt.Fprintf(cl.stderr, "  %s: %s\n", fe.Field, fe.Reason)
		}
	}
	return &exitError{code: 1, err: err}
}

// parseInterleaved parses args with fs, allowing flags after positional
// arguments (arbor get ID --json); "--" ends the flags. It returns the
// positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// printJSON writes v as one line of JSON.
func (cl *cli) printJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cl.stdout, "%s\n", b)
	return err
}
