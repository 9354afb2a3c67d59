// Package nodelifecycle is the node lifecycle controller: it notices nodes
// whose kubelet stopped reporting, marks their conditions Unknown, taints
// nodes that are not ready or unreachable, and evicts pods from NoExecute
// taints they do not tolerate.
//
//   - Heartbeats are the node's Lease renewals and its Ready condition's
//     lastHeartbeatTime. A node is unhealthy when this controller has seen
//     neither change for GracePeriod on its own clock, so a restarted
//     controller (or a control plane back from an outage) gives every node
//     a full grace period before judging it.
//   - Ready False taints the node node.kubernetes.io/not-ready, Ready
//     Unknown node.kubernetes.io/unreachable, each with NoSchedule and
//     NoExecute; Ready True removes them.
//   - A pod on a node with a NoExecute taint is deleted (gracefully) at once
//     if it does not tolerate it, after tolerationSeconds if it does with a
//     limit, never if it does without. Pods with no toleration for the
//     not-ready and unreachable taints are given DefaultTolerationSeconds,
//     as Kubernetes' DefaultTolerationSeconds admission does.
//   - When every node is unhealthy, nothing is evicted for those two taints:
//     the fault is more likely the control plane's view than every node.
package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/apierrors"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/taints"
)

// Taint keys.
const (
	TaintNotReady    = "node.kubernetes.io/not-ready"
	TaintUnreachable = "node.kubernetes.io/unreachable"
	leaseNamespace   = "kube-node-lease"
)

// Config tunes the controller; zero values take the defaults.
type Config struct {
	// MonitorPeriod is how often every node is looked at (5s).
	MonitorPeriod time.Duration
	// GracePeriod is how long a node may go without a heartbeat before it
	// is unhealthy (40s).
	GracePeriod time.Duration
	// DefaultTolerationSeconds is how long pods without a toleration for
	// the not-ready and unreachable taints stay (300).
	DefaultTolerationSeconds int64
	Clock                    clock.Clock
	Logger                   *zap.Logger
}

// probe is the last heartbeat seen of a node, and when (this clock).
type probe struct {
	heartbeat time.Time
	seenAt    time.Time
}

// Controller watches nodes. Create it with New, then Run.
type Controller struct {
	cfg    Config
	client *client.Client
	nodes  *informer.Informer[*corev1.Node]
	leases *informer.Informer[*coordinationv1.Lease]
	pods   *informer.Informer[*corev1.Pod]
	probes map[string]probe // owned by Run's goroutine
}

