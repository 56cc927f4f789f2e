// Package events defines arbor's events, their envelope and wire codec, and
// the Log: the JetStream stream that is the only source of truth.
//
// Every event lives on a subject of the exact-subject layout (see Layout):
// a root's creation on its root subject, a child's on its parent's kids
// subject, later events on the artifact's own subject, and the seals of a
// deleted inner artifact on its seal subjects. Every write carries a
// precondition naming one exact subject, so its cost does not grow with the
// number of artifacts; the deletion of an inner artifact is one atomic batch.
// Events of the first layout, whose subjects named a consistency boundary,
// stay readable. This package imports no other package of arbor but
// internal helpers.
package events
