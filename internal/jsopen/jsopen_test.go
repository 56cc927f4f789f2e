package jsopen_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"arbor/internal/jsopen"
	"arbor/internal/natstest"
)

// calls counts what GetOrCreate asked for, and lets a test act between
// the first get and the create.
type calls struct {
	gets, creates int
	// afterFirstGet, if set, runs once the first get has answered and
	// before GetOrCreate sees its answer.
	afterFirstGet func()
	// getCtx and createCtx, if set, replace the context of the get and
	// create requests (a cancelled one makes them fail).
	getCtx, createCtx context.Context
}

// kind is one sort of JetStream asset GetOrCreate opens in arbor.
type kind struct {
	name string
	// open opens the asset called name on js with jsopen.GetOrCreate, get
	// and create being the real calls (create making it with description
	// desc), and returns the description the opened asset's handle reports.
	open func(ctx context.Context, js jetstream.JetStream, name, desc string, c *calls) (string, error)
	// make creates the asset directly, as another process would.
	make func(ctx context.Context, js jetstream.JetStream, name, desc string) error
	// stored is the description of the asset as the server has it now, or
	// the not-found error.
	stored func(ctx context.Context, js jetstream.JetStream, name string) (string, error)
	// notFound is what get returns for a missing asset.
	notFound error
}

func newKind[T any](
	name string, notFound error,
	get func(ctx context.Context, js jetstream.JetStream, name string) (T, error),
	create func(ctx context.Context, js jetstream.JetStream, name, desc string) (T, error),
	describe func(ctx context.Context, v T) (string, error),
) kind {
	return kind{
		name:     name,
		notFound: notFound,
		open: func(ctx context.Context, js jetstream.JetStream, name, desc string, c *calls) (string, error) {
			v, err := jsopen.GetOrCreate(
				func() (T, error) {
					c.gets++
					gctx := ctx
					if c.getCtx != nil {
						gctx = c.getCtx
					}
					v, err := get(gctx, js, name)
					if c.gets == 1 && c.afterFirstGet != nil {
						c.afterFirstGet()
					}
					return v, err
				},
				func() (T, error) {
					c.creates++
					cctx := ctx
					if c.createCtx != nil {
						cctx = c.createCtx
					}
					return create(cctx, js, name, desc)
				},
				notFound)
			if err != nil {
				return "", err
			}
			return describe(ctx, v)
		},
		make: func(ctx context.Context, js jetstream.JetStream, name, desc string) error {
			_, err := create(ctx, js, name, desc)
			return err
		},
		stored: func(ctx context.Context, js jetstream.JetStream, name string) (string, error) {
			v, err := get(ctx, js, name)
			if err != nil {
				return "", err
			}
			return describe(ctx, v)
		},
	}
}

