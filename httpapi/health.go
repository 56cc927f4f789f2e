package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"arbor/projection"
)

type checkResult struct {
	State   string `json:"state"`
	Message string `json:"message,omitempty"`
}

type healthReport struct {
	Status string `json:"status"`
	// Version is arbor's version, stamped at build time.
	Version string                 `json:"version,omitempty"`
	Checks  map[string]checkResult `json:"checks"`
	// Position is the log position the projection has applied.
	Position uint64 `json:"position"`
	// IgnoredEvents counts the events up to Position that the projection
	// left out: events that break a rule, carry a payload arbor never
	// writes, or are not on the subject arbor writes them to. Every
	// instance of one log reports the same number at the same position.
	IgnoredEvents int `json:"ignored_events"`
	// Snapshot is the position of the newest snapshot of the projection
	// saved or loaded; absent when snapshots are off.
	Snapshot *uint64 `json:"snapshot_position,omitempty"`
}

// health runs every check: 200 when healthy or degraded, 503 when a
// critical check fails.
func (s *Server) health(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var rep healthReport
	s.Projection.Read(func(st *projection.State) {
		// Both as of one position.
		rep = healthReport{Status: "healthy", Version: s.Version, Checks: map[string]checkResult{},
			Position: st.Applied(), IgnoredEvents: st.Ignored()}
	})
	if s.SnapshotPosition != nil {
		if pos, on := s.SnapshotPosition(); on {
			rep.Snapshot = &pos
		}
	}
	for _, c := range s.Checks {
		if err := c.Run(ctx); err != nil {
			rep.Checks[c.Name] = checkResult{State: "unhealthy", Message: err.Error()}
			if c.Critical {
				rep.Status = "unhealthy"
			} else if rep.Status == "healthy" {
				rep.Status = "degraded"
			}
			continue
		}
		rep.Checks[c.Name] = checkResult{State: "healthy"}
	}
	status := http.StatusOK
	if rep.Status == "unhealthy" {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	return writeJSON(w, status, rep)
}
