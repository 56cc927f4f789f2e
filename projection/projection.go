package projection

import (
	"container/heap"
	"context"
	"sync"

	"arbor/events"
)

// Projection guards a State for one writer (the Runner) and many readers,
// and lets readers wait for a position. The zero value is not usable; call
// New.
type Projection struct {
	mu      sync.RWMutex
	state   *State
	waiters waitHeap      // by position; woken as Apply passes them
	ready   chan struct{} // closed by MarkReady
	once    sync.Once
}

// New returns a projection of an empty log, not ready until MarkReady.
func New(layout events.Layout) *Projection {
	return &Projection{state: NewState(layout), ready: make(chan struct{})}
}

// Apply folds env in and wakes those waiting for its position. Only the
// waiters whose position is reached are woken, so many concurrent writers
// cost nothing per event.
func (p *Projection) Apply(env events.Envelope) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state.Apply(env)
	for len(p.waiters) > 0 && p.waiters[0].pos <= env.Seq {
		close(heap.Pop(&p.waiters).(waiter).done)
	}
}

// Read calls fn with the state under a read lock: everything fn reads is as
// of one position. fn must not keep the state or block.
func (p *Projection) Read(fn func(*State)) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	fn(p.state)
}

// Applied is the position of the last event applied.
func (p *Projection) Applied() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.state.applied
}

// WaitFor blocks until the event at position pos has been applied, or ctx
// is done (returning its error).
func (p *Projection) WaitFor(ctx context.Context, pos uint64) error {
	p.mu.Lock()
	if p.state.applied >= pos {
		p.mu.Unlock()
		return nil
	}
	w := waiter{pos: pos, done: make(chan struct{})}
	heap.Push(&p.waiters, w)
	p.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.state.applied >= pos {
			return nil
		}
		for i := range p.waiters {
			if p.waiters[i].done == w.done {
				heap.Remove(&p.waiters, i)
				break
			}
		}
		return ctx.Err()
	}
}

// MarkReady records that the projection has caught up with the log as it
// was at start-up.
func (p *Projection) MarkReady() { p.once.Do(func() { close(p.ready) }) }

// Ready reports whether the projection has caught up at start-up. Until
// then its answers may be stale.
func (p *Projection) Ready() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

// WaitReady blocks until Ready or ctx is done (returning its error).
func (p *Projection) WaitReady(ctx context.Context) error {
	if p.Ready() {
		return nil
	}
	select {
	case <-p.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type waiter struct {
	pos  uint64
	done chan struct{}
}

// waitHeap is a min-heap of waiters by position.
type waitHeap []waiter

func (h waitHeap) Len() int           { return len(h) }
func (h waitHeap) Less(i, j int) bool { return h[i].pos < h[j].pos }
func (h waitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waitHeap) Push(x any)        { *h = append(*h, x.(waiter)) }
func (h *waitHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	*h = old[:len(old)-1]
	return w
}
