package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/internal/natstest"
)

// Problem types a client of a cluster may be answered with when the log
// cannot be written (see httpapi/problem.go).
const (
	problemUnavailable    = "urn:servicekit:error:unavailable"
	problemOutcomeUnknown = "urn:arbor:error:outcome-unknown"
	problemNotYetVisible  = "urn:arbor:error:not-yet-visible"
)

// clusterServerURL is the client URL of server i of cl alone. Given the
// whole list, a Main may start on any server: nats.go shuffles a list
// unless DontRandomize is set, and arbor does not set it. Given one URL it
// starts there, and fails over to the servers the cluster tells it about.
func clusterServerURL(cl *natstest.Cluster, i int) string {
	return strings.Split(cl.URLs(), ",")[i]
}

// openClusterMain opens a Main using the NATS cluster at natsURL, with
// stream and buckets on 3 replicas, and waits until it is healthy.
func openClusterMain(t *testing.T, natsURL string) *testInstance {
	t.Helper()
	cfg := testMainConfig("")
	cfg.NATSURL = natsURL
	cfg.Replicas = 3
	in := openTestMain(t, cfg)
	in.c.waitHealthy(30 * time.Second)
	return in
}

// minPosition asks an instance to answer once it has applied pos.
func minPosition(pos uint64) map[string]string {
	return map[string]string{"Arbor-Min-Position": strconv.FormatUint(pos, 10)}
}

