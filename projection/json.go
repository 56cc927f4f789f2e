package projection

import (
	"encoding/json"
	"time"
)

// TimeFormat is how arbor writes times: RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Doc is an artifact as clients see it, over HTTP and in the KV bucket.
type Doc struct {
	ID        string          `json:"id"`
	ParentID  *string         `json:"parent_id"`
	Level     int             `json:"level"`
	Hierarchy string          `json:"hierarchy"`
	Tags      []string        `json:"tags"`
	Data      json.RawMessage `json:"data"`
	Version   int             `json:"version"`
	CreatedAt string          `json:"created_at"`
	UpdatedAt string          `json:"updated_at"`
}

// Doc returns the artifact as clients see it. With full false, data omits
// its top-level content, as lists and trees do.
func (a Artifact) Doc(full bool) Doc {
	d := Doc{
		ID: a.ID.String(), Level: a.Level, Hierarchy: a.Hierarchy, Tags: a.Tags, Data: a.ListData,
		Version: a.Version, CreatedAt: formatTime(a.CreatedAt), UpdatedAt: formatTime(a.UpdatedAt),
	}
	if full {
		d.Data = a.Data
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	if d.Data == nil {
		d.Data = json.RawMessage(`{}`)
	}
	if !a.Parent.IsZero() {
		p := a.Parent.String()
		d.ParentID = &p
	}
	return d
}

func formatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }
