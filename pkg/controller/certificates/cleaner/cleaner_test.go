package cleaner_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller/certificates/cleaner"
	"keel.dev/keel/pkg/pki"
)

// TestDecide: when each request goes.
func TestDecide(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	ca, err := pki.NewCA("test", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	certEnding := func(end time.Time) []byte {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"}, NotBefore: end.Add(-time.Hour), NotAfter: end}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, ca.Key.Public(), ca.Key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	csr := func(created time.Duration, cond string, updated time.Duration, cert []byte) *certificatesv1.CertificateSigningRequest {
		c := &certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: "c", CreationTimestamp: timestamppb.New(now.Add(created))},
			Status: &certificatesv1.CertificateSigningRequestStatus{Certificate: cert}}
		if cond != "" {
			c.Status.Conditions = []*certificatesv1.CertificateSigningRequestCondition{{Type: cond, Status: "True", LastUpdateTime: timestamppb.New(now.Add(updated))}}
		}
		return c
	}
	deleting := csr(-48*time.Hour, "", 0, nil)
	deleting.Metadata.DeletionTimestamp = timestamppb.New(now)
	for _, tc := range []struct {
		name   string
		csr    *certificatesv1.CertificateSigningRequest
		remove bool
		after  time.Duration
	}{
		{"pending, new", csr(-time.Hour, "", 0, nil), false, 23 * time.Hour},
		{"pending a day", csr(-24*time.Hour, "", 0, nil), true, 0},
		{"approved just now", csr(-2*time.Hour, api.CertificateApproved, 0, nil), false, time.Hour},
		{"approved an hour ago", csr(-2*time.Hour, api.CertificateApproved, -time.Hour, nil), true, 0},
		{"denied 30 minutes ago", csr(-2*time.Hour, api.CertificateDenied, -30*time.Minute, nil), false, 30 * time.Minute},
		{"failed long ago", csr(-3*time.Hour, api.CertificateFailed, -2*time.Hour, nil), true, 0},
		{"issued, certificate expired", csr(-10*time.Minute, api.CertificateApproved, -5*time.Minute, certEnding(now.Add(-time.Minute))), true, 0},
		{"issued, certificate ends first", csr(-10*time.Minute, api.CertificateApproved, -5*time.Minute, certEnding(now.Add(10*time.Minute))), false, 10 * time.Minute},
		{"being deleted", deleting, false, 0},
	} {
		remove, after := cleaner.Decide(tc.csr, now)
		if remove != tc.remove || after != tc.after {
			t.Errorf("%s: Decide = %v, %v; want %v, %v", tc.name, remove, after, tc.remove, tc.after)
		}
	}
}