// mustAt is testClient.must with request headers.
func mustAt(c *testClient, want int, method, path string, body any, header map[string]string, out any) testResponse {
	c.t.Helper()
	r := c.do(method, path, body, header)
	if r.status != want {
		c.t.Fatalf("%s %s = %s, want %d", method, path, r, want)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
	return r
}

// clusterCatchUp waits until every instance has applied the last position
// of the ARTIFACTS stream as js reads it, and returns that position.
func clusterCatchUp(t *testing.T, js jetstream.JetStream, clients map[string]*testClient) uint64 {
	t.Helper()
	var (
		last uint64
		err  error
	)
	if !pollUntil(t.Context(), 20*time.Second, func() bool {
		var s jetstream.Stream
		if s, err = js.Stream(t.Context(), "ARTIFACTS"); err != nil {
			return false
		}
		var info *jetstream.StreamInfo
		if info, err = s.Info(t.Context()); err != nil {
			return false
		}
		last = info.State.LastSeq
		return true
	}) {
		t.Fatalf("ARTIFACTS stream info: %v", err)
	}
	for name, c := range clients {
		var r testResponse
		if !pollUntil(t.Context(), 30*time.Second, func() bool {
			r, err = c.send(t.Context(), http.MethodGet, testAPI+"/$stats", nil, minPosition(last))
			return err == nil && r.status == http.StatusOK
		}) {
			t.Fatalf("%s did not apply position %d: %s %v", name, last, r, err)
		}
	}
	return last
}

// clusterProblem is the problem document of an error answer.
type clusterProblem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// problem503 decodes r as a 503 problem+json, or says why it is not one.
func problem503(r testResponse) (clusterProblem, error) {
	var p clusterProblem
	switch ct := r.header.Get("Content-Type"); {
	case r.status != http.StatusServiceUnavailable:
		return p, fmt.Errorf("status %d, want 503", r.status)
	case ct != "application/problem+json":
		return p, fmt.Errorf("503 with Content-Type %q, want application/problem+json", ct)
	case json.Unmarshal(r.body, &p) != nil || p.Status != r.status || p.Type == "" || p.Detail == "":
		return p, fmt.Errorf("503 whose body is no problem document: %s", r.body)
	}
	// The detail tells the outcome too, for clients that read only it.
	want := map[string]string{
		problemOutcomeUnknown: "may or may not have been recorded",
		problemNotYetVisible:  "was recorded",
	}[p.Type]
	if !strings.Contains(p.Detail, want) {
		return p, fmt.Errorf("503 %s whose detail %q does not say %q", p.Type, p.Detail, want)
	}
	return p, nil
}

// clusterRound is one round of TestClusterRace: the part its two-instance
// sibling checks too, and P's creation and the two updates of P.
type clusterRound struct {
	raceRound
	round   int
	created testResponse // P's creation
	puts    [2]clusterPut
}

type clusterPut struct {
	on   int
	data string
	r    testResponse
}

// childData is the data of child i of round's parent.
func childData(round, i int) string { return fmt.Sprintf(`{"round":%d,"child":%d}`, round, i) }

// maxPos is the highest position any answer of the round carries.
func (cr *clusterRound) maxPos() uint64 {
	pos := max(cr.created.position(), cr.del.position())
	for _, ch := range cr.children {
		pos = max(pos, ch.r.position())
	}
	for _, p := range cr.puts {
		pos = max(pos, p.r.position())
	}
	return pos
}

// TestClusterRace races, on two instances on a 3-server cluster with a
// replicated stream, the deletion of a model against the creation of its
// children and two updates of it with the same If-Match. The rules hold on
// both instances as they answered, and in a Main that replays the log.
func TestClusterRace(t *testing.T) {
	cl := natstest.StartCluster(t, 3)
	a := openClusterMain(t, clusterServerURL(cl, 0))
	b := openClusterMain(t, clusterServerURL(cl, 1))
	t.Logf("A on %s, B on %s, ARTIFACTS led by n%d", a.m.nc.ConnectedServerName(), b.m.nc.ConnectedServerName(),
		cl.StreamLeader(t, "ARTIFACTS"))
	clients := []*testClient{a.c, b.c}
	names := []string{"A", "B"}

	var exp testDoc
	er := a.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"experiment": "race"}}, &exp)
	const rounds, children = 30, 10
	results := make([]*clusterRound, 0, rounds)
	var maxPos uint64
	start := time.Now()
	for round := range rounds {
		cr := &clusterRound{round: round}
		var p testDoc
		cr.created = mustAt(clients[round%2], http.StatusCreated, http.MethodPost, testAPI,
			map[string]any{"parent_id": exp.ID, "data": map[string]any{"round": round}}, minPosition(er.position()), &p)
		cr.parent, cr.deleteOn = p.ID, (round+1)%2
		// Every request of the round waits until its instance has P.
		wait := minPosition(cr.created.position())
		putHeader := minPosition(cr.created.position())
		putHeader["If-Match"] = cr.created.header.Get("ETag")

		cr.children = make([]raceChild, children)
		begin := make(chan struct{})
		var wg sync.WaitGroup
		answer := func(r testResponse, err error) testResponse {
			if err != nil {
				return testResponse{status: -1, body: []byte(err.Error())}
			}
			return r
		}
		for i := range children {
			ch := &cr.children[i]
			*ch = raceChild{id: ulid.Make().String(), on: i % 2}
			body := map[string]any{"id": ch.id, "parent_id": p.ID, "data": json.RawMessage(childData(round, i))}
			wg.Go(func() {
				<-begin
				ch.r = answer(clients[ch.on].send(t.Context(), http.MethodPost, testAPI, body, wait))
			})
		}
		wg.Go(func() {
			<-begin
			cr.del = answer(clients[cr.deleteOn].send(t.Context(), http.MethodDelete, testAPI+"/"+p.ID, nil, wait))
		})
		for j := range cr.puts {
			put := &cr.puts[j]
			*put = clusterPut{on: j, data: fmt.Sprintf(`{"round":%d,"put":%d}`, round, j)}
			body := map[string]any{"data": json.RawMessage(put.data)}
			wg.Go(func() {
				<-begin
				put.r = answer(clients[put.on].send(t.Context(), http.MethodPut, testAPI+"/"+p.ID, body, putHeader))
			})
		}
		close(begin)
		wg.Wait()
		results = append(results, cr)
		maxPos = max(maxPos, cr.maxPos())

		checkClusterAnswers(t, cr, names)
		// Every acknowledged write is visible on both instances at once,
		// given its position.
		for i, c := range clients {
			checkClusterRound(t, names[i], c, cr)
		}
	}
	elapsed := time.Since(start)
	deleted, updated := 0, 0
	for _, cr := range results {
		if cr.del.status == http.StatusNoContent {
			deleted++
		}
		for _, p := range cr.puts {
			if p.r.status == http.StatusOK {
				updated++
			}
		}
	}
	t.Logf("%d rounds in %v: the delete won %d, the children %d; %d updates applied; conflicts retried: A %d, B %d",
		rounds, elapsed.Round(time.Millisecond), deleted, rounds-deleted, updated,
		a.m.commands.Conflicts(), b.m.commands.Conflicts())

	races := make([]raceRound, len(results))
	for i, cr := range results {
		races[i] = cr.raceRound
	}
	for i, c := range clients {
		mustAt(c, http.StatusOK, http.MethodGet, testAPI+"/$stats", nil, minPosition(maxPos), nil)
		checkRaceInvariant(t, names[i], c, races)
	}

	// A Main that starts from the log alone says the same.
	if err := b.close(); err != nil {
		t.Fatalf("close B: %v", err)
	}
	if err := a.close(); err != nil {
		t.Fatalf("close A: %v", err)
	}
	replay := openClusterMain(t, cl.URLs())
	mustAt(replay.c, http.StatusOK, http.MethodGet, testAPI+"/$stats", nil, minPosition(maxPos), nil)
	checkRaceInvariant(t, "replay", replay.c, races)
	for _, cr := range results {
		checkClusterRound(t, "replay", replay.c, cr)
	}
}

