package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"arbor/hierarchy"
	"arbor/internal/natsserver"
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
	// WriteTimeout bounds one write: its appends, retries and waits. It
	// stays below the server's two-minute duplicate window, on which "an
	// id is used once" rests.
	WriteTimeout time.Duration
	// ShutdownTimeout bounds a graceful shutdown: requests in flight over
	// HTTP and NATS, the last snapshot and the drain of NATS share it.
	ShutdownTimeout time.Duration
	// HTTP bounds: ReadHeaderTimeout for a request's headers, BodyTimeout
	// and ResponseTimeout for a pause in its body or its response, and
	// IdleTimeout for a kept-alive connection between requests.
	ReadHeaderTimeout, BodyTimeout, ResponseTimeout, IdleTimeout time.Duration
	// Sync is how often the embedded server syncs its files to disk.
	Sync natsserver.Sync
	// NATSKeys names a file of the public nkeys that may connect to the
	// embedded server, by role; empty: the seeds in the data directory's
	// credentials folder, made on first start.
	NATSKeys string
	// How arbor signs in to a NATS server it does not embed: a .creds file
	// or an nkey seed, or a user and password; and the TLS it trusts and
	// shows (a CA, and an optional client certificate).
	NATSCreds, NATSUser, NATSPassword  string
	NATSTLSCA, NATSTLSCert, NATSTLSKey string
	// APIKeysFile names the file of HTTP API keys; empty: no keys needed,
	// allowed only on a loopback address or with Insecure.
	APIKeysFile string
	Insecure    bool
	// TLSCert and TLSKey, when set, make the HTTP API HTTPS.
	TLSCert, TLSKey string
	// MaxStore caps what the embedded server stores, in bytes; zero: the
	// server's default. MinFreeDisk is the free space on the data
	// directory's disk below which writes that add data are refused.
	MaxStore, MinFreeDisk int64
	// BlobGrace is how old content no live artifact refers to must be
	// before it is deleted, and CollectEvery how often arbor looks for it;
	// CollectEvery 0: never.
	BlobGrace, CollectEvery time.Duration
	// CORSOrigins may read the live feed from a browser page.
	CORSOrigins []string
	// LogLevel is the least level logged: request lines are Info.
	LogLevel slog.Level
	// MaxFeeds caps the live feeds ($events) open at once.
	MaxFeeds int
	// SnapshotEvery is how many events apart the projection is saved to
	// the object store, and it is saved at shutdown too; start-up loads the
	// newest snapshot and replays only the events after it. 0: never
	// saved nor loaded, start-up replays the whole log.
	SnapshotEvery int
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

// syncFlag is the --sync flag.
type syncFlag struct{ s *natsserver.Sync }

func (f syncFlag) String() string {
	if f.s == nil {
		return ""
	}
	return f.s.String()
}

func (f syncFlag) Set(v string) error {
	s, err := natsserver.ParseSync(v)
	if err == nil {
		*f.s = s
	}
	return err
}

