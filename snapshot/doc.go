// Package snapshot keeps snapshots of the projection in a JetStream object
// store bucket, so that a restart folds only the events after the newest
// snapshot instead of the whole log. A snapshot is trusted only when it
// decodes and was taken of the very stream the service reads: same name,
// same creation time, and the same event at its position. Anything else is
// skipped with a warning, and the fold starts from an older snapshot or
// from the beginning. It never imports net/http.
package snapshot
