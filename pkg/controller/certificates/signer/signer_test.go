package signer_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/controller/certificates/signer"
	"keel.dev/keel/pkg/pki"
)

func request(t *testing.T, spec pki.CertSpec) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pki.NewCSRPEM(key, spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func approved(req []byte, signerName string, usages []string, exp *int32, conds ...string) *certificatesv1.CertificateSigningRequest {
	csr := &certificatesv1.CertificateSigningRequest{Spec: &certificatesv1.CertificateSigningRequestSpec{
		Request: req, SignerName: signerName, Usages: usages, ExpirationSeconds: exp}, Status: &certificatesv1.CertificateSigningRequestStatus{}}
	for _, c := range conds {
		csr.Status.Conditions = append(csr.Status.Conditions, &certificatesv1.CertificateSigningRequestCondition{Type: c, Status: "True"})
	}
	return csr
}

// TestDecide: what the signer does with each request, and for how long
// it signs.
func TestDecide(t *testing.T) {
	node := request(t, pki.CertSpec{CommonName: "system:node:n1", Organization: []string{"system:nodes"}})
	user := request(t, pki.CertSpec{CommonName: "jane", Organization: []string{"developers"}})
	master := request(t, pki.CertSpec{CommonName: "eve", Organization: []string{"system:masters"}})
	serving := request(t, pki.CertSpec{CommonName: "system:node:n1", Organization: []string{"system:nodes"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}})
	client := []string{"digital signature", "key encipherment", "client auth"}
	server := []string{"digital signature", "key encipherment", "server auth"}
	kubelet, apiClient, kubeletServing := api.SignerKubeAPIServerClientKubelet, api.SignerKubeAPIServerClient, api.SignerKubeletServing
	const year = 8760 * time.Hour
	cases := []struct {
		name     string
		csr      *certificatesv1.CertificateSigningRequest
		skip     bool
		fail     bool
		validity time.Duration
		server   bool
	}{
		{"kubelet client", approved(node, kubelet, client, nil, "Approved"), false, false, year, false},
		{"kubelet client, one hour", approved(node, kubelet, client, proto.Int32(3600), "Approved"), false, false, time.Hour, false},
		{"asks more than the cap", approved(node, kubelet, client, proto.Int32(2*8760*3600), "Approved"), false, false, year, false},
		{"user client", approved(user, apiClient, []string{"client auth"}, nil, "Approved"), false, false, year, false},
		{"kubelet serving", approved(serving, kubeletServing, server, nil, "Approved"), false, false, year, true},
		{"pending", approved(node, kubelet, client, nil), true, false, 0, false},
		{"denied", approved(node, kubelet, client, nil, "Denied"), true, false, 0, false},
		{"failed", approved(node, kubelet, client, nil, "Approved", "Failed"), true, false, 0, false},
		{"another signer", approved(node, "example.com/signer", client, nil, "Approved"), true, false, 0, false},
		{"kubelet signer, not a node", approved(user, kubelet, client, nil, "Approved"), false, true, 0, false},
		{"kubelet signer, server usage", approved(node, kubelet, server, nil, "Approved"), false, true, 0, false},
		{"kubelet signer, SANs", approved(serving, kubelet, client, nil, "Approved"), false, true, 0, false},
		{"masters", approved(master, apiClient, client, nil, "Approved"), false, true, 0, false},
		{"client signer, no client auth", approved(user, apiClient, []string{"digital signature"}, nil, "Approved"), false, true, 0, false},
		{"serving, no SAN", approved(node, kubeletServing, server, nil, "Approved"), false, true, 0, false},
	}
	for _, tc := range cases {
		p := signer.Decide(tc.csr, year)
		if p.Skip != tc.skip || (p.FailReason != "") != tc.fail {
			t.Errorf("%s: plan %+v, want skip %v fail %v", tc.name, p, tc.skip, tc.fail)
			continue
		}
		if tc.skip || tc.fail {
			continue
		}
		if p.Spec.Validity != tc.validity || p.Spec.Server != tc.server || p.Spec.Client == tc.server {
			t.Errorf("%s: spec %+v, want validity %v server %v", tc.name, p.Spec, tc.validity, tc.server)
		}
	}
	// An issued certificate is never signed again.
	done := approved(node, kubelet, client, nil, "Approved")
	done.Status.Certificate = []byte("x")
	if !signer.Decide(done, year).Skip {
		t.Errorf("a request with a certificate is signed again")
	}
}

// TestSignRequest: the certificate carries the request's key and subject,
// the usages planned, and lasts what was planned, never beyond the CA.
func TestSignRequest(t *testing.T) {
	ca, err := pki.NewCA("test-ca", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	csr := approved(request(t, pki.CertSpec{CommonName: "system:node:n1", Organization: []string{"system:nodes"}}),
		api.SignerKubeAPIServerClientKubelet, []string{"digital signature", "client auth"}, proto.Int32(600), "Approved")
	p := signer.Decide(csr, time.Hour)
	now := time.Now()
	cert, err := pki.SignRequest(ca, p.Request, p.Spec, now)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "system:node:n1" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "system:nodes" {
		t.Errorf("subject %v", cert.Subject)
	}
	if got := cert.NotAfter.Sub(now); got < 9*time.Minute || got > 10*time.Minute {
		t.Errorf("lifetime %v, want 10m", got)
	}
	if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("ext key usages %v", cert.ExtKeyUsage)
	}
	if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("not signed by the CA: %v", err)
	}
	long, err := pki.SignRequest(ca, p.Request, pki.CertSpec{Client: true, Validity: 100 * time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !long.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("outlives the CA: %v > %v", long.NotAfter, ca.Cert.NotAfter)
	}
}
