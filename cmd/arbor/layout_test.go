package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"arbor/hierarchy"
)

// untar unpacks testdata/<name>/data.tar.gz into a new directory.
func untar(t *testing.T, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name, "data.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.Clean(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755)
		case tar.TypeReg:
			var out *os.File
			if out, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
				_, err = io.Copy(out, tr)
				out.Close()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// A data directory written by the release before the exact-subject layout
// (testdata/layout1, made by its make.sh) opens and serves what that
// release served; new writes under old artifacts keep every rule, also
// after a restart that replays both layouts.
func TestOpensTheFirstLayout(t *testing.T) {
	dir := untar(t, "layout1")
	raw, err := os.ReadFile(filepath.Join("testdata", "layout1", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]json.RawMessage
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	cfg := testMainConfig(dir)
	cfg.Hierarchies = []hierarchy.Hierarchy{mlPipeline,
		{Name: "documents", Labels: []string{"project", "document", "version"}}}
	const (
		exp   = "01KB0000000000000000000001"
		model = "01KB0000000000000000000003"
		pred1 = "01KB0000000000000000000005"
		frame = "01KB0000000000000000000007"
	)
	in := openTestMain(t, cfg)
	c := in.c
	c.waitHealthy(10 * time.Second)
	same := func(when string) {
		t.Helper()
		for path, body := range want {
			if path[0] != '?' {
				path = "/" + path
			}
			got := c.must(http.StatusOK, "GET", "/api/v1/artifacts"+path, nil, nil)
			if !jsonEqual(onlyKeysOf(t, got.body, body), body) {
				t.Errorf("%s: GET %s =\n%s\nwant what the first release served\n%s", when, path, got.body, body)
			}
		}
		c.must(http.StatusNotFound, "GET", "/api/v1/artifacts/01KB0000000000000000000006", nil, nil)
		if got := c.must(http.StatusOK, "GET", "/api/v1/artifacts/"+model+"/$download", nil, nil); string(got.body) != "model weights" {
			t.Errorf("%s: the model's file = %q, want %q", when, got.body, "model weights")
		}
	}
	same("opened")
	// Its history, read from events of the first layout (on subjects of
	// their own, fetched one by one).
	var h struct {
		Items []struct {
			Version int
			Type    string
		}
	}
	c.must(http.StatusOK, "GET", "/api/v1/artifacts/"+model+"/$history", nil, &h)
	if len(h.Items) != 3 || h.Items[0].Type != "artifact.created" || h.Items[2].Type != "artifact.updated" || h.Items[2].Version != 3 {
		t.Errorf("history of the model = %+v, want its creation and two updates", h.Items)
	}

	// The stream was upgraded for atomic batches.
	js, err := jetstream.New(in.m.nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(t.Context(), "ARTIFACTS")
	if err != nil {
		t.Fatal(err)
	}
	if cfg := s.CachedInfo().Config; !cfg.AllowAtomicPublish || cfg.Metadata["arbor.layout"] != "2" {
		t.Fatalf("stream after opening: atomic %v, metadata %v; want upgraded", cfg.AllowAtomicPublish, cfg.Metadata)
	}

	// New writes under old artifacts.
	var pred3 testDoc
	c.must(http.StatusCreated, "POST", "/api/v1/artifacts", map[string]any{"parent_id": model, "data": map[string]any{"new": true}}, &pred3)
	c.must(http.StatusOK, "PUT", "/api/v1/artifacts/"+model, map[string]any{"data": map[string]any{"v": 4}}, nil)
	c.must(http.StatusConflict, "DELETE", "/api/v1/artifacts/"+model, nil, nil)
	for _, id := range []string{pred1, frame, pred3.ID} {
		c.must(http.StatusNoContent, "DELETE", "/api/v1/artifacts/"+id, nil, nil)
	}
	c.must(http.StatusConflict, "POST", "/api/v1/artifacts", map[string]any{"id": pred1, "parent_id": model, "data": map[string]any{}}, nil)
	c.must(http.StatusNoContent, "DELETE", "/api/v1/artifacts/"+model, nil, nil)
	c.must(http.StatusUnprocessableEntity, "POST", "/api/v1/artifacts", map[string]any{"parent_id": model, "data": map[string]any{}}, nil)
	c.must(http.StatusConflict, "POST", "/api/v1/artifacts", map[string]any{"id": exp, "data": map[string]any{}}, nil)
	var after testPage
	c.must(http.StatusOK, "GET", "/api/v1/artifacts?page=1&size=50", nil, &after)
	if err := in.close(); err != nil {
		t.Fatal(err)
	}

	// A restart folds both layouts to the same state.
	again := openTestMain(t, cfg)
	again.c.waitHealthy(10 * time.Second)
	var replayed testPage
	again.c.must(http.StatusOK, "GET", "/api/v1/artifacts?page=1&size=50", nil, &replayed)
	a, _ := json.Marshal(after)
	b, _ := json.Marshal(replayed)
	if string(a) != string(b) || after.Total != 2 {
		t.Fatalf("after a restart the list is\n%s\nwant\n%s (2 live: the experiment and the handbook)", b, a)
	}
}

// onlyKeysOf is the JSON object got without the members want lacks: those
// added since the first release (a page's next_cursor) are not its to
// judge. Anything but an object is got as it is.
func onlyKeysOf(t *testing.T, got, want []byte) []byte {
	t.Helper()
	var g, w map[string]json.RawMessage
	if json.Unmarshal(got, &g) != nil || json.Unmarshal(want, &w) != nil {
		return got
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			delete(g, k)
		}
	}
	out, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
