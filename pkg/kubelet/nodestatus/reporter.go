package nodestatus

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/apierrors"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet/metrics"
)

// LeaseNamespace holds the nodes' heartbeat Leases.
const LeaseNamespace = "kube-node-lease"

// Reporter registers a Node, then keeps its status and its Lease fresh:
//
//   - the status is computed every UpdateFrequency (and at once after
//     Trigger) and posted when it changed, or when ReportFrequency passed
//     since the last post;
//   - the Lease kube-node-lease/<node> is renewed every LeaseDuration/4.
//
// One goroutine (Run) does all of it. Set the fields before Run.
type Reporter struct {
	Client *client.Client
	Node   string
	// Labels are set on the Node (added to, or overwriting, its own).
	Labels map[string]string
	// PodCIDR is set on the Node's spec when it has none.
	PodCIDR string
	// Status computes the status from the last one posted (nil at first).
	Status func(prev *corev1.NodeStatus) *corev1.NodeStatus

	UpdateFrequency time.Duration // default 10s
	ReportFrequency time.Duration // default 5m
	LeaseDuration   time.Duration // default 40s

	Clock clock.Clock
	Log   *zap.Logger
	// OnRegistered, if set, is called with the Node once registered.
	OnRegistered func(*corev1.Node)

	once     sync.Once
	wake     chan struct{}
	mu       sync.Mutex
	node     *corev1.Node
	last     *corev1.NodeStatus
	lastPost time.Time
	lease    *coordinationv1.Lease
}

func (r *Reporter) init() {
	r.once.Do(func() {
		r.wake = make(chan struct{}, 1)
		if r.UpdateFrequency <= 0 {
			r.UpdateFrequency = 10 * time.Second
		}
		if r.ReportFrequency <= 0 {
			r.ReportFrequency = 5 * time.Minute
		}
		if r.LeaseDuration <= 0 {
			r.LeaseDuration = 40 * time.Second
		}
		if r.Clock == nil {
			r.Clock = clock.RealClock{}
		}
		if r.Log == nil {
			r.Log = zap.NewNop()
		}
	})
}

// Trigger makes Run recompute (and post, if changed) the status at once.
func (r *Reporter) Trigger() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Registered returns the Node as last written, nil before registration.
func (r *Reporter) Registered() *corev1.Node {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.node
}

// LastStatus returns the last status posted.
func (r *Reporter) LastStatus() *corev1.NodeStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Run registers the node (retrying), then keeps status and lease fresh
// until ctx ends.
func (r *Reporter) Run(ctx context.Context) {
	r.init()
	delay := 200 * time.Millisecond
	for {
		err := r.register(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		r.Log.Warn("registering the node failed; retrying", zap.String("node", r.Node), zap.Duration("in", delay), zap.Error(err))
		if !r.sleep(ctx, delay) {
			return
		}
		delay = min(delay*2, 7*time.Second)
	}
	// Spread the heartbeats of many hollow nodes over the period.
	renew := r.LeaseDuration / 4
	now := r.Clock.Now()
	nextLease := now
	nextStatus := now.Add(time.Duration(rand.Int64N(int64(r.UpdateFrequency))))
	for {
		now = r.Clock.Now()
		if !now.Before(nextLease) {
			if err := r.renewLease(ctx); err != nil && ctx.Err() == nil {
				r.Log.Warn("renewing the node lease failed", zap.String("node", r.Node), zap.Error(err))
				nextLease = now.Add(min(renew, time.Second))
			} else {
				nextLease = now.Add(renew)
			}
		}
		if !now.Before(nextStatus) {
			r.syncStatus(ctx)
			nextStatus = now.Add(r.UpdateFrequency)
		}
		wait := nextLease.Sub(now)
		if d := nextStatus.Sub(now); d < wait {
			wait = d
		}
		t := r.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C():
		case <-r.wake:
			t.Stop()
			r.syncStatus(ctx)
		}
	}
}

func (r *Reporter) sleep(ctx context.Context, d time.Duration) bool {
	t := r.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

func (r *Reporter) register(ctx context.Context) error {
	nodes := r.Client.Nodes()
	status := r.Status(nil)
	want := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: r.Node, Labels: map[string]string{}},
		Spec:     &corev1.NodeSpec{},
		Status:   status,
	}
	for k, v := range r.Labels {
		want.Metadata.Labels[k] = v
	}
	if r.PodCIDR != "" {
		want.Spec.PodCidr, want.Spec.PodCidrs = r.PodCIDR, []string{r.PodCIDR}
	}
	got, err := nodes.Create(ctx, want, client.CreateOptions{})
	if err == nil {
		r.Log.Info("registered the node", zap.String("node", r.Node))
		r.setNode(got, status)
		return nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	// Already registered (a restart): bring labels and podCIDR up to date,
	// then the status.
	err = client.RetryOnConflict(client.DefaultBackoff, func() error {
		cur, err := nodes.Get(ctx, r.Node)
		if err != nil {
			return err
		}
		next := proto.Clone(cur).(*corev1.Node)
		if next.Metadata.Labels == nil {
			next.Metadata.Labels = map[string]string{}
		}
		for k, v := range r.Labels {
			next.Metadata.Labels[k] = v
		}
		if next.Spec == nil {
			next.Spec = &corev1.NodeSpec{}
		}
		if next.Spec.PodCidr == "" && r.PodCIDR != "" {
			next.Spec.PodCidr, next.Spec.PodCidrs = r.PodCIDR, []string{r.PodCIDR}
		}
		if !proto.Equal(next, cur) {
			if cur, err = nodes.Update(ctx, next, client.UpdateOptions{}); err != nil {
				return err
			}
		}
		st := r.Status(cur.GetStatus())
		cur = proto.Clone(cur).(*corev1.Node)
		cur.Status = st
		got, err = nodes.UpdateStatus(ctx, cur, client.UpdateOptions{})
		if err == nil {
			r.setNode(got, st)
		}
		return err
	})
	if err == nil {
		r.Log.Info("node already registered; updated it", zap.String("node", r.Node))
	}
	return err
}

