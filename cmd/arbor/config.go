package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"arbor/hierarchy"
)

// Config is everything `arbor serve` is started with.
type Config struct {
	Addr        string
	DataDir     string
	NATSListen  string
	NATSURL     string
	Replicas    int
	Hierarchies []hierarchy.Hierarchy
	MaxBody     int64
	MaxContent  int64
	// Wait bounds how long a request waits for the projection.
	Wait time.Duration
}

// hierarchyFlag collects repeated --hierarchy flags.
type hierarchyFlag struct {
	list []hierarchy.Hierarchy
}

func (f *hierarchyFlag) String() string {
	var parts []string
	for _, h := range f.list {
		parts = append(parts, h.Name+"="+strings.Join(h.Labels, ","))
	}
	return strings.Join(parts, ";")
}

func (f *hierarchyFlag) Set(s string) error {
	h, err := hierarchy.Parse(s)
	if err != nil {
		return err
	}
	f.list = append(f.list, h)
	return nil
}

// parseServeFlags reads the serve flags from args, with ARBOR_* variables
// from getenv as defaults: flags win over the environment.
func parseServeFlags(args []string, getenv func(string) (string, bool), stderr io.Writer) (Config, error) {
	env := func(name, def string) string {
		if v, ok := getenv("ARBOR_" + name); ok {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("arbor serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg Config
	fs.StringVar(&cfg.Addr, "addr", env("ADDR", "127.0.0.1:8000"), "HTTP listen address (ARBOR_ADDR)")
	fs.StringVar(&cfg.DataDir, "data-dir", env("DATA_DIR", "./arbor-data"), "data directory of the embedded NATS server (ARBOR_DATA_DIR)")
	fs.StringVar(&cfg.NATSListen, "nats-listen", env("NATS_LISTEN", "127.0.0.1:4222"),
		"where the embedded NATS server accepts clients; empty: in-process only (ARBOR_NATS_LISTEN)")
	fs.StringVar(&cfg.NATSURL, "nats-url", env("NATS_URL", ""), "use this NATS server or cluster instead of embedding one (ARBOR_NATS_URL)")
	replicas, err := strconv.Atoi(env("REPLICAS", "1"))
	if err != nil {
		return Config{}, fmt.Errorf("ARBOR_REPLICAS: %w", err)
	}
	fs.IntVar(&cfg.Replicas, "replicas", replicas, "replicas of the stream and buckets arbor creates (ARBOR_REPLICAS)")
	maxBody, err := strconv.ParseInt(env("MAX_BODY", strconv.Itoa(64<<20)), 10, 64)
	if err != nil {
		return Config{}, fmt.Errorf("ARBOR_MAX_BODY: %w", err)
	}
	fs.Int64Var(&cfg.MaxBody, "max-body", maxBody, "largest JSON request body in bytes (ARBOR_MAX_BODY)")
	maxContent, err := strconv.ParseInt(env("MAX_CONTENT", strconv.Itoa(1<<30)), 10, 64)
	if err != nil {
		return Config{}, fmt.Errorf("ARBOR_MAX_CONTENT: %w", err)
	}
	fs.Int64Var(&cfg.MaxContent, "max-content", maxContent, "largest uploaded content in bytes (ARBOR_MAX_CONTENT)")
	fs.DurationVar(&cfg.Wait, "wait", 10*time.Second, "how long a request may wait for the projection to catch up")
	var hs hierarchyFlag
	fs.Var(&hs, "hierarchy", "NAME=label0,label1,...; repeatable, the first is the default (ARBOR_HIERARCHY, ';'-separated)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if len(hs.list) == 0 {
		for s := range strings.SplitSeq(env("HIERARCHY", ""), ";") {
			if strings.TrimSpace(s) == "" {
				continue
			}
			if err := hs.Set(s); err != nil {
				return Config{}, fmt.Errorf("ARBOR_HIERARCHY: %w", err)
			}
		}
	}
	cfg.Hierarchies = hs.list
	switch {
	case cfg.Replicas < 1:
		return Config{}, errors.New("--replicas must be 1 or more")
	case cfg.MaxBody < 1024:
		return Config{}, errors.New("--max-body must be at least 1024 bytes")
	case cfg.MaxContent < 0:
		return Config{}, errors.New("--max-content must not be negative")
	case cfg.NATSURL == "" && cfg.DataDir == "":
		return Config{}, errors.New("--data-dir is required with an embedded NATS server")
	}
	return cfg, nil
}

func lookupEnv(name string) (string, bool) { return os.LookupEnv(name) }
