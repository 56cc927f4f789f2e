package events

import (
	"strings"
	"testing"
)

func TestCheckServer(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
	}{
		{"2.15.2", true}, {"2.12.0", true}, {"v2.12.1-RC.2", true}, {"3.0.0", true},
		{"2.11.9", false}, {"2.10.22", false}, {"1.9.0", false}, {"", false}, {"garbage", false},
	} {
		err := checkServer(tc.version)
		if (err == nil) != tc.ok {
			t.Errorf("checkServer(%q) = %v, want ok %v", tc.version, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "2.12 or later") {
			t.Errorf("checkServer(%q) = %q, want it to name the version needed", tc.version, err)
		}
	}
}
