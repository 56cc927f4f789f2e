package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"arbor/client"
)

// downloadCommand saves an artifact's content: arbor download [flags] ID.
type downloadCommand struct{ cli *cli }

// Run runs the command with args.
func (c downloadCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "download", cliCommand{args: "[flags] ID", summary: "Save an artifact's content, by default to the file name the server gives.",
		run: (*cli).download, nargs: 1}, args)
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
		path := *out
		if path == "" {
			// Only a plain name from the server: never a path.
			path = filepath.Base(filepath.FromSlash(d.Filename))
			if path == "." || path == ".." || path == string(filepath.Separator) || d.Filename == "" {
				path = "artifact_" + args[0]
			}
		}
		what := "download " + path
		if path == "-" {
			what = "download " + args[0]
		}
		body, done := cl.progressReader(d.Body, d.Size, what)
		if path == "-" {
			_, err := io.Copy(cl.stdout, body)
			done(err == nil)
			return err
		}
		n, err := writeFile(path, body)
		done(err == nil)
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
