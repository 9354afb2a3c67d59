package iptables

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func service(mod func(*corev1.ServiceSpec)) *corev1.Service {
	s := &corev1.Service{
		Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: &corev1.ServiceSpec{
			Type:      "ClusterIP",
			ClusterIp: "10.96.0.10",
			Ports:     []*corev1.ServicePort{{Protocol: "TCP", Port: 80}},
		},
	}
	if mod != nil {
		mod(s.Spec)
	}
	return s
}

// slice is an EndpointSlice of the Service web with ports and endpoints.
func slice(ports []*discoveryv1.EndpointPort, eps ...[]*discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "web-x"}, AddressType: "IPv4", Ports: ports}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, e...)
	}
	return s
}

func slicePort(name, protocol string, port int32) *discoveryv1.EndpointPort {
	p := &discoveryv1.EndpointPort{Name: proto.String(name), Port: proto.Int32(port)}
	if protocol != "" {
		p.Protocol = proto.String(protocol)
	}
	return p
}

// withConditions are endpoints at ips with the given conditions (nil:
// unset).
func withConditions(ready, serving, terminating *bool, ips ...string) []*discoveryv1.Endpoint {
	var out []*discoveryv1.Endpoint
	for _, ip := range ips {
		out = append(out, &discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: &discoveryv1.EndpointConditions{Ready: ready, Serving: serving, Terminating: terminating}})
	}
	return out
}

func ready(ips ...string) []*discoveryv1.Endpoint {
	return withConditions(proto.Bool(true), proto.Bool(true), proto.Bool(false), ips...)
}

func notReady(ips ...string) []*discoveryv1.Endpoint {
	return withConditions(proto.Bool(false), proto.Bool(false), proto.Bool(false), ips...)
}

// terminating are endpoints shutting down, serving or not.
func terminating(serving bool, ips ...string) []*discoveryv1.Endpoint {
	return withConditions(proto.Bool(false), proto.Bool(serving), proto.Bool(true), ips...)
}

