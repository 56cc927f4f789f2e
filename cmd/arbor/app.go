package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/oklog/ulid/v2"

	"arbor/blobstore"
	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/httpapi"
	"arbor/internal/apikey"
	"arbor/internal/lockfile"
	"arbor/internal/natsauth"
	"arbor/internal/natsserver"
	"arbor/kvview"
	"arbor/metrics"
	"arbor/natsapi"
	"arbor/projection"
	"arbor/query"
	"arbor/snapshot"
	"arbor/web"
)

// version is arbor's version, as the NATS service, /health and arbor
// version report it; make build stamps it (-ldflags "-X main.version=...").
var version = "0.4.0-dev"

// eventHeadroom is what an event's headers and envelope take beside its
// data, kept free below the server's maximum message size.
const eventHeadroom = 8 << 10

// Main is one running arbor: NATS (embedded or not), the log, the
// projection and its runners, and the HTTP server. Open starts it; Close
// undoes Open in reverse order.
type Main struct {
	Config Config
	Logger *slog.Logger

	lock     *lockfile.Lock
	ns       *server.Server
	own      nkeys.KeyPair // arbor's own key on the embedded server
	nc       *nats.Conn
	feedConn *nats.Conn // the live feed's own connection
	log      *events.Log
	proj     *projection.Projection
	commands *command.Handler
	kv       *kvview.View
	blobs    *blobstore.Store
	snaps    *snapshot.Store
	saved    atomic.Uint64 // the position of the last snapshot saved or loaded
	nats     *natsapi.Service
	api      *httpapi.Server
	listener net.Listener
	http     *http.Server
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	failed   chan error

	// freeDisk reports the free space of a directory's disk; nil: statfs.
	freeDisk func(dir string) (uint64, error)
	diskMu   sync.Mutex
	diskAt   time.Time // when diskErr was found
	diskErr  error     // the disk guard's last finding
}

