// Package leaderelection elects one leader among the replicas of a daemon
// (scheduler, controller manager) through a coordination.k8s.io/v1 Lease
// stored by the apiserver.
//
// Protocol. The lease names its holder and when the holder last renewed it.
// A candidate takes the lease when it is free (no holder: released), held by
// itself, or expired; the leader renews it every RetryPeriod. Every write
// carries the resourceVersion the candidate read, so of two candidates that
// race for the same lease at most one write succeeds: there are never two
// holders. leaseTransitions counts changes of holder.
//
// Expiry. A lease held by another candidate is expired when its renewTime
// plus LeaseDuration is before now AND this candidate has seen the lease
// unchanged (same resourceVersion) for LeaseDuration. The second condition
// makes expiry independent of clock skew between machines (only clock rates
// matter); its cost is that a candidate that starts while a dead leader's
// lease is still recorded waits one LeaseDuration before taking over.
//
// Stepping down. A leader that has not renewed successfully for
// RenewDeadline (< LeaseDuration) stops leading: it cancels the context
// given to OnStartedLeading and calls OnStoppedLeading. Another candidate
// can take over only LeaseDuration after that last renewal, so the old
// leader has LeaseDuration - RenewDeadline to notice (its work must stop
// promptly when the context is cancelled). On a clean shutdown (Run's
// context cancelled) the leader cancels its work, waits for OnStartedLeading
// to return, calls OnStoppedLeading and then releases the lease (clears
// holderIdentity), so that a standby takes over at once.
package leaderelection

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/apierrors"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
)

// Defaults, as in Kubernetes.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// LeaseClient reads and writes Leases of one namespace;
// *client.Resource[*coordinationv1.Lease] (Client.Leases(ns)) is one.
type LeaseClient interface {
	Get(ctx context.Context, name string) (*coordinationv1.Lease, error)
	Create(ctx context.Context, lease *coordinationv1.Lease, opts client.CreateOptions) (*coordinationv1.Lease, error)
	Update(ctx context.Context, lease *coordinationv1.Lease, opts client.UpdateOptions) (*coordinationv1.Lease, error)
}

// LeaseLock names the Lease the election runs on.
type LeaseLock struct {
	// Leases is the lease client of the lease's namespace.
	Leases LeaseClient
	// Name is the Lease's name (usually the daemon's: "keel-scheduler").
	Name string
}

// NewLeaseLock is the lock on Lease namespace/name through c.
func NewLeaseLock(c *client.Client, namespace, name string) LeaseLock {
	return LeaseLock{Leases: c.Leases(namespace), Name: name}
}

// Callbacks are the election's hooks.
type Callbacks struct {
	// OnStartedLeading runs, in its own goroutine, when this candidate
	// becomes the leader. ctx is cancelled when leadership ends; the
	// function must then stop its work promptly and return. Required.
	OnStartedLeading func(ctx context.Context)
	// OnStoppedLeading is called when leadership ends (lost, or given up
	// on shutdown). Optional.
	OnStoppedLeading func()
	// OnNewLeader is called, from its own goroutine and in order, with the
	// identity of each new holder observed, including this candidate's.
	// Optional.
	OnNewLeader func(identity string)
}

// Config configures an election.
type Config struct {
	Lock LeaseLock
	// Identity is this candidate's unique name (for example hostname_uid).
	Identity string
	// LeaseDuration is how long a lease is valid after its last renewal
	// (default 15s); RenewDeadline how long the leader keeps leading
	// without a successful renewal (default 10s); RetryPeriod how often
	// candidates try to acquire and the leader renews (default 2s).
	// LeaseDuration > RenewDeadline > RetryPeriod.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	Callbacks     Callbacks
	// Clock is the time source (default: the real clock).
	Clock clock.Clock
	// Logger (default: none).
	Logger *zap.Logger
}

// LeaderElector runs one candidate.
type LeaderElector struct {
	cfg   Config
	clock clock.Clock
	log   *zap.Logger

	leading atomic.Bool

	mu           sync.Mutex
	observed     *coordinationv1.Lease // last lease read or written
	observedTime time.Time             // when observed's resourceVersion was first seen
	leader       string                // holder of observed

	// OnNewLeader delivery.
	nmu      sync.Mutex
	nPending *string
	nWake    chan struct{}
}

