package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"arbor/client"
)

// defaultURL is where the client commands find arbor when neither --url
// nor ARBOR_URL says.
const defaultURL = "http://127.0.0.1:8000"

// treeDataWidth is how many characters of an artifact's data a tree line
// shows.
const treeDataWidth = 60

// exitError is a failure a client command has already reported on stderr:
// arbor exits with code, printing nothing more.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the status arbor exits with.
func (e *exitError) ExitCode() int { return e.code }

// runClient runs the client command name (create, get, list, tree,
// download, watch) with args. It returns nil, flag.ErrHelp for -h,
// errUsage after printing the command's usage for a command line it cannot
// run, or an *exitError after printing what went wrong.
func runClient(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	cl := &cli{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: lookupEnv}
	return cl.run(ctx, name, args)
}

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

// cliCommands are the client commands by name.
func cliCommands() map[string]cliCommand {
	return map[string]cliCommand{
		"create": {args: "[flags]", summary: "Create an artifact and print its id. --data is the artifact's JSON object\n" +
			"(default {}), given inline, as @FILE or - for standard input; --file attaches content.", run: (*cli).create},
		"get":  {args: "[flags] ID", summary: "Show an artifact, its data in full.", run: (*cli).get, nargs: 1},
		"list": {args: "[flags]", summary: "List artifacts, oldest first: one page, or --all of them.", run: (*cli).list},
		"tree": {args: "[flags] ID", summary: "Draw the subtree under an artifact, with level labels.", run: (*cli).tree, nargs: 1},
		"download": {args: "[flags] ID", summary: "Save an artifact's content, by default to the file name the server gives.",
			run: (*cli).download, nargs: 1},
		"watch": {args: "[flags]", summary: "Print events as they are appended, one a line, until interrupted.\n" +
			"Dropped connections are resumed without losing or repeating an event.", run: (*cli).watch},
	}
}

// globalFlags are the flags every client command takes.
type globalFlags struct {
	url  string
	json bool
}

func (cl *cli) run(ctx context.Context, name string, args []string) error {
	cmd, ok := cliCommands()[name]
	if !ok {
		return fmt.Errorf("unknown command %q", name)
	}
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
	fs.BoolVar(&g.json, "json", false, "print JSON for scripts instead of the human form")
	runCmd := cmd.run(cl, fs, g)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // the flag package has printed the error and usage
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
	if err := runCmd(ctx, client.New(base), pos); err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return cl.usage(fs, "%s", ue.msg)
		}
		return cl.fail(err)
	}
	return nil
}

// usageError is a command line a command finds wrong after parsing it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }

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

func (cl *cli) create(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	var (
		req   client.CreateRequest
		tags  stringList
		data  = fs.String("data", "", "the artifact's data: a JSON object, @FILE to read it from FILE, or - for standard input")
		file  = fs.String("file", "", "attach the content of this file")
		ctype = fs.String("content-type", "", "the content type of --file (default: by its extension, else application/octet-stream)")
	)
	fs.StringVar(&req.ParentID, "parent", "", "the parent's id (none: a root)")
	fs.StringVar(&req.Hierarchy, "hierarchy", "", "a root's hierarchy (default: the server's first)")
	fs.StringVar(&req.ID, "id", "", "the new artifact's ULID (default: the server chooses)")
	fs.Var(&tags, "tag", "a tag; repeatable")
	return func(ctx context.Context, c *client.Client, _ []string) error {
		raw, err := cl.readData(*data)
		if err != nil {
			return err
		}
		req.Data, req.Tags = raw, tags
		var a client.Artifact
		if *file == "" {
			if *ctype != "" {
				return usagef("--content-type goes with --file")
			}
			a, err = c.Create(ctx, req)
		} else {
			a, err = createWithFile(ctx, c, req, *file, *ctype)
		}
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(a)
		}
		_, err = fmt.Fprintln(cl.stdout, a.ID)
		return err
	}
}

