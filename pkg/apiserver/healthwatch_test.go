package apiserver_test

import (
	"context"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/pki"
)

// TestHealthWatchesTakeNoSeat: every client health-checks each apiserver
// it balances over with a Health.Watch stream held open, so an HA cluster
// keeps dozens open per apiserver. They are answered outside flow control:
// many of them, beyond the in-flight bound, leave every one SERVING, a
// further one too, and the API's calls unaffected.
func TestHealthWatchesTakeNoSeat(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, []string{"n1"}, func(c *apiserver.Config) {
		c.MaxRequestsInflight, c.MaxMutatingRequestsInflight = 2, 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	health := healthpb.NewHealthClient(rawConn(t, s, pki.AdminName))
	for i := range 12 {
		w, err := health.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("health watch %d: %v", i, err)
		}
		resp, err := w.Recv()
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health watch %d: %v, %v; want SERVING", i, resp.GetStatus(), err)
		}
	}
	admin := apiv1.NewAPIClient(rawConn(t, s, pki.AdminName))
	for range 5 {
		if _, err := admin.Get(ctx, &apiv1.GetRequest{Resource: "namespaces", Name: "default"}); err != nil {
			t.Fatalf("a get with 12 health watches open: %v", err)
		}
	}
}
