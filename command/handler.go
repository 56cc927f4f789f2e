package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"arbor/events"
	"arbor/hierarchy"
	"arbor/projection"
)

// Create asks for a new artifact. A zero ID lets arbor choose one; a zero
// Parent makes a root, in Hierarchy (empty: the default). A child's
// Hierarchy, if given, must be its parent's.
type Create struct {
	ID        ulid.ULID
	Parent    ulid.ULID
	Hierarchy string
	Tags      []string
	Data      json.RawMessage
	// Attachment, if set, is uploaded content (already in the object
	// store) that becomes the artifact's content.
	Attachment *events.Content
	Key        *Key
}

// Update replaces an artifact's data and tags. ParentSet says the request
// named a parent (Parent, zero for none), which must be the current one.
// IfMatch, when not zero, is the version the client saw.
type Update struct {
	ID        ulid.ULID
	ParentSet bool
	Parent    ulid.ULID
	Tags      []string
	Data      json.RawMessage
	IfMatch   int
	Key       *Key
}

// Delete asks to delete an artifact without live children. IfMatch, when
// not zero, is the version the client saw.
type Delete struct {
	ID      ulid.ULID
	IfMatch int
	Key     *Key
}

// Appender is the part of the log commands write to: *events.Log.
type Appender interface {
	Append(ctx context.Context, w events.Write) (uint64, error)
	LastSeq(ctx context.Context) (uint64, error)
	LastOn(ctx context.Context, subject string) (uint64, error)
}

// Handler carries out commands. Its fields must be set before use; it is
// safe for concurrent use.
type Handler struct {
	Log         Appender
	Projection  *projection.Projection
	Hierarchies hierarchy.Set
	NewID       func() ulid.ULID // ulid.Make
	Now         func() time.Time
	// MaxData is the largest data, in bytes, one event may carry; zero
	// means no limit. Larger data keeps its content in Blobs.
	MaxData int
	Blobs   Blobs
	// MaxAttempts bounds the appends of one command under contention;
	// zero means 100.
	MaxAttempts int
	// Timeout bounds one command's appends and waits; zero means only the
	// caller's context does.
	Timeout time.Duration

	conflicts atomic.Uint64
}

// Conflicts counts the appends the log refused because a precondition
// failed, each retried or answered as a rule that fails.
func (h *Handler) Conflicts() uint64 { return h.conflicts.Load() }

// Create carries out c and returns the new artifact as of its creation
// and the log position of the event. Errors: *ValidationError (an unknown
// or deleted parent too), *ConflictError (the id is taken), ErrTooLarge or
// events.ErrTooLarge, and as for every command: errors wrapping
// events.ErrUnavailable (nothing was written), events.ErrUnknownOutcome
// (the write may have been recorded) and *NotAppliedError (it was).
func (h *Handler) Create(ctx context.Context, c Create) (projection.Artifact, uint64, error) {
	var err error
	if c.Data, c.Tags, err = validateBody(c.Data, c.Tags); err != nil {
		return projection.Artifact{}, 0, err
	}
	content := c.Attachment
	if content != nil {
		c.Data, err = stamp(c.Data, *content)
	} else {
		c.Data, content, err = h.fit(ctx, c.Data)
	}
	if err != nil {
		return projection.Artifact{}, 0, err
	}
	ctx, cancel := h.bound(ctx)
	defer cancel()
	if !c.ID.IsZero() {
		// A client-chosen id is used once, ever: decide it against the
		// whole log as it is now. A creation of the same id that lands
		// meanwhile is within the server's duplicate window, which the
		// command's time limit stays below, and is refused there.
		if err := h.catchUp(ctx, 0); err != nil {
			return projection.Artifact{}, 0, err
		}
	}
	env, pos, d, err := h.run(ctx, c.Key, func(s *projection.State) (decision, error) {
		return decideCreate(s, h.Hierarchies, c, h.idFor(s, c), content)
	})
	if err != nil {
		return projection.Artifact{}, 0, err
	}
	ev := d.event.(events.ArtifactCreated)
	now := h.get(ev.ID)
	if now.CreatedSeq != env.Seq {
		// Another creation of the same id won.
		return projection.Artifact{}, 0, &ConflictError{Reason: fmt.Sprintf("id %s is already used", ev.ID)}
	}
	a := projection.AfterCreate(env, ev)
	a.Key = now.Key
	return a, pos, nil
}

