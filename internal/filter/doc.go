// Package filter compiles and runs the CEL expressions a user writes to pick
// artifacts out of a list, such as
//
//	data.metrics.rmse < 0.3 && "prod" in tags
//
// An expression sees one artifact at a time: its data, tags, level, level
// label, hierarchy, parent and times. A list scan runs one expression over
// up to a million artifacts, so the artifact's data is never decoded: the
// expression reads the members it names straight from the stored JSON.
package filter
