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
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/oklog/ulid/v2"

	"arbor/natsapi"
)

// benchCmd measures arbor's write and read paths beside the raw JetStream
// operations under them, in one run on one machine, so that the figures can
// be read as ratios: the HTTP layer, not JetStream, should limit a create.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("arbor bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 3*time.Second, "how long each measurement runs")
	contentMiB := fs.Int64("content-mib", 200, "size of the content uploaded and downloaded, in MiB (0: skip)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
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
	dir, err := os.MkdirTemp("", "arbor-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m := &Main{
		Config: Config{Addr: "127.0.0.1:0", DataDir: dir, MaxBody: 1 << 20, MaxContent: 1 << 40, Wait: 10 * time.Second},
		Logger: slog.New(slog.DiscardHandler),
	}
	if err := m.Open(ctx); err != nil {
		_ = m.Close()
		return err
	}
	defer m.Close()
	b := &bench{m: m, duration: *duration, base: "http://" + m.HTTPAddr() + "/api/v1/artifacts",
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}}
	if err := b.waitReady(ctx); err != nil {
		return err
	}
	js, err := jetstream.New(m.nc)
	if err != nil {
		return err
	}
	// Pipelines' requests come on a connection of their own.
	client, err := nats.Connect("", nats.InProcessServer(m.ns))
	if err != nil {
		return err
	}
	defer client.Close()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return err
	}

	fmt.Fprintf(stdout, "arbor bench: %s per measurement, embedded NATS, in-process connection, HTTP over loopback\n\n", *duration)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tconcurrency\tops/s\tp50\tp99\tvs raw publish\t")
	for _, c := range []int{1, 64} {
		pub := b.measure(ctx, c, b.rawPublish(js))
		b.row(tw, "jetstream publish, wildcard precondition", c, pub, &pub)
		b.row(tw, "http create (child, precondition)", c, b.measure(ctx, c, b.httpCreate(ctx)), &pub)
		b.row(tw, "nats request create (child, precondition)", c, b.measure(ctx, c, b.natsCreate(ctx, client)), &pub)
	}
	ids, err := b.seed(ctx, 1000)
	if err != nil {
		return err
	}
	for _, c := range []int{1, 64} {
		b.row(tw, "http get", c, b.measure(ctx, c, b.httpGet(ids)), nil)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := b.feedDelay(ctx, stdout, js, 2000); err != nil {
		return err
	}
	if *contentMiB > 0 {
		return b.content(ctx, stdout, js, *contentMiB<<20)
	}
	return nil
}

// content measures uploading and downloading size bytes over HTTP beside
// the object store's own put and get, and the peak memory of the upload.
func (b *bench) content(ctx context.Context, w io.Writer, js jetstream.JetStream, size int64) error {
	obs, err := js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: "BENCH", Storage: jetstream.FileStorage})
	if err != nil {
		return err
	}
	var put, get, upload, download time.Duration
	var peak int64
	id, err := b.post(ctx, map[string]any{"data": map[string]any{"name": "model.bin"}})
	if err != nil {
		return err
	}
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
	peak = peakRSS()
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
	mib := float64(size) / (1 << 20)
	rate := func(d time.Duration) float64 { return mib / d.Seconds() }
	fmt.Fprintf(w, "\ncontent of %.0f MiB:\n", mib)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tMiB/s\tvs object store\t")
	fmt.Fprintf(tw, "object store put\t%.0f\t1.00x\t\n", rate(put))
	fmt.Fprintf(tw, "http upload ($content)\t%.0f\t%.2fx\t\n", rate(upload), put.Seconds()/upload.Seconds())
	fmt.Fprintf(tw, "object store get\t%.0f\t1.00x\t\n", rate(get))
	fmt.Fprintf(tw, "http download ($download)\t%.0f\t%.2fx\t\n", rate(download), get.Seconds()/download.Seconds())
	if err := tw.Flush(); err != nil {
		return err
	}
	if peak >= 0 {
		fmt.Fprintf(w, "peak RSS of the process (embedded NATS included) during the upload: %.0f MiB, %.0f MiB above where it began\n",
			float64(peak)/(1<<20), float64(max(0, peak-base))/(1<<20))
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

type bench struct {
	m        *Main
	duration time.Duration
	base     string
	client   *http.Client
}

type result struct {
	ops       int
	errors    int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(q*float64(len(r.latencies)-1))]
}

// row prints r, and its rate as a ratio of baseline's when there is one.
func (b *bench) row(w io.Writer, name string, c int, r result, baseline *result) {
	vs := "-"
	if baseline != nil {
		vs = fmt.Sprintf("%.2fx", r.rate()/baseline.rate())
	}
	if r.errors > 0 {
		name += fmt.Sprintf(" (%d errors)", r.errors)
	}
	fmt.Fprintf(w, "%s\t%d\t%.0f\t%s\t%s\t%s\t\n", name, c, r.rate(),
		r.quantile(0.50).Round(time.Microsecond), r.quantile(0.99).Round(time.Microsecond), vs)
}

