// Package natsapi serves arbor's commands to pipelines over NATS
// request/reply: a service built on nats.go's micro package, discoverable
// with `nats micro ls`. Request and reply bodies are the JSON of the HTTP
// API, errors are the same problem details, and the same commands carry
// them out, so the rules, read-your-writes and the behaviour under
// concurrency are the HTTP API's.
package natsapi
