package apiserver_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/serviceaccount"
	keelclient "keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

// TestServiceAccountTokens (security): a ServiceAccount token over TLS,
// without a client certificate, is authenticated as the service account
// and authorized by RBAC: Forbidden without a binding, allowed with one;
// Unauthenticated once its service account or bound pod is deleted, when
// it is for another audience, and when it has expired.
func TestServiceAccountTokens(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.StartSecure(t, nil, func(cfg *apiserver.Config) {
		cfg.ServiceAccountKeys = []crypto.PublicKey{key.Public()}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := keelclient.New(keelclient.Options{Servers: []string{s.Addr}, TLS: s.TLS(pki.AdminName)})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	const ns = "default"
	sa, err := keelclient.For[*corev1.ServiceAccount](admin, ns).Create(ctx, &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder"}}, keelclient.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod, err := keelclient.For[*corev1.Pod](admin, ns).Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &corev1.PodSpec{ServiceAccountName: "builder", Containers: []*corev1.Container{{Name: "web", Image: "busybox"}}}}, keelclient.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	signer := func(now time.Time) *serviceaccount.Signer {
		sg, err := serviceaccount.NewSigner(serviceaccount.DefaultIssuer, key, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		return sg
	}
	token := func(sg *serviceaccount.Signer, aud string, bound bool) string {
		r := serviceaccount.Request{Namespace: ns, ServiceAccountName: "builder", ServiceAccountUID: sa.GetMetadata().GetUid(),
			Audiences: []string{aud}, Expiration: time.Hour}
		if bound {
			r.Pod = &serviceaccount.Ref{Name: "web", UID: pod.GetMetadata().GetUid()}
		}
		tok, _, err := sg.Issue(r)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// A plain gRPC connection: the client library's health check would
	// turn a refused token into Unavailable.
	tlsCA, err := pki.ClientTLSConfig(pki.CertPath(s.PKIDir, pki.CAName), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCA)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	api := apiv1.NewAPIClient(conn)
	listPods := func(tok string) error {
		_, err := api.List(metadata.AppendToOutgoingContext(ctx, auth.AuthorizationMetadata, "Bearer "+tok),
			&apiv1.ListRequest{Resource: "pods", Namespace: ns})
		return err
	}
	now := signer(time.Now())
	plain, bound := token(now, serviceaccount.DefaultIssuer, false), token(now, serviceaccount.DefaultIssuer, true)

	wantCode(t, apierrors.ToStatus(listPods(plain)), codes.PermissionDenied)
	wantCode(t, apierrors.ToStatus(listPods(token(now, "vault", false))), codes.Unauthenticated)
	wantCode(t, apierrors.ToStatus(listPods(token(signer(time.Now().Add(-2*time.Hour)), serviceaccount.DefaultIssuer, false))), codes.Unauthenticated)

	if _, err := keelclient.For[*rbacv1.Role](admin, ns).Create(ctx, &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"list"}, ApiGroups: []string{""}, Resources: []string{"pods"}}}}, keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := keelclient.For[*rbacv1.RoleBinding](admin, ns).Create(ctx, &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "builder-reads-pods"},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects: []*rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder", Namespace: ns}}}, keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the service account allowed to list pods", func() bool { return listPods(plain) == nil })
	if err := listPods(bound); err != nil {
		t.Fatalf("token bound to the pod: %v", err)
	}

	if _, _, err := keelclient.For[*corev1.Pod](admin, ns).Delete(ctx, "web", keelclient.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the token bound to the deleted pod refused", func() bool {
		return codeOf(listPods(bound)) == codes.Unauthenticated
	})
	if err := listPods(plain); err != nil {
		t.Fatalf("unbound token after the pod's deletion: %v", err)
	}
	if _, _, err := keelclient.For[*corev1.ServiceAccount](admin, ns).Delete(ctx, "builder", keelclient.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the token of the deleted service account refused", func() bool { return codeOf(listPods(plain)) == codes.Unauthenticated })
}

func codeOf(err error) codes.Code {
	return status.Code(apierrors.ToStatus(err))
}
