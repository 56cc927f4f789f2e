package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/projection"
)

// smallStore measures a store of --small artifacts: reads, memory and
// restarts at that size; then, the store growing, root creates beside the
// bare handler and the other write measurements.
func (b *bench) smallStore(ctx context.Context) error {
	defer b.rep.inSection(0)()
	shape := shapeFor(b.opts.small, b.opts.treeKids, 0, 0)
	store := commas(int64(shape.Total()))
	st, done, err := b.newStore(ctx, store, shape)
	if err != nil {
		return err
	}
	defer done()
	if err := b.atSize(ctx, store, st, nil); err != nil {
		return err
	}
	b.peak(store, "")
	store += "+"
	b.rootCreates(ctx, store)
	if !b.opts.skip["writes"] {
		if err := b.writes(ctx, store); err != nil {
			return err
		}
	}
	if !b.opts.skip["feed"] && b.opts.feed > 0 {
		if err := b.feedDelay(ctx, store, b.opts.feed); err != nil {
			return err
		}
	}
	if b.opts.contentMiB > 0 {
		return b.content(ctx, store, b.opts.contentMiB<<20)
	}
	return nil
}

// largeStore measures a store of --artifacts artifacts: reads, memory and
// restarts at that size, then creates under its very wide model. meanwhile,
// if not nil, runs while the restarts wait for the server's duplicate
// window (see atSize).
func (b *bench) largeStore(ctx context.Context, meanwhile func() error) error {
	defer b.rep.inSection(1)()
	shape := shapeFor(b.opts.artifacts, b.opts.treeKids, b.opts.wide, b.opts.narrow)
	store := commas(int64(shape.Total()))
	st, done, err := b.newStore(ctx, store, shape)
	if err != nil {
		return err
	}
	defer done()
	if err := b.atSize(ctx, store, st, meanwhile); err != nil {
		return err
	}
	if !st.wide.IsZero() {
		if err := b.wideCreates(ctx, store+"+", st); err != nil {
			return err
		}
	}
	b.peak(store+"+", "creates")
	return nil
}

// phasePeak is the peak RSS of one phase of a store's measurements.
type phasePeak struct {
	phase string
	rss   int64
}

// peak reports the highest peak RSS of the phases since the store's first
// restart, and each phase's. A last phase not empty runs from the end of
// the restarts until now.
func (b *bench) peak(store, last string) {
	if p := peakRSS(); last != "" && p >= 0 {
		b.peaks = append(b.peaks, phasePeak{last, p})
	}
	if len(b.peaks) == 0 {
		return
	}
	top := int64(0)
	var parts []string
	for _, p := range b.peaks {
		top = max(top, p.rss)
		parts = append(parts, p.phase+" "+mib(p.rss))
	}
	b.peaks = nil
	b.rep.limit(store, "6. peak RSS (VmHWM) of arbor with the store", mib(top), float64(top), benchTarget{Op: "<", Value: 2 << 30, Show: "2048 MiB"},
		strings.Join(parts, ", ")+"; each restart in a process cleared of the previous Main")
}

// newStore opens a Main on a new data directory and builds a store of shape
// through its log, then waits until the projection has caught up. done
// closes the running Main and removes the directory.
func (b *bench) newStore(ctx context.Context, store string, shape storeShape) (*builtStore, func(), error) {
	dir, err := os.MkdirTemp("", "arbor-bench-")
	if err != nil {
		return nil, nil, err
	}
	done := func() {
		b.closeMain()
		_ = os.RemoveAll(dir)
	}
	if err := b.open(ctx, b.config(dir, b.opts.snapshotEvery)); err != nil {
		done()
		return nil, nil, err
	}
	if err := b.waitReady(ctx); err != nil {
		done()
		return nil, nil, err
	}
	st, err := b.build(ctx, store, shape)
	if err != nil {
		done()
		return nil, nil, err
	}
	return st, done, nil
}

