package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"arbor/client"
)

// historyCommand prints an artifact's versions: arbor history ID.
type historyCommand struct{ cli *cli }

// Run runs the command with args.
func (c historyCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "history", cliCommand{args: "[flags] ID",
		summary: "Print every version of an artifact, deleted or not, oldest first, a line each: version, event,\n" +
			"time, log position (for --as-of), tags, content digest and data without content. arbor get ID\n" +
			"--version N shows one in full.",
		run: (*cli).history, nargs: 1}, args)
}

func (cl *cli) history(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	wide := fs.Bool("wide", false, fmt.Sprintf("print each version's data whole (default: cut to %d characters)", treeDataWidth))
	return func(ctx context.Context, c *client.Client, args []string) error {
		vs, err := c.History(ctx, args[0])
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(vs)
		}
		data := shortData
		if *wide {
			data = compactData
		}
		tw := tabwriter.NewWriter(cl.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tEVENT\tTIME\tPOSITION\tTAGS\tCONTENT\tDATA")
		for _, v := range vs {
			tags, content, d := "-", "-", "-"
			if v.Data != nil {
				d = data(v.Data)
			}
			if len(v.Tags) > 0 {
				tags = strings.Join(v.Tags, ",")
			}
			if v.Content != nil {
				content = shorten(v.Content.SHA256, 13)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", v.Version, strings.TrimPrefix(v.Type, "artifact."),
				v.Time.UTC().Format(client.TimeFormat), v.Position, tags, content, d)
		}
		return tw.Flush()
	}
}
