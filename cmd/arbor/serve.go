package main

import (
	"context"
	"io"
	"log/slog"
)

// serveCommand runs arbor: arbor serve [flags].
type serveCommand struct {
	stderr io.Writer
	getenv func(string) (string, bool)
}

// Run starts arbor with the flags and environment, serves until ctx is
// done, then shuts it down gracefully.
func (c *serveCommand) Run(ctx context.Context, args []string) error {
	cfg, err := parseServeFlags(args, c.getenv, c.stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(c.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	if n, err := raiseFileLimit(); err != nil {
		logger.Warn("open files: the limit could not be raised", "err", err)
	} else if n > 0 {
		logger.Info("open files", "limit", n)
	}
	m := &Main{Config: cfg, Logger: logger}
	if err := m.Open(ctx); err != nil {
		_ = m.Close()
		return err
	}
	logger.Info("arbor serving", "url", m.BaseURL(), "nats", m.NATSURL(), "stream", m.log.Stream())
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
