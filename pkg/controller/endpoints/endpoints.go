// Package endpoints is the Endpoints controller: for every Service with a
// selector it keeps an Endpoints object of the same name listing the
// matching pods' IPs (ready pods under addresses, others under
// notReadyAddresses, unless the Service publishes not-ready addresses;
// terminating pods leave at once) with each Service port resolved against
// the pod (targetPort by number, or by the name of a container port). Services without a selector keep
// Endpoints their users write; a deleted Service's Endpoints are deleted.
package endpoints

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/controller"
)

// Controller maintains Endpoints. Create it with New, then Run.
type Controller struct {
	client    *client.Client
	services  *informer.Informer[*corev1.Service]
	pods      *informer.Informer[*corev1.Pod]
	endpoints *informer.Informer[*corev1.Endpoints]
	queue     workqueue.Interface[string]
	log       *zap.Logger
}

// New registers the controller's handlers on f's Service, Pod and
// Endpoints informers; log may be nil.
func New(c *client.Client, f *informer.Factory, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, services: f.Services(), pods: f.Pods(), endpoints: f.Endpoints(),
		queue: workqueue.New[string]("endpoints"), log: log.Named("endpoints")}
	ctl.services.AddEventHandler(controller.EnqueueHandlers[*corev1.Service](ctl.queue))
	ctl.pods.AddEventHandler(controller.ChangeHandlers(ctl.podChanged))
	return ctl
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.services.HasSynced, c.pods.HasSynced, c.endpoints.HasSynced) {
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

func (c *Controller) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	in := Input{Namespace: ns, Name: name}
	in.Service, _ = c.services.Store().Get(key)
	in.Endpoints, _ = c.endpoints.Store().Get(key)
	if len(in.Service.GetSpec().GetSelector()) > 0 {
		pods, err := c.pods.Store().ByIndex(informer.NamespaceIndex, ns)
		if err != nil {
			return err
		}
		in.Pods = pods
	}
	return apply(ctx, c.client.Endpoints(ns), key, Decide(in))
}

// Input is what Decide decides on: the Service namespace/name and the
// Endpoints of that name as the caches show them (nil when absent), and
// the pods of the namespace. Decide does not modify it.
type Input struct {
	Namespace, Name string
	Service         *corev1.Service
	Endpoints       *corev1.Endpoints
	Pods            []*corev1.Pod
}

// Plan is the one write a sync makes, if any: at most one field is set.
type Plan struct {
	// Create is the Endpoints to create.
	Create *corev1.Endpoints
	// Update is the existing Endpoints with new subsets and labels.
	Update *corev1.Endpoints
	// Delete is the name of the Endpoints to delete (its Service is gone).
	Delete string
}

// Decide plans the Endpoints of one Service: none for a Service without
// a selector (its users write their own), deleted with its Service, else
// the Service's labels and Subsets, written only when they changed.
func Decide(in Input) Plan {
	if in.Service == nil {
		if in.Endpoints == nil {
			return Plan{}
		}
		return Plan{Delete: in.Name}
	}
	if len(in.Service.GetSpec().GetSelector()) == 0 {
		return Plan{} // the user's own endpoints
	}
	want := &corev1.Endpoints{
		Metadata: &metav1.ObjectMeta{Name: in.Name, Namespace: in.Namespace, Labels: maps.Clone(in.Service.GetMetadata().GetLabels())},
		Subsets:  Subsets(in.Service, in.Pods),
	}
	cur := in.Endpoints
	if cur == nil {
		return Plan{Create: want}
	}
	if proto.Equal(&corev1.Endpoints{Subsets: cur.GetSubsets()}, &corev1.Endpoints{Subsets: want.GetSubsets()}) &&
		maps.Equal(cur.GetMetadata().GetLabels(), want.GetMetadata().GetLabels()) {
		return Plan{}
	}
	next := proto.Clone(cur).(*corev1.Endpoints)
	if next.Metadata == nil {
		next.Metadata = &metav1.ObjectMeta{}
	}
	next.Subsets, next.Metadata.Labels = want.Subsets, want.Metadata.Labels
	return Plan{Update: next}
}

// writer is what the executor writes through: the Endpoints of one
// namespace.
type writer interface {
	Create(ctx context.Context, e *corev1.Endpoints, o client.CreateOptions) (*corev1.Endpoints, error)
	Update(ctx context.Context, e *corev1.Endpoints, o client.UpdateOptions) (*corev1.Endpoints, error)
	Delete(ctx context.Context, name string, o client.DeleteOptions) (*corev1.Endpoints, bool, error)
}

