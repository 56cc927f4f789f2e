package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/oklog/ulid/v2"

	"arbor/hierarchy"
	"arbor/natsapi"
)

// benchOptions are the flags of arbor bench.
type benchOptions struct {
	duration      time.Duration
	rounds        int
	small         int
	artifacts     int
	wide          int
	treeKids      int
	narrow        int
	snapshotEvery int
	contentMiB    int64
	feed          int
	skip          map[string]bool
	memProfile    string
	waitWindow    bool
	log           io.Writer // arbor's own log lines, with --log
}

// benchParts are the parts --skip can leave out.
var benchParts = []string{"writes", "feed", "restart"}

// benchCommand measures arbor (arbor bench [flags]) beside baselines
// measured in the same run on the same machine, so that its figures read as
// ratios: HTTP creates and reads beside a bare net/http handler, a tree
// beside json.Marshal of it, creates under a parent with 100,000 children
// beside root creates, a restart from a snapshot beside a full replay; and,
// at two sizes of store built through the log, reads, restarts, memory per
// artifact and peak memory. It prints one table of every figure, its target
// and PASS or MISS.
type benchCommand struct{ stdout, stderr io.Writer }

// Run runs the benchmark with the flags in args and prints its report.
func (c *benchCommand) Run(ctx context.Context, args []string) error {
	stdout, stderr := c.stdout, c.stderr
	fs := flag.NewFlagSet("arbor bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o benchOptions
	fs.DurationVar(&o.duration, "duration", 2*time.Second, "how long each side of a measurement runs")
	fs.IntVar(&o.rounds, "rounds", 8, "slices each side of a comparison runs in, in turns with its baseline")
	fs.IntVar(&o.small, "small", 10000, "artifacts in the small store, where the write measurements run too (0: skip it)")
	fs.IntVar(&o.artifacts, "artifacts", 1000000, "artifacts in the large store (0: skip it)")
	fs.IntVar(&o.wide, "wide", 100000, "children of the one very wide model of the large store")
	fs.IntVar(&o.treeKids, "tree-children", 1000, "children of the model whose one-level tree is read")
	fs.IntVar(&o.narrow, "narrow", 1000, "models with 10 children in the large store")
	fs.IntVar(&o.snapshotEvery, "snapshot-every", 100000, "SnapshotEvery of every Main but the full-replay restart (SnapshotEvery 0)")
	fs.Int64Var(&o.contentMiB, "content-mib", 200, "size of the content uploaded and downloaded, in MiB (0: skip)")
	logTo := fs.Bool("log", false, "print arbor's own log lines on stderr")
	fs.BoolVar(&o.waitWindow, "wait-window", true,
		"restart the large store only once its build has left the server's duplicate windows (2 minutes), which Open rebuilds")
	fs.IntVar(&o.feed, "feed", 2000, "creates timed from acknowledgement to a subscriber's delivery (0: skip)")
	skip := fs.String("skip", "", "comma-separated parts to leave out: "+strings.Join(benchParts, ", "))
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to this file while the bench's own projection of the last store is in memory (profiles allocations finely: slower)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *logTo {
		o.log = stderr
	}
	o.skip = map[string]bool{}
	for part := range strings.SplitSeq(*skip, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		if !slices.Contains(benchParts, part) {
			return fmt.Errorf("--skip %s: not one of %s", part, strings.Join(benchParts, ", "))
		}
		o.skip[part] = true
	}
	if o.rounds < 1 || o.duration <= 0 || o.snapshotEvery < 1 {
		return fmt.Errorf("--rounds, --duration and --snapshot-every must be positive")
	}
	if o.memProfile != "" {
		// Fine-grained enough to weigh each kind of the projection's
		// allocations; it slows every allocation of the run a little.
		runtime.MemProfileRate = 256
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var line []string
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "cpuprofile" && f.Name != "memprofile" {
			line = append(line, "--"+f.Name+"="+f.Value.String())
		}
	})

	bare, err := startBare()
	if err != nil {
		return err
	}
	defer bare.close()
	b := &bench{
		opts: o, bare: bare, rep: &benchReport{}, progress: stderr, start: time.Now(),
		client: &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
	}
	defer b.closeMain()
	fmt.Fprintf(stdout, "arbor bench: %s %s/%s, %d CPUs (GOMAXPROCS %d), embedded NATS, in-process connection, HTTP over loopback\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(stdout, "Every ratio compares with a baseline measured in this run. A comparison runs each side %s, in %d slices\n"+
		"taken in turns; its ratio is the median of the slices' ratios, its rates and latencies those of all the slices.\n"+
		"Store: the artifacts built through the log; + once the measurements have added their own.\n\n",
		o.duration, o.rounds)
	small := func() error { return nil }
	if o.small > 0 {
		small = func() error { return b.smallStore(ctx) }
	}
	if o.artifacts > 0 {
		// The small store is measured while the large one waits to
		// restart: see atSize.
		err = b.largeStore(ctx, small)
	} else {
		err = small()
	}
	b.closeMain()
	if perr := b.rep.print(stdout); perr != nil && err == nil {
		err = perr
	}
	fmt.Fprintf(stdout, "whole run: %s\nreproduce: go run ./cmd/arbor bench %s\n", time.Since(b.start).Round(time.Second), strings.Join(line, " "))
	return err
}

