package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"arbor/client"
)

// listCommand lists artifacts: arbor list [flags].
type listCommand struct{ cli *cli }

// Run runs the command with args.
func (c listCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "list", cliCommand{args: "[flags]", summary: "List artifacts with their level labels, oldest first unless --sort: one page, or --all of them.\n" +
		"The flags that select combine (all must hold). After a page that has a next one, it prints the\n" +
		"--cursor that asks for it (give the same selection and --sort with it).", run: (*cli).list}, args)
}

func (cl *cli) list(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	var (
		opts     client.ListOptions
		tags     stringList
		page     = fs.Int("page", 1, "the page to show, from 1")
		size     = fs.Int("size", 50, "artifacts per page (with --all, per request), at most 1000")
		all      = fs.Bool("all", false, "every artifact, reading page after page (with --json: one artifact a line)")
		level    = fs.Int("level", 0, "only artifacts at this level (0: roots)")
		created  = fs.String("created-after", "", "only artifacts created after this RFC 3339 time (or date, UTC)")
		before   = fs.String("created-before", "", "only artifacts created before this RFC 3339 time (or date, UTC)")
		updated  = fs.String("updated-after", "", "only artifacts updated after this RFC 3339 time (or date, UTC)")
		timeFlag = []struct {
			name string
			v    *string
			to   *time.Time
		}{{"created-after", created, &opts.CreatedAfter}, {"created-before", before, &opts.CreatedBefore}, {"updated-after", updated, &opts.UpdatedAfter}}
	)
	fs.StringVar(&opts.Hierarchy, "hierarchy", "", "only artifacts of this hierarchy")
	fs.StringVar(&opts.LevelLabel, "level-label", "", "only artifacts at the level of this label (in any hierarchy), such as model")
	fs.StringVar(&opts.ParentID, "parent", "", "only the children of this artifact")
	fs.Var(&tags, "tag", "only artifacts with this tag; repeatable (all of them)")
	fs.StringVar(&opts.Filter, "filter", "", "only artifacts this CEL expression holds for, over data, tags, level, level_label,\n"+
		"hierarchy, parent_id, created_at and updated_at, such as 'data.metrics.rmse < 0.3 && \"prod\" in tags'")
	fs.StringVar(&opts.Sort, "sort", "", "the order: created_at (default), updated_at or data.<path>; a leading - for descending")
	fs.StringVar(&opts.Cursor, "cursor", "", "show the page after the one that printed this cursor (not with --page)")
	fs.StringVar(&opts.AsOf, "as-of", "", asOfUsage)
	return func(ctx context.Context, c *client.Client, _ []string) error {
		if *page < 1 || *size < 1 || *size > 1000 {
			return usagef("--page must be 1 or more and --size 1 to 1000")
		}
		if opts.Cursor != "" && flagSet(fs, "page") {
			return usagef("--cursor and --page cannot go together: a cursor names its page")
		}
		if flagSet(fs, "level") {
			if *level < 0 {
				return usagef("--level must be 0 or more")
			}
			opts.Level = level
		}
		for _, f := range timeFlag {
			if *f.v == "" {
				continue
			}
			t, err := parseTimeFlag(*f.v)
			if err != nil {
				return usagef("--%s: %v", f.name, err)
			}
			*f.to = t
		}
		opts.Tags, opts.Size = tags, *size
		tw := tabwriter.NewWriter(cl.stdout, 0, 4, 2, ' ', 0)
		labels := labeler{c: c, asOf: opts.AsOf, known: map[labelKey]string{}}
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
			for a, err := range c.AllWith(ctx, opts) {
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
		if opts.Cursor == "" {
			opts.Page = *page
		}
		p, err := c.ListWith(ctx, opts)
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
		if p.Page > 0 {
			_, err = fmt.Fprintf(cl.stdout, "page %d of %d, %d artifacts\n", p.Page, p.Pages, p.Total)
		} else {
			_, err = fmt.Fprintf(cl.stdout, "the page after the cursor, of %d artifacts\n", p.Total)
		}
		if err == nil && p.NextCursor != "" {
			_, err = fmt.Fprintf(cl.stdout, "next page: --cursor %s\n", p.NextCursor)
		}
		return err
	}
}

// parseTimeFlag reads a time a flag gives: RFC 3339, or a date (its
// midnight, UTC).
func parseTimeFlag(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a date (2026-01-02)", v)
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
	c *client.Client
	// asOf, if set, is the --as-of the list was read at.
	asOf  string
	known map[labelKey]string
}

// label returns a's level label; "?" when a has been deleted since it
// was listed (a later artifact of its level asks again).
func (l *labeler) label(ctx context.Context, a client.Artifact) (string, error) {
	k := labelKey{a.Hierarchy, a.Level}
	if s, ok := l.known[k]; ok {
		return s, nil
	}
	n, err := l.c.Tree(ctx, a.ID, 0, client.AsOf(l.asOf))
	if client.IsNotFound(err) {
		return "?", nil
	}
	if err != nil {
		return "", fmt.Errorf("level label of %s: %w", a.ID, err)
	}
	l.known[k] = n.LevelLabel
	return n.LevelLabel, nil
}
