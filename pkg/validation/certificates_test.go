package validation_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/validation"
)

func csrPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pki.NewCSRPEM(key, pki.CertSpec{CommonName: "system:node:n1", Organization: []string{"system:nodes"}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newCSR(req []byte, mutate func(*certificatesv1.CertificateSigningRequestSpec)) *certificatesv1.CertificateSigningRequest {
	spec := &certificatesv1.CertificateSigningRequestSpec{
		Request: req, SignerName: api.SignerKubeAPIServerClientKubelet,
		Usages: []string{api.UsageDigitalSignature, api.UsageKeyEncipherment, api.UsageClientAuth},
	}
	if mutate != nil {
		mutate(spec)
	}
	return &certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: "csr-1"}, Spec: spec}
}

// TestCertificateSigningRequest: a well-formed request passes; each bad
// spec field gets its own error at its path.
func TestCertificateSigningRequest(t *testing.T) {
	req := csrPEM(t)
	tampered := []byte(string(req))
	tampered[len(tampered)/2] ^= 1 // breaks the base64 or the signature
	cases := []struct {
		name   string
		mutate func(*certificatesv1.CertificateSigningRequestSpec)
		want   []string
	}{
		{"valid", nil, nil},
		{"valid with expirationSeconds 600", func(s *certificatesv1.CertificateSigningRequestSpec) { s.ExpirationSeconds = proto.Int32(600) }, nil},
		{"custom signer", func(s *certificatesv1.CertificateSigningRequestSpec) { s.SignerName = "example.com/my-signer" }, nil},
		{"no request", func(s *certificatesv1.CertificateSigningRequestSpec) { s.Request = nil }, []string{"spec.request"}},
		{"not PEM", func(s *certificatesv1.CertificateSigningRequestSpec) { s.Request = []byte("hello") }, []string{"spec.request"}},
		{"a certificate, not a request", func(s *certificatesv1.CertificateSigningRequestSpec) {
			s.Request = []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
		}, []string{"spec.request"}},
		{"tampered", func(s *certificatesv1.CertificateSigningRequestSpec) { s.Request = tampered }, []string{"spec.request"}},
		{"no signer", func(s *certificatesv1.CertificateSigningRequestSpec) { s.SignerName = "" }, []string{"spec.signerName"}},
		{"unqualified signer", func(s *certificatesv1.CertificateSigningRequestSpec) { s.SignerName = "signer" }, []string{"spec.signerName"}},
		{"bad signer domain", func(s *certificatesv1.CertificateSigningRequestSpec) { s.SignerName = "Ex_ample/x" }, []string{"spec.signerName"}},
		{"no usages", func(s *certificatesv1.CertificateSigningRequestSpec) { s.Usages = nil }, []string{"spec.usages"}},
		{"unknown usage", func(s *certificatesv1.CertificateSigningRequestSpec) { s.Usages = []string{"client auth", "flying"} }, []string{"spec.usages[1]"}},
		{"repeated usage", func(s *certificatesv1.CertificateSigningRequestSpec) {
			s.Usages = []string{"client auth", "client auth"}
		}, []string{"spec.usages[1]"}},
		{"expiration too short", func(s *certificatesv1.CertificateSigningRequestSpec) { s.ExpirationSeconds = proto.Int32(599) }, []string{"spec.expirationSeconds"}},
		{"expiration zero", func(s *certificatesv1.CertificateSigningRequestSpec) { s.ExpirationSeconds = proto.Int32(0) }, []string{"spec.expirationSeconds"}},
	}
	for _, tc := range cases {
		checkPaths(t, tc.name, registry.ValidateCreate(newCSR(req, tc.mutate)), tc.want)
	}
	checkPaths(t, "no spec", registry.ValidateCreate(&certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: "x"}}),
		[]string{"spec.request", "spec.signerName", "spec.usages"})
}

func cond(t string) *certificatesv1.CertificateSigningRequestCondition {
	return &certificatesv1.CertificateSigningRequestCondition{Type: t, Status: "True"}
}

func withStatus(csr *certificatesv1.CertificateSigningRequest, cert string, conds ...*certificatesv1.CertificateSigningRequestCondition) *certificatesv1.CertificateSigningRequest {
	c := proto.Clone(csr).(*certificatesv1.CertificateSigningRequest)
	c.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: conds, Certificate: []byte(cert)}
	return c
}

// TestCertificateSigningRequestUpdates: the spec never changes; approval
// sets Approved or Denied, never both, never removes one; the signer's
// status update keeps the approval, sets the certificate once, and only
// on an approved request.
func TestCertificateSigningRequestUpdates(t *testing.T) {
	base := newCSR(csrPEM(t), nil)
	base.Metadata.ResourceVersion = "5"
	changed := proto.Clone(base).(*certificatesv1.CertificateSigningRequest)
	changed.Spec.Usages = []string{api.UsageClientAuth}
	checkPaths(t, "spec change", registry.ValidateUpdate(changed, base), []string{"spec"})
	checkPaths(t, "no change", registry.ValidateUpdate(proto.Clone(base), base), nil)

	cert := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	approved := withStatus(base, "", cond(api.CertificateApproved))
	denied := withStatus(base, "", cond(api.CertificateDenied))
	approval := []struct {
		name     string
		obj, old *certificatesv1.CertificateSigningRequest
		want     []string
	}{
		{"approve", approved, base, nil},
		{"deny", denied, base, nil},
		{"both", withStatus(base, "", cond(api.CertificateApproved), cond(api.CertificateDenied)), base, []string{"status.conditions"}},
		{"approve a denied one", approved, denied, []string{"status.conditions"}},
		{"approve twice", withStatus(base, "", cond(api.CertificateApproved), cond(api.CertificateApproved)), base, []string{"status.conditions[1].type"}},
		{"bad status", withStatus(base, "", &certificatesv1.CertificateSigningRequestCondition{Type: api.CertificateApproved, Status: "Yes"}), base, []string{"status.conditions[0].status"}},
	}
	for _, tc := range approval {
		checkPaths(t, "approval: "+tc.name, validation.CertificateSigningRequestApproval(tc.obj, tc.old), tc.want)
	}

	status := []struct {
		name     string
		obj, old *certificatesv1.CertificateSigningRequest
		want     []string
	}{
		{"sign an approved one", withStatus(base, cert, cond(api.CertificateApproved)), approved, nil},
		{"sign a pending one", withStatus(base, cert), base, []string{"status.certificate"}},
		{"sign a denied one", withStatus(base, cert, cond(api.CertificateDenied)), denied, []string{"status.certificate"}},
		{"approve through status", approved, base, []string{"status.conditions"}},
		{"fail it", withStatus(base, "", cond(api.CertificateApproved), cond(api.CertificateFailed)), approved, nil},
		{"not a certificate", withStatus(base, "hello", cond(api.CertificateApproved)), approved, []string{"status.certificate"}},
		{"a key, not a certificate", withStatus(base, "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n", cond(api.CertificateApproved)), approved, []string{"status.certificate"}},
		{"change the certificate", withStatus(base, cert+cert, cond(api.CertificateApproved)), withStatus(base, cert, cond(api.CertificateApproved)), []string{"status.certificate"}},
	}
	for _, tc := range status {
		checkPaths(t, "status: "+tc.name, registry.ValidateStatusUpdate(tc.obj, tc.old), tc.want)
	}
}
