package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"arbor/client"
)

// updateCommand replaces an artifact's data and tags: arbor update [flags] ID.
type updateCommand struct{ cli *cli }

// Run runs the command with args.
func (c updateCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "update", cliCommand{args: "[flags] ID", summary: "Replace an artifact's data (--data) and print its new version. Its tags stay\n" +
		"unless --tags replaces them; its parent and its attached content stay.", run: (*cli).update, nargs: 1}, args)
}

// updateTries is how often update reads and writes an artifact whose
// version changed in between, when the command line gave no --if-match.
const updateTries = 3

func (cl *cli) update(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	data := fs.String("data", "", "the artifact's new data: a JSON object, @FILE to read it from FILE, or - for standard input (required)")
	tags := fs.String("tags", "", "comma-separated tags replacing the artifact's (\"\" removes them; default: they stay)")
	ifMatch := fs.Int("if-match", 0, "update only if the artifact is at this version (412 otherwise)")
	key := fs.String("idempotency-key", "", idempotencyKeyUsage+";\nit needs --tags or --if-match")
	return func(ctx context.Context, c *client.Client, args []string) error {
		if !flagSet(fs, "data") {
			return usagef("arbor update needs --data")
		}
		if *ifMatch < 0 {
			return usagef("--if-match must be a version, 1 or more")
		}
		if *key != "" && !flagSet(fs, "tags") && *ifMatch == 0 {
			// Without them the request depends on a read: run again after
			// a success, it would read the new version and send another
			// request, which the key refuses (422).
			return usagef("--idempotency-key needs --tags or --if-match: without them update reads the artifact's\n" +
				"version and tags first, and a retry after a success would send another request")
		}
		raw, err := cl.readData(*data)
		if err != nil {
			return err
		}
		req := client.UpdateRequest{Data: raw}
		var a client.Artifact
		if flagSet(fs, "tags") {
			req.Tags = splitTags(*tags)
			opts := []client.WriteOption{client.IdempotencyKey(*key)}
			if *ifMatch > 0 {
				opts = append(opts, client.IfMatch(*ifMatch))
			}
			a, err = c.Update(ctx, args[0], req, opts...)
		} else {
			a, err = updateKeepingTags(ctx, c, args[0], req, *ifMatch, client.IdempotencyKey(*key))
		}
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(a)
		}
		_, err = fmt.Fprintf(cl.stdout, "%s version %d\n", a.ID, a.Version)
		return err
	}
}

// updateKeepingTags updates the artifact id with req and the tags it has:
// an update replaces the tags, so they are read first, and the update
// applies only to the version read (or to ifMatch, when not zero). A
// version changed in between by another writer is read again, a few
// times, unless ifMatch asked for one version. opts qualify the update.
func updateKeepingTags(ctx context.Context, c *client.Client, id string, req client.UpdateRequest, ifMatch int, opts ...client.WriteOption) (client.Artifact, error) {
	for try := 1; ; try++ {
		cur, err := c.Get(ctx, id)
		if err != nil {
			return client.Artifact{}, err
		}
		version := cur.Version
		if ifMatch > 0 {
			version = ifMatch
		}
		req.Tags = cur.Tags
		a, err := c.Update(ctx, id, req, append(opts, client.IfMatch(version))...)
		if ifMatch > 0 || try == updateTries || !client.IsPreconditionFailed(err) {
			return a, err
		}
	}
}

// splitTags splits a comma-separated list of tags, leaving out empty
// ones: "" is no tags.
func splitTags(s string) []string {
	tags := []string{}
	for t := range strings.SplitSeq(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tags = append(tags, t)
		}
	}
	return tags
}