// Open starts everything and returns once the HTTP server listens. The
// projection catches up in the background; until it has, /health says so
// and requests wait for it.
func (m *Main) Open(ctx context.Context) error {
	m.failed = make(chan error, 3)
	hs, err := hierarchy.NewSet(m.Config.Hierarchies...)
	if err != nil {
		return err
	}
	var local *snapshot.Local
	if m.Config.SnapshotEvery > 0 && m.Config.NATSURL == "" {
		// Read the local copy of the newest snapshot while NATS starts.
		// What it decodes is all live: collecting garbage meanwhile only
		// marks it again and again, so the collector waits for more.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
		local = snapshot.Prefetch(m.snapshotDir())
	}
	if err := m.openNATS(); err != nil {
		return err
	}
	js, err := jetstream.New(m.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	m.log, err = events.OpenLog(ctx, js, events.Config{Replicas: m.Config.Replicas})
	if err != nil {
		return err
	}
	if m.ns != nil {
		m.log.Guard = m.diskRoom
	}
	blobs, err := blobstore.Open(ctx, js, "ARTIFACTS_CONTENT", m.Config.Replicas)
	if err != nil {
		return err
	}
	m.blobs = blobs
	if err := m.openProjection(ctx, js, local); err != nil {
		return err
	}
	m.kv = &kvview.View{JS: js, Log: m.log, Projection: m.proj, Replicas: m.Config.Replicas, Logger: m.Logger.WithGroup("kv_view")}
	if _, _, err := m.kv.Open(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	runner := &projection.Runner{Log: m.log, Projection: m.proj, Logger: m.Logger.WithGroup("projection")}
	m.goRun(runCtx, "projection", runner.Run)
	m.goRun(runCtx, "kv view", m.kv.Run)
	if m.snaps != nil {
		m.goRun(runCtx, "snapshots", m.saveSnapshots)
	}
	if m.Config.CollectEvery > 0 {
		m.goRun(runCtx, "blob collector", m.collectEvery)
	}

	met := metrics.New()
	m.commands = &command.Handler{
		Log: met.Appender(m.log), Projection: m.proj, Hierarchies: hs,
		NewID: ulid.Make, Now: time.Now,
		MaxData: int(m.nc.MaxPayload()) - eventHeadroom,
		Blobs:   blobs,
		Timeout: m.writeTimeout(),
	}
	feedLog, err := m.openFeedLog(ctx)
	if err != nil {
		return err
	}
	api := &httpapi.Server{
		Commands:    m.commands,
		Queries:     &query.Service{Projection: m.proj, Hierarchies: hs, Blobs: blobs, Log: m.log},
		Projection:  m.proj,
		Blobs:       blobs,
		Events:      feedLog,
		MaxFeeds:    cmp.Or(m.Config.MaxFeeds, 256),
		Version:     version,
		CORSOrigins: m.Config.CORSOrigins,
		Checks:      m.checks(),
		SnapshotPosition: func() (uint64, bool) {
			return m.saved.Load(), m.snaps != nil
		},
		MaxBody: m.Config.MaxBody,
		// A Config made in code (tests) gets the flags' defaults.
		BodyTimeout:     cmp.Or(m.Config.BodyTimeout, time.Minute),
		ResponseTimeout: cmp.Or(m.Config.ResponseTimeout, time.Minute),
		MaxContent:      m.Config.MaxContent,
		Wait:            m.Config.Wait,
		Logger:          m.Logger.WithGroup("http"),
	}
	if m.Config.APIKeysFile != "" {
		if api.Keys, err = apikey.Load(m.Config.APIKeysFile); err != nil {
			return fmt.Errorf("--api-keys-file: %w", err)
		}
		m.Logger.Info("HTTP API keys loaded", "file", m.Config.APIKeysFile, "keys", api.Keys.Len())
	}
	api.Pages = append(api.Pages, httpapi.Page{Path: "/metrics", Handler: met.Handler()}) // behind a read key
	api.Pages = append(api.Pages, web.Pages()...)                                         // the lineage browser
	api.Pages = append(api.Pages, httpapi.DocsPages()...)                                 // /openapi.json and /docs
	api.Observe = met.ObserveHTTP
	met.Projection, met.Log, met.Hierarchies = m.proj, m.log, hs
	met.Feeds, met.Content, met.Version = api.Feeds, blobs, version
	m.api = api
	m.nats = &natsapi.Service{
		Commands: api.Commands, Queries: api.Queries, Projection: m.proj, Blobs: blobs,
		Wait: m.Config.Wait, Timeout: m.writeTimeout(), Version: version, Logger: m.Logger.WithGroup("nats_api"),
		Observe: met.ObserveNATS,
	}
	if err := m.nats.Start(m.nc); err != nil {
		return fmt.Errorf("nats service: %w", err)
	}
	m.listener, err = net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", m.Config.Addr, err)
	}
	m.http = &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: cmp.Or(m.Config.ReadHeaderTimeout, 10*time.Second),
		IdleTimeout:       cmp.Or(m.Config.IdleTimeout, 2*time.Minute),
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	m.http.RegisterOnShutdown(api.CloseStreams)
	if m.Config.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(m.Config.TLSCert, m.Config.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert, --tls-key: %w", err)
		}
		m.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		m.listener = tls.NewListener(m.listener, m.http.TLSConfig)
	}
	go func() {
		if err := m.http.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.failed <- fmt.Errorf("http: %w", err)
		}
	}()
	return nil
}

func (m *Main) openNATS() error {
	// No buffer of publishes while reconnecting: a write that fails must
	// never go out later, or a client told "nothing was written" and
	// retrying would write twice.
	opts := []nats.Option{nats.Name("arbor"), nats.MaxReconnects(-1), nats.ReconnectBufSize(-1)}
	if m.Config.NATSURL != "" {
		signIn, err := m.externalOptions()
		if err != nil {
			return err
		}
		nc, err := nats.Connect(m.Config.NATSURL, append(opts, signIn...)...)
		if err != nil {
			return fmt.Errorf("connect %s: %w", m.Config.NATSURL, err)
		}
		m.nc = nc
		return nil
	}
	lock, err := lockfile.Acquire(m.Config.DataDir)
	if err != nil {
		return err
	}
	m.lock = lock
	users, err := m.natsUsers()
	if err != nil {
		return err
	}
	m.ns, err = natsserver.Start(natsserver.Options{
		StoreDir: filepath.Join(m.Config.DataDir, "jetstream"),
		Listen:   m.Config.NATSListen,
		Logger:   m.Logger.WithGroup("nats_server"),
		Sync:     m.Config.Sync,
		Users:    users,
		MaxStore: m.Config.MaxStore,
	})
	if err != nil && m.Config.NATSListen != "" {
		return fmt.Errorf("embedded NATS server on --nats-listen %s: %w", m.Config.NATSListen, err)
	}
	if err != nil {
		return err
	}
	m.nc, err = nats.Connect("", append(opts, m.OwnNATS()...)...)
	if err != nil {
		return fmt.Errorf("connect to embedded nats: %w", err)
	}
	return nil
}