// New checks cfg, applies defaults and returns a candidate.
func New(cfg Config) (*LeaderElector, error) {
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = DefaultLeaseDuration
	}
	if cfg.RenewDeadline == 0 {
		cfg.RenewDeadline = DefaultRenewDeadline
	}
	if cfg.RetryPeriod == 0 {
		cfg.RetryPeriod = DefaultRetryPeriod
	}
	switch {
	case cfg.Lock.Leases == nil:
		return nil, errors.New("leaderelection: Lock.Leases is required")
	case cfg.Lock.Name == "":
		return nil, errors.New("leaderelection: Lock.Name is required")
	case cfg.Identity == "":
		return nil, errors.New("leaderelection: Identity is required")
	case cfg.Callbacks.OnStartedLeading == nil:
		return nil, errors.New("leaderelection: Callbacks.OnStartedLeading is required")
	case cfg.RetryPeriod < 0:
		return nil, errors.New("leaderelection: RetryPeriod must be positive")
	case cfg.RenewDeadline <= cfg.RetryPeriod:
		return nil, fmt.Errorf("leaderelection: RenewDeadline (%v) must be longer than RetryPeriod (%v)", cfg.RenewDeadline, cfg.RetryPeriod)
	case cfg.LeaseDuration <= cfg.RenewDeadline:
		return nil, fmt.Errorf("leaderelection: LeaseDuration (%v) must be longer than RenewDeadline (%v)", cfg.LeaseDuration, cfg.RenewDeadline)
	}
	le := &LeaderElector{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, nWake: make(chan struct{}, 1)}
	if le.clock == nil {
		le.clock = clock.RealClock{}
	}
	if le.log == nil {
		le.log = zap.NewNop()
	}
	le.log = le.log.With(zap.String("lease", cfg.Lock.Name), zap.String("identity", cfg.Identity))
	return le, nil
}

// IsLeader reports whether this candidate currently leads.
func (le *LeaderElector) IsLeader() bool { return le.leading.Load() }

// GetLeader returns the holder last observed ("" if none).
func (le *LeaderElector) GetLeader() string {
	le.mu.Lock()
	defer le.mu.Unlock()
	return le.leader
}

// Run campaigns until this candidate leads, leads until leadership is lost
// or ctx ends, and returns. A process usually exits when Run returns (a
// fresh process campaigns again); calling Run again also works.
func (le *LeaderElector) Run(ctx context.Context) {
	nctx, stopNotifier := context.WithCancel(context.Background())
	var nwg sync.WaitGroup
	if le.cfg.Callbacks.OnNewLeader != nil {
		nwg.Add(1)
		go func() {
			defer nwg.Done()
			le.notifyLoop(nctx)
		}()
	}
	defer func() {
		stopNotifier()
		nwg.Wait()
	}()

	lastRenew, ok := le.acquire(ctx)
	if !ok {
		return
	}
	le.log.Info("became leader")
	le.leading.Store(true)
	leadCtx, cancelLead := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		le.cfg.Callbacks.OnStartedLeading(leadCtx)
	}()

	lost := le.renew(ctx, lastRenew)
	cancelLead()
	if lost {
		le.log.Warn("leadership lost: stepping down")
		le.leading.Store(false)
		if le.cfg.Callbacks.OnStoppedLeading != nil {
			le.cfg.Callbacks.OnStoppedLeading()
		}
		return
	}
	// Clean shutdown: let the work finish, then hand the lease over.
	<-done
	le.leading.Store(false)
	if le.cfg.Callbacks.OnStoppedLeading != nil {
		le.cfg.Callbacks.OnStoppedLeading()
	}
	le.release()
}

// acquire tries every RetryPeriod (with a little jitter) until it holds the
// lease or ctx ends; it returns the renewTime it wrote.
func (le *LeaderElector) acquire(ctx context.Context) (time.Time, bool) {
	for {
		actx, cancel := context.WithTimeout(ctx, le.cfg.RenewDeadline)
		t, ok := le.tryAcquireOrRenew(actx)
		cancel()
		if ok {
			return t, true
		}
		d := le.cfg.RetryPeriod + time.Duration(rand.Float64()*0.2*float64(le.cfg.RetryPeriod))
		if !le.sleep(ctx, d) {
			return time.Time{}, false
		}
	}
}

// renew renews every RetryPeriod until ctx ends (false) or leadership is
// lost (true): no successful renewal within RenewDeadline, or another
// holder observed.
func (le *LeaderElector) renew(ctx context.Context, lastRenew time.Time) (lost bool) {
	for {
		if !le.sleep(ctx, le.cfg.RetryPeriod) {
			return false
		}
		deadline := lastRenew.Add(le.cfg.RenewDeadline)
		remaining := deadline.Sub(le.clock.Now())
		if remaining <= 0 {
			return true
		}
		rctx, cancel := context.WithTimeout(ctx, remaining)
		t, ok := le.tryAcquireOrRenew(rctx)
		cancel()
		if ok {
			lastRenew = t
			continue
		}
		if ctx.Err() != nil {
			return false
		}
		if h := le.GetLeader(); h != "" && h != le.cfg.Identity {
			return true // someone else holds it now
		}
		if !le.clock.Now().Before(deadline) {
			return true
		}
	}
}

