package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"arbor/internal/natsauth"

	"github.com/nats-io/nats.go"
)

// Every request the NATS service takes answers what the same request over
// HTTP answers: the same artifact (inline content, and JSON content moved
// to the object store, in place), the same tree, and the same problem for
// the same mistake. Only what must differ does: ids and times of new
// artifacts, and the problem's instance.
func TestNATSAnswersAsHTTP(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.MaxBody = 8 << 20
	in := openTestMain(t, cfg)
	in.c.waitHealthy(10 * time.Second)
	nc, err := nats.Connect("", nats.InProcessServer(in.m.ns), seedOption(t, in.m.CredentialFile(natsauth.Writer)))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	overNATS := func(endpoint string, body any, header nats.Header) (int, []byte) {
		t.Helper()
		b, _ := json.Marshal(body)
		if s, ok := body.(string); ok {
			b = []byte(s)
		}
		msg, err := nc.RequestMsg(&nats.Msg{Subject: "arbor-api." + endpoint, Data: b, Header: header}, 10*time.Second)
		if err != nil {
			t.Fatalf("nats %s: %v", endpoint, err)
		}
		status := 200
		if code := msg.Header.Get("Nats-Service-Error-Code"); code != "" {
			status = atoi(t, code)
		}
		return status, msg.Data
	}
	c := in.c
	var exp testDoc
	c.must(http.StatusCreated, "POST", "/api/v1/artifacts", map[string]any{"data": map[string]any{"name": "exp"}}, &exp)
	// Data with content of every kind: inline, and JSON too large for one
	// event, which moves to the object store.
	big := strings.Repeat("a", 1_042_000) // more than an event carries, less than a NATS message
	bodies := []map[string]any{
		{"parent_id": exp.ID, "tags": []string{"t"}, "data": map[string]any{"content": map[string]any{"x": 1}, "k": "v"}},
		{"parent_id": exp.ID, "data": map[string]any{"content": map[string]any{"text": big}, "content_type": "application/json"}},
	}
	for _, body := range bodies {
		h := c.do("POST", "/api/v1/artifacts", body, nil)
		status, n := overNATS("create", body, nil)
		if h.status != http.StatusCreated || status != 200 {
			t.Fatalf("create: HTTP %d %.300s, NATS %d %.300s", h.status, h.body, status, n)
		}
		same(t, "create", h.body, n, "id", "created_at", "updated_at")

		// Read back: the same artifact, byte for byte.
		var made struct{ ID string }
		_ = json.Unmarshal(n, &made)
		hGet := c.must(http.StatusOK, "GET", "/api/v1/artifacts/"+made.ID, nil, nil)
		if _, nGet := overNATS("get", map[string]any{"id": made.ID}, nil); !bytes.Equal(bytes.TrimSpace(hGet.body), nGet) {
			t.Fatalf("get %s: HTTP\n%.300s\nNATS\n%.300s", made.ID, hGet.body, nGet)
		}
		if !bytes.Contains(hGet.body, []byte(`"content":{`)) {
			t.Fatalf("get %s: %.300s, want the content in place", made.ID, hGet.body)
		}

		// An update of each, with If-Match.
		upd := map[string]any{"data": map[string]any{"content": map[string]any{"y": 2}}, "tags": []string{"u"}}
		hUpd := c.do("PUT", "/api/v1/artifacts/"+made.ID, upd, map[string]string{"If-Match": `"1"`})
		upd["id"] = made.ID
		_, nUpd := overNATS("update", upd, nats.Header{"If-Match": {`"1"`}})
		if hUpd.status != http.StatusOK {
			t.Fatalf("update over HTTP: %s", hUpd)
		}
		// The second update, over NATS, met version 2: a stale If-Match.
		var p struct{ Status int }
		if json.Unmarshal(nUpd, &p) != nil || p.Status != http.StatusPreconditionFailed {
			t.Fatalf("second update with If-Match 1 over NATS = %s, want 412", nUpd)
		}
	}

	// A tree, over both.
	hTree := c.must(http.StatusOK, "POST", "/api/v1/artifacts/$tree", map[string]any{"root_id": exp.ID}, nil)
	if _, nTree := overNATS("tree", map[string]any{"root_id": exp.ID}, nil); !bytes.Equal(bytes.TrimSpace(hTree.body), nTree) {
		t.Fatalf("tree: HTTP\n%.300s\nNATS\n%.300s", hTree.body, nTree)
	}

	// The same mistakes give the same problems.
	for _, tc := range []struct {
		name, method, path, endpoint string
		body                         any
	}{
		{"a field of the wrong type", "POST", "/api/v1/artifacts", "create", `{"tags": "x", "data": {}}`},
		{"an unknown parent", "POST", "/api/v1/artifacts", "create", map[string]any{"parent_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "data": map[string]any{}}},
		{"malformed JSON", "POST", "/api/v1/artifacts", "create", `{"data": `},
		{"data not an object", "POST", "/api/v1/artifacts", "create", `{"data": [1]}`},
		{"a key twice", "POST", "/api/v1/artifacts", "create", `{"data": {"content": 1, "\u0063ontent": 2}}`},
		{"the zero ULID as parent", "POST", "/api/v1/artifacts", "create", `{"parent_id": "00000000000000000000000000", "data": {}}`},
		{"an unknown artifact", "GET", "/api/v1/artifacts/01ARZ3NDEKTSV4RRFFQ69G5FAV", "get", map[string]any{"id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}},
		{"an unknown tree", "POST", "/api/v1/artifacts/$tree", "tree", map[string]any{"root_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}},
		{"a negative depth", "POST", "/api/v1/artifacts/$tree", "tree", map[string]any{"root_id": exp.ID, "max_depth": -1}},
		{"a delete with children", "DELETE", "/api/v1/artifacts/" + exp.ID, "delete", map[string]any{"id": exp.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			if tc.method == "GET" || tc.method == "DELETE" {
				body = nil
			}
			h := c.do(tc.method, tc.path, body, nil)
			status, n := overNATS(tc.endpoint, tc.body, nil)
			if h.status != status {
				t.Fatalf("HTTP %d %s, NATS %d %s", h.status, h.body, status, n)
			}
			same(t, tc.name, h.body, n, "instance")
		})
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}

// same fails unless a and b are the same JSON object but for the keys
// named (at the top level).
func same(t *testing.T, what string, a, b []byte, except ...string) {
	t.Helper()
	var x, y map[string]any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %.300s: %v", what, a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %.300s: %v", what, b, err)
	}
	for _, k := range except {
		delete(x, k)
		delete(y, k)
	}
	bx, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	if !bytes.Equal(bx, by) {
		ulids := regexp.MustCompile(`[0-9A-Z]{26}`)
		t.Fatalf("%s: HTTP\n%.400s\nNATS\n%.400s", what, ulids.ReplaceAll(bx, []byte("ID")), ulids.ReplaceAll(by, []byte("ID")))
	}
}
