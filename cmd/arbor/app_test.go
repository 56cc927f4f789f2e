package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"arbor/internal/lockfile"
	"arbor/internal/natsauth"
)

// TestWalkthrough follows the README: an experiment, its model, the
// model's predictions, and the tree with its level labels.
func TestWalkthrough(t *testing.T) {
	in := openTestMain(t, testMainConfig(t.TempDir()))
	c := in.c
	c.waitHealthy(10 * time.Second)

	var h struct {
		Status string `json:"status"`
		Checks map[string]struct {
			State string `json:"state"`
		} `json:"checks"`
	}
	c.must(http.StatusOK, http.MethodGet, "/health", nil, &h)
	for _, name := range []string{"nats", "projection", "kv_view"} {
		if h.Checks[name].State != "healthy" {
			t.Errorf("health check %s = %q, want healthy (%+v)", name, h.Checks[name].State, h)
		}
	}

	var exp, model, pred testDoc
	r := c.must(http.StatusCreated, http.MethodPost, testAPI,
		map[string]any{"tags": []string{"exp-1"}, "data": map[string]any{"name": "baseline", "lr": 0.01}}, &exp)
	if loc := r.header.Get("Location"); loc != testAPI+"/"+exp.ID {
		t.Errorf("Location = %q, want %q", loc, testAPI+"/"+exp.ID)
	}
	if r.position() == 0 {
		t.Errorf("create answered without an Arbor-Position header")
	}
	if exp.Level != 0 || exp.ParentID != nil || exp.Hierarchy != "ml_pipeline" || exp.Version != 1 || !slices.Equal(exp.Tags, []string{"exp-1"}) {
		t.Errorf("experiment = %+v, want a level 0 root of ml_pipeline, version 1, tags [exp-1]", exp)
	}
	c.must(http.StatusCreated, http.MethodPost, testAPI,
		map[string]any{"parent_id": strings.ToLower(exp.ID), "data": map[string]any{"type": "generic", "metadata": map[string]any{"acc": 0.9}}}, &model)
	if model.Level != 1 || model.ParentID == nil || *model.ParentID != exp.ID {
		t.Errorf("model = %+v, want level 1 under %s", model, exp.ID)
	}
	c.must(http.StatusCreated, http.MethodPost, testAPI,
		map[string]any{"parent_id": model.ID, "data": map[string]any{"rows": 3}}, &pred)
	if pred.Level != 2 {
		t.Errorf("predictions level = %d, want 2", pred.Level)
	}
	// ml_pipeline has three levels: nothing below predictions.
	if r := c.do(http.MethodPost, testAPI, map[string]any{"parent_id": pred.ID, "data": map[string]any{}}, nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("create below predictions = %s, want 422", r)
	}

	var tree testDoc
	c.must(http.StatusOK, http.MethodGet, testAPI+"/"+exp.ID+"/$tree", nil, &tree)
	labels := []string{}
	for n := &tree; n != nil; {
		labels = append(labels, fmt.Sprintf("%s:%s:%d", n.ID, n.LevelLabel, n.Level))
		if n.Children == nil {
			t.Fatalf("tree node %s has children null, want a list", n.ID)
		}
		switch len(*n.Children) {
		case 0:
			n = nil
		case 1:
			n = &(*n.Children)[0]
		default:
			t.Fatalf("tree node %s has %d children, want 1", n.ID, len(*n.Children))
		}
	}
	want := []string{exp.ID + ":experiment:0", model.ID + ":model:1", pred.ID + ":predictions:2"}
	if !slices.Equal(labels, want) {
		t.Errorf("tree = %v, want %v", labels, want)
	}
	var cut testDoc
	c.must(http.StatusOK, http.MethodGet, testAPI+"/"+exp.ID+"/%24tree?max_depth=0", nil, &cut)
	if cut.Children != nil {
		t.Errorf("tree with max_depth=0 has children %v, want null", *cut.Children)
	}

	var meta map[string]any
	c.must(http.StatusOK, http.MethodGet, testAPI+"/"+model.ID+"/$metadata", nil, &meta)
	if meta["acc"] != 0.9 {
		t.Errorf("metadata = %v, want acc 0.9", meta)
	}

	// A second hierarchy without labels: level_<n>.
	var d0, d1 testDoc
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"hierarchy": "documents", "data": map[string]any{}}, &d0)
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": d0.ID, "data": map[string]any{}}, &d1)
	var ex testDoc
	c.must(http.StatusOK, http.MethodGet, testAPI+"/"+d1.ID+"/$expand", nil, &ex)
	if ex.Hierarchy != "documents" || ex.LevelLabel != "level_1" {
		t.Errorf("expand = %+v, want documents level_1", ex)
	}

	// Update with If-Match, then a stale one.
	var upd testDoc
	r = c.do(http.MethodPut, testAPI+"/"+pred.ID, map[string]any{"data": map[string]any{"rows": 4}}, map[string]string{"If-Match": `"1"`})
	if r.status != http.StatusOK || json.Unmarshal(r.body, &upd) != nil || upd.Version != 2 || r.header.Get("ETag") != `"2"` {
		t.Fatalf("PUT with If-Match 1 = %s (ETag %s), want 200 version 2", r, r.header.Get("ETag"))
	}
	if r := c.do(http.MethodPut, testAPI+"/"+pred.ID, map[string]any{"data": map[string]any{}}, map[string]string{"If-Match": `"1"`}); r.status != http.StatusPreconditionFailed {
		t.Errorf("PUT with a stale If-Match = %s, want 412", r)
	}

	var list testPage
	c.must(http.StatusOK, http.MethodGet, testAPI, nil, &list)
	var ids []string
	for _, it := range list.Items {
		ids = append(ids, it.ID)
	}
	if want := []string{exp.ID, model.ID, pred.ID, d0.ID, d1.ID}; !slices.Equal(ids, want) || list.Total != 5 {
		t.Errorf("list = %v (total %d), want %v", ids, list.Total, want)
	}

	// Deleting needs the leaves gone first.
	if r := c.do(http.MethodDelete, testAPI+"/"+model.ID, nil, nil); r.status != http.StatusConflict {
		t.Errorf("DELETE of a model with predictions = %s, want 409", r)
	}
	c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+pred.ID, nil, nil)
	c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+model.ID, nil, nil)
	c.must(http.StatusNotFound, http.MethodGet, testAPI+"/"+model.ID, nil, nil)
	c.must(http.StatusOK, http.MethodGet, testAPI+"/"+exp.ID+"/$tree", nil, &tree)
	if tree.Children == nil || len(*tree.Children) != 0 {
		t.Errorf("tree after deletes = %+v, want a leaf", tree)
	}
	c.waitHealthy(5 * time.Second)
}

