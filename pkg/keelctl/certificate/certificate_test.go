package certificate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
	"keel.dev/keel/pkg/pki"
)

// TestApproveDeny: approve and deny set their condition through the
// approval subresource, once; a decision is final; get and describe show
// the requests; a missing one is an error that leaves the others done.
func TestApproveDeny(t *testing.T) {
	s := testserver.StartSecure(t, nil, nil)
	conf := s.Kubeconfig(pki.AdminName)
	run := func(args ...string) keelctltest.Result {
		return keelctltest.RunKeelctl(t, keelctltest.RunOpts{}, append([]string{"--config", conf}, args...)...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	csrs := client.For[*certificatesv1.CertificateSigningRequest](s.Client(pki.AdminName), "")
	for _, name := range []string{"jane", "eve"} {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		req, err := pki.NewCSRPEM(key, pki.CertSpec{CommonName: name})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := csrs.Create(ctx, &certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: name},
			Spec: &certificatesv1.CertificateSigningRequestSpec{Request: req, SignerName: api.SignerKubeAPIServerClient,
				Usages: []string{"client auth"}}}, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out := run("get", "csr").OK(t)
	if f := strings.Fields(strings.Split(out, "\n")[2]); len(f) != 6 || f[0] != "jane" || f[2] != api.SignerKubeAPIServerClient ||
		f[3] != "admin" || f[4] != "<none>" || f[5] != "Pending" {
		t.Errorf("get csr:\n%s", out)
	}

	if out := run("certificate", "approve", "jane").OK(t); out != "certificatesigningrequest.certificates.k8s.io/jane approved\n" {
		t.Errorf("approve: %q", out)
	}
	if out := run("certificate", "approve", "jane").OK(t); !strings.Contains(out, "already approved") {
		t.Errorf("approve twice: %q", out)
	}
	run("certificate", "deny", "jane").Fails(t, "is already approved")
	r := run("certificate", "deny", "eve", "nosuch")
	r.Fails(t, "nosuch")
	if !strings.Contains(r.Out, "certificatesigningrequest.certificates.k8s.io/eve denied") {
		t.Errorf("deny with a missing name: %q, want eve denied", r.Out)
	}
	for name, want := range map[string]string{"jane": api.CertificateApproved, "eve": api.CertificateDenied} {
		csr, err := csrs.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		c := csr.GetStatus().GetConditions()
		if len(c) != 1 || c[0].GetType() != want || c[0].GetStatus() != "True" || !strings.HasPrefix(c[0].GetReason(), "Kubectl") {
			t.Errorf("%s: conditions %v, want %s", name, c, want)
		}
	}
	before, _ := csrs.Get(ctx, "jane")
	run("certificate", "approve", "--force", "jane").OK(t)
	after, _ := csrs.Get(ctx, "jane")
	if after.GetMetadata().GetResourceVersion() == before.GetMetadata().GetResourceVersion() {
		t.Errorf("--force did not update the request")
	}
	out = run("get", "csr").OK(t)
	for _, want := range []string{"NAME", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION", "CONDITION", "Approved", "Denied"} {
		if !strings.Contains(out, want) {
			t.Errorf("get csr lacks %q:\n%s", want, out)
		}
	}
	desc := run("describe", "csr", "jane").OK(t)
	for _, want := range []string{"Requesting User:", "admin", "Signer:", "Approved", "Common Name:", "jane"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe lacks %q:\n%s", want, desc)
		}
	}
	run("certificate", "approve").Fails(t, "requires at least 1 arg")
}
