package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Event is one event of arbor's log, as the live feed sends it (a
// CloudEvent). It marshals to and from the CloudEvents JSON format.
type Event struct {
	// Seq is the event's position in the log: it orders events and is
	// what Events resumes from.
	Seq uint64
	// ID is the event's own id (a ULID).
	ID string
	// Type is "artifact.created", "artifact.updated" or
	// "artifact.deleted".
	Type   string
	Source string
	// Subject is the id of the artifact the event is about.
	Subject string
	// Hierarchy and LevelLabel place the artifact.
	Hierarchy  string
	LevelLabel string
	Time       time.Time
	// Data is the event's payload as arbor stores it.
	Data json.RawMessage
}

// cloudEvent is the CloudEvents JSON of an Event.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Time            string          `json:"time"`
	Subject         string          `json:"subject"`
	DataContentType string          `json:"datacontenttype"`
	Sequence        string          `json:"sequence"`
	Hierarchy       string          `json:"hierarchy,omitempty"`
	LevelLabel      string          `json:"levellabel,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// MarshalJSON writes e as a CloudEvents JSON document, as the feed sends
// it.
func (e Event) MarshalJSON() ([]byte, error) {
	ce := cloudEvent{
		SpecVersion: "1.0", ID: e.ID, Source: e.Source, Type: e.Type, Subject: e.Subject,
		DataContentType: "application/json", Sequence: strconv.FormatUint(e.Seq, 10),
		Hierarchy: e.Hierarchy, LevelLabel: e.LevelLabel, Data: e.Data,
	}
	if !e.Time.IsZero() {
		ce.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
	if ce.Data == nil {
		ce.Data = json.RawMessage("null")
	}
	return json.Marshal(ce)
}

// UnmarshalJSON reads a CloudEvents JSON document of arbor's feed.
func (e *Event) UnmarshalJSON(b []byte) error {
	var ce cloudEvent
	if err := json.Unmarshal(b, &ce); err != nil {
		return err
	}
	ev := Event{ID: ce.ID, Type: ce.Type, Source: ce.Source, Subject: ce.Subject,
		Hierarchy: ce.Hierarchy, LevelLabel: ce.LevelLabel, Data: ce.Data}
	if ce.Sequence != "" {
		seq, err := strconv.ParseUint(ce.Sequence, 10, 64)
		if err != nil {
			return fmt.Errorf("event sequence %q: %w", ce.Sequence, err)
		}
		ev.Seq = seq
	}
	if ce.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, ce.Time)
		if err != nil {
			return fmt.Errorf("event time: %w", err)
		}
		ev.Time = t
	}
	*e = ev
	return nil
}

// EventFilter selects events; an empty field matches any.
type EventFilter struct {
	Hierarchy  string
	LevelLabel string
	// Type is "created", "updated" or "deleted" (with or without the
	// prefix "artifact.").
	Type string
	// Artifact is an artifact id: only its own events.
	Artifact string
	// ParentID is an artifact id: only the creations of its children.
	ParentID string
}

// Reconnection delays of Events: the first wait, doubled after each
// failure up to the last.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
	// idleTimeout is how long a feed may send nothing, not even the
	// keep-alive arbor sends every 15s, before it is taken for dead.
	idleTimeout = time.Minute
	// maxLine bounds one line of the feed.
	maxLine = 256 << 20
)

// Events follows arbor's log: the events matching f after position from,
// then every new one as it is appended, in log order. With from nil it
// starts with the next event; a pointer to 0 starts at the beginning.
//
// The sequence survives dropped connections and restarts of arbor: it
// reconnects, waiting 100ms doubling to 5s between failed attempts, and
// resumes after the last event it yielded, so the caller sees each event
// once, in order, without gaps. With from nil, events appended while the
// first connection is being re-established, before any event has come,
// may be missed unless the server sends its position on connecting.
//
// It ends when ctx is done (without an error) or the loop stops. An
// error that retrying cannot cure (a filter the server rejects, say) is
// yielded once, and the sequence ends. An event the client cannot decode
// is yielded as an error with its Seq set; the sequence goes on after it
// if the loop does.
func (c *Client) Events(ctx context.Context, f EventFilter, from *uint64) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		fl := &follower{c: c, filter: f}
		if from != nil {
			fl.pos, fl.hasPos = *from, true
		}
		delay := minBackoff
		for ctx.Err() == nil {
			connected, stop, err := fl.follow(ctx, yield)
			if stop || ctx.Err() != nil {
				return
			}
			if err != nil && !retryable(err) {
				yield(Event{}, err)
				return
			}
			if connected {
				delay = minBackoff
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, maxBackoff)
		}
	}
}

// follower is the state of one Events sequence across its connections.
type follower struct {
	c      *Client
	filter EventFilter
	// pos is the position of the last event yielded, or the one to start
	// after; hasPos says whether there is one. reconnect is set once a
	// connection has been made, after which pos goes in Last-Event-ID.
	pos       uint64
	hasPos    bool
	reconnect bool
}

// follow makes one connection and yields its events until it ends. It
// reports whether the server accepted the connection, whether the caller
// stopped the loop, and the error the connection ended with.
func (fl *follower) follow(ctx context.Context, yield func(Event, error) bool) (connected, stop bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := time.AfterFunc(idleTimeout, cancel)
	defer idle.Stop()

	resp, err := fl.connect(ctx)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()
	fl.reconnect = true
	r := &sseReader{r: bufio.NewReaderSize(resp.Body, 64<<10), onRead: func() { idle.Reset(idleTimeout) }}
	for {
		msg, err := r.next()
		if err != nil {
			return true, false, err
		}
		seq, hasSeq := uint64(0), false
		if msg.hasID {
			if n, err := strconv.ParseUint(msg.id, 10, 64); err == nil {
				seq, hasSeq = n, true
			}
		}
		if !msg.hasData {
			// An id alone moves the position without an event.
			if hasSeq && (!fl.hasPos || seq > fl.pos) {
				fl.pos, fl.hasPos = seq, true
			}
			continue
		}
		var ev Event
		decodeErr := json.Unmarshal([]byte(msg.data), &ev)
		if decodeErr == nil && ev.Seq == 0 && hasSeq {
			ev.Seq = seq
		}
		if decodeErr == nil && ev.Seq == 0 {
			decodeErr = errors.New("no sequence")
		}
		if decodeErr != nil {
			if !hasSeq {
				// Without a position the feed cannot be resumed past it.
				return true, false, fmt.Errorf("%w: an event without a position: %v", errMalformed, decodeErr)
			}
			ev = Event{Seq: seq}
		}
		if fl.hasPos && ev.Seq <= fl.pos {
			continue // seen already
		}
		fl.pos, fl.hasPos = ev.Seq, true
		var yerr error
		if decodeErr != nil {
			yerr = fmt.Errorf("event %d: decode: %w", seq, decodeErr)
		}
		idle.Stop() // the caller's time is not the feed's
		if !yield(ev, yerr) {
			return true, true, nil
		}
		idle.Reset(idleTimeout)
	}
}

// connect opens the feed after fl's position.
func (fl *follower) connect(ctx context.Context) (*http.Response, error) {
	q := url.Values{}
	for k, v := range map[string]string{"hierarchy": fl.filter.Hierarchy, "level_label": fl.filter.LevelLabel,
		"type": fl.filter.Type, "artifact": fl.filter.Artifact, "parent_id": fl.filter.ParentID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if fl.hasPos && !fl.reconnect {
		q.Set("since", strconv.FormatUint(fl.pos, 10))
	}
	u := fl.c.base + apiBase + "/$events"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if fl.hasPos && fl.reconnect {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(fl.pos, 10))
	}
	resp, err := fl.c.doHTTP(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readProblem(resp)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: Content-Type %q, not text/event-stream", errMalformed, mt)
	}
	return resp, nil
}

// retryable reports whether reconnecting may cure err: a network error, a
// feed that ended, or a status saying to try again.
func retryable(err error) bool {
	if errors.Is(err, errMalformed) {
		return false
	}
	var p *Problem
	if !errors.As(err, &p) {
		return true
	}
	return p.Status == http.StatusRequestTimeout || p.Status == http.StatusTooManyRequests || p.Status >= 500
}

// sseMessage is one message of a Server-Sent Events stream.
type sseMessage struct {
	id      string
	hasID   bool
	event   string
	data    string
	hasData bool
}

// sseReader reads Server-Sent Events.
type sseReader struct {
	r *bufio.Reader
	// onRead is called whenever bytes arrive.
	onRead func()
}

// next returns the next message: one with data, or one with an id alone.
// Comments are skipped.
func (s *sseReader) next() (sseMessage, error) {
	var (
		msg  sseMessage
		data []string
	)
	for {
		line, err := s.readLine()
		if err != nil {
			return sseMessage{}, err
		}
		if line == "" {
			if len(data) == 0 && !msg.hasID {
				msg = sseMessage{}
				continue
			}
			msg.data, msg.hasData = strings.Join(data, "\n"), len(data) > 0
			return msg, nil
		}
		if line[0] == ':' {
			continue // a comment: keep-alive
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			if !strings.ContainsRune(value, 0) {
				msg.id, msg.hasID = value, true
			}
		case "event":
			msg.event = value
		case "data":
			data = append(data, value)
		}
	}
}

// errMalformed is a feed that is not arbor's: reconnecting cannot help.
var errMalformed = errors.New("client: malformed event feed")

// errLineTooLong ends a feed sending a line longer than maxLine.
var errLineTooLong = fmt.Errorf("%w: a line longer than %d bytes", errMalformed, maxLine)

// readLine returns the next line without its end. A stream ending within a
// line is io.ErrUnexpectedEOF: that line is incomplete.
func (s *sseReader) readLine() (string, error) {
	var buf []byte
	for {
		frag, err := s.r.ReadSlice('\n')
		if len(frag) > 0 {
			s.onRead()
		}
		if len(buf)+len(frag) > maxLine {
			return "", errLineTooLong
		}
		buf = append(buf, frag...)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(buf) > 0:
			return "", io.ErrUnexpectedEOF
		case err != nil:
			return "", err
		}
		line := strings.TrimSuffix(string(buf[:len(buf)-1]), "\r")
		return line, nil
	}
}
