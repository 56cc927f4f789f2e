package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"arbor/events"
	"arbor/hierarchy"
	"arbor/projection"
)

// Log is the part of the event log a scrape reads: *events.Log.
type Log interface {
	LastSeq(ctx context.Context) (uint64, error)
}

// Content counts the bytes of content in and out: *blobstore.Store.
type Content interface {
	BytesStored() uint64
	BytesRead() uint64
}

// lastSeqTimeout bounds how long a scrape waits for the log's last
// position; past it the log's position and the lag are left out.
const lastSeqTimeout = 2 * time.Second

// Metrics counts what arbor does and reads what it holds. Its exported
// fields are the sources read at each scrape: each one left unset leaves
// its metrics out. They must be set before Handler serves a scrape. Make
// one with New; it is safe for concurrent use.
type Metrics struct {
	// Projection gives the projection's position and the live artifacts.
	Projection *projection.Projection
	// Log gives the log's last position, to tell the projection's lag.
	Log Log
	// Hierarchies name the levels of live artifacts; a hierarchy arbor no
	// longer has gets "level_<n>".
	Hierarchies hierarchy.Set
	// Feeds reports the live feeds open: httpapi.Server.Feeds.
	Feeds func() int
	// Content gives the bytes of content stored and read: the
	// *blobstore.Store.
	Content Content
	// Version is arbor's version, in arbor_build_info.
	Version string

	reg            *prometheus.Registry
	httpRequests   *prometheus.CounterVec
	httpSeconds    *prometheus.HistogramVec
	natsRequests   *prometheus.CounterVec
	natsSeconds    *prometheus.HistogramVec
	appended       *prometheus.CounterVec
	appendSeconds  *prometheus.HistogramVec
	appendFailures *prometheus.CounterVec
}

// New returns Metrics on a registry of their own, with the Go runtime and
// process collectors.
func New() *Metrics {
	// 0.5 ms to 16 s: a read served from memory to a large transfer.
	buckets := prometheus.ExponentialBuckets(0.0005, 2, 16)
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbor_http_requests_total",
			Help: "HTTP requests answered, by route, method and status.",
		}, []string{"route", "method", "status"}),
		httpSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arbor_http_request_duration_seconds",
			Help:    "How long HTTP requests took until their handler returned, by route and method (a live feed: as long as it was open).",
			Buckets: buckets,
		}, []string{"route", "method"}),
		natsRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbor_nats_requests_total",
			Help: "NATS API requests answered, by endpoint and status (200, or the problem's status).",
		}, []string{"endpoint", "status"}),
		natsSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arbor_nats_request_duration_seconds",
			Help:    "How long NATS API requests took from their arrival to their answer, by endpoint.",
			Buckets: buckets,
		}, []string{"endpoint"}),
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbor_events_appended_total",
			Help: "Events this instance appended to the log, by type.",
		}, []string{"type"}),
		appendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "arbor_events_append_duration_seconds",
			Help:    "How long appends to the log took, by outcome (appended, or the reason it failed).",
			Buckets: buckets,
		}, []string{"outcome"}),
		appendFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "arbor_events_append_failures_total",
			Help: "Appends to the log that wrote nothing or may not have, by reason: conflict (a precondition failed; " +
				"the command retries or answers 409/412), unavailable, storage_full, unknown_outcome, too_large, error.",
		}, []string{"reason"}),
	}
	// Known label values start at zero, so that rates exist from the start.
	for _, t := range []events.Event{events.ArtifactCreated{}, events.ArtifactUpdated{}, events.ArtifactDeleted{}, events.ArtifactSealed{}} {
		m.appended.WithLabelValues(t.EventType())
	}
	for _, r := range failureReasons {
		m.appendFailures.WithLabelValues(r)
	}
	m.reg.MustRegister(
		m.httpRequests, m.httpSeconds, m.natsRequests, m.natsSeconds,
		m.appended, m.appendSeconds, m.appendFailures,
		sources{m},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format. A source that
// fails leaves its metrics out; the rest are served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveNATS counts a NATS API request answered: natsapi.Service.Observe.
func (m *Metrics) ObserveNATS(endpoint string, status int, took time.Duration) {
	m.natsRequests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	m.natsSeconds.WithLabelValues(endpoint).Observe(took.Seconds())
}

var (
	projectionPosition = prometheus.NewDesc("arbor_projection_position",
		"The log position the projection has applied.", nil, nil)
	projectionReady = prometheus.NewDesc("arbor_projection_ready",
		"1 once the projection has caught up with the log at start-up, 0 before.", nil, nil)
	logPosition = prometheus.NewDesc("arbor_log_position",
		"The position of the last event in the log.", nil, nil)
	projectionLag = prometheus.NewDesc("arbor_projection_lag_events",
		"Events in the log the projection has not applied yet.", nil, nil)
	artifactsLive = prometheus.NewDesc("arbor_artifacts_live",
		"Live artifacts, by hierarchy and level label.", []string{"hierarchy", "level"}, nil)
	feedSubscribers = prometheus.NewDesc("arbor_feed_subscribers",
		"Live feeds ($events over Server-Sent Events) open.", nil, nil)
	contentStored = prometheus.NewDesc("arbor_content_stored_bytes_total",
		"Bytes of content uploads stored, content already stored counted again.", nil, nil)
	contentRead = prometheus.NewDesc("arbor_content_read_bytes_total",
		"Bytes of stored content read and checked: downloads, and JSON content put back into artifacts.", nil, nil)
	buildInfo = prometheus.NewDesc("arbor_build_info",
		"Always 1, labelled with arbor's version.", []string{"version"}, nil)
)

// sources reads the Metrics' sources at each scrape.
type sources struct{ m *Metrics }

func (s sources) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{projectionPosition, projectionReady, logPosition, projectionLag,
		artifactsLive, feedSubscribers, contentStored, contentRead, buildInfo} {
		ch <- d
	}
}

