package projection

import (
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"

	"arbor/events"
)

// The tests in this file hold the fold to "exactly arbor's subject": each
// is a message a forger, an operator's mistake or an old bug could put in
// the log, that once moved the state it must not.

// rL is a root id with letters in it (and rA's placement key), whose
// lower-case spelling is another NATS subject token.
var rL = events.WithKey(ulid.MustParse("01ARZ3NDEKTSV4RRFFQ69G5FAV"), keyA)

// An artifact.sealed event on a root subject (any id, known or not) is
// ignored: it must not stop the fold, which the Runner replays at every
// start.
func TestFoldSealOnARootSubject(t *testing.T) {
	for _, x := range []ulid.ULID{rA, rB} {
		s := foldMsgs(testLayout, []msg{createA})
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("Apply of artifact.sealed on %s panicked: %v", rootSubj(aHome, x), r)
				}
			}()
			s.Apply(events.Envelope{Seq: 2, Time: at(2), Subject: rootSubj(aHome, x), Event: sealed(x)})
		}()
		if a, _ := s.Get(rA); a.Sealed || s.Ignored() != 1 {
			t.Errorf("after a seal on a root subject: rA Sealed %v, Ignored %d; want false and 1", a.Sealed, s.Ignored())
		}
	}
}

// NATS subjects are case-sensitive, ULID parsing is not: a message on
// art.<id in lower case> is on another subject than arbor's art.<ID>. Taken
// for the artifact's own, it would move OwnSeq to a position the real
// subject never had, and every later write would expect the wrong one.
func TestFoldIDCase(t *testing.T) {
	lower := "arbor." + testLayout.ShardToken(testLayout.Shard(keyA)) + ".default."
	runLayoutCases(t, []layoutCase{{
		name: "subjects with an id in lower case are not arbor's",
		msgs: []msg{
			{rootSubj(aHome, rL), created(rL, none, 0, `{}`)},
			{lower + "art." + strings.ToLower(rL.String()), updated(rL, `{"v":2}`)},
			{lower + "kids." + strings.ToLower(rL.String()) + ".level_1", created(cA, rL, 1, `{}`)},
			{lower + "seal0." + strings.ToLower(rL.String()), sealed(rL)},
		},
		want:     map[ulid.ULID]seen{rL: {Live: true, Version: 1, Key: keyA, Data: `{}`}},
		absent:   []ulid.ULID{cA},
		page:     []ulid.ULID{rL},
		counts:   map[string][]int{"default": {1}},
		ignored:  3,
		children: map[ulid.ULID][]ulid.ULID{rL: {}},
	}})

	t.Run("through the log", func(t *testing.T) {
		w := newWriter(t)
		w.append(created(rL, none, 0, `{}`))
		w.publish(lower+"art."+strings.ToLower(rL.String()), updated(rL, `{"v":2}`))
		if _, err := w.try(updated(rL, `{"v":3}`)); err != nil {
			t.Fatalf("update decided on the fold after a message on a lower-case subject: %v, want it written", err)
		}
	})
}

// A message on kids.P before P's creation is remembered like those on art.P
// and seal<i>.P: P starts with the kids subject where the server has it, or
// its deletion (a batch expecting kids.P at KidsSeq) would fail every time.
func TestFoldStrayKids(t *testing.T) {
	runLayoutCases(t, []layoutCase{{
		name: "a creation on kids.P before P's",
		msgs: []msg{
			{kidsSubj(aHome, rA, "level_1"), created(cA, rA, 1, `{}`)},
			createA,
		},
		want:     map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`, Subjects: kids(1)}},
		absent:   []ulid.ULID{cA},
		children: map[ulid.ULID][]ulid.ULID{rA: {}},
		page:     []ulid.ULID{rA},
		counts:   map[string][]int{"default": {1}},
		ignored:  1,
	}})

	t.Run("through the log", func(t *testing.T) {
		w := newWriter(t)
		w.publish(w.log.Layout().Kids(aHome, rA, "level_1"), created(cA, rA, 1, `{}`))
		w.append(created(rA, none, 0, `{}`))
		if _, err := w.try(deleted(rA)); err != nil {
			t.Fatalf("deletion of %s decided on the fold: %v, want it written", rA, err)
		}
	})
}

// A subject's prefix must be the layout's: events on
// other.<ss>.<h>.root.<R>.<label> or other.<ss>.<h>.art.<X> are not arbor's
// (a stream may hold more subjects than <prefix>.>).
func TestFoldPrefix(t *testing.T) {
	other := func(subject string) string { return "other" + strings.TrimPrefix(subject, "arbor") }
	runLayoutCases(t, []layoutCase{{
		name: "another prefix",
		msgs: []msg{
			{other(rootSubj(bHome, rB)), created(rB, none, 0, `{}`)},
			createA,
			{other(artSubj(aHome, rA)), updated(rA, `{"v":2}`)},
		},
		want:    map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`}},
		absent:  []ulid.ULID{rB},
		page:    []ulid.ULID{rA},
		counts:  map[string][]int{"default": {1}},
		ignored: 2,
	}})
}

// The first layout's fold ignored an event whose subject named another
// artifact than its body (arbor.<h>.<boundary>.<artifact>.<label>.<kind>,
// the artifact token), and still does.
func TestFoldLegacyArtifactToken(t *testing.T) {
	runLayoutCases(t, []layoutCase{{
		name: "the artifact token names another artifact",
		msgs: []msg{
			{legacySubj(rA, rA, "level_0", "created"), created(rA, none, 0, `{}`)},
			{legacySubj(rA, rB, "level_1", "created"), created(cA, rA, 1, `{}`)},
			{legacySubj(rA, rB, "level_0", "updated"), updated(rA, `{"v":2}`)},
		},
		want:     map[ulid.ULID]seen{rA: {Live: true, Version: 1, Key: keyA, Data: `{}`}},
		absent:   []ulid.ULID{cA},
		children: map[ulid.ULID][]ulid.ULID{rA: {}},
		page:     []ulid.ULID{rA},
		counts:   map[string][]int{"default": {1}},
		ignored:  2,
	}})
}
