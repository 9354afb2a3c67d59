package apiserver_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	authnv1 "keel.dev/keel/pkg/apis/authentication/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/testutil"
)

// rawConn connects to s as the key pair name with a bare gRPC connection:
// no client-side retries, so that every rejection is seen.
func rawConn(t *testing.T, s *testserver.Secure, name string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(credentials.NewTLS(s.TLS(name))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// checkOverloaded fails unless err is an overload rejection: ResourceExhausted
// with a retry hint in the status (RetryInfo) and in the retry-after trailer.
func checkOverloaded(t *testing.T, what string, err error, trailer metadata.MD) {
	t.Helper()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("%s: %v, want ResourceExhausted", what, err)
	}
	d, ok := apierrors.RetryAfter(err)
	if !ok || d < time.Second {
		t.Errorf("%s: no retry hint of a second or more in %v", what, err)
	}
	if got, want := trailer.Get("retry-after"), apierrors.RetryAfterValue(d); len(got) != 1 || got[0] != want {
		t.Errorf("%s: retry-after trailer %q, want %s (seconds)", what, got, want)
	}
}

// TestOverload: with 2+1 seats, one user flooding the apiserver with
// requests that hold their seat (Lists waiting for a resourceVersion the
// cache never reaches) fills its level's seat and its flow's queue; the
// rest of the flood is refused at once with ResourceExhausted and a
// retry hint. Meanwhile another user of the same level is served ahead of
// the flood's queue, and the health service, a node (level system), the
// scheduler (workload-high) and an admin (exempt) are served at once, the
// apiserver SERVING throughout.
func TestOverload(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, []string{"n1"}, func(c *apiserver.Config) {
		c.MaxRequestsInflight, c.MaxMutatingRequestsInflight = 2, 1
		c.HealthInterval = 50 * time.Millisecond
		c.QueueWaitTimeout = 2 * time.Minute // longer than the test: no time-outs
	})
	if _, err := pki.IssueInDir(s.PKIDir, "alice", pki.CertSpec{CommonName: "alice", Client: true}); err != nil {
		t.Fatal(err)
	}
	admin := apiv1.NewAPIClient(rawConn(t, s, pki.AdminName))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node, err := scheme.Pack(&corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Create(ctx, &apiv1.CreateRequest{Resource: "nodes", Object: node}); err != nil {
		t.Fatal(err)
	}

	// The flood: global-default has one seat and lets a flow queue
	// 6×50 requests, so of 310 such Lists one runs, 300 wait and 9 are
	// refused.
	const flood, queue = 310, 300
	proxy := apiv1.NewAPIClient(rawConn(t, s, pki.ProxyName))
	floodCtx, stopFlood := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopFlood(); wg.Wait() }()
	var mu sync.Mutex
	var rejected []error
	var finished atomic.Int32 // flood Lists that ran
	for range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var trailer metadata.MD
			_, err := proxy.List(floodCtx, &apiv1.ListRequest{Resource: "services", ResourceVersion: "999999999"}, grpc.Trailer(&trailer))
			if status.Code(err) != codes.ResourceExhausted {
				finished.Add(1)
				return
			}
			checkOverloaded(t, "a flooding List", err, trailer)
			mu.Lock()
			rejected = append(rejected, err)
			mu.Unlock()
		}()
	}
	testutil.Eventually(t, 20*time.Second, "the flood beyond the seat and the queue refused", func() error {
		mu.Lock()
		defer mu.Unlock()
		if n := len(rejected); n != flood-1-queue {
			return fmt.Errorf("%d refused", n)
		}
		return nil
	})

	fast := func(what string, call func(context.Context) error) {
		t.Helper()
		start := time.Now()
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		defer ccancel()
		if err := call(cctx); err != nil {
			t.Errorf("%s during the flood: %v", what, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %v during the flood", what, d)
		}
	}
	health := healthpb.NewHealthClient(rawConn(t, s, pki.AdminName))
	kubelet := apiv1.NewAPIClient(rawConn(t, s, pki.KubeletClientName("n1")))
	scheduler := apiv1.NewAPIClient(rawConn(t, s, pki.SchedulerName))
	for range 3 {
		fast("the health check", func(ctx context.Context) error {
			resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
			if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				err = fmt.Errorf("status %v", resp.GetStatus())
			}
			return err
		})
		fast("the node's get of its Node", func(ctx context.Context) error {
			_, err := kubelet.Get(ctx, &apiv1.GetRequest{Resource: "nodes", Name: "n1"})
			return err
		})
		fast("the scheduler's list of pods", func(ctx context.Context) error {
			_, err := scheduler.List(ctx, &apiv1.ListRequest{Resource: "pods", ResourceVersion: "0"})
			return err
		})
		fast("the admin's get", func(ctx context.Context) error {
			_, err := admin.Get(ctx, &apiv1.GetRequest{Resource: "namespaces", Name: "default"})
			return err
		})
	}

	// alice shares global-default's one seat with the flood, but her flow
	// is served in turn with the flood's: she waits for the List running
	// and at most the flood's next one, not for the fifty queued.
	alice := apiv1.NewAPIClient(rawConn(t, s, "alice"))
	review, err := scheme.Pack(&authnv1.SelfSubjectReview{})
	if err != nil {
		t.Fatal(err)
	}
	before := finished.Load()
	if _, err := alice.Create(ctx, &apiv1.CreateRequest{Resource: "selfsubjectreviews", Object: review}); err != nil {
		t.Fatalf("alice during the flood: %v", err)
	}
	if n := finished.Load() - before; n > 2 {
		t.Errorf("alice was served after %d of the flood's queued Lists, want at most 2", n)
	}

	if n := counter(t, "apiserver_flowcontrol_rejected_requests_total", map[string]string{"priority_level": "global-default", "flow_schema": "global-default", "reason": "queue-full"}); n < flood-1-queue {
		t.Errorf("apiserver_flowcontrol_rejected_requests_total{global-default, queue-full} = %v, want at least %d", n, flood-1-queue)
	}
}