// TestDataDirLock: two arbors never open one store.
func TestDataDirLock(t *testing.T) {
	dir := t.TempDir()
	first := openTestMain(t, testMainConfig(dir))
	var a testDoc
	first.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"k": 1}}, &a)

	for range 2 {
		cfg := testMainConfig(dir)
		second := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler)}
		err := second.Open(t.Context())
		if cerr := second.Close(); cerr != nil {
			t.Errorf("Close after a failed Open: %v", cerr)
		}
		if !errors.Is(err, lockfile.ErrLocked) {
			t.Fatalf("second Open on %s = %v, want an error wrapping lockfile.ErrLocked", dir, err)
		}
		if !strings.Contains(err.Error(), dir) {
			t.Fatalf("second Open error %q does not name %s", err, dir)
		}
	}
	// The first still serves after the failed attempts.
	first.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+a.ID, nil, nil)

	if err := first.close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	third := openTestMain(t, testMainConfig(dir))
	third.c.waitHealthy(10 * time.Second)
	var got testDoc
	third.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+a.ID, nil, &got)
	if !jsonEqual(got.Data, a.Data) {
		t.Errorf("after reopening, data = %s, want %s", got.Data, a.Data)
	}
}

// TestKVViewMatchesArtifacts: once the bucket's writer has caught up, the
// bucket holds exactly the live artifacts, as GET /{id} serves them.
func TestKVViewMatchesArtifacts(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.NATSListen = "127.0.0.1:0"
	in := openTestMain(t, cfg)
	c := in.c
	c.waitHealthy(10 * time.Second)

	// Roots, children, grandchildren; update some, delete others.
	for i := range 20 {
		var root testDoc
		c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"tags": []string{fmt.Sprintf("r%d", i)}, "data": map[string]any{"i": i}}, &root)
		var child testDoc
		c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": root.ID, "data": map[string]any{"i": i, "content": strings.Repeat("x", i)}}, &child)
		var grand testDoc
		c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": child.ID, "data": map[string]any{"nested": map[string]any{"i": i}}}, &grand)
		switch i % 4 {
		case 0:
			c.must(http.StatusOK, http.MethodPut, testAPI+"/"+grand.ID, map[string]any{"tags": []string{"updated"}, "data": map[string]any{"v": 2}}, nil)
			c.must(http.StatusOK, http.MethodPut, testAPI+"/"+grand.ID, map[string]any{"data": map[string]any{"v": 3}}, nil)
		case 1:
			c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+grand.ID, nil, nil)
		case 2:
			c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+grand.ID, nil, nil)
			c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+child.ID, nil, nil)
			c.must(http.StatusNoContent, http.MethodDelete, testAPI+"/"+root.ID, nil, nil)
		}
	}
	items := c.listAll()
	if len(items) != 20*3-5*1-5*3 {
		t.Fatalf("%d live artifacts, want %d", len(items), 20*3-5*1-5*3)
	}

	nc, err := nats.Connect(in.m.NATSURL(), seedOption(t, in.m.CredentialFile(natsauth.Reader)))
	if err != nil {
		t.Fatalf("connect to %q: %v", in.m.NATSURL(), err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	kv, err := js.KeyValue(ctx, "ARTIFACTS_STATE")
	if err != nil {
		t.Fatalf("open bucket ARTIFACTS_STATE: %v", err)
	}
	cons, err := js.Consumer(ctx, "ARTIFACTS", "ARTIFACTS_STATE_writer")
	if err != nil {
		t.Fatalf("consumer ARTIFACTS_STATE_writer: %v", err)
	}
	var info *jetstream.ConsumerInfo
	settled := pollUntil(ctx, 20*time.Second, func() bool {
		info, err = cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	if !settled {
		t.Fatalf("the bucket writer never caught up: %+v, %v", info, err)
	}
	if info.Delivered.Stream == 0 {
		t.Fatalf("the bucket writer has delivered nothing: %+v", info)
	}

	lister, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatalf("list keys: %v", err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	slices.Sort(keys)
	slices.Sort(ids)
	if !slices.Equal(keys, ids) {
		t.Fatalf("bucket keys (%d) = %v\nlive ids (%d) = %v", len(keys), keys, len(ids), ids)
	}
	for _, id := range ids {
		e, err := kv.Get(ctx, id)
		if err != nil {
			t.Fatalf("kv get %s: %v", id, err)
		}
		r := c.must(http.StatusOK, http.MethodGet, testAPI+"/"+id, nil, nil)
		if !jsonEqual(e.Value(), r.body) {
			t.Errorf("bucket holds %s for %s\nGET /%s serves %s", e.Value(), id, id, r.body)
		}
	}
	c.waitHealthy(5 * time.Second)
}

// TestCloseFinishesInFlightRequests: requests that have reached their
// handler when Close is called are answered 2xx, and what they wrote is
// there after a restart.
func TestCloseFinishesInFlightRequests(t *testing.T) {
	dir := t.TempDir()
	in := openTestMain(t, testMainConfig(dir))
	c := in.c
	c.waitHealthy(10 * time.Second)
	var root testDoc
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"v": 1}}, &root)
	var updated testDoc
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": root.ID, "data": map[string]any{"v": 1}}, &updated)

	type request struct {
		method, path string
		body         []byte
		pw           *io.PipeWriter
	}
	var reqs []*request
	for i := range 4 {
		reqs = append(reqs, &request{method: http.MethodPost, path: testAPI,
			body: fmt.Appendf(nil, `{"parent_id":%q,"data":{"in_flight":%d}}`, root.ID, i)})
	}
	reqs = append(reqs, &request{method: http.MethodPost, path: testAPI, body: []byte(`{"data":{"in_flight":"root"}}`)})
	reqs = append(reqs, &request{method: http.MethodPut, path: testAPI + "/" + updated.ID, body: []byte(`{"data":{"v":2}}`)})

	// With Expect: 100-continue the client sends the body only once the
	// handler starts reading it: Got100Continue says the request is in
	// its handler. The body then waits on a pipe until Close has begun.
	tr := &http.Transport{ExpectContinueTimeout: time.Minute, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	// Should the test stop early, the bodies end so that Close does not
	// wait for them (cleanups run last-in first-out: before Close).
	t.Cleanup(func() {
		for _, rq := range reqs {
			if rq.pw != nil {
				rq.pw.CloseWithError(errors.New("test ended"))
			}
		}
	})
	inHandler := make(chan int, len(reqs))
	results := make(chan testResponse, len(reqs))
	for i, rq := range reqs {
		pr, pw := io.Pipe()
		rq.pw = pw
		trace := &httptrace.ClientTrace{Got100Continue: func() { inHandler <- i }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), rq.method, c.base+rq.path, pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = int64(len(rq.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Expect", "100-continue")
		go func() {
			resp, err := hc.Do(req)
			if err != nil {
				results <- testResponse{status: -1, body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				results <- testResponse{status: -1, body: []byte(err.Error())}
				return
			}
			results <- testResponse{status: resp.StatusCode, header: resp.Header, body: b}
		}()
	}
	for range reqs {
		select {
		case <-inHandler:
		case r := <-results:
			t.Fatalf("a request was answered before its body was sent: %s", r)
		case <-time.After(10 * time.Second):
			t.Fatal("requests did not reach their handlers")
		}
	}

	closed := make(chan error, 1)
	go func() { closed <- in.close() }()
	// Close has begun once the listener refuses connections.
	refusing := pollUntil(t.Context(), 10*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", in.m.HTTPAddr(), time.Second)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
	if !refusing {
		t.Fatal("the HTTP listener still accepts connections after Close was called")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while requests were still in flight", err)
	default:
	}
	for _, rq := range reqs {
		go func() {
			_, _ = rq.pw.Write(rq.body)
			rq.pw.Close()
		}()
	}

	var created []testDoc
	for range reqs {
		select {
		case r := <-results:
			if r.status < 200 || r.status > 299 {
				t.Errorf("in-flight request answered %s, want 2xx", r)
				continue
			}
			var d testDoc
			if err := json.Unmarshal(r.body, &d); err != nil {
				t.Fatalf("decode %s: %v", r.body, err)
			}
			if r.status == http.StatusCreated {
				created = append(created, d)
			} else if d.Version != 2 {
				t.Errorf("in-flight update answered version %d, want 2", d.Version)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("in-flight requests were not answered")
		}
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return")
	}
	if t.Failed() {
		return
	}
	if len(created) != 5 {
		t.Fatalf("%d in-flight creates answered 201, want 5", len(created))
	}

	again := openTestMain(t, testMainConfig(dir))
	again.c.waitHealthy(10 * time.Second)
	for _, want := range created {
		var got testDoc
		again.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+want.ID, nil, &got)
		if !jsonEqual(got.Data, want.Data) || got.Version != 1 {
			t.Errorf("after restart %s = version %d data %s, want version 1 data %s", want.ID, got.Version, got.Data, want.Data)
		}
	}
	var got testDoc
	again.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+updated.ID, nil, &got)
	if got.Version != 2 || !bytes.Equal(bytes.TrimSpace(got.Data), []byte(`{"v":2}`)) {
		t.Errorf("after restart the in-flight update is version %d data %s, want version 2 data {\"v\":2}", got.Version, got.Data)
	}
	var tree testDoc
	again.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+root.ID+"/$tree", nil, &tree)
	if tree.Children == nil || len(*tree.Children) != 5 {
		t.Errorf("after restart the root has %v children, want 5 (1 before Close, 4 in flight)", tree.Children)
	}
}

func TestNATSURLInProcessOnly(t *testing.T) {
	in := openTestMain(t, testMainConfig(t.TempDir()))
	if got := in.m.NATSURL(); got != "" {
		t.Fatalf("NATSURL() = %q with NATS in-process only, want empty", got)
	}
}

func TestBusyNATSPortFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testMainConfig(t.TempDir())
	cfg.NATSListen = ln.Addr().String()
	m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler)}
	err = m.Open(t.Context())
	_ = m.Close()
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "--nats-listen") {
		t.Fatalf("Open with a busy NATS port = %v, want an error naming the port in use", err)
	}
	// The embedded server's store is released: the data directory opens.
	cfg.NATSListen = ""
	openTestMain(t, cfg)
}
