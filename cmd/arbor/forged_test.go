package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/internal/natsauth"
	"arbor/projection"
)

// forger appends messages to the log of an arbor by hand, with arbor's own
// connection and codec but past its commands: what an older arbor, an
// operator's mistake or a bug could leave in the log.
type forger struct {
	t  *testing.T
	m  *Main
	js jetstream.JetStream
}

func newForger(t *testing.T, m *Main) *forger {
	t.Helper()
	js, err := jetstream.New(m.Conn())
	if err != nil {
		t.Fatal(err)
	}
	return &forger{t: t, m: m, js: js}
}

// place is where the artifact id's tree lives in the subject space.
func (f *forger) place(id string) events.Place {
	f.t.Helper()
	var (
		a  projection.Artifact
		ok bool
	)
	f.m.Projection().Read(func(s *projection.State) { a, ok = s.Get(ulid.MustParse(id)) })
	if !ok {
		f.t.Fatalf("artifact %s is not in the projection", id)
	}
	return a.Place()
}

func (f *forger) layout() events.Layout { return f.m.Log().Layout() }

// art is the subject of id's own events.
func (f *forger) art(id string) string { return f.layout().Art(f.place(id), ulid.MustParse(id)) }

// kids is the subject of the creations of id's children, of level label.
func (f *forger) kids(id, label string) string {
	return f.layout().Kids(f.place(id), ulid.MustParse(id), label)
}

// legacy is a subject of the first layout: x's event in hierarchy h, in
// the consistency boundary b.
func (f *forger) legacy(h, b, x, label, kind string) string {
	return strings.Join([]string{f.layout().Prefix, h, b, x, label, kind}, ".")
}

// forgery is one message appended by hand: ev encoded as arbor encodes it,
// on subject; body, when not empty, replaces the encoded body, and typ the
// event type header.
type forgery struct {
	name    string
	subject string
	ev      events.Event
	body    string
	typ     string
}

// append publishes fg and returns its position. The message has no
// Nats-Msg-Id, so that the server stores it even when it repeats one of
// arbor's.
func (f *forger) append(fg forgery) uint64 {
	f.t.Helper()
	h, body, err := events.Encode(events.Envelope{ID: ulid.Make(), Time: time.Now(), Event: fg.ev}, "forger")
	if err != nil {
		f.t.Fatal(err)
	}
	h.Del(nats.MsgIdHdr)
	if fg.body != "" {
		body = []byte(fg.body)
	}
	if fg.typ != "" {
		h.Set(events.HeaderType, fg.typ)
	}
	ack, err := f.js.PublishMsg(f.t.Context(), &nats.Msg{Subject: fg.subject, Header: h, Data: body})
	if err != nil {
		f.t.Fatalf("%s: publish on %s: %v", fg.name, fg.subject, err)
	}
	if ack.Duplicate {
		f.t.Fatalf("%s: the server dropped it as a duplicate", fg.name)
	}
	return ack.Sequence
}

// forgedHealth is what /health says of the projection.
type forgedHealth struct {
	Position uint64 `json:"position"`
	Ignored  *int   `json:"ignored_events"`
}

func (c *testClient) forgedHealth() forgedHealth {
	c.t.Helper()
	var h forgedHealth
	c.must(http.StatusOK, http.MethodGet, "/health", nil, &h)
	if h.Ignored == nil {
		c.t.Fatalf("%s/health has no ignored_events", c.base)
	}
	return h
}

