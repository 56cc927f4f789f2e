package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// healthPositions is what /health says of positions.
type healthPositions struct {
	Position uint64  `json:"position"`
	Snapshot *uint64 `json:"snapshot_position"`
}

func (c *testClient) positions() healthPositions {
	c.t.Helper()
	var h healthPositions
	c.must(http.StatusOK, "GET", "/health", nil, &h)
	return h
}

// lineRecorder keeps every log line's message, for tests that check what
// arbor said it did.
type lineRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (l *lineRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *lineRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *lineRecorder) WithGroup(string) slog.Handler            { return l }
func (l *lineRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}

func (l *lineRecorder) said(msg string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.msgs {
		if m == msg {
			return true
		}
	}
	return false
}

// openRecorded opens a Main whose log lines are kept.
func openRecorded(t *testing.T, cfg Config) (*Main, *lineRecorder, *testClient) {
	t.Helper()
	rec := &lineRecorder{}
	m := &Main{Config: cfg, Logger: slog.New(rec)}
	if err := m.Open(t.Context()); err != nil {
		_ = m.Close()
		t.Fatalf("Open: %v", err)
	}
	c := newTestClient(t, "http://"+m.HTTPAddr())
	c.waitHealthy(10 * time.Second)
	return m, rec, c
}

// The projection is saved every N events and at shutdown; /health says
// where; a restart starts from the newest snapshot and replays the rest,
// and answers as a full replay does. A corrupt snapshot is skipped with a
// log line and never trusted.
func TestSnapshots(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.SnapshotEvery = 20
	m, _, c := openRecorded(t, cfg)
	var exp testDoc
	c.must(http.StatusCreated, "POST", "/api/v1/artifacts", map[string]any{"data": map[string]any{"n": 0}}, &exp)
	for i := range 30 {
		c.must(http.StatusCreated, "POST", "/api/v1/artifacts", map[string]any{"parent_id": exp.ID, "data": map[string]any{"n": i}}, nil)
	}
	if !pollUntil(t.Context(), 10*time.Second, func() bool {
		p := c.positions()
		return p.Snapshot != nil && *p.Snapshot >= 20
	}) {
		t.Fatalf("/health = %+v, want a snapshot at 20 or later", c.positions())
	}
	c.must(http.StatusOK, "PUT", "/api/v1/artifacts/"+exp.ID, map[string]any{"data": map[string]any{"n": "last"}}, nil)
	want := c.listAll()
	last := c.positions().Position
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// At shutdown the projection was saved as of the last event.
	m, rec, c := openRecorded(t, cfg)
	if p := c.positions(); p.Snapshot == nil || *p.Snapshot != last || p.Position != last {
		t.Fatalf("after a restart /health = %+v, want position and snapshot %d", p, last)
	}
	if !rec.said("snapshot loaded") {
		t.Fatal("the restart did not load the snapshot")
	}
	got, _ := json.Marshal(c.listAll())
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		t.Fatalf("from the snapshot:\n%s\nwant\n%s", got, wantJSON)
	}

	// Every snapshot corrupted (one byte flipped, its metadata kept):
	// skipped, and the whole log replayed. An arbor with snapshots off
	// leaves them as they are.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	off := cfg
	off.SnapshotEvery = 0
	m, _, _ = openRecorded(t, off)
	js, err := jetstream.New(m.nc)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := js.ObjectStore(t.Context(), "ARTIFACTS_SNAPSHOTS")
	if err != nil {
		t.Fatal(err)
	}
	list, err := obs.List(t.Context())
	if err != nil || len(list) == 0 {
		t.Fatalf("snapshots: %v, %v", list, err)
	}
	for _, info := range list {
		b, err := obs.GetBytes(t.Context(), info.Name)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if _, err := obs.Put(t.Context(), info.ObjectMeta, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// The local copy in the data directory, damaged alike.
	local, _ := filepath.Glob(filepath.Join(cfg.DataDir, "snapshots", "*"))
	if len(local) == 0 {
		t.Fatal("no local copy of the snapshot in the data directory")
	}
	for _, f := range local {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(f, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg.SnapshotEvery = 1000 // no new snapshot before the check below
	m, rec, c = openRecorded(t, cfg)
	defer m.Close()
	if rec.said("snapshot loaded") || !rec.said("snapshot skipped") {
		t.Fatalf("with corrupt snapshots arbor said %v, want them skipped", rec.msgs)
	}
	got, _ = json.Marshal(c.listAll())
	if string(got) != string(wantJSON) {
		t.Fatalf("after skipping corrupt snapshots:\n%s\nwant\n%s", got, wantJSON)
	}
	if p := c.positions(); p.Position != last || p.Snapshot == nil || *p.Snapshot != 0 {
		t.Fatalf("/health = %+v, want position %d and no snapshot loaded", p, last)
	}
}