// measure runs op from c workers for the bench's duration. op gets the
// worker's number and returns false on an error.
func (b *bench) measure(ctx context.Context, c int, newOp func(worker int) func() bool) result {
	ctx, cancel := context.WithTimeout(ctx, b.duration)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		all    []time.Duration
		errors atomic.Int64
	)
	start := time.Now()
	for w := range c {
		op := newOp(w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			for ctx.Err() == nil {
				t := time.Now()
				if !op() {
					errors.Add(1)
					continue
				}
				lat = append(lat, time.Since(t))
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(all)
	return result{ops: len(all), errors: int(errors.Load()), elapsed: time.Since(start), latencies: all}
}

// rawPublish publishes a 1 KiB message per op, each worker into its own
// boundary with the wildcard precondition arbor's writes carry.
func (b *bench) rawPublish(js jetstream.JetStream) func(int) func() bool {
	payload := bytes.Repeat([]byte("x"), 1024)
	return func(worker int) func() bool {
		boundary := ulid.Make().String()
		filter := "bench." + boundary + ".>"
		var last uint64
		return func() bool {
			msg := &nats.Msg{Subject: "bench." + boundary + "." + ulid.Make().String(), Data: payload, Header: nats.Header{}}
			msg.Header.Set(nats.MsgIdHdr, ulid.Make().String())
			ack, err := js.PublishMsg(context.Background(), msg, jetstream.WithExpectLastSequenceForSubject(last, filter))
			if err != nil {
				return false
			}
			last = ack.Sequence
			return true
		}
	}
}

// httpCreate creates children over HTTP, each worker under its own parent,
// with about 1 KiB of data.
func (b *bench) httpCreate(ctx context.Context) func(int) func() bool {
	data := map[string]any{"model": "LinearRegression", "notes": string(bytes.Repeat([]byte("x"), 950))}
	return func(worker int) func() bool {
		parent, err := b.post(ctx, map[string]any{"data": map[string]any{"worker": worker}})
		if err != nil {
			return func() bool { return false }
		}
		body, _ := json.Marshal(map[string]any{"parent_id": parent, "data": data})
		return func() bool {
			resp, err := b.client.Post(b.base, "application/json", bytes.NewReader(body))
			if err != nil {
				return false
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusCreated
		}
	}
}

// natsCreate creates children over NATS request/reply, as httpCreate does
// over HTTP.
func (b *bench) natsCreate(ctx context.Context, nc *nats.Conn) func(int) func() bool {
	data := map[string]any{"model": "LinearRegression", "notes": string(bytes.Repeat([]byte("x"), 950))}
	return func(worker int) func() bool {
		parent, err := b.post(ctx, map[string]any{"data": map[string]any{"worker": worker}})
		if err != nil {
			return func() bool { return false }
		}
		body, _ := json.Marshal(map[string]any{"parent_id": parent, "data": data})
		return func() bool {
			msg, err := nc.Request(natsapi.Prefix+".create", body, 10*time.Second)
			return err == nil && msg.Header.Get(micro.ErrorCodeHeader) == ""
		}
	}
}

// feedDelay measures, for n creates one after another, the time from the
// create's acknowledgement (the client has its 201) to a NATS subscriber
// receiving the event. It is negative when the subscriber had the event
// first: arbor answers a write once its own projection has applied it, and
// the subscriber's delivery runs alongside.
func (b *bench) feedDelay(ctx context.Context, w io.Writer, js jetstream.JetStream, n int) error {
	cons, err := js.OrderedConsumer(ctx, "ARTIFACTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"arbor.*.*.*.*.created"}, DeliverPolicy: jetstream.DeliverNewPolicy,
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
	slices.Sort(delays)
	r := result{latencies: delays}
	fmt.Fprintf(w, "\ncreate acknowledged -> NATS subscriber has the event, %d creates: p50 %s, p99 %s (negative: before the 201)\n",
		n, r.quantile(0.50).Round(time.Microsecond), r.quantile(0.99).Round(time.Microsecond))
	return nil
}

func (b *bench) httpGet(ids []string) func(int) func() bool {
	return func(worker int) func() bool {
		rng := rand.New(rand.NewPCG(uint64(worker), 1))
		return func() bool {
			resp, err := b.client.Get(b.base + "/" + ids[rng.IntN(len(ids))])
			if err != nil {
				return false
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
	}
}

func (b *bench) seed(ctx context.Context, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for i := range n {
		id, err := b.post(ctx, map[string]any{"data": map[string]any{"i": i}})
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

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

func (b *bench) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return b.m.proj.WaitReady(ctx)
}
