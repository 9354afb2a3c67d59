// Package kubernetesservice decides the `kubernetes` Service of namespace
// default, its Endpoints and its EndpointSlice, through which processes in pods find the API
// (KUBERNETES_SERVICE_HOST/PORT, keel-proxy's rules for its ClusterIP), as
// Kubernetes' apiservers keep them.
//
// Every apiserver renews a lease of its own address (IP and secure port)
// with a time-to-live; the Endpoints list the addresses whose lease has not
// expired, so an HA cluster lists every live apiserver and drops a dead one
// within the TTL. The functions here are pure: the apiserver reads the
// leases and current objects, asks them what to write, and writes it.
package kubernetesservice

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// Names and labels of the Service, as in Kubernetes.
const (
	Namespace = "default"
	Name      = "kubernetes"
	PortName  = "https"
	// Port is the Service's port: pods reach the API at ClusterIP:443.
	Port = 443
)

// Labels are the labels the Service carries.
func Labels() map[string]string {
	return map[string]string{"component": "apiserver", "provider": "kubernetes"}
}

// Lease is one apiserver's claim to be serving at IP:Port until Expires.
type Lease struct {
	IP      string    `json:"ip"`
	Port    int32     `json:"port"`
	Expires time.Time `json:"expires"`
}

// Key is the lease's name among the others: its address.
func (l Lease) Key() string {
	return net.JoinHostPort(l.IP, strconv.Itoa(int(l.Port)))
}

// Encode is the lease's stored form.
func (l Lease) Encode() []byte {
	b, _ := json.Marshal(l) // a struct of plain fields: cannot fail
	return b
}

// DecodeLease reads a stored lease.
func DecodeLease(b []byte) (Lease, error) {
	var l Lease
	if err := json.Unmarshal(b, &l); err != nil {
		return Lease{}, fmt.Errorf("apiserver lease: %w", err)
	}
	if _, err := netip.ParseAddr(l.IP); err != nil || l.Port <= 0 || l.Port > 65535 {
		return Lease{}, fmt.Errorf("apiserver lease: bad address %q port %d", l.IP, l.Port)
	}
	return l, nil
}

// Live splits leases into those still valid at now and those expired
// (which the caller deletes), each sorted by Key.
func Live(leases []Lease, now time.Time) (live, expired []Lease) {
	for _, l := range leases {
		if now.Before(l.Expires) {
			live = append(live, l)
		} else {
			expired = append(expired, l)
		}
	}
	byKey := func(a, b Lease) int { return cmp.Compare(a.Key(), b.Key()) }
	slices.SortFunc(live, byKey)
	slices.SortFunc(expired, byKey)
	return live, expired
}

// DesiredService is the Service as it should be: ClusterIP clusterIP (the
// first address of the service range), port 443/TCP named https to
// targetPort (the deciding apiserver's secure port), no selector.
func DesiredService(clusterIP string, targetPort int32) *corev1.Service {
	return &corev1.Service{
		Metadata: &metav1.ObjectMeta{Namespace: Namespace, Name: Name, Labels: Labels()},
		Spec: &corev1.ServiceSpec{
			Type:            "ClusterIP",
			ClusterIp:       clusterIP,
			SessionAffinity: "None",
			Ports: []*corev1.ServicePort{{Name: PortName, Protocol: "TCP", Port: Port,
				TargetPort: &metav1.IntOrString{IntVal: targetPort}}},
		},
	}
}

// Service decides the write that brings have (nil: missing) to want (see
// DesiredService): nil when have is right, a create when missing, a
// recreate (delete then create) when its ClusterIP differs (it is
// immutable), else an update of have's copy with want's type, ports,
// labels and no selector. A targetPort that is the port of any live
// apiserver is right, so apiservers on different ports do not undo each
// other's writes.
func Service(want, have *corev1.Service, live []Lease) (next *corev1.Service, recreate bool) {
	if have == nil {
		return want, false
	}
	if have.GetSpec().GetClusterIp() != want.GetSpec().GetClusterIp() {
		return want, true
	}
	if serviceRight(want, have, live) {
		return nil, false
	}
	next = proto.Clone(have).(*corev1.Service)
	if next.Metadata.Labels == nil {
		next.Metadata.Labels = map[string]string{}
	}
	for k, v := range want.GetMetadata().GetLabels() {
		next.Metadata.Labels[k] = v
	}
	next.Spec.Type = want.Spec.Type
	next.Spec.Selector = nil
	next.Spec.Ports = want.Spec.Ports
	return next, false
}

func serviceRight(want, have *corev1.Service, live []Lease) bool {
	for k, v := range want.GetMetadata().GetLabels() {
		if have.GetMetadata().GetLabels()[k] != v {
			return false
		}
	}
	hs, ws := have.GetSpec(), want.GetSpec()
	if hs.GetType() != ws.GetType() || len(hs.GetSelector()) > 0 || len(hs.GetPorts()) != 1 {
		return false
	}
	hp, wp := hs.GetPorts()[0], ws.GetPorts()[0]
	if hp.GetName() != wp.GetName() || hp.GetProtocol() != wp.GetProtocol() || hp.GetPort() != wp.GetPort() ||
		hp.GetTargetPort().GetType() != 0 {
		return false
	}
	t := hp.GetTargetPort().GetIntVal()
	return t == wp.GetTargetPort().GetIntVal() || slices.ContainsFunc(live, func(l Lease) bool { return l.Port == t })
}

