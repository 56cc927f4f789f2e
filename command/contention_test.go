package command_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/command"
	"arbor/events"
	"arbor/internal/arbortest"
)

// counting forwards every append to the log it wraps and counts the
// appends and the conflicts the log reported.
type counting struct {
	command.Appender
	appends, conflicts atomic.Int64
}

func (c *counting) Append(ctx context.Context, w events.Write) (uint64, error) {
	c.appends.Add(1)
	seq, err := c.Appender.Append(ctx, w)
	if errors.Is(err, events.ErrConflict) {
		c.conflicts.Add(1)
	}
	return seq, err
}

// Creations under one parent do not contend: each checks the parent's
// seal, which none of them writes. With 16 writers on one handler and a
// single server, every creation succeeds at its first append.
func TestCreatesUnderOneParentDoNotConflict(t *testing.T) {
	const (
		writers = 16
		each    = 25
	)
	for _, tc := range []struct {
		name     string
		clientID bool
	}{{"minted ids", false}, {"client ids", true}} {
		t.Run(tc.name, func(t *testing.T) {
			st := arbortest.New(t, mlPipeline)
			p := mustCreate(t, st, command.Create{})
			log := &counting{Appender: st.Handler.Log}
			h := withLog(st.Handler, log)
			before := lastSeq(t, st)
			start := make(chan struct{})
			errs := make([]error, writers*each)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					<-start
					for i := range each {
						c := command.Create{Parent: p.ID, Data: obj(`{}`)}
						if tc.clientID {
							c.ID = ulid.Make()
						}
						_, _, errs[w*each+i] = h.Create(t.Context(), c)
					}
				})
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("create %d: %v", i, err)
				}
			}
			t.Logf("%d creates by %d writers under one parent: %d appends, %d conflicts",
				writers*each, writers, log.appends.Load(), log.conflicts.Load())
			if n := log.conflicts.Load(); n != 0 {
				t.Errorf("the log reported %d conflicts, want 0", n)
			}
			if n := log.appends.Load(); n != writers*each {
				t.Errorf("%d appends, want one per creation, %d", n, writers*each)
			}
			if last := lastSeq(t, st); last-before != writers*each {
				t.Errorf("%d messages written, want %d", last-before, writers*each)
			}
			if a, _ := get(st, p.ID); a.Children != writers*each || a.KidsSeq != lastSeq(t, st) {
				t.Errorf("parent Children, KidsSeq = %d, %d, want %d, %d", a.Children, a.KidsSeq, writers*each, lastSeq(t, st))
			}
		})
	}
}
