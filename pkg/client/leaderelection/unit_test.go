package leaderelection

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	clocktesting "k8s.io/utils/clock/testing"

	"keel.dev/keel/pkg/apierrors"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/internal/clienttest"
)

// fakeLeases is an in-memory lease store with the apiserver's optimistic
// concurrency, and a switch that makes every call fail.
type fakeLeases struct {
	mu     sync.Mutex
	leases map[string]*coordinationv1.Lease
	rv     int
	fail   atomic.Bool
	writes int
}

func newFakeLeases() *fakeLeases { return &fakeLeases{leases: map[string]*coordinationv1.Lease{}} }

func (f *fakeLeases) Get(_ context.Context, name string) (*coordinationv1.Lease, error) {
	if f.fail.Load() {
		return nil, apierrors.Unavailable("injected failure")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.leases[name]
	if !ok {
		return nil, apierrors.NotFound("leases", name)
	}
	return proto.Clone(l).(*coordinationv1.Lease), nil
}

func (f *fakeLeases) Create(_ context.Context, l *coordinationv1.Lease, _ client.CreateOptions) (*coordinationv1.Lease, error) {
	if f.fail.Load() {
		return nil, apierrors.Unavailable("injected failure")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := l.GetMetadata().GetName()
	if _, ok := f.leases[name]; ok {
		return nil, apierrors.AlreadyExists("leases", name)
	}
	f.rv++
	f.writes++
	l = proto.Clone(l).(*coordinationv1.Lease)
	l.Metadata.ResourceVersion = strconv.Itoa(f.rv)
	f.leases[name] = l
	return proto.Clone(l).(*coordinationv1.Lease), nil
}

func (f *fakeLeases) Update(_ context.Context, l *coordinationv1.Lease, _ client.UpdateOptions) (*coordinationv1.Lease, error) {
	if f.fail.Load() {
		return nil, apierrors.Unavailable("injected failure")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := l.GetMetadata().GetName()
	cur, ok := f.leases[name]
	if !ok {
		return nil, apierrors.NotFound("leases", name)
	}
	if cur.GetMetadata().GetResourceVersion() != l.GetMetadata().GetResourceVersion() {
		return nil, apierrors.ConflictModified("leases", name)
	}
	f.rv++
	f.writes++
	l = proto.Clone(l).(*coordinationv1.Lease)
	l.Metadata.ResourceVersion = strconv.Itoa(f.rv)
	f.leases[name] = l
	return proto.Clone(l).(*coordinationv1.Lease), nil
}

func (f *fakeLeases) lease(t *testing.T) *coordinationv1.Lease {
	t.Helper()
	l, err := f.Get(context.Background(), "lock")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

const (
	ld = 15 * time.Second
	rd = 10 * time.Second
	rp = 2 * time.Second
)

func candidate(t *testing.T, leases LeaseClient, id string, clk *clocktesting.FakeClock, cb Callbacks) *LeaderElector {
	t.Helper()
	if cb.OnStartedLeading == nil {
		cb.OnStartedLeading = func(context.Context) {}
	}
	le, err := New(Config{Lock: LeaseLock{Leases: leases, Name: "lock"}, Identity: id, Callbacks: cb, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return le
}

func TestConfigValidation(t *testing.T) {
	f := newFakeLeases()
	start := func(context.Context) {}
	bad := []Config{
		{Lock: LeaseLock{Name: "l"}, Identity: "a", Callbacks: Callbacks{OnStartedLeading: start}},
		{Lock: LeaseLock{Leases: f}, Identity: "a", Callbacks: Callbacks{OnStartedLeading: start}},
		{Lock: LeaseLock{Leases: f, Name: "l"}, Callbacks: Callbacks{OnStartedLeading: start}},
		{Lock: LeaseLock{Leases: f, Name: "l"}, Identity: "a"},
		{Lock: LeaseLock{Leases: f, Name: "l"}, Identity: "a", Callbacks: Callbacks{OnStartedLeading: start}, LeaseDuration: time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: time.Millisecond},
		{Lock: LeaseLock{Leases: f, Name: "l"}, Identity: "a", Callbacks: Callbacks{OnStartedLeading: start}, LeaseDuration: 3 * time.Second, RenewDeadline: time.Second, RetryPeriod: time.Second},
	}
	for i, cfg := range bad {
		if _, err := New(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
	le, err := New(Config{Lock: LeaseLock{Leases: f, Name: "l"}, Identity: "a", Callbacks: Callbacks{OnStartedLeading: start}})
	if err != nil {
		t.Fatal(err)
	}
	if le.cfg.LeaseDuration != ld || le.cfg.RenewDeadline != rd || le.cfg.RetryPeriod != rp {
		t.Fatalf("defaults: %v %v %v", le.cfg.LeaseDuration, le.cfg.RenewDeadline, le.cfg.RetryPeriod)
	}
}

// TestAcquireRenewExpire walks the lease through its states with a fake
// clock.
func TestAcquireRenewExpire(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	f := newFakeLeases()
	a := candidate(t, f, "a", clk, Callbacks{})
	b := candidate(t, f, "b", clk, Callbacks{})
	ctx := context.Background()

	// No lease: a creates it.
	if _, ok := a.tryAcquireOrRenew(ctx); !ok {
		t.Fatal("a did not create the lease")
	}
	l := f.lease(t)
	if l.GetSpec().GetHolderIdentity() != "a" || l.GetSpec().GetLeaseTransitions() != 0 || l.GetSpec().GetLeaseDurationSeconds() != 15 {
		t.Fatalf("created lease: %v", l)
	}
	// Held and fresh: b cannot take it.
	if _, ok := b.tryAcquireOrRenew(ctx); ok {
		t.Fatal("b took a fresh lease")
	}
	if b.GetLeader() != "a" {
		t.Fatalf("b sees leader %q", b.GetLeader())
	}
	// a renews.
	clk.Step(rp)
	if _, ok := a.tryAcquireOrRenew(ctx); !ok {
		t.Fatal("a could not renew")
	}
	if got := f.lease(t).GetSpec().GetRenewTime().AsTime(); !got.Equal(clk.Now()) {
		t.Fatalf("renewTime %v, want %v", got, clk.Now())
	}
	if _, ok := b.tryAcquireOrRenew(ctx); ok { // b observes the renewal now
		t.Fatal("b took a renewed lease")
	}
	// a dies. Just before expiry b still waits; just after it takes over.
	clk.Step(ld)
	if _, ok := b.tryAcquireOrRenew(ctx); ok {
		t.Fatal("b took the lease at exactly renewTime+leaseDuration")
	}
	clk.Step(time.Millisecond)
	if _, ok := b.tryAcquireOrRenew(ctx); !ok {
		t.Fatal("b did not take an expired lease")
	}
	l = f.lease(t)
	if l.GetSpec().GetHolderIdentity() != "b" || l.GetSpec().GetLeaseTransitions() != 1 || !l.GetSpec().GetAcquireTime().AsTime().Equal(clk.Now()) {
		t.Fatalf("after takeover: %v", l)
	}
	// a comes back: the lease is b's and fresh.
	if _, ok := a.tryAcquireOrRenew(ctx); ok {
		t.Fatal("a took b's fresh lease")
	}
	// b renews: no new transition.
	clk.Step(rp)
	if _, ok := b.tryAcquireOrRenew(ctx); !ok {
		t.Fatal("b could not renew")
	}
	if f.lease(t).GetSpec().GetLeaseTransitions() != 1 {
		t.Fatal("renewal counted as a transition")
	}

	// b releases: anyone may take the lease at once.
	b.release()
	if h := f.lease(t).GetSpec().GetHolderIdentity(); h != "" {
		t.Fatalf("holder after release %q", h)
	}
	if _, ok := a.tryAcquireOrRenew(ctx); !ok {
		t.Fatal("a could not take a released lease")
	}
	if l := f.lease(t); l.GetSpec().GetHolderIdentity() != "a" || l.GetSpec().GetLeaseTransitions() != 2 {
		t.Fatalf("after release and acquire: %v", l)
	}
}

// TestExpiryNeedsObservation: a candidate that first sees a lease whose
// renewTime is long past still waits one lease duration from its own
// observation (clock skew protection).
func TestExpiryNeedsObservation(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	f := newFakeLeases()
	a := candidate(t, f, "a", clk, Callbacks{})
	if _, ok := a.tryAcquireOrRenew(context.Background()); !ok {
		t.Fatal("a did not acquire")
	}
	clk.Step(time.Hour)
	c := candidate(t, f, "c", clk, Callbacks{})
	if _, ok := c.tryAcquireOrRenew(context.Background()); ok {
		t.Fatal("c took the lease on its first observation")
	}
	clk.Step(ld + time.Millisecond)
	if _, ok := c.tryAcquireOrRenew(context.Background()); !ok {
		t.Fatal("c did not take the lease after observing it unchanged for a lease duration")
	}
}

// waitForTimer waits (in real time) until the candidate's loop is blocked
// on the fake clock, or done is closed (false).
func waitForTimer(t *testing.T, clk *clocktesting.FakeClock, done <-chan struct{}) bool {
	t.Helper()
	ok := true
	clienttest.Eventually(t, 10*time.Second, func() bool {
		select {
		case <-done:
			ok = false
			return true
		default:
		}
		return clk.HasWaiters()
	}, "the candidate never waited on the clock")
	return ok
}

// TestStepDownOnRenewDeadline: with renewals failing, the leader keeps
// leading until RenewDeadline after its last renewal, then stops, and
// before anyone else could take the lease.
func TestStepDownOnRenewDeadline(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	f := newFakeLeases()
	var started atomic.Bool
	var stoppedAt atomic.Value
	leadCtxDone := make(chan struct{})
	le := candidate(t, f, "a", clk, Callbacks{
		OnStartedLeading: func(ctx context.Context) {
			started.Store(true)
			<-ctx.Done()
			close(leadCtxDone)
		},
		OnStoppedLeading: func() {
			stoppedAt.Store(clk.Now())
		},
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		le.Run(context.Background())
	}()
	// Acquired at once; one successful renewal.
	waitForTimer(t, clk, done)
	if !le.IsLeader() {
		t.Fatal("not leading")
	}
	clk.Step(rp)
	waitForTimer(t, clk, done)
	lastRenew := f.lease(t).GetSpec().GetRenewTime().AsTime()
	if !lastRenew.Equal(clk.Now()) {
		t.Fatalf("no renewal: renewTime %v, now %v", lastRenew, clk.Now())
	}
	f.fail.Store(true)
	for waitForTimer(t, clk, done) {
		if !le.IsLeader() {
			t.Fatalf("not leading while still renewing, %v after the last renewal", clk.Now().Sub(lastRenew))
		}
		clk.Step(rp)
	}
	<-done
	at := stoppedAt.Load().(time.Time)
	if d := at.Sub(lastRenew); d < rd || d >= ld {
		t.Fatalf("stepped down %v after the last renewal; want in [%v, %v)", d, rd, ld)
	}
	<-leadCtxDone
	if le.IsLeader() {
		t.Fatal("still leader")
	}
	// Nothing was released (it could not be): the lease still names a.
	f.fail.Store(false)
	if h := f.lease(t).GetSpec().GetHolderIdentity(); h != "a" {
		t.Fatalf("holder %q", h)
	}
}

// TestReleaseOnCancel: cancelling Run waits for the leader's work, calls
// OnStoppedLeading, then clears the holder.
func TestReleaseOnCancel(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	f := newFakeLeases()
	var order []string
	var mu sync.Mutex
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	var leaders []string
	le := candidate(t, f, "a", clk, Callbacks{
		OnStartedLeading: func(ctx context.Context) {
			note("started")
			<-ctx.Done()
			note("work done")
		},
		OnStoppedLeading: func() {
			if h := f.lease(t).GetSpec().GetHolderIdentity(); h != "a" {
				t.Errorf("lease released before OnStoppedLeading: holder %q", h)
			}
			note("stopped")
		},
		OnNewLeader: func(id string) {
			mu.Lock()
			leaders = append(leaders, id)
			mu.Unlock()
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		le.Run(ctx)
	}()
	waitForTimer(t, clk, done)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if got := order; len(got) != 3 || got[0] != "started" || got[1] != "work done" || got[2] != "stopped" {
		t.Fatalf("order %q", got)
	}
	if h := f.lease(t).GetSpec().GetHolderIdentity(); h != "" {
		t.Fatalf("holder after release %q", h)
	}
	if len(leaders) != 1 || leaders[0] != "a" {
		t.Fatalf("OnNewLeader calls %q", leaders)
	}
}

// TestReleaseAfterUnseenRenewal: a renewal applied by the server whose
// answer was lost (cancelled by the shutdown) leaves the candidate with an
// old resourceVersion; release still clears the holder.
func TestReleaseAfterUnseenRenewal(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1_000_000, 0))
	f := newFakeLeases()
	a := candidate(t, f, "a", clk, Callbacks{})
	if _, ok := a.tryAcquireOrRenew(context.Background()); !ok {
		t.Fatal("a did not acquire")
	}
	// The unseen renewal: same holder, new resourceVersion.
	l := f.lease(t)
	l.Spec.RenewTime = nil
	if _, err := f.Update(context.Background(), l, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	a.release()
	if h := f.lease(t).GetSpec().GetHolderIdentity(); h != "" {
		t.Fatalf("holder after release %q", h)
	}
	// A lease held by someone else is left alone.
	b := candidate(t, f, "b", clk, Callbacks{})
	if _, ok := b.tryAcquireOrRenew(context.Background()); !ok {
		t.Fatal("b did not acquire the released lease")
	}
	a.release()
	if h := f.lease(t).GetSpec().GetHolderIdentity(); h != "b" {
		t.Fatalf("a released b's lease: holder %q", h)
	}
}
