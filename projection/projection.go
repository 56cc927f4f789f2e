package projection

import (
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
	changed chan struct{} // closed and replaced whenever applied moves
	ready   bool
}

// New returns a projection of an empty log, not ready until MarkReady.
func New() *Projection {
	return &Projection{state: NewState(), changed: make(chan struct{})}
}

// Apply folds env in and wakes everyone waiting for its position.
func (p *Projection) Apply(env events.Envelope) {
	p.mu.Lock()
	p.state.Apply(env)
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
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
	for {
		p.mu.RLock()
		applied, changed := p.state.applied, p.changed
		p.mu.RUnlock()
		if applied >= pos {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// MarkReady records that the projection has caught up with the log as it
// was at start-up.
func (p *Projection) MarkReady() {
	p.mu.Lock()
	p.ready = true
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// Ready reports whether the projection has caught up at start-up. Until
// then its answers may be stale.
func (p *Projection) Ready() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.ready
}

// WaitReady blocks until Ready or ctx is done (returning its error).
func (p *Projection) WaitReady(ctx context.Context) error {
	for {
		p.mu.RLock()
		ready, changed := p.ready, p.changed
		p.mu.RUnlock()
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}
