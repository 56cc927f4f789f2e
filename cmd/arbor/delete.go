package main

import (
	"context"
	"flag"
	"fmt"

	"arbor/client"
)

// deleteCommand deletes an artifact: arbor delete [flags] ID.
type deleteCommand struct{ cli *cli }

// Run runs the command with args.
func (c deleteCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "delete", cliCommand{args: "[flags] ID", summary: "Delete an artifact. One with live children cannot be deleted (409): delete\n" +
		"them first. Lineage is kept in the log; the artifact reads as not found.", run: (*cli).delete, nargs: 1}, args)
}

func (cl *cli) delete(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	ifMatch := fs.Int("if-match", 0, "delete only if the artifact is at this version (412 otherwise)")
	key := fs.String("idempotency-key", "", idempotencyKeyUsage)
	return func(ctx context.Context, c *client.Client, args []string) error {
		if *ifMatch < 0 {
			return usagef("--if-match must be a version, 1 or more")
		}
		opts := []client.WriteOption{client.IdempotencyKey(*key)}
		if *ifMatch > 0 {
			opts = append(opts, client.IfMatch(*ifMatch))
		}
		if err := c.Delete(ctx, args[0], opts...); err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(map[string]any{"id": args[0], "deleted": true})
		}
		_, err := fmt.Fprintf(cl.stdout, "deleted %s\n", args[0])
		return err
	}
}
