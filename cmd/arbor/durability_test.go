package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/internal/lockfile"
)

// buildArbor builds the arbor binary from this package into a temporary
// directory.
func buildArbor(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "arbor")
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a running `arbor serve`.
type process struct {
	cmd    *exec.Cmd
	c      *testClient
	stderr *syncBuffer
	exited chan struct{}
}

// startArbor starts `arbor serve` on dir with fresh ports and waits until
// /health answers 200. It kills the process when the test ends.
func startArbor(t *testing.T, bin, dir string) *process {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dir, "--nats-listen", freePort(t),
		"--hierarchy", "ml_pipeline=experiment,model,predictions")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ARBOR_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	p := &process{cmd: cmd, c: newTestClient(t, "http://"+addr), stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start arbor: %v", err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("arbor on %s logged:\n%s", addr, p.stderr.String())
		}
	})
	var last string
	ok := pollUntil(t.Context(), 30*time.Second, func() bool {
		select {
		case <-p.exited:
			return false
		default:
		}
		status, s := p.c.health(t.Context())
		last = fmt.Sprintf("%d %s", status, s)
		return status == http.StatusOK
	})
	if !ok {
		t.Fatalf("arbor on %s never answered /health 200 (last: %s; exited: %v):\n%s", addr, last, p.hasExited(), p.stderr.String())
	}
	return p
}

func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to end.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// ackedState is an artifact's state: its version and data as acknowledged.
type ackedState struct {
	n    int
	data string
}

// ownedArtifact is what one worker has acknowledged about the artifacts it owns.
type ownedArtifact struct {
	id       string
	level    int
	children int // live children
	live     bool
	v        ackedState
}

// durableWrite is one write a worker made; pending until its answer came.
type durableWrite struct {
	id     string
	create bool
	after  *ackedState // the artifact's state if the op applied; nil: deleted
}

// durabilityWorker writes artifacts it alone owns, so that it knows what
// each of them must be.
type durabilityWorker struct {
	n        int
	rng      *rand.Rand
	c        *testClient
	owned    map[string]*ownedArtifact
	parentOf map[string]string
	live     []*ownedArtifact
	pending  *durableWrite  // the write without an answer, if any
	phase2   []durableWrite // writes acknowledged after the snapshot
	errs     []string       // unexpected answers
}

// step makes one write. It returns false when no answer came: the write is
// then pending, and the worker stops.
func (w *durabilityWorker) step(i int, phase2 bool, counter *atomic.Int64) bool {
	var (
		method, path string
		body         map[string]any
		o            durableWrite
		want         int
		parent       *ownedArtifact
	)
	data := fmt.Sprintf(`{"worker":%d,"step":%d,"phase2":%t,"pad":%q}`, w.n, i, phase2, strings.Repeat("p", w.rng.IntN(200)))
	leaves := slices.DeleteFunc(slices.Clone(w.live), func(m *ownedArtifact) bool { return m.children > 0 })
	parents := slices.DeleteFunc(slices.Clone(w.live), func(m *ownedArtifact) bool { return m.level >= 2 })
	r := w.rng.Float64()
	switch {
	case len(w.live) < 4 || r < 0.3 || (r < 0.6 && len(parents) == 0):
		o = durableWrite{id: ulid.Make().String(), create: true, after: &ackedState{1, data}}
		method, path, want = http.MethodPost, testAPI, http.StatusCreated
		body = map[string]any{"id": o.id, "data": rawJSON(data)}
	case r < 0.6:
		parent = parents[w.rng.IntN(len(parents))]
		o = durableWrite{id: ulid.Make().String(), create: true, after: &ackedState{1, data}}
		method, path, want = http.MethodPost, testAPI, http.StatusCreated
		body = map[string]any{"id": o.id, "parent_id": parent.id, "tags": []string{"child"}, "data": rawJSON(data)}
	case r < 0.85 || len(leaves) == 0:
		m := w.live[w.rng.IntN(len(w.live))]
		o = durableWrite{id: m.id, after: &ackedState{m.v.n + 1, data}}
		method, path, want = http.MethodPut, testAPI+"/"+m.id, http.StatusOK
		body = map[string]any{"data": rawJSON(data)}
	default:
		m := leaves[w.rng.IntN(len(leaves))]
		o = durableWrite{id: m.id}
		method, path, want = http.MethodDelete, testAPI+"/"+m.id, http.StatusNoContent
	}
	w.pending = &o
	var b any // a nil map in an interface would be sent as null
	if body != nil {
		b = body
	}
	resp, err := w.c.send(w.c.t.Context(), method, path, b, nil)
	if err != nil {
		return false
	}
	w.pending = nil
	if resp.status != want {
		w.errs = append(w.errs, fmt.Sprintf("%s %s = %s, want %d", method, path, resp, want))
		return true
	}
	if o.after != nil {
		var d testDoc
		if err := json.Unmarshal(resp.body, &d); err != nil || d.ID != o.id || d.Version != o.after.n || !jsonEqual(d.Data, []byte(o.after.data)) {
			w.errs = append(w.errs, fmt.Sprintf("%s %s = %s, want %s version %d data %s", method, path, resp, o.id, o.after.n, o.after.data))
		}
	}
	if phase2 {
		w.phase2 = append(w.phase2, o)
		counter.Add(1)
	}
	switch {
	case o.create:
		m := &ownedArtifact{id: o.id, live: true, v: *o.after}
		if parent != nil {
			m.level = parent.level + 1
			parent.children++
			w.parentOf[o.id] = parent.id
		}
		w.owned[o.id] = m
		w.live = append(w.live, m)
	case o.after == nil:
		m := w.owned[o.id]
		m.live = false
		m.v.n++
		w.live = slices.DeleteFunc(w.live, func(x *ownedArtifact) bool { return x == m })
		if p := w.owned[w.parentOf[m.id]]; p != nil {
			p.children--
		}
	default:
		w.owned[o.id].v = *o.after
	}
	return true
}

