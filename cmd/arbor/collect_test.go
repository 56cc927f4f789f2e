package main

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestCollectBlobs: stored content no live artifact refers to (replaced,
// of a deleted artifact, of a create refused) is deleted once past the
// grace period; what live artifacts refer to stays, files and moved JSON.
func TestCollectBlobs(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.MaxBody = 8 << 20
	in := openTestMain(t, cfg) // BlobGrace 0: all unreferenced content is old enough
	in.c.waitHealthy(10 * time.Second)
	c := in.c

	var kept, deleted, moved testDoc
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"name": "kept"}}, &kept)
	c.must(http.StatusOK, http.MethodPut, testAPI+"/"+kept.ID+"/$content", []byte("first version"), nil)
	c.must(http.StatusOK, http.MethodPut, testAPI+"/"+kept.ID+"/$content", []byte("second version"), nil)
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"name": "deleted"}}, &deleted)
	c.must(http.StatusOK, http.MethodPut, testAPI+"/"+deleted.ID+"/$content", []byte("of a deleted artifact"), nil)
	c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+deleted.ID, nil, nil)
	big := strings.Repeat("j", 2<<20) // too large for an event: moved to the object store
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"content": big}}, &moved)

	// A multipart create refused after its file was stored.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, _ := mw.CreateFormField("artifact")
	part.Write([]byte(`{"data": {"name": "refused"}}`))
	part, _ = mw.CreateFormFile("content", "f.bin")
	part.Write([]byte("of a refused create"))
	part, _ = mw.CreateFormField("third")
	part.Write([]byte("one part too many"))
	mw.Close()
	if r := c.do(http.MethodPost, testAPI, body.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()}); r.status != http.StatusBadRequest {
		t.Fatalf("a three-part create: %s", r)
	}

	js, _ := jetstream.New(in.m.Conn())
	obs, err := js.ObjectStore(t.Context(), "ARTIFACTS_CONTENT")
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		list, _ := obs.List(t.Context())
		return len(list)
	}
	if n := count(); n != 5 {
		t.Fatalf("%d stored objects before collecting, want 5", n)
	}
	n, err := in.m.CollectBlobs(t.Context())
	if err != nil || n != 3 {
		t.Fatalf("CollectBlobs: %d deleted, %v; want 3", n, err)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d stored objects after collecting, want 2", n)
	}
	if r := c.must(http.StatusOK, http.MethodGet, testAPI+"/"+kept.ID+"/$download", nil, nil); string(r.body) != "second version" {
		t.Fatalf("kept content: %q", r.body)
	}
	var got testDoc
	c.must(http.StatusOK, http.MethodGet, testAPI+"/"+moved.ID, nil, &got)
	if !strings.Contains(string(got.Data), big[:100]) {
		t.Fatal("moved JSON content lost")
	}
	// Nothing left to collect.
	if n, err := in.m.CollectBlobs(t.Context()); err != nil || n != 0 {
		t.Fatalf("second CollectBlobs: %d deleted, %v", n, err)
	}
}
