package command_test

import (
	"errors"
	"testing"

	"arbor/command"
	"arbor/internal/arbortest"
)

// A write through one instance right after another instance's write it
// depends on succeeds: a rule that fails against a projection that is
// behind is confirmed against the whole log before it is an error.
func TestWritesOnAnotherInstanceSeeTheLog(t *testing.T) {
	a := arbortest.New(t, mlPipeline)
	b := arbortest.Join(t, a.Server, mlPipeline)
	for i := range 50 {
		parent := mustCreate(t, a, command.Create{Data: obj(`{}`)})
		child, _, err := b.Handler.Create(t.Context(), command.Create{Parent: parent.ID, Data: obj(`{}`)})
		if err != nil {
			t.Fatalf("round %d: child through the other instance: %v", i, err)
		}
		if _, _, err := b.Handler.Update(t.Context(), command.Update{ID: parent.ID, Data: obj(`{"v":2}`), IfMatch: 1}); err != nil {
			t.Fatalf("round %d: update through the other instance: %v", i, err)
		}
		if _, err := a.Handler.Delete(t.Context(), command.Delete{ID: child.ID}); err != nil {
			t.Fatalf("round %d: delete through the first instance: %v", i, err)
		}
	}
	// A rule that really fails still fails, after the check.
	parent := mustCreate(t, a, command.Create{Data: obj(`{}`)})
	if _, err := b.Handler.Delete(t.Context(), command.Delete{ID: parent.ID, IfMatch: 2}); !errors.Is(err, command.ErrStale) {
		t.Fatalf("stale delete = %v, want ErrStale", err)
	}
}
