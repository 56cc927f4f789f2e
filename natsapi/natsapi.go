package natsapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/oklog/ulid/v2"

	"arbor/api"
	"arbor/command"
	"arbor/projection"
	"arbor/query"
)

// Prefix is the first token of every endpoint's subject: arbor-api.create
// and so on. It is not "arbor", whose subjects are the event stream's.
const Prefix = "arbor-api"

// maxInFlight bounds the requests one instance works on at once.
const maxInFlight = 256

// Service answers requests. Its fields must be set before Start.
type Service struct {
	Commands   *command.Handler
	Queries    *query.Service
	Projection *projection.Projection
	Blobs      api.Blobs
	// Wait bounds how long a request waits for the projection: at start-up
	// until it has caught up, and for an Arbor-Min-Position.
	Wait time.Duration
	// Timeout bounds one request's work.
	Timeout time.Duration
	Version string
	Logger  *slog.Logger
	// Observe, if set, is told of every request answered: its endpoint
	// (create, get, ...), its status (200, or its problem's) and how long
	// it took from its arrival. It is called concurrently.
	Observe func(endpoint string, status int, took time.Duration)

	nc        *nats.Conn
	svc       micro.Service
	mu        sync.Mutex // guards stopping, and inflight's Add against Wait
	stopping  bool
	inflight  sync.WaitGroup
	cancelled chan struct{} // closed when Stop stops waiting for requests
}

// UpdateRequest is the body of update: the HTTP PUT body and the id.
type UpdateRequest struct {
	ID string `json:"id"`
	api.UpdateRequest
}

type handlerFunc func(ctx context.Context, req micro.Request) (any, uint64, error)

// Start adds the service to nc.
func (s *Service) Start(nc *nats.Conn) error {
	svc, err := micro.AddService(nc, micro.Config{
		Name:        "arbor",
		Version:     s.Version,
		Description: "arbor: create, update, delete, get and tree of artifacts",
		QueueGroup:  "arbor",
	})
	if err != nil {
		return err
	}
	s.nc = nc
	s.cancelled = make(chan struct{})
	sem := make(chan struct{}, maxInFlight)
	g := svc.AddGroup(Prefix)
	for name, h := range map[string]handlerFunc{
		"create": s.create, "update": s.update, "delete": s.delete, "get": s.get, "tree": s.tree,
	} {
		// micro calls a handler on the subscription's goroutine: hand each
		// request to its own, so that a slow write does not hold up others.
		// The reply is published from there (see reply), not through the
		// request, whose state micro reads once the handler returns.
		err := g.AddEndpoint(name, micro.HandlerFunc(func(req micro.Request) {
			start := time.Now()
			if strings.HasPrefix(req.Reply(), "$JS.") {
				// A stored message a JetStream consumer delivers here, not
				// a request: a consumer may deliver to any subject, and a
				// stored update replayed would roll its artifact back.
				return
			}
			s.mu.Lock()
			if s.stopping {
				// Stop has begun: micro may still hand over queued requests.
				s.mu.Unlock()
				s.observe(name, start, s.fail(req, api.Unavailable("arbor is shutting down; nothing was written, retrying is safe")))
				return
			}
			s.inflight.Add(1)
			s.mu.Unlock()
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; s.inflight.Done() }()
				s.observe(name, start, s.serve(req, h))
			}()
		}))
		if err != nil {
			_ = svc.Stop()
			return err
		}
	}
	s.svc = svc
	// Requests sent once Start returns must find the endpoints there.
	return nc.Flush()
}

// Stop takes the service off NATS and waits for the requests in flight
// until ctx is done; then it cancels them, and waits for them to answer.
func (s *Service) Stop(ctx context.Context) error {
	if s.svc == nil {
		return nil
	}
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	err := s.svc.Stop()
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		close(s.cancelled)
		<-done
	}
	return err
}

// observe tells Observe, if set, of a request answered with status.
func (s *Service) observe(endpoint string, start time.Time, status int) {
	if s.Observe != nil {
		s.Observe(endpoint, status, time.Since(start))
	}
}

