package hierarchy

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Hierarchy
		ok   bool
	}{
		{"ml_pipeline=experiment,model,predictions", Hierarchy{"ml_pipeline", []string{"experiment", "model", "predictions"}}, true},
		{" documents = project , document ", Hierarchy{"documents", []string{"project", "document"}}, true},
		{"free", Hierarchy{Name: "free"}, true},
		{"free=", Hierarchy{Name: "free"}, true},
		{"ml=a.b", Hierarchy{}, false},
		{"ml=a,a", Hierarchy{}, false},
		{"ml=a,,b", Hierarchy{}, false},
		{"m*l=a", Hierarchy{}, false},
		{"=a", Hierarchy{}, false},
	} {
		got, err := Parse(c.in)
		if (err == nil) != c.ok || (c.ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestLabelsAndDepth(t *testing.T) {
	ml := Hierarchy{"ml", []string{"experiment", "model"}}
	free := Hierarchy{Name: "free"}
	for _, c := range []struct {
		h     Hierarchy
		level int
		label string
		ok    bool
	}{
		{ml, 0, "experiment", true}, {ml, 1, "model", true}, {ml, 2, "level_2", false},
		{free, 0, "level_0", true}, {free, 40, "level_40", true},
	} {
		if got := c.h.Label(c.level); got != c.label {
			t.Errorf("%s.Label(%d) = %q, want %q", c.h.Name, c.level, got, c.label)
		}
		if got := c.h.Allows(c.level); got != c.ok {
			t.Errorf("%s.Allows(%d) = %v, want %v", c.h.Name, c.level, got, c.ok)
		}
	}
}

func TestSet(t *testing.T) {
	s, err := NewSet()
	if err != nil || s.Default().Name != "default" || len(s.Default().Labels) != 0 {
		t.Fatalf("NewSet() = %+v, %v; want one unlabelled hierarchy called default", s, err)
	}
	ml := Hierarchy{"ml", []string{"experiment"}}
	s, err = NewSet(ml, Hierarchy{Name: "docs"})
	if err != nil || s.Default().Name != "ml" {
		t.Fatalf("NewSet(ml, docs) default = %+v, %v; want ml", s.Default(), err)
	}
	if got := s.Label("ml", 0); got != "experiment" {
		t.Errorf(`Label("ml", 0) = %q`, got)
	}
	if got := s.Label("gone", 3); got != "level_3" {
		t.Errorf(`Label of an unknown hierarchy = %q, want level_3`, got)
	}
	if _, ok := s.Get("docs"); !ok {
		t.Error(`Get("docs") found nothing`)
	}
	if _, err := NewSet(ml, ml); err == nil {
		t.Error("NewSet with a name twice succeeded")
	}
	if _, err := NewSet(Hierarchy{Name: "a b"}); err == nil {
		t.Error("NewSet with a name that is no subject token succeeded")
	}
}
