package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"arbor/client"
)

// getCommand shows an artifact: arbor get [flags] ID.
type getCommand struct{ cli *cli }

// Run runs the command with args.
func (c getCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "get", cliCommand{args: "[flags] ID", summary: "Show an artifact, its data in full: as it is, as one of its versions (--version,\n" +
		"see arbor history), or as it was at a time or log position (--as-of).", run: (*cli).get, nargs: 1}, args)
}

func (cl *cli) get(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	version := fs.Int("version", 0, "show this version of the artifact (1 for its creation), even if it has been deleted since")
	asOf := fs.String("as-of", "", asOfUsage)
	return func(ctx context.Context, c *client.Client, args []string) error {
		var (
			a   client.Artifact
			err error
		)
		switch {
		case !flagSet(fs, "version"):
			a, err = c.Get(ctx, args[0], client.AsOf(*asOf))
		case *asOf != "":
			return usagef("--version and --as-of cannot go together")
		case *version < 1:
			return usagef("--version must be 1 or more")
		default:
			a, err = c.GetVersion(ctx, args[0], *version)
		}
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(a)
		}
		return cl.printArtifact(a, strconv.Itoa(a.Level))
	}
}

// printArtifact writes a as get and expand show it, its data in full,
// level as the level line says it.
func (cl *cli) printArtifact(a client.Artifact, level string) error {
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
	_, err := fmt.Fprintf(cl.stdout, "id:         %s\nparent:     %s\nhierarchy:  %s\nlevel:      %s\n"+
		"version:    %d\ncreated_at: %s\nupdated_at: %s\ntags:       %s\ndata:\n  %s\n",
		a.ID, parent, a.Hierarchy, level, a.Version,
		a.CreatedAt.UTC().Format(client.TimeFormat), a.UpdatedAt.UTC().Format(client.TimeFormat), tags, data.Bytes())
	return err
}
