package printers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
	"keel.dev/keel/pkg/registry"
)

// IngressColumns are the columns of `get ingress`.
var IngressColumns = []registry.Column{{Name: "NAME"}, {Name: "CLASS"}, {Name: "HOSTS"}, {Name: "ADDRESS"},
	{Name: "PORTS"}, {Name: "AGE"}}

// IngressRow returns the cells of an Ingress's row, as kubectl prints
// them: the class ("<none>" when unset), at most three hosts ("*" when no
// rule names one), the load balancer's addresses, and 80 (plus 443 with
// TLS).
func IngressRow(ing *networkingv1.Ingress, now time.Time) []string {
	spec := ing.GetSpec()
	class := "<none>"
	if spec != nil && spec.IngressClassName != nil {
		class = spec.GetIngressClassName()
	}
	ports := "80"
	if len(spec.GetTls()) > 0 {
		ports = "80, 443"
	}
	return []string{ing.GetMetadata().GetName(), class, ingressHosts(spec.GetRules()),
		ingressAddresses(ing.GetStatus().GetLoadBalancer()), ports, Age(ing.GetMetadata().GetCreationTimestamp(), now)}
}

// ingressHosts lists the first three hosts the rules name, then how many
// rules are left ("a,b,c + 2 more...").
func ingressHosts(rules []*networkingv1.IngressRule) string {
	const most = 3
	var hosts []string
	for _, r := range rules {
		if len(hosts) == most {
			return fmt.Sprintf("%s + %d more...", strings.Join(hosts, ","), len(rules)-most)
		}
		if r.GetHost() != "" {
			hosts = append(hosts, r.GetHost())
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	return strings.Join(hosts, ",")
}

// ingressAddresses are the load balancer's IPs (or hostnames when an
// entry has no IP), sorted and without repeats.
func ingressAddresses(lb *networkingv1.IngressLoadBalancerStatus) string {
	var out []string
	for _, in := range lb.GetIngress() {
		switch {
		case in.GetIp() != "":
			out = append(out, in.GetIp())
		case in.GetHostname() != "":
			out = append(out, in.GetHostname())
		}
	}
	slices.Sort(out)
	return strings.Join(slices.Compact(out), ",")
}

// DescribeIngress renders an Ingress as `describe` does: class, address,
// default backend, TLS, and a table of the rules' hosts, paths and
// backends.
func DescribeIngress(ing *networkingv1.Ingress, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, spec := ing.GetMetadata(), ing.GetSpec()
		w.head(m, true)
		w.labels(0, "Labels", m.GetLabels())
		class := "<none>"
		if spec != nil && spec.IngressClassName != nil {
			class = spec.GetIngressClassName()
		}
		w.line(0, "Ingress Class:\t%s", class)
		w.line(0, "Address:\t%s", ingressAddresses(ing.GetStatus().GetLoadBalancer()))
		def := "<default>"
		if b := spec.GetDefaultBackend(); b != nil {
			def = ingressBackend(b)
		}
		w.line(0, "Default backend:\t%s", def)
		if tls := spec.GetTls(); len(tls) > 0 {
			w.line(0, "TLS:")
			for _, t := range tls {
				if t.GetSecretName() == "" {
					w.line(1, "SNI routes %s", strings.Join(t.GetHosts(), ","))
				} else {
					w.line(1, "%s terminates %s", t.GetSecretName(), strings.Join(t.GetHosts(), ","))
				}
			}
		}
		w.line(0, "Rules:")
		w.line(1, "Host\tPath\tBackends")
		w.line(1, "----\t----\t--------")
		if len(spec.GetRules()) == 0 {
			w.line(1, "*\t*\t%s", def)
		}
		for _, r := range spec.GetRules() {
			host := r.GetHost()
			if host == "" {
				host = "*"
			}
			w.line(1, "%s\t", host)
			for _, p := range r.GetHttp().GetPaths() {
				w.line(2, "\t%s \t%s", p.GetPath(), ingressBackend(p.GetBackend()))
			}
		}
		w.annotations(0, m.GetAnnotations())
		w.events()
	})
}

// ingressBackend is "service:port" or the resource's group, kind and name.
func ingressBackend(b *networkingv1.IngressBackend) string {
	if s := b.GetService(); s != nil {
		port := s.GetPort().GetName()
		if n := s.GetPort().GetNumber(); n != 0 {
			port = strconv.Itoa(int(n))
		}
		return s.GetName() + ":" + port
	}
	if r := b.GetResource(); r != nil {
		group := "<none>"
		if r.ApiGroup != nil {
			group = r.GetApiGroup()
		}
		return fmt.Sprintf("APIGroup: %s, Kind: %s, Name: %s", group, r.GetKind(), r.GetName())
	}
	return ""
}

// IngressClassColumns are the columns of `get ingressclass`.
var IngressClassColumns = []registry.Column{{Name: "NAME"}, {Name: "CONTROLLER"}, {Name: "PARAMETERS"}, {Name: "AGE"}}

// IngressClassRow returns the cells of a class's row; PARAMETERS is
// KIND[.GROUP]/NAME or "<none>".
func IngressClassRow(ic *networkingv1.IngressClass, now time.Time) []string {
	return []string{ic.GetMetadata().GetName(), ic.GetSpec().GetController(), ingressClassParameters(ic),
		Age(ic.GetMetadata().GetCreationTimestamp(), now)}
}

