package apikey_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"arbor/internal/apikey"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := apikey.Generate()
		raw, ok := strings.CutPrefix(k, apikey.Prefix)
		if !ok {
			t.Fatalf("Generate() = %q, want the prefix %q", k, apikey.Prefix)
		}
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err != nil || len(b) != 32 {
			t.Fatalf("Generate() = %q: %d bytes, %v; want 32 bytes of unpadded base64url", k, len(b), err)
		}
		if seen[k] {
			t.Fatalf("Generate() = %q twice", k)
		}
		seen[k] = true
	}
}

func TestHash(t *testing.T) {
	// printf %s arb_test | sha256sum
	const want = "e5ac79ed6606fdeefc6f164d89be75a4a28d55a7534531db6695e10f3540e432"
	if got := apikey.Hash("arb_test"); got != want {
		t.Fatalf("Hash(arb_test) = %s, want %s", got, want)
	}
}

func TestScope(t *testing.T) {
	for _, tt := range []struct {
		have, need apikey.Scope
		ok         bool
	}{
		{apikey.Read, apikey.Read, true},
		{apikey.Read, apikey.Write, false},
		{apikey.Read, apikey.Admin, false},
		{apikey.Write, apikey.Read, true},
		{apikey.Write, apikey.Write, true},
		{apikey.Write, apikey.Admin, false},
		{apikey.Admin, apikey.Read, true},
		{apikey.Admin, apikey.Write, true},
		{apikey.Admin, apikey.Admin, true},
		{0, apikey.Read, false},
		{0, 0, false},
		{apikey.Admin + 1, apikey.Read, false},
	} {
		if got := tt.have.Allows(tt.need); got != tt.ok {
			t.Errorf("%v.Allows(%v) = %v, want %v", tt.have, tt.need, got, tt.ok)
		}
	}
	for _, s := range []apikey.Scope{apikey.Read, apikey.Write, apikey.Admin} {
		if got, err := apikey.ParseScope(s.String()); err != nil || got != s {
			t.Errorf("ParseScope(%q) = %v, %v", s.String(), got, err)
		}
	}
	for _, s := range []string{"", "Read", "owner", "read "} {
		if _, err := apikey.ParseScope(s); err == nil {
			t.Errorf("ParseScope(%q) = nil error", s)
		}
	}
}

// line is a keys file line.
func line(name, scope, hash string) string {
	return fmt.Sprintf(`{"name":%q,"scope":%q,"sha256":%q}`, name, scope, hash)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.jsonl")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad(t *testing.T) {
	reader, writer, admin := apikey.Generate(), apikey.Generate(), apikey.Generate()
	path := writeFile(t, "# arbor's keys\n\n"+
		line("dashboard", "read", apikey.Hash(reader))+"\n"+
		"  "+line("pipeline.v2", "write", strings.ToUpper(apikey.Hash(writer)))+"\r\n"+
		line("ops", "admin", apikey.Hash(admin))) // no final newline
	set, err := apikey.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []apikey.Key{{Name: "dashboard", Scope: apikey.Read}, {Name: "pipeline.v2", Scope: apikey.Write}, {Name: "ops", Scope: apikey.Admin}}
	if got := set.Keys(); !slices.Equal(got, want) || set.Len() != 3 {
		t.Fatalf("Keys() = %v (Len %d), want %v", got, set.Len(), want)
	}
	for i, key := range []string{reader, writer, admin} {
		if k, ok := set.Lookup(key); !ok || k != want[i] {
			t.Errorf("Lookup(key %d) = %v, %v; want %v", i, k, ok, want[i])
		}
	}
	for _, key := range []string{"", apikey.Generate(), apikey.Hash(reader), reader + " ", strings.ToUpper(reader)} {
		if k, ok := set.Lookup(key); ok {
			t.Errorf("Lookup(%q) = %v, want no key", key, k)
		}
	}
	var none *apikey.Set
	if _, ok := none.Lookup(reader); ok || none.Len() != 0 || none.Keys() != nil {
		t.Errorf("a nil Set knows a key")
	}

	empty, err := apikey.Load(writeFile(t, "# no keys yet\n"))
	if err != nil || empty.Len() != 0 {
		t.Fatalf("Load(comments only) = %v, %v; want an empty set", empty, err)
	}
	if _, err := apikey.Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadRejects(t *testing.T) {
	h1, h2 := apikey.Hash("arb_one"), apikey.Hash("arb_two")
	ok := line("first", "read", h1)
	for _, tt := range []struct {
		name, content string
		line          int
		want          string
	}{
		{"not JSON", ok + "\nname=x scope=read", 2, "not a key entry"},
		{"an array", `["a","read","` + h1 + `"]`, 1, "not a key entry"},
		{"null", "null", 1, "not a key entry"},
		{"unknown field", `{"name":"a","scope":"read","sha256":"` + h1 + `","key":"arb_x"}`, 1, `unknown field "key"`},
		{"two objects", ok + ok, 1, "unexpected text"},
		{"unknown scope", ok + "\n" + line("b", "owner", h2), 2, `unknown scope "owner"`},
		{"no scope", `{"name":"b","sha256":"` + h2 + `"}`, 1, "unknown scope"},
		{"no name", line("", "read", h2), 1, "name"},
		{"bad name", line("a b", "read", h2), 1, `name "a b"`},
		{"long name", line(strings.Repeat("n", 65), "read", h2), 1, "name"},
		{"short hash", line("b", "read", h2[:63]), 1, "sha256"},
		{"not hex", line("b", "read", "z"+h2[1:]), 1, "sha256"},
		{"no hash", `{"name":"b","scope":"read"}`, 1, "sha256"},
		{"duplicate name", ok + "\n\n" + line("first", "write", h2), 3, `name "first" is already used on line 1`},
		{"duplicate key", ok + "\n" + line("second", "write", strings.ToUpper(h1)), 2, "the key of line 1 again"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			set, err := apikey.Load(path)
			if err == nil {
				t.Fatalf("Load = %v, want an error", set.Keys())
			}
			where := fmt.Sprintf("%s:%d: ", path, tt.line)
			if !strings.Contains(err.Error(), where) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: %v\nwant it to name %q and say %q", err, where, tt.want)
			}
		})
	}
}

