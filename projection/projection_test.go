package projection

import (
	"context"
	"errors"
	"testing"
	"time"

	"arbor/events"
)

// applyAt applies the creation of root id(seq) at seq, on its root subject.
func applyAt(p *Projection, seq uint64) {
	ev := created(id(seq), none, 0, `{}`)
	subject := testLayout.Root(events.Place{Key: events.Key(ev.ID), Hierarchy: ev.Hierarchy}, ev.ID, "level_0")
	p.Apply(events.Envelope{Seq: seq, Time: at(seq), Subject: subject, Event: ev})
}

func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

func TestWaitFor(t *testing.T) {
	p := New(testLayout)
	// A position already applied returns at once, even on a done context.
	if err := p.WaitFor(cancelled(t), 0); err != nil {
		t.Fatalf("WaitFor(0) = %v, want nil", err)
	}
	applyAt(p, 1)
	applyAt(p, 2)
	if err := p.WaitFor(cancelled(t), 2); err != nil {
		t.Fatalf("WaitFor(2) at 2 = %v, want nil", err)
	}
	if err := p.WaitFor(cancelled(t), 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor(3) at 2 on a cancelled context = %v, want context.Canceled", err)
	}

	// A waiter returns once its position is applied, and not before.
	// Positions need not be contiguous: 5 satisfies a wait for 4.
	type result struct {
		err     error
		applied uint64
	}
	done := make(chan result, 1)
	go func() {
		err := p.WaitFor(t.Context(), 4)
		done <- result{err, p.Applied()}
	}()
	applyAt(p, 3)
	applyAt(p, 5)
	select {
	case r := <-done:
		if r.err != nil || r.applied < 4 {
			t.Fatalf("WaitFor(4) = %v at %d, want nil at 4 or later", r.err, r.applied)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitFor(4) still waiting after 5 was applied")
	}

	// Cancelling the context ends a wait.
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- p.WaitFor(ctx, 100) }()
	applyAt(p, 6)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("WaitFor(100) after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitFor(100) still waiting after its context was cancelled")
	}
	if got := p.Applied(); got != 6 {
		t.Fatalf("Applied = %d, want 6", got)
	}
}

func TestWaitReady(t *testing.T) {
	p := New(testLayout)
	if p.Ready() {
		t.Fatal("Ready of a new projection = true, want false")
	}
	if err := p.WaitReady(cancelled(t)); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReady before MarkReady = %v, want context.Canceled", err)
	}
	// Applying events does not make it ready.
	applyAt(p, 1)
	if err := p.WaitReady(cancelled(t)); !errors.Is(err, context.Canceled) || p.Ready() {
		t.Fatalf("WaitReady after an Apply = %v (Ready %v), want context.Canceled", err, p.Ready())
	}

	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- p.WaitReady(ctx) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitReady after cancel = %v, want context.Canceled", err)
	}

	done := make(chan bool, 1)
	go func() {
		err := p.WaitReady(t.Context())
		done <- err == nil && p.Ready()
	}()
	p.MarkReady()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("WaitReady returned an error or before Ready")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WaitReady still waiting after MarkReady")
	}
	if err := p.WaitReady(t.Context()); err != nil {
		t.Fatalf("WaitReady once ready = %v, want nil", err)
	}
}

// Many waiters at once: each returns when its own position is applied, not
// when an earlier one is. Positions are applied one at a time, the next
// only once the waiter of the last has returned, so a waiter woken early
// sees a position below its own.
func TestWaitForManyWaiters(t *testing.T) {
	p := New(testLayout)
	const n = 200
	seen := make([]chan uint64, n+1)
	for pos := 1; pos <= n; pos++ {
		seen[pos] = make(chan uint64, 1)
		go func() {
			if err := p.WaitFor(t.Context(), uint64(pos)); err != nil {
				seen[pos] <- 0
				return
			}
			seen[pos] <- p.Applied()
		}()
	}
	for pos := 1; pos <= n; pos++ {
		applyAt(p, uint64(pos))
		select {
		case got := <-seen[pos]:
			if got < uint64(pos) {
				t.Fatalf("WaitFor(%d) returned at position %d", pos, got)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("WaitFor(%d) still waiting after %d was applied", pos, pos)
		}
	}
}

// Readers under Read see the state as of one position while the writer
// applies; run with -race.
func TestReadWhileApplying(t *testing.T) {
	p := New(testLayout)
	const n = 200
	go func() {
		for seq := uint64(1); seq <= n; seq++ {
			applyAt(p, seq)
		}
	}()
	for {
		var total int
		var applied uint64
		p.Read(func(s *State) { total, applied = s.Total(), s.Applied() })
		if uint64(total) != applied {
			t.Fatalf("Read saw Total %d at position %d, want equal", total, applied)
		}
		if applied == n {
			return
		}
		if err := p.WaitFor(t.Context(), applied+1); err != nil {
			t.Fatal(err)
		}
	}
}
