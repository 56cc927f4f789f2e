package client_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"arbor/client"
)

// keysSent are the Idempotency-Key headers of the requests the server got
// from the n-th on, as "METHOD key".
func (e *env) keysSent(n int) []string {
	var out []string
	for _, r := range e.received()[n:] {
		out = append(out, r.Method+" "+r.Header.Get(client.HeaderIdempotencyKey))
	}
	return out
}

func TestIdempotencyKeySent(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	n := len(e.received())
	a, err := e.c.Create(ctx, client.CreateRequest{Data: map[string]any{}}, client.IdempotencyKey("k-create"), client.IfMatch(3))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Update(ctx, a.ID, client.UpdateRequest{Data: map[string]any{"v": 2}}, client.IdempotencyKey("k-update")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.UploadContent(ctx, a.ID, "", strings.NewReader("x"), client.IdempotencyKey("k-upload")); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Delete(ctx, a.ID, client.IdempotencyKey("k-delete")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Create(ctx, client.CreateRequest{Data: map[string]any{}}, client.IdempotencyKey("")); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST k-create", "PUT k-update", "PUT k-upload", "DELETE k-delete", "POST "}
	got := e.keysSent(n)
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("Idempotency-Key sent: %q, want %q", got, want)
	}
	if r := e.received()[n]; r.Header.Get("If-Match") != "" {
		t.Fatalf("Create sent If-Match %q", r.Header.Get("If-Match"))
	}
}

func TestIdempotencyReplay(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	var replayed bool
	req := client.CreateRequest{Data: map[string]any{"n": 1}, Tags: []string{"x"}}
	first, err := e.c.Create(ctx, req, client.IdempotencyKey("create-1"), client.Replayed(&replayed))
	if err != nil || replayed {
		t.Fatalf("first Create with a key: %+v, replayed %v, %v", first, replayed, err)
	}
	total := e.stats(t).Total
	again, err := e.c.Create(ctx, req, client.IdempotencyKey("create-1"), client.Replayed(&replayed))
	if err != nil || !replayed || again.ID != first.ID || again.Version != 1 {
		t.Fatalf("the same Create again: %+v, replayed %v, %v; want %s replayed", again, replayed, err, first.ID)
	}
	if n := e.stats(t).Total; n != total {
		t.Fatalf("the replayed Create made an artifact: %d, want %d", n, total)
	}
	_, err = e.c.Create(ctx, client.CreateRequest{Data: map[string]any{"n": 2}}, client.IdempotencyKey("create-1"))
	wantProblem(t, "the key with another body", err, http.StatusUnprocessableEntity, client.TypeIdempotencyKeyReused)
	other, err := e.c.Create(ctx, req, client.IdempotencyKey("create-2"), client.Replayed(&replayed))
	if err != nil || replayed || other.ID == first.ID {
		t.Fatalf("the same body with another key: %+v, replayed %v, %v; want a new artifact", other, replayed, err)
	}

	// Update: a refused request is not remembered, and may be sent again
	// with its key.
	upd := client.UpdateRequest{Data: map[string]any{"n": 3}}
	_, err = e.c.Update(ctx, first.ID, upd, client.IfMatch(7), client.IdempotencyKey("update-1"))
	wantProblem(t, "a stale update with a key", err, http.StatusPreconditionFailed, client.TypePreconditionFailed)
	u, err := e.c.Update(ctx, first.ID, upd, client.IfMatch(1), client.IdempotencyKey("update-1"), client.Replayed(&replayed))
	if err != nil || replayed || u.Version != 2 {
		t.Fatalf("the update after a refusal, same key: %+v, replayed %v, %v", u, replayed, err)
	}
	u, err = e.c.Update(ctx, first.ID, upd, client.IfMatch(1), client.IdempotencyKey("update-1"), client.Replayed(&replayed))
	if err != nil || !replayed || u.Version != 2 {
		t.Fatalf("the same update again: %+v, replayed %v, %v; want version 2 replayed", u, replayed, err)
	}
	if got := e.get(first.ID); got.Version != 2 {
		t.Fatalf("after a replayed update the artifact is at version %d, want 2", got.Version)
	}
	_, err = e.c.Update(ctx, first.ID, upd, client.IfMatch(2), client.IdempotencyKey("update-1"))
	wantProblem(t, "the key with another If-Match", err, http.StatusUnprocessableEntity, client.TypeIdempotencyKeyReused)

	// Content: an upload, and a multipart create, sent twice.
	blob := randomBytes(100 << 10)
	up, err := e.c.UploadContent(ctx, first.ID, "image/png", bytes.NewReader(blob), client.IdempotencyKey("upload-1"))
	if err != nil {
		t.Fatal(err)
	}
	up2, err := e.c.UploadContent(ctx, first.ID, "image/png", bytes.NewReader(blob), client.IdempotencyKey("upload-1"), client.Replayed(&replayed))
	if err != nil || !replayed || up2.Version != up.Version {
		t.Fatalf("the same upload again: version %d, replayed %v, %v; want version %d replayed", up2.Version, replayed, err, up.Version)
	}
	mp, err := e.c.CreateWithContent(ctx, req, "text/plain", strings.NewReader("hello"), client.IdempotencyKey("multipart-1"))
	if err != nil {
		t.Fatal(err)
	}
	mp2, err := e.c.CreateWithContent(ctx, req, "text/plain", strings.NewReader("hello"), client.IdempotencyKey("multipart-1"), client.Replayed(&replayed))
	if err != nil || !replayed || mp2.ID != mp.ID {
		t.Fatalf("the same multipart create again: %+v, replayed %v, %v; want %s replayed", mp2, replayed, err, mp.ID)
	}

	// Delete: the second answer is the first one's, not a 404.
	if err := e.c.Delete(ctx, other.ID, client.IdempotencyKey("delete-1")); err != nil {
		t.Fatal(err)
	}
	if err := e.c.Delete(ctx, other.ID, client.IdempotencyKey("delete-1"), client.Replayed(&replayed)); err != nil || !replayed {
		t.Fatalf("the same delete again: replayed %v, %v", replayed, err)
	}
	err = e.c.Delete(ctx, other.ID, client.IdempotencyKey("delete-2"))
	wantProblem(t, "a delete of the deleted with a new key", err, http.StatusNotFound, client.TypeNotFound)
}

func TestIdempotencyKeyMalformed(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, key := range []string{"has space", "tab\tkey", "é", strings.Repeat("k", 256)} {
		_, err := e.c.Create(ctx, client.CreateRequest{Data: map[string]any{}}, client.IdempotencyKey(key))
		wantProblem(t, "Create with key "+key, err, http.StatusBadRequest, client.TypeBadRequest)
	}
	if _, err := e.c.Create(ctx, client.CreateRequest{Data: map[string]any{}}, client.IdempotencyKey(strings.Repeat("k", 255))); err != nil {
		t.Fatalf("Create with a key of 255 characters: %v", err)
	}
}
