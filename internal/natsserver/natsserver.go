// Package natsserver runs the NATS server with JetStream that arbor embeds
// by default, configured so that it never exits the process on its own.
package natsserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure an embedded server.
type Options struct {
	// StoreDir holds JetStream's files. Required.
	StoreDir string
	// Listen is the host:port where NATS clients may connect; empty means
	// in-process connections only, or a free loopback port when Cluster is
	// set, since cluster members must be reachable by clients over TCP.
	Listen string
	// Name is the server's name, "arbor" when empty. JetStream requires
	// every member of a cluster to have a distinct one.
	Name string
	// Cluster, when not nil, makes the server join a JetStream cluster.
	Cluster *ClusterOptions
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Sync is how JetStream syncs its files to disk; the zero value is the
	// server's default, every two minutes.
	Sync Sync
	// MaxStore caps the bytes JetStream stores on disk; zero: the server's
	// default, three quarters of the disk space free at start.
	MaxStore int64
	// Users, when not empty, are the only clients that may connect, each
	// signing in with its nkey; in-process clients too.
	Users []*server.NkeyUser
}

// Sync is how often JetStream syncs its files to disk. Writes are
// acknowledged once they reach the operating system; an OS crash or power
// loss can lose what was acknowledged since the last sync.
type Sync struct {
	Always   bool          // after every write
	Interval time.Duration // zero: the server's default (two minutes)
}

// ParseSync reads "always" or an interval such as "10s".
func ParseSync(s string) (Sync, error) {
	if s == "always" {
		return Sync{Always: true}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return Sync{}, fmt.Errorf("sync %q: want always or an interval such as 10s", s)
	}
	return Sync{Interval: d}, nil
}

// String is s as ParseSync reads it; empty for the default.
func (s Sync) String() string {
	switch {
	case s.Always:
		return "always"
	case s.Interval > 0:
		return s.Interval.String()
	}
	return ""
}

// ClusterOptions configure how a server joins a cluster.
type ClusterOptions struct {
	// Name is the cluster's name, the same on every member. Required.
	Name string
	// Listen is the host:port where other members connect routes. Required;
	// port 0 picks a free port, which others then cannot be told up front.
	Listen string
	// Routes are the nats-route:// URLs of the members to connect to. They
	// may include this server's own, which it recognises and skips.
	Routes []string
}

// Start starts a server with JetStream and waits until it accepts
// connections. The caller must call Shutdown and WaitForShutdown.
func Start(opts Options) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("natsserver: StoreDir is required")
	}
	name := opts.Name
	if name == "" {
		name = "arbor"
	}
	listen := opts.Listen
	if listen == "" && opts.Cluster != nil {
		listen = "127.0.0.1:0"
	}
	sopts := &server.Options{
		ServerName: name,
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		// The server must not install its own signal handlers: on SIGTERM
		// it would exit the process before arbor drains.
		NoSigs:       true,
		DontListen:   listen == "",
		SyncAlways:   opts.Sync.Always,
		SyncInterval: opts.Sync.Interval,
		Nkeys:        opts.Users,
	}
	if opts.MaxStore > 0 {
		sopts.JetStreamMaxStore = opts.MaxStore
	}
	if sopts.SyncAlways && sopts.SyncInterval == 0 {
		sopts.SyncInterval = 2 * time.Minute // as the server's own "sync: always"
	}
	if listen != "" {
		var err error
		if sopts.Host, sopts.Port, err = hostPort(listen); err != nil {
			return nil, fmt.Errorf("natsserver: listen address %q: %w", listen, err)
		}
	}
	if c := opts.Cluster; c != nil {
		if c.Name == "" {
			return nil, errors.New("natsserver: Cluster.Name is required")
		}
		sopts.Cluster.Name = c.Name
		var err error
		if sopts.Cluster.Host, sopts.Cluster.Port, err = hostPort(c.Listen); err != nil {
			return nil, fmt.Errorf("natsserver: cluster listen address %q: %w", c.Listen, err)
		}
		for _, r := range c.Routes {
			// Parsed here rather than by server.RoutesFromStr, which
			// drops parse errors and leaves a nil URL behind.
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("natsserver: route %q: %w", r, err)
			}
			sopts.Routes = append(sopts.Routes, u)
		}
	}
	s, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	lg := &logger{log: opts.Logger}
	if lg.log == nil {
		lg.log = slog.New(slog.DiscardHandler)
	}
	s.SetLoggerV2(lg, false, false, false)
	go s.Start()
	// Wait for the server, but not once it has said it cannot start (a
	// port in use, say).
	for deadline := time.Now().Add(30 * time.Second); !s.ReadyForConnections(50 * time.Millisecond); {
		if lg.failed() || time.Now().After(deadline) {
			s.Shutdown()
			s.WaitForShutdown()
			return nil, fmt.Errorf("natsserver: not ready: %s", lg.fatal())
		}
	}
	if !s.JetStreamEnabled() {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("natsserver: JetStream did not start: %s", lg.fatal())
	}
	return s, nil
}

// hostPort splits a listen address, mapping port 0 to server.RANDOM_PORT:
// to the server, port 0 means 4222 for clients and no routes for a cluster.
func hostPort(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", port, err)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	return host, p, nil
}

// logger adapts the server's log to slog. Fatalf, which the server calls
// when JetStream cannot start, is recorded rather than exiting.
type logger struct {
	log *slog.Logger

	mu        sync.Mutex
	lastFatal string
}

func (l *logger) failed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastFatal != ""
}

func (l *logger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lastFatal == "" {
		return "no reason given"
	}
	return l.lastFatal
}

func (l *logger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *logger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *logger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *logger) Debugf(format string, v ...any)  {}
func (l *logger) Tracef(format string, v ...any)  {}
func (l *logger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.lastFatal = msg
	l.mu.Unlock()
	l.log.Error(msg)
}
