package kubernetesservice

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func lease(ip string, port int32, ttl time.Duration) Lease {
	return Lease{IP: ip, Port: port, Expires: now.Add(ttl)}
}

func TestLive(t *testing.T) {
	live, expired := Live([]Lease{
		lease("10.0.0.2", 6443, time.Second),
		lease("10.0.0.1", 6443, 0), // expires now: dead
		lease("10.0.0.3", 6443, -time.Minute),
		lease("10.0.0.1", 7443, time.Minute),
	}, now)
	keys := func(ls []Lease) (out []string) {
		for _, l := range ls {
			out = append(out, l.Key())
		}
		return out
	}
	if got, want := keys(live), []string{"10.0.0.1:7443", "10.0.0.2:6443"}; !equal(got, want) {
		t.Errorf("live = %v, want %v", got, want)
	}
	if got, want := keys(expired), []string{"10.0.0.1:6443", "10.0.0.3:6443"}; !equal(got, want) {
		t.Errorf("expired = %v, want %v", got, want)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLeaseRoundTrip(t *testing.T) {
	l := lease("fd00::1", 6443, time.Second)
	got, err := DecodeLease(l.Encode())
	if err != nil || !got.Expires.Equal(l.Expires) || got.IP != l.IP || got.Port != l.Port {
		t.Fatalf("DecodeLease(Encode(%v)) = %v, %v", l, got, err)
	}
	if got.Key() != "[fd00::1]:6443" {
		t.Errorf("Key = %q", got.Key())
	}
	for _, bad := range []string{`{`, `{"ip":"nope","port":1}`, `{"ip":"10.0.0.1","port":0}`, `{"ip":"10.0.0.1","port":70000}`} {
		if _, err := DecodeLease([]byte(bad)); err == nil {
			t.Errorf("DecodeLease(%s): no error", bad)
		}
	}
}

func TestService(t *testing.T) {
	want := DesiredService("10.96.0.1", 6443)
	mod := func(f func(s *corev1.Service)) *corev1.Service {
		s := proto.Clone(want).(*corev1.Service)
		s.Metadata.ResourceVersion = "7"
		f(s)
		return s
	}
	live := []Lease{lease("10.0.0.1", 6443, time.Minute), lease("10.0.0.2", 7443, time.Minute)}
	for _, tc := range []struct {
		name         string
		have         *corev1.Service
		wantNext     bool
		wantRecreate bool
	}{
		{name: "missing: create", have: nil, wantNext: true},
		{name: "right: nothing", have: mod(func(*corev1.Service) {})},
		{name: "extra label kept: nothing", have: mod(func(s *corev1.Service) { s.Metadata.Labels["team"] = "x" })},
		{name: "targetPort of another live apiserver: nothing", have: mod(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort.IntVal = 7443 })},
		{name: "targetPort of no live apiserver: update", have: mod(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort.IntVal = 8443 }), wantNext: true},
		{name: "named targetPort: update", have: mod(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = &metav1.IntOrString{Type: 1, StrVal: "https"} }), wantNext: true},
		{name: "wrong port: update", have: mod(func(s *corev1.Service) { s.Spec.Ports[0].Port = 444 }), wantNext: true},
		{name: "extra port: update", have: mod(func(s *corev1.Service) { s.Spec.Ports = append(s.Spec.Ports, &corev1.ServicePort{Name: "x", Port: 1}) }), wantNext: true},
		{name: "selector: update", have: mod(func(s *corev1.Service) { s.Spec.Selector = map[string]string{"a": "b"} }), wantNext: true},
		{name: "NodePort type: update", have: mod(func(s *corev1.Service) { s.Spec.Type = "NodePort" }), wantNext: true},
		{name: "label missing: update", have: mod(func(s *corev1.Service) { delete(s.Metadata.Labels, "provider") }), wantNext: true},
		{name: "other ClusterIP: recreate", have: mod(func(s *corev1.Service) { s.Spec.ClusterIp = "10.96.3.3" }), wantNext: true, wantRecreate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, recreate := Service(want, tc.have, live)
			if (next != nil) != tc.wantNext || recreate != tc.wantRecreate {
				t.Fatalf("Service = %v, recreate %v; want next %v, recreate %v", next, recreate, tc.wantNext, tc.wantRecreate)
			}
			if next == nil {
				return
			}
			// Whatever is written is right afterwards, and an update
			// keeps the object's identity.
			if n, _ := Service(want, next, live); n != nil {
				t.Errorf("the written Service is not right: %v", next)
			}
			if tc.have != nil && !recreate && next.GetMetadata().GetResourceVersion() != "7" {
				t.Errorf("update lost the resourceVersion: %v", next.GetMetadata())
			}
			if tc.have != nil && !recreate && tc.have.Metadata.Labels["team"] != "" && next.Metadata.Labels["team"] == "" {
				t.Errorf("update dropped a label")
			}
		})
	}
}

