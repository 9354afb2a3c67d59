package endpointslice

import (
	"cmp"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller/endpoints"
)

// DefaultMaxEndpointsPerSlice is the default of --max-endpoints-per-slice.
const DefaultMaxEndpointsPerSlice = 100

// Input is what Decide decides on: one Service (nil when it is gone), its
// Endpoints (nil when absent; mirrored for a Service without a selector),
// the pods of its namespace, each node's zone by node name, the slices of
// the Service that this controller manages (either manager label) as the
// cache shows them, and the most endpoints a slice may hold. Decide does
// not modify it.
type Input struct {
	Namespace, Name string
	Service         *corev1.Service
	Endpoints       *corev1.Endpoints
	Pods            []*corev1.Pod
	Zones           map[string]string
	Slices          []*discoveryv1.EndpointSlice
	MaxPerSlice     int
}

// Plan is the writes one sync makes: slices to create (named by
// generateName), existing slices to update (copies carrying their
// resourceVersion), and slice names to delete.
type Plan struct {
	Create []*discoveryv1.EndpointSlice
	Update []*discoveryv1.EndpointSlice
	Delete []string
}

// Empty reports whether the plan writes nothing.
func (p Plan) Empty() bool { return len(p.Create)+len(p.Update)+len(p.Delete) == 0 }

// group is one slice shape: an address type and a list of ports. Every
// endpoint of a slice shares its slice's shape.
type group struct {
	addressType string
	ports       []*discoveryv1.EndpointPort
	want        map[string]*discoveryv1.Endpoint // by address
}

// Decide plans a Service's EndpointSlices. A Service with a selector gets
// slices of its pods (managed by EndpointSliceControllerName); one without
// gets its Endpoints mirrored (managed by EndpointSliceMirroringName),
// unless they are labelled endpointslice.kubernetes.io/skip-mirror; a
// Service gone keeps none. Each set is reconciled as Kubernetes'
// reconciler does, touching as few slices as it can:
//
//  1. In every existing slice of a wanted shape, endpoints that are no
//     longer wanted are removed and changed ones replaced in place; a
//     slice with no change is left alone, one left empty is freed.
//  2. The wanted endpoints found in no slice fill the room of slices that
//     are written anyway, then go to new slices of MaxPerSlice; a last
//     partial chunk goes into the fullest unchanged slice it fits in,
//     else into a new slice.
//  3. A new slice reuses a freed one (an update instead of a delete and a
//     create); freed slices left over are deleted.
//
// A Service with a selector but no endpoints keeps one empty placeholder
// slice.
func Decide(in Input) Plan {
	max := in.MaxPerSlice
	if max <= 0 {
		max = DefaultMaxEndpointsPerSlice
	}
	byManager := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range slices.SortedFunc(slices.Values(in.Slices), func(a, b *discoveryv1.EndpointSlice) int {
		return strings.Compare(a.GetMetadata().GetName(), b.GetMetadata().GetName())
	}) {
		m := s.GetMetadata().GetLabels()[api.LabelManagedBy]
		byManager[m] = append(byManager[m], s)
	}
	var p Plan
	deleteAll := func(manager string) {
		for _, s := range byManager[manager] {
			p.Delete = append(p.Delete, s.GetMetadata().GetName())
		}
	}
	switch {
	case in.Service == nil:
		deleteAll(api.EndpointSliceControllerName)
		deleteAll(api.EndpointSliceMirroringName)
	case len(in.Service.GetSpec().GetSelector()) > 0:
		deleteAll(api.EndpointSliceMirroringName)
		r := &reconciler{in: in, labels: sliceLabels(in.Service.GetMetadata().GetLabels(), in.Name, api.EndpointSliceControllerName),
			owner: ownerRef("Service", in.Service.GetMetadata()), plan: p}
		p = r.reconcile(byManager[api.EndpointSliceControllerName], wantedGroups(in), max, true)
	default:
		deleteAll(api.EndpointSliceControllerName)
		if in.Endpoints == nil || in.Endpoints.GetMetadata().GetLabels()[api.LabelSkipMirror] == "true" {
			deleteAll(api.EndpointSliceMirroringName)
			break
		}
		r := &reconciler{in: in, labels: sliceLabels(in.Endpoints.GetMetadata().GetLabels(), in.Name, api.EndpointSliceMirroringName),
			owner: ownerRef("Endpoints", in.Endpoints.GetMetadata()), plan: p}
		p = r.reconcile(byManager[api.EndpointSliceMirroringName], mirroredGroups(in.Endpoints), max, false)
	}
	return p
}