// parseServeFlags reads the serve flags from args. A flag not given takes
// its ARBOR_* variable from getenv, if set: flags win over the environment,
// and a variable whose flag is given is not even read.
func parseServeFlags(args []string, getenv func(string) (string, bool), stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("arbor serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := Config{
		Addr: "127.0.0.1:8000", DataDir: "./arbor-data", NATSListen: "127.0.0.1:4222",
		Replicas: 1, MaxBody: 64 << 20, MaxContent: 1 << 30, Wait: 10 * time.Second,
		SnapshotEvery: 100_000, WriteTimeout: 30 * time.Second, ShutdownTimeout: 15 * time.Second,
		ReadHeaderTimeout: 10 * time.Second, BodyTimeout: time.Minute, ResponseTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, MaxFeeds: 256, MinFreeDisk: 256 << 20,
		BlobGrace: time.Hour, CollectEvery: 10 * time.Minute,
	}
	var hs hierarchyFlag
	// env names each flag's variable.
	env := map[string]string{}
	add := func(name, variable string, define func(name string)) {
		define(name)
		env[name] = variable
	}
	add("addr", "ARBOR_ADDR", func(n string) { fs.StringVar(&cfg.Addr, n, cfg.Addr, "HTTP listen address (ARBOR_ADDR)") })
	add("data-dir", "ARBOR_DATA_DIR", func(n string) {
		fs.StringVar(&cfg.DataDir, n, cfg.DataDir, "data directory of the embedded NATS server (ARBOR_DATA_DIR)")
	})
	add("nats-listen", "ARBOR_NATS_LISTEN", func(n string) {
		fs.StringVar(&cfg.NATSListen, n, cfg.NATSListen,
			"where the embedded NATS server accepts clients; empty: in-process only (ARBOR_NATS_LISTEN)")
	})
	add("nats-url", "ARBOR_NATS_URL", func(n string) {
		fs.StringVar(&cfg.NATSURL, n, "", "use this NATS server or cluster instead of embedding one (ARBOR_NATS_URL)")
	})
	for _, d := range []struct {
		name, variable, usage string
		v                     *string
	}{
		{"nats-keys", "ARBOR_NATS_KEYS", "JSON file of the public nkeys allowed on the embedded server, by role; default: seeds made in <data-dir>/credentials", &cfg.NATSKeys},
		{"nats-creds", "ARBOR_NATS_CREDS", "with --nats-url: a .creds file or an nkey seed file to sign in with", &cfg.NATSCreds},
		{"nats-user", "ARBOR_NATS_USER", "with --nats-url: the user to sign in as", &cfg.NATSUser},
		{"nats-password", "ARBOR_NATS_PASSWORD", "with --nats-url: the user's password (better given in the environment)", &cfg.NATSPassword},
		{"nats-tls-ca", "ARBOR_NATS_TLS_CA", "with --nats-url: the CA certificates (PEM) to trust the server by", &cfg.NATSTLSCA},
		{"nats-tls-cert", "ARBOR_NATS_TLS_CERT", "with --nats-url: a client certificate (PEM) to show the server", &cfg.NATSTLSCert},
		{"nats-tls-key", "ARBOR_NATS_TLS_KEY", "the key of --nats-tls-cert", &cfg.NATSTLSKey},
		{"api-keys-file", "ARBOR_API_KEYS_FILE", "the HTTP API keys (arbor keys add makes it); without it the API is open, on a loopback address only", &cfg.APIKeysFile},
		{"tls-cert", "ARBOR_TLS_CERT", "serve HTTPS with this certificate (PEM)", &cfg.TLSCert},
		{"tls-key", "ARBOR_TLS_KEY", "the key of --tls-cert", &cfg.TLSKey},
	} {
		add(d.name, d.variable, func(n string) { fs.StringVar(d.v, n, *d.v, d.usage+" ("+d.variable+")") })
	}
	add("insecure", "ARBOR_INSECURE", func(n string) {
		fs.BoolVar(&cfg.Insecure, n, false, "serve the API without keys on a non-loopback address (ARBOR_INSECURE)")
	})
	add("replicas", "ARBOR_REPLICAS", func(n string) {
		fs.IntVar(&cfg.Replicas, n, cfg.Replicas, "replicas of the stream and buckets arbor creates (ARBOR_REPLICAS)")
	})
	add("max-body", "ARBOR_MAX_BODY", func(n string) {
		fs.Int64Var(&cfg.MaxBody, n, cfg.MaxBody, "largest JSON request body in bytes (ARBOR_MAX_BODY)")
	})
	add("max-content", "ARBOR_MAX_CONTENT", func(n string) {
		fs.Int64Var(&cfg.MaxContent, n, cfg.MaxContent, "largest uploaded content in bytes (ARBOR_MAX_CONTENT)")
	})
	add("wait", "ARBOR_WAIT", func(n string) {
		fs.DurationVar(&cfg.Wait, n, cfg.Wait, "how long a request may wait for the projection to catch up (ARBOR_WAIT)")
	})
	add("write-timeout", "ARBOR_WRITE_TIMEOUT", func(n string) {
		fs.DurationVar(&cfg.WriteTimeout, n, cfg.WriteTimeout, "the longest a write may take before it answers 503 (ARBOR_WRITE_TIMEOUT)")
	})
	add("shutdown-timeout", "ARBOR_SHUTDOWN_TIMEOUT", func(n string) {
		fs.DurationVar(&cfg.ShutdownTimeout, n, cfg.ShutdownTimeout,
			"how long a graceful shutdown waits for requests in flight (ARBOR_SHUTDOWN_TIMEOUT)")
	})
	for _, d := range []struct {
		name, variable, usage string
		v                     *time.Duration
	}{
		{"read-header-timeout", "ARBOR_READ_HEADER_TIMEOUT", "the longest a client may take to send a request's headers", &cfg.ReadHeaderTimeout},
		{"body-timeout", "ARBOR_BODY_TIMEOUT", "the longest a request's body may pause (an upload may take longer, if it moves)", &cfg.BodyTimeout},
		{"response-timeout", "ARBOR_RESPONSE_TIMEOUT", "the longest a client may leave a response unread (a download may take longer, if it moves)", &cfg.ResponseTimeout},
		{"idle-timeout", "ARBOR_IDLE_TIMEOUT", "how long a kept-alive connection may wait for its next request", &cfg.IdleTimeout},
	} {
		add(d.name, d.variable, func(n string) { fs.DurationVar(d.v, n, *d.v, d.usage+" ("+d.variable+")") })
	}
	add("sync", "ARBOR_SYNC", func(n string) {
		fs.Var(syncFlag{&cfg.Sync}, n, "how often the embedded server syncs to disk: always, or an interval; default 2m (ARBOR_SYNC)")
	})
	add("max-store", "ARBOR_MAX_STORE", func(n string) {
		fs.Int64Var(&cfg.MaxStore, n, 0, "bytes the embedded server may store; 0: three quarters of the disk free at start (ARBOR_MAX_STORE)")
	})
	add("min-free-disk", "ARBOR_MIN_FREE_DISK", func(n string) {
		fs.Int64Var(&cfg.MinFreeDisk, n, cfg.MinFreeDisk,
			"with the embedded server: free bytes on the data directory's disk below which writes are refused with 507 (ARBOR_MIN_FREE_DISK)")
	})
	add("blob-grace", "ARBOR_BLOB_GRACE", func(n string) {
		fs.DurationVar(&cfg.BlobGrace, n, cfg.BlobGrace,
			"how old stored content no live artifact refers to must be before it is deleted; at least 2m (ARBOR_BLOB_GRACE)")
	})
	add("collect-every", "ARBOR_COLLECT_EVERY", func(n string) {
		fs.DurationVar(&cfg.CollectEvery, n, cfg.CollectEvery,
			"how often to delete stored content no live artifact refers to; 0: never (ARBOR_COLLECT_EVERY)")
	})
	add("cors-origin", "ARBOR_CORS_ORIGIN", func(n string) {
		fs.Func(n, "an origin (https://dash.example) whose pages may read the live feed; repeatable, * for any (ARBOR_CORS_ORIGIN, comma-separated)",
			func(v string) error {
				for o := range strings.SplitSeq(v, ",") {
					if o = strings.TrimSpace(o); o != "" {
						cfg.CORSOrigins = append(cfg.CORSOrigins, o)
					}
				}
				return nil
			})
	})
	add("log-level", "ARBOR_LOG_LEVEL", func(n string) {
		fs.TextVar(&cfg.LogLevel, n, cfg.LogLevel, "the least level logged: debug, info (a line per request), warn or error (ARBOR_LOG_LEVEL)")
	})
	add("max-feeds", "ARBOR_MAX_FEEDS", func(n string) {
		fs.IntVar(&cfg.MaxFeeds, n, cfg.MaxFeeds, "the most live feeds ($events) open at once; more answer 503 (ARBOR_MAX_FEEDS)")
	})
	add("snapshot-every", "ARBOR_SNAPSHOT_EVERY", func(n string) {
		fs.IntVar(&cfg.SnapshotEvery, n, cfg.SnapshotEvery,
			"save the projection every N events and at shutdown, and start from the newest; 0: never, start-up replays the whole log (ARBOR_SNAPSHOT_EVERY)")
	})
	add("hierarchy", "ARBOR_HIERARCHY", func(n string) {
		fs.Var(&hs, n, "NAME=label0,label1,...; repeatable, the first is the default (ARBOR_HIERARCHY, ';'-separated)")
	})
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		v, ok := getenv(env[f.Name])
		if err != nil || given[f.Name] || !ok {
			return
		}
		if f.Name == "hierarchy" {
			for h := range strings.SplitSeq(v, ";") {
				if strings.TrimSpace(h) != "" && err == nil {
					err = hs.Set(h)
				}
			}
		} else {
			err = f.Value.Set(v)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", env[f.Name], err)
		}
	})
	if err != nil {
		return Config{}, err
	}
	cfg.Hierarchies = hs.list
	if _, err := hierarchy.NewSet(cfg.Hierarchies...); err != nil {
		return Config{}, err
	}
	switch {
	case cfg.Replicas < 1:
		return Config{}, errors.New("--replicas must be 1 or more")
	case cfg.MaxBody < 1024:
		return Config{}, errors.New("--max-body must be at least 1024 bytes")
	case cfg.MaxContent < 0:
		return Config{}, errors.New("--max-content must not be negative")
	case cfg.WriteTimeout <= 0 || cfg.WriteTimeout >= 2*time.Minute:
		return Config{}, errors.New("--write-timeout must be above 0 and below 2m, the server's duplicate window")
	case cfg.ShutdownTimeout <= 0:
		return Config{}, errors.New("--shutdown-timeout must be above 0")
	case cfg.ReadHeaderTimeout <= 0 || cfg.BodyTimeout <= 0 || cfg.ResponseTimeout <= 0 || cfg.IdleTimeout <= 0:
		return Config{}, errors.New("--read-header-timeout, --body-timeout, --response-timeout and --idle-timeout must be above 0")
	case cfg.MaxStore < 0 || cfg.MinFreeDisk < 0:
		return Config{}, errors.New("--max-store and --min-free-disk must not be negative")
	case cfg.BlobGrace < 2*time.Minute:
		return Config{}, errors.New("--blob-grace must be at least 2m: longer than any write takes to record the content it stored")
	case cfg.CollectEvery < 0:
		return Config{}, errors.New("--collect-every must not be negative")
	case cfg.MaxFeeds < 1:
		return Config{}, errors.New("--max-feeds must be 1 or more")
	case cfg.SnapshotEvery < 0:
		return Config{}, errors.New("--snapshot-every must not be negative")
	case cfg.NATSURL == "" && cfg.DataDir == "":
		return Config{}, errors.New("--data-dir is required with an embedded NATS server")
	case (cfg.TLSCert == "") != (cfg.TLSKey == ""):
		return Config{}, errors.New("--tls-cert and --tls-key go together")
	case (cfg.NATSTLSCert == "") != (cfg.NATSTLSKey == ""):
		return Config{}, errors.New("--nats-tls-cert and --nats-tls-key go together")
	case cfg.NATSURL == "" && (cfg.NATSCreds != "" || cfg.NATSUser != "" || cfg.NATSPassword != "" || cfg.NATSTLSCA != "" || cfg.NATSTLSCert != ""):
		return Config{}, errors.New("--nats-creds, --nats-user, --nats-password and --nats-tls-* are for a server given by --nats-url")
	case cfg.NATSURL != "" && cfg.NATSKeys != "":
		return Config{}, errors.New("--nats-keys is for the embedded server: with --nats-url, the server's own configuration says who may connect")
	case cfg.NATSCreds != "" && cfg.NATSUser != "":
		return Config{}, errors.New("--nats-creds and --nats-user: give one way to sign in")
	case cfg.APIKeysFile == "" && !cfg.Insecure && !isLoopback(cfg.Addr):
		return Config{}, fmt.Errorf("--addr %s is reachable from other machines and no --api-keys-file is given: "+
			"anyone could read and change every artifact. Make keys with arbor keys add, "+
			"or pass --insecure to serve without them", cfg.Addr)
	}
	return cfg, nil
}

// isLoopback reports whether addr listens on this machine only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func lookupEnv(name string) (string, bool) { return os.LookupEnv(name) }
