package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"arbor/client"
)

// metadataCommand prints an artifact's data.metadata: arbor metadata ID.
type metadataCommand struct{ cli *cli }

// Run runs the command with args.
func (c metadataCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "metadata", cliCommand{args: "[flags] ID", summary: "Print an artifact's data.metadata as JSON, {} when it has none.", run: (*cli).metadata, nargs: 1}, args)
}

func (cl *cli) metadata(_ *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	return func(ctx context.Context, c *client.Client, args []string) error {
		m, err := c.Metadata(ctx, args[0])
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(m)
		}
		var b bytes.Buffer
		if err := json.Indent(&b, m, "", "  "); err != nil {
			b.Reset()
			b.Write(m)
		}
		_, err = fmt.Fprintf(cl.stdout, "%s\n", b.Bytes())
		return err
	}
}
