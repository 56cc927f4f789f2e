package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"arbor/internal/apikey"
)

const keysUsage = `Usage:
  arbor keys add --file FILE --name NAME --scope read|write|admin
        make a key, add its SHA-256 to FILE (created with mode 0600 if
        missing) and print the key: this is the only time it is shown
  arbor keys list [--json] --file FILE
        print the name and scope of each key in FILE

FILE is what arbor serve --api-keys-file reads. A read key reads; a write
key also creates, updates, deletes and uploads; an admin key may do
everything. Clients send a key as X-API-Key: KEY or Authorization: Bearer KEY
(the client commands: --api-key, or ARBOR_API_KEY).
`

// keysCommand manages the file of HTTP API keys: arbor keys add|list.
type keysCommand struct {
	stdout, stderr io.Writer
}

// Run runs the subcommand args name. It returns nil, flag.ErrHelp after
// -h, or an *exitError once it has printed why it failed.
func (c *keysCommand) Run(_ context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, keysUsage)
		return errUsage
	}
	switch args[0] {
	case "add":
		return c.add(args[1:])
	case "list":
		return c.list(args[1:])
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, keysUsage)
		return nil
	}
	fmt.Fprintf(c.stderr, "arbor keys: unknown subcommand %q\n\n%s", args[0], keysUsage)
	return errUsage
}

// add makes a key and prints it, and nothing else, on stdout: KEY=$(arbor
// keys add ...) keeps it.
func (c *keysCommand) add(args []string) error {
	fs := c.flags("add")
	file := fs.String("file", "", "the keys file (arbor serve --api-keys-file)")
	name := fs.String("name", "", "the key's name, unique in the file: 1 to 64 letters, digits, '-', '_' or '.'")
	scopeName := fs.String("scope", "", "what the key may do: read, write or admin")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *file == "" || *name == "" || *scopeName == "" {
		return c.usage(fs, "arbor keys add needs --file, --name and --scope")
	}
	if err := apikey.CheckName(*name); err != nil {
		return c.usage(fs, "--name: %v", err)
	}
	scope, err := apikey.ParseScope(*scopeName)
	if err != nil {
		return c.usage(fs, "--scope: %v", err)
	}
	key, err := apikey.Add(*file, *name, scope)
	if err != nil {
		return c.fail(err)
	}
	if _, err := fmt.Fprintln(c.stdout, key); err != nil {
		return c.fail(err)
	}
	fmt.Fprintf(c.stderr, "arbor keys: added %s key %q to %s; keep the key now, it cannot be shown again\n", scope, *name, *file)
	return nil
}

// list prints the names and scopes in the file; never a hash.
func (c *keysCommand) list(args []string) error {
	fs := c.flags("list")
	file := fs.String("file", "", "the keys file (arbor serve --api-keys-file)")
	asJSON := fs.Bool("json", false, "print JSON for scripts: [{name, scope}, ...]")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return c.usage(fs, "arbor keys list needs --file")
	}
	set, err := apikey.Load(*file)
	if err != nil {
		return c.fail(err)
	}
	if *asJSON {
		type key struct {
			Name  string `json:"name"`
			Scope string `json:"scope"`
		}
		out := []key{}
		for _, k := range set.Keys() {
			out = append(out, key{Name: k.Name, Scope: k.Scope.String()})
		}
		b, err := json.Marshal(out)
		if err == nil {
			_, err = fmt.Fprintf(c.stdout, "%s\n", b)
		}
		if err != nil {
			return c.fail(err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCOPE")
	for _, k := range set.Keys() {
		fmt.Fprintf(tw, "%s\t%s\n", k.Name, k.Scope)
	}
	if err := tw.Flush(); err != nil {
		return c.fail(err)
	}
	return nil
}

// flags returns the flag set of arbor keys sub.
func (c *keysCommand) flags(sub string) *flag.FlagSet {
	fs := flag.NewFlagSet("arbor keys "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "%s\nFlags of arbor keys %s:\n", keysUsage, sub)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, which must all be flags.
func (c *keysCommand) parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage // the flag package has printed the error and usage
	}
	if fs.NArg() > 0 {
		return c.usage(fs, "%s takes no arguments, only flags: %q", fs.Name(), fs.Args())
	}
	return nil
}

// usage prints a message and the usage, and returns errUsage.
func (c *keysCommand) usage(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(c.stderr, format+"\n", args...)
	fs.Usage()
	return errUsage
}

// fail prints err and returns it as an *exitError of status 1.
func (c *keysCommand) fail(err error) error {
	fmt.Fprintln(c.stderr, "arbor:", err)
	return &exitError{code: 1, err: err}
}
