package natsapi_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/internal/arbortest"
	"arbor/projection"
)

// JSON content moved out of its event is read back into the artifact a get
// answers: an object in the store that no longer holds it (overwritten, or
// gone) is a 502 problem, never the other bytes.
func TestGetRefusesTamperedContent(t *testing.T) {
	st := arbortest.New(t, mlPipeline, documents)
	h := st.Handler
	// Data of more than 200 bytes moves its content to the object store.
	st.ServeNATS(t, &command.Handler{Log: h.Log, Projection: h.Projection, Hierarchies: h.Hierarchies,
		NewID: h.NewID, Now: h.Now, MaxData: 200, Blobs: h.Blobs, Timeout: h.Timeout})
	nc := client(t, st.Server)
	content := `{"values": [` + strings.Repeat(`1.5, `, 100) + `2]}`
	a, _ := create(t, nc, `{"data": {"name": "moved", "content": `+content+`}}`)
	var sha string
	st.Projection.Read(func(s *projection.State) {
		if got, ok := s.Get(ulid.MustParse(a.ID)); ok && got.Content != nil && got.Content.JSON {
			sha = got.Content.SHA256
		}
	})
	if sha == "" {
		t.Fatalf("the content of %s was not moved to the object store", a.ID)
	}
	get := `{"id": "` + a.ID + `"}`
	ok(t, nc, "get", get, nil)

	obs, err := st.JS.ObjectStore(t.Context(), "ARTIFACTS_CONTENT")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := obs.Put(t.Context(), jetstream.ObjectMeta{Name: "sha256/" + sha}, strings.NewReader(`{"evil": true}`)); err != nil {
		t.Fatal(err)
	}
	wantProblem := func(typ string) {
		t.Helper()
		r := call(t, nc, "get", get)
		var p struct {
			Type   string `json:"type"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil || r.Status != 502 || p.Status != 502 || p.Type != typ {
			t.Fatalf("get of %s = %d %s, want a 502 problem of type %s", a.ID, r.Status, r.Body, typ)
		}
		if bytes.Contains(r.Body, []byte("evil")) || bytes.Contains(r.Body, []byte(sha)) {
			t.Fatalf("get of %s = %s: the other bytes or the digest in the reply", a.ID, r.Body)
		}
	}
	wantProblem("urn:arbor:error:content-corrupt")
	if err := obs.Delete(t.Context(), "sha256/"+sha); err != nil {
		t.Fatal(err)
	}
	wantProblem("urn:arbor:error:content-missing")
}
