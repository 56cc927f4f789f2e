package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"arbor/internal/natsauth"
)

// seedOption signs a NATS connection in with the nkey seed in file.
func seedOption(t *testing.T, file string) nats.Option {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(file)
	if err != nil {
		t.Fatalf("seed %q: %v", file, err)
	}
	return opt
}

// roleConn is a client of the embedded server signed in with one role,
// with the permission violations the server reports to it.
type roleConn struct {
	nc         *nats.Conn
	js         jetstream.JetStream
	violations chan string
}

func connectAs(t *testing.T, url string, opts ...nats.Option) (*roleConn, error) {
	t.Helper()
	rc := &roleConn{violations: make(chan string, 64)}
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if strings.Contains(err.Error(), "Permissions Violation") {
			select {
			case rc.violations <- err.Error():
			default:
			}
		}
	}))
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(nc.Close)
	rc.nc = nc
	rc.js, _ = jetstream.New(nc)
	return rc, nil
}

// try runs op and reports whether the server allowed it: refused when the
// server reports a permission violation that concerns it, or op fails.
// Ordered consumers delete their consumers when done, which is an admin's
// right: those refusals are the clients' housekeeping, not op's.
func (rc *roleConn) try(op func(ctx context.Context) error) (allowed bool, why string) {
	concerns := func(v string) bool {
		return !strings.Contains(v, "CONSUMER.DELETE") || strings.Contains(v, "ARTIFACTS_STATE_writer")
	}
	before := rc.nc.LastError()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- op(ctx) }()
	var err error
	for waiting := true; waiting; {
		select {
		case v := <-rc.violations:
			if concerns(v) {
				cancel()
				<-done
				return false, v
			}
		case err = <-done:
			waiting = false
		}
	}
	if err != nil {
		return false, err.Error()
	}
	// A refused publish or subscription is reported asynchronously; the
	// connection has recorded it once a round trip is over.
	if err := rc.nc.FlushTimeout(5 * time.Second); err != nil {
		return false, err.Error()
	}
	if last := rc.nc.LastError(); last != nil && last != before && concerns(last.Error()) {
		return false, last.Error()
	}
	for {
		select {
		case v := <-rc.violations:
			if concerns(v) {
				return false, v
			}
		default:
			return true, ""
		}
	}
}

