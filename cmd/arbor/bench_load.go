package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"
)

// outcome is how one operation of a measurement ended.
type outcome uint8

const (
	opOK        outcome = iota
	opStatus            // an answer, but not the status wanted
	opTransport         // no answer: a transport error
)

// result is what one measurement saw: its successful operations, their
// latencies (sorted), and the failures by kind.
type result struct {
	ops       int
	status    int // answers other than the one wanted (non-2xx)
	transport int // transport errors
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) errors() int { return r.status + r.transport }

func (r result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

func (r result) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[int(q*float64(len(r.latencies)-1))]
}

// merge adds o, measured apart from r, to r.
func (r result) merge(o result) result {
	r.ops += o.ops
	r.status += o.status
	r.transport += o.transport
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	slices.Sort(r.latencies)
	return r
}

// measure runs each of ops from a worker of its own for d: the
// concurrency is len(ops).
func measure(ctx context.Context, d time.Duration, ops []func() outcome) result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all result
	)
	start := time.Now()
	for _, op := range ops {
		wg.Go(func() {
			var r result
			for ctx.Err() == nil {
				t := time.Now()
				switch op() {
				case opOK:
					r.latencies = append(r.latencies, time.Since(t))
				case opStatus:
					r.status++
				default:
					r.transport++
				}
			}
			mu.Lock()
			all.latencies = append(all.latencies, r.latencies...)
			all.status += r.status
			all.transport += r.transport
			mu.Unlock()
		})
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	all.ops = len(all.latencies)
	slices.Sort(all.latencies)
	return all
}

// alternate measures a and b for d each, in rounds slices taken in turns
// (a b, b a, a b, ...), so that whatever else the machine does weighs on
// both alike. ratio is the median over the rounds of a's rate over b's in
// that round: a burst of load elsewhere spoils a round or two, not the
// figure.
func alternate(ctx context.Context, d time.Duration, rounds int, a, b []func() outcome) (ra, rb result, ratio float64) {
	slice := d / time.Duration(rounds)
	ratios := make([]float64, 0, rounds)
	for i := range rounds {
		var sa, sb result
		if i%2 == 0 {
			sa = measure(ctx, slice, a)
			sb = measure(ctx, slice, b)
		} else {
			sb = measure(ctx, slice, b)
			sa = measure(ctx, slice, a)
		}
		ra, rb = ra.merge(sa), rb.merge(sb)
		if sb.rate() > 0 {
			ratios = append(ratios, sa.rate()/sb.rate())
		}
	}
	return ra, rb, median(ratios)
}

// median is the middle of xs (the mean of the two middle ones for an even
// count), zero for none. It sorts xs.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// times makes n operations with newOp, one per worker.
func times(n int, newOp func(worker int) func() outcome) []func() outcome {
	ops := make([]func() outcome, n)
	for i := range ops {
		ops[i] = newOp(i)
	}
	return ops
}

// httpDo sends req and reads the whole answer: the client code every HTTP
// measurement shares, arbor's and the bare handler's alike.
func httpDo(c *http.Client, req *http.Request, want int) outcome {
	resp, err := c.Do(req)
	if err != nil {
		return opTransport
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case err != nil:
		return opTransport
	case resp.StatusCode != want:
		return opStatus
	}
	return opOK
}

// postOp posts body as JSON to url, wanting a 201.
func postOp(c *http.Client, url string, body []byte) func() outcome {
	return func() outcome {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return opTransport
		}
		req.Header.Set("Content-Type", "application/json")
		return httpDo(c, req, http.StatusCreated)
	}
}

// getOp gets the URL url returns each time, wanting a 200.
func getOp(c *http.Client, url func() string) func() outcome {
	return func() outcome {
		req, err := http.NewRequest(http.MethodGet, url(), nil)
		if err != nil {
			return opTransport
		}
		return httpDo(c, req, http.StatusOK)
	}
}

// bareServer is the baseline of HTTP measurements: a trivial net/http
// handler on its own http.Server over the same loopback. A POST decodes a
// small JSON body and answers 201 with a small JSON body; a GET answers
// 200 with a small JSON body.
type bareServer struct {
	srv *http.Server
	url string
}

func startBare() (*bareServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	doc := map[string]any{"id": "01KBX3R6ZQ5J8W2M4N7P9T1V3Y", "version": 1}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := http.StatusOK
		out := map[string]any{"id": doc["id"], "version": doc["version"], "data": map[string]any{"model_type": "LinearRegression"}}
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(r.Body)
			var in map[string]any
			if err == nil {
				err = json.Unmarshal(body, &in)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			status, out["data"] = http.StatusCreated, in["data"]
		}
		b, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	})}
	// Serve returns only when closed; a listener that fails on the way
	// shows as transport errors in the measurements.
	go func() { _ = srv.Serve(ln) }()
	return &bareServer{srv: srv, url: "http://" + ln.Addr().String() + "/"}, nil
}

func (s *bareServer) close() { _ = s.srv.Close() }