// bench is one run: the Main under measurement (replaced on restarts), the
// bare baseline server, the client every HTTP measurement shares, and the
// report.
type bench struct {
	opts     benchOptions
	m        *Main
	base     string // the artifacts collection URL of m
	client   *http.Client
	bare     *bareServer
	rep      *benchReport
	progress io.Writer
	start    time.Time
	// peaks are the peak RSS of the phases of a store so far.
	peaks []phasePeak
	// rootRate is the rate of root creates at c=64 of the small store, what
	// creates under a very wide parent are held to.
	rootRate float64
	// lineageP50 are the latencies of filtered pages in the store measured
	// first, what those of the other are compared with.
	lineageP50 map[string]sizedP50
}

// say reports progress on stderr.
func (b *bench) say(format string, args ...any) {
	fmt.Fprintf(b.progress, "bench %6s: %s\n", time.Since(b.start).Round(time.Second), fmt.Sprintf(format, args...))
}

// config is the configuration of every Main the bench opens.
func (b *bench) config(dir string, snapshotEvery int) Config {
	return Config{
		Addr: "127.0.0.1:0", DataDir: dir, Replicas: 1,
		Hierarchies: []hierarchy.Hierarchy{benchHierarchy},
		MaxBody:     1 << 20, MaxContent: 1 << 40, Wait: 10 * time.Second,
		SnapshotEvery: snapshotEvery,
	}
}

// open opens a Main with cfg; it does not wait for its projection.
func (b *bench) open(ctx context.Context, cfg Config) error {
	logger := slog.New(slog.DiscardHandler)
	if b.opts.log != nil {
		logger = slog.New(slog.NewJSONHandler(b.opts.log, nil))
	}
	m := &Main{Config: cfg, Logger: logger}
	if err := m.Open(ctx); err != nil {
		_ = m.Close()
		return err
	}
	b.m, b.base = m, "http://"+m.HTTPAddr()+"/api/v1/artifacts"
	b.client.CloseIdleConnections()
	return nil
}

// closeMain closes the running Main, if any, and says how long it took.
func (b *bench) closeMain() time.Duration {
	if b.m == nil {
		return 0
	}
	// Connections the client opened but never used would hold the HTTP
	// server's Shutdown for 5 seconds.
	b.client.CloseIdleConnections()
	start := time.Now()
	if err := b.m.Close(); err != nil {
		b.say("close: %v", err)
	}
	b.m = nil
	b.client.CloseIdleConnections()
	return time.Since(start)
}

