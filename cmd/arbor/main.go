// Command arbor is a lineage store for ML and data artifacts. `arbor serve`
// runs the service.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `arbor: a lineage store for ML and data artifacts

Usage:
  arbor serve [flags]          run the service (arbor serve -h lists the flags)
  arbor bench [flags]          measure arbor against raw JetStream on this machine
  arbor create [flags]         create an artifact (--data, --parent, --file) and print its id
  arbor get ID                 show an artifact, its data in full
  arbor expand ID              show an artifact with its level label
  arbor ancestors ID           print an artifact's ancestors, its root first
  arbor history ID             list an artifact's versions (arbor get ID --version N shows one)
  arbor metadata ID            print an artifact's data.metadata
  arbor update ID --data JSON  replace an artifact's data (--tags a,b, --if-match N)
  arbor attach ID FILE         upload FILE as an artifact's content (--content-type T)
  arbor delete ID              delete an artifact without children (--if-match N)
  arbor list [flags]           list artifacts with their level labels: a page, or --all
  arbor tree ID                draw the subtree under an artifact (--max-depth N, --wide)
  arbor download ID            save an artifact's content (-o FILE, --csv)
  arbor watch [flags]          print events, their parents and data, until interrupted
  arbor stats                  count the live artifacts per hierarchy and level label
  arbor version                print arbor's version, and the server's
  arbor keys add|list          make an HTTP API key, or list the keys of a keys file
  arbor completion bash|zsh    print a shell completion script
  (the client commands take --url, default $ARBOR_URL or http://127.0.0.1:8000,
  --api-key, default $ARBOR_API_KEY, and --json for scripts; uploads and downloads
  draw a progress bar when stderr is a terminal; arbor COMMAND -h lists a
  command's flags)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var exit *exitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode()) // the command has said why
	default:
		fmt.Fprintln(os.Stderr, "arbor:", err)
		os.Exit(2)
	}
}

// commands are arbor's subcommands by name, writing to stdout and stderr.
func commands(stdout, stderr io.Writer) map[string]Command {
	cl := newCLI(stdout, stderr)
	return map[string]Command{
		"serve":      &serveCommand{stderr: stderr, getenv: lookupEnv},
		"bench":      &benchCommand{stdout: stdout, stderr: stderr},
		"create":     createCommand{cl},
		"get":        getCommand{cl},
		"expand":     expandCommand{cl},
		"ancestors":  ancestorsCommand{cl},
		"history":    historyCommand{cl},
		"metadata":   metadataCommand{cl},
		"update":     updateCommand{cl},
		"attach":     attachCommand{cl},
		"delete":     deleteCommand{cl},
		"list":       listCommand{cl},
		"tree":       treeCommand{cl},
		"download":   downloadCommand{cl},
		"watch":      watchCommand{cl},
		"stats":      statsCommand{cl},
		"version":    versionCommand{cl},
		"keys":       &keysCommand{stdout: stdout, stderr: stderr},
		"completion": &completionCommand{stdout: stdout, stderr: stderr},
	}
}

// run runs the command args names.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	if cmd, ok := commands(stdout, stderr)[args[0]]; ok {
		return cmd.Run(ctx, args[1:])
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
