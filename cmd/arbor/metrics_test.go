package main

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// arbor serve answers /metrics in the Prometheus text format, which the
// client library's parser reads; with API keys it wants a read key.
func TestMetricsEndpoint(t *testing.T) {
	in := openTestMain(t, testMainConfig(t.TempDir()))
	in.c.waitHealthy(10 * time.Second)
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"n": 1}}, nil)
	r := in.c.must(http.StatusOK, http.MethodGet, "/metrics", nil, nil)
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	live := -1.0
	for _, m := range fams["arbor_artifacts_live"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["hierarchy"] == "ml_pipeline" && labels["level"] == "experiment" {
			live = m.GetGauge().GetValue()
		}
	}
	if live != 1 {
		t.Errorf("arbor_artifacts_live{ml_pipeline, experiment} = %v, want 1", live)
	}
	for _, name := range []string{"arbor_http_requests_total", "arbor_events_appended_total", "arbor_projection_lag_events", "go_goroutines"} {
		if fams[name] == nil {
			t.Errorf("no %s in /metrics", name)
		}
	}
}
