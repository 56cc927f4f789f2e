package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"github.com/oklog/ulid/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"arbor/command"
	"arbor/events"
	"arbor/hierarchy"
	"arbor/httpapi"
	"arbor/internal/arbortest"
	"arbor/metrics"
	"arbor/natsapi"
	"arbor/projection"
)

const base = "/api/v1/artifacts"

var (
	mlPipeline = hierarchy.Hierarchy{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}}
	documents  = hierarchy.Hierarchy{Name: "documents", Labels: []string{"project", "document", "version"}}
)

// env is one arbor instance with its metrics: the HTTP API observed by
// them, with /metrics as a page, the command handler's log
// wrapped by the metrics' appender, and the NATS service observed.
type env struct {
	t   *testing.T
	st  *arbortest.Stack
	api *httpapi.Server
	m   *metrics.Metrics
	url string
	nc  *nats.Conn // a client of the NATS service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := arbortest.New(t, mlPipeline, documents)
	m := metrics.New()
	// A Handler keeps counters of its own and is not copied.
	h := &command.Handler{
		Log: m.Appender(st.Handler.Log), Projection: st.Projection, Hierarchies: st.Handler.Hierarchies,
		NewID: st.Handler.NewID, Now: st.Handler.Now, MaxData: st.Handler.MaxData, Blobs: st.Handler.Blobs,
		Timeout: st.Handler.Timeout,
	}
	api := st.API()
	api.Commands = h
	api.Pages = []httpapi.Page{{Path: "/metrics", Handler: m.Handler()}}
	m.Projection, m.Log, m.Hierarchies = st.Projection, st.Log, h.Hierarchies
	m.Feeds, m.Content, m.Version = api.Feeds, st.Blobs, "0.3.0-test"
	api.Observe = m.ObserveHTTP

	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(api.CloseStreams) // runs first: live feeds end before the server closes

	svc := &natsapi.Service{
		Commands: h, Queries: st.Queries, Projection: st.Projection, Blobs: st.Blobs,
		Wait: 5 * time.Second, Timeout: 30 * time.Second, Version: "0.3.0-test",
		Logger: slog.New(slog.DiscardHandler), Observe: m.ObserveNATS,
	}
	if err := svc.Start(st.Conn); err != nil {
		t.Fatalf("start the NATS service: %v", err)
	}
	t.Cleanup(func() {
		if err := svc.Stop(context.Background()); err != nil {
			t.Errorf("stop the NATS service: %v", err)
		}
	})
	nc, err := nats.Connect("", nats.InProcessServer(st.Server))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return &env{t: t, st: st, api: api, m: m, url: srv.URL, nc: nc}
}

// do sends a request and returns its status and body; hdr are name, value
// pairs.
func (e *env) do(method, path string, body []byte, hdr ...string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read the body: %v", method, path, err)
	}
	return res.StatusCode, b
}

// want sends a request that must answer status.
func (e *env) want(status int, method, path string, body []byte, hdr ...string) []byte {
	e.t.Helper()
	got, b := e.do(method, path, body, hdr...)
	if got != status {
		e.t.Fatalf("%s %s = %d, want %d: %s", method, path, got, status, b)
	}
	return b
}

// create POSTs body and returns the new artifact's id.
func (e *env) create(body string) string {
	e.t.Helper()
	var a struct {
		ID string `json:"id"`
	}
	b := e.want(http.StatusCreated, http.MethodPost, base, []byte(body), "Content-Type", "application/json")
	if err := json.Unmarshal(b, &a); err != nil || a.ID == "" {
		e.t.Fatalf("create %s: %s (%v)", body, b, err)
	}
	return a.ID
}

// natsRequest sends body to the service's endpoint and returns the status
// of its answer.
func (e *env) natsRequest(endpoint, body string) int {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 20*time.Second)
	defer cancel()
	msg, err := e.nc.RequestWithContext(ctx, natsapi.Prefix+"."+endpoint, []byte(body))
	if err != nil {
		e.t.Fatalf("nats %s: %v", endpoint, err)
	}
	if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
		n, err := strconv.Atoi(code)
		if err != nil {
			e.t.Fatalf("nats %s: error code %q", endpoint, code)
		}
		return n
	}
	return 200
}

// scrape GETs /metrics and parses it with the client library's parser,
// which also checks that every name follows the legacy conventions.
func (e *env) scrape() map[string]*dto.MetricFamily {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.url+"/metrics", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("GET /metrics: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		e.t.Fatalf("GET /metrics = %d: %s", res.StatusCode, b)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		e.t.Errorf("GET /metrics: Content-Type = %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		e.t.Fatalf("GET /metrics: not valid Prometheus text: %v", err)
	}
	return fams
}

