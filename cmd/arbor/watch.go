package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"

	"arbor/client"
)

// watchCommand prints events as they are appended: arbor watch [flags].
type watchCommand struct{ cli *cli }

// Run runs the command with args.
func (c watchCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "watch", cliCommand{args: "[flags]", summary: "Print events as they are appended, one a line, until interrupted: position,\n" +
		"type, hierarchy/level label, artifact, its parent (- for a root, ? when arbor no longer\n" +
		"knows it) and the data the event records. Dropped connections are resumed without\n" +
		"losing or repeating an event.", run: (*cli).watch}, args)
}

// maxParents bounds how many artifacts' parents a watch remembers.
const maxParents = 100_000

func (cl *cli) watch(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	var f client.EventFilter
	fs.StringVar(&f.Hierarchy, "hierarchy", "", "only events of this hierarchy")
	fs.StringVar(&f.LevelLabel, "level-label", "", "only events of artifacts at this level label")
	fs.StringVar(&f.Type, "type", "", "only events of this type: created, updated or deleted")
	fs.StringVar(&f.Artifact, "artifact", "", "only events of this artifact")
	fs.StringVar(&f.ParentID, "parent", "", "only the creations of this artifact's children")
	since := fs.String("since", "", "start after this log position (0: from the beginning; default: new events only)")
	wide := fs.Bool("wide", false, fmt.Sprintf("print each event's data whole (default: cut to %d characters)", treeDataWidth))
	return func(ctx context.Context, c *client.Client, _ []string) error {
		var from *uint64
		if *since != "" {
			n, err := strconv.ParseUint(*since, 10, 64)
			if err != nil {
				return usagef("--since must be a log position such as 0 or 42, not %q", *since)
			}
			from = &n
		}
		data := shortData
		if *wide {
			data = compactData
		}
		parents := parentFinder{g: g, known: map[string]string{}}
		for ev, err := range c.Events(ctx, f, from) {
			if err != nil {
				return err
			}
			if g.json {
				err = cl.printJSON(ev)
			} else {
				err = cl.printEvent(ev, parents.parent(ctx, ev), data)
			}
			if err != nil {
				return err
			}
		}
		return nil // interrupted
	}
}

// eventPayload is what arbor's events record of an artifact: all of it on
// creation, data and tags on an update, the id alone on a deletion.
type eventPayload struct {
	Parent *string         `json:"parent_id"`
	Data   json.RawMessage `json:"data"`
}

// printEvent writes ev as one line: position, type, hierarchy/level label,
// artifact, parent, and the data it records (none for a deletion).
func (cl *cli) printEvent(ev client.Event, parent string, data func(json.RawMessage) string) error {
	line := fmt.Sprintf("%d %s %s/%s %s parent %s", ev.Seq, ev.Type, ev.Hierarchy, ev.LevelLabel, ev.Subject, parent)
	var p eventPayload
	if json.Unmarshal(ev.Data, &p) == nil && len(p.Data) > 0 {
		line += " " + data(p.Data)
	}
	_, err := fmt.Fprintln(cl.stdout, line)
	return err
}

// parentFinder tells the parent of each event's artifact. A creation
// records it; for other events it is remembered from the creation, or
// read from arbor as of the event's position (a parent never changes).
type parentFinder struct {
	g     *globalFlags
	known map[string]string // artifact id -> parent id, "-" for a root
}

// parent returns the parent's id of ev's artifact, "-" for a root, or "?"
// when arbor no longer has the artifact (deleted) or cannot say.
func (f *parentFinder) parent(ctx context.Context, ev client.Event) string {
	if p, ok := f.known[ev.Subject]; ok {
		if ev.Type == "artifact.deleted" {
			delete(f.known, ev.Subject)
		}
		return p
	}
	var parent string
	var p eventPayload
	if ev.Type == "artifact.created" && json.Unmarshal(ev.Data, &p) == nil {
		parent = "-"
		if p.Parent != nil && *p.Parent != "" {
			parent = *p.Parent
		}
	} else {
		// Read from an instance that has applied the event.
		a, err := f.g.client(client.WithMinPosition(ev.Seq)).Get(ctx, ev.Subject)
		switch {
		case err != nil:
			return "?"
		case a.ParentID == "":
			parent = "-"
		default:
			parent = a.ParentID
		}
	}
	if ev.Type != "artifact.deleted" {
		if len(f.known) >= maxParents {
			clear(f.known)
		}
		f.known[ev.Subject] = parent
	}
	return parent
}