// sleep waits d on the clock; false if ctx ended first.
func (le *LeaderElector) sleep(ctx context.Context, d time.Duration) bool {
	t := le.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// tryAcquireOrRenew makes one attempt; on success it returns the renewTime
// written.
func (le *LeaderElector) tryAcquireOrRenew(ctx context.Context) (time.Time, bool) {
	now := le.clock.Now()
	leases := le.cfg.Lock.Leases
	lease, err := leases.Get(ctx, le.cfg.Lock.Name)
	if apierrors.IsNotFound(err) {
		created, err := leases.Create(ctx, &coordinationv1.Lease{
			Metadata: &metav1.ObjectMeta{Name: le.cfg.Lock.Name},
			Spec: &coordinationv1.LeaseSpec{
				HolderIdentity:       proto.String(le.cfg.Identity),
				LeaseDurationSeconds: proto.Int32(le.durationSeconds()),
				AcquireTime:          timestamppb.New(now),
				RenewTime:            timestamppb.New(now),
				LeaseTransitions:     proto.Int32(0),
			},
		}, client.CreateOptions{})
		if err != nil {
			le.log.Debug("creating the lease failed", zap.Error(err))
			return time.Time{}, false
		}
		le.observe(created, now)
		return now, true
	}
	if err != nil {
		le.log.Debug("reading the lease failed", zap.Error(err))
		return time.Time{}, false
	}
	le.observe(lease, now)
	holder := lease.GetSpec().GetHolderIdentity()
	if holder != "" && holder != le.cfg.Identity && !le.expired(lease, now) {
		return time.Time{}, false
	}
	next := proto.Clone(lease).(*coordinationv1.Lease)
	if next.Spec == nil {
		next.Spec = &coordinationv1.LeaseSpec{}
	}
	if holder != le.cfg.Identity {
		next.Spec.AcquireTime = timestamppb.New(now)
		next.Spec.LeaseTransitions = proto.Int32(lease.GetSpec().GetLeaseTransitions() + 1)
	}
	if next.Spec.LeaseTransitions == nil {
		next.Spec.LeaseTransitions = proto.Int32(0)
	}
	next.Spec.HolderIdentity = proto.String(le.cfg.Identity)
	next.Spec.LeaseDurationSeconds = proto.Int32(le.durationSeconds())
	next.Spec.RenewTime = timestamppb.New(now)
	updated, err := leases.Update(ctx, next, client.UpdateOptions{})
	if err != nil {
		le.log.Debug("writing the lease failed", zap.Error(err))
		return time.Time{}, false
	}
	le.observe(updated, now)
	return now, true
}

// expired: see the package doc.
func (le *LeaderElector) expired(lease *coordinationv1.Lease, now time.Time) bool {
	renew := lease.GetSpec().GetRenewTime()
	if renew == nil {
		renew = lease.GetSpec().GetAcquireTime()
	}
	if renew != nil && !now.After(renew.AsTime().Add(le.cfg.LeaseDuration)) {
		return false
	}
	le.mu.Lock()
	defer le.mu.Unlock()
	return now.After(le.observedTime.Add(le.cfg.LeaseDuration))
}

// observe records a lease read or written at now.
func (le *LeaderElector) observe(lease *coordinationv1.Lease, now time.Time) {
	holder := lease.GetSpec().GetHolderIdentity()
	le.mu.Lock()
	if le.observed == nil || le.observed.GetMetadata().GetResourceVersion() != lease.GetMetadata().GetResourceVersion() {
		le.observed = lease
		le.observedTime = now
	}
	changed := holder != le.leader
	le.leader = holder
	le.mu.Unlock()
	if changed && holder != "" && le.cfg.Callbacks.OnNewLeader != nil {
		le.nmu.Lock()
		le.nPending = &holder
		le.nmu.Unlock()
		select {
		case le.nWake <- struct{}{}:
		default:
		}
	}
}

func (le *LeaderElector) notifyLoop(ctx context.Context) {
	last := ""
	deliver := func() {
		le.nmu.Lock()
		p := le.nPending
		le.nPending = nil
		le.nmu.Unlock()
		if p != nil && *p != last {
			last = *p
			le.cfg.Callbacks.OnNewLeader(*p)
		}
	}
	for {
		select {
		case <-ctx.Done():
			deliver() // what was observed before Run returned
			return
		case <-le.nWake:
			deliver()
		}
	}
}

// release clears holderIdentity of a lease this candidate still holds, so
// that another candidate takes it at once. A renewal cancelled by the
// shutdown may have been applied unseen; a conflict therefore re-reads the
// lease and tries again while it still names this candidate.
func (le *LeaderElector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), le.cfg.RenewDeadline)
	defer cancel()
	le.mu.Lock()
	lease := le.observed
	le.mu.Unlock()
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			var err error
			if lease, err = le.cfg.Lock.Leases.Get(ctx, le.cfg.Lock.Name); err != nil {
				le.log.Warn("releasing the lease failed; it will expire instead", zap.Error(err))
				return
			}
		}
		if lease == nil || lease.GetSpec().GetHolderIdentity() != le.cfg.Identity {
			return
		}
		now := le.clock.Now()
		next := proto.Clone(lease).(*coordinationv1.Lease)
		next.Spec.HolderIdentity = proto.String("")
		next.Spec.LeaseDurationSeconds = proto.Int32(1)
		next.Spec.AcquireTime = timestamppb.New(now)
		next.Spec.RenewTime = timestamppb.New(now)
		updated, err := le.cfg.Lock.Leases.Update(ctx, next, client.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			le.log.Warn("releasing the lease failed; it will expire instead", zap.Error(err))
			return
		}
		le.observe(updated, now)
		le.log.Info("released the lease")
		return
	}
}

