// Package command carries out arbor's writes: create, update and delete.
// Each goes validate -> read the projection -> decide -> append with the
// boundary precondition -> wait until the projection has applied the event.
// A conflict (another write moved the boundary first) is retried once the
// projection has caught up, so a rule only fails when it really fails. It
// never imports net/http.
package command
