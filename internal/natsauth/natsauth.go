// Package natsauth is who may do what on the NATS server arbor embeds.
//
// arbor's own connection is in-process and may do everything. Everyone
// else signs in with an nkey and gets one of three roles:
//
//   - reader: subscribes to the event subjects, creates and reads its own
//     consumers, reads streams, the KV bucket and the object stores;
//   - writer: a reader that may also send the arbor-api requests;
//   - admin: everything, the log included: the operator's role.
//
// Readers and writers never publish on the stream's subjects, never write
// the KV bucket or an object store, never delete or purge a stream or a
// consumer, and never touch the consumers arbor owns. No one connects
// without a key.
package natsauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Role is what a client signed in with a key may do.
type Role string

// The roles, from least to most.
const (
	Reader Role = "reader"
	Writer Role = "writer"
	Admin  Role = "admin"
)

// Roles lists every role, from least to most.
var Roles = []Role{Reader, Writer, Admin}

// Keys are the public user nkeys allowed to connect, by role.
type Keys map[Role][]string

// Owned names what arbor owns and readers must not touch: its durable
// consumers, whose messages are arbor's to fetch and acknowledge.
type Owned struct {
	Consumers []string
}

// APIPrefix is the first token of the subjects of arbor's NATS API
// requests, which writers may send.
const APIPrefix = "arbor-api"

// EventSubjects are the subjects of the event stream, which readers may
// subscribe to.
const EventSubjects = "arbor.>"

// Permissions are role's rights; nil, everything, for an admin.
func Permissions(role Role, own Owned) *server.Permissions {
	if role == Admin {
		return nil
	}
	pub := []string{
		"$JS.API.INFO",
		"$JS.API.STREAM.INFO.*",
		"$JS.API.STREAM.NAMES",
		"$JS.API.STREAM.LIST",
		"$JS.API.STREAM.MSG.GET.*",
		"$JS.API.DIRECT.GET.>",
		"$JS.API.CONSUMER.CREATE.>",
		"$JS.API.CONSUMER.INFO.*.*",
		"$JS.API.CONSUMER.MSG.NEXT.*.*",
		"$JS.ACK.>", // acknowledging what its consumers deliver
		"$JS.FC.>",  // and answering their flow control
		"$SRV.>",    // discovering arbor's NATS service
	}
	if role == Writer {
		pub = append(pub, APIPrefix+".>")
	}
	// arbor's own consumers: not to be redefined, fetched from or
	// acknowledged by anyone else. Acknowledgement subjects come in two
	// forms, without and with a domain and account hash.
	var deny []string
	for _, c := range own.Consumers {
		deny = append(deny,
			"$JS.API.CONSUMER.CREATE.*."+c, "$JS.API.CONSUMER.CREATE.*."+c+".>",
			"$JS.API.CONSUMER.MSG.NEXT.*."+c,
			"$JS.ACK.*."+c+".>", "$JS.ACK.*.*.*."+c+".>",
		)
	}
	return &server.Permissions{
		Publish: &server.SubjectPermission{Allow: pub, Deny: deny},
		// Replies come to inboxes. Not arbor-api.>: a reader must not
		// answer writers' requests in arbor's place.
		Subscribe: &server.SubjectPermission{Allow: []string{EventSubjects, "_INBOX.>"}},
	}
}

// Users are the server's users for keys, plus arbor's own key with every
// right.
func Users(keys Keys, own string, owned Owned) []*server.NkeyUser {
	users := []*server.NkeyUser{{Nkey: own}}
	for _, role := range Roles {
		for _, k := range keys[role] {
			users = append(users, &server.NkeyUser{Nkey: k, Permissions: Permissions(role, owned)})
		}
	}
	return users
}

// SeedFile is where EnsureSeeds keeps role's seed in dir.
func SeedFile(dir string, role Role) string { return filepath.Join(dir, string(role)+".nk") }

// EnsureSeeds returns the public keys of the seeds in dir, one file per
// role, creating dir (mode 0700) and any seed missing (mode 0600). created
// reports whether it wrote any.
func EnsureSeeds(dir string) (keys Keys, created bool, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	keys = Keys{}
	for _, role := range Roles {
		path := SeedFile(dir, role)
		seed, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			if seed, err = newSeed(path); err == nil {
				created = true
			}
		}
		if err != nil {
			return nil, false, err
		}
		pub, err := publicKey(seed)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		keys[role] = []string{pub}
	}
	return keys, created, nil
}

// newSeed writes a new user seed to path, which must not exist.
func newSeed(path string) ([]byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(append(seed, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return seed, nil
}

func publicKey(seed []byte) (string, error) {
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(seed))))
	if err != nil {
		return "", fmt.Errorf("not a user nkey seed: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return "", err
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return "", errors.New("not a user nkey seed")
	}
	return pub, nil
}

// LoadKeys reads a file of public user nkeys by role, as JSON:
//
//	{"reader": ["UA..."], "writer": ["UB..."], "admin": ["UC..."]}
//
// Every role is optional; an unknown role, a key that is not a public user
// nkey or a key under two roles is an error.
func LoadKeys(path string) (Keys, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var keys Keys
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]Role{}
	for role, list := range keys {
		if !slices.Contains(Roles, role) {
			return nil, fmt.Errorf("%s: unknown role %q: want reader, writer or admin", path, role)
		}
		for _, k := range list {
			if !nkeys.IsValidPublicUserKey(k) {
				return nil, fmt.Errorf("%s: %s key %q is not a public user nkey (U...)", path, role, k)
			}
			if other, ok := seen[k]; ok {
				return nil, fmt.Errorf("%s: key %s is both %s and %s", path, k, other, role)
			}
			seen[k] = role
		}
	}
	return keys, nil
}
