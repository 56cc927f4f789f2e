// Package query answers arbor's reads from the in-memory projection: get,
// list, tree, expand, metadata and stats. No read touches the log or the KV
// bucket, and each answer is as of one position of the log. It never
// imports net/http.
package query
