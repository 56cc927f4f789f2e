package client_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"arbor/client"
	"arbor/internal/apikey"
)

// A client sends its key as Authorization: Bearer on every request, the
// feed and health included; without one, or with a read key writing, it
// gets the problems arbor answers.
func TestAPIKey(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keys.jsonl")
	readKey, err := apikey.Add(path, "dashboard", apikey.Read)
	if err != nil {
		t.Fatal(err)
	}
	writeKey, err := apikey.Add(path, "pipeline", apikey.Write)
	if err != nil {
		t.Fatal(err)
	}
	set, err := apikey.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := e.server(e.st)
	srv.Keys = set
	h := srv.Handler()
	var (
		mu   sync.Mutex
		auth []string // the Authorization header of each request
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
	})

	_, err = newClient(t, ts.URL).List(ctx, 1, 10)
	p := wantProblem(t, "List without a key", err, http.StatusUnauthorized, client.TypeUnauthorized)
	if !client.IsUnauthorized(err) || client.IsForbidden(err) || p.Detail == "" {
		t.Fatalf("List without a key: %v", err)
	}
	_, err = newClient(t, ts.URL, client.WithAPIKey(apikey.Generate())).Stats(ctx)
	wantProblem(t, "Stats with an unknown key", err, http.StatusUnauthorized, client.TypeUnauthorized)

	reader := newClient(t, ts.URL, client.WithAPIKey(readKey))
	_, err = reader.Create(ctx, client.CreateRequest{Data: map[string]any{"n": 1}})
	wantProblem(t, "Create with a read key", err, http.StatusForbidden, client.TypeForbidden)
	if !client.IsForbidden(err) {
		t.Fatalf("IsForbidden(%v) = false", err)
	}

	writer := newClient(t, ts.URL, client.WithAPIKey(writeKey))
	a, err := writer.Create(ctx, client.CreateRequest{Data: map[string]any{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := reader.Get(ctx, a.ID); err != nil || got.ID != a.ID {
		t.Fatalf("Get with a read key = %+v, %v", got, err)
	}
	if _, err := reader.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
	for ev, err := range reader.Events(ctx, client.EventFilter{}, new(uint64)) {
		if err != nil || ev.Subject != a.ID {
			t.Fatalf("Events with a read key: %+v, %v", ev, err)
		}
		break
	}
	for _, err := range newClient(t, ts.URL).Events(ctx, client.EventFilter{}, new(uint64)) {
		wantProblem(t, "Events without a key", err, http.StatusUnauthorized, client.TypeUnauthorized)
		break
	}

	// Requests of keyed clients carried Bearer and their key, and nothing
	// else ever did.
	mu.Lock()
	defer mu.Unlock()
	var bearer int
	for _, v := range auth {
		switch v {
		case "":
		case "Bearer " + readKey, "Bearer " + writeKey:
			bearer++
		default:
			if !strings.HasPrefix(v, "Bearer "+apikey.Prefix) {
				t.Errorf("Authorization: %q", v)
			}
		}
	}
	if bearer != 5 {
		t.Errorf("%d requests carried a key of the file, want 5 (%q)", bearer, auth)
	}
}