// TestNATSRoles runs every NATS operation of the roles' table as each
// role: anonymous clients cannot connect, readers read, writers also send
// arbor-api requests, and only arbor itself and admins change what arbor
// stores. A refused publish leaves the stream as it was.
func TestNATSRoles(t *testing.T) {
	cfg := testMainConfig(t.TempDir())
	cfg.NATSListen = freePort(t)
	in := openTestMain(t, cfg)
	in.c.waitHealthy(10 * time.Second)
	url := in.m.NATSURL()

	if _, err := nats.Connect(url); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Fatalf("anonymous connect: err = %v, want an authorization violation", err)
	}

	var root testDoc
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"name": "root"}}, &root)
	var file testDoc
	in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"parent_id": root.ID, "data": map[string]any{"name": "model"}}, &file)
	in.c.must(http.StatusOK, http.MethodPut, testAPI+"/"+file.ID+"/$content", []byte("model bytes"), nil)
	waitKV(t, in, file.ID)
	digest := blobDigest(t, in, file.ID)

	lastSeq := func() uint64 {
		seq, err := in.m.Log().LastSeq(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}

	type op struct {
		name   string
		writes bool // changes what arbor stores: the stream must not move when refused
		run    func(ctx context.Context, rc *roleConn) error
	}
	ops := []op{
		{name: "subscribe to the event subjects", run: func(ctx context.Context, rc *roleConn) error {
			sub, err := rc.nc.SubscribeSync("arbor.>")
			if err != nil {
				return err
			}
			defer sub.Unsubscribe()
			if err := rc.nc.Flush(); err != nil {
				return err
			}
			in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"name": "seen"}}, nil)
			_, err = sub.NextMsgWithContext(ctx)
			return err
		}},
		{name: "read the log with a consumer of its own", run: func(ctx context.Context, rc *roleConn) error {
			c, err := rc.js.OrderedConsumer(ctx, "ARTIFACTS", jetstream.OrderedConsumerConfig{})
			if err != nil {
				return err
			}
			_, err = c.Next(jetstream.FetchMaxWait(5 * time.Second))
			return err
		}},
		{name: "read the KV bucket", run: func(ctx context.Context, rc *roleConn) error {
			kv, err := rc.js.KeyValue(ctx, "ARTIFACTS_STATE")
			if err != nil {
				return err
			}
			_, err = kv.Get(ctx, file.ID)
			return err
		}},
		{name: "read the object store", run: func(ctx context.Context, rc *roleConn) error {
			obs, err := rc.js.ObjectStore(ctx, "ARTIFACTS_CONTENT")
			if err != nil {
				return err
			}
			b, err := obs.GetBytes(ctx, "sha256/"+digest)
			if err == nil && string(b) != "model bytes" {
				err = errors.New("other bytes")
			}
			return err
		}},
		{name: "send an arbor-api request", writes: true, run: func(ctx context.Context, rc *roleConn) error {
			msg, err := rc.nc.RequestWithContext(ctx, "arbor-api.create", []byte(`{"data": {"name": "over nats"}}`))
			if err != nil {
				return err
			}
			if code := msg.Header.Get("Nats-Service-Error-Code"); code != "" {
				return errors.New("answered " + code)
			}
			return nil
		}},
		{name: "answer arbor-api requests", run: func(ctx context.Context, rc *roleConn) error {
			sub, err := rc.nc.QueueSubscribeSync("arbor-api.>", "arbor")
			if err != nil {
				return err
			}
			defer sub.Unsubscribe()
			if err := rc.nc.Flush(); err != nil {
				return err
			}
			// A refused subscription reports its refusal to its reader.
			if _, err := sub.NextMsg(0); err != nil && !errors.Is(err, nats.ErrTimeout) {
				return err
			}
			return nil
		}},
		{name: "publish on the stream's subjects", writes: true, run: func(ctx context.Context, rc *roleConn) error {
			_, err := rc.js.Publish(ctx, "arbor.00.ml_pipeline.art."+root.ID, []byte(`{}`))
			return err
		}},
		{name: "write the KV bucket", writes: true, run: func(ctx context.Context, rc *roleConn) error {
			kv, err := rc.js.KeyValue(ctx, "ARTIFACTS_STATE")
			if err != nil {
				return err
			}
			_, err = kv.Put(ctx, file.ID, []byte(`{"forged": true}`))
			return err
		}},
		{name: "write the object store", writes: true, run: func(ctx context.Context, rc *roleConn) error {
			obs, err := rc.js.ObjectStore(ctx, "ARTIFACTS_CONTENT")
			if err != nil {
				return err
			}
			_, err = obs.PutBytes(ctx, "sha256/"+digest, []byte("other bytes"))
			return err
		}},
		{name: "fetch from arbor's KV writer consumer", run: func(ctx context.Context, rc *roleConn) error {
			c, err := rc.js.Consumer(ctx, "ARTIFACTS", "ARTIFACTS_STATE_writer")
			if err != nil {
				return err
			}
			batch, err := c.Fetch(1, jetstream.FetchMaxWait(time.Second), jetstream.FetchPriorityGroup("writer"))
			if err != nil {
				return err
			}
			for range batch.Messages() {
			}
			return batch.Error()
		}},
		{name: "delete arbor's KV writer consumer", run: func(ctx context.Context, rc *roleConn) error {
			return rc.js.DeleteConsumer(ctx, "ARTIFACTS", "ARTIFACTS_STATE_writer")
		}},
		{name: "purge the stream", run: func(ctx context.Context, rc *roleConn) error {
			s, err := rc.js.Stream(ctx, "ARTIFACTS")
			if err != nil {
				return err
			}
			return s.Purge(ctx, jetstream.WithPurgeSubject("arbor.none"))
		}},
		{name: "delete the stream", run: func(ctx context.Context, rc *roleConn) error {
			return rc.js.DeleteStream(ctx, "ARTIFACTS")
		}},
	}
	allowed := map[natsauth.Role]map[string]bool{
		natsauth.Reader: {
			"subscribe to the event subjects": true, "read the log with a consumer of its own": true,
			"read the KV bucket": true, "read the object store": true,
		},
		natsauth.Writer: {
			"subscribe to the event subjects": true, "read the log with a consumer of its own": true,
			"read the KV bucket": true, "read the object store": true, "send an arbor-api request": true,
		},
	}
	for _, role := range []natsauth.Role{natsauth.Reader, natsauth.Writer} {
		t.Run(string(role), func(t *testing.T) {
			rc, err := connectAs(t, url, seedOption(t, in.m.CredentialFile(role)))
			if err != nil {
				t.Fatalf("connect as %s: %v", role, err)
			}
			for _, o := range ops {
				before := lastSeq()
				ok, why := rc.try(func(ctx context.Context) error { return o.run(ctx, rc) })
				if want := allowed[role][o.name]; ok != want {
					t.Errorf("%s: %s: allowed %v, want %v (%s)", role, o.name, ok, want, why)
				}
				if !ok && o.writes {
					if after := lastSeq(); after != before {
						t.Errorf("%s: refused %s moved the stream from %d to %d", role, o.name, before, after)
					}
				}
			}
		})
	}
	// Nothing a reader or writer tried changed what arbor serves.
	var got testDoc
	in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+file.ID, nil, &got)
	if !strings.Contains(string(got.Data), `"model"`) {
		t.Fatalf("artifact data %s after the roles' tries", got.Data)
	}
	r := in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+file.ID+"/$download", nil, nil)
	if string(r.body) != "model bytes" {
		t.Fatalf("download %q after the roles' tries", r.body)
	}

	// An admin may do everything, the log included: a forged event goes in,
	// and the fold ignores it.
	admin, err := connectAs(t, url, seedOption(t, in.m.CredentialFile(natsauth.Admin)))
	if err != nil {
		t.Fatalf("connect as admin: %v", err)
	}
	before := lastSeq()
	if ok, why := admin.try(func(ctx context.Context) error {
		_, err := admin.js.Publish(ctx, "arbor.00.ml_pipeline.art."+root.ID, []byte(`{}`))
		return err
	}); !ok || lastSeq() != before+1 {
		t.Fatalf("admin publish on the stream: allowed %v (%s), stream %d -> %d", ok, why, before, lastSeq())
	}
}

// waitKV waits until the KV view holds id.
func waitKV(t *testing.T, in *testInstance, id string) {
	t.Helper()
	js, _ := jetstream.New(in.m.Conn())
	kv, err := js.KeyValue(t.Context(), "ARTIFACTS_STATE")
	if err != nil {
		t.Fatal(err)
	}
	if !pollUntil(t.Context(), 20*time.Second, func() bool {
		_, err := kv.Get(t.Context(), id)
		return err == nil
	}) {
		t.Fatalf("%s never reached the KV bucket", id)
	}
}

// blobDigest is the digest of id's uploaded content, from its metadata.
func blobDigest(t *testing.T, in *testInstance, id string) string {
	t.Helper()
	var doc struct {
		Data struct {
			SHA256 string `json:"content_sha256"`
		} `json:"data"`
	}
	r := in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+id, nil, nil)
	if err := json.NewDecoder(bytes.NewReader(r.body)).Decode(&doc); err != nil || doc.Data.SHA256 == "" {
		t.Fatalf("no content_sha256 in %s (%v)", r.body, err)
	}
	return doc.Data.SHA256
}
