package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"arbor/hierarchy"
	"arbor/internal/arbortest"
	"arbor/internal/natstest"
)

var hierarchies = []hierarchy.Hierarchy{
	{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}},
	{Name: "documents", Labels: []string{"project", "document", "version"}},
}

const predictions = "arbor.*.ml_pipeline.*.*.predictions"

// startArbor starts a NATS server listening on TCP, as make run does, and
// an arbor core with its NATS service on it.
func startArbor(t *testing.T) (*server.Server, *arbortest.Stack) {
	t.Helper()
	s := natstest.ServerAt(t, t.TempDir(), "127.0.0.1:0")
	st := arbortest.Join(t, s, hierarchies...)
	st.ServeNATS(t, nil)
	return s, st
}

// output is what a subscriber prints, safe to read while it writes; each
// write is signalled on written.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func newOutput() *output { return &output{written: make(chan struct{}, 1)} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	select {
	case o.written <- struct{}{}:
	default:
	}
	return n, err
}

func (o *output) lines() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := o.buf.String()
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// subscriber is a run of the program in the background.
type subscriber struct {
	out    *output
	cancel context.CancelFunc
	done   chan error
}

// subscribe starts run and waits until its consumer exists on the stream.
func subscribe(t *testing.T, s *server.Server, js jetstream.JetStream, since int64) *subscriber {
	t.Helper()
	before := consumers(t, js)
	ctx, cancel := context.WithCancel(t.Context())
	sub := &subscriber{out: newOutput(), cancel: cancel, done: make(chan error, 1)}
	go func() { sub.done <- run(ctx, s.ClientURL(), sub.out, "ml_pipeline", since) }()
	t.Cleanup(cancel)
	deadline := time.Now().Add(10 * time.Second)
	for !hasNew(consumers(t, js), before) {
		select {
		case err := <-sub.done:
			t.Fatalf("run returned before following: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscriber's consumer did not appear within 10s")
		}
	}
	return sub
}

// hasNew reports whether names has one not in before.
func hasNew(names, before []string) bool {
	for _, n := range names {
		if !slices.Contains(before, n) {
			return true
		}
	}
	return false
}

// consumers names the stream's consumers filtering on the predictions.
func consumers(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	stream, err := js.Stream(t.Context(), "ARTIFACTS")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	list := stream.ListConsumers(t.Context())
	for info := range list.Info() {
		if info.Config.FilterSubject == predictions || slices.Contains(info.Config.FilterSubjects, predictions) {
			names = append(names, info.Name)
		}
	}
	if err := list.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}

// waitLines waits until the subscriber printed n lines.
func (sub *subscriber) waitLines(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for len(sub.out.lines()) < n {
		select {
		case <-sub.out.written:
		case err := <-sub.done:
			t.Fatalf("run returned %v after %d lines, want %d:\n%s", err, len(sub.out.lines()), n, strings.Join(sub.out.lines(), "\n"))
		case <-deadline:
			t.Fatalf("%d lines within 10s, want %d:\n%s", len(sub.out.lines()), n, strings.Join(sub.out.lines(), "\n"))
		}
	}
	return sub.out.lines()
}

// stop cancels run and checks it ends cleanly.
func (sub *subscriber) stop(t *testing.T) {
	t.Helper()
	sub.cancel()
	select {
	case err := <-sub.done:
		if err != nil {
			t.Fatalf("run = %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s of its cancel")
	}
}

// creator records artifacts through arbor's NATS service, as a pipeline does.
type creator struct {
	t  *testing.T
	nc *nats.Conn
}

// create records an artifact and returns its id and the position of its
// creation.
func (c creator) create(body string) (string, uint64) {
	c.t.Helper()
	msg, err := c.nc.Request("arbor-api.create", []byte(body), 10*time.Second)
	if err != nil {
		c.t.Fatal(err)
	}
	if code := msg.Header.Get("Nats-Service-Error-Code"); code != "" {
		c.t.Fatalf("create %s: %s %s", body, code, msg.Data)
	}
	var a struct{ ID string }
	if err := json.Unmarshal(msg.Data, &a); err != nil {
		c.t.Fatal(err)
	}
	pos, err := strconv.ParseUint(msg.Header.Get("Arbor-Position"), 10, 64)
	if err != nil {
		c.t.Fatal(err)
	}
	return a.ID, pos
}

func (c creator) update(id, data string) {
	c.t.Helper()
	msg, err := c.nc.Request("arbor-api.update", []byte(`{"id": "`+id+`", "data": `+data+`}`), 10*time.Second)
	if err != nil || msg.Header.Get("Nats-Service-Error-Code") != "" {
		c.t.Fatalf("update %s: %v %s", id, err, msg.Data)
	}
}

func TestSubscriber(t *testing.T) {
	s, st := startArbor(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	c := creator{t, nc}

	exp, _ := c.create(`{"data": {"experiment_name": "weather"}}`)
	model, _ := c.create(`{"parent_id": "` + exp + `", "data": {"model_type": "LinearRegression"}}`)
	early, _ := c.create(`{"parent_id": "` + model + `", "data": {"early": true}}`)

	// New predictions only: the one before it started is not printed.
	sub := subscribe(t, s, st.JS, -1)
	var want []string
	for i := range 3 {
		data := fmt.Sprintf(`{"prediction_date":"2026-11-%d","num_predictions":%d}`, 27+i, 1000-100*i)
		id, pos := c.create(`{"parent_id": "` + model + `", "data": ` + data + `}`)
		want = append(want, fmt.Sprintf("%d %s %s", pos, id, data))
		// Noise the filter leaves out: a model, an update of a prediction,
		// a root of another hierarchy with a third level of its own.
		c.create(`{"parent_id": "` + exp + `", "data": {}}`)
		c.update(id, `{"updated": true}`)
		project, _ := c.create(`{"hierarchy": "documents", "data": {}}`)
		doc, _ := c.create(`{"parent_id": "` + project + `", "data": {}}`)
		c.create(`{"parent_id": "` + doc + `", "data": {}}`)
	}
	if got := sub.waitLines(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sub.stop(t)
	for _, l := range sub.out.lines() {
		if strings.Contains(l, early) {
			t.Fatalf("printed %q: a prediction from before it started", l)
		}
	}

	// -since: the predictions after a position, then the new ones.
	since, _ := strconv.ParseInt(strings.Fields(want[0])[0], 10, 64)
	sub = subscribe(t, s, st.JS, since)
	data := `{"late":true}`
	id, pos := c.create(`{"parent_id": "` + model + `", "data": ` + data + `}`)
	want = append(want[1:], fmt.Sprintf("%d %s %s", pos, id, data))
	if got := sub.waitLines(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("with -since %d printed\n%s\nwant\n%s", since, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sub.stop(t)
}

// Without arbor's stream on the server, run says so.
func TestSubscriberWithoutArbor(t *testing.T) {
	s := natstest.ServerAt(t, t.TempDir(), "127.0.0.1:0")
	err := run(t.Context(), s.ClientURL(), newOutput(), "ml_pipeline", -1)
	if err == nil || !strings.Contains(err.Error(), "no stream ARTIFACTS") {
		t.Fatalf("run = %v, want no stream ARTIFACTS", err)
	}
}