// build appends shape's artifacts through the log, waits for the
// projection (checking it took every event) and reports the rates.
func (b *bench) build(ctx context.Context, store string, shape storeShape) (*builtStore, error) {
	b.say("building %s artifacts through the log (%d experiments, %d models, %d predictions; one model with %d children, one with %d, %d with %d)",
		commas(int64(shape.Total())), shape.Experiments, shape.Models, shape.Predictions, shape.Wide, shape.TreeKids, shape.Narrow, narrowKids)
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
	nc, err := nats.Connect("", b.m.OwnNATS()...)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	builder, err := newStoreBuilder(nc, b.m.Log())
	if err != nil {
		return nil, err
	}
	var total0, ignored0 int
	b.m.Projection().Read(func(s *projection.State) { total0, ignored0 = s.Total(), s.Ignored() })
	start := time.Now()
	st, err := builder.build(ctx, shape)
	if err != nil {
		return nil, err
	}
	n := int64(shape.Total())
	applied := b.m.Projection().Applied()
	b.rep.info(store, "6. build: creations published through the log", perSec(float64(n)/st.elapsed.Seconds()),
		fmt.Sprintf("%s artifacts in %s: asynchronous publishes of arbor's own messages, parents first", commas(n), roundDur(st.elapsed)))

	last, err := b.m.Log().LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	b.say("built in %s; waiting for the projection", roundDur(st.elapsed))
	if err := b.m.Projection().WaitFor(ctx, last); err != nil {
		return nil, err
	}
	folded := time.Since(start)
	var total, ignored int
	b.m.Projection().Read(func(s *projection.State) { total, ignored = s.Total(), s.Ignored() })
	if ignored != ignored0 || total-total0 != shape.Total() {
		return nil, fmt.Errorf("build: the projection took %d of %d artifacts and ignored %d events", total-total0, shape.Total(), ignored-ignored0)
	}
	b.rep.info(store, "6. build: arbor's projection folded them as they came", perSec(float64(n)/folded.Seconds()),
		fmt.Sprintf("caught up %s after the build began (at %s of %s when the last was acknowledged); every event taken",
			roundDur(folded), commas(int64(applied)), commas(int64(last))))
	if p := peakRSS(); p >= 0 {
		b.rep.info(store, "6. build: peak RSS while building", mib(p), "the bench's builder; arbor folding, writing its KV view and snapshots")
	}
	return st, nil
}

