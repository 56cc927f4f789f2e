package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/hierarchy"
)

// benchHierarchy is the hierarchy every artifact the bench builds belongs
// to: the README's experiment -> model -> predictions.
var benchHierarchy = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}

// narrowKids is how many children each narrow model has: the ordinary
// parent that creates under a very wide one are compared with.
const narrowKids = 10

// storeShape is the shape of a store built through the log: experiments,
// models (spread round-robin over the experiments) and predictions, with
// three kinds of model the measurements need beside the ordinary ones.
type storeShape struct {
	Experiments int
	Models      int
	Predictions int // the special models' children included
	TreeKids    int // children of the model whose one-level tree is read
	Wide        int // children of the one very wide model (0: none)
	Narrow      int // models with exactly narrowKids children
}

// shapeFor is the shape of a store of n artifacts: n/100 experiments, n/10
// models, the rest predictions. The special models take their children
// from the predictions; wide and narrow shrink to fit a small n.
func shapeFor(n, treeKids, wide, narrow int) storeShape {
	s := storeShape{Experiments: max(1, n/100), Models: max(1, n/10)}
	s.Predictions = max(0, n-s.Experiments-s.Models)
	s.Narrow = max(0, min(narrow, s.Models/20))
	s.TreeKids = min(treeKids, s.Predictions/2)
	s.Wide = max(0, min(wide, s.Predictions-s.TreeKids-narrowKids*s.Narrow))
	if s.Models < 2+s.Narrow {
		s.Wide, s.Narrow = 0, 0
	}
	return s
}

// Total is the number of artifacts in the store.
func (s storeShape) Total() int { return s.Experiments + s.Models + s.Predictions }

// builtStore is what the bench knows of a store it built.
type builtStore struct {
	shape     storeShape
	ids       []ulid.ULID // every artifact, for reads at random
	tree      ulid.ULID   // the model with TreeKids children
	wide      ulid.ULID   // the model with Wide children (zero: none)
	narrow    []ulid.ULID // the models with narrowKids children
	dataBytes int64       // sum of the data of every artifact
	elapsed   time.Duration
}

// benchParent is what a child's creation needs of its parent.
type benchParent struct {
	id    ulid.ULID
	key   uint16
	level int
}

// rootWrite is the write arbor's create command decides for the root id
// with data (see decideCreate): the creation on the root's own subject,
// expecting no creation of id as a root in any hierarchy.
func rootWrite(l events.Layout, h hierarchy.Hierarchy, id ulid.ULID, data []byte, at time.Time) events.Write {
	ev := events.ArtifactCreated{ID: id, Hierarchy: h.Name, Tags: []string{}, Data: data}
	return events.Write{
		Env:     events.Envelope{ID: ulid.Make(), Time: at, Event: ev},
		Subject: l.Root(events.Place{Key: events.Key(id), Hierarchy: h.Name}, id, h.Label(0)),
		Expect:  events.Expect{Subject: l.RootFilter(id)},
		Label:   h.Label(0),
	}
}

// childWrite is the write arbor's create command decides for the child id
// of p: the creation on p's kids subject, expecting one of p's seal
// subjects to be empty.
func childWrite(l events.Layout, h hierarchy.Hierarchy, p benchParent, id ulid.ULID, data []byte, at time.Time) events.Write {
	ev := events.ArtifactCreated{ID: id, Parent: p.id, Hierarchy: h.Name, Level: p.level + 1, Tags: []string{}, Data: data}
	place := events.Place{Key: p.key, Hierarchy: h.Name}
	return events.Write{
		Env:     events.Envelope{ID: ulid.Make(), Time: at, Event: ev},
		Subject: l.Kids(place, p.id, h.Label(p.level+1)),
		Expect:  events.Expect{Subject: l.Seal(place, p.id, rand.IntN(l.Seals))},
		Label:   h.Label(p.level + 1),
	}
}

// Data of each level: small JSON objects, 60 to 100 bytes.
// benchTag is the tag of model i: one of 7 teams, so that a tag lists
// more than a page of models in the small store too.
func benchTag(i int) string { return fmt.Sprintf("team-%d", i%7) }

func experimentData(i int) []byte {
	return fmt.Appendf(nil, `{"experiment_name":"weather_forecast_%06d","owner":"team-%d","dataset":"chirps_v%d"}`, i, i%37, i%5)
}

var benchModelTypes = []string{"LinearRegression", "RandomForest", "XGBoost", "ARIMA"}

func modelData(i int) []byte {
	return fmt.Appendf(nil, `{"model_type":"%s","metrics":{"rmse":0.%04d,"mae":0.%04d},"epochs":%d}`,
		benchModelTypes[i%len(benchModelTypes)], (i*7919)%10000, (i*104729)%10000, 10+i%90)
}

func predictionData(i int) []byte {
	return fmt.Appendf(nil, `{"prediction_date":"2026-%02d-%02d","num_predictions":%d,"mean":%d.%02d}`,
		1+i%12, 1+i%28, 100+i%9900, i%40, i%100)
}

// storeBuilder appends the creations of a whole store to the log, as
// asynchronous JetStream publishes of the very messages arbor's create
// command appends (see rootWrite, childWrite and events.Log.Message). Each level is
// published whole, and acknowledged, before the next: a creation's
// precondition names only its parent's seal (or its own root subject), but
// the fold needs every parent created before its children.
type storeBuilder struct {
	js      jetstream.JetStream
	log     *events.Log
	layout  events.Layout
	workers int

	failed atomic.Int64
	mu     sync.Mutex
	first  error
}

