// Package blobstore keeps artifact content in the JetStream object store,
// content-addressed by SHA-256: identical bytes are stored once, and events
// refer to content by its digest. Content streams in and out in the object
// store's chunks; it is never held whole in memory.
package blobstore
