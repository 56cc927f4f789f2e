package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"strconv"
)

// CreateRequest is a new artifact.
type CreateRequest struct {
	// ID is the new artifact's ULID; empty lets the server choose one. An
	// id ever used before is a conflict.
	ID string `json:"id,omitempty"`
	// ParentID is the parent's id; empty for a root.
	ParentID string `json:"parent_id,omitempty"`
	// Hierarchy names a root's hierarchy; empty means the server's
	// default. Children belong to their root's.
	Hierarchy string   `json:"hierarchy,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	// Data must encode as a JSON object: a map, a struct, or a
	// json.RawMessage holding one.
	Data any `json:"data"`
}

// UpdateRequest replaces an artifact's data and tags.
type UpdateRequest struct {
	Data any `json:"data"`
	// Tags replace the artifact's tags; nil means none.
	Tags []string `json:"tags,omitempty"`
}

// WriteOption qualifies a write: a create, update, delete or upload.
type WriteOption func(*writeOptions)

type writeOptions struct {
	ifMatch  int
	key      string
	replayed *bool
}

// IfMatch makes a write apply only if the artifact is at version: the
// server answers 412 otherwise (see IsPreconditionFailed). A create has no
// version to match and does not send it.
func IfMatch(version int) WriteOption {
	return func(o *writeOptions) { o.ifMatch = version }
}

// IdempotencyKey sends key as the write's Idempotency-Key (1 to 255
// visible ASCII characters; empty sends none): the same request sent again
// with the same key within 24 hours, after a timeout say, is not written
// twice but answered with the first answer. The same key with another
// request is a 422 problem of type TypeIdempotencyKeyReused; a refused
// request is not remembered and may be sent again with its key.
func IdempotencyKey(key string) WriteOption {
	return func(o *writeOptions) { o.key = key }
}

// Replayed makes a write set *replayed to whether its answer was the
// first answer to its IdempotencyKey sent again (nothing was written this
// time). It is set false on any other answer.
func Replayed(replayed *bool) WriteOption {
	return func(o *writeOptions) { o.replayed = replayed }
}

func newWriteOptions(opts []WriteOption) writeOptions {
	var o writeOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// header is the request header the options send.
func (o writeOptions) header() http.Header {
	h := http.Header{}
	if o.ifMatch != 0 {
		h.Set("If-Match", strconv.Quote(strconv.Itoa(o.ifMatch)))
	}
	if o.key != "" {
		h.Set(HeaderIdempotencyKey, o.key)
	}
	return h
}

// apply gives r the options' header and the place its answer is reported.
func (o writeOptions) apply(r *request) {
	r.header = o.header()
	r.replayed = o.replayed
}

// Create creates an artifact and returns it as stored. Of the options,
// IdempotencyKey and Replayed apply.
func (c *Client) Create(ctx context.Context, req CreateRequest, opts ...WriteOption) (Artifact, error) {
	r, err := jsonRequest(http.MethodPost, apiBase, req)
	if err != nil {
		return Artifact{}, err
	}
	o := newWriteOptions(opts)
	o.ifMatch = 0
	o.apply(&r)
	var a Artifact
	return a, c.do(ctx, r, &a)
}

// Get returns the artifact id with all of its data, content included;
// with AsOf, as it was then (not found if it did not exist yet, found if
// deleted since).
func (c *Client) Get(ctx context.Context, id string, opts ...ReadOption) (Artifact, error) {
	p, err := artifactPath(id)
	if err != nil {
		return Artifact{}, err
	}
	var a Artifact
	return a, c.do(ctx, request{method: http.MethodGet, path: p, query: readQuery(opts)}, &a)
}

// Update replaces the data and tags of the artifact id and returns it as
// updated. Its parent stays.
func (c *Client) Update(ctx context.Context, id string, req UpdateRequest, opts ...WriteOption) (Artifact, error) {
	p, err := artifactPath(id)
	if err != nil {
		return Artifact{}, err
	}
	r, err := jsonRequest(http.MethodPut, p, req)
	if err != nil {
		return Artifact{}, err
	}
	newWriteOptions(opts).apply(&r)
	var a Artifact
	return a, c.do(ctx, r, &a)
}

// Delete deletes the artifact id. An artifact with live children cannot
// be deleted (a conflict).
func (c *Client) Delete(ctx context.Context, id string, opts ...WriteOption) error {
	p, err := artifactPath(id)
	if err != nil {
		return err
	}
	r := request{method: http.MethodDelete, path: p}
	newWriteOptions(opts).apply(&r)
	return c.do(ctx, r, nil)
}

// List returns page number page (from 1) of size artifacts (at most
// 1000), oldest first. A page or size of 0 takes the server's default (1
// and 50). ListWith takes filters, a sort and cursors.
func (c *Client) List(ctx context.Context, page, size int) (Page, error) {
	return c.ListWith(ctx, ListOptions{Page: page, Size: size})
}

// All iterates over every live artifact, oldest first, reading pages of
// pageSize (0: the server's default). On an error it yields the error once
// and stops. It is AllWith without filters.
func (c *Client) All(ctx context.Context, pageSize int) iter.Seq2[Artifact, error] {
	return c.AllWith(ctx, ListOptions{Size: pageSize})
}

// AllWith iterates over every artifact opts selects, in its sort, reading
// pages of opts.Size (0: the server's default) from opts.Page or
// opts.Cursor (neither: the first), each next one by its cursor. On an
// error it yields the error once and stops. The pages are read one after
// the other, not as one snapshot (unless opts.AsOf names one), but the
// cursors keep their place while others write: every artifact selected
// from start to end comes once, and one created meanwhile comes if its
// place in the sort lies after the page read last. An artifact whose sort
// key changes meanwhile (sorted by updated_at, say) may come twice or not
// at all.
func (c *Client) AllWith(ctx context.Context, opts ListOptions) iter.Seq2[Artifact, error] {
	return func(yield func(Artifact, error) bool) {
		for {
			p, err := c.ListWith(ctx, opts)
			if err != nil {
				yield(Artifact{}, err)
				return
			}
			for _, a := range p.Items {
				if !yield(a, nil) {
					return
				}
			}
			if p.NextCursor == "" || len(p.Items) == 0 {
				return
			}
			opts.Page, opts.Cursor = 0, p.NextCursor
		}
	}
}

// Tree returns the subtree under id, down to maxDepth levels below it: 0
// is the root alone, a negative depth the whole subtree. Nodes leave out
// their data's content. With AsOf it is the subtree as it was then.
func (c *Client) Tree(ctx context.Context, id string, maxDepth int, opts ...ReadOption) (Node, error) {
	p, err := artifactPath(id, "$tree")
	if err != nil {
		return Node{}, err
	}
	q := readQuery(opts)
	if maxDepth >= 0 {
		q.Set("max_depth", strconv.Itoa(maxDepth))
	}
	var n Node
	return n, c.do(ctx, request{method: http.MethodGet, path: p, query: q}, &n)
}

// Expand returns the artifact id with its level label and its data
// without content, its children not loaded; with AsOf, as it was then.
func (c *Client) Expand(ctx context.Context, id string, opts ...ReadOption) (Node, error) {
	p, err := artifactPath(id, "$expand")
	if err != nil {
		return Node{}, err
	}
	var n Node
	return n, c.do(ctx, request{method: http.MethodGet, path: p, query: readQuery(opts)}, &n)
}

// Ancestors returns the ancestors of the artifact id, its root first and
// its parent last (none for a root), each with its level label and its
// data without content, their children not loaded; with AsOf, as they
// were then.
func (c *Client) Ancestors(ctx context.Context, id string, opts ...ReadOption) ([]Node, error) {
	p, err := artifactPath(id, "$ancestors")
	if err != nil {
		return nil, err
	}
	var out struct {
		Items []Node `json:"items"`
	}
	return out.Items, c.do(ctx, request{method: http.MethodGet, path: p, query: readQuery(opts)}, &out)
}

// Metadata returns data.metadata of the artifact id as stored, or {} when
// it has none.
func (c *Client) Metadata(ctx context.Context, id string) (json.RawMessage, error) {
	p, err := artifactPath(id, "$metadata")
	if err != nil {
		return nil, err
	}
	var m json.RawMessage
	return m, c.do(ctx, request{method: http.MethodGet, path: p}, &m)
}

// Stats counts the live artifacts; with AsOf, those live then.
func (c *Client) Stats(ctx context.Context, opts ...ReadOption) (Stats, error) {
	var s Stats
	return s, c.do(ctx, request{method: http.MethodGet, path: apiBase + "/$stats", query: readQuery(opts)}, &s)
}

// Schema returns the JSON Schema of an artifact.
func (c *Client) Schema(ctx context.Context) (json.RawMessage, error) {
	var s json.RawMessage
	return s, c.do(ctx, request{method: http.MethodGet, path: apiBase + "/$schema"}, &s)
}

// Health returns arbor's report on itself. When arbor is unhealthy (503)
// it returns the report together with a *Problem of status 503; an error
// alone means no report came.
func (c *Client) Health(ctx context.Context) (Health, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/health", nil)
	if err != nil {
		return Health{}, err
	}
	resp, err := c.doHTTP(req)
	if err != nil {
		return Health{}, err
	}
	defer resp.Body.Close()
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK && (resp.StatusCode != http.StatusServiceUnavailable || mt != "application/json") {
		return Health{}, readProblem(resp)
	}
	var h Health
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&h); err != nil {
		return Health{}, fmt.Errorf("GET /health: decode response: %w", err)
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		return h, &Problem{Type: TypeUnavailable, Title: http.StatusText(resp.StatusCode), Status: resp.StatusCode,
			Detail: "arbor is " + h.Status, Instance: "/health"}
	}
	return h, nil
}
