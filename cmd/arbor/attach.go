package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"path/filepath"

	"arbor/client"
)

// attachCommand uploads content to an artifact: arbor attach [flags] ID FILE.
type attachCommand struct{ cli *cli }

// Run runs the command with args.
func (c attachCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "attach", cliCommand{args: "[flags] ID FILE", summary: "Upload FILE (- for standard input) as the content of an existing artifact,\n" +
		"replacing any it had, and print its new version. Its data gains content_type,\n" +
		"content_size and content_sha256.", run: (*cli).attach, nargs: 2, want: "an artifact id and a file"}, args)
}

func (cl *cli) attach(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	ctype := fs.String("content-type", "", "the content's type (default: by FILE's extension, else application/octet-stream)")
	ifMatch := fs.Int("if-match", 0, "upload only if the artifact is at this version (412 otherwise)")
	key := fs.String("idempotency-key", "", idempotencyKeyUsage)
	return func(ctx context.Context, c *client.Client, args []string) error {
		if *ifMatch < 0 {
			return usagef("--if-match must be a version, 1 or more")
		}
		opts := []client.WriteOption{client.IdempotencyKey(*key)}
		if *ifMatch > 0 {
			opts = append(opts, client.IfMatch(*ifMatch))
		}
		id, path := args[0], args[1]
		var (
			a   client.Artifact
			err error
		)
		if path == "-" {
			r, done := cl.progressReader(cl.stdin, -1, "upload")
			a, err = c.UploadContent(ctx, id, contentType("", *ctype), r, opts...)
			done(err == nil)
		} else {
			f, size, oerr := openContent(path)
			if oerr != nil {
				return oerr
			}
			defer f.Close()
			r, done := cl.progressReader(f, size, "upload "+filepath.Base(path))
			a, err = c.UploadContent(ctx, id, contentType(path, *ctype), r, opts...)
			done(err == nil)
		}
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(a)
		}
		var content struct {
			Type string `json:"content_type"`
			Size int64  `json:"content_size"`
		}
		_ = json.Unmarshal(a.Data, &content) // stamped by arbor; zero if not
		_, err = fmt.Fprintf(cl.stdout, "%s version %d (%d bytes, %s)\n", a.ID, a.Version, content.Size, content.Type)
		return err
	}
}
