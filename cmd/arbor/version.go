package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"arbor/client"
)

// versionTimeout bounds how long version waits for the server's answer.
const versionTimeout = 5 * time.Second

// versionCommand prints arbor's version, and the server's: arbor version.
type versionCommand struct{ cli *cli }

// Run runs the command with args.
func (c versionCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "version", cliCommand{args: "[flags]", summary: "Print this arbor's version and, when the arbor at --url answers, the version\n" +
		"its /health reports.", run: (*cli).version}, args)
}

func (cl *cli) version(_ *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	return func(ctx context.Context, c *client.Client, _ []string) error {
		ctx, cancel := context.WithTimeout(ctx, versionTimeout)
		defer cancel()
		// A report of an unhealthy arbor (503) still says its version;
		// no report at all leaves the server out.
		h, err := c.Health(ctx)
		reached := err == nil || h.Status != ""
		if g.json {
			out := map[string]any{"version": version}
			if reached {
				out["server"] = map[string]string{"url": g.base, "version": h.Version}
			}
			return cl.printJSON(out)
		}
		line := "arbor " + version
		switch {
		case !reached:
		case h.Version == "":
			line += fmt.Sprintf(" (server at %s, version not reported)", g.base)
		default:
			line += fmt.Sprintf(" (server %s at %s)", h.Version, g.base)
		}
		_, err = fmt.Fprintln(cl.stdout, line)
		return err
	}
}
