// Package projection is arbor's read model: the fold of the event log into
// an in-memory index that answers every read without a scan (State), the
// runner that feeds it from the log in stream order, waiting for a
// position (WaitFor), and snapshots of the fold. It does no I/O of its own
// and never imports net/http.
package projection
