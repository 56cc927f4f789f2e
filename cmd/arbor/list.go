package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"arbor/client"
)

// listCommand lists artifacts: arbor list [flags].
type listCommand struct{ cli *cli }

// Run runs the command with args.
func (c listCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "list", cliCommand{args: "[flags]", summary: "List artifacts, oldest first: one page, or --all of them.", run: (*cli).list}, args)
}

func (cl *cli) list(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	page := fs.Int("page", 1, "the page to show, from 1")
	size := fs.Int("size", 50, "artifacts per page (with --all, per request), at most 1000")
	all := fs.Bool("all", false, "every artifact, reading page after page (with --json: one artifact a line)")
	return func(ctx context.Context, c *client.Client, _ []string) error {
		if *page < 1 || *size < 1 || *size > 1000 {
			return usagef("--page must be 1 or more and --size 1 to 1000")
		}
		tw := tabwriter.NewWriter(cl.stdout, 0, 4, 2, ' ', 0)
		row := func(a client.Artifact) {
			tags := strings.Join(a.Tags, ",")
			if tags == "" {
				tags = "-"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\t%s\n", a.ID, a.Level, a.Hierarchy, a.Version,
				a.CreatedAt.UTC().Format(client.TimeFormat), tags)
		}
		header := func() { fmt.Fprintln(tw, "ID\tLEVEL\tHIERARCHY\tVERSION\tCREATED_AT\tTAGS") }
		if *all {
			if !g.json {
				header()
			}
			for a, err := range c.All(ctx, *size) {
				if err != nil {
					tw.Flush()
					return err
				}
				if g.json {
					if err := cl.printJSON(a); err != nil {
						return err
					}
					continue
				}
				row(a)
			}
			return tw.Flush()
		}
		p, err := c.List(ctx, *page, *size)
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(p)
		}
		header()
		for _, a := range p.Items {
			row(a)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cl.stdout, "page %d of %d, %d artifacts\n", p.Page, p.Pages, p.Total)
		return err
	}
}
