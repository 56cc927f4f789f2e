package httpapi

import (
	"context"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"arbor/api"
	"arbor/events"
	"arbor/projection"
)

// EventSource is the log as the live feed reads it: *events.Log.
type EventSource interface {
	Follow(ctx context.Context, f events.Filter, from *uint64) (iter.Seq[events.Record], error)
	LastSeq(ctx context.Context) (uint64, error)
}

// keepAlive is how often an idle feed sends a comment, so that proxies and
// clients can tell a quiet feed from a dead one.
const keepAlive = 15 * time.Second

// Feeds is the number of live feeds open.
func (s *Server) Feeds() int { return int(s.feeds.Load()) }

// feed streams events as Server-Sent Events, each a CloudEvents JSON
// document with its stream position as the SSE id. Query parameters
// hierarchy, level_label, type, artifact and parent_id filter it. Last-Event-ID (or
// ?since=N) resumes after that position; without either the feed starts
// with the next event, and first sends an id-only message with the position
// it starts after, so that a client that drops before any event arrives
// still resumes without a gap.
func (s *Server) feed(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	q := r.URL.Query()
	f := events.Filter{Hierarchy: q.Get("hierarchy"), Label: q.Get("level_label"),
		Kind: strings.TrimPrefix(q.Get("type"), "artifact.")}
	if v := q.Get("artifact"); v != "" {
		id, err := api.ParseID(v)
		if err != nil {
			return api.InvalidField("artifact", "not a ULID: %q", v)
		}
		f.Artifact = id
		// Its creation is on its parent's kids subject.
		s.Projection.Read(func(st *projection.State) {
			if a, ok := st.Get(id); ok {
				f.ArtifactParent = a.Parent
			}
		})
	}
	if v := q.Get("parent_id"); v != "" {
		id, err := api.ParseID(v)
		if err != nil {
			return api.InvalidField("parent_id", "not a ULID: %q", v)
		}
		f.Parent = id
	}
	if field, err := f.Validate(); err != nil {
		return api.InvalidField(field, "%v", err)
	}
	var from *uint64
	for _, p := range []struct{ name, value string }{{"Last-Event-ID", r.Header.Get("Last-Event-ID")}, {"since", q.Get("since")}} {
		if p.value == "" {
			continue
		}
		n, err := strconv.ParseUint(p.value, 10, 64)
		if err != nil {
			return api.InvalidField(p.name, "must be a log position such as 42, not %q", p.value)
		}
		from = &n
		break
	}
	if r.Method == http.MethodHead {
		// The feed's headers, without opening it: a feed never ends, and
		// a HEAD that waited for it would hold its connection.
		s.allowOrigin(w, r)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if n := s.feeds.Add(1); s.MaxFeeds > 0 && n > int64(s.MaxFeeds) {
		s.feeds.Add(-1)
		w.Header().Set("Retry-After", "5")
		return api.Unavailable(fmt.Sprintf("%d live feeds are open, as many as this arbor serves at once; try again later", s.MaxFeeds))
	}
	defer s.feeds.Add(-1)
	announce := from == nil
	if announce {
		last, err := s.Events.LastSeq(r.Context())
		if err != nil {
			return err
		}
		from = &last
	}
	// The feed ends when the handler returns or arbor shuts down.
	ctx, cancel := context.WithCancel(r.Context())
	var wg sync.WaitGroup
	defer wg.Wait() // nothing writes to w once the handler returns
	defer cancel()
	wg.Go(func() {
		select {
		case <-s.streamsDone():
			cancel()
		case <-ctx.Done():
		}
	})
	records, err := s.Events.Follow(ctx, f, from)
	if err != nil {
		return err
	}
	out := &sseWriter{w: w, rc: http.NewResponseController(w)}
	s.allowOrigin(w, r)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if announce {
		out.send(ctx, cancel, fmt.Sprintf("id: %d\n\n", *from))
	} else {
		out.send(ctx, cancel, "")
	}
	wg.Go(func() { out.keepAlive(ctx, cancel) })
	for rec := range records {
		ce, err := rec.CloudEvent()
		if err != nil {
			continue
		}
		if !out.send(ctx, cancel, fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", rec.Seq, rec.Type(), ce)) {
			break
		}
	}
	return nil
}

// allowOrigin lets a page of r's origin read the answer, when the origin is
// one of s.CORSOrigins.
func (s *Server) allowOrigin(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	for _, o := range s.CORSOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			return
		}
	}
}

// sseWriter writes a feed's messages and keep-alive comments, one at a
// time, each flushed at once.
type sseWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
	rc *http.ResponseController
}

// send writes msg and flushes it; a client gone ends the feed (cancel) and
// send reports false.
func (o *sseWriter) send(ctx context.Context, cancel func(), msg string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	if _, err := io.WriteString(o.w, msg); err != nil {
		cancel()
		return false
	}
	if err := o.rc.Flush(); err != nil {
		cancel()
		return false
	}
	return true
}

// keepAlive sends a comment every keepAlive until ctx is done.
func (o *sseWriter) keepAlive(ctx context.Context, cancel func()) {
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			o.send(ctx, cancel, ": keep-alive\n\n")
		}
	}
}
