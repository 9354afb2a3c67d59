// Package podgc is the pod garbage collector: it force-deletes (grace
// period 0) pods that nothing else will ever remove, the way Kubernetes'
// PodGC controller does:
//
//   - orphaned: the pod is bound to a node that does not exist. A node
//     missing from the cache is first quarantined (Config.Quarantine, 40s)
//     and then confirmed missing by a live read, so a node being
//     re-registered, or a cache that lags, never costs a pod;
//   - out of service: the pod is terminating on a node that is not Ready
//     and is tainted node.kubernetes.io/out-of-service (pods on a merely
//     unreachable node are left alone, as in Kubernetes);
//   - unscheduled terminating: the pod is terminating and bound to no node;
//   - terminated over threshold: with more than Config.TerminatedPodThreshold
//     pods in phase Succeeded or Failed, the oldest beyond it (by
//     creationTimestamp) are deleted.
//
// Decide is the whole policy, a pure function of one snapshot; Run takes
// the snapshots from the informers' caches every Config.Period on one
// goroutine, does the live node reads and the deletes. Every delete carries
// the pod's uid as a precondition, so a pod recreated under the same name
// is never deleted in its predecessor's place.
package podgc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
)

// DefaultTerminatedPodThreshold is Kubernetes' --terminated-pod-gc-threshold.
const DefaultTerminatedPodThreshold = 12500

// Reason says why a pod is deleted; it is the reason label of
// keel_controller_manager_pods_gc_total.
type Reason string

// The reasons, one per rule.
const (
	ReasonOrphaned               Reason = "orphaned"
	ReasonOutOfService           Reason = "out-of-service"
	ReasonUnscheduledTerminating Reason = "unscheduled-terminating"
	ReasonTerminatedOverLimit    Reason = "terminated-over-threshold"
)

// Config tunes the controller. Zero durations take the defaults.
type Config struct {
	// Period is how often the pods are looked at (20s).
	Period time.Duration
	// Quarantine is how long a node must have been missing before its pods
	// count as orphaned (40s).
	Quarantine time.Duration
	// TerminatedPodThreshold is how many Succeeded or Failed pods may
	// exist; 0 keeps them all. New does not default it: pass
	// DefaultTerminatedPodThreshold for Kubernetes' behaviour.
	TerminatedPodThreshold int
	// Clock gives the time and the ticker (the real clock by default).
	Clock  clock.WithTicker
	Logger *zap.Logger
}

func (cfg Config) withDefaults() Config {
	if cfg.Period <= 0 {
		cfg.Period = 20 * time.Second
	}
	if cfg.Quarantine <= 0 {
		cfg.Quarantine = 40 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return cfg
}

// Input is one snapshot to decide on. Decide does not modify it.
type Input struct {
	Pods []*corev1.Pod
	// Nodes are the nodes the cache holds.
	Nodes []*corev1.Node
	// Missing maps each node that a pod names but Nodes lacks to when it
	// was first seen missing (see TrackMissing).
	Missing map[string]time.Time
	// Gone holds the nodes a live read has just found not to exist. A pod
	// is orphaned only when its node is missing from Nodes, has been for
	// the quarantine, and is in Gone.
	Gone map[string]bool
	Now  time.Time
}

// Deletion is a pod to force-delete, identified by uid as well as name.
type Deletion struct {
	Namespace, Name, UID string
	Node                 string
	Reason               Reason
}

// Decide returns the pods to delete and why, at most one Deletion per pod,
// in the order of the rules in the package comment (the terminated pods
// oldest first). Pods already deleted with grace period 0 (held only by
// finalizers) are left out: deleting them again changes nothing.
func Decide(in Input, cfg Config) []Deletion {
	cfg = cfg.withDefaults()
	nodes := make(map[string]*corev1.Node, len(in.Nodes))
	for _, n := range in.Nodes {
		nodes[n.GetMetadata().GetName()] = n
	}
	var out []Deletion
	var terminal []*corev1.Pod
	for _, p := range in.Pods {
		m := p.GetMetadata()
		if m.GetDeletionTimestamp() != nil && m.DeletionGracePeriodSeconds != nil && m.GetDeletionGracePeriodSeconds() == 0 {
			continue
		}
		nodeName := p.GetSpec().GetNodeName()
		node, known := nodes[nodeName]
		terminating := m.GetDeletionTimestamp() != nil && !api.IsPodTerminal(p)
		var reason Reason
		switch {
		case nodeName != "" && !known:
			since, missing := in.Missing[nodeName]
			if missing && !in.Now.Before(since.Add(cfg.Quarantine)) && in.Gone[nodeName] {
				reason = ReasonOrphaned
			}
		case nodeName != "" && terminating && !api.IsNodeReady(node) && hasTaint(node, api.TaintNodeOutOfService):
			reason = ReasonOutOfService
		case nodeName == "" && m.GetDeletionTimestamp() != nil:
			reason = ReasonUnscheduledTerminating
		}
		if reason != "" {
			out = append(out, deletion(p, reason))
		} else if api.IsPodTerminal(p) {
			terminal = append(terminal, p)
		}
	}
	if cfg.TerminatedPodThreshold > 0 && len(terminal) > cfg.TerminatedPodThreshold {
		slices.SortFunc(terminal, func(a, b *corev1.Pod) int {
			am, bm := a.GetMetadata(), b.GetMetadata()
			return cmp.Or(am.GetCreationTimestamp().AsTime().Compare(bm.GetCreationTimestamp().AsTime()),
				cmp.Compare(am.GetNamespace(), bm.GetNamespace()), cmp.Compare(am.GetName(), bm.GetName()))
		})
		for _, p := range terminal[:len(terminal)-cfg.TerminatedPodThreshold] {
			out = append(out, deletion(p, ReasonTerminatedOverLimit))
		}
	}
	return out
}

// TrackMissing returns, for every node that a pod names but nodes lacks,
// when it was first seen missing: its time in prev if it has one, else now.
// Nodes no pod names, or that exist again, are forgotten.
func TrackMissing(pods []*corev1.Pod, nodes []*corev1.Node, prev map[string]time.Time, now time.Time) map[string]time.Time {
	have := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		have[n.GetMetadata().GetName()] = true
	}
	out := map[string]time.Time{}
	for _, p := range pods {
		name := p.GetSpec().GetNodeName()
		if name == "" || have[name] {
			continue
		}
		if _, ok := out[name]; ok {
			continue
		}
		if since, ok := prev[name]; ok {
			out[name] = since
		} else {
			out[name] = now
		}
	}
	return out
}