// checkClusterAnswers checks the statuses of one round of TestClusterRace:
// the losers of each race get rule errors, never 5xx, and a delete and a
// child creation never both win.
func checkClusterAnswers(t *testing.T, cr *clusterRound, names []string) {
	t.Helper()
	round := cr.round
	switch cr.del.status {
	case http.StatusNoContent, http.StatusConflict:
	default:
		t.Errorf("round %d: DELETE %s on %s = %s, want 204 or 409", round, cr.parent, names[cr.deleteOn], cr.del)
	}
	for _, ch := range cr.children {
		switch ch.r.status {
		case http.StatusCreated:
			var d testDoc
			if json.Unmarshal(ch.r.body, &d) != nil || d.ID != ch.id || d.ParentID == nil || *d.ParentID != cr.parent {
				t.Errorf("round %d: child %s on %s = %s, want it under %s", round, ch.id, names[ch.on], ch.r, cr.parent)
			}
		case http.StatusUnprocessableEntity:
			if !strings.Contains(string(ch.r.body), `"field":"parent_id"`) {
				t.Errorf("round %d: child %s on %s = %s, want its 422 to name parent_id", round, ch.id, names[ch.on], ch.r)
			}
		default:
			t.Errorf("round %d: child %s on %s = %s, want 201 or 422", round, ch.id, names[ch.on], ch.r)
		}
	}
	// Nobody deletes a child: a 204 means the delete came before every
	// child, a 409 that P stayed live for all of them.
	acked := len(cr.acked())
	switch {
	case cr.del.status == http.StatusNoContent && acked != 0:
		t.Errorf("round %d: violation: %s deleted and %d children acknowledged under it", round, cr.parent, acked)
	case cr.del.status == http.StatusConflict && acked != len(cr.children):
		t.Errorf("round %d: %s kept (%s), but only %d of %d children acknowledged", round, cr.parent, cr.del, acked, len(cr.children))
	}
	// Both updates expect version 1: at most one applies.
	applied := 0
	for _, p := range cr.puts {
		switch p.r.status {
		case http.StatusOK:
			applied++
			var d testDoc
			if json.Unmarshal(p.r.body, &d) != nil || d.Version != 2 || !jsonEqual(d.Data, []byte(p.data)) {
				t.Errorf("round %d: PUT %s on %s = %s, want version 2 with %s", round, cr.parent, names[p.on], p.r, p.data)
			}
		case http.StatusPreconditionFailed:
		case http.StatusNotFound:
			if cr.del.status != http.StatusNoContent {
				t.Errorf("round %d: PUT %s on %s = %s, but the delete was answered %s", round, cr.parent, names[p.on], p.r, cr.del)
			}
		default:
			t.Errorf("round %d: PUT %s on %s = %s, want 200, 412 or 404", round, cr.parent, names[p.on], p.r)
		}
	}
	if applied > 1 {
		t.Errorf("round %d: violation: both updates of %s with If-Match %q applied", round, cr.parent, cr.created.header.Get("ETag"))
	}
}

