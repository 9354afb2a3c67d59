package printers_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
)

// TestIngressRows: kubectl's cells for Ingresses and IngressClasses.
func TestIngressRows(t *testing.T) {
	created := ago(3*time.Minute + 20*time.Second)
	rule := func(host string) *networkingv1.IngressRule { return &networkingv1.IngressRule{Host: host} }
	for _, c := range []struct {
		name string
		ing  *networkingv1.Ingress
		want []string
	}{
		{"no class, any host", &networkingv1.Ingress{Metadata: &metav1.ObjectMeta{Name: "a", CreationTimestamp: created},
			Spec: &networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{}}},
			[]string{"a", "<none>", "*", "", "80", "3m20s"}},
		{"four hosts, TLS, addresses", &networkingv1.Ingress{Metadata: &metav1.ObjectMeta{Name: "b", CreationTimestamp: created},
			Spec: &networkingv1.IngressSpec{IngressClassName: proto.String("nginx"), Tls: []*networkingv1.IngressTLS{{}},
				Rules: []*networkingv1.IngressRule{rule("a.example.com"), rule(""), rule("b.example.com"), rule("c.example.com"), rule("d.example.com")}},
			Status: &networkingv1.IngressStatus{LoadBalancer: &networkingv1.IngressLoadBalancerStatus{Ingress: []*networkingv1.IngressLoadBalancerIngress{
				{Ip: "192.0.2.2"}, {Hostname: "lb.example.com"}, {Ip: "192.0.2.1", Hostname: "ignored.example.com"}, {Ip: "192.0.2.2"}}}}},
			[]string{"b", "nginx", "a.example.com,b.example.com,c.example.com + 2 more...", "192.0.2.1,192.0.2.2,lb.example.com", "80, 443", "3m20s"}},
	} {
		if got := printers.IngressRow(c.ing, now); !slices.Equal(got, c.want) {
			t.Errorf("%s: row %q, want %q", c.name, got, c.want)
		}
	}
	ic := &networkingv1.IngressClass{Metadata: &metav1.ObjectMeta{Name: "nginx", CreationTimestamp: created},
		Spec: &networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx",
			Parameters: &networkingv1.IngressClassParametersReference{ApiGroup: proto.String("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"}}}
	if got, want := printers.IngressClassRow(ic, now), []string{"nginx", "k8s.io/ingress-nginx", "IngressParameters.k8s.example.com/external-lb", "3m20s"}; !slices.Equal(got, want) {
		t.Errorf("class row %q, want %q", got, want)
	}

	ing := &networkingv1.Ingress{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: &networkingv1.IngressSpec{
		Rules: []*networkingv1.IngressRule{{Host: "shop.example.com", Http: &networkingv1.HTTPIngressRuleValue{Paths: []*networkingv1.HTTPIngressPath{
			{Path: "/", PathType: proto.String("Prefix"), Backend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: &networkingv1.ServiceBackendPort{Name: "http"}}}},
			{Path: "/b", PathType: proto.String("Prefix"), Backend: &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}}},
		}}}}}}
	out := printers.DescribeIngress(ing, registry.DescribeInput{Object: ing, Now: now})
	for _, want := range []string{"Namespace:        shop", "Default backend:  <default>", "shop.example.com", "/    web:http", "/b   APIGroup: <none>, Kind: Bucket, Name: b"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}

// TestNetworkPolicyTable: the row and the describe text of a policy.
func TestNetworkPolicyTable(t *testing.T) {
	np := &networkingv1.NetworkPolicy{Metadata: &metav1.ObjectMeta{Name: "api", Namespace: "shop", CreationTimestamp: ago(time.Hour)},
		Spec: &networkingv1.NetworkPolicySpec{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Ingress: []*networkingv1.NetworkPolicyIngressRule{{
				Ports: []*networkingv1.NetworkPolicyPort{{Protocol: proto.String("TCP"), Port: &metav1.IntOrString{IntVal: 80}, EndPort: proto.Int32(90)}},
				From:  []*networkingv1.NetworkPolicyPeer{{IpBlock: &networkingv1.IPBlock{Cidr: "10.0.0.0/16", Except: []string{"10.0.1.0/24"}}}},
			}},
			PolicyTypes: []string{"Ingress", "Egress"}}}
	if got, want := printers.NetworkPolicyRow(np, now), []string{"api", "app=api", "60m"}; !slices.Equal(got, want) {
		t.Errorf("row %q, want %q", got, want)
	}
	empty := &networkingv1.NetworkPolicy{Metadata: &metav1.ObjectMeta{Name: "deny-all", CreationTimestamp: ago(time.Hour)}, Spec: &networkingv1.NetworkPolicySpec{PodSelector: &metav1.LabelSelector{}}}
	if got := printers.NetworkPolicyRow(empty, now)[1]; got != "<none>" {
		t.Errorf("empty selector %q, want <none>", got)
	}
	out := printers.DescribeNetworkPolicy(np, registry.DescribeInput{Object: np, Now: now, Location: time.UTC})
	out = strings.Join(strings.Fields(out), " ") // the cells' alignment aside
	for _, want := range []string{"PodSelector: app=api", "Allowing ingress traffic:", "To Port: 80-90/TCP", "CIDR: 10.0.0.0/16",
		"Except: 10.0.1.0/24", "Allowing egress traffic:", "<none> (Selected pods are isolated for egress connectivity)", "Policy Types: Ingress, Egress"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
}

// TestPodTemplateRow: kubectl's cells for a PodTemplate.
func TestPodTemplateRow(t *testing.T) {
	pt := &corev1.PodTemplate{Metadata: &metav1.ObjectMeta{Name: "worker"}, Template: &corev1.PodTemplateSpec{
		Metadata: &metav1.ObjectMeta{Labels: map[string]string{"tier": "worker", "app": "batch"}},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "a", Image: "busybox:1.36"}, {Name: "b", Image: "pause"}}}}}
	if got, want := printers.PodTemplateRow(pt, now), []string{"worker", "a,b", "busybox:1.36,pause", "app=batch,tier=worker"}; !slices.Equal(got, want) {
		t.Errorf("row %q, want %q", got, want)
	}
	if got := printers.PodTemplateRow(&corev1.PodTemplate{Metadata: &metav1.ObjectMeta{Name: "bare"}}, now); got[3] != "<none>" {
		t.Errorf("no labels: %q", got)
	}
}
