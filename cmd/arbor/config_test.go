package main

import (
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"arbor/hierarchy"
	"arbor/internal/natsserver"
)

// fakeEnv is a fake environment for parseServeFlags.
func fakeEnv(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestParseServeFlags(t *testing.T) {
	// Every case is the defaults with the fields it sets changed, so that
	// fields added to Config later keep their defaults here.
	defaults, err := parseServeFlags(nil, fakeEnv(nil), io.Discard)
	if err != nil {
		t.Fatalf("parseServeFlags with nothing set: %v", err)
	}
	documented := Config{
		Addr: "127.0.0.1:8000", DataDir: "./arbor-data", NATSListen: "127.0.0.1:4222", Replicas: 1,
		Wait: 10 * time.Second, MaxBody: defaults.MaxBody,
	}
	got := Config{
		Addr: defaults.Addr, DataDir: defaults.DataDir, NATSListen: defaults.NATSListen, NATSURL: defaults.NATSURL,
		Replicas: defaults.Replicas, Hierarchies: defaults.Hierarchies, Wait: defaults.Wait, MaxBody: defaults.MaxBody,
	}
	if !reflect.DeepEqual(got, documented) {
		t.Errorf("defaults = %+v, want %+v", defaults, documented)
	}
	if defaults.MaxBody < 1024 {
		t.Errorf("default MaxBody = %d, below the allowed minimum", defaults.MaxBody)
	}
	with := func(f func(*Config)) Config {
		c := defaults
		f(&c)
		return c
	}
	allEnv := map[string]string{
		"ARBOR_ADDR":        "0.0.0.0:9000",
		"ARBOR_DATA_DIR":    "/var/lib/arbor",
		"ARBOR_NATS_LISTEN": "0.0.0.0:4333",
		"ARBOR_NATS_URL":    "nats://a:4222,nats://b:4222",
		"ARBOR_REPLICAS":    "3",
		"ARBOR_MAX_BODY":    "8192",
		"ARBOR_HIERARCHY":   "ml_pipeline=experiment,model,predictions;documents",
		"ARBOR_INSECURE":    "true",
	}
	fromEnv := func(c *Config) {
		c.Addr, c.DataDir, c.NATSListen, c.NATSURL = "0.0.0.0:9000", "/var/lib/arbor", "0.0.0.0:4333", "nats://a:4222,nats://b:4222"
		c.Replicas, c.MaxBody, c.Insecure = 3, 8192, true
		c.Hierarchies = []hierarchy.Hierarchy{mlPipeline, {Name: "documents"}}
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want Config
	}{
		{
			name: "flags",
			args: []string{
				"--addr", "127.0.0.1:0", "--data-dir", "/tmp/a", "--nats-listen", "127.0.0.1:0",
				"--nats-url", "nats://x:4222", "--replicas", "3", "--max-body", "2048", "--wait", "3s",
				"--hierarchy", "ml_pipeline=experiment,model,predictions",
			},
			want: with(func(c *Config) {
				c.Addr, c.DataDir, c.NATSListen, c.NATSURL = "127.0.0.1:0", "/tmp/a", "127.0.0.1:0", "nats://x:4222"
				c.Replicas, c.MaxBody, c.Wait = 3, 2048, 3*time.Second
				c.Hierarchies = []hierarchy.Hierarchy{mlPipeline}
			}),
		},
		{name: "env", env: allEnv, want: with(fromEnv)},
		{
			name: "flags win over env",
			env:  allEnv,
			args: []string{
				"--addr", "127.0.0.1:1", "--data-dir", "d", "--nats-listen", "127.0.0.1:2",
				"--nats-url", "nats://c:4222", "--replicas", "5", "--max-body", "4096",
				"--hierarchy", "docs=draft,final",
			},
			want: with(func(c *Config) {
				c.Addr, c.DataDir, c.NATSListen, c.NATSURL = "127.0.0.1:1", "d", "127.0.0.1:2", "nats://c:4222"
				c.Replicas, c.MaxBody, c.Insecure = 5, 4096, true // ARBOR_INSECURE
				c.Hierarchies = []hierarchy.Hierarchy{{Name: "docs", Labels: []string{"draft", "final"}}}
			}),
		},
		{
			name: "an empty flag wins over env too",
			env:  allEnv,
			args: []string{"--nats-listen", "", "--nats-url="},
			want: with(func(c *Config) {
				fromEnv(c)
				c.NATSListen, c.NATSURL = "", ""
			}),
		},
		{
			name: "repeated hierarchy, the first is the default",
			args: []string{"--hierarchy", "documents", "--hierarchy", "ml_pipeline=experiment, model ,predictions", "--hierarchy", "x=a"},
			want: with(func(c *Config) {
				c.Hierarchies = []hierarchy.Hierarchy{{Name: "documents"}, mlPipeline, {Name: "x", Labels: []string{"a"}}}
			}),
		},
		{
			name: "ARBOR_HIERARCHY with blanks and a trailing separator",
			env:  map[string]string{"ARBOR_HIERARCHY": " documents ; ml_pipeline=experiment,model,predictions;;"},
			want: with(func(c *Config) {
				c.Hierarchies = []hierarchy.Hierarchy{{Name: "documents"}, mlPipeline}
			}),
		},
		{
			name: "empty ARBOR_NATS_LISTEN means in-process only",
			env:  map[string]string{"ARBOR_NATS_LISTEN": ""},
			want: with(func(c *Config) { c.NATSListen = "" }),
		},
		{
			name: "pages of other origins read the feed",
			args: []string{"--cors-origin", "https://a.example", "--cors-origin", "https://b.example"},
			want: with(func(c *Config) { c.CORSOrigins = []string{"https://a.example", "https://b.example"} }),
		},
		{
			name: "quieter logs",
			env:  map[string]string{"ARBOR_LOG_LEVEL": "warn"},
			want: with(func(c *Config) { c.LogLevel = slog.LevelWarn }),
		},
		{
			name: "another machine's clients with keys",
			args: []string{"--addr", ":8000", "--api-keys-file", "keys.json", "--tls-cert", "c.pem", "--tls-key", "k.pem"},
			want: with(func(c *Config) { c.Addr, c.APIKeysFile, c.TLSCert, c.TLSKey = ":8000", "keys.json", "c.pem", "k.pem" }),
		},
		{
			name: "another machine's clients without keys, on purpose",
			args: []string{"--addr", "0.0.0.0:8000", "--insecure"},
			want: with(func(c *Config) { c.Addr, c.Insecure = "0.0.0.0:8000", true }),
		},
		{
			name: "signing in to an external NATS",
			args: []string{"--nats-url", "tls://n:4222", "--nats-creds", "a.creds", "--nats-tls-ca", "ca.pem", "--nats-tls-cert", "c.pem", "--nats-tls-key", "k.pem"},
			env:  map[string]string{"ARBOR_NATS_PASSWORD": "unused without a user"},
			want: with(func(c *Config) {
				c.NATSURL, c.NATSCreds, c.NATSTLSCA, c.NATSTLSCert, c.NATSTLSKey = "tls://n:4222", "a.creds", "ca.pem", "c.pem", "k.pem"
				c.NATSPassword = "unused without a user"
			}),
		},
		{
			name: "an empty data dir is fine with an external NATS",
			args: []string{"--data-dir", "", "--nats-url", "nats://x:4222"},
			want: with(func(c *Config) { c.DataDir, c.NATSURL = "", "nats://x:4222" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServeFlags(tt.args, fakeEnv(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("parseServeFlags(%q) error: %v", tt.args, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("parseServeFlags(%q)\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
		})
	}
}

func TestParseServeFlagsRejects(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{name: "a dot in a label", args: []string{"--hierarchy", "ml=a.b"}, want: `"a.b"`},
		{name: "a blank in a label", args: []string{"--hierarchy", "ml=a b"}, want: `"a b"`},
		{name: "a wildcard label", args: []string{"--hierarchy", "ml=a,*"}, want: `"*"`},
		{name: "an empty label", args: []string{"--hierarchy", "ml=a,,b"}, want: "label"},
		{name: "a label twice", args: []string{"--hierarchy", "ml=a,b,a"}, want: "twice"},
		{name: "a dot in a name", args: []string{"--hierarchy", "m.l=a"}, want: `"m.l"`},
		{name: "an empty name", args: []string{"--hierarchy", "=a"}, want: "hierarchy name"},
		{name: "env: a dot in a label", env: map[string]string{"ARBOR_HIERARCHY": "documents;ml=a.b"}, want: "ARBOR_HIERARCHY"},
		{name: "env: a blank in a label", env: map[string]string{"ARBOR_HIERARCHY": "ml=a b"}, want: "ARBOR_HIERARCHY"},
		{name: "replicas 0", args: []string{"--replicas", "0"}, want: "--replicas"},
		{name: "replicas -1", args: []string{"--replicas=-1"}, want: "--replicas"},
		{name: "env replicas 0", env: map[string]string{"ARBOR_REPLICAS": "0"}, want: "--replicas"},
		{name: "env replicas not a number", env: map[string]string{"ARBOR_REPLICAS": "three"}, want: "ARBOR_REPLICAS"},
		{name: "env max body not a number", env: map[string]string{"ARBOR_MAX_BODY": "1M"}, want: "ARBOR_MAX_BODY"},
		{name: "a tiny max body", args: []string{"--max-body", "10"}, want: "--max-body"},
		{name: "no data dir for the embedded server", args: []string{"--data-dir", ""}, want: "--data-dir"},
		{name: "an unknown flag", args: []string{"--bogus"}, want: "bogus"},
		{name: "a stray argument", args: []string{"--addr", ":1", "extra"}, want: "extra"},
		{name: "all interfaces without keys", args: []string{"--addr", ":8000"}, want: "--api-keys-file"},
		{name: "a public address without keys", args: []string{"--addr", "192.0.2.1:8000"}, want: "--insecure"},
		{name: "env: all interfaces without keys", env: map[string]string{"ARBOR_ADDR": "0.0.0.0:80"}, want: "--api-keys-file"},
		{name: "a certificate without its key", args: []string{"--tls-cert", "c.pem"}, want: "--tls-key"},
		{name: "a NATS client certificate without its key", args: []string{"--nats-url", "n", "--nats-tls-cert", "c.pem"}, want: "--nats-tls-key"},
		{name: "NATS credentials for the embedded server", args: []string{"--nats-creds", "a.creds"}, want: "--nats-url"},
		{name: "NATS keys with an external server", args: []string{"--nats-url", "n", "--nats-keys", "k.json"}, want: "--nats-keys"},
		{name: "an unknown log level", args: []string{"--log-level", "loud"}, want: "log-level"},
		{name: "a blob grace shorter than a write", args: []string{"--blob-grace", "1m"}, want: "--blob-grace"},
		{name: "a negative collection interval", args: []string{"--collect-every=-1s"}, want: "--collect-every"},
		{name: "two ways to sign in", args: []string{"--nats-url", "n", "--nats-creds", "a", "--nats-user", "u"}, want: "one way"},
		{name: "a bad duration", args: []string{"--wait", "soon"}, want: "wait"},
		{name: "a bad sync", args: []string{"--sync", "often"}, want: "always or an interval"},
		{name: "env: a bad sync", env: map[string]string{"ARBOR_SYNC": "0s"}, want: "ARBOR_SYNC"},
		{name: "a write timeout past the duplicate window", args: []string{"--write-timeout", "2m"}, want: "duplicate window"},
		{name: "no shutdown time", args: []string{"--shutdown-timeout", "0s"}, want: "--shutdown-timeout"},
		{name: "negative snapshots", args: []string{"--snapshot-every", "-1"}, want: "--snapshot-every"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			got, err := parseServeFlags(tt.args, fakeEnv(tt.env), &stderr)
			if err == nil {
				t.Fatalf("parseServeFlags(%q) = %+v, want an error", tt.args, got)
			}
			if msg := err.Error() + stderr.String(); !strings.Contains(msg, tt.want) {
				t.Fatalf("parseServeFlags(%q) error %q (stderr %q), want it to mention %q", tt.args, err, stderr.String(), tt.want)
			}
		})
	}
}

func TestFlagsWinOverMalformedEnv(t *testing.T) {
	env := fakeEnv(map[string]string{"ARBOR_REPLICAS": "three", "ARBOR_MAX_BODY": "big", "ARBOR_WAIT": "soon", "ARBOR_HIERARCHY": "a.b"})
	cfg, err := parseServeFlags([]string{"--replicas", "2", "--max-body", "4096", "--wait", "2s", "--hierarchy", "ml=x,y"}, env, io.Discard)
	if err != nil {
		t.Fatalf("parseServeFlags: %v", err)
	}
	if cfg.Replicas != 2 || cfg.MaxBody != 4096 || cfg.Wait != 2*time.Second || len(cfg.Hierarchies) != 1 || cfg.Hierarchies[0].Name != "ml" {
		t.Fatalf("config = %+v, want the flags' values", cfg)
	}
	cfg, err = parseServeFlags(nil, fakeEnv(map[string]string{"ARBOR_WAIT": "3s", "ARBOR_MAX_CONTENT": "1000"}), io.Discard)
	if err != nil || cfg.Wait != 3*time.Second || cfg.MaxContent != 1000 {
		t.Fatalf("ARBOR_WAIT, ARBOR_MAX_CONTENT: %+v, %v", cfg, err)
	}
	if _, err := parseServeFlags([]string{"--hierarchy", "a", "--hierarchy", "a=x"}, fakeEnv(nil), io.Discard); err == nil {
		t.Fatal("a hierarchy given twice was accepted")
	}
}

// --sync reaches the embedded server: always, an interval, or the default.
func TestSyncFlag(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		always   bool
		interval time.Duration
	}{
		{nil, false, 2 * time.Minute},
		{[]string{"--sync", "always"}, true, 2 * time.Minute},
		{[]string{"--sync", "10s"}, false, 10 * time.Second},
	} {
		cfg, err := parseServeFlags(tc.args, fakeEnv(nil), io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		s, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), Sync: cfg.Sync})
		if err != nil {
			t.Fatal(err)
		}
		js := s.JetStreamConfig()
		s.Shutdown()
		s.WaitForShutdown()
		if js.SyncAlways != tc.always || js.SyncInterval != tc.interval {
			t.Errorf("%q: server syncs always %v every %s, want %v %s", tc.args, js.SyncAlways, js.SyncInterval, tc.always, tc.interval)
		}
	}
}