func createWithFile(ctx context.Context, c *client.Client, req client.CreateRequest, path, ctype string) (client.Artifact, error) {
	f, err := os.Open(path)
	if err != nil {
		return client.Artifact{}, err
	}
	defer f.Close()
	if ctype == "" {
		ctype = mime.TypeByExtension(filepath.Ext(path))
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return c.CreateWithContent(ctx, req, ctype, f)
}

// readData reads the --data of create: inline JSON, @FILE, or - for
// standard input; {} when empty.
func (cl *cli) readData(v string) (json.RawMessage, error) {
	var (
		b   []byte
		err error
	)
	switch {
	case v == "":
		return json.RawMessage(`{}`), nil
	case v == "-":
		if b, err = io.ReadAll(cl.stdin); err != nil {
			return nil, fmt.Errorf("read --data from standard input: %w", err)
		}
	case strings.HasPrefix(v, "@"):
		if b, err = os.ReadFile(v[1:]); err != nil {
			return nil, fmt.Errorf("read --data: %w", err)
		}
	default:
		b = []byte(v)
	}
	if !json.Valid(b) {
		return nil, usagef("--data is not valid JSON: %s", shorten(string(bytes.TrimSpace(b)), treeDataWidth))
	}
	return json.RawMessage(b), nil
}

func (cl *cli) get(_ *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	return func(ctx context.Context, c *client.Client, args []string) error {
		a, err := c.Get(ctx, args[0])
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(a)
		}
		parent, tags := a.ParentID, strings.Join(a.Tags, ", ")
		if parent == "" {
			parent = "- (a root)"
		}
		if tags == "" {
			tags = "-"
		}
		var data bytes.Buffer
		if err := json.Indent(&data, a.Data, "  ", "  "); err != nil {
			data.Reset()
			data.Write(a.Data)
		}
		_, err = fmt.Fprintf(cl.stdout, "id:         %s\nparent:     %s\nhierarchy:  %s\nlevel:      %d\n"+
			"version:    %d\ncreated_at: %s\nupdated_at: %s\ntags:       %s\ndata:\n  %s\n",
			a.ID, parent, a.Hierarchy, a.Level, a.Version,
			a.CreatedAt.UTC().Format(client.TimeFormat), a.UpdatedAt.UTC().Format(client.TimeFormat), tags, data.Bytes())
		return err
	}
}

func (cl *cli) list(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	page := fs.Int("page", 1, "the page to show, from 1")
	size := fs.Int("size", 50, "artifacts per page (with --all, per request), at most 1000")
	all := fs.Bool("all", false, "every artifact, reading page after page (with --json: one artifact a line)")
	return func(ctx context.Context, c *client.Client, _ []string) error {
		if *page < 1 || *size < 1 || *size > 1000 {
			return usagef("--page must be 1 or more and --size 1 to 1000")
		}
		tw := tabwriter.NewWriter(cl.stdout, 0, 4, 2, ' ', 0)
		row := func(a client.Artifact) {
			tags := strings.Join(a.Tags, ",")
			if tags == "" {
				tags = "-"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", a.ID, a.Level, a.Hierarchy, a.Version,
				a.CreatedAt.UTC().Format(client.TimeFormat), tags)
		}
		header := func() { fmt.Fprintln(tw, "ID\tLEVEL\tHIERARCHY\tVERSION\tCREATED_AT\tTAGS") }
		if *all {
			if !g.json {
				header()
			}
			for a, err := range c.All(ctx, *size) {
				if err != nil {
					tw.Flush()
					return err
				}
				if g.json {
					if err := cl.printJSON(a); err != nil {
						return err
					}
					continue
				}
				row(a)
			}
			return tw.Flush()
		}
		p, err := c.List(ctx, *page, *size)
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(p)
		}
		header()
		for _, a := range p.Items {
			row(a)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cl.stdout, "page %d of %d, %d artifacts\n", p.Page, p.Pages, p.Total)
		return err
	}
}