// openFeedLog opens the log on a connection of the live feed's own: its
// subscribers' traffic, however slowly they read, never queues behind or
// ahead of arbor's writes and projection.
func (m *Main) openFeedLog(ctx context.Context) (*events.Log, error) {
	opts := []nats.Option{nats.Name("arbor feed"), nats.MaxReconnects(-1)}
	if m.ns != nil {
		opts = append(opts, m.OwnNATS()...)
	} else {
		signIn, err := m.externalOptions()
		if err != nil {
			return nil, err
		}
		opts = append(opts, signIn...)
	}
	var err error
	if m.feedConn, err = nats.Connect(m.Config.NATSURL, opts...); err != nil {
		return nil, fmt.Errorf("connect the live feed to nats: %w", err)
	}
	js, err := jetstream.New(m.feedConn)
	if err != nil {
		return nil, err
	}
	return m.log.Via(ctx, js)
}

// natsUsers are the users of the embedded server: arbor itself, with a key
// made for this process alone, and the keys of --nats-keys, or else of the
// seeds in the data directory, made on first start.
func (m *Main) natsUsers() ([]*server.NkeyUser, error) {
	own, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	m.own = own
	pub, err := own.PublicKey()
	if err != nil {
		return nil, err
	}
	var keys natsauth.Keys
	if m.Config.NATSKeys != "" {
		if keys, err = natsauth.LoadKeys(m.Config.NATSKeys); err != nil {
			return nil, fmt.Errorf("--nats-keys: %w", err)
		}
	} else {
		var created bool
		if keys, created, err = natsauth.EnsureSeeds(m.credentialsDir()); err != nil {
			return nil, fmt.Errorf("nats credentials: %w", err)
		}
		if created {
			m.Logger.Info("NATS credentials made: sign in with nats --nkey <file>", "dir", m.credentialsDir(),
				"reader", natsauth.SeedFile(m.credentialsDir(), natsauth.Reader),
				"writer", natsauth.SeedFile(m.credentialsDir(), natsauth.Writer),
				"admin", natsauth.SeedFile(m.credentialsDir(), natsauth.Admin))
		}
	}
	kv := kvview.View{Bucket: kvview.DefaultBucket}
	return natsauth.Users(keys, pub, natsauth.Owned{Consumers: []string{kv.Durable()}}), nil
}

// credentialsDir is where the embedded server's data directory keeps the
// seeds of the NATS roles.
func (m *Main) credentialsDir() string { return filepath.Join(m.Config.DataDir, "credentials") }

// CredentialFile is the seed file of role on the embedded server, as made
// on first start; empty with --nats-keys or --nats-url.
func (m *Main) CredentialFile(role natsauth.Role) string {
	if m.ns == nil || m.Config.NATSKeys != "" {
		return ""
	}
	return natsauth.SeedFile(m.credentialsDir(), role)
}

// OwnNATS are the options of an in-process connection to the embedded
// server with arbor's own rights.
func (m *Main) OwnNATS() []nats.Option {
	pub, _ := m.own.PublicKey()
	return []nats.Option{nats.InProcessServer(m.ns), nats.Nkey(pub, m.own.Sign)}
}