// checkClusterRound checks on one instance, waiting for the round's last
// position, that every acknowledged write of the round is there: each
// child answered 201 with its data under P, and P deleted if the delete
// won, else at the version and with the data of the update that won.
func checkClusterRound(t *testing.T, name string, c *testClient, cr *clusterRound) {
	t.Helper()
	for i, ch := range cr.children {
		if ch.r.status != http.StatusCreated {
			continue
		}
		r := c.do(http.MethodGet, testAPI+"/"+ch.id, nil, minPosition(ch.r.position()))
		var d testDoc
		if r.status != http.StatusOK || json.Unmarshal(r.body, &d) != nil ||
			d.ParentID == nil || *d.ParentID != cr.parent || !jsonEqual(d.Data, []byte(childData(cr.round, i))) {
			t.Errorf("%s: round %d: acknowledged child %s: GET = %s, want it under %s with %s",
				name, cr.round, ch.id, r, cr.parent, childData(cr.round, i))
		}
	}
	r := c.do(http.MethodGet, testAPI+"/"+cr.parent, nil, minPosition(cr.maxPos()))
	if cr.del.status == http.StatusNoContent {
		if r.status != http.StatusNotFound {
			t.Errorf("%s: round %d: %s was deleted (204 at %d), GET = %s", name, cr.round, cr.parent, cr.del.position(), r)
		}
		return
	}
	wantData, wantVersion := fmt.Sprintf(`{"round":%d}`, cr.round), 1
	for _, p := range cr.puts {
		if p.r.status == http.StatusOK {
			wantData, wantVersion = p.data, wantVersion+1
		}
	}
	var d testDoc
	if r.status != http.StatusOK || json.Unmarshal(r.body, &d) != nil || d.Version != wantVersion || !jsonEqual(d.Data, []byte(wantData)) {
		t.Errorf("%s: round %d: GET %s = %s, want version %d with %s", name, cr.round, cr.parent, r, wantVersion, wantData)
	}
}

// killFate is what a create of TestClusterLeaderKill did to the log, as
// its answers told.
type killFate int

const (
	fateUnsettled  killFate = iota // an unknown outcome that retrying the create with its id did not settle
	fateWritten                    // 201; 503 not-yet-visible; 409 on a retry after an unknown outcome
	fateNotWritten                 // 503 "nothing was written"
	fateUnknown                    // 503 outcome unknown for an id arbor chose: no retry can settle it
	fateWrong                      // an answer the contract does not allow, reported already
)

// killWrite is one create of TestClusterLeaderKill.
type killWrite struct {
	id         string // chosen by the client, or by arbor once a 201 says
	clientID   bool
	parent     string
	level      int
	on         int
	data       string // unique: it finds the artifact when arbor chose the id
	afterKill  bool   // sent once the killed server had stopped
	fate       killFate
	pos        uint64   // where it was written, when an answer said
	answers    []string // every answer, in order
	retried    bool
	sentAt     time.Time
	answeredAt time.Time // of the last answer
}

// killLoad creates roots, models and predictions through two instances and
// keeps what every request was answered.
type killLoad struct {
	t       *testing.T
	clients []*testClient
	names   []string
	killed  atomic.Bool

	acked      atomic.Int64    // 201s
	ackedAfter [2]atomic.Int64 // 201s to requests sent after the kill, per instance

	mu       sync.Mutex
	writes   []*killWrite
	parents  [2][]*killWrite // created (201) roots and models, to create under
	resumeAt [2]time.Time    // when each instance first answered 201 to a request sent after the kill
}