// reconcile plans existing (one manager's slices, sorted by name) toward
// groups; with placeholder, no group at all keeps one empty slice.
func (r *reconciler) reconcile(existing []*discoveryv1.EndpointSlice, groups map[string]*group, max int, placeholder bool) Plan {
	if len(groups) == 0 && placeholder {
		return r.placeholder(existing)
	}
	byGroup := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range existing {
		k := groupKey(s.GetAddressType(), s.GetPorts())
		if _, ok := groups[k]; ok && len(s.GetEndpoints()) > 0 {
			byGroup[k] = append(byGroup[k], s)
		} else {
			r.freed = append(r.freed, s)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		r.reconcileGroup(groups[k], byGroup[k], max)
	}
	return r.finish()
}

// reconciler accumulates the plan of one Decide for one manager's slices.
type reconciler struct {
	in     Input
	labels map[string]string
	owner  *metav1.OwnerReference
	plan   Plan
	freed  []*discoveryv1.EndpointSlice // slices nothing wants (yet)
}

// reconcileGroup plans the slices of one shape.
func (r *reconciler) reconcileGroup(g *group, current []*discoveryv1.EndpointSlice, max int) {
	placed := map[string]bool{}
	var written []*discoveryv1.EndpointSlice // updated, in order
	var unchanged []*discoveryv1.EndpointSlice
	for _, s := range current {
		var eps []*discoveryv1.Endpoint
		changed := false
		for _, e := range s.GetEndpoints() {
			addr := endpointKey(e)
			want, ok := g.want[addr]
			if !ok || placed[addr] || len(eps) >= max {
				changed = true
				continue
			}
			placed[addr] = true
			if !proto.Equal(e, want) {
				changed = true
			}
			eps = append(eps, want)
		}
		switch {
		case len(eps) == 0:
			r.freed = append(r.freed, s)
		case changed || !r.metaCurrent(s):
			written = append(written, r.rewrite(s, g, eps))
		default:
			unchanged = append(unchanged, s)
		}
	}
	var rest []*discoveryv1.Endpoint
	for _, addr := range slices.Sorted(maps.Keys(g.want)) {
		if !placed[addr] {
			rest = append(rest, g.want[addr])
		}
	}
	// Fill the slices written anyway.
	for _, s := range written {
		n := min(max-len(s.Endpoints), len(rest))
		s.Endpoints = append(s.Endpoints, rest[:n]...)
		rest = rest[n:]
	}
	// Full new slices.
	for len(rest) >= max {
		written = append(written, r.newSlice(g, rest[:max]))
		rest = rest[max:]
	}
	if len(rest) > 0 {
		// The fullest unchanged slice with room takes the last chunk.
		slices.SortStableFunc(unchanged, func(a, b *discoveryv1.EndpointSlice) int {
			return cmp.Compare(len(b.GetEndpoints()), len(a.GetEndpoints()))
		})
		if i := slices.IndexFunc(unchanged, func(s *discoveryv1.EndpointSlice) bool { return len(s.GetEndpoints())+len(rest) <= max }); i >= 0 {
			s := r.rewrite(unchanged[i], g, slices.Clone(unchanged[i].GetEndpoints()))
			s.Endpoints = append(s.Endpoints, rest...)
			written = append(written, s)
		} else {
			written = append(written, r.newSlice(g, rest))
		}
	}
	for _, s := range written {
		if s.GetMetadata().GetName() == "" {
			r.plan.Create = append(r.plan.Create, s)
		} else {
			r.plan.Update = append(r.plan.Update, s)
		}
	}
}

// newSlice is a slice of g's shape holding eps: a freed slice reused
// when there is one, else one to create.
func (r *reconciler) newSlice(g *group, eps []*discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	// The address type is immutable: only a freed slice of g's type can
	// be reused.
	if i := slices.IndexFunc(r.freed, func(s *discoveryv1.EndpointSlice) bool { return s.GetAddressType() == g.addressType }); i >= 0 {
		s := r.freed[i]
		r.freed = slices.Delete(r.freed, i, i+1)
		return r.rewrite(s, g, eps)
	}
	return &discoveryv1.EndpointSlice{
		Metadata: &metav1.ObjectMeta{GenerateName: r.in.Name + "-", Namespace: r.in.Namespace,
			Labels: maps.Clone(r.labels), OwnerReferences: []*metav1.OwnerReference{r.owner}},
		AddressType: g.addressType,
		Ports:       g.ports,
		Endpoints:   slices.Clone(eps),
	}
}

// rewrite is a copy of s (of g's address type) with g's ports, the wanted labels and owner, and
// endpoints eps.
func (r *reconciler) rewrite(s *discoveryv1.EndpointSlice, g *group, eps []*discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	out := &discoveryv1.EndpointSlice{Metadata: proto.Clone(s.GetMetadata()).(*metav1.ObjectMeta), AddressType: g.addressType,
		Ports: g.ports, Endpoints: slices.Clone(eps)}
	out.Metadata.Labels = maps.Clone(r.labels)
	out.Metadata.OwnerReferences = []*metav1.OwnerReference{r.owner}
	return out
}

// metaCurrent reports whether s carries the wanted labels and owner.
func (r *reconciler) metaCurrent(s *discoveryv1.EndpointSlice) bool {
	refs := s.GetMetadata().GetOwnerReferences()
	return maps.Equal(s.GetMetadata().GetLabels(), r.labels) && len(refs) == 1 && proto.Equal(refs[0], r.owner)
}

// placeholder plans a Service without endpoints: one empty slice (the
// first existing one, emptied, or a new one), every other deleted.
func (r *reconciler) placeholder(existing []*discoveryv1.EndpointSlice) Plan {
	empty := &group{addressType: api.AddressTypeIPv4}
	i := slices.IndexFunc(existing, func(s *discoveryv1.EndpointSlice) bool { return s.GetAddressType() == empty.addressType })
	if i < 0 {
		r.plan.Create = append(r.plan.Create, r.newSlice(empty, nil))
	} else if s := existing[i]; len(s.GetEndpoints()) > 0 || len(s.GetPorts()) > 0 || !r.metaCurrent(s) {
		r.plan.Update = append(r.plan.Update, r.rewrite(s, empty, nil))
	}
	for j, s := range existing {
		if j != i {
			r.plan.Delete = append(r.plan.Delete, s.GetMetadata().GetName())
		}
	}
	return r.plan
}

// finish deletes the freed slices nothing reused.
func (r *reconciler) finish() Plan {
	for _, s := range r.freed {
		r.plan.Delete = append(r.plan.Delete, s.GetMetadata().GetName())
	}
	return r.plan
}

// wantedGroups are the Service's endpoints by slice shape (see groupKey):
// one endpoint per selected pod that has an IP, is not finished, and
// resolves every Service port.
func wantedGroups(in Input) map[string]*group {
	svc := in.Service
	sel := labels.SelectorFromSet(svc.GetSpec().GetSelector())
	publishNotReady := svc.GetSpec().GetPublishNotReadyAddresses()
	out := map[string]*group{}
	for _, p := range in.Pods {
		ip := p.GetStatus().GetPodIp()
		if ip == "" || api.IsPodTerminal(p) || !sel.Matches(labels.Set(p.GetMetadata().GetLabels())) {
			continue
		}
		resolved, ok := endpoints.ResolvePorts(svc, p)
		if !ok {
			continue
		}
		ports := make([]*discoveryv1.EndpointPort, 0, len(resolved))
		for _, rp := range resolved {
			ports = append(ports, &discoveryv1.EndpointPort{Name: proto.String(rp.GetName()), Protocol: proto.String(rp.GetProtocol()),
				Port: proto.Int32(rp.GetPort()), AppProtocol: rp.AppProtocol})
		}
		at := addressType(ip)
		k := groupKey(at, ports)
		g := out[k]
		if g == nil {
			g = &group{addressType: at, ports: ports, want: map[string]*discoveryv1.Endpoint{}}
			out[k] = g
		}
		g.want[ip] = podEndpoint(svc, p, in.Zones, publishNotReady)
	}
	return out
}

// podEndpoint is the endpoint of pod p: ready when the pod is Ready and
// not terminating, serving when Ready, terminating when being deleted (a
// Service that publishes not-ready addresses has every endpoint ready and
// serving); its node, the node's zone, and the hostname the pod has under
// the Service when the Service is the pod's subdomain.
func podEndpoint(svc *corev1.Service, p *corev1.Pod, zones map[string]string, publishNotReady bool) *discoveryv1.Endpoint {
	m := p.GetMetadata()
	terminating := m.GetDeletionTimestamp() != nil
	serving := publishNotReady || api.IsPodReady(p)
	e := &discoveryv1.Endpoint{
		Addresses: []string{p.GetStatus().GetPodIp()},
		Conditions: &discoveryv1.EndpointConditions{Ready: proto.Bool(serving && (publishNotReady || !terminating)),
			Serving: proto.Bool(serving), Terminating: proto.Bool(terminating)},
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid()},
	}
	if h := p.GetSpec().GetHostname(); h != "" && p.GetSpec().GetSubdomain() == svc.GetMetadata().GetName() {
		e.Hostname = proto.String(h)
	}
	if node := p.GetSpec().GetNodeName(); node != "" {
		e.NodeName = proto.String(node)
		if z := zones[node]; z != "" {
			e.Zone = proto.String(z)
		}
	}
	return e
}