// value is the value of the sample of family name whose labels are
// exactly labels (name, value pairs): a counter's or gauge's value, a
// histogram's count. ok is false when there is no such sample.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) (v float64, ok bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) != len(want) {
			continue
		}
		match := true
		for k, v := range want {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// check fails unless the sample of name with labels has value want.
func check(t *testing.T, fams map[string]*dto.MetricFamily, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := value(fams, name, labels...)
	switch {
	case !ok:
		t.Errorf("%s%v: missing, want %v", name, labels, want)
	case got != want:
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

// labelValues are the values label takes in family name.
func labelValues(fams map[string]*dto.MetricFamily, name, label string) []string {
	var out []string
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && !slices.Contains(out, l.GetValue()) {
				out = append(out, l.GetValue())
			}
		}
	}
	slices.Sort(out)
	return out
}

// getArtifact is id as the projection has it.
func getArtifact(t *testing.T, p *projection.Projection, id string) projection.Artifact {
	t.Helper()
	var (
		a     projection.Artifact
		found bool
	)
	p.Read(func(s *projection.State) { a, found = s.Get(ulid.MustParse(id)) })
	if !found {
		t.Fatalf("%s not in the projection", id)
	}
	return a
}

// A user's requests over HTTP and NATS show up in /metrics as they were
// made: requests by route and status, events by type, live artifacts by
// level, content bytes, the projection caught up.
func TestMetricsAfterRequests(t *testing.T) {
	e := newEnv(t)

	exp := e.create(`{"data": {"experiment_name": "weather"}}`)
	model := e.create(`{"parent_id": "` + exp + `", "data": {"model_type": "LinearRegression"}}`)
	project := e.create(`{"hierarchy": "documents", "data": {"name": "handbook"}}`)
	e.want(http.StatusOK, http.MethodGet, base+"/"+exp, nil)
	e.want(http.StatusNotFound, http.MethodGet, base+"/"+ulid.Make().String(), nil)
	e.want(http.StatusConflict, http.MethodDelete, base+"/"+exp, nil) // it has a child
	e.want(http.StatusNoContent, http.MethodDelete, base+"/"+project, nil)
	e.want(http.StatusOK, http.MethodGet, base+"/"+exp+"/%24tree", nil)

	content := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320,000 bytes: three chunks
	e.want(http.StatusOK, http.MethodPut, base+"/"+model+"/$content", content, "Content-Type", "application/octet-stream")
	if got := e.want(http.StatusOK, http.MethodGet, base+"/"+model+"/%24download", nil); !bytes.Equal(got, content) {
		t.Fatalf("download: %d bytes, not the %d uploaded", len(got), len(content))
	}

	if s := e.natsRequest("create", `{"parent_id": "`+model+`", "data": {"prediction_date": "2026-11-27"}}`); s != 200 {
		t.Fatalf("nats create: status %d", s)
	}
	if s := e.natsRequest("get", `{"id": "`+ulid.Make().String()+`"}`); s != 404 {
		t.Fatalf("nats get of an unknown id: status %d, want 404", s)
	}

	// An append whose precondition fails, as when another instance wrote
	// the artifact first: the log refuses it and nothing is written.
	a := getArtifact(t, e.st.Projection, exp)
	subject := e.st.Log.Layout().Art(a.Place(), a.ID)
	_, err := e.m.Appender(e.st.Log).Append(t.Context(), events.Write{
		Env: events.Envelope{ID: ulid.Make(), Time: time.Now().UTC().Truncate(time.Millisecond),
			Event: events.ArtifactUpdated{ID: a.ID, Data: []byte(`{}`)}},
		Subject: subject,
		Expect:  events.Expect{Subject: subject, Last: a.OwnSeq + 1000},
	})
	if !errors.Is(err, events.ErrConflict) {
		t.Fatalf("append with a stale precondition: %v, want a conflict", err)
	}

	last := arbortest.WaitAll(t, e.st)
	e.scrape() // counted by the next
	fams := e.scrape()

	// HTTP requests by route, method and status.
	for _, c := range []struct {
		route, method, status string
		n                     float64
	}{
		{base, "POST", "201", 3},
		{base + "/{id}", "GET", "200", 1},
		{base + "/{id}", "GET", "404", 1},
		{base + "/{id}", "DELETE", "409", 1},
		{base + "/{id}", "DELETE", "204", 1},
		{base + "/{id}/$tree", "GET", "200", 1},
		{base + "/{id}/$content", "PUT", "200", 1},
		{base + "/{id}/$download", "GET", "200", 1},
		{"/metrics", "GET", "200", 1},
	} {
		check(t, fams, c.n, "arbor_http_requests_total", "route", c.route, "method", c.method, "status", c.status)
	}
	check(t, fams, 3, "arbor_http_request_duration_seconds", "route", base, "method", "POST")
	check(t, fams, 2, "arbor_http_request_duration_seconds", "route", base+"/{id}", "method", "GET")

	// NATS requests by endpoint and status.
	check(t, fams, 1, "arbor_nats_requests_total", "endpoint", "create", "status", "200")
	check(t, fams, 1, "arbor_nats_requests_total", "endpoint", "get", "status", "404")
	check(t, fams, 1, "arbor_nats_request_duration_seconds", "endpoint", "create")

	// Events by type: 4 creations, the upload's update, the deletion and
	// its seals, which are all the log holds.
	check(t, fams, 4, "arbor_events_appended_total", "type", "artifact.created")
	check(t, fams, 1, "arbor_events_appended_total", "type", "artifact.updated")
	check(t, fams, 1, "arbor_events_appended_total", "type", "artifact.deleted")
	seals, _ := value(fams, "arbor_events_appended_total", "type", "artifact.sealed")
	if seals < 1 || 6+seals != float64(last) {
		t.Errorf("artifact.sealed = %v: with the 6 other events, not the %d the log holds", seals, last)
	}
	check(t, fams, 1, "arbor_events_append_failures_total", "reason", "conflict")
	check(t, fams, 0, "arbor_events_append_failures_total", "reason", "unavailable")
	check(t, fams, 0, "arbor_events_append_failures_total", "reason", "unknown_outcome")
	check(t, fams, 6, "arbor_events_append_duration_seconds", "outcome", "appended") // the seals went with their deletion
	check(t, fams, 1, "arbor_events_append_duration_seconds", "outcome", "conflict")

	// Live artifacts by hierarchy and level label.
	check(t, fams, 1, "arbor_artifacts_live", "hierarchy", "ml_pipeline", "level", "experiment")
	check(t, fams, 1, "arbor_artifacts_live", "hierarchy", "ml_pipeline", "level", "model")
	check(t, fams, 1, "arbor_artifacts_live", "hierarchy", "ml_pipeline", "level", "predictions")
	check(t, fams, 0, "arbor_artifacts_live", "hierarchy", "documents", "level", "project")
	check(t, fams, 0, "arbor_artifacts_live", "hierarchy", "documents", "level", "version")

	// Content in and out, the projection caught up, the rest.
	check(t, fams, float64(len(content)), "arbor_content_stored_bytes_total")
	check(t, fams, float64(len(content)), "arbor_content_read_bytes_total")
	check(t, fams, float64(last), "arbor_projection_position")
	check(t, fams, float64(last), "arbor_log_position")
	check(t, fams, 0, "arbor_projection_lag_events")
	check(t, fams, 1, "arbor_projection_ready")
	check(t, fams, 0, "arbor_feed_subscribers")
	check(t, fams, 1, "arbor_build_info", "version", "0.3.0-test")
	if n, ok := value(fams, "go_goroutines"); !ok || n < 1 {
		t.Errorf("go_goroutines = %v (present: %v), want the running goroutines", n, ok)
	}
	if _, ok := value(fams, "process_cpu_seconds_total"); !ok {
		t.Error("process_cpu_seconds_total missing")
	}
	for name, f := range fams {
		if strings.HasPrefix(name, "arbor_") && f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
	}
}

// A live feed open counts as a subscriber while it is open.
func TestFeedSubscribers(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.url+base+"/$events", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET $events: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET $events = %d", res.StatusCode)
	}
	check(t, e.scrape(), 1, "arbor_feed_subscribers")
}

