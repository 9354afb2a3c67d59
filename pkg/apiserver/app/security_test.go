package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// TestSecurity reproduces the holes of issue 11 against an apiserver as
// clusters run it (TLS, RBAC, the bootstrap policy) and shows them closed.
// The Node authorizer's and the ServiceAccount tokens' cases live in their
// own files.
func TestSecurity(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func(tlsConf *tls.Config, as client.Impersonation) apiv1.APIClient {
		c, err := client.New(client.Options{Servers: []string{s.Addr}, TLS: tlsConf, Impersonate: as})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.API()
	}
	create := func(api apiv1.APIClient, ns string, obj proto.Message, resource string) error {
		a, err := anypb.New(obj)
		if err != nil {
			t.Fatal(err)
		}
		_, err = api.Create(ctx, &apiv1.CreateRequest{Resource: resource, Namespace: ns, Object: a})
		return err
	}
	admin := connect(s.TLS(pki.AdminName), client.Impersonation{})

	t.Run("an unauthenticated call on the secure port", func(t *testing.T) {
		pool := x509.NewCertPool()
		caPEM, err := os.ReadFile(pki.CertPath(s.PKIDir, pki.CAName))
		if err != nil || !pool.AppendCertsFromPEM(caPEM) {
			t.Fatalf("reading the CA: %v", err)
		}
		anon := connect(&tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}, client.Impersonation{})
		if _, err := anon.List(ctx, &apiv1.ListRequest{Resource: "secrets"}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("listing secrets without credentials: %v, want Unauthenticated", err)
		}
	})

	t.Run("deleting kube-system", func(t *testing.T) {
		_, err := admin.Delete(ctx, &apiv1.DeleteRequest{Resource: "namespaces", Name: "kube-system"})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "may not be deleted") {
			t.Errorf("deleting kube-system as admin: %v, want Forbidden", err)
		}
	})

	t.Run("escalation through a RoleBinding", func(t *testing.T) {
		// carol may write RoleBindings in default, and holds nothing else.
		if err := create(admin, "default", &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: "binder"},
			Rules: []*rbacv1.PolicyRule{{Verbs: []string{"create"}, ApiGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"rolebindings"}}}}, "roles"); err != nil {
			t.Fatal(err)
		}
		if err := create(admin, "default", &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: "carol-binds"},
			RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "binder"},
			Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "carol"}}}, "rolebindings"); err != nil {
			t.Fatal(err)
		}
		carol := connect(s.TLS(pki.AdminName), client.Impersonation{UserName: "carol"})
		grab := func(name, role string) error {
			return create(carol, "default", &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: name},
				RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
				Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "carol"}}}, "rolebindings")
		}
		// Once carol's binding is in the authorizer's cache, her own
		// RoleBinding to cluster-admin is refused as an escalation.
		bound := false
		testutil.Eventually(t, 30*time.Second, "carol's RoleBinding to cluster-admin refused as an escalation", func() error {
			err := grab("carol-is-admin", "cluster-admin")
			if err == nil {
				bound = true
				return nil
			}
			if status.Code(err) == codes.PermissionDenied && strings.Contains(err.Error(), "attempting to grant RBAC permissions not currently held") {
				return nil
			}
			return err
		})
		if bound {
			t.Fatal("carol bound herself to cluster-admin")
		}
		if _, err := carol.List(ctx, &apiv1.ListRequest{Resource: "secrets", Namespace: "default"}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("carol lists secrets: %v, want Forbidden", err)
		}
	})

	t.Run("impersonation without the verb", func(t *testing.T) {
		sched := connect(s.TLS(pki.SchedulerName), client.Impersonation{UserName: "admin", Groups: []string{"system:masters"}})
		_, err := sched.List(ctx, &apiv1.ListRequest{Resource: "secrets"})
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `cannot impersonate`) {
			t.Errorf("the scheduler impersonating admin: %v, want Forbidden", err)
		}
	})
}
