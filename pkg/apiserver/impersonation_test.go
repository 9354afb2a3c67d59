package apiserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	keelclient "keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

// TestSecureCallers, over TLS with RBAC: a caller without credentials is
// told Unauthenticated (its health check passes, so it is not told
// Unavailable); a master may impersonate, and the request is then
// authorized as the impersonated user; a caller without the impersonate
// verb is refused.
func TestSecureCallers(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	connect := func(tlsConf *tls.Config, as keelclient.Impersonation) apiv1.APIClient {
		c, err := keelclient.New(keelclient.Options{Servers: []string{s.Addr}, TLS: tlsConf, Impersonate: as})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.API()
	}
	list := func(api apiv1.APIClient) error {
		_, err := api.List(ctx, &apiv1.ListRequest{Resource: "pods", Namespace: "default"})
		return err
	}

	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(pki.CertPath(s.PKIDir, pki.CAName))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("reading the CA: %v", err)
	}
	anonymous := connect(&tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}, keelclient.Impersonation{})
	if err := list(anonymous); status.Code(err) != codes.Unauthenticated {
		t.Errorf("no credentials: %v, want Unauthenticated", err)
	}

	asBob := connect(s.TLS(pki.AdminName), keelclient.Impersonation{UserName: "bob", Groups: []string{"devs"}})
	err = list(asBob)
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `User "bob" cannot list resource "pods"`) {
		t.Errorf("admin as bob: %v, want bob's Forbidden", err)
	}

	schedulerAsAdmin := connect(s.TLS(pki.SchedulerName), keelclient.Impersonation{UserName: "admin", Groups: []string{"system:masters"}})
	err = list(schedulerAsAdmin)
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), `cannot impersonate resource "users"`) {
		t.Errorf("scheduler impersonating admin: %v, want Forbidden to impersonate", err)
	}
	// Impersonation metadata without a user is a bad request.
	admin := connect(s.TLS(pki.AdminName), keelclient.Impersonation{})
	_, err = admin.List(metadata.AppendToOutgoingContext(ctx, "impersonate-group", "devs"), &apiv1.ListRequest{Resource: "pods", Namespace: "default"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("a group without a user: %v, want InvalidArgument", err)
	}
	if err := list(admin); err != nil {
		t.Errorf("admin: %v", err)
	}
}