func TestEndpoints(t *testing.T) {
	addrs := func(ips ...string) (out []*corev1.EndpointAddress) {
		for _, ip := range ips {
			out = append(out, &corev1.EndpointAddress{Ip: ip})
		}
		return out
	}
	subset := func(port int32, ips ...string) *corev1.EndpointSubset {
		return &corev1.EndpointSubset{Addresses: addrs(ips...), Ports: []*corev1.EndpointPort{{Name: "https", Port: port, Protocol: "TCP"}}}
	}
	eps := func(subsets ...*corev1.EndpointSubset) *corev1.Endpoints {
		return &corev1.Endpoints{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "kubernetes", ResourceVersion: "3",
			Labels: map[string]string{api.LabelSkipMirror: "true"}}, Subsets: subsets}
	}
	for _, tc := range []struct {
		name string
		live []Lease
		have *corev1.Endpoints
		want []*corev1.EndpointSubset // the subsets written
		none bool                     // no write
	}{
		{name: "missing: create", live: []Lease{lease("10.0.0.1", 6443, time.Minute)}, want: []*corev1.EndpointSubset{subset(6443, "10.0.0.1")}},
		{name: "missing, no apiserver live: create empty", want: nil},
		{name: "right: nothing", live: []Lease{lease("10.0.0.2", 6443, time.Minute), lease("10.0.0.1", 6443, time.Minute)},
			have: eps(subset(6443, "10.0.0.1", "10.0.0.2")), none: true},
		{name: "a new apiserver: added, sorted", live: []Lease{lease("10.0.0.2", 6443, time.Minute), lease("10.0.0.1", 6443, time.Minute)},
			have: eps(subset(6443, "10.0.0.2")), want: []*corev1.EndpointSubset{subset(6443, "10.0.0.1", "10.0.0.2")}},
		{name: "a dead apiserver: dropped", live: []Lease{lease("10.0.0.2", 6443, time.Minute)},
			have: eps(subset(6443, "10.0.0.1", "10.0.0.2")), want: []*corev1.EndpointSubset{subset(6443, "10.0.0.2")}},
		{name: "every apiserver dead: emptied", have: eps(subset(6443, "10.0.0.1")), want: nil},
		{name: "ports differ: one subset per port", live: []Lease{lease("127.0.0.1", 7443, time.Minute), lease("127.0.0.1", 6443, time.Minute), lease("10.0.0.1", 6443, time.Minute)},
			want: []*corev1.EndpointSubset{subset(6443, "10.0.0.1", "127.0.0.1"), subset(7443, "127.0.0.1")}},
		{name: "user edits undone", live: []Lease{lease("10.0.0.1", 6443, time.Minute)},
			have: eps(subset(6443, "10.0.0.1", "192.168.9.9")), want: []*corev1.EndpointSubset{subset(6443, "10.0.0.1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := Endpoints(tc.live, tc.have)
			if tc.none {
				if next != nil {
					t.Fatalf("Endpoints = %v, want no write", next)
				}
				return
			}
			if next == nil {
				t.Fatal("Endpoints = nil, want a write")
			}
			got := next.GetSubsets()
			if len(got) != len(tc.want) {
				t.Fatalf("subsets = %v, want %v", got, tc.want)
			}
			for i := range got {
				if !proto.Equal(got[i], tc.want[i]) {
					t.Errorf("subset %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
			if next.GetMetadata().GetName() != "kubernetes" || next.GetMetadata().GetNamespace() != "default" ||
				next.GetMetadata().GetLabels()[api.LabelSkipMirror] != "true" {
				t.Errorf("metadata = %v", next.GetMetadata())
			}
			if tc.have != nil && next.GetMetadata().GetResourceVersion() != "3" {
				t.Errorf("update lost the resourceVersion")
			}
			if Endpoints(tc.live, next) != nil {
				t.Errorf("the written Endpoints are not right")
			}
		})
	}
}

func TestEndpointSlice(t *testing.T) {
	slice := func(addressType string, port int32, ips ...string) *discoveryv1.EndpointSlice {
		s := &discoveryv1.EndpointSlice{Metadata: &metav1.ObjectMeta{Namespace: "default", Name: "kubernetes", ResourceVersion: "3",
			Labels: map[string]string{api.LabelServiceName: "kubernetes"}}, AddressType: addressType}
		if port != 0 {
			s.Ports = []*discoveryv1.EndpointPort{{Name: proto.String("https"), Protocol: proto.String("TCP"), Port: proto.Int32(port)}}
		}
		for _, ip := range ips {
			s.Endpoints = append(s.Endpoints, &discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: &discoveryv1.EndpointConditions{Ready: proto.Bool(true)}})
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		live     []Lease
		have     *discoveryv1.EndpointSlice
		want     *discoveryv1.EndpointSlice // nil: no write
		recreate bool
	}{
		{name: "missing: create", live: []Lease{lease("10.0.0.1", 6443, time.Minute)}, want: slice("IPv4", 6443, "10.0.0.1")},
		{name: "right: nothing", live: []Lease{lease("10.0.0.2", 6443, time.Minute), lease("10.0.0.1", 6443, time.Minute)},
			have: slice("IPv4", 6443, "10.0.0.1", "10.0.0.2")},
		{name: "a dead apiserver: dropped", live: []Lease{lease("10.0.0.2", 6443, time.Minute)},
			have: slice("IPv4", 6443, "10.0.0.1", "10.0.0.2"), want: slice("IPv4", 6443, "10.0.0.2")},
		{name: "every apiserver dead: emptied", have: slice("IPv4", 6443, "10.0.0.1"), want: slice("IPv4", 0)},
		{name: "IPv6 apiservers: recreated", live: []Lease{lease("fd00::1", 6443, time.Minute)},
			have: slice("IPv4", 6443, "10.0.0.1"), want: slice("IPv6", 6443, "fd00::1"), recreate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, recreate := EndpointSlice(tc.live, tc.have)
			if tc.want == nil {
				if next != nil {
					t.Fatalf("EndpointSlice = %v, want no write", next)
				}
				return
			}
			if next == nil || recreate != tc.recreate {
				t.Fatalf("EndpointSlice = %v, %v; want a write, recreate %v", next, recreate, tc.recreate)
			}
			got := proto.Clone(next).(*discoveryv1.EndpointSlice)
			if tc.have == nil || recreate {
				if got.Metadata.GetLabels()["component"] != "apiserver" {
					t.Errorf("labels %v", got.Metadata.GetLabels())
				}
				got.Metadata = tc.want.Metadata
			}
			if !proto.Equal(got, tc.want) {
				t.Errorf("EndpointSlice = %v, want %v", got, tc.want)
			}
			if again, _ := EndpointSlice(tc.live, next); again != nil {
				t.Errorf("the written slice is not right")
			}
		})
	}
}