// externalOptions are how arbor signs in to a server given by --nats-url.
func (m *Main) externalOptions() ([]nats.Option, error) {
	c := m.Config
	var opts []nats.Option
	switch {
	case c.NATSCreds != "":
		b, err := os.ReadFile(c.NATSCreds)
		if err != nil {
			return nil, fmt.Errorf("--nats-creds: %w", err)
		}
		if strings.Contains(string(b), "BEGIN NATS USER JWT") {
			opts = append(opts, nats.UserCredentials(c.NATSCreds))
		} else {
			opt, err := nats.NkeyOptionFromSeed(c.NATSCreds)
			if err != nil {
				return nil, fmt.Errorf("--nats-creds %s: neither a .creds file nor an nkey seed: %w", c.NATSCreds, err)
			}
			opts = append(opts, opt)
		}
	case c.NATSUser != "":
		opts = append(opts, nats.UserInfo(c.NATSUser, c.NATSPassword))
	}
	if c.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(c.NATSTLSCA))
	}
	if c.NATSTLSCert != "" {
		opts = append(opts, nats.ClientCert(c.NATSTLSCert, c.NATSTLSKey))
	}
	return opts, nil
}

// openProjection makes the projection: from the newest snapshot that can
// be trusted when snapshots are on, otherwise empty. Either way the runner
// then replays the events after it.
func (m *Main) openProjection(ctx context.Context, js jetstream.JetStream, local *snapshot.Local) error {
	m.proj = projection.New(m.log.Layout())
	if m.Config.SnapshotEvery <= 0 {
		return nil
	}
	m.snaps = &snapshot.Store{JS: js, Stream: m.log.Stream(), Replicas: m.Config.Replicas,
		Logger: m.Logger.WithGroup("snapshot")}
	if m.ns != nil {
		// The data directory is this process's: a local copy of the newest
		// snapshot saves downloading it at start-up.
		m.snaps.Dir, m.snaps.Local = m.snapshotDir(), local
	}
	start := time.Now()
	st, err := m.snaps.Load(ctx)
	switch {
	case err != nil:
		m.Logger.Warn("snapshots unreadable: replaying the whole log", "stream", m.log.Stream(), "err", err)
	case st == nil:
		m.Logger.Info("no snapshot: replaying the whole log", "stream", m.log.Stream())
	case st.Layout() != m.log.Layout():
		m.Logger.Warn("snapshot skipped: another subject layout", "pos", st.Applied())
	default:
		m.proj = projection.NewFrom(st)
		m.saved.Store(st.Applied())
		m.Logger.Info("snapshot loaded", "pos", st.Applied(), "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// snapshotDir is where the embedded server's data directory keeps a copy
// of the newest snapshot.
func (m *Main) snapshotDir() string { return filepath.Join(m.Config.DataDir, "snapshots") }

// saveSnapshots saves the projection every Config.SnapshotEvery events
// until ctx is done. A failed save is logged and tried again at the next
// turn; the log stays the source of truth.
func (m *Main) saveSnapshots(ctx context.Context) error {
	if err := m.proj.WaitReady(ctx); err != nil {
		return err
	}
	every := uint64(m.Config.SnapshotEvery)
	for next := m.saved.Load() + every; ; next = m.proj.Applied() + every {
		if err := m.proj.WaitFor(ctx, next); err != nil {
			return err
		}
		m.saveSnapshot(ctx)
	}
}

// saveSnapshot saves the projection once, if it has caught up with the log
// and moved since the last snapshot. saved, which /health reports, moves
// only with a snapshot really saved.
func (m *Main) saveSnapshot(ctx context.Context) {
	if !m.proj.Ready() || m.proj.Applied() == m.saved.Load() {
		return
	}
	start := time.Now()
	pos, err := m.snaps.Save(ctx, m.proj)
	if err != nil {
		m.Logger.Warn("snapshot not saved", "err", err) // tried again SnapshotEvery events on
		return
	}
	m.saved.Store(pos)
	m.Logger.Info("snapshot saved", "pos", pos, "took", time.Since(start).Round(time.Millisecond))
}

// collectEvery deletes stored content no live artifact refers to, every
// Config.CollectEvery, until ctx is done. A collection that fails is
// logged and tried again at the next turn.
func (m *Main) collectEvery(ctx context.Context) error {
	if err := m.proj.WaitReady(ctx); err != nil {
		return err
	}
	tick := time.NewTicker(m.Config.CollectEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		start := time.Now()
		n, err := m.CollectBlobs(ctx)
		if err != nil {
			m.Logger.Warn("stored content not collected", "err", err)
			continue
		}
		if n > 0 {
			m.Logger.Info("stored content collected", "objects", n, "took", time.Since(start).Round(time.Millisecond))
		}
	}
}

// CollectBlobs deletes the stored content no live artifact refers to that
// is older than Config.BlobGrace, and returns how many objects it deleted.
// What artifacts refer to is read once the projection has caught up with
// the log as it stands after the listing (see blobstore.Store.Collect).
func (m *Main) CollectBlobs(ctx context.Context) (int, error) {
	return m.blobs.Collect(ctx, m.Config.BlobGrace, func(ctx context.Context) (func(string) bool, error) {
		last, err := m.log.LastSeq(ctx)
		if err != nil {
			return nil, err
		}
		if err := m.proj.WaitFor(ctx, last); err != nil {
			return nil, err
		}
		refs := map[string]bool{}
		m.proj.Read(func(s *projection.State) { s.EachContent(func(sha string) { refs[sha] = true }) })
		return func(sha string) bool { return refs[sha] }, nil
	})
}

// goRun runs fn until ctx is done; any other return is a failure of arbor.
func (m *Main) goRun(ctx context.Context, name string, fn func(context.Context) error) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		err := fn(ctx)
		if ctx.Err() == nil { // it stopped on its own: arbor cannot go on
			m.failed <- fmt.Errorf("%s stopped: %v", name, err)
		}
	}()
}

func (m *Main) checks() []httpapi.Check {
	return []httpapi.Check{
		{Name: "nats", Critical: true, Run: func(context.Context) error {
			if s := m.nc.Status(); s != nats.CONNECTED {
				return fmt.Errorf("connection is %s", s)
			}
			return nil
		}},
		{Name: "log", Critical: true, Run: func(ctx context.Context) error {
			_, err := m.log.LastSeq(ctx) // fails when JetStream cannot answer, or the stream is gone
			return err
		}},
		{Name: "storage", Critical: true, Run: m.storageCheck},
		{Name: "projection", Critical: true, Run: func(context.Context) error {
			if !m.proj.Ready() {
				return fmt.Errorf("catching up with the log, at position %d", m.proj.Applied())
			}
			return nil
		}},
		{Name: "kv_view", Run: func(ctx context.Context) error {
			lag, err := m.kv.Lag(ctx)
			if err != nil {
				return err
			}
			if lag > 10000 {
				return fmt.Errorf("%d events behind", lag)
			}
			return nil
		}},
	}
}

// diskRoom is the log's guard with the embedded server: an error when the
// data directory's disk has less than --min-free-disk free. JetStream
// stops storing for good on a full disk, until restarted; refusing before
// keeps arbor able to go on by itself once there is room again. A finding
// is kept a second: appends do not each ask the disk.
func (m *Main) diskRoom() error {
	m.diskMu.Lock()
	defer m.diskMu.Unlock()
	if time.Since(m.diskAt) < time.Second {
		return m.diskErr
	}
	free := m.freeDisk
	if free == nil {
		free = diskFree
	}
	n, err := free(m.Config.DataDir)
	switch {
	case err != nil:
		m.diskErr = nil // unknown: JetStream will say
	case n < uint64(m.Config.MinFreeDisk):
		m.diskErr = fmt.Errorf("%d MiB free on the disk of %s, below --min-free-disk (%d MiB)",
			n>>20, m.Config.DataDir, m.Config.MinFreeDisk>>20)
	default:
		m.diskErr = nil
	}
	m.diskAt = time.Now()
	return m.diskErr
}

// storageCheck is unhealthy while writes cannot be stored: the disk below
// --min-free-disk, or the last append refused by JetStream for want of
// room and JetStream still without it.
func (m *Main) storageCheck(ctx context.Context) error {
	if m.ns != nil {
		if err := m.diskRoom(); err != nil {
			return err
		}
	}
	if !m.log.StorageFull() {
		return nil
	}
	if m.ns != nil {
		if used, limit, err := m.jetStreamUsage(ctx); err == nil && used+storageHeadroom < limit {
			return nil // room again: the next write will tell
		}
	}
	return errors.New("JetStream refused the last write: storage is full")
}

// storageHeadroom is the room JetStream must have before storageCheck
// trusts that writes fit again.
const storageHeadroom = 1 << 20

// jetStreamUsage is what the embedded server stores and may store.
func (m *Main) jetStreamUsage(ctx context.Context) (used, limit int64, err error) {
	js, err := jetstream.New(m.nc)
	if err != nil {
		return 0, 0, err
	}
	info, err := js.AccountInfo(ctx)
	if err != nil {
		return 0, 0, err
	}
	return int64(info.Store), m.ns.JetStreamConfig().MaxStore, nil
}

// HTTPAddr is the address the API listens on.
func (m *Main) HTTPAddr() string { return m.listener.Addr().String() }

// BaseURL is where clients reach the API: https with --tls-cert.
func (m *Main) BaseURL() string {
	if m.Config.TLSCert != "" {
		return "https://" + m.HTTPAddr()
	}
	return "http://" + m.HTTPAddr()
}

// NATSURL is where NATS clients reach the server arbor uses; empty when
// the embedded server is in-process only.
func (m *Main) NATSURL() string {
	if m.ns != nil && m.Config.NATSListen != "" {
		return m.ns.ClientURL()
	}
	return m.Config.NATSURL
}

// Close stops arbor: the HTTP server and the NATS service finish the
// requests in flight, the runners stop, the NATS connection drains, the embedded server shuts down
// and the data directory is unlocked. It is safe after a failed Open.
func (m *Main) Close() error {
	// One deadline for all of it: requests in flight over HTTP and NATS,
	// the last snapshot, the drain.
	ctx, cancel := context.WithTimeout(context.Background(), cmp.Or(m.Config.ShutdownTimeout, 15*time.Second))
	defer cancel()
	var errs []error
	if m.http != nil {
		errs = append(errs, m.http.Shutdown(ctx))
	}
	if m.nats != nil {
		errs = append(errs, m.nats.Stop(ctx))
	}
	if m.feedConn != nil {
		m.feedConn.Close() // the feeds ended with the HTTP server
	}
	if m.cancel != nil {
		m.cancel()
		m.wg.Wait()
	}
	if m.snaps != nil && m.nc != nil && m.nc.IsConnected() {
		m.saveSnapshot(ctx)
	}
	if m.nc != nil {
		m.drain(ctx)
	}
	if m.ns != nil {
		m.ns.Shutdown()
		m.ns.WaitForShutdown()
	}
	errs = append(errs, m.lock.Release())
	return errors.Join(errs...)
}

// drain flushes what the connection still has to send, waiting for it.
func (m *Main) drain(ctx context.Context) {
	closed := make(chan struct{})
	m.nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := m.nc.Drain(); err != nil {
		m.nc.Close()
		return
	}
	select {
	case <-closed:
	case <-ctx.Done():
		m.nc.Close()
	}
}

// writeTimeout is Config.WriteTimeout, 30s when not set.
func (m *Main) writeTimeout() time.Duration { return cmp.Or(m.Config.WriteTimeout, 30*time.Second) }

// Projection is the running arbor's read model.
func (m *Main) Projection() *projection.Projection { return m.proj }

// Log is the event log arbor writes.
func (m *Main) Log() *events.Log { return m.log }

// Commands carries out arbor's writes.
func (m *Main) Commands() *command.Handler { return m.commands }

// Conn is arbor's own NATS connection.
func (m *Main) Conn() *nats.Conn { return m.nc }

// NATSServer is the embedded NATS server, nil with --nats-url.
func (m *Main) NATSServer() *server.Server { return m.ns }

// KVView writes the KV bucket of current artifacts.
func (m *Main) KVView() *kvview.View { return m.kv }