func ingressClassParameters(ic *networkingv1.IngressClass) string {
	p := ic.GetSpec().GetParameters()
	if p == nil {
		return "<none>"
	}
	s := p.GetKind()
	if p.ApiGroup != nil {
		s += "." + p.GetApiGroup()
	}
	return s + "/" + p.GetName()
}

// DescribeIngressClass renders an IngressClass as `describe` does.
func DescribeIngressClass(ic *networkingv1.IngressClass, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m := ic.GetMetadata()
		w.head(m, false)
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Controller:\t%s", ic.GetSpec().GetController())
		if p := ic.GetSpec().GetParameters(); p != nil {
			w.line(0, "Parameters:")
			if p.ApiGroup != nil {
				w.line(1, "APIGroup:\t%s", p.GetApiGroup())
			}
			w.line(1, "Kind:\t%s", p.GetKind())
			w.line(1, "Name:\t%s", p.GetName())
			if p.Namespace != nil {
				w.line(1, "Namespace:\t%s", p.GetNamespace())
			}
			if p.Scope != nil {
				w.line(1, "Scope:\t%s", p.GetScope())
			}
		}
		w.events()
	})
}

// NetworkPolicyColumns are the columns of `get netpol`.
var NetworkPolicyColumns = []registry.Column{{Name: "NAME"}, {Name: "POD-SELECTOR"}, {Name: "AGE"}}

// NetworkPolicyRow returns the cells of a policy's row.
func NetworkPolicyRow(np *networkingv1.NetworkPolicy, now time.Time) []string {
	return []string{np.GetMetadata().GetName(), FormatSelector(np.GetSpec().GetPodSelector()), Age(np.GetMetadata().GetCreationTimestamp(), now)}
}

// DescribeNetworkPolicy renders a NetworkPolicy as `describe` does: the
// pods it selects, then what traffic it allows in and out, rule by rule.
func DescribeNetworkPolicy(np *networkingv1.NetworkPolicy, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, spec := np.GetMetadata(), np.GetSpec()
		w.head(m, true)
		w.line(0, "Created on:\t%s", w.time(m.GetCreationTimestamp()))
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Spec:")
		if sel := FormatSelector(spec.GetPodSelector()); sel == "<none>" {
			w.line(1, "PodSelector:\t<none> (Allowing the specific traffic to all pods in this namespace)")
		} else {
			w.line(1, "PodSelector:\t%s", sel)
		}
		types := spec.GetPolicyTypes()
		if slices.Contains(types, "Ingress") || len(spec.GetIngress()) > 0 {
			w.line(1, "Allowing ingress traffic:")
			if len(spec.GetIngress()) == 0 {
				w.line(2, "<none> (Selected pods are isolated for ingress connectivity)")
			}
			for i, r := range spec.GetIngress() {
				if i > 0 {
					w.line(2, "----------")
				}
				w.policyPorts("To Port", r.GetPorts())
				w.policyPeers("From", "source", r.GetFrom())
			}
		} else {
			w.line(1, "Not affecting ingress traffic")
		}
		if slices.Contains(types, "Egress") || len(spec.GetEgress()) > 0 {
			w.line(1, "Allowing egress traffic:")
			if len(spec.GetEgress()) == 0 {
				w.line(2, "<none> (Selected pods are isolated for egress connectivity)")
			}
			for i, r := range spec.GetEgress() {
				if i > 0 {
					w.line(2, "----------")
				}
				w.policyPorts("To Port", r.GetPorts())
				w.policyPeers("To", "destination", r.GetTo())
			}
		} else {
			w.line(1, "Not affecting egress traffic")
		}
		w.line(1, "Policy Types:\t%s", strings.Join(types, ", "))
	})
}

func (w *dw) policyPorts(title string, ports []*networkingv1.NetworkPolicyPort) {
	if len(ports) == 0 {
		w.line(2, "%s:\t<any> (traffic allowed to all ports)", title)
		return
	}
	var cells []string
	for _, p := range ports {
		port := "<any>"
		if p.GetPort() != nil {
			port = budgetValue(p.GetPort(), "")
			if p.EndPort != nil {
				port += "-" + strconv.Itoa(int(p.GetEndPort()))
			}
		}
		cells = append(cells, port+"/"+p.GetProtocol())
	}
	w.line(2, "%s:\t%s", title, strings.Join(cells, ", "))
}

func (w *dw) policyPeers(title, what string, peers []*networkingv1.NetworkPolicyPeer) {
	if len(peers) == 0 {
		w.line(2, "%s:\t<any> (traffic not restricted by %s)", title, what)
		return
	}
	for _, p := range peers {
		w.line(2, "%s:", title)
		switch {
		case p.GetIpBlock() != nil:
			w.line(3, "IPBlock:")
			w.line(4, "CIDR:\t%s", p.GetIpBlock().GetCidr())
			w.line(4, "Except:\t%s", strings.Join(p.GetIpBlock().GetExcept(), ", "))
		case p.GetPodSelector() != nil && p.GetNamespaceSelector() != nil:
			w.line(3, "NamespaceSelector:\t%s", FormatSelector(p.GetNamespaceSelector()))
			w.line(3, "PodSelector:\t%s", FormatSelector(p.GetPodSelector()))
		case p.GetPodSelector() != nil:
			w.line(3, "PodSelector:\t%s", FormatSelector(p.GetPodSelector()))
		default:
			w.line(3, "NamespaceSelector:\t%s", FormatSelector(p.GetNamespaceSelector()))
		}
	}
}