func (cl *cli) tree(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	depth := fs.Int("max-depth", -1, "levels below the root to show (negative: all)")
	return func(ctx context.Context, c *client.Client, args []string) error {
		n, err := c.Tree(ctx, args[0], *depth)
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(n)
		}
		var b strings.Builder
		drawTree(&b, n, "", "")
		_, err = io.WriteString(cl.stdout, b.String())
		return err
	}
}

// drawTree writes n as a line after first, then its children, each line
// after prefix and a branch.
func drawTree(b *strings.Builder, n client.Node, first, prefix string) {
	fmt.Fprintf(b, "%s%s %s %s", first, n.LevelLabel, n.ID, shortData(n.Data))
	if !n.ChildrenLoaded {
		b.WriteString(" (children not loaded)")
	}
	b.WriteString("\n")
	for i, child := range n.Children {
		if i == len(n.Children)-1 {
			drawTree(b, child, prefix+"└── ", prefix+"    ")
		} else {
			drawTree(b, child, prefix+"├── ", prefix+"│   ")
		}
	}
}

// shortData is data as compact JSON, cut to treeDataWidth characters.
func shortData(data json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, data) != nil {
		b.Reset()
		b.Write(data)
	}
	return shorten(b.String(), treeDataWidth)
}

// shorten cuts s to at most n characters, the last of them an ellipsis
// when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func (cl *cli) download(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	out := fs.String("o", "", "the file to write (default: the name the server gives; - for standard output)")
	csv := fs.Bool("csv", false, "a DataFrame as CSV instead of JSON records")
	return func(ctx context.Context, c *client.Client, args []string) error {
		d, err := c.Download(ctx, args[0], client.DownloadOptions{CSV: *csv})
		if err != nil {
			return err
		}
		defer d.Body.Close()
		if *out == "-" {
			_, err := io.Copy(cl.stdout, d.Body)
			return err
		}
		path := *out
		if path == "" {
			// Only a plain name from the server: never a path.
			path = filepath.Base(filepath.FromSlash(d.Filename))
			if path == "." || path == ".." || path == string(filepath.Separator) || d.Filename == "" {
				path = "artifact_" + args[0]
			}
		}
		n, err := writeFile(path, d.Body)
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(map[string]any{"file": path, "size": n, "content_type": d.ContentType})
		}
		_, err = fmt.Fprintf(cl.stdout, "%s (%d bytes, %s)\n", path, n, d.ContentType)
		return err
	}
}

// writeFile writes r to path; on failure it removes what it wrote.
func writeFile(path string, r io.Reader) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return 0, fmt.Errorf("write %s: %w", path, err)
	}
	return n, nil
}

func (cl *cli) watch(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	var f client.EventFilter
	fs.StringVar(&f.Hierarchy, "hierarchy", "", "only events of this hierarchy")
	fs.StringVar(&f.LevelLabel, "level-label", "", "only events of artifacts at this level label")
	fs.StringVar(&f.Type, "type", "", "only events of this type: created, updated or deleted")
	fs.StringVar(&f.Artifact, "artifact", "", "only events of this artifact")
	since := fs.String("since", "", "start after this log position (0: from the beginning; default: new events only)")
	return func(ctx context.Context, c *client.Client, _ []string) error {
		var from *uint64
		if *since != "" {
			n, err := strconv.ParseUint(*since, 10, 64)
			if err != nil {
				return usagef("--since must be a log position such as 0 or 42, not %q", *since)
			}
			from = &n
		}
		for ev, err := range c.Events(ctx, f, from) {
			if err != nil {
				return err
			}
			if g.json {
				err = cl.printJSON(ev)
			} else {
				_, err = fmt.Fprintf(cl.stdout, "%d %s %s/%s %s\n", ev.Seq, ev.Type, ev.Hierarchy, ev.LevelLabel, ev.Subject)
			}
			if err != nil {
				return err
			}
		}
		return nil // interrupted
	}
}