// DesiredSubsets are the Endpoints subsets listing the live apiservers:
// one subset per port (apiservers normally share one), addresses sorted.
func DesiredSubsets(live []Lease) []*corev1.EndpointSubset {
	byPort := map[int32][]string{}
	for _, l := range live {
		if !slices.Contains(byPort[l.Port], l.IP) {
			byPort[l.Port] = append(byPort[l.Port], l.IP)
		}
	}
	ports := make([]int32, 0, len(byPort))
	for p := range byPort {
		ports = append(ports, p)
	}
	slices.Sort(ports)
	var out []*corev1.EndpointSubset
	for _, p := range ports {
		ips := byPort[p]
		slices.Sort(ips)
		sub := &corev1.EndpointSubset{Ports: []*corev1.EndpointPort{{Name: PortName, Port: p, Protocol: "TCP"}}}
		for _, ip := range ips {
			sub.Addresses = append(sub.Addresses, &corev1.EndpointAddress{Ip: ip})
		}
		out = append(out, sub)
	}
	return out
}

// Endpoints decides the write that makes have (nil: missing) list exactly
// the live apiservers, labelled endpointslice.kubernetes.io/skip-mirror
// (EndpointSlice writes their slice): nil when it does, else the object to create or
// (have's copy) to update.
func Endpoints(live []Lease, have *corev1.Endpoints) *corev1.Endpoints {
	subsets := DesiredSubsets(live)
	if have == nil {
		labels := Labels()
		labels[api.LabelSkipMirror] = "true" // the apiservers write the slice
		return &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: Namespace, Name: Name, Labels: labels}, Subsets: subsets}
	}
	same := len(subsets) == len(have.GetSubsets()) && have.GetMetadata().GetLabels()[api.LabelSkipMirror] == "true"
	for i := 0; same && i < len(subsets); i++ {
		same = proto.Equal(subsets[i], have.GetSubsets()[i])
	}
	if same {
		return nil
	}
	next := proto.Clone(have).(*corev1.Endpoints)
	next.Subsets = subsets
	if next.Metadata.Labels == nil {
		next.Metadata.Labels = map[string]string{}
	}
	next.Metadata.Labels[api.LabelSkipMirror] = "true"
	return next
}

// EndpointSlice decides the write that makes have (nil: missing), the
// EndpointSlice default/kubernetes, list what the Endpoints list: the
// addresses of the first subset of DesiredSubsets (apiservers share one
// port; Kubernetes' slice also carries one), ready, with its port. nil
// when it does already, else the object to create, to recreate (delete
// then create: the address type is immutable) or (have's copy) to update.
func EndpointSlice(live []Lease, have *discoveryv1.EndpointSlice) (next *discoveryv1.EndpointSlice, recreate bool) {
	want := &discoveryv1.EndpointSlice{AddressType: api.AddressTypeIPv4}
	if subsets := DesiredSubsets(live); len(subsets) > 0 {
		sub := subsets[0]
		p := sub.GetPorts()[0]
		want.Ports = []*discoveryv1.EndpointPort{{Name: proto.String(p.GetName()), Protocol: proto.String(p.GetProtocol()), Port: proto.Int32(p.GetPort())}}
		for _, a := range sub.GetAddresses() {
			want.Endpoints = append(want.Endpoints, &discoveryv1.Endpoint{Addresses: []string{a.GetIp()},
				Conditions: &discoveryv1.EndpointConditions{Ready: proto.Bool(true)}})
		}
		if net.ParseIP(sub.GetAddresses()[0].GetIp()).To4() == nil {
			want.AddressType = api.AddressTypeIPv6
		}
	}
	labels := Labels()
	labels[api.LabelServiceName] = Name
	if have == nil || have.GetAddressType() != want.AddressType {
		want.Metadata = &metav1.ObjectMeta{Namespace: Namespace, Name: Name, Labels: labels}
		return want, have != nil
	}
	if proto.Equal(&discoveryv1.EndpointSlice{AddressType: have.GetAddressType(), Ports: have.GetPorts(), Endpoints: have.GetEndpoints()}, want) &&
		have.GetMetadata().GetLabels()[api.LabelServiceName] == Name {
		return nil, false
	}
	next = proto.Clone(have).(*discoveryv1.EndpointSlice)
	next.Ports, next.Endpoints = want.Ports, want.Endpoints
	if next.Metadata.Labels == nil {
		next.Metadata.Labels = map[string]string{}
	}
	next.Metadata.Labels[api.LabelServiceName] = Name
	return next, false
}
