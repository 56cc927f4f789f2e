// Package metrics exposes arbor's metrics in the Prometheus text format:
// HTTP and NATS requests, appends to the event log, the projection's
// position and lag, live artifacts by hierarchy and level, live feeds,
// content bytes, and the Go runtime and process.
//
// Requests and appends are counted as they happen, through the Observe
// hooks of the HTTP API and the NATS service and a wrapper of the command
// handler's log; everything else is read from its source at each scrape.
// Each Metrics has its own registry, so that several live in one process.
package metrics