// kinds are the assets arbor opens with GetOrCreate, each created as
// arbor creates it and told apart by its description.
var kinds = []kind{
	newKind("stream", jetstream.ErrStreamNotFound,
		func(ctx context.Context, js jetstream.JetStream, name string) (jetstream.Stream, error) {
			return js.Stream(ctx, name)
		},
		func(ctx context.Context, js jetstream.JetStream, name, desc string) (jetstream.Stream, error) {
			return js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Description: desc, Subjects: []string{name + ".>"}})
		},
		func(_ context.Context, s jetstream.Stream) (string, error) {
			return s.CachedInfo().Config.Description, nil
		}),
	newKind("key-value bucket", jetstream.ErrBucketNotFound,
		func(ctx context.Context, js jetstream.JetStream, name string) (jetstream.KeyValue, error) {
			return js.KeyValue(ctx, name)
		},
		func(ctx context.Context, js jetstream.JetStream, name, desc string) (jetstream.KeyValue, error) {
			return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Description: desc, History: 1})
		},
		func(ctx context.Context, kv jetstream.KeyValue) (string, error) {
			st, err := kv.Status(ctx)
			if err != nil {
				return "", err
			}
			return st.Config().Description, nil
		}),
	newKind("object store", jetstream.ErrBucketNotFound,
		func(ctx context.Context, js jetstream.JetStream, name string) (jetstream.ObjectStore, error) {
			return js.ObjectStore(ctx, name)
		},
		func(ctx context.Context, js jetstream.JetStream, name, desc string) (jetstream.ObjectStore, error) {
			return js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: name, Description: desc})
		},
		func(ctx context.Context, obs jetstream.ObjectStore) (string, error) {
			st, err := obs.Status(ctx)
			if err != nil {
				return "", err
			}
			return st.Description(), nil
		}),
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestGetOrCreate(t *testing.T) {
	tests := []struct {
		name string
		// before prepares the server and the calls; other is another
		// process's connection to the server.
		before func(t *testing.T, k kind, other jetstream.JetStream, name string, c *calls)
		// What GetOrCreate, asked to create the asset with description
		// "ours", returns: the description of the asset, or an error.
		want    string
		wantErr error
		// The calls it made, and the asset's description on the server
		// afterwards ("": none exists).
		gets, creates int
		stored        string
	}{
		{
			name: "exists: returned as it is, not created or updated",
			before: func(t *testing.T, k kind, other jetstream.JetStream, name string, _ *calls) {
				if err := k.make(t.Context(), other, name, "theirs"); err != nil {
					t.Fatal(err)
				}
			},
			want: "theirs", gets: 1, creates: 0, stored: "theirs",
		},
		{
			name: "missing: created",
			want: "ours", gets: 1, creates: 1, stored: "ours",
		},
		{
			name: "another process creates it between get and create: theirs returned",
			before: func(t *testing.T, k kind, other jetstream.JetStream, name string, c *calls) {
				c.afterFirstGet = func() {
					if err := k.make(t.Context(), other, name, "theirs"); err != nil {
						t.Errorf("the other process's create: %v", err)
					}
				}
			},
			want: "theirs", gets: 2, creates: 1, stored: "theirs",
		},
		{
			name: "get fails otherwise: its error, nothing created",
			before: func(_ *testing.T, _ kind, _ jetstream.JetStream, _ string, c *calls) {
				c.getCtx = cancelled()
			},
			wantErr: context.Canceled, gets: 1, creates: 0, stored: "",
		},
		{
			name: "create fails and nobody created it: create's error",
			before: func(_ *testing.T, _ kind, _ jetstream.JetStream, _ string, c *calls) {
				c.createCtx = cancelled()
			},
			wantErr: context.Canceled, gets: 2, creates: 1, stored: "",
		},
	}
	for _, k := range kinds {
		for i, tt := range tests {
			t.Run(k.name+"/"+tt.name, func(t *testing.T) {
				s := natstest.Server(t)
				_, js := natstest.Connect(t, s)
				_, other := natstest.Connect(t, s)
				name := fmt.Sprintf("ASSET%d", i)
				var c calls
				if tt.before != nil {
					tt.before(t, k, other, name, &c)
				}
				got, err := k.open(t.Context(), js, name, "ours", &c)
				switch {
				case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
					t.Fatalf("GetOrCreate = %q, %v; want an error wrapping %v", got, err, tt.wantErr)
				case tt.wantErr == nil && err != nil:
					t.Fatalf("GetOrCreate: %v", err)
				case tt.wantErr == nil && got != tt.want:
					t.Fatalf("GetOrCreate returned the asset described %q, want %q", got, tt.want)
				}
				if c.gets != tt.gets || c.creates != tt.creates {
					t.Errorf("GetOrCreate called get %d and create %d times, want %d and %d", c.gets, c.creates, tt.gets, tt.creates)
				}
				stored, err := k.stored(t.Context(), js, name)
				switch {
				case tt.stored == "" && !errors.Is(err, k.notFound):
					t.Errorf("afterwards the server has %q, %v; want %v", stored, err, k.notFound)
				case tt.stored != "" && (err != nil || stored != tt.stored):
					t.Errorf("afterwards the server has %q, %v; want %q", stored, err, tt.stored)
				}
			})
		}
	}
}

// TestGetOrCreateRace has two processes (two connections) open the same
// missing asset at once, each wanting it with its own configuration. Both
// get it and both find it missing before either creates it, so one create
// fails; both must end with the one asset the server has, without an error.
func TestGetOrCreateRace(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			s := natstest.Server(t)
			const name = "RACED"
			descs := []string{"first", "second"}
			var (
				bothGot sync.WaitGroup // both first gets have answered
				wg      sync.WaitGroup
				got     = make([]string, len(descs))
				errs    = make([]error, len(descs))
				cs      = make([]calls, len(descs))
			)
			bothGot.Add(len(descs))
			for i, desc := range descs {
				_, js := natstest.Connect(t, s)
				cs[i].afterFirstGet = func() {
					bothGot.Done()
					bothGot.Wait()
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i], errs[i] = k.open(t.Context(), js, name, desc, &cs[i])
				}()
			}
			wg.Wait()

			_, js := natstest.Connect(t, s)
			stored, err := k.stored(t.Context(), js, name)
			if err != nil {
				t.Fatalf("after the race: %v", err)
			}
			if stored != descs[0] && stored != descs[1] {
				t.Fatalf("the server has an asset described %q, want one of %q", stored, descs)
			}
			for i := range descs {
				if errs[i] != nil {
					t.Errorf("GetOrCreate %d (wanting %q): %v", i, descs[i], errs[i])
				} else if got[i] != stored {
					t.Errorf("GetOrCreate %d (wanting %q) returned the asset described %q, want the server's %q", i, descs[i], got[i], stored)
				}
				if cs[i].creates != 1 {
					t.Errorf("GetOrCreate %d called create %d times, want 1: both found the asset missing", i, cs[i].creates)
				}
			}
		})
	}
}