func deletion(p *corev1.Pod, r Reason) Deletion {
	m := p.GetMetadata()
	return Deletion{Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUid(), Node: p.GetSpec().GetNodeName(), Reason: r}
}

func hasTaint(n *corev1.Node, key string) bool {
	return slices.ContainsFunc(n.GetSpec().GetTaints(), func(t *corev1.Taint) bool { return t.GetKey() == key })
}

// Controller is the pod garbage collector. Create it with New, then Run.
type Controller struct {
	cfg     Config
	client  *client.Client
	pods    *informer.Informer[*corev1.Pod]
	nodes   *informer.Informer[*corev1.Node]
	deleted *prometheus.CounterVec
	missing map[string]time.Time // owned by Run's goroutine
}

// New uses f's Pod and Node informers.
func New(c *client.Client, f *informer.Factory, cfg Config) *Controller {
	cfg = cfg.withDefaults()
	cfg.Logger = cfg.Logger.Named("podgc")
	return &Controller{cfg: cfg, client: c, pods: f.Pods(), nodes: f.Nodes(), missing: map[string]time.Time{},
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keel_controller_manager_pods_gc_total",
			Help: "Pods the pod garbage collector deleted, by reason."}, []string{"reason"})}
}

// Collectors are the controller's metrics, for the caller to register.
func (c *Controller) Collectors() []prometheus.Collector { return []prometheus.Collector{c.deleted} }

// Run collects every Config.Period, once the caches have synced, until ctx
// ends.
func (c *Controller) Run(ctx context.Context) {
	if !informer.WaitForCacheSync(ctx, c.pods.HasSynced, c.nodes.HasSynced) {
		return
	}
	t := c.cfg.Clock.NewTicker(c.cfg.Period)
	defer t.Stop()
	for {
		if err := c.pass(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn("pod garbage collection", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// pass is one collection: snapshot, live reads of the nodes out of
// quarantine, Decide, deletes.
func (c *Controller) pass(ctx context.Context) error {
	now := c.cfg.Clock.Now()
	in := Input{Pods: c.pods.Store().List(), Nodes: c.nodes.Store().List(), Gone: map[string]bool{}, Now: now}
	c.missing = TrackMissing(in.Pods, in.Nodes, c.missing, now)
	var errs []error
	for name, since := range c.missing {
		if now.Before(since.Add(c.cfg.Quarantine)) {
			continue
		}
		_, err := c.client.Nodes().Get(ctx, name)
		switch {
		case apierrors.IsNotFound(err):
			in.Gone[name] = true
		case err == nil:
			delete(c.missing, name) // the cache lags: start over once it shows the node gone
		default:
			errs = append(errs, fmt.Errorf("checking node %s: %w", name, err))
		}
	}
	in.Missing = c.missing
	for _, d := range Decide(in, c.cfg) {
		errs = append(errs, c.delete(ctx, d))
	}
	return errors.Join(errs...)
}

// delete force-deletes the pod d names if it still has d's uid. A pod
// already gone, or replaced by another of the same name, is success.
func (c *Controller) delete(ctx context.Context, d Deletion) error {
	zero := int64(0)
	_, _, err := c.client.Pods(d.Namespace).Delete(ctx, d.Name, client.DeleteOptions{GracePeriodSeconds: &zero,
		Preconditions: &client.Preconditions{UID: d.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting pod %s/%s (%s): %w", d.Namespace, d.Name, d.Reason, err)
	}
	c.deleted.WithLabelValues(string(d.Reason)).Inc()
	c.cfg.Logger.Info("deleted a pod", zap.String("pod", d.Namespace+"/"+d.Name), zap.String("node", d.Node),
		zap.String("reason", string(d.Reason)))
	return nil
}
