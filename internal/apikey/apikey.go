package apikey

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Prefix starts every key arbor generates, so that a key found in a log or
// a repository is recognisable as arbor's.
const Prefix = "arb_"

// Scope is what a key allows. The zero Scope allows nothing and is no
// valid scope of a key.
type Scope uint8

// The scopes, each allowing what the ones before it allow.
const (
	Read  Scope = iota + 1 // read artifacts, trees, content and the live feed
	Write                  // create, update, delete and upload, and read
	Admin                  // everything write allows, and what later needs more
)

var scopeNames = [...]string{Read: "read", Write: "write", Admin: "admin"}

// ParseScope returns the scope named s: read, write or admin.
func ParseScope(s string) (Scope, error) {
	for sc, name := range scopeNames {
		if name != "" && name == s {
			return Scope(sc), nil
		}
	}
	return 0, fmt.Errorf("unknown scope %q (want read, write or admin)", s)
}

// String returns the scope's name, as in the keys file.
func (s Scope) String() string {
	if s.valid() {
		return scopeNames[s]
	}
	return fmt.Sprintf("Scope(%d)", uint8(s))
}

func (s Scope) valid() bool { return s >= Read && s <= Admin }

// Allows reports whether a key of scope s may do what needs scope need.
func (s Scope) Allows(need Scope) bool { return s.valid() && s >= need }

// Key is what arbor knows of a key: its name and scope, never the key.
type Key struct {
	Name  string
	Scope Scope
}

// Generate returns a new key: Prefix and 32 random bytes in unpadded
// base64url.
func Generate() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails: it crashes the program instead
	return Prefix + base64.RawURLEncoding.EncodeToString(b)
}

// Hash returns the hex SHA-256 of key, as the keys file stores it.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// CheckName returns an error unless name is a valid key name: 1 to 64
// letters, digits, '-', '_' or '.'.
func CheckName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("name %q must be 1 to 64 characters", name)
	}
	if strings.ContainsFunc(name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
	}) {
		return fmt.Errorf("name %q may hold only letters, digits, '-', '_' and '.'", name)
	}
	return nil
}

// Set is the keys of one keys file. It is immutable and safe for
// concurrent use. A nil or empty Set knows no key.
type Set struct {
	byHash map[[sha256.Size]byte]Key
	keys   []Key // in the file's order
}

// Lookup returns the key whose hash is key's. The lookup is by hash: the
// time it takes depends on the SHA-256 of what was presented, which tells
// nothing about the stored keys, so no constant-time comparison is needed.
func (s *Set) Lookup(key string) (Key, bool) {
	if s == nil || key == "" {
		return Key{}, false
	}
	k, ok := s.byHash[sha256.Sum256([]byte(key))]
	return k, ok
}

// Keys returns the keys in the order of the file.
func (s *Set) Keys() []Key {
	if s == nil {
		return nil
	}
	return append([]Key(nil), s.keys...)
}

// Len returns how many keys s holds.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Load reads the keys file at path. It returns an error naming the file
// and the line of the first entry that is malformed, has an unknown scope,
// or repeats a name or a key. A file without keys is a valid, empty Set.
func Load(path string) (*Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apikey: %w", err)
	}
	return parse(b, path)
}

// entry is one line of the keys file.
type entry struct {
	Name   string `json:"name"`
	Scope  string `json:"scope"`
	SHA256 string `json:"sha256"`
}

// parse reads the keys file's contents; source names it in errors.
func parse(b []byte, source string) (*Set, error) {
	s := &Set{byHash: map[[sha256.Size]byte]Key{}}
	names := map[string]int{}  // name -> line
	hashes := map[string]int{} // hash -> line
	for i, line := range bytes.Split(b, []byte("\n")) {
		n := i + 1
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		e, scope, err := parseEntry(line)
		if err != nil {
			return nil, fmt.Errorf("apikey: %s:%d: %w", source, n, err)
		}
		if prev, ok := names[e.Name]; ok {
			return nil, fmt.Errorf("apikey: %s:%d: name %q is already used on line %d", source, n, e.Name, prev)
		}
		if prev, ok := hashes[e.SHA256]; ok {
			return nil, fmt.Errorf("apikey: %s:%d: the key of line %d again", source, n, prev)
		}
		names[e.Name], hashes[e.SHA256] = n, n
		var sum [sha256.Size]byte
		_, _ = hex.Decode(sum[:], []byte(e.SHA256)) // parseEntry checked it
		k := Key{Name: e.Name, Scope: scope}
		s.byHash[sum] = k
		s.keys = append(s.keys, k)
	}
	return s, nil
}

// parseEntry decodes and checks one line; its SHA256 comes back in
// lowercase.
func parseEntry(line []byte) (entry, Scope, error) {
	var e entry
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	const want = `not a key entry such as {"name":"pipeline","scope":"write","sha256":"<hex>"}`
	if line[0] != '{' {
		return entry{}, 0, errors.New(want)
	}
	if err := dec.Decode(&e); err != nil {
		return entry{}, 0, fmt.Errorf(want+": %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return entry{}, 0, errors.New("unexpected text after the entry")
	}
	if err := CheckName(e.Name); err != nil {
		return entry{}, 0, err
	}
	scope, err := ParseScope(e.Scope)
	if err != nil {
		return entry{}, 0, err
	}
	e.SHA256 = strings.ToLower(e.SHA256)
	if len(e.SHA256) != 2*sha256.Size || strings.ContainsFunc(e.SHA256, func(r rune) bool {
		return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f')
	}) {
		return entry{}, 0, fmt.Errorf("sha256 must be %d hex digits, the SHA-256 of the key", 2*sha256.Size)
	}
	return e, scope, nil
}
