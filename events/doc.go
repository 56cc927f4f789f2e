// Package events defines arbor's events, their envelope and wire codec, and
// the Log: the JetStream stream that is the only source of truth.
//
// Every event lives on a subject of the form
//
//	<prefix>.<hierarchy>.<boundary>.<artifact>.<label>.<kind>
//
// where boundary is the artifact whose consistency boundary the event belongs
// to: the parent for the creation of a child, the artifact itself for every
// other event (and for the creation of a root). A write that must not race
// with other writes to a boundary carries a precondition on the filter
// <prefix>.*.<boundary>.> (see BoundaryFilter). This package imports no
// other package of arbor.
package events
