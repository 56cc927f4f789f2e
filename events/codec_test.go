package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"
)

var (
	parentID = ulid.MustParse("01JD0000000000000000000001")
	childID  = ulid.MustParse("01JD0000000000000000000002")
)

// golden lists every released event shape with the value it decodes to.
var golden = []struct {
	file string
	want Event
}{
	{"artifact.created.v1.json", ArtifactCreated{
		ID: childID, Parent: parentID, Hierarchy: "ml_pipeline", Level: 1, Tags: []string{"exp-1"},
		Data: json.RawMessage(`{"model":"LinearRegression","metrics":{"rmse":0.25}}`),
	}},
	{"artifact.updated.v1.json", ArtifactUpdated{
		ID: childID, Tags: []string{},
		Data: json.RawMessage(`{"model":"LinearRegression","metrics":{"rmse":0.2}}`),
	}},
	{"artifact.deleted.v1.json", ArtifactDeleted{ID: childID}},
	{"artifact.sealed.v1.json", ArtifactSealed{ID: childID}},
	{"artifact.updated.v1.content.json", ArtifactUpdated{
		ID: childID, Tags: []string{"exp-1"},
		Data:    json.RawMessage(`{"type":"ml_training","content_type":"application/zip","content_size":5,"content_sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"}`),
		Content: &Content{SHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", Size: 5, Type: "application/zip"},
	}},
	{"artifact.created.v1.movedjson.json", ArtifactCreated{
		ID: childID, Hierarchy: "ml_pipeline", Tags: []string{},
		Data:    json.RawMessage(`{"content_type":"application/vnd.chapkit.dataframe+json","content":null}`),
		Content: &Content{SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Size: 28, Type: "application/vnd.chapkit.dataframe+json", JSON: true, Offset: 67},
	}},
}

// goldenName splits "<type>.v<schema>[.<variant>].json".
func goldenName(file string) (typ, schema string) {
	typ, rest, _ := strings.Cut(strings.TrimSuffix(file, ".json"), ".v")
	schema, _, _ = strings.Cut(rest, ".")
	return typ, schema
}

func headersFor(typ, schema string) nats.Header {
	h := nats.Header{}
	h.Set(HeaderType, typ)
	h.Set(HeaderSchemaVersion, schema)
	h.Set(HeaderID, "01JD00000000000000000000EV")
	h.Set(HeaderTime, "2026-11-27T12:00:00.123Z")
	return h
}

func TestGoldenFilesDecode(t *testing.T) {
	for _, g := range golden {
		t.Run(g.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", g.file))
			if err != nil {
				t.Fatal(err)
			}
			typ, schema := goldenName(g.file)
			env, err := Decode(headersFor(typ, schema), body)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(env.Event, g.want) {
				t.Fatalf("Decode = %#v, want %#v", env.Event, g.want)
			}
			if want := time.Date(2026, 11, 27, 12, 0, 0, 123e6, time.UTC); !env.Time.Equal(want) {
				t.Fatalf("Time = %v, want %v", env.Time, want)
			}
		})
	}
}

// The current encoder must still write what the newest golden files hold,
// or a new schema version (and golden file) is due.
func TestEncodeMatchesGolden(t *testing.T) {
	for _, g := range golden {
		h, body, err := Encode(Envelope{ID: ulid.Make(), Time: time.Now(), Event: g.want}, "arbor")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join("testdata", g.file))
		if !bytes.Equal(body, bytes.TrimSpace(want)) {
			t.Errorf("%s: Encode = %s, want %s", g.file, body, want)
		}
		if typ, schema := goldenName(g.file); h.Get(HeaderType) != typ || h.Get(HeaderSchemaVersion) != schema {
			t.Errorf("%s: headers say %s v%s", g.file, h.Get(HeaderType), h.Get(HeaderSchemaVersion))
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	env := Envelope{
		ID:    ulid.Make(),
		Time:  time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC),
		Event: ArtifactCreated{ID: childID, Hierarchy: "default", Tags: []string{}, Data: json.RawMessage(`{}`)},
	}
	h, body, err := Encode(env, "arbor")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		nats.MsgIdHdr: "created." + childID.String(), HeaderID: env.ID.String(), HeaderSpecVersion: "1.0",
		HeaderSource: "arbor", HeaderSubject: childID.String(), HeaderType: "artifact.created",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	got, err := Decode(h, body)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, env) {
		t.Fatalf("round trip = %#v, want %#v", got, env)
	}
	if strings.Contains(string(body), "parent_id") {
		t.Errorf("a root's creation carries parent_id: %s", body)
	}
}

func TestDecodeRejects(t *testing.T) {
	valid := []byte(`{"id":"01JD0000000000000000000002"}`)
	for name, c := range map[string]struct {
		h    nats.Header
		body []byte
		want error
	}{
		"unknown type":   {headersFor("artifact.renamed", "1"), valid, ErrUnknownType},
		"future schema":  {headersFor("artifact.deleted", "9"), valid, ErrUnknownType},
		"null":           {headersFor("artifact.deleted", "1"), []byte(`null`), nil},
		"empty object":   {headersFor("artifact.deleted", "1"), []byte(`{}`), nil},
		"array":          {headersFor("artifact.deleted", "1"), []byte(`[]`), nil},
		"bad id":         {headersFor("artifact.deleted", "1"), []byte(`{"id":"nope"}`), nil},
		"truncated json": {headersFor("artifact.deleted", "1"), []byte(`{"id":`), nil},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(c.h, c.body)
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("Decode = %v, want %v", err, c.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, g := range golden {
		body, err := os.ReadFile(filepath.Join("testdata", g.file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(g.want.EventType(), body)
	}
	for _, s := range []string{`null`, `{}`, `[]`, `""`} {
		f.Add("artifact.created", []byte(s))
	}
	f.Fuzz(func(t *testing.T, typ string, body []byte) {
		env, err := Decode(headersFor(typ, "1"), body)
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode to the same event.
		h, b, err := Encode(env, "arbor")
		if err != nil {
			t.Fatalf("Encode after Decode: %v", err)
		}
		again, err := Decode(h, b)
		if err != nil {
			t.Fatalf("Decode after Encode: %v", err)
		}
		if again.Event.EventType() != env.Event.EventType() || again.Event.ArtifactID() != env.Event.ArtifactID() {
			t.Fatalf("round trip changed the event: %#v -> %#v", env.Event, again.Event)
		}
	})
}