// TestWatchLimits: a user's watches beyond --max-watches-per-user are
// refused with ResourceExhausted and a retry hint; open watches hold no
// seat, so the same user's other calls still run on its level's one seat.
func TestWatchLimits(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, []string{"n1"}, func(c *apiserver.Config) {
		c.MaxRequestsInflight, c.MaxMutatingRequestsInflight = 2, 1
		c.MaxWatchesPerUser = 2
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	node, err := scheme.Pack(&corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apiv1.NewAPIClient(rawConn(t, s, pki.AdminName)).Create(ctx, &apiv1.CreateRequest{Resource: "nodes", Object: node}); err != nil {
		t.Fatal(err)
	}
	kubelet := apiv1.NewAPIClient(rawConn(t, s, pki.KubeletClientName("n1")))
	watch := func() (apiv1.API_WatchClient, error) {
		w, err := kubelet.Watch(ctx, &apiv1.WatchRequest{Resource: "nodes", FieldSelector: "metadata.name=n1"})
		if err != nil {
			return nil, err
		}
		_, err = w.Recv()
		return w, err
	}
	for i := range 2 {
		if _, err := watch(); err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
	}
	w, err := watch()
	if w == nil {
		t.Fatalf("a third watch: %v", err)
	}
	checkOverloaded(t, "a third watch", err, w.Trailer())
	if _, err := kubelet.Get(ctx, &apiv1.GetRequest{Resource: "nodes", Name: "n1"}); err != nil {
		t.Errorf("a get with two watches open: %v", err)
	}

	// Health watches (every client's health checking keeps one per
	// connection) are neither watches of the API nor limited: more of
	// them than any limit or level's seats all report SERVING.
	for i := range 5 {
		hw, err := healthpb.NewHealthClient(rawConn(t, s, pki.ProxyName)).Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			var resp *healthpb.HealthCheckResponse
			if resp, err = hw.Recv(); err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				err = fmt.Errorf("status %v", resp.GetStatus())
			}
		}
		if err != nil {
			t.Fatalf("health watch %d: %v", i, err)
		}
	}
}

// counter reads a counter of the default registry (0 when absent).
func counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