// groupKey names a slice shape: address type and ports.
func groupKey(addressType string, ports []*discoveryv1.EndpointPort) string {
	var b strings.Builder
	b.WriteString(addressType)
	for _, p := range ports {
		b.WriteString(";" + p.GetName() + "/" + p.GetProtocol() + "/" + strconv.Itoa(int(p.GetPort())) + "/" + p.GetAppProtocol())
	}
	return b.String()
}

// endpointKey identifies an endpoint across syncs: its first address.
func endpointKey(e *discoveryv1.Endpoint) string {
	if len(e.GetAddresses()) == 0 {
		return ""
	}
	return e.GetAddresses()[0]
}

// sliceLabels are the labels of a Service's slices: those of their
// source (the Service, or the Endpoints mirrored), then the Service name
// and the manager.
func sliceLabels(source map[string]string, service, manager string) map[string]string {
	l := maps.Clone(source)
	if l == nil {
		l = map[string]string{}
	}
	delete(l, api.LabelSkipMirror)
	l[api.LabelServiceName] = service
	l[api.LabelManagedBy] = manager
	return l
}

// ownerRef makes the slices' source (the Service, or the Endpoints
// mirrored; both v1) their controller, so the garbage collector deletes
// them with it.
func ownerRef(kind string, m *metav1.ObjectMeta) *metav1.OwnerReference {
	return &metav1.OwnerReference{ApiVersion: "v1", Kind: kind, Name: m.GetName(), Uid: m.GetUid(),
		Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}
}

