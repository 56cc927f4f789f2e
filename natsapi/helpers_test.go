package natsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/internal/arbortest"
	"arbor/internal/wiretest"
	"arbor/natsapi"
	"arbor/projection"
)

var (
	mlPipeline = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}
	documents  = hierarchy.Hierarchy{Name: "documents", Labels: []string{"project", "document", "version"}}
)

// counter counts the conflicts the log reports to a handler's appends, to
// show that a race was really run.
type counter struct {
	mu        sync.Mutex
	conflicts int
}

func (c *counter) Conflicts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conflicts
}

type counted struct {
	command.Appender
	c *counter
}

func (l counted) Append(ctx context.Context, w events.Write) (uint64, error) {
	seq, err := l.Appender.Append(ctx, w)
	if errors.Is(err, events.ErrConflict) {
		l.c.mu.Lock()
		l.c.conflicts++
		l.c.mu.Unlock()
	}
	return seq, err
}

// serve starts a natsapi.Service on st's connection, its handler's appends
// counted by c if not nil, and stops it when the test ends.
func serve(t *testing.T, st *arbortest.Stack, c *counter) *natsapi.Service {
	t.Helper()
	h := st.Handler
	if c != nil {
		// A Handler keeps counters of its own and is not copied.
		h = &command.Handler{
			Log: counted{Appender: st.Handler.Log, c: c}, Projection: h.Projection, Hierarchies: h.Hierarchies,
			NewID: h.NewID, Now: h.Now, MaxData: h.MaxData, Blobs: h.Blobs, MaxAttempts: h.MaxAttempts, Timeout: h.Timeout,
		}
	}
	return st.ServeNATS(t, h)
}

// client is a connection of the service's users, separate from arbor's.
func client(t *testing.T, s *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// start is one instance with a service and a client.
func start(t *testing.T) (*arbortest.Stack, *nats.Conn) {
	t.Helper()
	st := arbortest.New(t, mlPipeline, documents)
	serve(t, st, nil)
	return st, client(t, st.Server)
}

// startInstances starts n instances on one server, each with its own
// service, ready and caught up. As command's race test explains, the
// first instance must have created its consumers before another joins:
// nats-server 2.15 races a stream's config against consumer creation.
func startInstances(t *testing.T, n int, c *counter) ([]*arbortest.Stack, *nats.Conn) {
	t.Helper()
	st := arbortest.New(t, mlPipeline, documents)
	stacks := []*arbortest.Stack{st}
	if n > 1 {
		if _, _, err := st.Handler.Create(t.Context(), command.Create{Tags: []string{"warm-up"}, Data: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.KV.Open(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	for range n - 1 {
		stacks = append(stacks, arbortest.Join(t, st.Server, mlPipeline, documents))
	}
	for _, st := range stacks {
		serve(t, st, c)
	}
	return stacks, client(t, st.Server)
}

// reply is the answer to a request: Status is 200 unless the service
// replied with an error.
type reply struct {
	Status int
	Header nats.Header
	Body   []byte
}

// Pos is the reply's Arbor-Position, zero if none.
func (r reply) Pos() uint64 {
	p, _ := strconv.ParseUint(r.Header.Get("Arbor-Position"), 10, 64)
	return p
}

// request sends body to arbor-api.<endpoint> with the headers given as
// name, value pairs.
func request(ctx context.Context, nc *nats.Conn, endpoint, body string, hdr ...string) (reply, error) {
	msg := nats.NewMsg(natsapi.Prefix + "." + endpoint)
	msg.Data = []byte(body)
	for i := 0; i+1 < len(hdr); i += 2 {
		msg.Header.Set(hdr[i], hdr[i+1])
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	m, err := nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return reply{}, err
	}
	r := reply{Status: 200, Header: m.Header, Body: m.Data}
	if m.Header == nil {
		r.Header = nats.Header{}
	}
	if code := r.Header.Get(micro.ErrorCodeHeader); code != "" {
		if r.Status, err = strconv.Atoi(code); err != nil {
			return reply{}, errors.New("Nats-Service-Error-Code " + strconv.Quote(code) + " is not a number")
		}
	}
	return r, nil
}

func call(t *testing.T, nc *nats.Conn, endpoint, body string, hdr ...string) reply {
	t.Helper()
	r, err := request(t.Context(), nc, endpoint, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", endpoint, body, err)
	}
	return r
}

// ok calls and decodes a successful reply into v.
func ok(t *testing.T, nc *nats.Conn, endpoint, body string, v any, hdr ...string) reply {
	t.Helper()
	r := call(t, nc, endpoint, body, hdr...)
	if r.Status != 200 {
		t.Fatalf("%s %s: status %d, want 200: %s", endpoint, body, r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type = %q, want application/json", endpoint, ct)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			t.Fatalf("%s: reply %s: %v", endpoint, r.Body, err)
		}
	}
	return r
}

func create(t *testing.T, nc *nats.Conn, body string) (doc, uint64) {
	t.Helper()
	var d doc
	r := ok(t, nc, "create", body, &d)
	if r.Pos() == 0 {
		t.Fatalf("create %s: no Arbor-Position", body)
	}
	return d, r.Pos()
}

func lastSeq(t *testing.T, st *arbortest.Stack) uint64 {
	t.Helper()
	seq, err := st.Log.LastSeq(t.Context())
	if err != nil {
		t.Fatalf("LastSeq: %v", err)
	}
	return seq
}

// getArtifact is id as p has it, live or deleted.
func getArtifact(p *projection.Projection, id ulid.ULID) (projection.Artifact, bool) {
	var (
		a     projection.Artifact
		found bool
	)
	p.Read(func(s *projection.State) { a, found = s.Get(id) })
	return a, found
}

// endpointStats is what one instance's service says about its endpoints.
type endpointStats struct {
	ID        string `json:"id"`
	Endpoints []struct {
		Name     string `json:"name"`
		Requests int    `json:"num_requests"`
	} `json:"endpoints"`
}

func (s endpointStats) requests(endpoint string) int {
	for _, e := range s.Endpoints {
		if e.Name == endpoint {
			return e.Requests
		}
	}
	return 0
}

// stats asks every instance of the service for its statistics and waits
// for n answers.
func stats(t *testing.T, nc *nats.Conn, n int) []endpointStats {
	t.Helper()
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.STATS.arbor", inbox, nil); err != nil {
		t.Fatal(err)
	}
	var out []endpointStats
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			t.Fatalf("stats: %d answers of %d: %v", len(out), n, err)
		}
		var s endpointStats
		if err := json.Unmarshal(m.Data, &s); err != nil {
			t.Fatalf("stats %s: %v", m.Data, err)
		}
		out = append(out, s)
	}
	return out
}

// The API's JSON, as wiretest declares it.
type (
	doc     = wiretest.Artifact
	problem = wiretest.Problem
)
