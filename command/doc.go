// Package command carries out arbor's writes: create, update, delete and
// attaching content. Each goes validate -> read the projection -> decide ->
// append with the boundary precondition -> wait until the projection has
// applied the event. A conflict (another write moved the boundary first) is
// retried once the projection has caught up, and a rule that fails is
// confirmed against the whole log first, so a rule only fails when it
// really fails. It never imports net/http.
package command