// However many ids and unknown paths clients send, route labels are the
// few routes arbor serves and "other".
func TestRouteLabelsStayBounded(t *testing.T) {
	e := newEnv(t)
	for i := range 40 {
		id := ulid.Make().String()
		if i%2 == 1 {
			id = strings.ToLower(id)
		}
		e.want(http.StatusNotFound, http.MethodGet, base+"/"+id, nil)
		e.want(http.StatusNotFound, http.MethodGet, base+"/"+id+"/$tree", nil)
		e.want(http.StatusNotFound, http.MethodGet, base+"/"+id+"/%24expand", nil)
		n := strconv.Itoa(i)
		e.do(http.MethodGet, base+"/"+id+"/$op"+n, nil)
		e.do(http.MethodGet, base+"/$z"+n, nil)
		e.do(http.MethodGet, base+"/"+id+"/a/"+n, nil)
		e.do(http.MethodGet, "/nowhere/"+n, nil)
		e.do("BREW"+n, base, nil)
	}
	fams := e.scrape()
	routes := labelValues(fams, "arbor_http_requests_total", "route")
	want := []string{base, base + "/{id}", base + "/{id}/$expand", base + "/{id}/$tree", "other"}
	if !slices.Equal(routes, want) {
		t.Errorf("routes = %q, want %q", routes, want)
	}
	if methods := labelValues(fams, "arbor_http_requests_total", "method"); !slices.Equal(methods, []string{"GET", "other"}) {
		t.Errorf("methods = %q, want GET and other", methods)
	}
	check(t, fams, 40, "arbor_http_requests_total", "route", base+"/{id}/$expand", "method", "GET", "status", "404")
	check(t, fams, 40*4, "arbor_http_requests_total", "route", "other", "method", "GET", "status", "404")
}

// Two Metrics in one process keep their own counts.
func TestInstancesApart(t *testing.T) {
	a, b := metrics.New(), metrics.New()
	a.ObserveHTTP("/health", http.MethodGet, http.StatusOK, time.Millisecond)
	for _, c := range []struct {
		m    *metrics.Metrics
		want float64
	}{{a, 1}, {b, 0}} {
		rec := httptest.NewRecorder()
		c.m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(rec.Body)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := value(fams, "arbor_http_requests_total", "route", "/health", "method", "GET", "status", "200")
		if got != c.want {
			t.Errorf("requests to /health = %v, want %v", got, c.want)
		}
	}
}
