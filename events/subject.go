package events

import (
	"fmt"
	"regexp"
	"slices"
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

// Parts are the tokens of an event's subject.
type Parts struct {
	Hierarchy string
	Boundary  ulid.ULID
	Artifact  ulid.ULID
	Label     string
	Kind      string
}

// ParseSubject reads the parts of an event's subject, whatever its prefix
// and event type: readers that cannot decode an event still know where the
// server counted it.
func ParseSubject(subject string) (Parts, bool) {
	tokens := strings.Split(subject, ".")
	if len(tokens) != 6 {
		return Parts{}, false
	}
	boundary, err := ulid.ParseStrict(tokens[2])
	if err != nil {
		return Parts{}, false
	}
	artifact, err := ulid.ParseStrict(tokens[3])
	if err != nil {
		return Parts{}, false
	}
	return Parts{Hierarchy: tokens[1], Boundary: boundary, Artifact: artifact, Label: tokens[4], Kind: tokens[5]}, true
}

// Kinds are the last tokens of the event types arbor writes.
func Kinds() []string { return []string{"created", "updated", "deleted"} }

// Filter selects events by what their subjects say; an empty field matches
// anything.
type Filter struct {
	Hierarchy string
	Label     string
	Kind      string // created, updated or deleted
	Artifact  ulid.ULID
}

// Validate checks every field can stand in a subject. It names the field
// at fault (as the live feed's query parameters name it) with the error.
func (f Filter) Validate() (field string, err error) {
	for _, t := range []struct{ field, value string }{{"hierarchy", f.Hierarchy}, {"level_label", f.Label}} {
		if t.value != "" {
			if err := ValidToken(t.value); err != nil {
				return t.field, err
			}
		}
	}
	if f.Kind != "" && !slices.Contains(Kinds(), f.Kind) {
		return "type", fmt.Errorf("%q is not one of %s", f.Kind, strings.Join(Kinds(), ", "))
	}
	return "", nil
}

// Subject is the subject filter selecting f's events under prefix.
func (f Filter) Subject(prefix string) string {
	or := func(s string) string {
		if s == "" {
			return "*"
		}
		return s
	}
	artifact := "*"
	if !f.Artifact.IsZero() {
		artifact = f.Artifact.String()
	}
	return strings.Join([]string{prefix, or(f.Hierarchy), "*", artifact, or(f.Label), or(f.Kind)}, ".")
}
