package main

import (
	"context"
	"flag"
	"fmt"

	"arbor/client"
)

// expandCommand shows an artifact with its level label: arbor expand ID.
type expandCommand struct{ cli *cli }

// Run runs the command with args.
func (c expandCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "expand", cliCommand{args: "[flags] ID", summary: "Show an artifact as get does, with its level label, its data without content.", run: (*cli).expand, nargs: 1}, args)
}

func (cl *cli) expand(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	asOf := fs.String("as-of", "", asOfUsage)
	return func(ctx context.Context, c *client.Client, args []string) error {
		n, err := c.Expand(ctx, args[0], client.AsOf(*asOf))
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(n)
		}
		return cl.printArtifact(n.Artifact, fmt.Sprintf("%d (%s)", n.Level, n.LevelLabel))
	}
}