// run creates through instance w%2 until stop is closed or, when it is
// not zero, that instance has answered 201 to enough requests sent after
// the kill. Writers 0, 1, 4, 5, ... choose the ids, the others let arbor
// choose.
func (l *killLoad) run(w int, stop <-chan struct{}, enough int64) {
	rng := rand.New(rand.NewPCG(uint64(w), 7))
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		if enough > 0 && l.ackedAfter[w%2].Load() >= enough {
			return
		}
		l.create(w, n, rng)
	}
}

// create makes one artifact: a root, a model under a root, or a
// prediction under a model, the parent picked among those answered 201.
func (l *killLoad) create(w, n int, rng *rand.Rand) {
	kw := &killWrite{on: w % 2, clientID: w%4 < 2, data: fmt.Sprintf(`{"writer":%d,"n":%d}`, w, n), afterKill: l.killed.Load()}
	body := map[string]any{"data": json.RawMessage(kw.data)}
	if kw.clientID {
		kw.id = ulid.Make().String()
		body["id"] = kw.id
	}
	var header map[string]string
	l.mu.Lock()
	if lv := n % 3; lv > 0 && len(l.parents[lv-1]) > 0 {
		p := l.parents[lv-1][rng.IntN(len(l.parents[lv-1]))]
		kw.parent, kw.level = p.id, lv
		body["parent_id"] = p.id
		header = minPosition(p.pos) // it may have been created through the other instance
	}
	l.writes = append(l.writes, kw)
	l.mu.Unlock()

	kw.sentAt = time.Now()
	r, ok := l.send(kw, body, header)
	if !ok {
		return
	}
	switch r.status {
	case http.StatusCreated:
		l.created(kw, r)
		return
	case http.StatusServiceUnavailable:
	default:
		l.wrong(kw, "a valid create answered %s", r)
		return
	}
	p, err := problem503(r)
	switch {
	case err != nil:
		l.wrong(kw, "%v", err)
	case p.Type == problemNotYetVisible:
		l.written(kw, r)
	case p.Type == problemUnavailable:
		kw.fate = fateNotWritten
	case p.Type == problemOutcomeUnknown && kw.clientID:
		l.settle(kw, body, header)
	case p.Type == problemOutcomeUnknown:
		kw.fate = fateUnknown
	default:
		l.wrong(kw, "503 of unexpected type %s", p.Type)
	}
}

// settle sends a create with a client-chosen id again until an answer
// says whether it was written: 201 (it was not, now it is), 409 (it was),
// or a 503 that knows.
func (l *killLoad) settle(kw *killWrite, body any, header map[string]string) {
	kw.retried = true
	pollUntil(l.t.Context(), 45*time.Second, func() bool {
		r, ok := l.send(kw, body, header)
		if !ok {
			return true
		}
		switch r.status {
		case http.StatusCreated:
			l.created(kw, r)
			return true
		case http.StatusConflict:
			// The first copy was written: the instance caught up with the
			// whole log before it decided, so it has the artifact.
			g, err := l.clients[kw.on].send(l.t.Context(), http.MethodGet, testAPI+"/"+kw.id, nil, nil)
			if err != nil || g.status != http.StatusOK {
				l.wrong(kw, "409 after an unknown outcome, but GET = %s %v", g, err)
				return true
			}
			kw.fate = fateWritten
			return true
		case http.StatusServiceUnavailable:
			p, err := problem503(r)
			switch {
			case err != nil:
				l.wrong(kw, "%v", err)
				return true
			case p.Type == problemNotYetVisible:
				l.written(kw, r)
				return true
			}
			return false // unknown again, or not written this time: send it again
		}
		l.wrong(kw, "a retry after an unknown outcome answered %s", r)
		return true
	})
}

// send sends one create and keeps its answer; false when none came.
func (l *killLoad) send(kw *killWrite, body any, header map[string]string) (testResponse, bool) {
	r, err := l.clients[kw.on].send(l.t.Context(), http.MethodPost, testAPI, body, header)
	kw.answeredAt = time.Now()
	if err != nil {
		l.wrong(kw, "no answer: %v", err)
		return r, false
	}
	kw.answers = append(kw.answers, fmt.Sprintf("%d %s", r.status, strings.TrimSpace(string(r.body))))
	return r, true
}

