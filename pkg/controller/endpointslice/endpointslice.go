// Package endpointslice is the EndpointSlice controller: for every Service
// with a selector it keeps EndpointSlices (discovery.k8s.io/v1) of at most
// MaxPerSlice endpoints listing the selected pods with their ready,
// serving and terminating conditions, node and zone, writing only the
// slices a change touches (see Decide). For a Service without a selector
// it mirrors the Endpoints its users write, as Kubernetes'
// endpointslicemirroring controller does. Slices carry the labels
// kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by;
// the controller reads and writes only the slices it manages.
package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/controller"
)

// Controller maintains EndpointSlices. Create it with New, then Run.
type Controller struct {
	client      *client.Client
	services    *informer.Informer[*corev1.Service]
	pods        *informer.Informer[*corev1.Pod]
	nodes       *informer.Informer[*corev1.Node]
	endpoints   *informer.Informer[*corev1.Endpoints]
	slices      *informer.Informer[*discoveryv1.EndpointSlice]
	queue       workqueue.Interface[string]
	maxPerSlice int
	log         *zap.Logger

	// written tracks, per Service key, the slices this controller wrote
	// whose event the cache has not delivered yet: name → resourceVersion
	// written ("" for deleted). A Service with writes in flight is not
	// synced from a stale cache (it would create its slices twice); the
	// event that catches the cache up queues it again.
	mu      sync.Mutex
	written map[string]map[string]string
}

// New registers the controller's handlers on f's Service, Pod, Node,
// Endpoints and EndpointSlice informers. maxPerSlice is the most endpoints a slice gets
// (0: DefaultMaxEndpointsPerSlice); log may be nil.
func New(c *client.Client, f *informer.Factory, maxPerSlice int, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	if maxPerSlice <= 0 {
		maxPerSlice = DefaultMaxEndpointsPerSlice
	}
	ctl := &Controller{client: c, services: f.Services(), pods: f.Pods(), nodes: f.Nodes(), endpoints: f.Endpoints(),
		slices: f.EndpointSlices(), queue: workqueue.New[string]("endpointslice"),
		maxPerSlice: maxPerSlice, log: log.Named("endpointslice"), written: map[string]map[string]string{}}
	ctl.services.AddEventHandler(controller.EnqueueHandlers[*corev1.Service](ctl.queue))
	ctl.endpoints.AddEventHandler(controller.EnqueueHandlers[*corev1.Endpoints](ctl.queue))
	ctl.pods.AddEventHandler(controller.ChangeHandlers(ctl.podChanged))
	ctl.nodes.AddEventHandler(informer.HandlerFuncs[*corev1.Node]{
		UpdateFunc: func(old, n *corev1.Node) {
			if old.GetMetadata().GetLabels()[api.LabelTopologyZone] != n.GetMetadata().GetLabels()[api.LabelTopologyZone] {
				ctl.nodeZoneChanged(n.GetMetadata().GetName())
			}
		},
	})
	ctl.slices.AddEventHandler(informer.HandlerFuncs[*discoveryv1.EndpointSlice]{
		AddFunc:    func(s *discoveryv1.EndpointSlice) { ctl.sliceChanged(s, false) },
		UpdateFunc: func(_, s *discoveryv1.EndpointSlice) { ctl.sliceChanged(s, false) },
		DeleteFunc: func(s *discoveryv1.EndpointSlice) { ctl.sliceChanged(s, true) },
	})
	return ctl
}

// Synced reports whether the controller's caches have synced.
func (c *Controller) Synced() bool {
	return c.services.HasSynced() && c.pods.HasSynced() && c.nodes.HasSynced() && c.endpoints.HasSynced() && c.slices.HasSynced()
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.Synced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// podChanged queues the Services whose selector matches the pod.
func (c *Controller) podChanged(p *corev1.Pod) {
	all, err := c.services.Store().ByIndex(informer.NamespaceIndex, p.GetMetadata().GetNamespace())
	if err != nil {
		c.log.Error("listing Services", zap.Error(err))
		return
	}
	for _, s := range all {
		if sel := s.GetSpec().GetSelector(); len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(p.GetMetadata().GetLabels())) {
			c.queue.Add(informer.KeyOf(s))
		}
	}
}

// nodeZoneChanged queues the Services of the pods on node.
func (c *Controller) nodeZoneChanged(node string) {
	for _, p := range c.pods.Store().List() {
		if p.GetSpec().GetNodeName() == node {
			c.podChanged(p)
		}
	}
}

