package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

// Header names of arbor's consistency token.
const (
	// HeaderPosition is the log position a write answers with.
	HeaderPosition = "Arbor-Position"
	// HeaderMinPosition asks an instance to answer only once it has
	// applied that position.
	HeaderMinPosition = "Arbor-Min-Position"
	// HeaderIdempotencyKey names a write, so that sending it again does
	// not write it twice (see IdempotencyKey).
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderReplayed is "true" on the first answer to an Idempotency-Key
	// sent again (see Replayed).
	HeaderReplayed = "Idempotent-Replayed"
)

// apiBase is the path of the artifact collection.
const apiBase = "/api/v1/artifacts"

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// Client talks to one arbor service (or a load balancer in front of
// several). Create it with New; it is safe for concurrent use.
type Client struct {
	base       string
	hc         *http.Client
	apiKey     string
	consistent bool
	pos        atomic.Uint64
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests with hc instead of a
// client of its own (nil: keep its own). A Timeout on hc also bounds each
// connection of Events, which then reconnects.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithAPIKey makes the client send key, as Authorization: Bearer <key>, on
// every request: arbor started with keys answers 401 without one, and 403
// when the key's scope does not allow the request (a read key writing).
// An empty key sends none.
func WithAPIKey(key string) Option {
	return func(c *Client) { c.apiKey = key }
}

// WithoutConsistency stops the client from sending Arbor-Min-Position: its
// reads are answered at once by whichever instance gets them, which may
// not have applied the client's own writes yet.
func WithoutConsistency() Option {
	return func(c *Client) { c.consistent = false }
}

// WithMinPosition starts the client with a consistency token obtained
// elsewhere (another client's Position, say): its requests see at least
// the writes up to pos.
func WithMinPosition(pos uint64) Option {
	return func(c *Client) { c.observe(pos) }
}

// New returns a client of the arbor at baseURL, such as
// "http://127.0.0.1:8000" (a trailing slash is ignored).
func New(baseURL string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), hc: &http.Client{}, consistent: true}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Position returns the highest log position the client has seen a write
// (or a read with AsOf) answer with, zero before the first. It is the
// token the client sends as Arbor-Min-Position.
func (c *Client) Position() uint64 { return c.pos.Load() }

// observe raises the remembered position to pos.
func (c *Client) observe(pos uint64) {
	for {
		cur := c.pos.Load()
		if pos <= cur || c.pos.CompareAndSwap(cur, pos) {
			return
		}
	}
}

// request is one call of the API.
type request struct {
	method string
	path   string // under the base URL, escaped
	query  url.Values
	header http.Header
	body   io.Reader
	// ctype is the body's Content-Type.
	ctype string
	// replayed, if set, is set to whether a write's answer was replayed.
	replayed *bool
}

// send makes r and returns the response when its status is 2xx, having
// remembered its position; any other status becomes a *Problem and the body
// is closed. The caller closes the body of a response it gets.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	u := c.base + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, r.body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.ctype != "" {
		req.Header.Set("Content-Type", r.ctype)
	}
	// Writes carry the token too: an instance that has not applied the
	// client's earlier writes would judge a new one (a child of an artifact
	// just created, say) against a stale state.
	if pos := c.pos.Load(); c.consistent && pos > 0 && req.Header.Get(HeaderMinPosition) == "" {
		req.Header.Set(HeaderMinPosition, strconv.FormatUint(pos, 10))
	}
	resp, err := c.doHTTP(req)
	if err != nil {
		return nil, err
	}
	if p, err := strconv.ParseUint(resp.Header.Get(HeaderPosition), 10, 64); err == nil {
		c.observe(p)
	}
	if r.replayed != nil {
		*r.replayed = resp.Header.Get(HeaderReplayed) == "true"
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, readProblem(resp)
	}
	return resp, nil
}

// doHTTP sends req with the client's key, if it has one.
func (c *Client) doHTTP(req *http.Request) (*http.Response, error) {
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return c.hc.Do(req)
}

// do makes r and decodes a 2xx response's JSON body into out (unless out
// is nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", r.method, r.path, err)
	}
	return nil
}

// jsonRequest is a request whose body is v as JSON.
func jsonRequest(method, path string, v any) (request, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return request{}, fmt.Errorf("%s %s: encode body: %w", method, path, err)
	}
	return request{method: method, path: path, body: bytes.NewReader(b), ctype: "application/json"}, nil
}

// ErrInvalidID is returned, wrapped, for an artifact id that could not be
// a ULID in any case (empty, or with characters other than letters and
// digits), before anything is sent: such an id would name another route.
var ErrInvalidID = errors.New("client: invalid artifact id")

// artifactPath is the path of artifact id, followed by op (such as
// "$tree") when not empty.
func artifactPath(id string, op ...string) (string, error) {
	if id == "" || strings.ContainsFunc(id, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
	}) {
		return "", fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	p := apiBase + "/" + id
	for _, o := range op {
		p += "/" + o
	}
	return p, nil
}