// view is everything a reader of the API sees of the artifacts ids and the
// whole store: each artifact as GET, $expand and $download answer it, the
// subtree of each root, the list and the counts.
func (c *testClient) view(ids, roots []string) string {
	c.t.Helper()
	var b strings.Builder
	for _, id := range ids {
		for _, p := range []string{"", "/$expand", "/$download"} {
			r := c.do(http.MethodGet, testAPI+"/"+id+p, nil, nil)
			if r.status >= 500 {
				c.t.Fatalf("GET %s%s = %s, want no 5xx", id, p, r)
			}
			fmt.Fprintf(&b, "GET %s%s = %d %s %s\n", id, p, r.status, r.header.Get("ETag"), r.body)
		}
	}
	for _, id := range roots {
		r := c.do(http.MethodGet, testAPI+"/"+id+"/$tree", nil, nil)
		if r.status >= 500 {
			c.t.Fatalf("GET %s/$tree = %s, want no 5xx", id, r)
		}
		fmt.Fprintf(&b, "tree %s = %d %s\n", id, r.status, r.body)
	}
	list, _ := json.Marshal(c.listAll())
	fmt.Fprintf(&b, "list = %s\n", list)
	r := c.must(http.StatusOK, http.MethodGet, testAPI+"/$stats", nil, nil)
	fmt.Fprintf(&b, "stats = %s\n", r.body)
	return b.String()
}

