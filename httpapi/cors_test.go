package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"arbor/internal/arbortest"
)

// A page of a configured origin may read the live feed; others may not.
func TestFeedCORS(t *testing.T) {
	st := arbortest.New(t, mlPipeline)
	srv := st.API()
	srv.CORSOrigins = []string{"https://dash.example"}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	for origin, want := range map[string]string{
		"https://dash.example":  "https://dash.example",
		"https://other.example": "",
		"":                      "",
	} {
		ctx, cancel := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+base+"/$events", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Header.Get("Access-Control-Allow-Origin")
		cancel()
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || got != want {
			t.Errorf("feed from origin %q: %d, Access-Control-Allow-Origin %q, want %q", origin, resp.StatusCode, got, want)
		}
	}
}