// sliceChanged clears the slice's write from the tracker once the cache
// shows it, and queues its Service (a slice changed by someone else is
// put back).
func (c *Controller) sliceChanged(s *discoveryv1.EndpointSlice, deleted bool) {
	m := s.GetMetadata()
	if !managed(s) {
		return
	}
	keys := informer.ServiceOfSlice(s)
	if len(keys) == 0 {
		return
	}
	c.mu.Lock()
	if w := c.written[keys[0]]; w != nil {
		if rv, ok := w[m.GetName()]; ok && (deleted || rv != "" && !olderThan(m.GetResourceVersion(), rv)) {
			delete(w, m.GetName())
			if len(w) == 0 {
				delete(c.written, keys[0])
			}
		}
	}
	c.mu.Unlock()
	c.queue.Add(keys[0])
}

// managed reports whether this controller manages s (as either manager).
func managed(s *discoveryv1.EndpointSlice) bool {
	m := s.GetMetadata().GetLabels()[api.LabelManagedBy]
	return m == api.EndpointSliceControllerName || m == api.EndpointSliceMirroringName
}

// olderThan reports whether resourceVersion a is older than b (both are
// etcd revisions; an unparsable one counts as not older).
func olderThan(a, b string) bool {
	x, errA := strconv.ParseUint(a, 10, 64)
	y, errB := strconv.ParseUint(b, 10, 64)
	return errA == nil && errB == nil && x < y
}

// errStale re-queues a Service whose cache lags this controller's writes.
var errStale = errors.New("the EndpointSlice cache has not caught up with this controller's writes yet")

func (c *Controller) sync(ctx context.Context, key string) error {
	c.mu.Lock()
	pending := len(c.written[key])
	c.mu.Unlock()
	if pending > 0 {
		return errStale
	}
	ns, name, _ := strings.Cut(key, "/")
	in := Input{Namespace: ns, Name: name, MaxPerSlice: c.maxPerSlice, Zones: map[string]string{}}
	in.Service, _ = c.services.Store().Get(key)
	owned, err := c.slices.Store().ByIndex(informer.ServiceIndex, key)
	if err != nil {
		return err
	}
	for _, s := range owned {
		if managed(s) {
			in.Slices = append(in.Slices, s)
		}
	}
	in.Endpoints, _ = c.endpoints.Store().Get(key)
	if len(in.Service.GetSpec().GetSelector()) > 0 {
		if in.Pods, err = c.pods.Store().ByIndex(informer.NamespaceIndex, ns); err != nil {
			return err
		}
		for _, p := range in.Pods {
			if n := p.GetSpec().GetNodeName(); n != "" {
				if node, ok := c.nodes.Store().Get(n); ok {
					in.Zones[n] = node.GetMetadata().GetLabels()[api.LabelTopologyZone]
				}
			}
		}
	}
	return c.apply(ctx, key, Decide(in))
}

// apply performs plan, recording each write for the stale-cache check.
// A slice already gone counts as deleted; an update of a slice deleted
// meanwhile is dropped (its deletion queues the Service again).
func (c *Controller) apply(ctx context.Context, key string, plan Plan) error {
	ns, _, _ := strings.Cut(key, "/")
	w := client.For[*discoveryv1.EndpointSlice](c.client, ns)
	var errs []error
	for _, s := range plan.Delete {
		if _, _, err := w.Delete(ctx, s, client.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting EndpointSlice %s/%s: %w", ns, s, err))
			continue
		}
		c.track(key, s, "")
	}
	for _, s := range plan.Update {
		out, err := w.Update(ctx, s, client.UpdateOptions{})
		if err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("updating EndpointSlice %s/%s: %w", ns, s.GetMetadata().GetName(), err))
			}
			continue
		}
		c.track(key, out.GetMetadata().GetName(), out.GetMetadata().GetResourceVersion())
	}
	for _, s := range plan.Create {
		out, err := w.Create(ctx, s, client.CreateOptions{})
		if err != nil {
			errs = append(errs, fmt.Errorf("creating an EndpointSlice for service %s: %w", key, err))
			continue
		}
		c.track(key, out.GetMetadata().GetName(), out.GetMetadata().GetResourceVersion())
	}
	return errors.Join(errs...)
}

// track records a write whose event the cache has yet to deliver, unless
// it has delivered it already (then the slice shows it).
func (c *Controller) track(key, name, rv string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ns, _, _ := strings.Cut(key, "/")
	cached, ok := c.slices.Store().GetByName(ns, name)
	if rv == "" && !ok || rv != "" && ok && !olderThan(cached.GetMetadata().GetResourceVersion(), rv) {
		return
	}
	if c.written[key] == nil {
		c.written[key] = map[string]string{}
	}
	c.written[key][name] = rv
}