// serve answers req with h and returns the status of the answer.
func (s *Service) serve(req micro.Request, h handlerFunc) int {
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	go func() {
		select {
		case <-s.cancelled: // Stop's deadline passed
			cancel()
		case <-ctx.Done():
		}
	}()
	v, pos, err := s.consistent(ctx, req, h)
	hdr := nats.Header{"Content-Type": {"application/json"}}
	var rep *command.ReplayedError
	if errors.As(err, &rep) {
		v, pos, err = s.replay(ctx, rep)
		hdr.Set(HeaderReplayed, "true")
	}
	if err != nil {
		return s.fail(req, err)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return s.fail(req, err)
	}
	if pos != 0 {
		hdr.Set(api.HeaderPosition, strconv.FormatUint(pos, 10))
	}
	s.reply(req, hdr, body)
	return 200
}

// reply answers req. (micro's service statistics then count requests but
// not their errors or processing time.)
func (s *Service) reply(req micro.Request, hdr nats.Header, body []byte) {
	if req.Reply() == "" {
		return
	}
	if err := s.nc.PublishMsg(&nats.Msg{Subject: req.Reply(), Header: hdr, Data: body}); err != nil {
		s.Logger.Warn("nats reply failed", "subject", req.Subject(), "err", err)
	}
}

// consistent runs h once the projection is ready and has applied the
// position the request asks for.
func (s *Service) consistent(ctx context.Context, req micro.Request, h handlerFunc) (any, uint64, error) {
	if err := api.WaitConsistent(ctx, s.Projection, s.Commands.Log, s.Wait, req.Headers().Get(api.HeaderMinPosition)); err != nil {
		return nil, 0, err
	}
	return h(ctx, req) // every body is read by api.DecodeJSON, which checks UTF-8

}

// fail replies with err as a problem: the problem's status and title in
// the micro error headers, the problem details as the body. It returns
// the problem's status.
func (s *Service) fail(req micro.Request, err error) int {
	p := api.ProblemFor(err)
	p.Instance = req.Subject()
	if p.Status >= 500 {
		s.Logger.Error("nats request failed", "subject", req.Subject(), "status", p.Status, "err", err)
	}
	body, _ := json.Marshal(p)
	hdr := nats.Header{"Content-Type": {"application/problem+json"}}
	hdr.Set(micro.ErrorCodeHeader, strconv.Itoa(p.Status))
	hdr.Set(micro.ErrorHeader, p.Title+": "+p.Detail)
	s.reply(req, hdr, body)
	return p.Status
}

func (s *Service) create(ctx context.Context, req micro.Request) (any, uint64, error) {
	var body api.CreateRequest
	if err := decode(req, &body); err != nil {
		return nil, 0, err
	}
	c, err := body.Command()
	if err != nil {
		return nil, 0, err
	}
	if c.Key, err = requestKey(req); err != nil {
		return nil, 0, err
	}
	a, pos, err := s.Commands.Create(ctx, c)
	if err != nil {
		return nil, 0, err
	}
	return s.full(ctx, a, pos)
}

func (s *Service) update(ctx context.Context, req micro.Request) (any, uint64, error) {
	var body UpdateRequest
	id, ifm, err := decodeWrite(req, &body, func() string { return body.ID })
	if err != nil {
		return nil, 0, err
	}
	u, err := body.Command(id, ifm)
	if err != nil {
		return nil, 0, err
	}
	if u.Key, err = requestKey(req); err != nil {
		return nil, 0, err
	}
	a, pos, err := s.Commands.Update(ctx, u)
	if err != nil {
		return nil, 0, err
	}
	return s.full(ctx, a, pos)
}

func (s *Service) delete(ctx context.Context, req micro.Request) (any, uint64, error) {
	var body api.IDRequest
	id, ifm, err := decodeWrite(req, &body, func() string { return body.ID })
	if err != nil {
		return nil, 0, err
	}
	key, err := requestKey(req)
	if err != nil {
		return nil, 0, err
	}
	pos, err := s.Commands.Delete(ctx, command.Delete{ID: id, IfMatch: ifm, Key: key})
	if err != nil {
		return nil, 0, err
	}
	return api.IDRequest{ID: id.String()}, pos, nil
}

