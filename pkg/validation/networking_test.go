package validation_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
	"keel.dev/keel/pkg/validation"
)

func validIngress() *networkingv1.Ingress {
	svc := func(name string, port int32) *networkingv1.IngressBackend {
		return &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: &networkingv1.ServiceBackendPort{Number: port}}}
	}
	return &networkingv1.Ingress{Metadata: meta("shop"), Spec: &networkingv1.IngressSpec{
		IngressClassName: proto.String("nginx"),
		Tls:              []*networkingv1.IngressTLS{{Hosts: []string{"shop.example.com", "*.example.com"}, SecretName: "shop-tls"}},
		Rules: []*networkingv1.IngressRule{{Host: "shop.example.com", Http: &networkingv1.HTTPIngressRuleValue{Paths: []*networkingv1.HTTPIngressPath{
			{Path: "/cart", PathType: proto.String("Prefix"), Backend: svc("cart", 80)},
			{PathType: proto.String("ImplementationSpecific"), Backend: svc("web", 8080)},
		}}}},
	}}
}

// TestIngress: each bad Ingress is refused naming every bad field, with
// Kubernetes' paths; the good ones pass.
func TestIngress(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(ing *networkingv1.Ingress)
		want    []string
	}{
		{"valid", func(*networkingv1.Ingress) {}, nil},
		{"default backend only", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules = nil
			ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{ApiGroup: proto.String("example.com"), Kind: "Bucket", Name: "b"}}
		}, nil},
		{"nothing to route", func(ing *networkingv1.Ingress) { ing.Spec.Rules = nil }, []string{"spec"}},
		{"rules", func(ing *networkingv1.Ingress) {
			r := ing.Spec.Rules[0]
			r.Host = "10.0.0.1"
			r.Http.Paths[0].Path = "cart"
			r.Http.Paths[1].PathType = proto.String("Regex")
			ing.Spec.Rules = append(ing.Spec.Rules, &networkingv1.IngressRule{Host: "Bad_Host", Http: &networkingv1.HTTPIngressRuleValue{}},
				&networkingv1.IngressRule{Http: &networkingv1.HTTPIngressRuleValue{Paths: []*networkingv1.HTTPIngressPath{{Path: "/a//b", Backend: r.Http.Paths[0].Backend}}}})
		}, []string{"spec.rules[0].host", "spec.rules[0].http.paths[0].path", "spec.rules[0].http.paths[1].pathType",
			"spec.rules[1].host", "spec.rules[1].http.paths", "spec.rules[2].http.paths[0].pathType"}},
		{"path sequences", func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].Http.Paths[0].Path = "/a/.." }, []string{"spec.rules[0].http.paths[0].path"}},
		{"backends", func(ing *networkingv1.Ingress) {
			ps := ing.Spec.Rules[0].Http.Paths
			ps[0].Backend.Service.Name = "Cart"
			ps[0].Backend.Service.Port.Name = "http"
			ps[1].Backend.Service.Port.Number = 70000
			ing.Spec.DefaultBackend = &networkingv1.IngressBackend{}
		}, []string{"spec.defaultBackend", "spec.rules[0].http.paths[0].backend", "spec.rules[0].http.paths[0].backend.service.name",
			"spec.rules[0].http.paths[1].backend.service.port.number"}},
		{"both backends", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules[0].Http.Paths[0].Backend.Resource = &corev1.TypedLocalObjectReference{Kind: "Bucket"}
		}, []string{"spec.rules[0].http.paths[0].backend"}},
		{"resource backend", func(ing *networkingv1.Ingress) {
			ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{ApiGroup: proto.String("Bad Group"), Name: "a/b"}}
		}, []string{"spec.defaultBackend.resource.apiGroup", "spec.defaultBackend.resource.kind", "spec.defaultBackend.resource.name"}},
		{"tls", func(ing *networkingv1.Ingress) {
			ing.Spec.Tls[0].Hosts = append(ing.Spec.Tls[0].Hosts, "a.*.example.com")
			ing.Spec.Tls[0].SecretName = "Shop TLS"
		}, []string{"spec.tls[0].hosts[2]", "spec.tls[0].secretName"}},
		{"class", func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = proto.String("Nginx!") }, []string{"spec.ingressClassName"}},
		{"annotation disagrees", func(ing *networkingv1.Ingress) {
			ing.Metadata.Annotations = map[string]string{"kubernetes.io/ingress.class": "haproxy"}
		}, []string{"annotations.kubernetes.io/ingress.class"}},
		{"annotation agrees", func(ing *networkingv1.Ingress) {
			ing.Metadata.Annotations = map[string]string{"kubernetes.io/ingress.class": "nginx"}
		}, nil},
	} {
		ing := validIngress()
		tc.breakIt(ing)
		if got := paths(validation.Ingress(ing)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: errors at %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestIngressStatus: load balancer IPs and hostnames are checked.
func TestIngressStatus(t *testing.T) {
	ing := validIngress()
	ing.Status = &networkingv1.IngressStatus{LoadBalancer: &networkingv1.IngressLoadBalancerStatus{Ingress: []*networkingv1.IngressLoadBalancerIngress{
		{Ip: "192.0.2.10", Ports: []*networkingv1.IngressPortStatus{{Port: 443, Protocol: "TCP"}}}, {Hostname: "lb.example.com"},
		{Ip: "not-an-ip"}, {Hostname: "192.0.2.11"},
	}}}
	want := []string{"status.loadBalancer.ingress[2].ip", "status.loadBalancer.ingress[3].hostname"}
	if got := paths(validation.IngressStatus(ing, validIngress())); !slices.Equal(got, want) {
		t.Errorf("errors at %v, want %v", got, want)
	}
}

// TestIngressClass: the controller is a domain-prefixed path, fixed once
// created; parameters name a kind and an object in a known scope.
func TestIngressClass(t *testing.T) {
	valid := func() *networkingv1.IngressClass {
		return &networkingv1.IngressClass{Metadata: clusterMeta("nginx"), Spec: &networkingv1.IngressClassSpec{Controller: "example.com/ingress",
			Parameters: &networkingv1.IngressClassParametersReference{Kind: "Config", Name: "routers", Scope: proto.String("Namespace"), Namespace: proto.String("infra")}}}
	}
	for _, tc := range []struct {
		name    string
		breakIt func(ic *networkingv1.IngressClass)
		want    []string
	}{
		{"valid", func(*networkingv1.IngressClass) {}, nil},
		{"no parameters", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters = nil }, nil},
		{"no controller", func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "" }, []string{"spec.controller"}},
		{"controller without domain", func(ic *networkingv1.IngressClass) { ic.Spec.Controller = "nginx" }, []string{"spec.controller"}},
		{"parameters", func(ic *networkingv1.IngressClass) {
			ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{ApiGroup: proto.String("Bad!"), Scope: proto.String("Cluster"), Namespace: proto.String("infra")}
		}, []string{"spec.parameters.apiGroup", "spec.parameters.kind", "spec.parameters.name", "spec.parameters.namespace"}},
		{"namespace scope needs a namespace", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters.Namespace = nil }, []string{"spec.parameters.namespace"}},
		{"unknown scope", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters.Scope = proto.String("Global") }, []string{"spec.parameters.scope"}},
		{"no scope", func(ic *networkingv1.IngressClass) { ic.Spec.Parameters.Scope = nil }, []string{"spec.parameters.scope"}},
	} {
		ic := valid()
		tc.breakIt(ic)
		if got := paths(validation.IngressClass(ic)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: errors at %v, want %v", tc.name, got, tc.want)
		}
	}
	changed := valid()
	changed.Spec.Controller = "example.com/other"
	if got := paths(validation.IngressClassUpdate(changed, valid())); !slices.Equal(got, []string{"spec.controller"}) {
		t.Errorf("controller change: errors at %v", got)
	}
}

