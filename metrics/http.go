package metrics

import (
	"net/http"
	"strconv"
	"time"
)

// other is the label of every method arbor does not serve.
const other = "other"

// ObserveHTTP counts an HTTP request answered, by route (httpapi's
// Server.Route: few, whatever clients send), method and status, and how
// long it took: httpapi.Server.Observe.
func (m *Metrics) ObserveHTTP(route, method string, status int, took time.Duration) {
	method = methodLabel(method)
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpSeconds.WithLabelValues(route, method).Observe(took.Seconds())
}

// methodLabel is m if it is a method arbor serves, else other.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return other
}
