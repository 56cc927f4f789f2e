package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"

	"arbor/client"
)

// statsCommand counts the live artifacts: arbor stats.
type statsCommand struct{ cli *cli }

// Run runs the command with args.
func (c statsCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "stats", cliCommand{args: "[flags]", summary: "Count the live artifacts (--as-of: those live then): in all, per hierarchy, and per level label.", run: (*cli).stats}, args)
}

func (cl *cli) stats(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	asOf := fs.String("as-of", "", asOfUsage)
	return func(ctx context.Context, c *client.Client, _ []string) error {
		s, err := c.Stats(ctx, client.AsOf(*asOf))
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(s)
		}
		// Hierarchies and labels by name: the counts do not say the
		// levels' order.
		tw := tabwriter.NewWriter(cl.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "total\t%d\n", s.Total)
		for _, name := range slices.Sorted(maps.Keys(s.Hierarchies)) {
			h := s.Hierarchies[name]
			fmt.Fprintf(tw, "%s\t%d\n", name, h.Total)
			for _, label := range slices.Sorted(maps.Keys(h.Levels)) {
				fmt.Fprintf(tw, "  %s\t%d\n", label, h.Levels[label])
			}
		}
		return tw.Flush()
	}
}
