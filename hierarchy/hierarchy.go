package hierarchy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"arbor/events"
)

// Hierarchy is a name and the labels of its levels, from level 0. A
// hierarchy with labels is strict: nothing may be deeper than its last
// label. One without labels allows any depth.
type Hierarchy struct {
	Name   string
	Labels []string
}

// Label is the label of level n: its configured label, or "level_<n>".
func (h Hierarchy) Label(n int) string {
	if n < len(h.Labels) {
		return h.Labels[n]
	}
	return "level_" + strconv.Itoa(n)
}

// Allows reports whether level n may exist in h.
func (h Hierarchy) Allows(n int) bool { return len(h.Labels) == 0 || n < len(h.Labels) }

// Parse reads "name=label0,label1,..." (or a bare "name" for a hierarchy
// without labels) and checks names and labels are valid subject tokens.
func Parse(s string) (Hierarchy, error) {
	name, labels, _ := strings.Cut(s, "=")
	h := Hierarchy{Name: strings.TrimSpace(name)}
	if err := events.ValidToken(h.Name); err != nil {
		return Hierarchy{}, fmt.Errorf("hierarchy name: %w", err)
	}
	if strings.TrimSpace(labels) != "" {
		for l := range strings.SplitSeq(labels, ",") {
			l = strings.TrimSpace(l)
			if err := events.ValidToken(l); err != nil {
				return Hierarchy{}, fmt.Errorf("hierarchy %s: label: %w", h.Name, err)
			}
			if slices.Contains(h.Labels, l) {
				return Hierarchy{}, fmt.Errorf("hierarchy %s: label %q twice", h.Name, l)
			}
			h.Labels = append(h.Labels, l)
		}
	}
	return h, nil
}

// Set is the hierarchies of a running arbor; the first is the default.
type Set struct{ list []Hierarchy }

// NewSet returns a set of hs, or one hierarchy "default" without labels if
// hs is empty. Names must be unique.
func NewSet(hs ...Hierarchy) (Set, error) {
	if len(hs) == 0 {
		hs = []Hierarchy{{Name: "default"}}
	}
	for i, h := range hs {
		if err := events.ValidToken(h.Name); err != nil {
			return Set{}, fmt.Errorf("hierarchy name: %w", err)
		}
		for _, l := range h.Labels {
			if err := events.ValidToken(l); err != nil {
				return Set{}, fmt.Errorf("hierarchy %s: label: %w", h.Name, err)
			}
		}
		if slices.ContainsFunc(hs[:i], func(o Hierarchy) bool { return o.Name == h.Name }) {
			return Set{}, errors.New("hierarchy " + h.Name + " given twice")
		}
	}
	return Set{list: slices.Clone(hs)}, nil
}

// Default is the hierarchy of a root that names none.
func (s Set) Default() Hierarchy { return s.list[0] }

// Get returns the hierarchy called name.
func (s Set) Get(name string) (Hierarchy, bool) {
	i := slices.IndexFunc(s.list, func(h Hierarchy) bool { return h.Name == name })
	if i < 0 {
		return Hierarchy{}, false
	}
	return s.list[i], true
}

// Label is the label of level n in the hierarchy called name. Artifacts of
// a hierarchy arbor is no longer started with get "level_<n>".
func (s Set) Label(name string, n int) string {
	h, _ := s.Get(name)
	return h.Label(n)
}

// All returns the hierarchies, the default first.
func (s Set) All() []Hierarchy { return slices.Clone(s.list) }
