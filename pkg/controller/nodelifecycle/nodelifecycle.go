// Package nodelifecycle is the node lifecycle controller: it notices nodes
// whose kubelet stopped reporting, marks their conditions Unknown, taints
// nodes that are not ready or unreachable, marks the pods of such nodes
// not ready, and evicts pods from NoExecute taints they do not tolerate.
//
//   - Heartbeats are the node's Lease renewals and its Ready condition's
//     lastHeartbeatTime. A node is unhealthy when this controller has seen
//     neither change for GracePeriod on its own clock, so a restarted
//     controller (or a control plane back from an outage) gives every node
//     a full grace period before judging it.
//   - Ready False taints the node node.kubernetes.io/not-ready, Ready
//     Unknown node.kubernetes.io/unreachable, each with NoSchedule and
//     NoExecute; Ready True removes them.
//   - The pods of a node whose Ready condition is not True get their own
//     Ready condition False, so they leave their Services' endpoints at
//     once rather than when they are evicted.
//   - A pod on a node with a NoExecute taint is deleted (gracefully) at once
//     if it does not tolerate it, after tolerationSeconds if it does with a
//     limit, never if it does without. Pods with no toleration for the
//     not-ready and unreachable taints are given DefaultTolerationSeconds,
//     as Kubernetes' DefaultTolerationSeconds admission does.
//   - When every node is unhealthy, nothing is evicted for those two taints:
//     the fault is more likely the control plane's view than every node.
//
// Decide is the whole policy, a pure function of one snapshot of the
// caches; a pass takes the snapshot, decides, and writes.
package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
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

// Controller watches nodes. Create it with New, then Run.
type Controller struct {
	cfg    Config
	client *client.Client
	nodes  *informer.Informer[*corev1.Node]
	leases *informer.Informer[*coordinationv1.Lease]
	pods   *informer.Informer[*corev1.Pod]
	probes map[string]Probe // owned by Run's goroutine
}

// New uses f's Node, Lease and Pod informers.
func (cfg Config) withDefaults() Config {
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
	return cfg
}

// New uses f's Node, Lease and Pod informers.
func New(c *client.Client, f *informer.Factory, cfg Config) *Controller {
	cfg = cfg.withDefaults()
	cfg.Logger = cfg.Logger.Named("nodelifecycle")
	return &Controller{cfg: cfg, client: c, nodes: f.Nodes(), leases: f.Leases(), pods: f.Pods(), probes: map[string]Probe{}}
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

// monitor is one pass: read the caches, Decide, write.
func (c *Controller) monitor(ctx context.Context) error {
	in := Input{Nodes: c.nodes.Store().List(), Leases: map[string]time.Time{}, Pods: map[string][]*corev1.Pod{},
		Probes: c.probes, Now: c.cfg.Clock.Now()}
	for _, n := range in.Nodes {
		name := n.GetMetadata().GetName()
		if l, ok := c.leases.Store().GetByName(api.NamespaceNodeLease, name); ok {
			in.Leases[name] = l.GetSpec().GetRenewTime().AsTime()
		}
		// Any node may turn Unknown in this pass, and Decide marks the
		// pods of every node not Ready: it gets every node's pods.
		pods, err := c.pods.Store().ByIndex(informer.NodeNameIndex, name)
		if err != nil {
			return err
		}
		in.Pods[name] = pods
	}
	plan := Decide(in, c.cfg)
	c.probes = plan.Probes
	var errs []error
	for _, a := range plan.Nodes {
		n := a.Node
		if a.MarkUnknown != nil {
			updated, err := c.client.Nodes().UpdateStatus(ctx, a.MarkUnknown, client.UpdateOptions{})
			if err != nil {
				errs = append(errs, fmt.Errorf("marking node %s unknown: %w", n.GetMetadata().GetName(), err))
				continue
			}
			c.cfg.Logger.Warn("node stopped reporting", zap.String("node", n.GetMetadata().GetName()))
			n = updated
		}
		if a.Taints != nil {
			next := proto.Clone(n).(*corev1.Node)
			if next.Spec == nil {
				next.Spec = &corev1.NodeSpec{}
			}
			next.Spec.Taints = *a.Taints
			if _, err := c.client.Nodes().Update(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Errorf("tainting node %s: %w", n.GetMetadata().GetName(), err))
			}
		}
	}
	for _, p := range plan.MarkNotReady {
		m := p.GetMetadata()
		if _, err := c.client.Pods(m.GetNamespace()).UpdateStatus(ctx, p, client.UpdateOptions{}); err != nil {
			if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) { // the next pass looks again
				errs = append(errs, fmt.Errorf("marking pod %s/%s not ready: %w", m.GetNamespace(), m.GetName(), err))
			}
			continue
		}
		c.cfg.Logger.Info("marked a pod not ready: its node is not ready", zap.String("pod", m.GetNamespace()+"/"+m.GetName()),
			zap.String("node", p.GetSpec().GetNodeName()))
	}
	for _, p := range plan.Evict {
		m := p.GetMetadata()
		_, _, err := c.client.Pods(m.GetNamespace()).Delete(ctx, m.GetName(), client.DeleteOptions{
			Preconditions: &client.Preconditions{UID: m.GetUid()}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("evicting pod %s/%s: %w", m.GetNamespace(), m.GetName(), err))
			continue
		}
		c.cfg.Logger.Info("evicted a pod from a NoExecute taint", zap.String("pod", m.GetNamespace()+"/"+m.GetName()),
			zap.String("node", p.GetSpec().GetNodeName()))
	}
	return errors.Join(errs...)
}