func sliceList(s ...*discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice { return s }

func TestServicePorts(t *testing.T) {
	web := ServicePort{Namespace: "default", Name: "web", Protocol: "TCP", ClusterIP: "10.96.0.10", Port: 80}
	twoPorts := func(s *corev1.ServiceSpec) {
		s.Ports = []*corev1.ServicePort{
			{Name: "http", Protocol: "TCP", Port: 80},
			{Name: "dns", Protocol: "UDP", Port: 53},
		}
	}
	for _, tc := range []struct {
		name string
		svc  *corev1.Service
		eps  []*discoveryv1.EndpointSlice
		want []ServicePort
	}{
		{name: "nil service", svc: nil, want: nil},
		{name: "headless None", svc: service(func(s *corev1.ServiceSpec) { s.ClusterIp = "None" }), want: nil},
		{name: "headless empty", svc: service(func(s *corev1.ServiceSpec) { s.ClusterIp = "" }), want: nil},
		{name: "IPv6 only", svc: service(func(s *corev1.ServiceSpec) { s.ClusterIp = "fd00::10" }), want: nil},
		{name: "ExternalName", svc: service(func(s *corev1.ServiceSpec) {
			s.Type, s.ClusterIp, s.ExternalName = "ExternalName", "", "example.com"
		}), want: nil},
		{name: "ExternalName with a cluster IP", svc: service(func(s *corev1.ServiceSpec) { s.Type = "ExternalName" }), want: nil},
		{name: "no EndpointSlices yet", svc: service(nil), eps: nil, want: []ServicePort{web}},
		{name: "clusterIPs only", svc: service(func(s *corev1.ServiceSpec) { s.ClusterIp, s.ClusterIps = "", []string{"10.96.0.10"} }),
			want: []ServicePort{web}},
		{
			name: "unnamed single port, ready only, sorted and de-duplicated",
			svc:  service(nil),
			eps: sliceList(
				slice([]*discoveryv1.EndpointPort{slicePort("", "TCP", 8080)},
					ready("10.244.2.7", "10.244.1.5", "fd00::5"), notReady("10.244.3.3"), terminating(true, "10.244.5.5")),
				slice([]*discoveryv1.EndpointPort{slicePort("", "", 8080)}, ready("10.244.1.5")), // protocol defaults to TCP
				slice([]*discoveryv1.EndpointPort{slicePort("", "TCP", 8080)}, notReady("10.244.4.4")),
			),
			want: []ServicePort{with(web, func(sp *ServicePort) {
				sp.Endpoints = []Endpoint{{IP: "10.244.1.5", Port: 8080}, {IP: "10.244.2.7", Port: 8080}}
			})},
		},
		{
			name: "unset conditions count as ready",
			svc:  service(nil),
			eps: sliceList(slice([]*discoveryv1.EndpointPort{slicePort("", "TCP", 8080)}, withConditions(nil, nil, nil, "10.244.1.5"),
				[]*discoveryv1.Endpoint{{Addresses: []string{"10.244.1.6"}}})),
			want: []ServicePort{with(web, func(sp *ServicePort) {
				sp.Endpoints = []Endpoint{{IP: "10.244.1.5", Port: 8080}, {IP: "10.244.1.6", Port: 8080}}
			})},
		},
		{
			name: "no ready endpoint: the serving terminating ones",
			svc:  service(nil),
			eps: sliceList(slice([]*discoveryv1.EndpointPort{slicePort("", "TCP", 8080)},
				terminating(true, "10.244.1.5"), terminating(false, "10.244.1.6"), notReady("10.244.1.7"))),
			want: []ServicePort{with(web, func(sp *ServicePort) { sp.Endpoints = []Endpoint{{IP: "10.244.1.5", Port: 8080}} })},
		},
		{
			name: "no endpoint ready or serving: none",
			svc:  service(nil),
			eps:  sliceList(slice([]*discoveryv1.EndpointPort{slicePort("", "TCP", 8080)}, terminating(false, "10.244.1.6"), notReady("10.244.1.7"))),
			want: []ServicePort{web},
		},
		{
			name: "ports matched by name and protocol",
			svc:  service(twoPorts),
			eps: sliceList(
				slice([]*discoveryv1.EndpointPort{
					slicePort("dns", "UDP", 5353),
					slicePort("http", "TCP", 8080),
					slicePort("http", "UDP", 9090), // wrong protocol
					slicePort("metrics", "TCP", 9100),
					slicePort("", "TCP", 7777), // unnamed: no unnamed service port
				}, ready("10.244.1.5")),
				slice([]*discoveryv1.EndpointPort{slicePort("http", "TCP", 8081)}, ready("10.244.2.7")),
			),
			want: []ServicePort{
				with(web, func(sp *ServicePort) {
					sp.PortName, sp.Endpoints = "http", []Endpoint{{IP: "10.244.1.5", Port: 8080}, {IP: "10.244.2.7", Port: 8081}}
				}),
				with(web, func(sp *ServicePort) {
					sp.PortName, sp.Protocol, sp.Port, sp.Endpoints = "dns", "UDP", 53, []Endpoint{{IP: "10.244.1.5", Port: 5353}}
				}),
			},
		},
		{
			name: "NodePort, external IPs, protocol default",
			svc: service(func(s *corev1.ServiceSpec) {
				s.Type, s.ExternalIps = "NodePort", []string{"192.0.2.10", "2001:db8::1"}
				s.Ports = []*corev1.ServicePort{{Port: 80, NodePort: 30080}}
			}),
			want: []ServicePort{with(web, func(sp *ServicePort) { sp.NodePort, sp.ExternalIPs = 30080, []string{"192.0.2.10"} })},
		},
		{
			name: "nodePort ignored on a ClusterIP service",
			svc:  service(func(s *corev1.ServiceSpec) { s.Ports[0].NodePort = 30080 }),
			want: []ServicePort{web},
		},
		{
			name: "LoadBalancer keeps its NodePort",
			svc: service(func(s *corev1.ServiceSpec) {
				s.Type, s.Ports[0].NodePort = "LoadBalancer", 30080
			}),
			want: []ServicePort{with(web, func(sp *ServicePort) { sp.NodePort = 30080 })},
		},
		{
			name: "affinity default",
			svc:  service(func(s *corev1.ServiceSpec) { s.SessionAffinity = "ClientIP" }),
			want: []ServicePort{with(web, func(sp *ServicePort) { sp.AffinitySeconds = 10800 })},
		},
		{
			name: "affinity timeout",
			svc: service(func(s *corev1.ServiceSpec) {
				s.SessionAffinity = "ClientIP"
				s.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIp: &corev1.ClientIPConfig{TimeoutSeconds: proto.Int32(60)}}
			}),
			want: []ServicePort{with(web, func(sp *ServicePort) { sp.AffinitySeconds = 60 })},
		},
		{
			name: "affinity config without ClientIP affinity",
			svc: service(func(s *corev1.ServiceSpec) {
				s.SessionAffinity = "None"
				s.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIp: &corev1.ClientIPConfig{TimeoutSeconds: proto.Int32(60)}}
			}),
			want: []ServicePort{web},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ServicePorts(tc.svc, tc.eps, "")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ServicePorts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestServicePortsRender: what ServicePorts returns renders to the same
// rules as the hand-written ports of the golden cases.
func TestServicePortsRender(t *testing.T) {
	svc := service(func(s *corev1.ServiceSpec) {
		s.Type = "NodePort"
		s.Ports = []*corev1.ServicePort{{Port: 80, NodePort: 30080}}
	})
	eps := sliceList(slice([]*discoveryv1.EndpointPort{slicePort("", "", 8080)}, ready("10.244.2.7", "10.244.1.5")))
	want := Render(testCfg, []ServicePort{with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080}, Endpoint{IP: "10.244.2.7", Port: 8080}),
		func(sp *ServicePort) { sp.NodePort = 30080 })})
	if got := Render(testCfg, ServicePorts(svc, eps, "")); string(got) != string(want) {
		t.Fatalf("rules from the objects differ:\n%s", cmp.Diff(string(want), string(got)))
	}
}