// waitReady polls the projection until it has caught up with the log.
func (b *bench) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Minute)
	for !b.m.Projection().Ready() {
		select {
		case err := <-b.m.failed:
			return err
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("projection not ready after 15 minutes, at %d", b.m.Projection().Applied())
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// rootCreates compares root creates over HTTP at c=64 with the bare
// handler's POSTs, with the same body.
func (b *bench) rootCreates(ctx context.Context, store string) {
	b.say("root creates over HTTP, c=64, beside the bare handler")
	body := []byte(`{"data":{"experiment_name":"bench","owner":"team-1"}}`)
	arbor := times(64, func(int) func() outcome { return postOp(b.client, b.base, body) })
	bare := times(64, func(int) func() outcome { return postOp(b.client, b.bare.url, body) })
	ra, rb, ratio := alternate(ctx, b.opts.duration, b.opts.rounds, arbor, bare)
	b.rootRate = ra.rate()
	b.rep.ratio(store, "1. root creates over HTTP, c=64 / bare net/http POST, c=64", perSec(ra.rate()), perSec(rb.rate()),
		ratio, &benchTarget{Op: ">=", Value: 0.2}, latencies(ra))
}

// writes measures creates over HTTP and over NATS request/reply beside
// synchronous JetStream publishes with the precondition a child's creation
// carries, at concurrency 1 and 64.
func (b *bench) writes(ctx context.Context, store string) error {
	b.say("creates over HTTP and NATS beside raw JetStream publishes")
	js, err := jetstream.New(b.m.Conn())
	if err != nil {
		return err
	}
	// Pipelines' requests come on a connection of their own.
	nc, err := nats.Connect("", b.m.OwnNATS()...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage,
	}); err != nil {
		return err
	}
	for _, c := range []int{1, 64} {
		pub := measure(ctx, b.opts.duration, times(c, b.rawPublish(js)))
		b.rep.info(store, fmt.Sprintf("7. JetStream publish, exact-subject precondition, c=%d", c), perSec(pub.rate()), latencies(pub))
		name := fmt.Sprintf("7. %%s create of a child (1 KiB data), c=%d / JetStream publish", c)
		r := measure(ctx, b.opts.duration, times(c, b.httpCreate(ctx)))
		b.rep.ratio(store, fmt.Sprintf(name, "HTTP"), perSec(r.rate()), perSec(pub.rate()), r.rate()/pub.rate(), nil, latencies(r))
		r = measure(ctx, b.opts.duration, times(c, b.natsCreate(ctx, nc)))
		b.rep.ratio(store, fmt.Sprintf(name, "NATS request"), perSec(r.rate()), perSec(pub.rate()), r.rate()/pub.rate(), nil, latencies(r))
	}
	return nil
}

// rawPublish publishes a 1 KiB message per op, as a child's creation does:
// each worker on its own parent's kids subject, expecting the parent's seal
// subject to be empty.
func (b *bench) rawPublish(js jetstream.JetStream) func(int) func() outcome {
	payload := bytes.Repeat([]byte("x"), 1024)
	return func(int) func() outcome {
		parent := ulid.Make().String()
		subject := "bench.00.ml_pipeline.kids." + parent + ".model"
		seal := "bench.00.ml_pipeline.seal0." + parent
		return func() outcome {
			msg := &nats.Msg{Subject: subject, Data: payload, Header: nats.Header{}}
			msg.Header.Set(nats.MsgIdHdr, ulid.Make().String())
			if _, err := js.PublishMsg(context.Background(), msg, jetstream.WithExpectLastSequenceForSubject(0, seal)); err != nil {
				return opStatus
			}
			return opOK
		}
	}
}

// childBody is the body of a create under a parent of its own for each
// worker, with about 1 KiB of data.
func (b *bench) childBody(ctx context.Context, worker int) ([]byte, error) {
	parent, err := b.post(ctx, map[string]any{"data": map[string]any{"worker": worker}})
	if err != nil {
		return nil, err
	}
	data := map[string]any{"model_type": "LinearRegression", "notes": strings.Repeat("x", 950)}
	return json.Marshal(map[string]any{"parent_id": parent, "data": data})
}

func (b *bench) httpCreate(ctx context.Context) func(int) func() outcome {
	return func(worker int) func() outcome {
		body, err := b.childBody(ctx, worker)
		if err != nil {
			return func() outcome { return opTransport }
		}
		return postOp(b.client, b.base, body)
	}
}

func (b *bench) natsCreate(ctx context.Context, nc *nats.Conn) func(int) func() outcome {
	return func(worker int) func() outcome {
		body, err := b.childBody(ctx, worker)
		if err != nil {
			return func() outcome { return opTransport }
		}
		return func() outcome {
			msg, err := nc.Request(natsapi.Prefix+".create", body, 10*time.Second)
			switch {
			case err != nil:
				return opTransport
			case msg.Header.Get(micro.ErrorCodeHeader) != "":
				return opStatus
			}
			return opOK
		}
	}
}

// post creates v over HTTP and returns its id.
func (b *bench) post(ctx context.Context, v any) (string, error) {
	body, _ := json.Marshal(v)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.base, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create: %s", resp.Status)
	}
	var a struct{ ID string }
	err = json.NewDecoder(resp.Body).Decode(&a)
	return a.ID, err
}