func (le *LeaderElector) durationSeconds() int32 {
	s := math.Ceil(le.cfg.LeaseDuration.Seconds())
	if s < 1 {
		s = 1
	}
	return int32(s)
}

// Flags are the command-line settings of a daemon's leader election.
type Flags struct {
	LeaderElect       bool
	LeaseDuration     time.Duration
	RenewDeadline     time.Duration
	RetryPeriod       time.Duration
	ResourceName      string
	ResourceNamespace string
}

// AddFlags registers --leader-elect and --leader-elect-* on fs, with
// defaultName as the default lease name (for example "keel-scheduler").
func (f *Flags) AddFlags(fs *pflag.FlagSet, defaultName string) {
	fs.BoolVar(&f.LeaderElect, "leader-elect", true, "run as one of several replicas, of which only the elected leader works")
	fs.DurationVar(&f.LeaseDuration, "leader-elect-lease-duration", DefaultLeaseDuration, "how long standbys wait after the leader's last renewal before taking over")
	fs.DurationVar(&f.RenewDeadline, "leader-elect-renew-deadline", DefaultRenewDeadline, "how long the leader keeps leading without a successful renewal; less than the lease duration")
	fs.DurationVar(&f.RetryPeriod, "leader-elect-retry-period", DefaultRetryPeriod, "how often candidates try to acquire and the leader renews")
	fs.StringVar(&f.ResourceName, "leader-elect-resource-name", defaultName, "name of the Lease object of the election")
	fs.StringVar(&f.ResourceNamespace, "leader-elect-resource-namespace", "kube-system", "namespace of the Lease object of the election")
}

// Config returns the election configuration the flags describe.
func (f *Flags) Config(c *client.Client, identity string, cb Callbacks) Config {
	return Config{
		Lock:          NewLeaseLock(c, f.ResourceNamespace, f.ResourceName),
		Identity:      identity,
		LeaseDuration: f.LeaseDuration,
		RenewDeadline: f.RenewDeadline,
		RetryPeriod:   f.RetryPeriod,
		Callbacks:     cb,
	}
}

// Run runs work as the flags say: at once when leader election is off;
// else only while this process, identity, holds the lease. It returns when
// ctx ends (nil), or with an error when the lease is lost: the daemon then
// exits, so that a fresh process campaigns again from a clean state.
func (f *Flags) Run(ctx context.Context, c *client.Client, identity string, log *zap.Logger, work func(ctx context.Context)) error {
	if !f.LeaderElect {
		work(ctx)
		return nil
	}
	cfg := f.Config(c, identity, Callbacks{
		OnStartedLeading: work,
		OnNewLeader: func(id string) {
			log.Info("leader", zap.String("identity", id), zap.Bool("self", id == identity))
		},
	})
	cfg.Logger = log
	le, err := New(cfg)
	if err != nil {
		return err
	}
	le.Run(ctx)
	if ctx.Err() == nil {
		return errors.New("leader election lost")
	}
	return nil
}
