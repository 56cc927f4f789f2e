package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"arbor/internal/natsauth"

	"github.com/oklog/ulid/v2"
)

// raceRound is what one round of TestDeleteRacesChildrenAcrossInstances
// asked and was answered.
type raceRound struct {
	parent   string
	deleteOn int
	del      testResponse
	children []raceChild
}

type raceChild struct {
	id string
	on int
	r  testResponse
}

// acked returns the ids of the children answered 201.
func (rr raceRound) acked() []string {
	var ids []string
	for _, c := range rr.children {
		if c.r.status == http.StatusCreated {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// TestDeleteRacesChildrenAcrossInstances races, on two instances sharing
// one NATS server, the delete of a parent against the creation of its
// children: a child needs a live parent, and a parent with live children
// cannot be deleted, whoever asks and wherever.
func TestDeleteRacesChildrenAcrossInstances(t *testing.T) {
	dirA := t.TempDir()
	cfgA := testMainConfig(dirA)
	cfgA.NATSListen = "127.0.0.1:0"
	a := openTestMain(t, cfgA)
	if a.m.NATSURL() == "" {
		t.Fatal("NATSURL is empty with NATSListen 127.0.0.1:0")
	}
	cfgB := testMainConfig("")
	cfgB.NATSURL = a.m.NATSURL()
	cfgB.NATSCreds = a.m.CredentialFile(natsauth.Admin) // another arbor: the operator's role
	b := openTestMain(t, cfgB)
	if b.m.NATSURL() != cfgB.NATSURL {
		t.Fatalf("B's NATSURL = %q, want the configured %q", b.m.NATSURL(), cfgB.NATSURL)
	}
	if a.m.HTTPAddr() == b.m.HTTPAddr() {
		t.Fatalf("both instances serve on %s", a.m.HTTPAddr())
	}
	a.c.waitHealthy(10 * time.Second)
	b.c.waitHealthy(10 * time.Second)
	clients := []*testClient{a.c, b.c}
	names := []string{"A", "B"}

	const rounds, children = 30, 10
	var (
		results []raceRound
		maxPos  uint64
	)
	for round := range rounds {
		var p testDoc
		r := a.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"round": round}}, &p)
		maxPos = max(maxPos, r.position())
		// B may not have applied P yet: every request of the round waits
		// until its instance has.
		wait := map[string]string{"Arbor-Min-Position": strconv.FormatUint(r.position(), 10)}

		rr := raceRound{parent: p.ID, deleteOn: round % 2, children: make([]raceChild, children)}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range children {
			rr.children[i] = raceChild{id: ulid.Make().String(), on: i % 2}
			wg.Go(func() {
				ch := &rr.children[i]
				<-start
				body := map[string]any{"id": ch.id, "parent_id": p.ID, "data": map[string]any{"round": round, "child": i}}
				r, err := clients[ch.on].send(t.Context(), http.MethodPost, testAPI, body, wait)
				if err != nil {
					r = testResponse{status: -1, body: []byte(err.Error())}
				}
				ch.r = r
			})
		}
		wg.Go(func() {
			<-start
			r, err := clients[rr.deleteOn].send(t.Context(), http.MethodDelete, testAPI+"/"+p.ID, nil, wait)
			if err != nil {
				r = testResponse{status: -1, body: []byte(err.Error())}
			}
			rr.del = r
		})
		close(start)
		wg.Wait()
		results = append(results, rr)
		maxPos = max(maxPos, rr.del.position())
		for _, ch := range rr.children {
			maxPos = max(maxPos, ch.r.position())
		}
	}

	// The answers: losers get rule errors, never 5xx, and exactly one side
	// of each race wins.
	deleted := 0
	for round, rr := range results {
		switch rr.del.status {
		case http.StatusNoContent:
			deleted++
		case http.StatusConflict:
		default:
			t.Errorf("round %d: DELETE of %s on %s = %s, want 204 or 409", round, rr.parent, names[rr.deleteOn], rr.del)
		}
		for _, ch := range rr.children {
			switch ch.r.status {
			case http.StatusCreated:
			case http.StatusUnprocessableEntity:
				var pb struct {
					Errors []struct {
						Field string `json:"field"`
					} `json:"errors"`
				}
				if json.Unmarshal(ch.r.body, &pb) != nil || len(pb.Errors) == 0 || pb.Errors[0].Field != "parent_id" {
					t.Errorf("round %d: child %s on %s = %s, want its 422 to name parent_id", round, ch.id, names[ch.on], ch.r)
				}
			default:
				t.Errorf("round %d: child %s on %s = %s, want 201 or 422", round, ch.id, names[ch.on], ch.r)
			}
		}
		// Nobody deletes a child, so a 204 means the delete came before
		// every child (all 422), and a 409 means P stayed live (all 201).
		acked := len(rr.acked())
		switch {
		case rr.del.status == http.StatusNoContent && acked != 0:
			t.Errorf("round %d: violation: %s deleted (on %s) and %d children acknowledged under it", round, rr.parent, names[rr.deleteOn], acked)
		case rr.del.status == http.StatusConflict && acked != children:
			t.Errorf("round %d: %s kept (delete on %s = %s), but only %d of %d children acknowledged", round, rr.parent, names[rr.deleteOn], rr.del, acked, children)
		}
	}
	t.Logf("%d rounds: the delete won %d, the children %d", rounds, deleted, rounds-deleted)

	// Both instances catch up with every answer, then agree with them.
	for i, c := range clients {
		r := c.do(http.MethodGet, testAPI+"/$stats", nil, map[string]string{"Arbor-Min-Position": strconv.FormatUint(maxPos, 10)})
		if r.status != http.StatusOK {
			t.Fatalf("%s did not catch up with position %d: %s", names[i], maxPos, r)
		}
	}
	for i, c := range clients {
		checkRaceInvariant(t, names[i], c, results)
	}

	// Replay: the state rebuilt from the log says the same.
	if err := b.close(); err != nil {
		t.Fatalf("close B: %v", err)
	}
	if err := a.close(); err != nil {
		t.Fatalf("close A: %v", err)
	}
	replay := openTestMain(t, testMainConfig(dirA))
	replay.c.waitHealthy(20 * time.Second)
	checkRaceInvariant(t, "replay of A's data dir", replay.c, results)
}

