package apiserver_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/auth"
	keelclient "keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

// TestTokenRequest (security): with --service-account-signing-key-file
// an admin's create on serviceaccounts/token returns a token that
// authenticates as the service account (Forbidden without a binding,
// allowed with one; a token bound to a Secret until it is deleted), lives the requested time capped by
// --service-account-max-token-expiration, and names the default audience;
// a kubelet gets tokens only bound to pods bound to its node; bad
// requests are refused naming the problem.
func TestTokenRequest(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.StartSecure(t, []string{"n1", "n2"}, func(cfg *apiserver.Config) {
		cfg.ServiceAccountKeys = []crypto.PublicKey{key.Public()}
		cfg.ServiceAccountSigningKey = key
		cfg.ServiceAccountMaxTokenExpiration = 2 * time.Hour
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func(name string) *keelclient.Client {
		c, err := keelclient.New(keelclient.Options{Servers: []string{s.Addr}, TLS: s.TLS(name)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	admin, kubelet := connect(pki.AdminName), connect(pki.KubeletClientName("n1"))
	const ns = "default"
	if _, err := keelclient.For[*corev1.ServiceAccount](admin, ns).Create(ctx, &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "builder"}}, keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := map[string]*corev1.Pod{}
	for name, node := range map[string]string{"on-n1": "n1", "on-n2": "n2"} {
		p, err := keelclient.For[*corev1.Pod](admin, ns).Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name},
			Spec: &corev1.PodSpec{ServiceAccountName: "builder", NodeName: node, Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}, keelclient.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pods[name] = p
	}
	request := func(c *keelclient.Client, sa string, spec *authenticationv1.TokenRequestSpec) (*authenticationv1.TokenRequest, error) {
		out, err := keelclient.For[*corev1.ServiceAccount](c, ns).CreateSubresource(ctx, sa, "token", &authenticationv1.TokenRequest{Spec: spec}, keelclient.CreateOptions{})
		if err != nil {
			return nil, err
		}
		return out.(*authenticationv1.TokenRequest), nil
	}
	podRef := func(name, uid string) *authenticationv1.BoundObjectReference {
		return &authenticationv1.BoundObjectReference{Kind: "Pod", ApiVersion: "v1", Name: name, Uid: uid}
	}

	tr, err := request(admin, "builder", nil)
	if err != nil {
		t.Fatalf("admin's token request: %v", err)
	}
	if tr.GetStatus().GetToken() == "" || tr.GetSpec().GetExpirationSeconds() != 3600 {
		t.Fatalf("answer %v, want a token for the default 3600s", tr)
	}
	if left := time.Until(tr.GetStatus().GetExpirationTimestamp().AsTime()); left < 59*time.Minute || left > 61*time.Minute {
		t.Fatalf("token expires in %s, want 1h", left)
	}
	long, err := request(admin, "builder", &authenticationv1.TokenRequestSpec{ExpirationSeconds: proto.Int64(24 * 3600)})
	if err != nil || long.GetSpec().GetExpirationSeconds() != 7200 {
		t.Fatalf("a day-long token under a 2h cap: %v, %v; want expirationSeconds 7200", long.GetSpec(), err)
	}

	// The token authenticates as the service account: a plain gRPC
	// connection (the client library's health check would turn a refused
	// token into Unavailable).
	tlsCA, err := pki.ClientTLSConfig(pki.CertPath(s.PKIDir, pki.CAName), "", "", "")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCA)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	listPods := func(tok string) error {
		_, err := apiv1.NewAPIClient(conn).List(metadata.AppendToOutgoingContext(ctx, auth.AuthorizationMetadata, "Bearer "+tok),
			&apiv1.ListRequest{Resource: "pods", Namespace: ns})
		return err
	}
	wantCode(t, apierrors.ToStatus(listPods(tr.GetStatus().GetToken())), codes.PermissionDenied)
	if _, err := keelclient.For[*rbacv1.Role](admin, ns).Create(ctx, &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "pod-reader"},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"list"}, ApiGroups: []string{""}, Resources: []string{"pods"}}}}, keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := keelclient.For[*rbacv1.RoleBinding](admin, ns).Create(ctx, &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "builder-reads-pods"},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
		Subjects: []*rbacv1.Subject{{Kind: "ServiceAccount", Name: "builder", Namespace: ns}}}, keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the service account's token allowed to list pods", func() bool { return listPods(tr.GetStatus().GetToken()) == nil })

	// A kubelet: tokens bound to its own pods only.
	var bound *authenticationv1.TokenRequest
	eventually(t, "n1's kubelet gets a token bound to its pod", func() bool {
		bound, err = request(kubelet, "builder", &authenticationv1.TokenRequestSpec{BoundObjectRef: podRef("on-n1", pods["on-n1"].GetMetadata().GetUid())})
		return err == nil
	})
	if err := listPods(bound.GetStatus().GetToken()); err != nil {
		t.Fatalf("the pod-bound token: %v", err)
	}

	// A token bound to a Secret works until the Secret is deleted.
	if _, err := keelclient.For[*corev1.Secret](admin, ns).Create(ctx, &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "creds"}}, keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secretBound, err := request(admin, "builder", &authenticationv1.TokenRequestSpec{
		BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Secret", ApiVersion: "v1", Name: "creds"}})
	if err != nil {
		t.Fatalf("token bound to a secret: %v", err)
	}
	eventually(t, "the secret-bound token accepted", func() bool { return listPods(secretBound.GetStatus().GetToken()) == nil })
	if _, _, err := keelclient.For[*corev1.Secret](admin, ns).Delete(ctx, "creds", keelclient.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the token bound to the deleted secret refused", func() bool {
		return codeOf(listPods(secretBound.GetStatus().GetToken())) == codes.Unauthenticated
	})

	for _, tc := range []struct {
		name   string
		c      *keelclient.Client
		sa     string
		spec   *authenticationv1.TokenRequestSpec
		reason apierrors.Reason
		says   string
	}{
		{"kubelet, another node's pod", kubelet, "builder", &authenticationv1.TokenRequestSpec{BoundObjectRef: podRef("on-n2", "")}, apierrors.ReasonForbidden, "not bound to it"},
		{"kubelet, unbound token", kubelet, "builder", nil, apierrors.ReasonForbidden, "bound to a pod"},
		{"too short", admin, "builder", &authenticationv1.TokenRequestSpec{ExpirationSeconds: proto.Int64(60)}, apierrors.ReasonInvalid, "spec.expirationSeconds"},
		{"bound to a Node", admin, "builder", &authenticationv1.TokenRequestSpec{BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Node", ApiVersion: "v1", Name: "n1"}}, apierrors.ReasonInvalid, "spec.boundObjectRef.kind"},
		{"unknown service account", admin, "nobody", nil, apierrors.ReasonNotFound, `serviceaccounts "nobody" not found`},
		{"unknown pod", admin, "builder", &authenticationv1.TokenRequestSpec{BoundObjectRef: podRef("gone", "")}, apierrors.ReasonNotFound, `pods "gone" not found`},
		{"stale pod uid", admin, "builder", &authenticationv1.TokenRequestSpec{BoundObjectRef: podRef("on-n1", "0000")}, apierrors.ReasonConflict, "UID"},
	} {
		_, err := request(tc.c, tc.sa, tc.spec)
		if apierrors.ReasonOf(err) != tc.reason || err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v, want %s naming %q", tc.name, err, tc.reason, tc.says)
		}
	}
	sas := keelclient.For[*corev1.ServiceAccount](admin, ns)
	if _, err := sas.CreateSubresource(ctx, "builder", "token", &authenticationv1.TokenRequest{Metadata: &metav1.ObjectMeta{Namespace: "other"}},
		keelclient.CreateOptions{}); apierrors.ReasonOf(err) != apierrors.ReasonBadRequest || !strings.Contains(err.Error(), "namespace") {
		t.Errorf("TokenRequest of another namespace: %v, want BadRequest naming the namespace", err)
	}
	dry, err := sas.CreateSubresource(ctx, "builder", "token", &authenticationv1.TokenRequest{}, keelclient.CreateOptions{DryRun: true})
	if err != nil || dry.(*authenticationv1.TokenRequest).GetStatus().GetToken() != "" || dry.(*authenticationv1.TokenRequest).GetSpec().GetExpirationSeconds() != 3600 {
		t.Errorf("dry run: %v, %v; want the defaulted request without a token", dry, err)
	}
}

// TestTokenRequestNeedsSigningKey: without a signing key the subresource
// is refused with an error naming the flag.
func TestTokenRequestNeedsSigningKey(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := keelclient.New(keelclient.Options{Servers: []string{s.Addr}, TLS: s.TLS(pki.AdminName)})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	_, err = keelclient.For[*corev1.ServiceAccount](admin, "default").CreateSubresource(ctx, "default", "token", &authenticationv1.TokenRequest{}, keelclient.CreateOptions{})
	if apierrors.ReasonOf(err) != apierrors.ReasonMethodNotAllowed || !strings.Contains(err.Error(), "--service-account-signing-key-file") {
		t.Fatalf("token request without a signing key: %v, want MethodNotAllowed naming --service-account-signing-key-file", err)
	}
}
