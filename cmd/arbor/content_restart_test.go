package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"arbor/client"
)

// Content outlives the process: uploaded bytes, JSON content moved out of
// its event, and a DataFrame all download the same after a SIGKILL and a
// restart on the same data directory.
func TestContentAfterKill(t *testing.T) {
	bin := buildArbor(t)
	dir := t.TempDir()
	p := startArbor(t, bin, dir)
	c := client.New(p.c.base)
	ctx := t.Context()

	file := bytes.Repeat([]byte("arbor content\x00\x01\x02"), 200_000) // about 3 MiB
	model, err := c.Create(ctx, client.CreateRequest{Data: map[string]any{"name": "model"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadContent(ctx, model.ID, "application/zip", bytes.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	// JSON content over the size of one event moves to the object store.
	big := map[string]any{"content": map[string]any{"text": strings.Repeat("ü", 700_000)}}
	moved, err := c.Create(ctx, client.CreateRequest{ParentID: model.ID, Data: big})
	if err != nil {
		t.Fatal(err)
	}
	frame, err := c.Create(ctx, client.CreateRequest{ParentID: model.ID, Data: json.RawMessage(
		`{"content_type":"application/vnd.chapkit.dataframe+json","content":{"columns":["a","b"],"data":[[1,"x, \"y\""]]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	read := func(what string, get func() (io.ReadCloser, error)) [32]byte {
		t.Helper()
		r, err := get()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer r.Close()
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return [32]byte(h.Sum(nil))
	}
	snapshot := func(c *client.Client) map[string][32]byte {
		out := map[string][32]byte{}
		for name, get := range map[string]func() (io.ReadCloser, error){
			"file": func() (io.ReadCloser, error) {
				d, err := c.Download(ctx, model.ID, client.DownloadOptions{})
				return body(d, err)
			},
			"moved json": func() (io.ReadCloser, error) {
				d, err := c.Download(ctx, moved.ID, client.DownloadOptions{})
				return body(d, err)
			},
			"moved artifact": func() (io.ReadCloser, error) {
				a, err := c.Get(ctx, moved.ID)
				return io.NopCloser(bytes.NewReader(a.Data)), err
			},
			"csv": func() (io.ReadCloser, error) {
				d, err := c.Download(ctx, frame.ID, client.DownloadOptions{CSV: true})
				return body(d, err)
			},
		} {
			out[name] = read(name, get)
		}
		return out
	}
	before := snapshot(c)
	if before["file"] != sha256.Sum256(file) {
		t.Fatal("the file downloaded is not the file uploaded")
	}

	p.kill()
	p2 := startArbor(t, bin, dir)
	after := snapshot(client.New(p2.c.base))
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("%s differs after the restart", name)
		}
	}
	if r := p2.c.do(http.MethodGet, "/api/v1/artifacts/"+model.ID+"/$download", nil, map[string]string{"Range": "bytes=0-12"}); r.status != http.StatusPartialContent || string(r.body) != "arbor content" {
		t.Errorf("range after the restart: %d %q", r.status, r.body)
	}
}

func body(d *client.Download, err error) (io.ReadCloser, error) {
	if err != nil {
		return nil, err
	}
	return d.Body, nil
}
