package approver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net"
	"slices"
	"testing"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	"keel.dev/keel/pkg/controller/certificates/approver"
	"keel.dev/keel/pkg/pki"
)

var nodeUsages = []string{api.UsageDigitalSignature, api.UsageKeyEncipherment, api.UsageClientAuth}

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

// TestDecide: which SubjectAccessReviews approve which request.
func TestDecide(t *testing.T) {
	node1 := request(t, pki.CertSpec{CommonName: "system:node:n1", Organization: []string{"system:nodes"}})
	cases := []struct {
		name       string
		req        []byte
		signer     string
		usages     []string
		username   string
		conditions []string
		want       []string
	}{
		{"bootstrap identity", node1, api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:bootstrap:abcdef", nil, []string{"nodeclient"}},
		{"the node itself", node1, api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:node:n1", nil, []string{"selfnodeclient", "nodeclient"}},
		{"another node", node1, api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:node:n2", nil, []string{"nodeclient"}},
		{"without key encipherment", node1, api.SignerKubeAPIServerClientKubelet, []string{"client auth", "digital signature"}, "system:node:n1", nil, []string{"selfnodeclient", "nodeclient"}},
		{"approved already", node1, api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:node:n1", []string{"Approved"}, nil},
		{"denied already", node1, api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:node:n1", []string{"Denied"}, nil},
		{"another signer", node1, api.SignerKubeAPIServerClient, nodeUsages, "system:node:n1", nil, nil},
		{"server usage", node1, api.SignerKubeAPIServerClientKubelet, []string{"digital signature", "server auth"}, "system:node:n1", nil, nil},
		{"extra usage", node1, api.SignerKubeAPIServerClientKubelet, append(slices.Clone(nodeUsages), "server auth"), "system:node:n1", nil, nil},
		{"another group", request(t, pki.CertSpec{CommonName: "system:node:n1", Organization: []string{"system:nodes", "system:masters"}}),
			api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:bootstrap:abcdef", nil, nil},
		{"not a node name", request(t, pki.CertSpec{CommonName: "admin", Organization: []string{"system:nodes"}}),
			api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:bootstrap:abcdef", nil, nil},
		{"empty node name", request(t, pki.CertSpec{CommonName: "system:node:", Organization: []string{"system:nodes"}}),
			api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:bootstrap:abcdef", nil, nil},
		{"with an IP SAN", request(t, pki.CertSpec{CommonName: "system:node:n1", Organization: []string{"system:nodes"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}),
			api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:node:n1", nil, nil},
		{"unparsable", []byte("junk"), api.SignerKubeAPIServerClientKubelet, nodeUsages, "system:node:n1", nil, nil},
	}
	for _, tc := range cases {
		csr := &certificatesv1.CertificateSigningRequest{Spec: &certificatesv1.CertificateSigningRequestSpec{
			Request: tc.req, SignerName: tc.signer, Usages: tc.usages, Username: tc.username}, Status: &certificatesv1.CertificateSigningRequestStatus{}}
		for _, c := range tc.conditions {
			csr.Status.Conditions = append(csr.Status.Conditions, &certificatesv1.CertificateSigningRequestCondition{Type: c, Status: "True"})
		}
		if got := approver.Decide(csr); !slices.Equal(got, tc.want) {
			t.Errorf("%s: Decide = %q, want %q", tc.name, got, tc.want)
		}
	}
}