// idFor is the id of the artifact c creates: the client's, or a new one. A
// new child's id carries its root's placement key, so that the id alone
// names its tree's shard; a new root's key is fresh randomness, so that
// roots made in one millisecond spread over the shards.
func (h *Handler) idFor(s *projection.State, c Create) ulid.ULID {
	if !c.ID.IsZero() {
		return c.ID
	}
	key := uint16(rand.Uint32() & (1<<15 - 1))
	if p, ok := s.Get(c.Parent); ok {
		key = p.Key
	}
	return events.WithKey(h.NewID(), key)
}

// Validate checks c as Create would, against the current state, without
// writing: to refuse a bad request before its content is uploaded.
func (h *Handler) Validate(ctx context.Context, c Create) error {
	var err error
	if c.Data, c.Tags, err = validateBody(c.Data, c.Tags); err != nil {
		return err
	}
	return h.check(ctx, func(s *projection.State) error {
		_, err := decideCreate(s, h.Hierarchies, c, h.idFor(s, c), nil)
		return err
	})
}

// check runs rule against the projection, and once more after catching up
// with the whole log if it fails (see run).
func (h *Handler) check(ctx context.Context, rule func(*projection.State) error) error {
	var (
		err error
		at  uint64
	)
	h.Projection.Read(func(s *projection.State) { err, at = rule(s), s.Applied() })
	if err == nil {
		return nil
	}
	if caughtUp, cerr := h.catchUpIfBehind(ctx, at); cerr == nil && caughtUp {
		h.Projection.Read(func(s *projection.State) { err = rule(s) })
	}
	return err
}

// Update carries out u and returns the artifact as of the update and the
// log position of the event. Uploaded content stays the artifact's content
// unless the new data has inline content of its own. Errors: ErrNotFound, *ValidationError,
// *ConflictError (a change of parent), ErrStale, ErrTooLarge, and errors
// wrapping events.ErrUnavailable.
func (h *Handler) Update(ctx context.Context, u Update) (projection.Artifact, uint64, error) {
	var err error
	if u.Data, u.Tags, err = validateBody(u.Data, u.Tags); err != nil {
		return projection.Artifact{}, 0, err
	}
	var moved *events.Content
	if u.Data, moved, err = h.fit(ctx, u.Data); err != nil {
		return projection.Artifact{}, 0, err
	}
	env, pos, d, err := h.run(ctx, u.Key, func(s *projection.State) (decision, error) {
		a, found := s.Get(u.ID)
		return decideUpdate(a, found, h.Hierarchies, u, moved, s.Layout())
	})
	if err != nil {
		return projection.Artifact{}, 0, err
	}
	return d.prev.AfterUpdate(env, d.event.(events.ArtifactUpdated)), pos, nil
}

// Delete carries out d and returns the log position of the event. Errors:
// ErrNotFound, *ConflictError (live children), ErrStale, and errors
// wrapping events.ErrUnavailable.
func (h *Handler) Delete(ctx context.Context, d Delete) (uint64, error) {
	_, pos, _, err := h.run(ctx, d.Key, func(s *projection.State) (decision, error) {
		a, found := s.Get(d.ID)
		return decideDelete(a, found, h.Hierarchies, d, s.Layout())
	})
	if err != nil {
		return 0, err
	}
	if a := h.get(d.ID); a.Live {
		// The fold refused the deletion: a child was created under the
		// artifact on a subject this instance did not expect (instances
		// started with different hierarchies). The artifact is sealed,
		// and its children stand.
		return 0, &ConflictError{Reason: fmt.Sprintf("artifact has children (%d live); delete them first", a.Children)}
	}
	return pos, nil
}

