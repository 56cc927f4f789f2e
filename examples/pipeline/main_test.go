package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"

	"arbor/hierarchy"
	"arbor/internal/arbortest"
	"arbor/internal/natstest"
	"arbor/projection"
	"arbor/query"
)

var hierarchies = []hierarchy.Hierarchy{
	{Name: "ml_pipeline", Labels: []string{"experiment", "model", "predictions"}},
	{Name: "documents", Labels: []string{"project", "document", "version"}},
}

// startArbor starts a NATS server listening on TCP, as make run does, and
// an arbor core with its NATS service on it.
func startArbor(t *testing.T) (*server.Server, *arbortest.Stack, *query.Service) {
	t.Helper()
	s := natstest.ServerAt(t, t.TempDir(), "127.0.0.1:0")
	st := arbortest.Join(t, s, hierarchies...)
	st.ServeNATS(t, nil)
	return s, st, st.Queries
}

// line is one line of the pipeline's output: what and its id.
type line struct {
	what string
	id   ulid.ULID
}

func parse(t *testing.T, out string) ([]line, string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("output has %d lines, want 5:\n%s", len(lines), out)
	}
	var got []line
	for _, l := range lines[:4] {
		what, id, _ := strings.Cut(l, " ")
		u, err := ulid.ParseStrict(id)
		if err != nil {
			t.Fatalf("line %q: %q is not a ULID", l, id)
		}
		got = append(got, line{what, u})
	}
	return got, lines[4]
}

func TestPipeline(t *testing.T) {
	for _, h := range hierarchies {
		t.Run(h.Name, func(t *testing.T) {
			s, st, q := startArbor(t)
			var out bytes.Buffer
			if err := run(t.Context(), s.ClientURL(), &out, h.Name); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			got, refused := parse(t, out.String())
			whats := []string{"experiment", "model", "prediction", "prediction"}
			parents := []int{-1, 0, 1, 1}
			for i, l := range got {
				if l.what != whats[i] {
					t.Fatalf("line %d says %q, want %q:\n%s", i, l.what, whats[i], out.String())
				}
				n, err := q.Expand(l.id)
				if err != nil {
					t.Fatalf("%s %s: %v", l.what, l.id, err)
				}
				level := min(i, 2)
				var parent ulid.ULID
				if parents[i] >= 0 {
					parent = got[parents[i]].id
				}
				wantParent := ""
				if !parent.IsZero() {
					wantParent = parent.String()
				}
				gotParent := ""
				if a := n.Artifact; !a.Parent.IsZero() {
					gotParent = a.Parent.String()
				}
				if a := n.Artifact; a.Level != level || a.Hierarchy != h.Name || n.LevelLabel != h.Labels[level] || gotParent != wantParent {
					t.Errorf("%s %s = level %d %q of %s under %q, want level %d %q of %s under %q",
						l.what, l.id, a.Level, n.LevelLabel, a.Hierarchy, gotParent, level, h.Labels[level], h.Name, wantParent)
				}
			}
			// The predictions are the model's children, in the order printed.
			var children []ulid.ULID
			st.Projection.Read(func(s *projection.State) {
				s.Children(got[1].id, func(a projection.Artifact) bool {
					children = append(children, a.ID)
					return true
				})
			})
			if len(children) != 2 || children[0] != got[2].id || children[1] != got[3].id {
				t.Errorf("the model's children = %v, want %s, %s", children, got[2].id, got[3].id)
			}
			// The refused delete left the experiment as it was.
			if !strings.HasPrefix(refused, "refused 409 urn:servicekit:error:conflict: ") {
				t.Errorf("last line = %q, want the 409 of the refused delete", refused)
			}
			if a, err := q.Get(got[0].id); err != nil || a.Version != 1 || a.Children != 1 {
				t.Errorf("experiment after the refused delete: %+v, %v, want version 1 with one child", a, err)
			}
		})
	}
}

// Without arbor on the server, run says so.
func TestPipelineWithoutArbor(t *testing.T) {
	s := natstest.ServerAt(t, t.TempDir(), "127.0.0.1:0")
	var out bytes.Buffer
	err := run(t.Context(), s.ClientURL(), &out, "ml_pipeline")
	if err == nil || !strings.Contains(err.Error(), "no arbor answers") {
		t.Fatalf("run = %v, want no arbor answers", err)
	}
	if out.Len() != 0 {
		t.Fatalf("printed %q, want nothing", out.String())
	}
}

// An error reply becomes a *problem with the status and the problem body.
func TestErrorReply(t *testing.T) {
	s, _, _ := startArbor(t)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	unknown := ulid.Make().String()
	err = call(t.Context(), nc, "create", createRequest{ParentID: unknown, Data: map[string]any{}}, nil)
	var p *problem
	if !errors.As(err, &p) || p.Status != 422 || p.Type != "urn:servicekit:error:validation-failed" || p.Title != "Validation Failed" ||
		!strings.Contains(p.Detail, unknown) || len(p.Errors) != 1 || p.Errors[0].Field != "parent_id" || p.Retry() {
		t.Fatalf("create under an unknown parent = %#v, want a 422 problem on parent_id", err)
	}
	err = call(t.Context(), nc, "get", map[string]string{"id": unknown}, nil)
	if !errors.As(err, &p) || p.Status != 404 || !strings.Contains(p.Error(), "404 Not Found") {
		t.Fatalf("get of an unknown id = %v, want a 404 problem", err)
	}
}
