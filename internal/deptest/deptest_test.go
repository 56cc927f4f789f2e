package deptest

import (
	"os/exec"
	"strings"
	"testing"
)

// imports returns the packages pkg imports directly.
func imports(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// The core never speaks HTTP, and the log knows nothing of the rest but
// internal helpers.
func TestDependenciesPointInward(t *testing.T) {
	for _, pkg := range []string{"arbor/events", "arbor/command", "arbor/projection", "arbor/query",
		"arbor/content", "arbor/blobstore", "arbor/hierarchy"} {
		for _, imp := range imports(t, pkg) {
			if imp == "net/http" || strings.Contains(imp, "httprouter") || imp == "arbor/httpapi" || imp == "arbor/natsapi" {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
	for _, imp := range imports(t, "arbor/events") {
		if strings.HasPrefix(imp, "arbor/") && !strings.HasPrefix(imp, "arbor/internal/") {
			t.Errorf("arbor/events imports %s: it must import no other package of arbor but internal helpers", imp)
		}
	}
}

// Transports know the shared api package, never each other; and the read
// model and the core never import a transport's shared package either.
func TestTransportsDoNotImportEachOther(t *testing.T) {
	for pkg, banned := range map[string][]string{
		"arbor/httpapi":    {"arbor/natsapi", "arbor/kvview"},
		"arbor/natsapi":    {"arbor/httpapi", "arbor/kvview"},
		"arbor/kvview":     {"arbor/httpapi", "arbor/natsapi"},
		"arbor/api":        {"arbor/httpapi", "arbor/natsapi", "arbor/kvview", "net/http/httptest"},
		"arbor/projection": {"arbor/api", "arbor/kvview", "github.com/nats-io/nats.go/jetstream"},
		"arbor/query":      {"arbor/api"},
		"arbor/command":    {"arbor/api", "arbor/query"},
	} {
		for _, imp := range imports(t, pkg) {
			for _, b := range banned {
				if imp == b {
					t.Errorf("%s imports %s", pkg, imp)
				}
			}
		}
	}
}