// TestServicePortsLocality: endpoints on the proxy's node are Local, and
// the traffic policies map to ExternalLocal and InternalLocal.
func TestServicePortsLocality(t *testing.T) {
	onNode := func(ip, node string) []*discoveryv1.Endpoint {
		e := ready(ip)
		e[0].NodeName = proto.String(node)
		return e
	}
	eps := sliceList(slice([]*discoveryv1.EndpointPort{slicePort("", "", 8080)},
		onNode("10.244.2.7", "node-b"), onNode("10.244.1.5", "node-a"), ready("10.244.3.3")))
	nodePort := func(etp string, itp *string) *corev1.Service {
		return service(func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalTrafficPolicy, s.InternalTrafficPolicy = "NodePort", etp, itp
			s.Ports[0].NodePort = 30080
		})
	}
	remote := func(ip string) Endpoint { return Endpoint{IP: ip, Port: 8080} }
	local := func(ip string) Endpoint { return Endpoint{IP: ip, Port: 8080, Local: true} }
	web := ServicePort{Namespace: "default", Name: "web", Protocol: "TCP", ClusterIP: "10.96.0.10", Port: 80, NodePort: 30080}
	for _, tc := range []struct {
		name, node string
		svc        *corev1.Service
		want       ServicePort
	}{
		{"node-a, Cluster policies", "node-a", nodePort("Cluster", nil), with(web, func(sp *ServicePort) {
			sp.Endpoints = []Endpoint{local("10.244.1.5"), remote("10.244.2.7"), remote("10.244.3.3")}
		})},
		{"node-b, external Local", "node-b", nodePort("Local", nil), with(web, func(sp *ServicePort) {
			sp.ExternalLocal, sp.Endpoints = true, []Endpoint{remote("10.244.1.5"), local("10.244.2.7"), remote("10.244.3.3")}
		})},
		{"no node name: none local", "", nodePort("Local", proto.String("Local")), with(web, func(sp *ServicePort) {
			sp.ExternalLocal, sp.InternalLocal, sp.Endpoints = true, true, []Endpoint{remote("10.244.1.5"), remote("10.244.2.7"), remote("10.244.3.3")}
		})},
		{"internal Local", "node-c", service(func(s *corev1.ServiceSpec) { s.InternalTrafficPolicy = proto.String("Local") }),
			ServicePort{Namespace: "default", Name: "web", Protocol: "TCP", ClusterIP: "10.96.0.10", Port: 80, InternalLocal: true,
				Endpoints: []Endpoint{remote("10.244.1.5"), remote("10.244.2.7"), remote("10.244.3.3")}}},
		{"external Local on a ClusterIP service without external IPs: nothing external", "node-a",
			service(func(s *corev1.ServiceSpec) { s.ExternalTrafficPolicy = "Local" }),
			ServicePort{Namespace: "default", Name: "web", Protocol: "TCP", ClusterIP: "10.96.0.10", Port: 80,
				Endpoints: []Endpoint{local("10.244.1.5"), remote("10.244.2.7"), remote("10.244.3.3")}}},
		{"external Local with external IPs", "node-a",
			service(func(s *corev1.ServiceSpec) { s.ExternalTrafficPolicy, s.ExternalIps = "Local", []string{"192.0.2.10"} }),
			ServicePort{Namespace: "default", Name: "web", Protocol: "TCP", ClusterIP: "10.96.0.10", Port: 80,
				ExternalIPs: []string{"192.0.2.10"}, ExternalLocal: true,
				Endpoints: []Endpoint{local("10.244.1.5"), remote("10.244.2.7"), remote("10.244.3.3")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ServicePorts(tc.svc, eps, tc.node)
			if diff := cmp.Diff([]ServicePort{tc.want}, got); diff != "" {
				t.Errorf("ServicePorts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRenderLocalDuplicate: one ip:port listed as local and not renders as
// local, whatever the order.
func TestRenderLocalDuplicate(t *testing.T) {
	a, b := Endpoint{IP: "10.244.1.5", Port: 8080, Local: true}, Endpoint{IP: "10.244.1.5", Port: 8080}
	mk := func(eps ...Endpoint) []ServicePort {
		return []ServicePort{with(svcPort("web", "10.96.0.10", eps...), func(sp *ServicePort) { sp.InternalLocal = true })}
	}
	ab, ba, want := Render(testCfg, mk(a, b)), Render(testCfg, mk(b, a)), Render(testCfg, mk(a))
	if string(ab) != string(want) || string(ba) != string(want) {
		t.Fatalf("duplicate endpoints render differently:\n%s\n%s", cmp.Diff(string(want), string(ab)), cmp.Diff(string(want), string(ba)))
	}
}
