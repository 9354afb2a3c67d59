package serviceaccount

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// objects is a Getter over maps keyed "ns/name".
type objects struct {
	sas  map[string]*corev1.ServiceAccount
	pods map[string]*corev1.Pod
	secs map[string]*corev1.Secret
}

func (o objects) ServiceAccount(_ context.Context, ns, name string) (*corev1.ServiceAccount, bool, error) {
	sa, ok := o.sas[ns+"/"+name]
	return sa, ok, nil
}

func (o objects) Pod(_ context.Context, ns, name string) (*corev1.Pod, bool, error) {
	p, ok := o.pods[ns+"/"+name]
	return p, ok, nil
}

func (o objects) Secret(_ context.Context, ns, name string) (*corev1.Secret, bool, error) {
	s, ok := o.secs[ns+"/"+name]
	return s, ok, nil
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func mustSigner(t testing.TB, key crypto.Signer, issuer string) *Signer {
	t.Helper()
	s, err := NewSigner(issuer, key, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func fixture() objects {
	return objects{
		sas:  map[string]*corev1.ServiceAccount{"team/builder": {Metadata: &metav1.ObjectMeta{Name: "builder", Namespace: "team", Uid: "sa-uid"}}},
		pods: map[string]*corev1.Pod{"team/web-0": {Metadata: &metav1.ObjectMeta{Name: "web-0", Namespace: "team", Uid: "pod-uid"}}},
		secs: map[string]*corev1.Secret{"team/creds": {Metadata: &metav1.ObjectMeta{Name: "creds", Namespace: "team", Uid: "secret-uid"}}},
	}
}

func TestAuthenticateToken(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	base := Request{Namespace: "team", ServiceAccountName: "builder", ServiceAccountUID: "sa-uid",
		Audiences: []string{"api"}, Expiration: time.Hour}
	bound := base
	bound.Pod = &Ref{Name: "web-0", UID: "pod-uid"}
	secretBound := base
	secretBound.Secret = &Ref{Name: "creds", UID: "secret-uid"}

	cases := []struct {
		name    string
		key     crypto.Signer
		issuer  string
		req     Request
		at      time.Time
		mutate  func(o objects)
		claimed bool
		errHas  string
	}{
		{name: "rsa", key: rsaKey, req: base, at: t0, claimed: true},
		{name: "ecdsa", key: ecKey, req: base, at: t0.Add(59 * time.Minute), claimed: true},
		{name: "bound to pod", key: rsaKey, req: bound, at: t0, claimed: true},
		{name: "other issuer is not ours", key: rsaKey, issuer: "https://elsewhere", req: base, at: t0},
		{name: "unknown key", key: otherKey, req: base, at: t0, claimed: true, errHas: "signature"},
		{name: "expired", key: rsaKey, req: base, at: t0.Add(time.Hour + time.Second), claimed: true, errHas: "expired"},
		{name: "not yet valid", key: rsaKey, req: base, at: t0.Add(-time.Hour), claimed: true, errHas: "not valid yet"},
		{name: "wrong audience", key: rsaKey, req: func() Request { r := base; r.Audiences = []string{"vault"}; return r }(), at: t0, claimed: true, errHas: "audience"},
		{name: "service account deleted", key: rsaKey, req: base, at: t0, mutate: func(o objects) { delete(o.sas, "team/builder") }, claimed: true, errHas: "deleted"},
		{name: "service account recreated", key: rsaKey, req: base, at: t0, mutate: func(o objects) { o.sas["team/builder"].Metadata.Uid = "new" }, claimed: true, errHas: "deleted"},
		{name: "bound pod deleted", key: rsaKey, req: bound, at: t0, mutate: func(o objects) { delete(o.pods, "team/web-0") }, claimed: true, errHas: "deleted"},
		{name: "bound to secret", key: rsaKey, req: secretBound, at: t0, claimed: true},
		{name: "bound secret deleted", key: rsaKey, req: secretBound, at: t0, mutate: func(o objects) { delete(o.secs, "team/creds") }, claimed: true, errHas: "secret team/creds"},
		{name: "bound secret recreated", key: rsaKey, req: secretBound, at: t0, mutate: func(o objects) { o.secs["team/creds"].Metadata.Uid = "new" }, claimed: true, errHas: "deleted"},
		{name: "bound pod recreated", key: rsaKey, req: bound, at: t0, mutate: func(o objects) { o.pods["team/web-0"].Metadata.Uid = "new" }, claimed: true, errHas: "deleted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			issuer := DefaultIssuer
			if tc.issuer != "" {
				issuer = tc.issuer
			}
			tok, _, err := mustSigner(t, tc.key, issuer).Issue(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			o := fixture()
			if tc.mutate != nil {
				tc.mutate(o)
			}
			a := &Authenticator{Issuer: DefaultIssuer, Audiences: []string{"api", DefaultIssuer},
				Keys: []crypto.PublicKey{otherKey.Public(), rsaKey.Public(), ecKey.Public()}, Objects: o,
				Now: func() time.Time { return tc.at }}
			if tc.name == "unknown key" {
				a.Keys = []crypto.PublicKey{rsaKey.Public(), ecKey.Public()}
			}
			u, ok, err := a.AuthenticateToken(context.Background(), tok)
			if ok != tc.claimed {
				t.Fatalf("claimed = %v, want %v (err %v)", ok, tc.claimed, err)
			}
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return
			}
			if u.Name != "system:serviceaccount:team:builder" || u.UID != "sa-uid" ||
				!slices.Equal(u.Groups, []string{"system:serviceaccounts", "system:serviceaccounts:team"}) {
				t.Fatalf("user = %+v", u)
			}
			if tc.req.Pod != nil && (u.Extra[PodNameExtra][0] != "web-0" || u.Extra[PodUIDExtra][0] != "pod-uid") {
				t.Fatalf("extra = %v", u.Extra)
			}
		})
	}
}

// TestMalformedTokens: garbage, truncated and tampered tokens are refused
// or not claimed, never accepted and never a crash.
func TestMalformedTokens(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	tok, _, err := mustSigner(t, key, DefaultIssuer).Issue(Request{Namespace: "team", ServiceAccountName: "builder",
		ServiceAccountUID: "sa-uid", Audiences: []string{"api"}, Expiration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	a := &Authenticator{Issuer: DefaultIssuer, Audiences: []string{"api"}, Keys: []crypto.PublicKey{key.Public()},
		Objects: fixture(), Now: func() time.Time { return t0 }}
	parts := strings.Split(tok, ".")
	inputs := []string{"", ".", "..", "a.b.c", "abcdef.ghijkl", tok[:len(tok)-3], tok + "x",
		parts[0] + "." + parts[1] + ".", "eyJhbGciOiJub25lIn0." + parts[1] + ".",
		parts[0] + "." + parts[1][:len(parts[1])-4] + "." + parts[2]}
	for _, in := range inputs {
		if u, ok, err := a.AuthenticateToken(context.Background(), in); ok && err == nil {
			t.Errorf("token %q accepted as %+v", in, u)
		}
	}
}

func FuzzAuthenticateToken(f *testing.F) {
	key, _ := rsa.GenerateKey(rand.Reader, 1024)
	tok, _, _ := mustSigner(f, key, DefaultIssuer).Issue(Request{Namespace: "team", ServiceAccountName: "builder",
		ServiceAccountUID: "sa-uid", Audiences: []string{"api"}, Expiration: time.Hour})
	f.Add(tok)
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.x")
	a := &Authenticator{Issuer: DefaultIssuer, Audiences: []string{"api"}, Keys: []crypto.PublicKey{key.Public()},
		Objects: fixture(), Now: func() time.Time { return t0 }}
	f.Fuzz(func(t *testing.T, in string) {
		u, ok, err := a.AuthenticateToken(context.Background(), in)
		if ok && err == nil && in != tok {
			t.Fatalf("token %q accepted as %+v", in, u)
		}
	})
}

func TestReadKeys(t *testing.T) {
	dir := t.TempDir()
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	rsaPub, _ := x509.MarshalPKIXPublicKey(rsaKey.Public())
	ecPub, _ := x509.MarshalPKIXPublicKey(ecKey.Public())
	write := func(name string, blocks ...*pem.Block) string {
		var b []byte
		for _, bl := range blocks {
			b = append(b, pem.EncodeToMemory(bl)...)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if k, err := ReadPrivateKey(write("sa.key", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})); err != nil || !rsaKey.Equal(k) {
		t.Fatalf("rsa private key: %v", err)
	}
	if k, err := ReadPrivateKey(write("ec.key", &pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})); err != nil || !ecKey.Equal(k) {
		t.Fatalf("ec private key: %v", err)
	}
	keys, err := ReadPublicKeys(write("sa.pub", &pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub}, &pem.Block{Type: "PUBLIC KEY", Bytes: ecPub}))
	if err != nil || len(keys) != 2 {
		t.Fatalf("public keys: %v, %d", err, len(keys))
	}
	if _, err := ReadPublicKeys(write("empty.pub")); err == nil {
		t.Fatal("a file without keys was accepted")
	}
	if _, err := ReadPrivateKey(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}
