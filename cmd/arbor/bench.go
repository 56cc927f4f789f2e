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
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"
)

// benchCmd measures arbor's write and read paths beside the raw JetStream
// operations under them, in one run on one machine, so that the figures can
// be read as ratios: the HTTP layer, not JetStream, should limit a create.
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("arbor bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	duration := fs.Duration("duration", 3*time.Second, "how long each measurement runs")
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
		Config: Config{Addr: "127.0.0.1:0", DataDir: dir, MaxBody: 1 << 20, Wait: 10 * time.Second},
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
	}
	ids, err := b.seed(ctx, 1000)
	if err != nil {
		return err
	}
	for _, c := range []int{1, 64} {
		b.row(tw, "http get", c, b.measure(ctx, c, b.httpGet(ids)), nil)
	}
	return tw.Flush()
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