// created takes a 201: it must be the artifact sent.
func (l *killLoad) created(kw *killWrite, r testResponse) {
	var d testDoc
	if json.Unmarshal(r.body, &d) != nil || d.ID == "" || (kw.clientID && d.ID != kw.id) || !jsonEqual(d.Data, []byte(kw.data)) ||
		(kw.parent == "") != (d.ParentID == nil) || (d.ParentID != nil && *d.ParentID != kw.parent) || r.position() == 0 {
		l.wrong(kw, "201 for another artifact than sent (%s under %q)", kw.data, kw.parent)
		return
	}
	kw.id, kw.fate, kw.pos = d.ID, fateWritten, r.position()
	l.acked.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if kw.level < 2 {
		l.parents[kw.level] = append(l.parents[kw.level], kw)
	}
	if kw.afterKill {
		if l.ackedAfter[kw.on].Add(1) == 1 {
			l.resumeAt[kw.on] = time.Now()
		}
	}
}

// written takes a 503 not-yet-visible: written at the position it names.
func (l *killLoad) written(kw *killWrite, r testResponse) {
	if kw.pos = r.position(); kw.pos == 0 {
		l.wrong(kw, "503 not-yet-visible without %s", "Arbor-Position")
		return
	}
	kw.fate = fateWritten
}

func (l *killLoad) wrong(kw *killWrite, format string, args ...any) {
	kw.fate = fateWrong
	l.t.Errorf("create %q (%s) on %s (answers %q): %s", kw.id, kw.data, l.names[kw.on], kw.answers, fmt.Sprintf(format, args...))
}

// check checks on one instance, caught up with the log, that every create
// that was written is there once, with its data and parent, that every one
// answered "nothing was written" is not, and that nothing else is.
func (l *killLoad) check(name string, c *testClient) {
	l.t.Helper()
	byData := map[string][]testDoc{} // the data of writes is unique
	docs := c.listAll()
	for _, d := range docs {
		byData[canonicalJSON(d.Data)] = append(byData[canonicalJSON(d.Data)], d)
	}
	bad, found := 0, 0
	fail := func(kw *killWrite, format string, args ...any) {
		l.t.Errorf("%s: create %q (%s under %q) answered %q: %s", name, kw.id, kw.data, kw.parent, kw.answers, fmt.Sprintf(format, args...))
		if bad++; bad >= 20 {
			l.t.Fatalf("%s: too many lost or wrong writes", name)
		}
	}
	for _, kw := range l.writes {
		same := byData[canonicalJSON([]byte(kw.data))]
		found += len(same)
		switch {
		case len(same) > 1:
			fail(kw, "%d artifacts carry its data", len(same))
			continue
		case kw.fate == fateNotWritten && len(same) != 0:
			fail(kw, "yet %s is there", same[0].ID)
			continue
		case kw.fate == fateWritten && len(same) == 0:
			fail(kw, "but it is not there")
			continue
		case len(same) == 1 && (kw.id != "" && same[0].ID != kw.id ||
			(same[0].ParentID == nil) != (kw.parent == "") || same[0].ParentID != nil && *same[0].ParentID != kw.parent):
			fail(kw, "but the artifact with its data is %s under %v", same[0].ID, same[0].ParentID)
			continue
		}
		if kw.fate == fateWritten && kw.id != "" {
			// By id too, as a client reads it back.
			if r := c.do(http.MethodGet, testAPI+"/"+kw.id, nil, nil); r.status != http.StatusOK {
				fail(kw, "GET = %s", r)
			}
		}
	}
	if found != len(docs) {
		l.t.Errorf("%s: %d artifacts, %d of them created by the load", name, len(docs), found)
	}
}