// apply performs plan. Endpoints already created, or already gone, count
// as written; so does an update of Endpoints deleted meanwhile (the
// Service's next event recreates them).
func apply(ctx context.Context, w writer, key string, plan Plan) error {
	switch {
	case plan.Create != nil:
		if _, err := w.Create(ctx, plan.Create, client.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating endpoints %s: %w", key, err)
		}
	case plan.Update != nil:
		if _, err := w.Update(ctx, plan.Update, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("updating endpoints %s: %w", key, err)
		}
	case plan.Delete != "":
		if _, _, err := w.Delete(ctx, plan.Delete, client.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the endpoints of deleted service %s: %w", key, err)
		}
	}
	return nil
}

// Subsets are a Service's endpoints among pods: one subset per distinct
// set of resolved ports, addresses sorted by IP, subsets by their ports.
// Pods that do not match the selector, have no IP yet or are finished are
// left out, and so is a pod for which a port does not resolve. A pod being
// deleted leaves at once, so proxies send it no new connection while its
// preStop hook and SIGTERM run, unless the Service publishes not-ready
// addresses (then it stays until it is gone, as in Kubernetes).
// An address carries its pod's hostname when the pod's subdomain is the
// Service.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) []*corev1.EndpointSubset {
	sel := labels.SelectorFromSet(svc.GetSpec().GetSelector())
	publishNotReady := svc.GetSpec().GetPublishNotReadyAddresses()
	bySig := map[string]*corev1.EndpointSubset{}
	for _, p := range pods {
		if !sel.Matches(labels.Set(p.GetMetadata().GetLabels())) || p.GetStatus().GetPodIp() == "" || api.IsPodTerminal(p) ||
			(controller.IsPodTerminating(p) && !publishNotReady) {
			continue
		}
		ports, ok := ResolvePorts(svc, p)
		if !ok {
			continue
		}
		var sig strings.Builder
		for _, pt := range ports {
			fmt.Fprintf(&sig, "%s/%d/%s;", pt.GetName(), pt.GetPort(), pt.GetProtocol())
		}
		s := bySig[sig.String()]
		if s == nil {
			s = &corev1.EndpointSubset{Ports: ports}
			bySig[sig.String()] = s
		}
		node := p.GetSpec().GetNodeName()
		addr := &corev1.EndpointAddress{Ip: p.GetStatus().GetPodIp(),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: p.GetMetadata().GetNamespace(), Name: p.GetMetadata().GetName(), Uid: p.GetMetadata().GetUid()}}
		if node != "" {
			addr.NodeName = &node
		}
		// A pod in the Service's subdomain (a StatefulSet's, under its
		// governing Service) is named by its hostname in DNS.
		if h := p.GetSpec().GetHostname(); h != "" && p.GetSpec().GetSubdomain() == svc.GetMetadata().GetName() {
			addr.Hostname = h
		}
		if api.IsPodReady(p) || publishNotReady {
			s.Addresses = append(s.Addresses, addr)
		} else {
			s.NotReadyAddresses = append(s.NotReadyAddresses, addr)
		}
	}
	sigs := slices.Sorted(maps.Keys(bySig))
	out := make([]*corev1.EndpointSubset, 0, len(sigs))
	for _, sig := range sigs {
		s := bySig[sig]
		byIP := func(a, b *corev1.EndpointAddress) int { return strings.Compare(a.GetIp(), b.GetIp()) }
		slices.SortFunc(s.Addresses, byIP)
		slices.SortFunc(s.NotReadyAddresses, byIP)
		out = append(out, s)
	}
	return out
}

// ResolvePorts maps each Service port to the pod's port, sorted by name;
// false when a named targetPort is not a container port of the pod.
func ResolvePorts(svc *corev1.Service, p *corev1.Pod) ([]*corev1.EndpointPort, bool) {
	var out []*corev1.EndpointPort
	for _, sp := range svc.GetSpec().GetPorts() {
		proto := sp.GetProtocol()
		if proto == "" {
			proto = api.ProtocolTCP
		}
		port := sp.GetPort()
		if tp := sp.GetTargetPort(); tp != nil {
			if tp.GetType() == 1 {
				var ok bool
				if port, ok = api.FindPodPort(p, tp.GetStrVal(), proto); !ok {
					return nil, false
				}
			} else if tp.GetIntVal() != 0 {
				port = tp.GetIntVal()
			}
		}
		ep := &corev1.EndpointPort{Name: sp.GetName(), Port: port, Protocol: proto}
		if sp.AppProtocol != nil {
			ap := sp.GetAppProtocol()
			ep.AppProtocol = &ap
		}
		out = append(out, ep)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, true
}