// feedDelay measures, for n creates one after another, the time from the
// create's acknowledgement (the client has its 201) to a NATS subscriber
// receiving the event. It is negative when the subscriber had the event
// first: arbor answers a write once its own projection has applied it, and
// the subscriber's delivery runs alongside.
func (b *bench) feedDelay(ctx context.Context, store string, n int) error {
	b.say("delay from a create's 201 to a NATS subscriber")
	js, err := jetstream.New(b.m.Conn())
	if err != nil {
		return err
	}
	cons, err := js.OrderedConsumer(ctx, b.m.Log().Stream(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"arbor.>"}, DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return err
	}
	var (
		mu      sync.Mutex
		acked   = map[string]time.Time{}
		delays  []time.Duration
		pending = map[string]time.Time{} // received before its 201 was read
		all     = make(chan struct{})
	)
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		got := time.Now()
		id := msg.Headers().Get("ce-subject")
		mu.Lock()
		defer mu.Unlock()
		if at, ok := acked[id]; ok {
			delays = append(delays, got.Sub(at))
			delete(acked, id)
		} else {
			pending[id] = got
		}
		if len(delays) == n {
			close(all)
		}
	})
	if err != nil {
		return err
	}
	defer cc.Stop()
	for i := range n {
		id, err := b.post(ctx, map[string]any{"data": map[string]any{"i": i}})
		if err != nil {
			return err
		}
		at := time.Now()
		mu.Lock()
		if got, ok := pending[id]; ok {
			delays = append(delays, got.Sub(at)) // negative: the event came first
			delete(pending, id)
			if len(delays) == n {
				close(all)
			}
		} else {
			acked[id] = at
		}
		mu.Unlock()
	}
	select {
	case <-all:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("feed delay: %d of %d events arrived", len(delays), n)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(delays)
	r := result{latencies: delays}
	b.rep.info(store, "7. create acknowledged -> NATS subscriber has its event", "p50 "+roundDur(r.quantile(0.50)).String(),
		fmt.Sprintf("%d creates one after another; p99 %s; negative: before the 201", n, roundDur(r.quantile(0.99))))
	return nil
}

// content measures uploading and downloading size bytes over HTTP beside
// the object store's own put and get, and the peak memory of the upload.
func (b *bench) content(ctx context.Context, store string, size int64) error {
	b.say("content upload and download")
	js, err := jetstream.New(b.m.Conn())
	if err != nil {
		return err
	}
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "BENCH", Storage: jetstream.FileStorage})
	if err != nil {
		return err
	}
	var put, get, upload, download time.Duration
	id, err := b.post(ctx, map[string]any{"data": map[string]any{"name": "model.bin"}})
	if err != nil {
		return err
	}
	runtime.GC()
	resetPeakRSS()
	base := peakRSS()
	if upload, err = timed(func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, b.base+"/"+id+"/$content", io.LimitReader(newNoise(2), size))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		return b.expect(req, http.StatusOK)
	}); err != nil {
		return err
	}
	peak := peakRSS()
	if download, err = timed(func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/"+id+"/$download", nil)
		if err != nil {
			return err
		}
		return b.expect(req, http.StatusOK)
	}); err != nil {
		return err
	}
	if put, err = timed(func() error {
		_, err := obs.Put(ctx, jetstream.ObjectMeta{Name: "raw"}, io.LimitReader(newNoise(1), size))
		return err
	}); err != nil {
		return err
	}
	if get, err = timed(func() error {
		r, err := obs.Get(ctx, "raw")
		if err != nil {
			return err
		}
		defer r.Close()
		_, err = io.Copy(io.Discard, r)
		return err
	}); err != nil {
		return err
	}
	m := float64(size) / (1 << 20)
	rate := func(d time.Duration) string { return fmt.Sprintf("%.0f MiB/s", m/d.Seconds()) }
	name := fmt.Sprintf("7. %%s of %.0f MiB / the object store's %%s", m)
	b.rep.ratio(store, fmt.Sprintf(name, "HTTP upload ($content)", "put"), rate(upload), rate(put), put.Seconds()/upload.Seconds(), nil, "")
	b.rep.ratio(store, fmt.Sprintf(name, "HTTP download ($download)", "get"), rate(download), rate(get), get.Seconds()/download.Seconds(), nil, "")
	if peak >= 0 {
		b.rep.info(store, "7. peak RSS during the upload", mib(peak), fmt.Sprintf("%s above where it began", mib(max(0, peak-base))))
	}
	return nil
}

func (b *bench) expect(req *http.Request, status int) error {
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: %s", req.Method, req.URL.Path, resp.Status)
	}
	return nil
}

// writeHeapProfile writes the live heap's profile to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

// noise is an endless stream of pseudo-random bytes.
type noise struct{ r *rand.PCG }

func newNoise(seed uint64) *noise { return &noise{r: rand.NewPCG(seed, seed)} }

func (n *noise) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		v := n.r.Uint64()
		for j := 0; j < 8 && i+j < len(p); j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	return len(p), nil
}

// resetPeakRSS resets the kernel's high-water mark of this process's
// resident memory (Linux; elsewhere it does nothing).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is this process's peak resident memory in bytes since the last
// reset, or -1 where the kernel does not say.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}
