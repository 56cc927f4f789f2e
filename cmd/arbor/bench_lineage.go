package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// lineage measures the reads beyond the seed's: filtered pages of the
// list, a filter expression's rate, $ancestors, the $history of an
// artifact with a thousand versions, and a tree as of an earlier
// position. Pages are measured in both stores: the large store's
// latencies are compared with the small one's.
func (b *bench) lineage(ctx context.Context, store string, st *builtStore) error {
	b.say("lineage reads")
	p50 := func(u string) (time.Duration, error) {
		r := measure(ctx, b.opts.duration/2, times(1, func(int) func() outcome { return getOp(b.client, func() string { return u }) }))
		if r.errors() > 0 {
			return 0, fmt.Errorf("GET %s: %d errors", u, r.errors())
		}
		return r.quantile(0.5), nil
	}
	mid, err := b.getJSON(b.base + "/" + st.ids[len(st.ids)/2].String())
	if err != nil {
		return err
	}
	filters := []struct{ name, query string }{
		{"hierarchy", "hierarchy=" + benchHierarchy.Name},
		{"level_label", "level_label=model"},
		{"parent_id", "parent_id=" + st.tree.String()},
		{"tag", "tag=" + benchTag(3)},
		{"created range", "created_after=" + url.QueryEscape(mid["created_at"].(string))},
		{"deep page", "level_label=predictions&page=" + strconv.Itoa(st.shape.Predictions/100)},
	}
	if b.lineageP50 == nil {
		b.lineageP50 = map[string]sizedP50{}
	}
	for _, f := range filters {
		d, err := p50(b.base + "?size=50&" + f.query)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("7. GET list ?%s, a 50-item page, c=1: p50", f.name)
		b.rep.limit(store, name, d.String(), d.Seconds(), benchTarget{Op: "<", Value: 0.005, Show: "5ms"}, f.query)
		// The store measured second holds the figure of both: the
		// larger's p50 over the smaller's.
		here := sizedP50{n: st.shape.Total(), d: d}
		if there, ok := b.lineageP50[f.name]; ok {
			large, small := here, there
			if large.n < small.n {
				large, small = small, large
			}
			b.rep.ratio(store, fmt.Sprintf("7. that p50 at %s artifacts / at %s (%s)", commas(int64(large.n)), commas(int64(small.n)), f.name),
				large.d.String(), small.d.String(), float64(large.d)/float64(small.d), &benchTarget{Op: "<=", Value: 2}, "indexes, not scans")
		} else {
			b.lineageP50[f.name] = here
		}
	}

	expr := `data.metrics.rmse < 0.3 && data.model_type == "LinearRegression"`
	d, err := p50(b.base + "?size=50&level_label=model&filter=" + url.QueryEscape(expr))
	if err != nil {
		return err
	}
	rate := float64(st.shape.Models) / d.Seconds()
	b.rep.limit(store, "7. filter evaluated over the models (the candidates of level_label=model)", perSec(rate), rate,
		benchTarget{Op: ">=", Value: 1e6, Show: "1,000,000/s"}, fmt.Sprintf("%s models in %s (p50 of the whole request): %s", commas(int64(st.shape.Models)), d, expr))

	leaf := st.ids[len(st.ids)-1]
	if d, err = p50(b.base + "/" + leaf.String() + "/$ancestors"); err != nil {
		return err
	}
	b.rep.info(store, "7. GET $ancestors of a prediction (depth 2), c=1: p50", d.String(), "one step per level")

	// An artifact with a thousand versions.
	versioned := st.ids[0]
	for i := range 999 {
		if _, err := b.put(versioned.String(), fmt.Sprintf(`{"data":{"version":%d}}`, i+2)); err != nil {
			return err
		}
	}
	if d, err = p50(b.base + "/" + versioned.String() + "/$history"); err != nil {
		return err
	}
	b.rep.limit(store, "7. GET $history of an artifact with 1,000 versions, c=1: p50", d.String(), d.Seconds(),
		benchTarget{Op: "<", Value: 0.010, Show: "10ms"}, "the creation by a direct get, the changes through one ordered consumer")

	// The tree as of a position before its model changed: the model from
	// the log, its thousand children from memory.
	pos, err := b.put(st.tree.String(), `{"data":{"model_type":"Tree","v":1}}`)
	if err != nil {
		return err
	}
	if _, err := b.put(st.tree.String(), `{"data":{"model_type":"Tree","v":2}}`); err != nil {
		return err
	}
	now := b.base + "/" + st.tree.String() + "/$tree?max_depth=1"
	then := now + "&as_of=" + strconv.FormatUint(pos, 10)
	ra, rb, _ := alternate(ctx, b.opts.duration, b.opts.rounds,
		times(1, func(int) func() outcome { return getOp(b.client, func() string { return then }) }),
		times(1, func(int) func() outcome { return getOp(b.client, func() string { return now }) }))
	b.rep.ratio(store, fmt.Sprintf("7. GET $tree?as_of (%s children, the model changed since) / the same tree now, c=1", commas(int64(st.shape.TreeKids))),
		perSec(ra.rate()), perSec(rb.rate()), float64(rb.rate())/ra.rate(), &benchTarget{Op: "<=", Value: 3}, latencies(ra)+"; ratio of times")
	return nil
}

// getJSON reads an object.
func (b *bench) getJSON(u string) (map[string]any, error) {
	resp, err := b.client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var v map[string]any
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// put replaces an artifact's data and returns the position of the update.
func (b *bench) put(id, body string) (uint64, error) {
	req, err := http.NewRequest(http.MethodPut, b.base+"/"+id, bytes.NewBufferString(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("PUT %s: %s", id, resp.Status)
	}
	return strconv.ParseUint(resp.Header.Get("Arbor-Position"), 10, 64)
}

// sizedP50 is a latency measured in a store of n artifacts.
type sizedP50 struct {
	n int
	d time.Duration
}
