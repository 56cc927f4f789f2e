// Package natsserver runs the NATS server with JetStream that arbor embeds
// by default, configured so that it never exits the process on its own.
package natsserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
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
	// in-process connections only.
	Listen string
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
}

// Start starts a server with JetStream and waits until it accepts
// connections. The caller must call Shutdown and WaitForShutdown.
func Start(opts Options) (*server.Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("natsserver: StoreDir is required")
	}
	sopts := &server.Options{
		ServerName: "arbor",
		JetStream:  true,
		StoreDir:   opts.StoreDir,
		// The server must not install its own signal handlers: on SIGTERM
		// it would exit the process before arbor drains.
		NoSigs:     true,
		DontListen: opts.Listen == "",
	}
	if opts.Listen != "" {
		host, port, err := net.SplitHostPort(opts.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsserver: listen address %q: %w", opts.Listen, err)
		}
		sopts.Host = host
		if sopts.Port, err = strconv.Atoi(port); err != nil {
			return nil, fmt.Errorf("natsserver: listen port %q: %w", port, err)
		}
		if sopts.Port == 0 {
			sopts.Port = server.RANDOM_PORT
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
