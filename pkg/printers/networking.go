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