// rawJSON passes s through json.Marshal as it is.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// TestDurabilityAfterKill writes thousands of artifacts to the built binary,
// SIGKILLs it while writes are in flight, and checks on restart that every
// acknowledged write is there and the state is the one read before the kill.
func TestDurabilityAfterKill(t *testing.T) {
	bin := buildArbor(t)
	dir := t.TempDir()
	first := startArbor(t, bin, dir)

	// Another arbor cannot take the store of a running one.
	other := &Main{Config: testMainConfig(dir), Logger: slog.New(slog.DiscardHandler)}
	err := other.Open(t.Context())
	_ = other.Close()
	if !errors.Is(err, lockfile.ErrLocked) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Open on the data dir of a running arbor = %v, want ErrLocked naming %s", err, dir)
	}

	const workers, phase1 = 8, 2800
	ws := make([]*durabilityWorker, workers)
	for i := range ws {
		ws[i] = &durabilityWorker{n: i, rng: rand.New(rand.NewPCG(uint64(i), 42)), c: first.c, owned: map[string]*ownedArtifact{}, parentOf: map[string]string{}}
	}
	var counter atomic.Int64
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Go(func() {
			for i := range phase1 / workers {
				if !w.step(i, false, &counter) {
					w.errs = append(w.errs, fmt.Sprintf("step %d: no answer from a running arbor", i))
					return
				}
			}
		})
	}
	wg.Wait()
	for _, w := range ws {
		for _, e := range w.errs {
			t.Errorf("worker %d: %s", w.n, e)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// The state before the kill, and that it is what was acknowledged.
	before := first.c.listAll()
	beforeByID := map[string]testDoc{}
	for _, d := range before {
		beforeByID[d.ID] = d
	}
	acked := map[string]*ownedArtifact{}
	for _, w := range ws {
		for id, m := range w.owned {
			acked[id] = m
		}
	}
	checkState(t, "before the kill", beforeByID, func(id string) []*ackedState {
		if m := acked[id]; m != nil && m.live {
			return []*ackedState{&m.v}
		}
		return []*ackedState{nil}
	}, acked)

	// Keep writing, and kill arbor once some of these writes are answered.
	const phase2Acks = 150
	// Each worker writes until a write gets no answer: the one in flight
	// at the kill, or the first after it.
	for _, w := range ws {
		wg.Go(func() {
			for i := phase1 / workers; w.step(i, true, &counter); i++ {
			}
		})
	}
	ok := pollUntil(t.Context(), 30*time.Second, func() bool { return counter.Load() >= phase2Acks })
	first.kill()
	wg.Wait()
	if !ok {
		t.Fatalf("only %d writes answered after the snapshot", counter.Load())
	}
	for _, w := range ws {
		for _, e := range w.errs {
			t.Errorf("worker %d: %s", w.n, e)
		}
	}
	inFlight := 0
	for _, w := range ws {
		if w.pending != nil {
			inFlight++
		}
	}
	total := 0
	for _, w := range ws {
		total += len(w.owned)
	}
	t.Logf("%d writes before the snapshot, %d acknowledged after it, %d in flight at the kill; %d artifacts", phase1, counter.Load(), inFlight, total)

	// Restart on the same store: the killed process's lock does not stop it.
	second := startArbor(t, bin, dir)
	second.c.waitHealthy(20 * time.Second)
	after := second.c.listAll()
	afterByID := map[string]testDoc{}
	for _, d := range after {
		afterByID[d.ID] = d
	}
	acked = map[string]*ownedArtifact{}
	pending := map[string]*durableWrite{}
	touched := map[string]bool{}
	for _, w := range ws {
		for id, m := range w.owned {
			acked[id] = m
		}
		for _, o := range w.phase2 {
			touched[o.id] = true
		}
		if w.pending != nil {
			pending[w.pending.id] = w.pending
			touched[w.pending.id] = true
		}
	}
	options := func(id string) []*ackedState {
		var opts []*ackedState
		if m := acked[id]; m != nil && m.live {
			opts = append(opts, &m.v)
		} else {
			opts = append(opts, nil)
		}
		if o := pending[id]; o != nil {
			opts = append(opts, o.after)
		}
		return opts
	}
	checkState(t, "after the restart", afterByID, options, acked)
	landed := 0
	for id, o := range pending {
		d, ok := afterByID[id]
		if o.after != nil && ok && d.Version == o.after.n || o.after == nil && !ok && acked[id] != nil && acked[id].live {
			landed++
		}
	}
	t.Logf("%d of the %d writes in flight at the kill landed", landed, len(pending))

	// Every acknowledged artifact reads back by id too.
	for id := range acked {
		r := second.c.do(http.MethodGet, testAPI+"/"+id, nil, nil)
		var got *ackedState
		if r.status == http.StatusOK {
			var d testDoc
			if err := json.Unmarshal(r.body, &d); err != nil {
				t.Fatalf("GET %s: %v", id, err)
			}
			got = &ackedState{d.Version, string(d.Data)}
		} else if r.status != http.StatusNotFound {
			t.Errorf("after the restart GET %s = %s", id, r)
			continue
		}
		if !matchesOne(got, options(id)) {
			t.Errorf("after the restart GET %s = %s, want one of %s", id, r, describe(options(id)))
		}
	}

	// Untouched after the snapshot: the very same document; and the list
	// keeps the order it had.
	var order []string
	for _, d := range after {
		if _, ok := beforeByID[d.ID]; ok {
			order = append(order, d.ID)
		}
		if touched[d.ID] {
			continue
		}
		b, ok := beforeByID[d.ID]
		if !ok {
			t.Errorf("after the restart %s is listed, but was neither listed before the kill nor written after", d.ID)
			continue
		}
		if !reflect.DeepEqual(b, d) {
			t.Errorf("after the restart %s is\n%+v\nbefore the kill it was\n%+v", d.ID, d, b)
		}
	}
	for _, d := range before {
		if _, ok := afterByID[d.ID]; !ok && !touched[d.ID] {
			t.Errorf("%s was listed before the kill and nothing deleted it, but is gone after the restart", d.ID)
		}
	}
	var wantOrder []string
	for _, d := range before {
		if _, ok := afterByID[d.ID]; ok {
			wantOrder = append(wantOrder, d.ID)
		}
	}
	if !slices.Equal(order, wantOrder) {
		t.Errorf("after the restart the list order of the artifacts listed before the kill changed")
	}
}

// checkState checks that listed holds exactly the artifacts whose options
// include a live version, each at one of its options (nil: absent).
func checkState(t *testing.T, when string, listed map[string]testDoc, options func(string) []*ackedState, acked map[string]*ownedArtifact) {
	t.Helper()
	ids := map[string]bool{}
	for id := range listed {
		ids[id] = true
	}
	for id := range acked {
		ids[id] = true
	}
	bad := 0
	for id := range ids {
		var got *ackedState
		if d, ok := listed[id]; ok {
			got = &ackedState{d.Version, string(d.Data)}
		}
		if opts := options(id); !matchesOne(got, opts) {
			bad++
			if bad <= 10 {
				t.Errorf("%s: %s is listed as %s, want one of %s", when, id, describe([]*ackedState{got}), describe(opts))
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d artifacts of %d differ from what was acknowledged", when, bad, len(ids))
	}
}

func matchesOne(got *ackedState, opts []*ackedState) bool {
	for _, o := range opts {
		switch {
		case got == nil && o == nil:
			return true
		case got != nil && o != nil && got.n == o.n && jsonEqual([]byte(got.data), []byte(o.data)):
			return true
		}
	}
	return false
}

func describe(vs []*ackedState) string {
	var parts []string
	for _, v := range vs {
		if v == nil {
			parts = append(parts, "absent")
		} else {
			parts = append(parts, fmt.Sprintf("version %d %s", v.n, v.data))
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