// New uses f's Node, Lease and Pod informers.
func New(c *client.Client, f *informer.Factory, cfg Config) *Controller {
	if cfg.MonitorPeriod <= 0 {
		cfg.MonitorPeriod = 5 * time.Second
	}
	if cfg.GracePeriod <= 0 {
		cfg.GracePeriod = 40 * time.Second
	}
	if cfg.DefaultTolerationSeconds <= 0 {
		cfg.DefaultTolerationSeconds = 300
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	cfg.Logger = cfg.Logger.Named("nodelifecycle")
	return &Controller{cfg: cfg, client: c, nodes: f.Nodes(), leases: f.Leases(), pods: f.Pods(), probes: map[string]probe{}}
}

// Run looks at every node each MonitorPeriod until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	if !informer.WaitForCacheSync(ctx, c.nodes.HasSynced, c.leases.HasSynced, c.pods.HasSynced) {
		return
	}
	t := time.NewTicker(c.cfg.MonitorPeriod)
	defer t.Stop()
	for {
		if err := c.monitor(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn("node monitoring", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// monitor is one pass: conditions, taints, evictions.
func (c *Controller) monitor(ctx context.Context) error {
	now := c.cfg.Clock.Now()
	nodes := c.nodes.Store().List()
	var errs []error
	unhealthy := 0
	for _, n := range nodes {
		name := n.GetMetadata().GetName()
		hb := ready(n).GetLastHeartbeatTime().AsTime()
		if l, ok := c.leases.Store().GetByName(leaseNamespace, name); ok && l.GetSpec().GetRenewTime().AsTime().After(hb) {
			hb = l.GetSpec().GetRenewTime().AsTime()
		}
		if p, ok := c.probes[name]; !ok || !p.heartbeat.Equal(hb) {
			c.probes[name] = probe{heartbeat: hb, seenAt: now}
		}
		status := ready(n).GetStatus()
		if now.Sub(c.probes[name].seenAt) > c.cfg.GracePeriod && status != "Unknown" {
			updated, err := c.markUnknown(ctx, n, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			n, status = updated, "Unknown"
		}
		if status != "True" {
			unhealthy++
		}
		if err := c.setTaints(ctx, n, status, now); err != nil {
			errs = append(errs, err)
		}
	}
	for name := range c.probes {
		if _, ok := c.nodes.Store().GetByName("", name); !ok {
			delete(c.probes, name)
		}
	}
	fullDisruption := len(nodes) > 0 && unhealthy == len(nodes)
	for _, n := range nodes {
		errs = append(errs, c.evict(ctx, n, now, fullDisruption))
	}
	return errors.Join(errs...)
}

func ready(n *corev1.Node) *corev1.NodeCondition {
	for _, cond := range n.GetStatus().GetConditions() {
		if cond.GetType() == "Ready" {
			return cond
		}
	}
	return nil
}

// markUnknown sets the node's kubelet-reported conditions to Unknown and
// returns the node as written.
func (c *Controller) markUnknown(ctx context.Context, n *corev1.Node, now time.Time) (*corev1.Node, error) {
	next := proto.Clone(n).(*corev1.Node)
	if next.Status == nil {
		next.Status = &corev1.NodeStatus{}
	}
	if ready(next) == nil {
		next.Status.Conditions = append(next.Status.Conditions, &corev1.NodeCondition{Type: "Ready"})
	}
	for _, cond := range next.Status.Conditions {
		if cond.GetStatus() != "Unknown" {
			cond.LastTransitionTime = timestamppb.New(now)
		}
		cond.Status, cond.Reason, cond.Message = "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
	}
	updated, err := c.client.Nodes().UpdateStatus(ctx, next, client.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("marking node %s unknown: %w", n.GetMetadata().GetName(), err)
	}
	c.cfg.Logger.Warn("node stopped reporting", zap.String("node", n.GetMetadata().GetName()))
	return updated, nil
}

// setTaints makes the not-ready and unreachable taints match the node's
// Ready status.
func (c *Controller) setTaints(ctx context.Context, n *corev1.Node, status string, now time.Time) error {
	want := map[string]string{"False": TaintNotReady, "Unknown": TaintUnreachable}[status]
	cur := n.GetSpec().GetTaints()
	next := slices.DeleteFunc(slices.Clone(cur), func(t *corev1.Taint) bool {
		return (t.GetKey() == TaintNotReady || t.GetKey() == TaintUnreachable) && t.GetKey() != want
	})
	if want != "" {
		for _, effect := range []string{"NoSchedule", "NoExecute"} {
			if !slices.ContainsFunc(next, func(t *corev1.Taint) bool { return t.GetKey() == want && t.GetEffect() == effect }) {
				next = append(next, &corev1.Taint{Key: want, Effect: effect, TimeAdded: timestamppb.New(now)})
			}
		}
	}
	if len(next) == len(cur) && !slices.ContainsFunc(next, func(t *corev1.Taint) bool { return !slices.Contains(cur, t) }) {
		return nil
	}
	node := proto.Clone(n).(*corev1.Node)
	if node.Spec == nil {
		node.Spec = &corev1.NodeSpec{}
	}
	node.Spec.Taints = next
	if _, err := c.client.Nodes().Update(ctx, node, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("tainting node %s: %w", n.GetMetadata().GetName(), err)
	}
	return nil
}

// evict deletes the node's pods whose time under its NoExecute taints is up.
func (c *Controller) evict(ctx context.Context, n *corev1.Node, now time.Time, fullDisruption bool) error {
	var noExec []*corev1.Taint
	for _, t := range n.GetSpec().GetTaints() {
		if t.GetEffect() != "NoExecute" {
			continue
		}
		if fullDisruption && (t.GetKey() == TaintNotReady || t.GetKey() == TaintUnreachable) {
			continue
		}
		noExec = append(noExec, t)
	}
	if len(noExec) == 0 {
		return nil
	}
	pods, _ := c.pods.Store().ByIndex(informer.NodeNameIndex, n.GetMetadata().GetName())
	var errs []error
	for _, p := range pods {
		if p.GetMetadata().GetDeletionTimestamp() != nil || !c.due(p, noExec, now) {
			continue
		}
		_, _, err := c.client.Pods(p.GetMetadata().GetNamespace()).Delete(ctx, p.GetMetadata().GetName(), client.DeleteOptions{
			Preconditions: &client.Preconditions{UID: p.GetMetadata().GetUid()}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("evicting pod %s/%s: %w", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), err))
			continue
		}
		c.cfg.Logger.Info("evicted a pod from a NoExecute taint", zap.String("pod", p.GetMetadata().GetNamespace()+"/"+p.GetMetadata().GetName()),
			zap.String("node", n.GetMetadata().GetName()))
	}
	return errors.Join(errs...)
}

// due reports whether the pod's time under any of the taints is up.
func (c *Controller) due(p *corev1.Pod, noExec []*corev1.Taint, now time.Time) bool {
	for _, t := range noExec {
		var matching []*corev1.Toleration
		for _, tol := range p.GetSpec().GetTolerations() {
			if taints.Tolerates(tol, t) {
				matching = append(matching, tol)
			}
		}
		limit := int64(-1) // tolerated for ever
		switch {
		case len(matching) == 0 && (t.GetKey() == TaintNotReady || t.GetKey() == TaintUnreachable):
			limit = c.cfg.DefaultTolerationSeconds
		case len(matching) == 0:
			return true
		default:
			for _, tol := range matching {
				if tol.TolerationSeconds == nil {
					limit = -1
					break
				}
				limit = max(limit, tol.GetTolerationSeconds())
			}
		}
		if limit >= 0 && !now.Before(t.GetTimeAdded().AsTime().Add(time.Duration(limit)*time.Second)) {
			return true
		}
	}
	return false
}