// checkRaceInvariant checks on one instance that every round's parent is
// either gone with no child, acknowledged or not, or live with exactly the
// acknowledged children.
func checkRaceInvariant(t *testing.T, name string, c *testClient, results []raceRound) {
	t.Helper()
	byParent := map[string][]string{}
	for _, d := range c.listAll() {
		if d.ParentID != nil {
			byParent[*d.ParentID] = append(byParent[*d.ParentID], d.ID)
		}
	}
	violations := 0
	violate := func(format string, args ...any) {
		violations++
		if violations <= 20 {
			t.Errorf("%s: violation: "+format, append([]any{name}, args...)...)
		}
	}
	for round, rr := range results {
		acked := rr.acked()
		r := c.do(http.MethodGet, testAPI+"/"+rr.parent, nil, nil)
		switch r.status {
		case http.StatusNotFound:
			if rr.del.status != http.StatusNoContent {
				violate("round %d: %s is gone, but its DELETE was answered %s", round, rr.parent, rr.del)
			}
			if len(acked) != 0 {
				violate("round %d: %s is gone, but %d of its children were acknowledged", round, rr.parent, len(acked))
			}
			if live := byParent[rr.parent]; len(live) != 0 {
				violate("round %d: %s is gone, but live artifacts name it as parent: %v", round, rr.parent, live)
			}
			for _, ch := range rr.children {
				if r := c.do(http.MethodGet, testAPI+"/"+ch.id, nil, nil); r.status != http.StatusNotFound {
					violate("round %d: child %s of deleted %s: GET = %s, want 404", round, ch.id, rr.parent, r)
				}
			}
		case http.StatusOK:
			if rr.del.status == http.StatusNoContent {
				violate("round %d: %s was deleted (204) but is still there", round, rr.parent)
			}
			var tree testDoc
			tr := c.do(http.MethodGet, testAPI+"/"+rr.parent+"/$tree", nil, nil)
			if tr.status != http.StatusOK || json.Unmarshal(tr.body, &tree) != nil || tree.Children == nil {
				violate("round %d: GET /%s/$tree = %s", round, rr.parent, tr)
				continue
			}
			var inTree []string
			for _, ch := range *tree.Children {
				inTree = append(inTree, ch.ID)
			}
			for _, id := range acked {
				if !slices.Contains(inTree, id) {
					violate("round %d: acknowledged child %s is not in the tree of %s", round, id, rr.parent)
				}
			}
			slices.Sort(inTree)
			want := slices.Sorted(slices.Values(acked))
			if !slices.Equal(inTree, want) {
				violate("round %d: tree of %s has children %v, want the acknowledged %v", round, rr.parent, inTree, want)
			}
			live := slices.Sorted(slices.Values(byParent[rr.parent]))
			if !slices.Equal(live, want) {
				violate("round %d: the list has children %v under %s, want %v", round, live, rr.parent, want)
			}
		default:
			violate("round %d: GET /%s = %s", round, rr.parent, r)
		}
	}
	if violations > 0 {
		t.Errorf("%s: %s", name, fmt.Sprintf("%d violations in %d rounds", violations, len(results)))
	}
}