// canonicalJSON is the JSON value in b with its object keys sorted.
func canonicalJSON(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

// TestClusterLeaderKill kills the server leading the stream while two
// instances create artifacts. Writes resume on both instances once another
// server leads; every write acknowledged is kept with its data, on both
// instances and in a Main that replays the log; every failure is a 503
// problem that tells whether the write was made.
func TestClusterLeaderKill(t *testing.T) {
	cl := natstest.StartCluster(t, 3)
	a := openClusterMain(t, clusterServerURL(cl, 0))
	// One instance on the server that leads the stream, one on another,
	// so that the kill cuts one instance's connection and not the other's.
	onB := cl.StreamLeader(t, "ARTIFACTS")
	if onB == 0 {
		onB = 1
	}
	b := openClusterMain(t, clusterServerURL(cl, onB))
	// A request in flight when its leader dies waits out arbor's 30 s
	// command timeout; the test client must wait longer.
	patient := func(in *testInstance) *testClient {
		c := newTestClient(t, in.c.base)
		c.hc.Timeout = 60 * time.Second
		return c
	}
	l := &killLoad{t: t, clients: []*testClient{patient(a), patient(b)}, names: []string{"A", "B"}}

	const writers = 8
	var (
		wg               sync.WaitGroup
		stopOld, stopNew = make(chan struct{}), make(chan struct{})
		oldOnce, newOnce sync.Once
	)
	stopAll := func() {
		oldOnce.Do(func() { close(stopOld) })
		newOnce.Do(func() { close(stopNew) })
		wg.Wait()
	}
	defer stopAll() // before the Mains close, whatever fails
	for w := range writers {
		wg.Go(func() { l.run(w, stopOld, 0) })
	}
	start := time.Now()
	if !pollUntil(t.Context(), 30*time.Second, func() bool {
		return l.acked.Load() >= 200 && time.Since(start) >= 2*time.Second
	}) {
		t.Fatalf("only %d creates acknowledged in 30s before the kill, want 200", l.acked.Load())
	}
	ackedBefore := l.acked.Load()
	leader := cl.StreamLeader(t, "ARTIFACTS")
	killedAt := time.Now()
	cl.Kill(leader)
	l.killed.Store(true)
	oldOnce.Do(func() { close(stopOld) })
	t.Logf("killed n%d, the stream leader, after %d creates in %v (A on n0, B on n%d); stopping it took %v",
		leader, ackedBefore, killedAt.Sub(start).Round(time.Millisecond), onB, time.Since(killedAt).Round(time.Millisecond))
	// The writers that were waiting on the dead leader may stay stuck for
	// 30 s: new ones show whether writes resume meanwhile, on each
	// instance.
	const enough = 20
	for w := range writers {
		wg.Go(func() { l.run(writers+w, stopNew, enough) })
	}
	resumed := pollUntil(t.Context(), 30*time.Second, func() bool {
		return l.ackedAfter[0].Load() >= enough && l.ackedAfter[1].Load() >= enough
	})
	stopAll()
	t.Logf("load ended %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	if !resumed {
		t.Errorf("writes did not resume within 30s of the kill: 201s after it: A %d, B %d", l.ackedAfter[0].Load(), l.ackedAfter[1].Load())
	}
	for i, at := range l.resumeAt {
		if !at.IsZero() {
			t.Logf("%s: first 201 to a request sent after the kill came %v after it", l.names[i], at.Sub(killedAt).Round(time.Millisecond))
		}
	}
	fates := map[killFate]int{}
	problems, retried, slow := map[string]int{}, 0, 0
	for _, kw := range l.writes {
		fates[kw.fate]++
		if kw.retried {
			retried++
		}
		if kw.answeredAt.Sub(kw.sentAt) > 5*time.Second {
			slow++
		}
		for _, ans := range kw.answers {
			if strings.HasPrefix(ans, "503 ") {
				var p clusterProblem
				_ = json.Unmarshal([]byte(ans[4:]), &p)
				problems[p.Type+": "+p.Detail]++
			}
		}
	}
	t.Logf("%d creates: %d written (%d answered 201), %d not written, %d unknown (id chosen by arbor), %d unsettled, %d wrong; "+
		"%d retried after an unknown outcome; %d took more than 5s",
		len(l.writes), fates[fateWritten], l.acked.Load(), fates[fateNotWritten], fates[fateUnknown], fates[fateUnsettled],
		fates[fateWrong], retried, slow)
	for p, n := range problems {
		t.Logf("  503 %dx: %s", n, p)
	}
	if fates[fateUnsettled] > 0 {
		t.Errorf("%d creates answered 503 outcome unknown could not be settled by retrying them", fates[fateUnsettled])
	}

	survivor := (leader + 1) % 3
	_, js := cl.Connect(t, survivor)
	last := clusterCatchUp(t, js, map[string]*testClient{"A": a.c, "B": b.c})
	l.check("A", a.c)
	l.check("B", b.c)

	cl.Restart(t, leader)
	if err := b.close(); err != nil {
		t.Errorf("close B: %v", err)
	}
	if err := a.close(); err != nil {
		t.Errorf("close A: %v", err)
	}
	replay := openClusterMain(t, cl.URLs())
	if got := clusterCatchUp(t, js, map[string]*testClient{"replay": replay.c}); got != last {
		t.Errorf("the log moved from %d to %d with no writer", last, got)
	}
	l.check("replay", replay.c)
}

// TestClusterCreatesUnderOneParent has 16 writers create 1,000 children of
// one model through one instance on a replicated stream: the sharded seal
// keeps them from serializing on the leader's in-flight check, so all
// succeed with few conflicts.
func TestClusterCreatesUnderOneParent(t *testing.T) {
	cl := natstest.StartCluster(t, 3)
	in := openClusterMain(t, cl.URLs())
	leader := cl.StreamLeader(t, "ARTIFACTS")
	var exp, model testDoc
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"experiment": 1}}, &exp)
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": exp.ID, "data": map[string]any{"model": 1}}, &model)

	const writers, creates = 16, 1000
	var (
		wg        sync.WaitGroup
		next      atomic.Int64
		failed    atomic.Int64
		mu        sync.Mutex
		latencies []time.Duration
		maxPos    uint64
	)
	before := in.m.commands.Conflicts()
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for n := next.Add(1); n <= creates; n = next.Add(1) {
				body := map[string]any{"parent_id": model.ID, "data": map[string]any{"n": n}}
				t0 := time.Now()
				r, err := in.c.send(t.Context(), http.MethodPost, testAPI, body, nil)
				d := time.Since(t0)
				if err != nil || r.status != http.StatusCreated {
					if failed.Add(1) <= 10 {
						t.Errorf("create %d: %s %v", n, r, err)
					}
					continue
				}
				mu.Lock()
				latencies = append(latencies, d)
				maxPos = max(maxPos, r.position())
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	conflicts := in.m.commands.Conflicts() - before
	slices.Sort(latencies)
	pct := func(q float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(q*float64(len(latencies)-1))].Round(10 * time.Microsecond)
	}
	perCreate := float64(conflicts) / creates
	t.Logf("instance on %s, ARTIFACTS led by n%d: %d creates under one parent by %d writers in %v: %.0f/s, p50 %v, p99 %v, %d errors, %d conflicts (%.3f per create)",
		in.m.nc.ConnectedServerName(), leader, creates, writers, elapsed.Round(time.Millisecond), creates/elapsed.Seconds(),
		pct(0.5), pct(0.99), failed.Load(), conflicts, perCreate)
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d creates failed, want none", n, creates)
	}
	if perCreate >= 0.5 {
		t.Errorf("%.3f conflicts per create, want under 0.5: concurrent creates under one parent serialize", perCreate)
	}

	var tree testDoc
	mustAt(in.c, http.StatusOK, http.MethodGet, testAPI+"/"+model.ID+"/$tree?max_depth=1", nil, minPosition(maxPos), &tree)
	if tree.Children == nil || len(*tree.Children) != creates-int(failed.Load()) {
		n := -1
		if tree.Children != nil {
			n = len(*tree.Children)
		}
		t.Errorf("the model has %d children, want %d", n, creates-int(failed.Load()))
	}
}
