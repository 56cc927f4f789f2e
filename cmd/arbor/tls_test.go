package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arbor/internal/apikey"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// testPKI is a CA and a certificate it signed for 127.0.0.1 and localhost,
// as PEM files.
type testPKI struct {
	CA, Cert, Key string
	pool          *x509.CertPool
}

func newTestPKI(t *testing.T) testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "arbor test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := testPKI{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem"), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	for path, block := range map[string]*pem.Block{
		p.CA: {Type: "CERTIFICATE", Bytes: caDER}, p.Cert: {Type: "CERTIFICATE", Bytes: der}, p.Key: {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestHTTPS serves the API over TLS with --tls-cert and --tls-key: a client
// that trusts the CA reads and writes, a plain HTTP request gets no answer
// in the clear.
func TestHTTPS(t *testing.T) {
	pki := newTestPKI(t)
	cfg := testMainConfig(t.TempDir())
	cfg.TLSCert, cfg.TLSKey = pki.Cert, pki.Key
	in := openTestMain(t, cfg)
	if !strings.HasPrefix(in.m.BaseURL(), "https://") {
		t.Fatalf("BaseURL %q with --tls-cert", in.m.BaseURL())
	}
	c := newTestClient(t, in.m.BaseURL())
	c.hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pki.pool}
	c.waitHealthy(10 * time.Second)
	if r := c.must(http.StatusOK, http.MethodGet, "/health", nil, nil); !strings.Contains(string(r.body), `"version":"`+version+`"`) {
		t.Errorf("/health does not report version %s: %s", version, r.body)
	}
	var a testDoc
	c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"name": "over tls"}}, &a)
	c.must(http.StatusOK, http.MethodGet, testAPI+"/"+a.ID, nil, nil)

	plain := newTestClient(t, "http://"+in.m.HTTPAddr())
	if r, err := plain.send(t.Context(), http.MethodGet, "/health", nil, nil); err == nil && r.status == http.StatusOK {
		t.Fatalf("plain HTTP answered %d on the TLS port", r.status)
	}
}

// startTLSNATS starts a NATS server with JetStream that speaks only TLS
// and signs clients in with a password or an nkey.
func startTLSNATS(t *testing.T, pki testPKI, user, password, nkey string) string {
	t.Helper()
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: pki.Cert, KeyFile: pki.Key})
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		TLS: true, TLSConfig: tc, TLSTimeout: 5,
		Users: []*server.User{{Username: user, Password: password}},
		Nkeys: []*server.NkeyUser{{Nkey: nkey}},
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return "tls://" + s.Addr().String()
}

// TestExternalNATSOverTLS: arbor signs in to a NATS server of its own over
// TLS, with a password or with an nkey seed (--nats-creds), trusting the
// server's CA (--nats-tls-ca); a wrong password or an untrusted server is
// refused at start, saying why.
func TestExternalNATSOverTLS(t *testing.T) {
	pki := newTestPKI(t)
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "arbor.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	url := startTLSNATS(t, pki, "arbor", "s3cret", pub)

	for _, tc := range []struct {
		name string
		set  func(*Config)
	}{
		{"password", func(c *Config) { c.NATSUser, c.NATSPassword = "arbor", "s3cret" }},
		{"nkey seed", func(c *Config) { c.NATSCreds = seedFile }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testMainConfig("")
			cfg.NATSURL, cfg.NATSTLSCA = url, pki.CA
			cfg.SnapshotEvery = 0
			tc.set(&cfg)
			in := openTestMain(t, cfg)
			in.c.waitHealthy(10 * time.Second)
			var a testDoc
			in.c.must(http.StatusCreated, http.MethodPost, testAPI, map[string]any{"data": map[string]any{"signed_in": tc.name}}, &a)
			in.c.must(http.StatusOK, http.MethodGet, testAPI+"/"+a.ID, nil, nil)
		})
	}

	for _, tc := range []struct {
		name, want string
		set        func(*Config)
	}{
		{"wrong password", "Authorization Violation", func(c *Config) {
			c.NATSTLSCA, c.NATSUser, c.NATSPassword = pki.CA, "arbor", "wrong"
		}},
		{"untrusted server", "certificate", func(c *Config) { c.NATSUser, c.NATSPassword = "arbor", "s3cret" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testMainConfig("")
			cfg.NATSURL = url
			tc.set(&cfg)
			m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler)}
			err := m.Open(t.Context())
			_ = m.Close()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestServeWithKeys: with --api-keys-file, the API wants a key and /health
// stays open; a key made by arbor keys add opens it.
func TestServeWithKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "keys.jsonl")
	key, err := apikey.Add(file, "pipeline", apikey.Write)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testMainConfig(t.TempDir())
	cfg.APIKeysFile = file
	in := openTestMain(t, cfg)
	in.c.waitHealthy(10 * time.Second)
	if r := in.c.do(http.MethodGet, testAPI, nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("list without a key: %s", r)
	}
	if r := in.c.do(http.MethodGet, "/", nil, nil); r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("the lineage browser without a key: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if r := in.c.do(http.MethodGet, "/metrics", nil, nil); r.status != http.StatusUnauthorized {
		t.Fatalf("/metrics without a key: %s", r)
	}
	if r := in.c.do(http.MethodGet, "/metrics", nil, map[string]string{"X-API-Key": key}); r.status != http.StatusOK {
		t.Fatalf("/metrics with a key: %s", r)
	}
	r := in.c.do(http.MethodPost, testAPI, map[string]any{"data": map[string]any{}}, map[string]string{"X-API-Key": key})
	if r.status != http.StatusCreated {
		t.Fatalf("create with a write key: %s", r)
	}

	cfg = testMainConfig(t.TempDir())
	cfg.APIKeysFile = filepath.Join(t.TempDir(), "missing.jsonl")
	m := &Main{Config: cfg, Logger: slog.New(slog.DiscardHandler)}
	err = m.Open(t.Context())
	_ = m.Close()
	if err == nil || !strings.Contains(err.Error(), "--api-keys-file") {
		t.Fatalf("Open with a missing keys file: %v", err)
	}
}
