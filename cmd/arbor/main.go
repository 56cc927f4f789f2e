// Command arbor is a lineage store for ML and data artifacts. `arbor serve`
// runs the service.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `arbor: a lineage store for ML and data artifacts

Usage:
  arbor serve [flags]    run the service (arbor serve -h lists the flags)
  arbor bench [flags]    measure arbor against raw JetStream on this machine
  arbor create [flags]   create an artifact (--data, --file) and print its id
  arbor get ID           show an artifact
  arbor list [flags]     list artifacts: a page, or --all
  arbor tree ID          draw the subtree under an artifact, with level labels
  arbor download ID      save an artifact's content (-o FILE, --csv)
  arbor watch [flags]    print events as they are appended, until interrupted
  (the client commands take --url, default $ARBOR_URL or http://127.0.0.1:8000,
  and --json for scripts; arbor COMMAND -h lists a command's flags)
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
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "arbor:", err)
		os.Exit(2)
	}
}

// errUsage is a command line arbor cannot run; the usage is printed.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		cfg, err := parseServeFlags(args[1:], lookupEnv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, slog.New(slog.NewJSONHandler(stderr, nil)))
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "create", "get", "list", "tree", "download", "watch":
		return runClient(ctx, args[0], args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// serve runs arbor until ctx is done, then shuts it down gracefully.
func serve(ctx context.Context, cfg Config, logger *slog.Logger) error {
	m := &Main{Config: cfg, Logger: logger}
	if err := m.Open(ctx); err != nil {
		_ = m.Close()
		return err
	}
	logger.Info("arbor serving", "addr", m.HTTPAddr(), "nats", m.NATSURL(), "stream", m.log.Stream())
	select {
	case <-ctx.Done():
		logger.Info("arbor shutting down")
	case err := <-m.failed:
		logger.Error("arbor failed", "err", err)
		_ = m.Close()
		return err
	}
	return m.Close()
}
