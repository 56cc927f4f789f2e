package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"arbor/client"
)

// defaultURL is where the client commands find arbor when neither --url
// nor ARBOR_URL says.
const defaultURL = "http://127.0.0.1:8000"

// treeDataWidth is how many characters of an artifact's data a tree or
// watch line shows, unless --wide.
const treeDataWidth = 60

// cli runs the client commands; its fields stand for the process's
// standard streams and environment.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) (string, bool)
	// progress draws a progress bar on stderr while content is uploaded or
	// downloaded: set when stderr is a terminal, never when it is a file
	// or a pipe, whose readers want no bars.
	progress bool
}

// newCLI returns the cli of the process: its standard input and
// environment, with stdout and stderr.
func newCLI(stdout, stderr io.Writer) *cli {
	return &cli{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: lookupEnv, progress: isTerminal(stderr)}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
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
	// want names the positional arguments in an error about their number
	// (default: "no arguments" or "one artifact id").
	want string
}

// globalFlags are the flags every client command takes.
type globalFlags struct {
	url    string
	apiKey string
	json   bool
	// base is url with its scheme, once the flags are parsed.
	base string
}

// client returns a new client of the arbor the flags name, with opts.
func (g *globalFlags) client(opts ...client.Option) *client.Client {
	return client.New(g.base, append([]client.Option{client.WithAPIKey(g.apiKey)}, opts...)...)
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
		want := cmd.want
		switch {
		case want != "":
		case cmd.nargs == 1:
			want = "one artifact id"
		default:
			want = "no arguments"
		}
		return cl.usage(fs, "arbor %s takes %s, not %d", name, want, len(pos))
	}
	g.base = g.url
	if !strings.Contains(g.base, "://") {
		g.base = "http://" + g.base
	}
	if err := runCmd(ctx, g.client(), pos); err != nil {
		var exit *exitError
		if errors.As(err, &exit) && exit.usage {
			return cl.usage(fs, "%s", exit.err)
		}
		return cl.fail(err, g.base)
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

// fail prints err, once, and returns it as an *exitError: of its own
// status when err is one (a bad argument, status 2), else of status 1. A
// problem with field errors prints its status and then each field on a
// line of its own (its detail repeats them on one line); an arbor that
// cannot be reached at base is named, with the flag and variable that
// choose another.
func (cl *cli) fail(err error, base string) error {
	var (
		exit *exitError
		p    *client.Problem
		dial *net.OpError
	)
	switch {
	case errors.As(err, &exit):
		fmt.Fprintln(cl.stderr, "arbor:", exit.err)
		return exit
	case errors.As(err, &p) && len(p.Errors) > 0:
		title := p.Title
		if title == "" {
			title = http.StatusText(p.Status)
		}
		fmt.Fprintf(cl.stderr, "arbor: %d %s\n", p.Status, title)
		for _, fe := range p.Errors {
			fmt.Fprintf(cl.stderr, "  %s: %s\n", fe.Field, fe.Reason)
		}
	case errors.Is(err, syscall.ECONNREFUSED):
		fmt.Fprintf(cl.stderr, "arbor: no arbor answers at %s (connection refused): start one with arbor serve, "+
			"or give its URL with --url or ARBOR_URL\n", base)
	case errors.As(err, &dial) && dial.Op == "dial":
		fmt.Fprintf(cl.stderr, "arbor: cannot reach arbor at %s (%v): give its URL with --url or ARBOR_URL\n", base, dial.Err)
	default:
		fmt.Fprintln(cl.stderr, "arbor:", err)
	}
	return &exitError{code: 1, err: err}
}

// progressReader returns r, of size bytes (-1: not known), counted by a
// progress bar on stderr when cl draws them, and the function to call
// once r has been read: finished is whether all of it was. Without bars
// it returns r itself.
func (cl *cli) progressReader(r io.Reader, size int64, what string) (_ io.Reader, done func(finished bool)) {
	if !cl.progress || size == 0 {
		return r, func(bool) {}
	}
	bar := progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(cl.stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		// No spinner of its own: a bar of unknown size would otherwise
		// redraw from a goroutine until finished.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(cl.stderr) }),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &progressCounter{r: r, bar: bar}, func(finished bool) {
		if finished {
			_ = bar.Finish() // full, even when the size was not known
			return
		}
		_ = bar.Exit() // keeps the bar as it stands, ending its line
	}
}

// progressCounter adds what is read from r to a bar.
type progressCounter struct {
	r   io.Reader
	bar *progressbar.ProgressBar
}

func (p *progressCounter) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	_ = p.bar.Add(n)
	return n, err
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

// asOfUsage is the usage of the --as-of flag of the commands that read.
const asOfUsage = "read as arbor stood then: a log position (as arbor history prints) or an RFC 3339 time"

// idempotencyKeyUsage is the usage of the --idempotency-key flag of the
// commands that write.
const idempotencyKeyUsage = "a key naming this write (1 to 255 visible ASCII characters): the same command run again\n" +
	"with the same key within 24 hours, after a timeout say, is not written twice but prints the first answer"

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
