package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func mustCA(t *testing.T) *KeyPair {
	t.Helper()
	ca, err := NewCA("test-ca", time.Hour*24)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func TestNewCA(t *testing.T) {
	ca, err := NewCA(CACommonName, DefaultCAValidity)
	if err != nil {
		t.Fatal(err)
	}
	c := ca.Cert
	if !c.IsCA || !c.BasicConstraintsValid || c.Subject.CommonName != CACommonName {
		t.Errorf("CA cert: IsCA=%v basic=%v CN=%q", c.IsCA, c.BasicConstraintsValid, c.Subject.CommonName)
	}
	if c.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Error("CA lacks certSign key usage")
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key is %T, want ECDSA P-256", c.PublicKey)
	}
	if got := c.NotAfter.Sub(c.NotBefore); got < 10*365*24*time.Hour || got > 10*366*24*time.Hour {
		t.Errorf("CA validity %v, want about 10 years", got)
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: poolOf(c)}); err != nil {
		t.Errorf("CA does not verify against itself: %v", err)
	}
	if _, err := NewCA("", time.Hour); err == nil {
		t.Error("NewCA with empty CN succeeded")
	}
}

func TestIssueUsagesAndChain(t *testing.T) {
	ca := mustCA(t)
	other := mustCA(t)
	tests := []struct {
		name           string
		spec           CertSpec
		server, client bool
	}{
		{"server", CertSpec{CommonName: "s", DNSNames: []string{"s.example"}, Server: true}, true, false},
		{"client", CertSpec{CommonName: "c", Organization: []string{"g1", "g2"}, Client: true}, false, true},
		{"both", CertSpec{CommonName: "b", IPAddresses: []net.IP{net.ParseIP("10.1.2.3")}, Server: true, Client: true}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := Issue(ca, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if kp.Cert.IsCA {
				t.Error("leaf is a CA")
			}
			for _, u := range []struct {
				usage x509.ExtKeyUsage
				want  bool
			}{{x509.ExtKeyUsageServerAuth, tt.server}, {x509.ExtKeyUsageClientAuth, tt.client}} {
				_, err := kp.Cert.Verify(x509.VerifyOptions{Roots: poolOf(ca.Cert), KeyUsages: []x509.ExtKeyUsage{u.usage}})
				if (err == nil) != u.want {
					t.Errorf("verify for usage %v: err=%v, want ok=%v", u.usage, err, u.want)
				}
			}
			if _, err := kp.Cert.Verify(x509.VerifyOptions{Roots: poolOf(other.Cert), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
				t.Error("leaf verifies against an unrelated CA")
			}
			if kp.Cert.NotAfter.After(ca.Cert.NotAfter) {
				t.Errorf("leaf outlives its CA: %v > %v", kp.Cert.NotAfter, ca.Cert.NotAfter)
			}
		})
	}
}

func TestIssueRejectsBadSpecs(t *testing.T) {
	ca := mustCA(t)
	leaf, err := Issue(ca, CertSpec{CommonName: "x", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		ca   *KeyPair
		spec CertSpec
	}{
		"no CN":             {ca, CertSpec{Client: true}},
		"no usage":          {ca, CertSpec{CommonName: "x"}},
		"server no SAN":     {ca, CertSpec{CommonName: "x", Server: true}},
		"negative validity": {ca, CertSpec{CommonName: "x", Client: true, Validity: -time.Hour}},
		"signer not a CA":   {leaf, CertSpec{CommonName: "x", Client: true}},
		"nil CA":            {nil, CertSpec{CommonName: "x", Client: true}},
	} {
		if _, err := Issue(tc.ca, tc.spec); err == nil {
			t.Errorf("%s: Issue succeeded", name)
		}
	}
}

func TestWriteLoadKeyPair(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sub")
	ca := mustCA(t)
	kp, err := Issue(ca, CertSpec{CommonName: "u", Client: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyPair(dir, "u", kp); err != nil {
		t.Fatal(err)
	}
	checkMode(t, CertPath(dir, "u"), 0o644)
	checkMode(t, KeyPath(dir, "u"), 0o600)
	got, err := LoadKeyPair(dir, "u")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cert.Equal(kp.Cert) {
		t.Error("loaded certificate differs")
	}
	if err := WriteKeyPair(dir, "u", ca); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second WriteKeyPair: %v, want ErrExist", err)
	}
	if got, _ := LoadKeyPair(dir, "u"); !got.Cert.Equal(kp.Cert) {
		t.Error("WriteKeyPair overwrote an existing pair")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want 2 (no temporary files left)", len(entries))
	}

	// A key that does not match its certificate is refused.
	if err := os.WriteFile(CertPath(dir, "mixed"), kp.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	caKey, _ := ca.KeyPEM()
	if err := os.WriteFile(KeyPath(dir, "mixed"), caKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyPair(dir, "mixed"); err == nil {
		t.Error("LoadKeyPair accepted a key of another certificate")
	}
}

func TestParsePrivateKeyFormats(t *testing.T) {
	ca := mustCA(t)
	ec := ca.Key.(*ecdsa.PrivateKey)
	der, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	parsed, err := ParsePrivateKeyPEM(sec1)
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.(*ecdsa.PrivateKey).Equal(ec) {
		t.Error("SEC1 key differs")
	}
	if _, err := ParseKeyPair(ca.CertPEM(), sec1); err != nil {
		t.Errorf("ParseKeyPair with SEC1 key: %v", err)
	}
	if _, err := ParsePrivateKeyPEM(ca.CertPEM()); err == nil {
		t.Error("ParsePrivateKeyPEM accepted a certificate")
	}
	if _, err := ParseCertsPEM([]byte("garbage")); err == nil {
		t.Error("ParseCertsPEM accepted garbage")
	}
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode %v, want %v", path, got, want)
	}
}
