package natsauth_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"arbor/internal/natsauth"
)

// EnsureSeeds makes one seed per role, readable by its owner alone, and
// finds the same keys on the next start.
func TestEnsureSeeds(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "credentials")
	keys, created, err := natsauth.EnsureSeeds(dir)
	if err != nil || !created {
		t.Fatalf("EnsureSeeds: created %v, %v", created, err)
	}
	for _, role := range natsauth.Roles {
		fi, err := os.Stat(natsauth.SeedFile(dir, role))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s seed mode %v, want 0600", role, fi.Mode().Perm())
		}
		if len(keys[role]) != 1 || !nkeys.IsValidPublicUserKey(keys[role][0]) {
			t.Errorf("%s keys %v", role, keys[role])
		}
	}
	again, created, err := natsauth.EnsureSeeds(dir)
	if err != nil || created {
		t.Fatalf("second EnsureSeeds: created %v, %v", created, err)
	}
	for _, role := range natsauth.Roles {
		if again[role][0] != keys[role][0] {
			t.Errorf("%s key changed across starts", role)
		}
	}
	if keys[natsauth.Reader][0] == keys[natsauth.Writer][0] {
		t.Error("reader and writer share a key")
	}
}

func TestLoadKeys(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	acct, _ := nkeys.CreateAccount()
	apub, _ := acct.PublicKey()
	write := func(s string) string {
		p := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keys, err := natsauth.LoadKeys(write(`{"writer": ["` + pub + `"]}`))
	if err != nil || len(keys[natsauth.Writer]) != 1 || len(keys[natsauth.Reader]) != 0 {
		t.Fatalf("LoadKeys: %v, %v", keys, err)
	}
	for _, tc := range []struct{ file, want string }{
		{`{"owner": ["` + pub + `"]}`, "unknown role"},
		{`{"reader": ["` + apub + `"]}`, "not a public user nkey"},
		{`{"reader": ["` + pub + `"], "admin": ["` + pub + `"]}`, "both"},
		{`{"reader": "` + pub + `"}`, "keys.json"},
	} {
		if _, err := natsauth.LoadKeys(write(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadKeys(%s): %v, want %q", tc.file, err, tc.want)
		}
	}
}

// Readers and writers never get the rights that change what arbor stores,
// and arbor's own consumers are denied to them by name.
func TestPermissions(t *testing.T) {
	if natsauth.Permissions(natsauth.Admin, natsauth.Owned{}) != nil {
		t.Fatal("an admin is limited")
	}
	for _, role := range []natsauth.Role{natsauth.Reader, natsauth.Writer} {
		p := natsauth.Permissions(role, natsauth.Owned{Consumers: []string{"KV_writer"}})
		for _, allow := range p.Publish.Allow {
			for _, bad := range []string{"arbor.", "$KV.", "$O.", "DELETE", "PURGE", "UPDATE"} {
				if strings.Contains(allow, bad) {
					t.Errorf("%s may publish %s", role, allow)
				}
			}
		}
		if !strings.Contains(strings.Join(p.Publish.Deny, " "), "$JS.API.CONSUMER.MSG.NEXT.*.KV_writer") {
			t.Errorf("%s may fetch from arbor's consumer: deny %v", role, p.Publish.Deny)
		}
		sendsRequests := strings.Contains(strings.Join(p.Publish.Allow, " "), natsauth.APIPrefix+".>")
		if sendsRequests != (role == natsauth.Writer) {
			t.Errorf("%s sends arbor-api requests: %v", role, sendsRequests)
		}
	}
}
