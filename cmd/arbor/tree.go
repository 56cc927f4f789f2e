package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"arbor/client"
)

// treeCommand draws a subtree: arbor tree [flags] ID.
type treeCommand struct{ cli *cli }

// Run runs the command with args.
func (c treeCommand) Run(ctx context.Context, args []string) error {
	return c.cli.run(ctx, "tree", cliCommand{args: "[flags] ID", summary: "Draw the subtree under an artifact, with level labels; --wide prints each artifact's data whole.", run: (*cli).tree, nargs: 1}, args)
}

func (cl *cli) tree(fs *flag.FlagSet, g *globalFlags) func(context.Context, *client.Client, []string) error {
	depth := fs.Int("max-depth", -1, "levels below the root to show (negative: all)")
	wide := fs.Bool("wide", false, fmt.Sprintf("print each artifact's data whole (default: cut to %d characters)", treeDataWidth))
	asOf := fs.String("as-of", "", asOfUsage)
	return func(ctx context.Context, c *client.Client, args []string) error {
		n, err := c.Tree(ctx, args[0], *depth, client.AsOf(*asOf))
		if err != nil {
			return err
		}
		if g.json {
			return cl.printJSON(n)
		}
		data := shortData
		if *wide {
			data = compactData
		}
		var b strings.Builder
		drawTree(&b, n, data, "", "")
		_, err = io.WriteString(cl.stdout, b.String())
		return err
	}
}

// drawTree writes n as a line after first, its data as data renders it,
// then its children, each line after prefix and a branch.
func drawTree(b *strings.Builder, n client.Node, data func(json.RawMessage) string, first, prefix string) {
	fmt.Fprintf(b, "%s%s %s %s", first, n.LevelLabel, n.ID, data(n.Data))
	if !n.ChildrenLoaded {
		b.WriteString(" (children not loaded)")
	}
	b.WriteString("\n")
	for i, child := range n.Children {
		if i == len(n.Children)-1 {
			drawTree(b, child, data, prefix+"└── ", prefix+"    ")
		} else {
			drawTree(b, child, data, prefix+"├── ", prefix+"│   ")
		}
	}
}

// shortData is data as compact JSON, cut to treeDataWidth characters.
func shortData(data json.RawMessage) string {
	return shorten(compactData(data), treeDataWidth)
}

// compactData is data as compact JSON, whole; as it is when not JSON.
func compactData(data json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, data) != nil {
		return string(data)
	}
	return b.String()
}

// shorten cuts s to at most n characters, the last of them an ellipsis
// when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
