package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"

	"arbor/client"
)

// createCommand creates an artifact and prints its id: arbor create [flags].
type createCommand struct{ cli *cli }

// Run runs the command with args.
func (c createCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "create", cliCommand{args: "[flags]", summary: "Create an artifact and print its id. --data is the artifact's JSON object\n" +
		"(default {}), given inline, as @FILE or - for standard input; --file attaches content.", run: (*cli).create}, args)
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