func (s *Service) get(ctx context.Context, req micro.Request) (any, uint64, error) {
	var body api.IDRequest
	if err := decode(req, &body); err != nil {
		return nil, 0, err
	}
	id, err := api.RequiredID("id", body.ID)
	if err != nil {
		return nil, 0, err
	}
	a, err := s.Queries.Get(id)
	if err != nil {
		return nil, 0, err
	}
	return s.full(ctx, a, 0)
}

func (s *Service) tree(_ context.Context, req micro.Request) (any, uint64, error) {
	var body api.TreeRequest
	if err := decode(req, &body); err != nil {
		return nil, 0, err
	}
	id, depth, err := body.Query()
	if err != nil {
		return nil, 0, err
	}
	t, err := s.Queries.Tree(id, depth)
	if err != nil {
		return nil, 0, err
	}
	return api.TreeView(t), 0, nil
}

// full is a with all its data, as HTTP answers it: JSON content moved to
// the object store is put back in place. An artifact too large for one
// NATS message is a problem that points to its download.
func (s *Service) full(ctx context.Context, a projection.Artifact, pos uint64) (any, uint64, error) {
	doc, size, err := api.FullJSON(a)
	if err != nil {
		return nil, 0, err
	}
	if limit := s.nc.MaxPayload() - replyHeadroom; size > limit {
		return nil, 0, api.TooLarge(fmt.Sprintf("artifact %s is %d bytes with its content, more than one NATS message carries (%d): "+
			"GET /api/v1/artifacts/%s/$download over HTTP", a.ID, size, limit, a.ID))
	}
	var b bytes.Buffer
	if err := api.WriteFull(ctx, &b, a, doc, s.Blobs); err != nil {
		if a.Content != nil {
			// JSON content moved to the object store, missing or corrupt:
			// a problem, and none of its bytes in the reply.
			return nil, 0, api.ContentFault(a.ID, a.Content.SHA256, err)
		}
		return nil, 0, err
	}
	return json.RawMessage(b.Bytes()), pos, nil
}

// replyHeadroom is what a reply's headers take beside its body.
const replyHeadroom = 4 << 10

func decode(req micro.Request, v any) error {
	return api.DecodeJSON(req.Data(), v)
}

// decodeWrite decodes the body of a write to one artifact into body and
// returns the artifact (id reads it from the decoded body) and the version
// If-Match names (zero: any).
func decodeWrite(req micro.Request, body any, id func() string) (ulid.ULID, int, error) {
	if err := decode(req, body); err != nil {
		return ulid.ULID{}, 0, err
	}
	target, err := api.RequiredID("id", id())
	if err != nil {
		return ulid.ULID{}, 0, err
	}
	ifm, err := api.IfMatch(req.Headers().Get(api.HeaderIfMatch))
	return target, ifm, err
}

// Idempotency-Key works over NATS as over HTTP: a request header that makes
// sending a write again safe (see command.Key).
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderReplayed       = "Idempotent-Replayed"
)

// requestKey reads req's Idempotency-Key, nil when it has none, with a
// digest of the request: its subject, If-Match and body.
func requestKey(req micro.Request) (*command.Key, error) {
	key := req.Headers().Get(HeaderIdempotencyKey)
	if key == "" && len(req.Headers().Values(HeaderIdempotencyKey)) == 0 {
		return nil, nil
	}
	if err := api.CheckIdempotencyKey(key); err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, p := range []string{req.Subject(), req.Headers().Get("If-Match"), string(req.Data())} {
		h.Write([]byte(strconv.Itoa(len(p)) + ":" + p))
	}
	return &command.Key{Key: key, Request: hex.EncodeToString(h.Sum(nil))}, nil
}

// replay answers a request its key answered before, as then.
func (s *Service) replay(ctx context.Context, rep *command.ReplayedError) (any, uint64, error) {
	if rep.Type == "artifact.deleted" {
		return api.IDRequest{ID: rep.ID.String()}, rep.Seq, nil
	}
	a, err := s.Queries.AtVersion(ctx, rep.ID, rep.Version)
	if err != nil {
		return nil, 0, err
	}
	return s.full(ctx, a, rep.Seq)
}
