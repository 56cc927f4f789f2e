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
	return c.cli.run(ctx, "list", cliCommand{args: "[flags]", summary: "List artifacts, oldest first, with their level labels: one page, or --all of them.", run: (*cli).list}, args)
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
		labels := labeler{c: c, known: map[labelKey]string{}}
		row := func(a client.Artifact) error {
			label, err := labels.label(ctx, a)
			if err != nil {
				return err
			}
			tags := strings.Join(a.Tags, ",")
			if tags == "" {
				tags = "-"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\t%s\n", a.ID, a.Level, label, a.Hierarchy, a.Version,
				a.CreatedAt.UTC().Format(client.TimeFormat), tags)
			return nil
		}
		header := func() { fmt.Fprintln(tw, "ID\tLEVEL\tLABEL\tHIERARCHY\tVERSION\tCREATED_AT\tTAGS") }
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
				if err := row(a); err != nil {
					tw.Flush()
					return err
				}
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
			if err := row(a); err != nil {
				return err
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(cl.stdout, "page %d of %d, %d artifacts\n", p.Page, p.Pages, p.Total)
		return err
	}
}

// labelKey is where an artifact lies: its hierarchy and level, which
// alone decide its level label.
type labelKey struct {
	hierarchy string
	level     int
}

// labeler finds the level labels of listed artifacts, which the list
// leaves out: it reads one artifact's tree root (no children, no
// content) per hierarchy and level, and remembers the label.
type labeler struct {
	c     *client.Client
	known map[labelKey]string
}

// label returns a's level label; "?" when a has been deleted since it
// was listed (a later artifact of its level asks again).
func (l *labeler) label(ctx context.Context, a client.Artifact) (string, error) {
	k := labelKey{a.Hierarchy, a.Level}
	if s, ok := l.known[k]; ok {
		return s, nil
	}
	n, err := l.c.Tree(ctx, a.ID, 0)
	if client.IsNotFound(err) {
		return "?", nil
	}
	if err != nil {
		return "", fmt.Errorf("level label of %s: %w", a.ID, err)
	}
	l.known[k] = n.LevelLabel
	return n.LevelLabel, nil
}
