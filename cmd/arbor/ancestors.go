package main

import (
	"context"
	"flag"
	"fmt"

	"arbor/client"
)

// ancestorsCommand prints an artifact's lineage: arbor ancestors ID.
type ancestorsCommand struct{ cli *cli }

// Run runs the command with args.
func (c ancestorsCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "ancestors", cliCommand{args: "[flags] ID",
		summary: "Print an artifact's ancestors, its root first and its parent last, a line each: level label, id, data.",
		run:     (*cli).ancestors, nargs: 1}, args)
}

func (cl *cli) ancestors(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	asOf := fs.String("as-of", "", asOfUsage)
	return func(ctx context.Context, c *client.Client, args []string) error {
		ns, err := c.Ancestors(ctx, args[0], client.AsOf(*asOf))
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(ns)
		}
		for _, n := range ns {
			fmt.Fprintf(cl.stdout, "%s %s %s\n", n.LevelLabel, n.ID, n.Data)
		}
		return nil
	}
}
