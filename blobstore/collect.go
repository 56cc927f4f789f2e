package blobstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Collect deletes what no one needs from the store: content whose digest
// keep does not want, and uploads never finished, each only once it is
// older than grace. It returns how many objects it deleted.
//
// keep is asked once the store's objects are listed, so a caller that
// answers from the artifacts of the whole log as of then, or later, keeps
// every object an artifact needs: content put for a write still in
// flight is younger than grace, as long as grace is longer than a write
// may take. Content that an upload finds already stored is touched (see
// keepOne), which makes it young again. Each deletion expects the
// object's information as listed, so a touch between the listing and the
// deletion saves it; several instances may collect at once.
func (s *Store) Collect(ctx context.Context, grace time.Duration, keep func(ctx context.Context) (func(sha string) bool, error)) (int, error) {
	cutoff := time.Now().Add(-grace)
	objects, err := s.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list content: %w", err)
	}
	wanted, err := keep(ctx)
	if err != nil {
		return 0, err
	}
	deleted := 0
	for _, info := range objects {
		if !info.ModTime.Before(cutoff) {
			continue
		}
		if sha, ok := strings.CutPrefix(info.Name, "sha256/"); ok && wanted(sha) {
			continue
		}
		switch gone, err := s.deleteIfOld(ctx, info.Name, cutoff); {
		case err != nil:
			return deleted, err
		case gone:
			deleted++
		}
	}
	return deleted, nil
}

// deleteIfOld deletes the object called name if it has not changed since
// cutoff, as the object store deletes: a marker in place of its
// information, then its chunks purged. The marker expects the information
// it replaces to be the last on its subject, so that an object touched in
// between stays.
func (s *Store) deleteIfOld(ctx context.Context, name string, cutoff time.Time) (bool, error) {
	info, seq, err := s.lastInfo(ctx, name)
	if err != nil || info == nil || info.Deleted || !info.ModTime.Before(cutoff) || info.NUID == "" {
		return false, err
	}
	info.Deleted = true
	info.Size, info.Chunks, info.Digest = 0, 0, ""
	switch err := s.republish(ctx, name, info, seq); {
	case errors.Is(err, errMoved):
		return false, nil // touched since: needed again
	case err != nil:
		return false, fmt.Errorf("collect %s: %w", name, err)
	}
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject("$O."+s.bucket+".C."+info.NUID)); err != nil {
		return true, fmt.Errorf("collect %s: purge its chunks: %w", name, err)
	}
	return true, nil
}

// touch makes the object called name, which must hold ref's content, new
// again: the same information published anew. It reports false when there
// is no such object (never stored, or collected), and ErrCorrupt when the
// object holds other content.
func (s *Store) touch(ctx context.Context, name string, ref Ref) (bool, error) {
	for range 5 {
		info, seq, err := s.lastInfo(ctx, name)
		switch {
		case err != nil:
			return false, err
		case info == nil || info.Deleted:
			return false, nil
		case recorded(info) != ref:
			return false, fmt.Errorf("%w: %s holds content of digest %q", ErrCorrupt, ref.SHA256, recorded(info).SHA256)
		}
		err = s.republish(ctx, name, info, seq)
		if !errors.Is(err, errMoved) {
			return err == nil, err
		}
	}
	return false, fmt.Errorf("touch %s: changed under every try", name)
}

// errMoved means an object's information changed since it was read.
var errMoved = errors.New("blobstore: object information changed")

// metaSubject is the subject of the information of the object called name.
func (s *Store) metaSubject(name string) string {
	return "$O." + s.bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
}

// lastInfo is the information of the object called name and its position
// in the stream; nil when there is none.
func (s *Store) lastInfo(ctx context.Context, name string) (*jetstream.ObjectInfo, uint64, error) {
	msg, err := s.stream.GetLastMsgForSubject(ctx, s.metaSubject(name))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var info jetstream.ObjectInfo
	if err := json.Unmarshal(msg.Data, &info); err != nil {
		return nil, 0, fmt.Errorf("information of %s: %w", name, err)
	}
	info.ModTime = msg.Time
	return &info, msg.Sequence, nil
}

// republish publishes info as the information of the object called name,
// as the object store does, if the last one is still at position seq;
// errMoved otherwise.
func (s *Store) republish(ctx context.Context, name string, info *jetstream.ObjectInfo, seq uint64) error {
	info.ModTime = time.Time{} // the message's own time stands for it
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(s.metaSubject(name))
	msg.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	msg.Data = data
	_, err = s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(seq))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		return errMoved
	}
	return err
}
