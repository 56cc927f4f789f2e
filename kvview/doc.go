// Package kvview keeps the JetStream KV bucket that holds every live
// artifact's current JSON, for readers that speak NATS but not HTTP: a view
// of the log written from a durable consumer, converging to the fold.
package kvview
