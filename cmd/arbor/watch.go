package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"arbor/client"
)

// watchCommand prints events as they are appended: arbor watch [flags].
type watchCommand struct{ cli *cli }

// Run runs the command with args.
func (c watchCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "watch", cliCommand{args: "[flags]", summary: "Print events as they are appended, one a line, until interrupted.\n" +
		"Dropped connections are resumed without losing or repeating an event.", run: (*cli).watch}, args)
}

func (cl *cli) watch(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	var f client.EventFilter
	fs.StringVar(&f.Hierarchy, "hierarchy", "", "only events of this hierarchy")
	fs.StringVar(&f.LevelLabel, "level-label", "", "only events of artifacts at this level label")
	fs.StringVar(&f.Type, "type", "", "only events of this type: created, updated or deleted")
	fs.StringVar(&f.Artifact, "artifact", "", "only events of this artifact")
	since := fs.String("since", "", "start after this log position (0: from the beginning; default: new events only)")
	return func(ctx context.Context, c *client.Client, _ []string) error {
		var from *uint64
		if *since != "" {
			n, err := strconv.ParseUint(*since, 10, 64)
			if err != nil {
				return usagef("--since must be a log position such as 0 or 42, not %q", *since)
			}
			from = &n
		}
		for ev, err := range c.Events(ctx, f, from) {
			if err != nil {
				return err
			}
			if g.json {
				err = cl.printJSON(ev)
			} else {
				_, err = fmt.Fprintf(cl.stdout, "%d %s %s/%s %s\n", ev.Seq, ev.Type, ev.Hierarchy, ev.LevelLabel, ev.Subject)
			}
			if err != nil {
				return err
			}
		}
		return nil // interrupted
	}
}