func (s sources) Collect(ch chan<- prometheus.Metric) {
	m := s.m
	if m.Version != "" {
		ch <- prometheus.MustNewConstMetric(buildInfo, prometheus.GaugeValue, 1, m.Version)
	}
	if m.Feeds != nil {
		ch <- prometheus.MustNewConstMetric(feedSubscribers, prometheus.GaugeValue, float64(m.Feeds()))
	}
	if m.Content != nil {
		ch <- prometheus.MustNewConstMetric(contentStored, prometheus.CounterValue, float64(m.Content.BytesStored()))
		ch <- prometheus.MustNewConstMetric(contentRead, prometheus.CounterValue, float64(m.Content.BytesRead()))
	}
	if m.Projection == nil {
		return
	}
	applied := m.Projection.Applied()
	ready := 0.0
	if m.Projection.Ready() {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(projectionPosition, prometheus.GaugeValue, float64(applied))
	ch <- prometheus.MustNewConstMetric(projectionReady, prometheus.GaugeValue, ready)
	if m.Log != nil {
		ctx, cancel := context.WithTimeout(context.Background(), lastSeqTimeout)
		last, err := m.Log.LastSeq(ctx)
		cancel()
		if err == nil {
			ch <- prometheus.MustNewConstMetric(logPosition, prometheus.GaugeValue, float64(last))
			// The log is read after the projection, so it is at least as
			// far; min keeps a log replaced meanwhile from going negative.
			ch <- prometheus.MustNewConstMetric(projectionLag, prometheus.GaugeValue, float64(last-min(applied, last)))
		}
	}
	for k, n := range m.live() {
		ch <- prometheus.MustNewConstMetric(artifactsLive, prometheus.GaugeValue, float64(n), k.hierarchy, k.level)
	}
}

// level is a hierarchy's level by its label.
type level struct{ hierarchy, level string }

// live counts the live artifacts per hierarchy and level label; every
// labelled level of the hierarchies arbor has is there, zero or not.
func (m *Metrics) live() map[level]int {
	var counts map[string][]int
	m.Projection.Read(func(s *projection.State) { counts = s.Counts() })
	out := map[level]int{}
	for _, h := range m.Hierarchies.All() {
		for _, l := range h.Labels {
			out[level{h.Name, l}] += 0
		}
	}
	for h, per := range counts {
		for n, c := range per {
			// Summed: a label met twice (a label that reads "level_<n>")
			// must not make two samples of one series, which fails a scrape.
			out[level{h, m.Hierarchies.Label(h, n)}] += c
		}
	}
	return out
}