func newStoreBuilder(nc *nats.Conn, log *events.Log) (*storeBuilder, error) {
	b := &storeBuilder{log: log, layout: log.Layout(), workers: 2}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(8192),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, msg *nats.Msg, err error) {
			b.failed.Add(1)
			b.mu.Lock()
			if b.first == nil {
				b.first = fmt.Errorf("publish on %s: %w", msg.Subject, err)
			}
			b.mu.Unlock()
		}))
	if err != nil {
		return nil, err
	}
	b.js = js
	return b, nil
}

// build appends a store of shape s and returns what the bench needs of it.
// Every message must be acknowledged; the first failure is the error.
func (b *storeBuilder) build(ctx context.Context, s storeShape) (*builtStore, error) {
	start := time.Now()
	st := &builtStore{shape: s, ids: make([]ulid.ULID, 0, s.Total())}
	h := benchHierarchy

	exps := make([]benchParent, s.Experiments)
	for i := range exps {
		key := uint16(rand.Uint32() & (1<<15 - 1))
		exps[i] = benchParent{id: events.WithKey(ulid.Make(), key), key: key}
	}
	err := b.level(ctx, len(exps), func(i int, at time.Time) (events.Write, int) {
		data := experimentData(i)
		return rootWrite(b.layout, h, exps[i].id, data, at), len(data)
	}, st)
	if err != nil {
		return nil, err
	}

	models := make([]benchParent, s.Models)
	for i := range models {
		e := exps[i%len(exps)]
		models[i] = benchParent{id: events.WithKey(ulid.Make(), e.key), key: e.key, level: 1}
	}
	err = b.level(ctx, len(models), func(i int, at time.Time) (events.Write, int) {
		data := modelData(i)
		w := childWrite(b.layout, h, exps[i%len(exps)], models[i].id, data, at)
		ev := w.Env.Event.(events.ArtifactCreated)
		ev.Tags = []string{benchTag(i)}
		w.Env.Event = ev
		return w, len(data)
	}, st)
	if err != nil {
		return nil, err
	}

	// How many children each model gets: model 0 is the tree model, 1 the
	// wide one, the next Narrow the narrow ones; the rest share what is
	// left evenly.
	kids := make([]int, len(models))
	kids[0] = s.TreeKids
	st.tree = models[0].id
	next := 1
	if s.Wide > 0 && len(models) > 1 {
		kids[1] = s.Wide
		st.wide = models[1].id
		next = 2
	}
	for range s.Narrow {
		kids[next] = narrowKids
		st.narrow = append(st.narrow, models[next].id)
		next++
	}
	rest := s.Predictions - s.TreeKids - s.Wide - narrowKids*s.Narrow
	if n := len(models) - next; n > 0 {
		for i := next; i < len(models); i++ {
			kids[i] = rest / n
			if i-next < rest%n {
				kids[i]++
			}
		}
	}
	// Predictions come round-robin over the models, as if every model
	// predicted day after day: plan[i] is the model of the i-th.
	plan := make([]int32, 0, s.Predictions)
	active := make([]int32, 0, len(models))
	for i := range models {
		active = append(active, int32(i))
	}
	for round := 0; len(active) > 0; round++ {
		keep := active[:0]
		for _, m := range active {
			if kids[m] > round {
				plan = append(plan, m)
				keep = append(keep, m)
			}
		}
		active = keep
	}
	err = b.level(ctx, len(plan), func(i int, at time.Time) (events.Write, int) {
		p := models[plan[i]]
		data := predictionData(i)
		return childWrite(b.layout, h, p, events.WithKey(ulid.Make(), p.key), data, at), len(data)
	}, st)
	if err != nil {
		return nil, err
	}
	st.elapsed = time.Since(start)
	return st, nil
}

// level publishes n creations, write(i) being the i-th, from the
// builder's workers, and waits until the server has acknowledged them all.
// Their ids are appended to st.ids in order, their data counted.
func (b *storeBuilder) level(ctx context.Context, n int, write func(i int, at time.Time) (events.Write, int), st *builtStore) error {
	base := len(st.ids)
	st.ids = st.ids[:base+n]
	var (
		next  atomic.Int64
		data  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		err   error
	)
	const chunk = 256
	for range b.workers {
		wg.Go(func() {
			var bytes int64
			defer func() { data.Add(bytes) }()
			for ctx.Err() == nil && b.failed.Load() == 0 {
				from := int(next.Add(chunk)) - chunk
				if from >= n {
					return
				}
				at := time.Now().UTC().Truncate(time.Millisecond)
				for i := from; i < min(n, from+chunk); i++ {
					w, size := write(i, at)
					bytes += int64(size)
					st.ids[base+i] = w.Env.Event.ArtifactID()
					msg, e := b.log.Message(w)
					if e == nil {
						_, e = b.js.PublishMsgAsync(msg, jetstream.WithStallWait(30*time.Second))
					}
					if e != nil {
						errMu.Lock()
						err = errors.Join(err, e)
						errMu.Unlock()
						return
					}
				}
			}
		})
	}
	wg.Wait()
	st.dataBytes += data.Load()
	if err != nil {
		return err
	}
	select {
	case <-b.js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("build: %d publishes still unacknowledged after 2 minutes", b.js.PublishAsyncPending())
	}
	if n := b.failed.Load(); n > 0 {
		b.mu.Lock()
		defer b.mu.Unlock()
		return fmt.Errorf("build: %d publishes failed, the first: %w", n, b.first)
	}
	return ctx.Err()
}