// waitKV waits until the KV view has caught up with the log.
func (b *bench) waitKV(ctx context.Context) error {
	for {
		lag, err := b.m.KVView().Lag(ctx)
		if err != nil || lag == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// readLog reads every event of the log into memory, through
// events.Log.Read as arbor's runner does.
func (b *bench) readLog(ctx context.Context) ([]events.Envelope, error) {
	last, err := b.m.Log().LastSeq(ctx)
	if err != nil {
		return nil, err
	}
	envs := make([]events.Envelope, 0, last)
	errDone := errors.New("done")
	err = b.m.Log().Read(ctx, 0, func(env events.Envelope) error {
		envs = append(envs, env)
		if env.Seq >= last {
			return errDone
		}
		return nil
	}, nil)
	if !errors.Is(err, errDone) {
		return nil, err
	}
	return envs, nil
}

// atSize measures the store st as built: reads; the projection's weight,
// folding the whole log into a projection.State of the bench's own with no
// server running; and restarts, one with a full replay and one from the
// snapshot the first Main saved when it closed. The last Main stays
// running.
//
// A server rebuilds the duplicate window of each stream at start-up by
// reading every message in it, which a restart right after building a store
// pays. With meanwhile (it may be nil; it runs while no Main of this store
// does) and --wait-window, the restarts wait until the last write of the
// build (the KV view's) has left every stream's window: a restart after a
// quiet spell, not right after a burst.
func (b *bench) atSize(ctx context.Context, store string, st *builtStore, meanwhile func() error) error {
	waitWindow := meanwhile != nil && b.opts.waitWindow
	b.say("waiting for the KV view")
	start := time.Now()
	if err := b.waitKV(ctx); err != nil {
		return err
	}
	quiet := time.Now()
	b.rep.info(store, "6. build: arbor's KV view caught up", roundDur(quiet.Sub(start)).String(), "after the projection had")
	if err := b.reads(ctx, store, st); err != nil {
		return err
	}
	if err := b.lineage(ctx, store, st); err != nil {
		return err
	}

	b.say("reading the whole log")
	start = time.Now()
	envs, err := b.readLog(ctx)
	if err != nil {
		return err
	}
	read := time.Since(start)
	b.rep.info(store, "6. read of the whole log through events.Log.Read (decoded)", perSec(float64(len(envs))/read.Seconds()),
		fmt.Sprintf("%s events in %s", commas(int64(len(envs))), roundDur(read)))
	dir, layout := b.m.Config.DataDir, b.m.Log().Layout()
	window, err := b.dedupeWindow(ctx)
	if err != nil {
		return err
	}
	b.say("closing (saving a snapshot)")
	saved := b.closeMain()
	b.rep.info(store, fmt.Sprintf("6. Close with SnapshotEvery %d (saves a snapshot)", b.opts.snapshotEvery), roundDur(saved).String(), "")
	b.weigh(store, layout, envs)
	envs = nil
	if meanwhile != nil {
		if err := meanwhile(); err != nil {
			return err
		}
	}
	if b.opts.skip["restart"] {
		if err := b.open(ctx, b.config(dir, b.opts.snapshotEvery)); err != nil {
			return err
		}
		return b.waitReady(ctx)
	}
	if wait := time.Until(quiet.Add(window + time.Second)); waitWindow && wait > 0 {
		b.say("waiting %s more for the build to leave the server's %s duplicate window", wait.Round(time.Second), window)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
	since := fmt.Sprintf("%s after the build's last write", time.Since(quiet).Round(time.Second))
	if time.Since(quiet) < window {
		since += fmt.Sprintf(", within the server's %s duplicate window, which Open rebuilds", window)
	}
	restart := func(every int) (open, ready time.Duration, err error) {
		fresh()
		start := time.Now()
		if err := b.open(ctx, b.config(dir, every)); err != nil {
			return 0, 0, err
		}
		open = time.Since(start)
		err = b.waitReady(ctx)
		return open, time.Since(start), err
	}
	b.say("restart with SnapshotEvery 0")
	open, full, err := restart(0)
	if err != nil {
		return err
	}
	peakFull := peakRSS()
	b.rep.info(store, "6. restart, SnapshotEvery 0 (full replay): Open until ready", roundDur(full).String(),
		fmt.Sprintf("Open %s, then the replay of %s events; %s", roundDur(open), commas(int64(b.m.Projection().Applied())), since))
	b.closeMain()
	every := b.opts.snapshotEvery
	b.say("restart from the snapshot")
	open, snap, err := restart(every)
	if err != nil {
		return err
	}
	peakSnap := peakRSS()
	// The target is for a million artifacts: at a few thousand, starting
	// NATS alone takes longer than a tenth of the replay.
	var target *benchTarget
	if len(st.ids) >= 1_000_000 {
		target = &benchTarget{Op: "<", Value: 0.1}
	}
	b.rep.ratio(store, fmt.Sprintf("6. restart from the snapshot (SnapshotEvery %d) / full replay", every), roundDur(snap).String(),
		roundDur(full).String(), snap.Seconds()/full.Seconds(), target,
		fmt.Sprintf("Open %s (it loads the snapshot%s), then the tail", roundDur(open), b.snapshotSize(ctx)))
	var total int
	b.m.Projection().Read(func(s *projection.State) { total = s.Total() })
	if total != len(st.ids) {
		return fmt.Errorf("restart from the snapshot: %d artifacts, want %d", total, len(st.ids))
	}
	b.peaks = append(b.peaks, phasePeak{"full replay", peakFull}, phasePeak{"snapshot restart", peakSnap})
	resetPeakRSS()
	return nil
}

// snapshotSize says how large the newest snapshot in arbor's snapshot
// bucket is, or nothing when it cannot tell.
func (b *bench) snapshotSize(ctx context.Context) string {
	js, err := jetstream.New(b.m.Conn())
	if err != nil {
		return ""
	}
	obs, err := js.ObjectStore(ctx, "ARTIFACTS_SNAPSHOTS")
	if err != nil {
		return ""
	}
	infos, err := obs.List(ctx)
	if err != nil || len(infos) == 0 {
		return ""
	}
	newest := slices.MaxFunc(infos, func(a, b *jetstream.ObjectInfo) int { return strings.Compare(a.Name, b.Name) })
	return ", " + mib(int64(newest.Size))
}

// dedupeWindow is the longest duplicate window of the server's streams.
func (b *bench) dedupeWindow(ctx context.Context) (time.Duration, error) {
	js, err := jetstream.New(b.m.Conn())
	if err != nil {
		return 0, err
	}
	var window time.Duration
	streams := js.ListStreams(ctx)
	for info := range streams.Info() {
		window = max(window, info.Config.Duplicates)
	}
	return window, streams.Err()
}

// fresh collects the garbage of what the bench closed and gives its memory
// back to the kernel, then resets the peak RSS: a restarted Main measured
// in this process starts about as a new process would.
func fresh() {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS()
}

// reads compares GETs by id with the bare handler's GETs, and a one-level
// tree of the tree model with json.Marshal of the same tree.
func (b *bench) reads(ctx context.Context, store string, st *builtStore) error {
	for _, c := range []int{1, 64} {
		b.say("GET by id, c=%d, beside the bare handler", c)
		arbor := times(c, func(w int) func() outcome {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			return getOp(b.client, func() string { return b.base + "/" + st.ids[rng.IntN(len(st.ids))].String() })
		})
		bare := times(c, func(int) func() outcome { return getOp(b.client, func() string { return b.bare.url }) })
		ra, rb, ratio := alternate(ctx, b.opts.duration, b.opts.rounds, arbor, bare)
		var t *benchTarget
		if c == 64 {
			t = &benchTarget{Op: ">=", Value: 0.7}
		}
		b.rep.ratio(store, fmt.Sprintf("2. GET by id, c=%d / bare net/http GET, c=%d", c, c), perSec(ra.rate()), perSec(rb.rate()),
			ratio, t, latencies(ra))
	}

	b.say("one-level tree beside json.Marshal")
	url := b.base + "/" + st.tree.String() + "/$tree?max_depth=1"
	resp, err := b.client.Get(url)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("tree: %s", resp.Status)
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return err
	}
	kids, _ := doc.(map[string]any)["children"].([]any)
	if len(kids) != st.shape.TreeKids {
		return fmt.Errorf("tree: %d children, want %d", len(kids), st.shape.TreeKids)
	}
	tree := times(1, func(int) func() outcome { return getOp(b.client, func() string { return url }) })
	marshal := times(1, func(int) func() outcome {
		return func() outcome {
			if _, err := json.Marshal(doc); err != nil {
				return opStatus
			}
			return opOK
		}
	})
	rt, rm, ratio := alternate(ctx, b.opts.duration, b.opts.rounds, tree, marshal)
	b.rep.ratio(store, fmt.Sprintf("3. GET $tree?max_depth=1 of a model with %s children, c=1 / json.Marshal of it, 1 goroutine", commas(int64(len(kids)))),
		perSec(rt.rate()), perSec(rm.rate()), ratio, &benchTarget{Op: ">=", Value: 0.5},
		fmt.Sprintf("%s; a %d-byte answer; the baseline marshals the answer decoded into any", latencies(rt), len(raw)))
	return nil
}

// weigh folds envs into a projection.State of its own and reports the
// heap it holds beyond the artifacts' data: the live heap with the State
// less the live heap once it is dropped. envs are dropped too (their data
// stays, held by the State). No server runs meanwhile, so nothing else in
// the process moves.
func (b *bench) weigh(store string, layout events.Layout, envs []events.Envelope) {
	b.say("folding the log into a fresh projection, to weigh it")
	s := projection.NewState(layout)
	start := time.Now()
	for i := range envs {
		s.Apply(envs[i])
		envs[i] = events.Envelope{}
	}
	elapsed := time.Since(start)
	n, count := s.Total(), len(envs)
	envs = nil
	var data int64
	const page = 10000
	for off := 0; off < n; off += page {
		for _, a := range s.Page(off, page) {
			data += int64(len(a.Data))
		}
	}
	var with, without runtime.MemStats
	settle(&with)
	if b.opts.memProfile != "" {
		if err := writeHeapProfile(b.opts.memProfile); err != nil {
			b.say("memprofile: %v", err)
		}
	}
	runtime.KeepAlive(s)
	s = nil
	settle(&without)
	held := int64(with.HeapAlloc) - int64(without.HeapAlloc)
	per := float64(held-data) / float64(max(1, n))
	b.rep.info(store, "6. fold alone (State.Apply) of the whole log, read before", perSec(float64(count)/elapsed.Seconds()),
		fmt.Sprintf("%s events in %s", commas(int64(count)), roundDur(elapsed)))
	b.rep.limit(store, "6. projection bytes per artifact beyond its data", commas(int64(per+0.5)), per, benchTarget{Op: "<=", Value: 400},
		fmt.Sprintf("live heap %s with the State, %s without; %s of data in %s artifacts",
			mib(int64(with.HeapAlloc)), mib(int64(without.HeapAlloc)), mib(data), commas(int64(n))))
}

// settle collects garbage until the live heap stops shrinking (the
// goroutines of a server just shut down let go of their memory over a few
// collections), for at most 5 seconds, and reads the memory statistics.
func settle(ms *runtime.MemStats) {
	runtime.GC()
	runtime.ReadMemStats(ms)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		prev := ms.HeapAlloc
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(ms)
		if prev-min(prev, ms.HeapAlloc) < 64<<10 {
			return
		}
	}
}

// wideCreates compares creates under the store's very wide model with root
// creates: at c=64 (rates, errors and conflicts), and at c=1 (p50 latency
// beside creates under models with narrowKids children).
func (b *bench) wideCreates(ctx context.Context, store string, st *builtStore) error {
	b.say("child creates under the parent with %s children, c=64, beside root creates", commas(int64(st.shape.Wide)))
	childBody := func(parent ulid.ULID) []byte {
		body, _ := json.Marshal(map[string]any{"parent_id": parent.String(),
			"data": json.RawMessage(`{"prediction_date":"2026-11-27","num_predictions":1000,"mean":13.25}`)})
		return body
	}
	wideBody := childBody(st.wide)
	rootBody := []byte(`{"data":{"experiment_name":"bench","owner":"team-1"}}`)
	conflicts := b.m.Commands().Conflicts()
	child := times(64, func(int) func() outcome { return postOp(b.client, b.base, wideBody) })
	root := times(64, func(int) func() outcome { return postOp(b.client, b.base, rootBody) })
	rc, rr, paired := alternate(ctx, b.opts.duration, b.opts.rounds, child, root)
	conflicts = b.m.Commands().Conflicts() - conflicts
	wide := commas(int64(st.shape.Wide))
	b.rep.ratio(store, fmt.Sprintf("4. child creates over HTTP, c=64, under a parent with %s children / root creates, c=64, in turns with them", wide),
		perSec(rc.rate()), perSec(rr.rate()), paired, &benchTarget{Op: ">=", Value: 0.5}, latencies(rc))
	if b.rootRate > 0 {
		b.rep.ratio(store, "4. the same / the root creates of figure 1 (small store)", perSec(rc.rate()), perSec(b.rootRate),
			rc.rate()/b.rootRate, nil, "not measured in turns: the machine's load may differ")
	}
	b.rep.limit(store, "4. errors of those child creates", commas(int64(rc.errors())), float64(rc.errors()), benchTarget{Op: "<=", Value: 0},
		fmt.Sprintf("%d non-2xx, %d transport errors; %s conflicts (Handler.Conflicts) in both", rc.status, rc.transport, commas(int64(conflicts))))

	b.say("child creates at c=1 under the wide parent and under %d-child parents, in turns", narrowKids)
	narrow := make([][]byte, len(st.narrow))
	for i, p := range st.narrow {
		narrow[i] = childBody(p)
	}
	var rw, rn result
	deadline := time.Now().Add(2 * b.opts.duration)
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		for _, turn := range []struct {
			body []byte
			r    *result
		}{{wideBody, &rw}, {narrow[i%len(narrow)], &rn}} {
			start := time.Now()
			switch postOp(b.client, b.base, turn.body)() {
			case opOK:
				turn.r.latencies = append(turn.r.latencies, time.Since(start))
			case opStatus:
				turn.r.status++
			default:
				turn.r.transport++
			}
		}
	}
	rw, rn = rw.merge(result{}), rn.merge(result{})
	b.rep.ratio(store, fmt.Sprintf("5. p50 of a child create over HTTP, c=1, under a parent with %s children / under %d-child parents", wide, narrowKids),
		roundDur(rw.quantile(0.5)).String(), roundDur(rn.quantile(0.5)).String(), float64(rw.quantile(0.5))/float64(rn.quantile(0.5)),
		&benchTarget{Op: "<=", Value: 1.5}, fmt.Sprintf("%d creates each, in turns; wide %s, narrow %s", len(rw.latencies), latencies(rw), latencies(rn)))
	return nil
}