func (r *Reporter) setNode(n *corev1.Node, st *corev1.NodeStatus) {
	r.mu.Lock()
	r.node, r.last, r.lastPost = n, st, r.Clock.Now()
	r.mu.Unlock()
	if r.OnRegistered != nil {
		r.OnRegistered(n)
	}
}

// syncStatus computes the status and posts it if it changed or is due.
func (r *Reporter) syncStatus(ctx context.Context) {
	r.mu.Lock()
	last, node, lastPost := r.last, r.node, r.lastPost
	r.mu.Unlock()
	st := r.Status(last)
	if !Changed(st, last) && r.Clock.Since(lastPost) < r.ReportFrequency {
		return
	}
	next := proto.Clone(node).(*corev1.Node)
	next.Status = st
	got, err := r.Client.Nodes().UpdateStatus(ctx, next, client.UpdateOptions{})
	if apierrors.IsConflict(err) {
		var cur *corev1.Node
		if cur, err = r.Client.Nodes().Get(ctx, r.Node); err == nil {
			cur = proto.Clone(cur).(*corev1.Node)
			cur.Status = st
			got, err = r.Client.Nodes().UpdateStatus(ctx, cur, client.UpdateOptions{})
		}
	}
	if apierrors.IsNotFound(err) {
		// The Node was deleted: register it again.
		r.Log.Warn("the node is gone from the API; registering it again", zap.String("node", r.Node))
		if err = r.register(ctx); err == nil {
			return
		}
	}
	if err != nil {
		metrics.NodeStatusUpdates.WithLabelValues("status", "error").Inc()
		if ctx.Err() == nil {
			r.Log.Warn("updating the node status failed", zap.String("node", r.Node), zap.Error(err))
		}
		return
	}
	metrics.NodeStatusUpdates.WithLabelValues("status", "ok").Inc()
	r.mu.Lock()
	r.node, r.last, r.lastPost = got, st, r.Clock.Now()
	r.mu.Unlock()
}

// renewLease renews (or creates) the node's Lease.
func (r *Reporter) renewLease(ctx context.Context) error {
	err := r.renewLeaseOnce(ctx)
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		r.lease = nil // someone else wrote it, or it was deleted: start afresh
		err = r.renewLeaseOnce(ctx)
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	metrics.NodeStatusUpdates.WithLabelValues("lease", result).Inc()
	return err
}

func (r *Reporter) renewLeaseOnce(ctx context.Context) error {
	leases := r.Client.Leases(LeaseNamespace)
	now := timestamppb.New(r.Clock.Now())
	if r.lease == nil {
		cur, err := leases.Get(ctx, r.Node)
		if apierrors.IsNotFound(err) {
			l := &coordinationv1.Lease{
				Metadata: &metav1.ObjectMeta{Name: r.Node, Namespace: LeaseNamespace},
				Spec: &coordinationv1.LeaseSpec{
					HolderIdentity:       proto.String(r.Node),
					LeaseDurationSeconds: proto.Int32(r.leaseSeconds()),
					AcquireTime:          now,
					RenewTime:            now,
				},
			}
			if n := r.Registered(); n != nil {
				l.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "v1", Kind: "Node", Name: r.Node, Uid: n.GetMetadata().GetUid()}}
			}
			got, err := leases.Create(ctx, l, client.CreateOptions{})
			if err != nil {
				return err
			}
			r.lease = got
			return nil
		}
		if err != nil {
			return err
		}
		r.lease = cur
	}
	next := proto.Clone(r.lease).(*coordinationv1.Lease)
	if next.Spec == nil {
		next.Spec = &coordinationv1.LeaseSpec{}
	}
	next.Spec.HolderIdentity = proto.String(r.Node)
	next.Spec.LeaseDurationSeconds = proto.Int32(r.leaseSeconds())
	next.Spec.RenewTime = now
	got, err := leases.Update(ctx, next, client.UpdateOptions{})
	if err != nil {
		return err
	}
	r.lease = got
	return nil
}

// leaseSeconds is LeaseDuration in whole seconds, at least 1.
func (r *Reporter) leaseSeconds() int32 {
	return max(1, int32((r.LeaseDuration+time.Second-1)/time.Second))
}
