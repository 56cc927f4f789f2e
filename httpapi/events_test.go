package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sseEvent is one Server-Sent Event as the feed sends it.
type sseEvent struct {
	id, event string
	data      map[string]any
}

// readFeed opens the feed at path with the given header pairs and returns
// a channel of its events (comments dropped), closed when the stream ends.
func readFeed(t *testing.T, ctx context.Context, url, path string, hdr ...string) <-chan sseEvent {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	checkExchange(t, exchange{req: req, reqKnown: true, res: res})
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s = %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer close(out)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.id != "" || ev.event != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[len("id: "):]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(line[len("data: "):]), &ev.data)
			}
		}
	}()
	return out
}

func next(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the feed ended")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the feed in 10 s")
	}
	return sseEvent{}
}

func TestFeed(t *testing.T) {
	e := newEnv(t)
	exp := e.create(`{"data":{"name":"e"}}`)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// Without a position the feed says where it starts, then sends what
	// comes next, filtered.
	live := readFeed(t, ctx, e.url, base+"/$events?hierarchy=ml_pipeline&level_label=model&type=created")
	start := next(t, live)
	if start.id != "1" || start.event != "" {
		t.Fatalf("first message = %+v, want an id-only message at position 1", start)
	}
	model := e.child(exp.ID, "m")
	pred := e.child(model.ID, "p")
	ev := next(t, live)
	if ev.event != "artifact.created" || ev.data["subject"] != model.ID || ev.data["levellabel"] != "model" ||
		ev.data["hierarchy"] != "ml_pipeline" || ev.data["specversion"] != "1.0" || ev.id != ev.data["sequence"] {
		t.Fatalf("event = %+v, want the model's creation", ev)
	}
	if payload, _ := ev.data["data"].(map[string]any); payload["id"] != model.ID || payload["parent_id"] != exp.ID {
		t.Fatalf("payload = %v", ev.data["data"])
	}

	// Resuming after a position sends every later event once, in order.
	e.do(http.MethodPut, base+"/"+pred.ID, `{"data":{"v":2}}`)
	resumed := readFeed(t, ctx, e.url, base+"/%24events", "Last-Event-ID", "1")
	var got []string
	for range 3 {
		ev := next(t, resumed)
		got = append(got, ev.id+" "+ev.event)
	}
	if want := []string{"2 artifact.created", "3 artifact.created", "4 artifact.updated"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("resumed = %v, want %v", got, want)
	}
	one := readFeed(t, ctx, e.url, base+"/$events?since=0&artifact="+strings.ToLower(pred.ID))
	if ev := next(t, one); ev.id != "3" {
		t.Fatalf("one artifact's first event = %+v, want position 3", ev)
	}
	if ev := next(t, one); ev.id != "4" {
		t.Fatalf("one artifact's second event = %+v, want position 4", ev)
	}
}

func TestFeedRejects(t *testing.T) {
	e := newEnv(t)
	for path, field := range map[string]string{
		base + "/$events?type=renamed":    "type",
		base + "/$events?level_label=a.b": "level_label",
		base + "/$events?hierarchy=*":     "hierarchy",
		base + "/$events?since=soon":      "since",
		base + "/$events?artifact=nope":   "artifact",
		base + "/$events?since=-1":        "since",
	} {
		wantField(t, e.do(http.MethodGet, path, ""), field)
	}
	wantField(t, e.do(http.MethodGet, base+"/$events", "", "Last-Event-ID", "x"), "Last-Event-ID")
	wantProblem(t, e.do(http.MethodPost, base+"/$events", `{}`), http.StatusMethodNotAllowed, typeMethod)
}