func TestAdd(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.jsonl")
	k1, err := apikey.Add(path, "pipeline", apikey.Write)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("created file: %v, %v; want mode 0600", fi, err)
	}
	k2, err := apikey.Add(path, "dashboard", apikey.Read)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), k1) || strings.Contains(string(b), k2) {
		t.Fatalf("the file holds a key:\n%s", b)
	}
	wantFile := line("pipeline", "write", apikey.Hash(k1)) + "\n" + line("dashboard", "read", apikey.Hash(k2)) + "\n"
	if string(b) != wantFile {
		t.Fatalf("file:\n%s\nwant:\n%s", b, wantFile)
	}
	set, err := apikey.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := set.Lookup(k1); !ok || k != (apikey.Key{Name: "pipeline", Scope: apikey.Write}) {
		t.Fatalf("Lookup(first key) = %v, %v", k, ok)
	}
	if k, ok := set.Lookup(k2); !ok || k != (apikey.Key{Name: "dashboard", Scope: apikey.Read}) {
		t.Fatalf("Lookup(second key) = %v, %v", k, ok)
	}

	// Refused: a name taken, a bad name or scope; the file is unchanged.
	for _, tt := range []struct {
		name  string
		scope apikey.Scope
		want  string
	}{
		{"pipeline", apikey.Admin, `has a key named "pipeline" already`},
		{"a b", apikey.Read, "name"},
		{"ops", 0, "scope"},
		{"ops", apikey.Admin + 1, "scope"},
	} {
		if k, err := apikey.Add(path, tt.name, tt.scope); err == nil || !strings.Contains(err.Error(), tt.want) || k != "" {
			t.Errorf("Add(%q, %v) = %q, %v; want an error saying %q", tt.name, tt.scope, k, err, tt.want)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(b) {
		t.Fatalf("a refused Add changed the file:\n%s", after)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestAddKeepsTheFile(t *testing.T) {
	// Comments, blank lines and a missing final newline survive; the mode
	// of an existing file is kept.
	old := "# arbor's keys\n\n" + line("ops", "admin", apikey.Hash("arb_ops"))
	path := writeFile(t, old)
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	k, err := apikey.Add(path, "ci", apikey.Read)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if want := old + "\n" + line("ci", "read", apikey.Hash(k)) + "\n"; string(b) != want {
		t.Fatalf("file:\n%s\nwant:\n%s", b, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640 kept", fi.Mode().Perm())
	}

	// Through a symbolic link: the file it names is replaced, the link stays.
	link := filepath.Join(t.TempDir(), "link.jsonl")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, err := apikey.Add(link, "ci2", apikey.Read); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v, %v", fi, err)
	}
	if set, err := apikey.Load(path); err != nil || set.Len() != 3 {
		t.Fatalf("Load after adding through the link: %v, %v", set.Keys(), err)
	}

	// A malformed file is not added to.
	bad := writeFile(t, line("ops", "root", apikey.Hash("arb_ops"))+"\n")
	if _, err := apikey.Add(bad, "ci", apikey.Read); err == nil || !strings.Contains(err.Error(), bad+":1: ") {
		t.Fatalf("Add to a malformed file: %v, want Load's error", err)
	}
}
