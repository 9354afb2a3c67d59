package apiserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheme"
)

// TestCertificateSigningRequests: the requestor is the caller whatever
// the client sends; the spec never changes; approving needs "approve" on
// the signer (by name or domain/*), signing needs "sign"; approval and
// status each change only their part; no request for system:masters.
func TestCertificateSigningRequests(t *testing.T) {
	t.Parallel()
	c := start(t, func(cfg *apiserver.Config) { cfg.AuthorizationModes = []string{apiserver.ModeRBAC} })
	srv := c.srv.Server
	alice := auth.WithUser(c.ctx, auth.User{Name: "alice", UID: "u-1", Groups: []string{"devs", auth.GroupAuthenticated}})
	grant := func(name string, rules ...*rbacv1.PolicyRule) {
		mustCreate(c, &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: name}, Rules: rules})
		mustCreate(c, &rbacv1.ClusterRoleBinding{Metadata: &metav1.ObjectMeta{Name: name},
			RoleRef:  &rbacv1.RoleRef{ApiGroup: api.GroupRBAC, Kind: "ClusterRole", Name: name},
			Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: api.GroupRBAC, Name: "alice"}}})
	}
	grant("csr-writer", &rbacv1.PolicyRule{Verbs: []string{"create", "get", "update"}, ApiGroups: []string{api.GroupCertificates},
		Resources: []string{"certificatesigningrequests", "certificatesigningrequests/approval", "certificatesigningrequests/status"}})

	request := func(cn string, groups ...string) []byte {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		b, err := pki.NewCSRPEM(key, pki.CertSpec{CommonName: cn, Organization: groups})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	create := func(csr *certificatesv1.CertificateSigningRequest) (*certificatesv1.CertificateSigningRequest, error) {
		req := pack(t, csr)
		req.Resource = "certificatesigningrequests"
		out, err := srv.Create(alice, req)
		if err != nil {
			return nil, err
		}
		return unpack[*certificatesv1.CertificateSigningRequest](out)
	}
	update := func(csr *certificatesv1.CertificateSigningRequest, sub string) (*certificatesv1.CertificateSigningRequest, error) {
		a, err := scheme.Pack(csr)
		if err != nil {
			t.Fatal(err)
		}
		out, err := srv.Update(alice, &apiv1.UpdateRequest{Resource: "certificatesigningrequests", Object: a, Subresource: sub})
		if err != nil {
			return nil, err
		}
		return unpack[*certificatesv1.CertificateSigningRequest](out)
	}
	spec := &certificatesv1.CertificateSigningRequestSpec{Request: request("alice"), SignerName: "example.com/signer",
		Usages: []string{api.UsageClientAuth}, Username: "admin", Groups: []string{auth.GroupMasters}}
	var csr *certificatesv1.CertificateSigningRequest
	eventually(t, "alice may create requests", func() bool {
		var err error
		csr, err = create(&certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: "alice-1"}, Spec: spec})
		return err == nil
	})
	if s := csr.GetSpec(); s.GetUsername() != "alice" || s.GetUid() != "u-1" || strings.Join(s.GetGroups(), ",") != "devs,"+auth.GroupAuthenticated {
		t.Fatalf("requestor %q %q %q, want the caller's", s.GetUsername(), s.GetUid(), s.GetGroups())
	}

	changed := proto.Clone(csr).(*certificatesv1.CertificateSigningRequest)
	changed.Spec.Usages = []string{api.UsageServerAuth}
	_, err := update(changed, "")
	wantCode(t, apierrors.ToStatus(err), codes.InvalidArgument)

	approve := proto.Clone(csr).(*certificatesv1.CertificateSigningRequest)
	approve.Spec.Usages = []string{api.UsageServerAuth} // ignored by approval
	approve.Status = &certificatesv1.CertificateSigningRequestStatus{Conditions: []*certificatesv1.CertificateSigningRequestCondition{
		{Type: api.CertificateApproved, Reason: "Test"}}, Certificate: []byte("ignored")}
	_, err = update(approve, "approval")
	wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)
	if !strings.Contains(err.Error(), `user not permitted to approve requests with signerName "example.com/signer"`) {
		t.Errorf("error %v", err)
	}
	grant("example-approver", &rbacv1.PolicyRule{Verbs: []string{"approve"}, ApiGroups: []string{api.GroupCertificates},
		Resources: []string{"signers"}, ResourceNames: []string{"example.com/*"}})
	var approved *certificatesv1.CertificateSigningRequest
	eventually(t, "alice may approve example.com/* requests", func() bool {
		approved, err = update(approve, "approval")
		return err == nil
	})
	if c := api.CSRCondition(approved, api.CertificateApproved); c == nil || c.GetStatus() != "True" ||
		approved.GetSpec().GetUsages()[0] != api.UsageClientAuth || len(approved.GetStatus().GetCertificate()) != 0 {
		t.Fatalf("after approval: %v", approved)
	}
	both := proto.Clone(approved).(*certificatesv1.CertificateSigningRequest)
	both.Status.Conditions = append(both.Status.Conditions, &certificatesv1.CertificateSigningRequestCondition{Type: api.CertificateDenied, Status: "True"})
	_, err = update(both, "approval")
	wantCode(t, apierrors.ToStatus(err), codes.InvalidArgument)

	ca, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	signed := proto.Clone(approved).(*certificatesv1.CertificateSigningRequest)
	signed.Status.Certificate = ca.CertPEM()
	_, err = update(signed, "status")
	wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)
	grant("example-signer", &rbacv1.PolicyRule{Verbs: []string{"sign"}, ApiGroups: []string{api.GroupCertificates},
		Resources: []string{"signers"}, ResourceNames: []string{"example.com/signer"}})
	eventually(t, "alice may sign example.com/signer requests", func() bool {
		_, err = update(signed, "status")
		return err == nil
	})

	_, err = create(&certificatesv1.CertificateSigningRequest{Metadata: &metav1.ObjectMeta{Name: "eve"},
		Spec: &certificatesv1.CertificateSigningRequestSpec{Request: request("eve", auth.GroupMasters), SignerName: api.SignerKubeAPIServerClient,
			Usages: []string{api.UsageClientAuth}}})
	wantCode(t, apierrors.ToStatus(err), codes.PermissionDenied)
	if !strings.Contains(err.Error(), "system:masters") {
		t.Errorf("error %v", err)
	}
}