// run decides against the projection and appends, again after every
// conflict once the projection has seen what caused it, then waits until
// the projection has applied the write. It returns the event appended,
// with its position, the position of the write's last message (the event,
// its seals and key record), and the decision it carries out.
//
// With a key, the write records it (see events.KeyRecorded); a key that
// answered a request within projection.KeyTTL is not written again: run
// returns a *ReplayedError for the same request, a *KeyReusedError for
// another.
func (h *Handler) run(ctx context.Context, key *Key, decide func(*projection.State) (decision, error)) (events.Envelope, uint64, decision, error) {
	ctx, cancel := h.bound(ctx)
	defer cancel()
	env := events.Envelope{ID: h.NewID(), Time: h.Now().UTC().Truncate(time.Millisecond)}
	attempts := h.MaxAttempts
	if attempts == 0 {
		attempts = 100
	}
	confirmed := false
	var claim *events.Claim
	for range attempts {
		var (
			d     decision
			at    uint64 // the position decided at
			err   error
			keyed *projection.Keyed
		)
		h.Projection.Read(func(s *projection.State) {
			if key != nil {
				if k, ok := s.Key(key.Key, h.Now()); ok {
					keyed = &k
					return
				}
				if claim == nil {
					claim = &events.Claim{Key: key.Key, Request: key.Request, Subject: s.Layout().KeySubject(key.Key)}
				}
				claim.Last = max(claim.Last, s.KeyPosition(key.Key))
			}
			d, err = decide(s)
			at = s.Applied()
		})
		if keyed != nil {
			if keyed.Request != key.Request {
				return events.Envelope{}, 0, decision{}, &KeyReusedError{Key: key.Key}
			}
			return events.Envelope{}, 0, decision{}, &ReplayedError{Keyed: *keyed}
		}
		if err != nil {
			// A rule that fails against this instance's projection may
			// only fail because the projection is behind (a parent
			// created through another instance a moment ago): confirm it
			// against the whole log once before answering.
			if !confirmed {
				confirmed = true
				if caughtUp, cerr := h.catchUpIfBehind(ctx, at); cerr == nil && caughtUp {
					continue
				}
			}
			return events.Envelope{}, 0, decision{}, err
		}
		env.Event = d.event
		w := d.write
		w.Env = env
		w.Claim = claim
		pos, err := h.Log.Append(ctx, w)
		var conflict *events.ConflictError
		if errors.As(err, &conflict) {
			h.conflicts.Add(1)
			if d.taken != nil && claim == nil {
				return events.Envelope{}, 0, decision{}, d.taken
			}
			if err := h.catchUp(ctx, conflict.Last); err != nil {
				return events.Envelope{}, 0, decision{}, err
			}
			if claim != nil {
				// The key's subject may hold a record the projection does
				// not keep (one older than KeyTTL): expect what is there,
				// once the projection has it too, so that the next
				// decision sees the key if another write recorded it.
				if claim.Last, err = h.Log.LastOn(ctx, claim.Subject); err != nil {
					return events.Envelope{}, 0, decision{}, err
				}
				if claim.Last != 0 {
					if err := h.catchUp(ctx, claim.Last); err != nil {
						return events.Envelope{}, 0, decision{}, err
					}
				}
			}
			continue
		}
		if err != nil {
			return events.Envelope{}, 0, decision{}, err
		}
		if err := h.waitApplied(ctx, pos); err != nil {
			return events.Envelope{}, 0, decision{}, &NotAppliedError{Pos: pos, Err: err}
		}
		env.Seq = pos - uint64(len(w.Seals))
		if claim != nil {
			env.Seq--
		}
		return env, pos, d, nil
	}
	return events.Envelope{}, 0, decision{}, fmt.Errorf("%w: still contended after %d attempts", events.ErrUnavailable, attempts)
}

// waitApplied waits until the projection has applied pos. A write that
// was settled as the command's time ran out still gets a moment to be
// seen, so that it can be answered as written rather than as unknown.
func (h *Handler) waitApplied(ctx context.Context, pos uint64) error {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
	}
	return h.Projection.WaitFor(ctx, pos)
}

// bound limits ctx to the handler's Timeout, if it has one.
func (h *Handler) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if h.Timeout > 0 {
		return context.WithTimeout(ctx, h.Timeout)
	}
	return context.WithCancel(ctx)
}

// catchUpIfBehind waits until the projection has applied the whole log as
// it is now, and reports whether the log had moved past position at.
func (h *Handler) catchUpIfBehind(ctx context.Context, at uint64) (bool, error) {
	last, err := h.Log.LastSeq(ctx)
	if err != nil || last <= at {
		return false, err
	}
	return true, h.catchUp(ctx, last)
}

// catchUp waits until the projection has applied position last, or the
// whole log when last is unknown.
func (h *Handler) catchUp(ctx context.Context, last uint64) error {
	if last == 0 {
		var err error
		if last, err = h.Log.LastSeq(ctx); err != nil {
			return err
		}
	}
	if err := h.Projection.WaitFor(ctx, last); err != nil {
		return fmt.Errorf("%w: waiting for position %d: %v", events.ErrUnavailable, last, err)
	}
	return nil
}

func (h *Handler) get(id ulid.ULID) projection.Artifact {
	var a projection.Artifact
	h.Projection.Read(func(s *projection.State) { a, _ = s.Get(id) })
	return a
}
