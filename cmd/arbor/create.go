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
	key := fs.String("idempotency-key", "", idempotencyKeyUsage)
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
			a, err = c.Create(ctx, req, client.IdempotencyKey(*key))
		} else {
			a, err = cl.createWithFile(ctx, c, req, *file, *ctype, client.IdempotencyKey(*key))
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

// createWithFile creates the artifact req with the content of the file at
// path, of ctype (default: by the file's extension), with opts.
func (cl *cli) createWithFile(ctx context.Context, c *client.Client, req client.CreateRequest, path, ctype string, opts ...client.WriteOption) (client.Artifact, error) {
	f, size, err := openContent(path)
	if err != nil {
		return client.Artifact{}, err
	}
	defer f.Close()
	r, done := cl.progressReader(f, size, "upload "+filepath.Base(path))
	a, err := c.CreateWithContent(ctx, req, contentType(path, ctype), r, opts...)
	done(err == nil)
	return a, err
}

// openContent opens the regular file at path and returns its size.
func openContent(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is a directory", path)
	}
	size := fi.Size()
	if !fi.Mode().IsRegular() {
		size = -1 // a pipe, say: read to its end
	}
	return f, size, nil
}

// contentType is ctype, else the type of path's extension, else
// application/octet-stream.
func contentType(path, ctype string) string {
	if ctype == "" {
		ctype = mime.TypeByExtension(filepath.Ext(path))
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	return ctype
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
		return nil, badArgf("--data is not valid JSON: %s", jsonError(b))
	}
	return json.RawMessage(b), nil
}

// jsonError says what is wrong with b, which is not valid JSON, and where.
func jsonError(b []byte) string {
	err := json.Unmarshal(b, new(any))
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) && len(bytes.TrimSpace(b)) > 0 {
		return fmt.Sprintf("%v (at byte %d)", err, syntax.Offset)
	}
	return fmt.Sprint(err)
}
