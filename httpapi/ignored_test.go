package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/projection"
)

// forge appends ev to e's log on the subject of id's own events, as a
// writer other than arbor's commands could, with the body given (ev's own
// JSON when empty), and waits until the projection has applied it.
func forge(t *testing.T, e *env, id string, ev events.Event, body string) {
	t.Helper()
	var place events.Place
	e.st.Projection.Read(func(s *projection.State) {
		a, _ := s.Get(ulid.MustParse(id))
		place = a.Place()
	})
	h, b, err := events.Encode(events.Envelope{ID: ulid.Make(), Time: time.Now(), Event: ev}, "forger")
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		b = []byte(body)
	}
	subject := e.st.Log.Layout().Art(place, ulid.MustParse(id))
	ack, err := e.st.JS.PublishMsg(t.Context(), &nats.Msg{Subject: subject, Header: h, Data: b})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.Projection.WaitFor(t.Context(), ack.Sequence); err != nil {
		t.Fatal(err)
	}
}

// An update whose data is no JSON object, appended to the log by someone
// else than arbor, is ignored: /health counts it, and the artifact still
// reads as it was and takes new content (which such data used to fail with
// 500).
func TestHealthCountsIgnoredEvents(t *testing.T) {
	e := newEnv(t)
	a := e.root("", "target")
	health := func() (pos uint64, ignored int) {
		t.Helper()
		var rep struct {
			Position uint64 `json:"position"`
			Ignored  *int   `json:"ignored_events"`
		}
		wantJSON(t, e.do(http.MethodGet, "/health", ""), http.StatusOK, &rep)
		if rep.Ignored == nil {
			t.Fatalf("/health has no ignored_events")
		}
		return rep.Position, *rep.Ignored
	}
	if _, n := health(); n != 0 {
		t.Fatalf("ignored_events = %d before anything was forged, want 0", n)
	}
	id := ulid.MustParse(a.ID)
	for i, data := range []string{`[1,2]`, `"x"`, `null`} {
		forge(t, e, a.ID, events.ArtifactUpdated{ID: id, Tags: []string{}, Data: json.RawMessage(data)}, "")
		last, err := e.st.Log.LastSeq(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if pos, n := health(); pos != last || n != i+1 {
			t.Fatalf("/health = position %d, ignored_events %d; want %d and %d", pos, n, last, i+1)
		}
	}
	// A body that does not decode at all.
	forge(t, e, a.ID, events.ArtifactUpdated{ID: id}, `{"id":"`+a.ID+`","data":`)
	if _, n := health(); n != 4 {
		t.Fatalf("ignored_events = %d, want 4", n)
	}
	got := e.get(a.ID)
	if got.Version != 1 || !sameJSON(got.Data, []byte(`{"name":"target"}`)) {
		t.Fatalf("GET after forged updates = version %d data %s, want version 1 as created", got.Version, got.Data)
	}
	r, _ := uploadContent(t, e.url, a.ID, strings.NewReader("bytes"), 5, "text/plain")
	want(t, r, http.StatusOK)
	want(t, e.do(http.MethodPut, base+"/"+a.ID, `{"data":{"name":"again"}}`), http.StatusOK)
	want(t, e.do(http.MethodDelete, base+"/"+a.ID, ""), http.StatusNoContent)
}

// arbor writes no DataFrame that does not parse, but the log may hold one:
// its download is the JSON it holds, as for any JSON content, and CSV,
// which only a DataFrame has, is refused as for any other content.
func TestDownloadOfADataFrameThatDoesNotParse(t *testing.T) {
	e := newEnv(t)
	a := e.root("", "frame")
	data := `{"content_type":"` + dataFrameType + `","content":{"columns":"a","rows":[1]}}`
	forge(t, e, a.ID, events.ArtifactUpdated{ID: ulid.MustParse(a.ID), Tags: []string{}, Data: json.RawMessage(data)}, "")
	if got := e.get(a.ID); got.Version != 2 || !sameJSON(got.Data, []byte(data)) {
		t.Fatalf("GET = version %d data %s, want the update folded in", got.Version, got.Data)
	}
	path := base + "/" + a.ID + "/$download"
	for _, hdr := range [][]string{nil, {"Accept", "text/csv"}} {
		r := e.do(http.MethodGet, path, "", hdr...)
		want(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); ct != dataFrameType || !sameJSON(r.Body, []byte(`{"columns":"a","rows":[1]}`)) {
			t.Fatalf("%v: Content-Type %q; want the JSON as stored, as %s", r, ct, dataFrameType)
		}
	}
	wantField(t, e.do(http.MethodGet, path+"?format=csv", ""), "format")
}
