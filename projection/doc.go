// Package projection folds arbor's events into an in-memory index that
// answers every read without a scan, feeds that fold from the log in stream
// order (Runner), lets writers wait for their own events (WaitFor), and
// mirrors the current state into a JetStream KV bucket for outside readers
// (KVView). It never imports net/http.
package projection