// Events that break arbor's rules, appended to the log past its commands,
// are ignored and counted the same way by every instance and every replay:
// two instances on one NATS server, a restart from a snapshot and a full
// replay all answer the same, /health counts the same number of ignored
// events, no read answers 5xx, and every artifact stays as it was,
// readable and writable.
func TestForgedEvents(t *testing.T) {
	cfgA := testMainConfig(t.TempDir())
	cfgA.NATSListen = "127.0.0.1:0"
	cfgA.SnapshotEvery = 1000 // and at shutdown
	a := openTestMain(t, cfgA)
	cfgB := testMainConfig("")
	cfgB.NATSURL = a.m.NATSURL()
	cfgB.NATSCreds = a.m.CredentialFile(natsauth.Admin)
	b := openTestMain(t, cfgB)
	a.c.waitHealthy(10 * time.Second)
	b.c.waitHealthy(10 * time.Second)

	// A tree of the README's hierarchy, and a root of another.
	var exp, model, pred, doc testDoc
	a.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"name": "exp"}, "tags": []string{"exp-1"}}, &exp)
	a.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": exp.ID, "data": map[string]any{"name": "model"}}, &model)
	a.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": model.ID, "data": map[string]any{"name": "pred"}}, &pred)
	a.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"hierarchy": "documents", "data": map[string]any{"name": "doc"}}, &doc)
	ids := []string{exp.ID, model.ID, pred.ID, doc.ID}
	roots := []string{exp.ID, doc.ID}
	waitBoth := func(pos uint64) {
		t.Helper()
		for _, in := range []*testInstance{a, b} {
			if err := in.m.Projection().WaitFor(t.Context(), pos); err != nil {
				t.Fatalf("waiting for position %d: %v", pos, err)
			}
		}
	}
	last, err := a.m.Log().LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitBoth(last)
	before := a.c.view(ids, roots)
	if h := a.c.forgedHealth(); *h.Ignored != 0 {
		t.Fatalf("ignored_events = %d after arbor's own writes, want 0", *h.Ignored)
	}

	f := newForger(t, a.m)
	expID, modelID := ulid.MustParse(exp.ID), ulid.MustParse(model.ID)
	stranger := ulid.Make()
	movedData := `{"content_type":"application/json","content":null}`
	movedAt := strings.Index(movedData, "null")
	update := func(data string, c *events.Content) events.ArtifactUpdated {
		return events.ArtifactUpdated{ID: expID, Tags: []string{}, Data: json.RawMessage(data), Content: c}
	}
	child := func(level int, hier, data string) events.ArtifactCreated {
		return events.ArtifactCreated{ID: events.WithKey(ulid.Make(), events.Key(expID)), Parent: modelID,
			Hierarchy: hier, Level: level, Tags: []string{}, Data: json.RawMessage(data)}
	}
	const sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	otherShard := events.Place{Key: events.Key(stranger) ^ 1<<14, Hierarchy: "ml_pipeline"}
	forgeries := []forgery{
		{name: "update: data an array", subject: f.art(exp.ID), ev: update(`[1,2]`, nil)},
		{name: "update: data a string", subject: f.art(exp.ID), ev: update(`"x"`, nil)},
		{name: "update: data null", subject: f.art(exp.ID), ev: update(`null`, nil)},
		{name: "update: data a number", subject: f.art(exp.ID), ev: update(`42`, nil)},
		{name: "update: no data", subject: f.art(exp.ID), ev: update(`{}`, nil), body: `{"id":"` + exp.ID + `","tags":[]}`},
		{name: "update: a body that is not JSON", subject: f.art(exp.ID), ev: update(`{}`, nil), body: `{"id":"` + exp.ID + `","data":{"a":`},
		{name: "update: an event type no arbor knows", subject: f.art(exp.ID), ev: update(`{"v":1}`, nil), typ: "artifact.renamed"},
		{name: "update: a SHA-256 in capitals", subject: f.art(exp.ID),
			ev: update(`{"content_type":"application/zip"}`, &events.Content{SHA256: strings.ToUpper(sha), Size: 5, Type: "application/zip"})},
		{name: "update: a SHA-256 of 10 digits", subject: f.art(exp.ID),
			ev: update(`{"content_type":"application/zip"}`, &events.Content{SHA256: sha[:10], Size: 5, Type: "application/zip"})},
		{name: "update: a negative size", subject: f.art(exp.ID),
			ev: update(`{"content_type":"application/zip"}`, &events.Content{SHA256: sha, Size: -5, Type: "application/zip"})},
		{name: "update: no content type", subject: f.art(exp.ID),
			ev: update(`{}`, &events.Content{SHA256: sha, Size: 5})},
		{name: "update: moved JSON past the end of data", subject: f.art(exp.ID),
			ev: update(movedData, &events.Content{SHA256: sha, Size: 5, Type: "application/json", JSON: true, Offset: 5000})},
		{name: "update: moved JSON at no null", subject: f.art(exp.ID),
			ev: update(movedData, &events.Content{SHA256: sha, Size: 5, Type: "application/json", JSON: true, Offset: 1})},
		{name: `update: moved JSON at a "null" in a string`, subject: f.art(exp.ID),
			ev: update(`{"a":"null","content":null}`, &events.Content{SHA256: sha, Size: 5, Type: "application/json", JSON: true, Offset: 6})},
		{name: "update: moved JSON of no bytes", subject: f.art(exp.ID),
			ev: update(movedData, &events.Content{SHA256: sha, Type: "application/json", JSON: true, Offset: movedAt})},
		{name: "update: a body naming another artifact", subject: f.art(exp.ID),
			ev: events.ArtifactUpdated{ID: modelID, Tags: []string{}, Data: json.RawMessage(`{"v":1}`)}},
		{name: "update: on the kids subject", subject: f.kids(exp.ID, "model"), ev: update(`{"v":1}`, nil)},
		{name: "update: of an id never created", subject: f.layout().Art(otherShard, stranger),
			ev: events.ArtifactUpdated{ID: stranger, Tags: []string{}, Data: json.RawMessage(`{}`)}},
		{name: "update: the first layout, another hierarchy", subject: f.legacy("documents", exp.ID, exp.ID, "experiment", "updated"),
			ev: update(`{"v":1}`, nil)},
		{name: "update: the first layout, data an array", subject: f.legacy("ml_pipeline", exp.ID, exp.ID, "experiment", "updated"),
			ev: update(`[]`, nil)},
		{name: "create: data an array", subject: f.kids(model.ID, "predictions"), ev: child(2, "ml_pipeline", `[1]`)},
		{name: "create: a malformed content reference", subject: f.kids(model.ID, "predictions"),
			ev: events.ArtifactCreated{ID: ulid.Make(), Parent: modelID, Hierarchy: "ml_pipeline", Level: 2, Data: json.RawMessage(`{}`),
				Content: &events.Content{SHA256: "not a digest", Size: 1, Type: "text/plain"}}},
		{name: "create: another hierarchy than the parent's", subject: f.kids(model.ID, "predictions"), ev: child(2, "documents", `{}`)},
		{name: "create: a level that is not the parent's plus one", subject: f.kids(model.ID, "predictions"), ev: child(7, "ml_pipeline", `{}`)},
		{name: "create: on a kids subject of another label", subject: f.kids(model.ID, "other"), ev: child(2, "ml_pipeline", `{}`)},
		{name: "create: under a parent never created", subject: f.layout().Kids(otherShard, stranger, "model"),
			ev: events.ArtifactCreated{ID: ulid.Make(), Parent: stranger, Hierarchy: "ml_pipeline", Level: 1, Data: json.RawMessage(`{}`)}},
		{name: "create: an id used already", subject: f.kids(exp.ID, "model"),
			ev: events.ArtifactCreated{ID: modelID, Parent: expID, Hierarchy: "ml_pipeline", Level: 1, Data: json.RawMessage(`{}`)}},
		{name: "create: a root on another shard", subject: f.layout().Root(otherShard, stranger, "experiment"),
			ev: events.ArtifactCreated{ID: stranger, Hierarchy: "ml_pipeline", Data: json.RawMessage(`{}`)}},
		{name: "create: a root whose subject names another id", subject: f.layout().Root(f.place(doc.ID), ulid.MustParse(doc.ID), "x"),
			ev: events.ArtifactCreated{ID: ulid.Make(), Hierarchy: "documents", Data: json.RawMessage(`{}`)}},
		{name: "create: a root with data null", subject: f.layout().Root(events.Place{Key: events.Key(stranger), Hierarchy: "documents"}, stranger, "x"),
			ev: events.ArtifactCreated{ID: stranger, Hierarchy: "documents", Data: json.RawMessage(`null`)}},
		{name: "delete: an artifact with live children", subject: f.art(exp.ID), ev: events.ArtifactDeleted{ID: expID}},
		{name: "delete: the first layout, another hierarchy", subject: f.legacy("documents", pred.ID, pred.ID, "predictions", "deleted"),
			ev: events.ArtifactDeleted{ID: ulid.MustParse(pred.ID)}},
		{name: "a subject outside the layouts", subject: f.layout().Prefix + ".not.an.arbor.subject", ev: update(`{"v":1}`, nil)},
	}
	for i, fg := range forgeries {
		pos := f.append(fg)
		waitBoth(pos)
		ha, hb := a.c.forgedHealth(), b.c.forgedHealth()
		if ha.Position != pos || hb.Position != pos || *ha.Ignored != i+1 || *hb.Ignored != i+1 {
			t.Fatalf("%s: /health = A %d ignoring %d, B %d ignoring %d; want both at %d ignoring %d",
				fg.name, ha.Position, *ha.Ignored, hb.Position, *hb.Ignored, pos, i+1)
		}
		if got := a.c.view(ids, roots); got != before {
			t.Fatalf("%s: A answers\n%s\nwant, as before it,\n%s", fg.name, got, before)
		}
		if got := b.c.view(ids, roots); got != before {
			t.Fatalf("%s: B answers\n%s\nwant, as before it,\n%s", fg.name, got, before)
		}
	}
	ignored := len(forgeries)

	// A well-formed reference to content the object store does not hold is
	// arbor's to fold (no fold can know); reading it is a clear problem.
	missing := forgery{name: "update: content the store does not hold", subject: f.art(doc.ID),
		ev: events.ArtifactUpdated{ID: ulid.MustParse(doc.ID), Tags: []string{}, Data: json.RawMessage(`{"name":"doc"}`),
			Content: &events.Content{SHA256: sha, Size: 5, Type: "application/zip"}}}
	waitBoth(f.append(missing))
	for _, c := range []*testClient{a.c, b.c} {
		r := c.do(http.MethodGet, testAPI+"/"+doc.ID+"/$download", nil, nil)
		if r.status != http.StatusBadGateway || r.header.Get("Content-Type") != "application/problem+json" ||
			!strings.Contains(string(r.body), "urn:arbor:error:content-missing") {
			t.Fatalf("download of content the store does not hold = %s, want a 502 problem", r)
		}
		if h := c.forgedHealth(); *h.Ignored != ignored {
			t.Fatalf("ignored_events = %d, want %d: the reference is well-formed", *h.Ignored, ignored)
		}
	}

	// Every artifact stays writable, on either instance.
	var up testDoc
	a.c.must(http.StatusOK, http.MethodPut, testAPI+"/"+exp.ID, map[string]any{"data": map[string]any{"name": "exp", "v": 2}, "tags": []string{"exp-1"}}, &up)
	if up.Version != 2 {
		t.Fatalf("PUT of exp: version %d, want 2", up.Version)
	}
	r := b.c.do(http.MethodPut, testAPI+"/"+model.ID+"/$content", []byte("model weights"), map[string]string{"Content-Type": "application/zip"})
	if r.status != http.StatusOK {
		t.Fatalf("PUT $content of model on B = %s, want 200", r)
	}
	var kid testDoc
	a.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": model.ID, "data": map[string]any{"name": "pred 2"}}, &kid)
	a.c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+pred.ID, nil, nil)
	pos := a.c.must(http.StatusOK, http.MethodPut, testAPI+"/"+doc.ID, map[string]any{"data": map[string]any{"name": "doc", "v": 3}}, nil).position()
	wait := map[string]string{"Arbor-Min-Position": fmt.Sprint(pos)}
	if r := b.c.do(http.MethodDelete, testAPI+"/"+doc.ID, nil, wait); r.status != http.StatusNoContent {
		t.Fatalf("DELETE of doc on B = %s, want 204", r)
	}
	ids = append(ids, kid.ID)
	last, err = a.m.Log().LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitBoth(last)
	after := a.c.view(ids, roots)
	if got := b.c.view(ids, roots); got != after {
		t.Fatalf("after the writes B answers\n%s\nwant, as A,\n%s", got, after)
	}
	for _, c := range []*testClient{a.c, b.c} {
		if h := c.forgedHealth(); h.Position != last || *h.Ignored != ignored {
			t.Fatalf("after the writes /health = %d ignoring %d, want %d ignoring %d", h.Position, *h.Ignored, last, ignored)
		}
	}

	// A restart from the snapshot saved at shutdown answers and counts the
	// same; so does a full replay, with one more forged event on top.
	if err := b.close(); err != nil {
		t.Fatal(err)
	}
	if err := a.close(); err != nil {
		t.Fatal(err)
	}
	cfgA.NATSListen = ""
	m, rec, c := openRecorded(t, cfgA)
	if !rec.said("snapshot loaded") {
		t.Fatal("the restart did not load the snapshot saved at shutdown")
	}
	if got := c.view(ids, roots); got != after {
		t.Fatalf("from the snapshot:\n%s\nwant\n%s", got, after)
	}
	if h := c.forgedHealth(); h.Position != last || *h.Ignored != ignored {
		t.Fatalf("from the snapshot /health = %d ignoring %d, want %d ignoring %d", h.Position, *h.Ignored, last, ignored)
	}
	f = newForger(t, m)
	last = f.append(forgeries[0])
	if err := m.Projection().WaitFor(t.Context(), last); err != nil {
		t.Fatal(err)
	}
	ignored++
	if h := c.forgedHealth(); h.Position != last || *h.Ignored != ignored {
		t.Fatalf("after one more /health = %d ignoring %d, want %d ignoring %d", h.Position, *h.Ignored, last, ignored)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	cfgA.SnapshotEvery = 0
	m, rec, c = openRecorded(t, cfgA)
	defer m.Close()
	if rec.said("snapshot loaded") {
		t.Fatal("with snapshots off the restart loaded one")
	}
	if got := c.view(ids, roots); got != after {
		t.Fatalf("from a full replay:\n%s\nwant\n%s", got, after)
	}
	if h := c.forgedHealth(); h.Position != last || *h.Ignored != ignored {
		t.Fatalf("from a full replay /health = %d ignoring %d, want %d ignoring %d", h.Position, *h.Ignored, last, ignored)
	}
}
