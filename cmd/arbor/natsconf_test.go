package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// readmeBlock returns the first fenced block of README.md in language lang.
func readmeBlock(t *testing.T, lang string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```"+lang+"\n")
	if !ok {
		t.Fatalf("README.md has no %s block", lang)
	}
	block, _, _ := strings.Cut(rest, "```")
	return block
}

// TestREADMENATSConfiguration runs arbor against a NATS server configured
// with the README's block as printed: arbor's user may do all arbor does
// (events, atomic batches, the KV view, content, snapshots, the NATS
// service), a writer sends requests, a reader follows events, and neither
// may append to the log.
func TestREADMENATSConfiguration(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{"ARBOR_NATS_PASSWORD": "arbor-pw", "PIPELINE_PASSWORD": "pipeline-pw", "VIEWER_PASSWORD": "viewer-pw"} {
		t.Setenv(k, v)
	}
	conf := filepath.Join(dir, "nats-server.conf")
	head := "listen: 127.0.0.1:-1\njetstream { store_dir: \"" + filepath.Join(dir, "js") + "\" }\n"
	if err := os.WriteFile(conf, []byte(head+readmeBlock(t, "conf")), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("the README's NATS configuration: %v", err)
	}
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	url := s.ClientURL()

	cfg := testMainConfig("")
	cfg.NATSURL, cfg.NATSUser, cfg.NATSPassword = url, "arbor", "arbor-pw"
	cfg.SnapshotEvery = 3
	in := openTestMain(t, cfg)
	in.c.waitHealthy(10 * time.Second)

	viewer, err := connectAs(t, url, nats.UserInfo("viewer", "viewer-pw"))
	if err != nil {
		t.Fatal(err)
	}
	events, err := viewer.nc.SubscribeSync("arbor.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := viewer.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	var exp, model, pred testDoc
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"name": "exp"}}, &exp)
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": exp.ID, "data": map[string]any{"name": "model"}}, &model)
	in.c.must(http.StatusOK, http.MethodPut, testAPI+"/"+model.ID+"/$content", []byte("weights"), nil)
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": model.ID, "data": map[string]any{"name": "pred"}}, &pred)
	in.c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+pred.ID, nil, nil)
	in.c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+model.ID, nil, nil) // an atomic batch
	waitKV(t, in, exp.ID)
	if _, err := events.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("the reader saw no event: %v", err)
	}

	pipeline, err := connectAs(t, url, nats.UserInfo("pipeline", "pipeline-pw"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := pipeline.try(func(ctx context.Context) error {
		msg, err := pipeline.nc.RequestWithContext(ctx, "arbor-api.create", []byte(`{"data": {"over": "nats"}}`))
		if err == nil && msg.Header.Get("Nats-Service-Error-Code") != "" {
			t.Errorf("create over NATS: %s %s", msg.Header.Get("Nats-Service-Error-Code"), msg.Data)
		}
		return err
	}); !ok {
		t.Fatalf("the pipeline user's request: %s", why)
	}
	for _, rc := range []*roleConn{pipeline, viewer} {
		if ok, _ := rc.try(func(ctx context.Context) error {
			_, err := rc.js.Publish(ctx, "arbor.00.ml_pipeline.art."+exp.ID, []byte(`{}`))
			return err
		}); ok {
			t.Fatal("a pipeline or viewer user appended to the log")
		}
	}
	if err := in.close(); err != nil { // saves a snapshot
		t.Fatalf("Close: %v", err)
	}
	admin, err := connectAs(t, url, nats.UserInfo("arbor", "arbor-pw"))
	if err != nil {
		t.Fatal(err)
	}
	obs, err := admin.js.ObjectStore(t.Context(), "ARTIFACTS_SNAPSHOTS")
	if err != nil {
		t.Fatalf("no snapshot bucket: %v", err)
	}
	if list, err := obs.List(t.Context()); err != nil || len(list) == 0 {
		t.Fatalf("no snapshot saved with the README's rights: %v", err)
	}
}
