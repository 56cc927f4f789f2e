package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"arbor/events"
	"arbor/projection"
)

// EventSource is the log as the live feed reads it: *events.Log.
type EventSource interface {
	Follow(ctx context.Context, f events.Filter, from *uint64) (<-chan events.Record, error)
	LastSeq(ctx context.Context) (uint64, error)
}

// keepAlive is how often an idle feed sends a comment, so that proxies and
// clients can tell a quiet feed from a dead one.
const keepAlive = 15 * time.Second

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
		id, err := ParseID(v)
		if err != nil {
			return invalidField("artifact", "not a ULID: %q", v)
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
		id, err := ParseID(v)
		if err != nil {
			return invalidField("parent_id", "not a ULID: %q", v)
		}
		f.Parent = id
	}
	if field, err := f.Validate(); err != nil {
		return invalidField(field, "%v", err)
	}
	var from *uint64
	for _, p := range []struct{ name, value string }{{"Last-Event-ID", r.Header.Get("Last-Event-ID")}, {"since", q.Get("since")}} {
		if p.value == "" {
			continue
		}
		n, err := strconv.ParseUint(p.value, 10, 64)
		if err != nil {
			return invalidField(p.name, "must be a log position such as 42, not %q", p.value)
		}
		from = &n
		break
	}
	announce := from == nil
	if announce {
		last, err := s.Events.LastSeq(r.Context())
		if err != nil {
			return err
		}
		from = &last
	}
	// The feed ends when the handler returns: its context is the request's.
	records, err := s.Events.Follow(r.Context(), f, from)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if announce {
		fmt.Fprintf(w, "id: %d\n\n", *from)
	}
	_ = rc.Flush()
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case rec, ok := <-records:
			if !ok {
				return nil
			}
			ce, err := rec.CloudEvent()
			if err != nil {
				continue
			}
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", rec.Seq, rec.Type(), ce); err != nil {
				return nil
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case <-s.streamsDone():
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}