// TestNetworkPolicy: each bad policy is refused naming every bad field,
// with Kubernetes' paths; the good ones pass.
func TestNetworkPolicy(t *testing.T) {
	valid := func() *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{Metadata: meta("api"), Spec: &networkingv1.NetworkPolicySpec{
			PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}},
			Ingress: []*networkingv1.NetworkPolicyIngressRule{{
				Ports: []*networkingv1.NetworkPolicyPort{{Protocol: proto.String("TCP"), Port: api.IntOrStringFromInt(80), EndPort: proto.Int32(90)},
					{Port: api.IntOrStringFromString("http")}, {Protocol: proto.String("UDP")}},
				From: []*networkingv1.NetworkPolicyPeer{{IpBlock: &networkingv1.IPBlock{Cidr: "10.0.0.0/16", Except: []string{"10.0.1.0/24"}}},
					{PodSelector: &metav1.LabelSelector{}, NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}}},
			}},
			Egress:      []*networkingv1.NetworkPolicyEgressRule{{To: []*networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}},
			PolicyTypes: []string{"Ingress", "Egress"},
		}}
	}
	for _, tc := range []struct {
		name    string
		breakIt func(np *networkingv1.NetworkPolicy)
		want    []string
	}{
		{"valid", func(*networkingv1.NetworkPolicy) {}, nil},
		{"empty", func(np *networkingv1.NetworkPolicy) {
			np.Spec = &networkingv1.NetworkPolicySpec{PodSelector: &metav1.LabelSelector{}}
		}, nil},
		{"selector", func(np *networkingv1.NetworkPolicy) {
			np.Spec.PodSelector.MatchExpressions = []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}
		}, []string{"spec.podSelector.matchExpressions[0].operator"}},
		{"ports", func(np *networkingv1.NetworkPolicy) {
			ps := np.Spec.Ingress[0].Ports
			ps[0].Protocol = proto.String("ICMP")
			ps[0].EndPort = proto.Int32(70)
			ps[1].EndPort = proto.Int32(90)
			ps[2].EndPort = proto.Int32(90)
			np.Spec.Egress[0].Ports = []*networkingv1.NetworkPolicyPort{{Port: api.IntOrStringFromInt(0)}, {Port: api.IntOrStringFromString("Not A Name")}}
		}, []string{"spec.egress[0].ports[0].port", "spec.egress[0].ports[1].port", "spec.ingress[0].ports[0].endPort",
			"spec.ingress[0].ports[0].protocol", "spec.ingress[0].ports[1].endPort", "spec.ingress[0].ports[2].endPort"}},
		{"peers", func(np *networkingv1.NetworkPolicy) {
			from := np.Spec.Ingress[0].From
			from[0].IpBlock.Except = []string{"10.1.0.0/24", "10.0.0.0/16", "bad"}
			from[1].IpBlock = &networkingv1.IPBlock{Cidr: "10.0.0.0/8"}
			np.Spec.Egress[0].To = []*networkingv1.NetworkPolicyPeer{{}, {IpBlock: &networkingv1.IPBlock{}}, {IpBlock: &networkingv1.IPBlock{Cidr: "10.0.0.0/33"}}}
		}, []string{"spec.egress[0].to[0]", "spec.egress[0].to[1].ipBlock.cidr", "spec.egress[0].to[2].ipBlock.cidr",
			"spec.ingress[0].from[0].ipBlock.except[0]", "spec.ingress[0].from[0].ipBlock.except[1]", "spec.ingress[0].from[0].ipBlock.except[2]",
			"spec.ingress[0].from[1]"}},
		{"policy types", func(np *networkingv1.NetworkPolicy) { np.Spec.PolicyTypes = []string{"Ingress", "Sideways"} }, []string{"spec.policyTypes[1]"}},
		{"three policy types", func(np *networkingv1.NetworkPolicy) { np.Spec.PolicyTypes = []string{"Ingress", "Egress", "Ingress"} }, []string{"spec.policyTypes"}},
	} {
		np := valid()
		tc.breakIt(np)
		if got := paths(validation.NetworkPolicy(np)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: errors at %v, want %v", tc.name, got, tc.want)
		}
	}
}
