package projection

import (
	"math"
	"sort"
	"time"
)

// createdTimes bounds the creation times along the creation order, block
// by block of timeBlock artifacts, so that a created range is found in
// O(log n) although times may go back a little along the log (writers on
// several instances, or concurrent on one, stamp their events before the
// log orders them): the blocks before the range's first possible match,
// and those from which every artifact matches, bound a short band whose
// artifacts are tested one by one. It costs a quarter of a byte per
// artifact.
type createdTimes struct {
	// maxUpTo[b] is the latest creation time in blocks 0 to b, and
	// minFrom[b] the earliest in blocks b on: both never decrease.
	maxUpTo []int64
	minFrom []int64
}

const timeBlock = 64

// nanos is t in nanoseconds since 1970, held within what an int64 holds
// (UnixNano of a time past 2262 is undefined).
func nanos(t time.Time) int64 {
	switch {
	case t.After(maxNanos):
		return math.MaxInt64
	case t.Before(minNanos):
		return math.MinInt64
	}
	return t.UnixNano()
}

var (
	maxNanos = time.Unix(0, math.MaxInt64)
	minNanos = time.Unix(0, math.MinInt64)
)

// add takes the creation time of the artifact at position i, the next.
func (c *createdTimes) add(i int, t time.Time) {
	ns := nanos(t)
	b := i / timeBlock
	if b == len(c.maxUpTo) {
		prev := ns
		if b > 0 {
			prev = max(prev, c.maxUpTo[b-1])
		}
		c.maxUpTo = append(c.maxUpTo, prev)
		c.minFrom = append(c.minFrom, ns)
	} else {
		c.maxUpTo[b] = max(c.maxUpTo[b], ns)
		c.minFrom[b] = min(c.minFrom[b], ns)
	}
	for j := b - 1; j >= 0 && c.minFrom[j] > ns; j-- {
		c.minFrom[j] = ns
	}
}

// span is where in the creation order of n artifacts the artifacts
// created strictly between after and before can be (a zero time: no
// bound): those in [a, b) and [c, d) must each be tested, every one in
// [b, c) is created in the range, and none outside [a, d) is.
type span struct{ a, b, c, d int }

func (c *createdTimes) span(n int, after, before time.Time) span {
	blocks := len(c.maxUpTo)
	first := func(ok func(b int) bool) int { return min(n, sort.Search(blocks, ok)*timeBlock) }
	sp := span{a: 0, b: 0, c: n, d: n}
	if !after.IsZero() {
		t := nanos(after)
		sp.a = first(func(b int) bool { return c.maxUpTo[b] > t }) // all before are at or before it
		sp.b = first(func(b int) bool { return c.minFrom[b] > t }) // all from here are after it
	}
	if !before.IsZero() {
		t := nanos(before)
		sp.c = first(func(b int) bool { return c.maxUpTo[b] >= t }) // all before are before it
		sp.d = first(func(b int) bool { return c.minFrom[b] >= t }) // none from here is
	}
	if sp.a >= sp.d {
		return span{sp.a, sp.a, sp.a, sp.a} // nothing
	}
	sp.b, sp.c = max(sp.b, sp.a), min(sp.c, sp.d)
	if sp.b >= sp.c { // no run where every artifact is in range: test them all
		sp.b, sp.c = sp.a, sp.a
	}
	return sp
}
