package events

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/oklog/ulid/v2"
)

// Address is where an event goes in the subject space: everything a
// subscriber may want to select on without decoding the payload.
type Address struct {
	Hierarchy string
	Label     string // the artifact's level label
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidToken reports whether s can stand as one token of a subject: a
// hierarchy name or a level label. It returns an error saying why not.
func ValidToken(s string) error {
	if !tokenRE.MatchString(s) {
		return fmt.Errorf("%q must be 1 to 64 letters, digits, '-' or '_'", s)
	}
	return nil
}

// Subject returns the subject of ev at addr under prefix.
func Subject(prefix string, addr Address, ev Event) string {
	return fmt.Sprintf("%s.%s.%s.%s.%s.%s", prefix, addr.Hierarchy, Boundary(ev),
		ev.ArtifactID(), addr.Label, Kind(ev))
}

// BoundaryFilter is the subject filter covering the consistency boundary of
// artifact id: id's own events and the creations of its children. Every
// write into the boundary carries a precondition on exactly this filter.
// It names no hierarchy, so that the boundary is the artifact's alone even
// if two writers race to create the same id in two hierarchies.
func BoundaryFilter(prefix string, id ulid.ULID) string {
	return fmt.Sprintf("%s.*.%s.>", prefix, id)
}

// BoundaryOfSubject returns the boundary an event's subject names, whatever
// the event's type: readers that cannot decode an event still know where
// the server counted it.
func BoundaryOfSubject(subject string) (ulid.ULID, bool) {
	tokens := strings.Split(subject, ".")
	if len(tokens) != 6 {
		return ulid.ULID{}, false
	}
	id, err := ulid.ParseStrict(tokens[2])
	return id, err == nil
}