// mirroredGroups are the Endpoints' addresses by slice shape: one shape
// per subset's ports; addresses ready, not-ready addresses not.
func mirroredGroups(ep *corev1.Endpoints) map[string]*group {
	out := map[string]*group{}
	for _, sub := range ep.GetSubsets() {
		ports := make([]*discoveryv1.EndpointPort, 0, len(sub.GetPorts()))
		for _, p := range sub.GetPorts() {
			ports = append(ports, &discoveryv1.EndpointPort{Name: proto.String(p.GetName()), Protocol: proto.String(cmp.Or(p.GetProtocol(), api.ProtocolTCP)),
				Port: proto.Int32(p.GetPort()), AppProtocol: p.AppProtocol})
		}
		for ready, addrs := range map[bool][]*corev1.EndpointAddress{true: sub.GetAddresses(), false: sub.GetNotReadyAddresses()} {
			for _, a := range addrs {
				at := addressType(a.GetIp())
				k := groupKey(at, ports)
				g := out[k]
				if g == nil {
					g = &group{addressType: at, ports: ports, want: map[string]*discoveryv1.Endpoint{}}
					out[k] = g
				}
				e := &discoveryv1.Endpoint{Addresses: []string{a.GetIp()}, Conditions: &discoveryv1.EndpointConditions{Ready: proto.Bool(ready)},
					NodeName: a.NodeName, TargetRef: a.GetTargetRef()}
				if a.GetHostname() != "" {
					e.Hostname = proto.String(a.GetHostname())
				}
				g.want[a.GetIp()] = e
			}
		}
	}
	return out
}

// addressType is IPv6 for an IPv6 address, else IPv4.
func addressType(ip string) string {
	if parsed := net.ParseIP(ip); parsed != nil && parsed.To4() == nil {
		return api.AddressTypeIPv6
	}
	return api.AddressTypeIPv4
}
