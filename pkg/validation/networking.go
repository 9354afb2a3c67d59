package validation

import (
	"fmt"
	"net"
	"strings"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
)

// The networking.k8s.io/v1 kinds: Ingress, IngressClass and NetworkPolicy,
// with Kubernetes 1.31's rules and field paths.

// Ingress checks an Ingress's spec: a default backend or rules, hosts that
// are DNS names (a leading "*." wildcard allowed), paths with a path type
// and an absolute, clean path, backends that are one Service port or one
// resource, TLS hosts and Secret names, and a class name. The deprecated
// kubernetes.io/ingress.class annotation must agree with
// spec.ingressClassName when both are set.
func Ingress(ing *networkingv1.Ingress) field.ErrorList {
	spec := ing.GetSpec()
	p := field.NewPath("spec")
	var allErrs field.ErrorList
	if len(spec.GetRules()) == 0 && spec.GetDefaultBackend() == nil {
		allErrs = append(allErrs, field.Invalid(p, field.OmitValueType{}, "either `defaultBackend` or `rules` must be specified"))
	}
	if b := spec.GetDefaultBackend(); b != nil {
		allErrs = append(allErrs, validateIngressBackend(b, p.Child("defaultBackend"))...)
	}
	for i, r := range spec.GetRules() {
		rp := p.Child("rules").Index(i)
		if h := r.GetHost(); h != "" {
			if net.ParseIP(h) != nil {
				allErrs = append(allErrs, field.Invalid(rp.Child("host"), h, "must be a DNS name, not an IP address"))
			}
			allErrs = append(allErrs, validateHost(h, rp.Child("host"))...)
		}
		if http := r.GetHttp(); http != nil {
			hp := rp.Child("http")
			if len(http.GetPaths()) == 0 {
				allErrs = append(allErrs, field.Required(hp.Child("paths"), ""))
			}
			for j, hpath := range http.GetPaths() {
				allErrs = append(allErrs, validateHTTPIngressPath(hpath, hp.Child("paths").Index(j))...)
			}
		}
	}
	for i, tls := range spec.GetTls() {
		tp := p.Child("tls").Index(i)
		for j, h := range tls.GetHosts() {
			allErrs = append(allErrs, validateHost(h, tp.Child("hosts").Index(j))...)
		}
		if n := tls.GetSecretName(); n != "" {
			for _, msg := range apivalidation.NameIsDNSSubdomain(n, false) {
				allErrs = append(allErrs, field.Invalid(tp.Child("secretName"), n, msg))
			}
		}
	}
	if spec != nil && spec.IngressClassName != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(spec.GetIngressClassName(), false) {
			allErrs = append(allErrs, field.Invalid(p.Child("ingressClassName"), spec.GetIngressClassName(), msg))
		}
		if a, ok := ing.GetMetadata().GetAnnotations()[api.IngressClassAnnotation]; ok && a != spec.GetIngressClassName() {
			allErrs = append(allErrs, field.Invalid(field.NewPath("annotations").Child(api.IngressClassAnnotation), a,
				"must match `ingressClassName` when both are specified"))
		}
	}
	return allErrs
}

// IngressStatus checks status.loadBalancer: IPs are IP addresses,
// hostnames DNS names.
func IngressStatus(ing, _ *networkingv1.Ingress) field.ErrorList {
	var allErrs field.ErrorList
	p := statusPath.Child("loadBalancer", "ingress")
	for i, lb := range ing.GetStatus().GetLoadBalancer().GetIngress() {
		ip := p.Index(i)
		if lb.GetIp() != "" {
			allErrs = append(allErrs, validateIP(lb.GetIp(), ip.Child("ip"))...)
		}
		if h := lb.GetHostname(); h != "" {
			allErrs = append(allErrs, DNS1123Subdomain(h, ip.Child("hostname"))...)
			if net.ParseIP(h) != nil {
				allErrs = append(allErrs, field.Invalid(ip.Child("hostname"), h, "must be a DNS name, not an IP address"))
			}
		}
	}
	return allErrs
}

// validateHost accepts a DNS subdomain, or one with a "*." wildcard first
// label.
func validateHost(h string, p *field.Path) field.ErrorList {
	check := utilvalidation.IsDNS1123Subdomain
	if strings.Contains(h, "*") {
		check = utilvalidation.IsWildcardDNS1123Subdomain
	}
	var allErrs field.ErrorList
	for _, msg := range check(h) {
		allErrs = append(allErrs, field.Invalid(p, h, msg))
	}
	return allErrs
}

var pathTypes = []string{api.PathTypeExact, api.PathTypeImplementationSpecific, api.PathTypePrefix}

func validateHTTPIngressPath(hp *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	if hp.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	var allErrs field.ErrorList
	pth := hp.GetPath()
	switch hp.GetPathType() {
	case api.PathTypeExact, api.PathTypePrefix:
		if !strings.HasPrefix(pth, "/") {
			allErrs = append(allErrs, field.Invalid(p.Child("path"), pth, "must be an absolute path"))
		}
		for _, seq := range []string{"//", "/./", "/../", "%2f", "%2F"} {
			if strings.Contains(pth, seq) {
				allErrs = append(allErrs, field.Invalid(p.Child("path"), pth, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suffix := range []string{"/..", "/."} {
			if strings.HasSuffix(pth, suffix) {
				allErrs = append(allErrs, field.Invalid(p.Child("path"), pth, fmt.Sprintf("cannot end with '%s'", suffix)))
			}
		}
	case api.PathTypeImplementationSpecific:
		if pth != "" && !strings.HasPrefix(pth, "/") {
			allErrs = append(allErrs, field.Invalid(p.Child("path"), pth, "must be an absolute path"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(p.Child("pathType"), hp.GetPathType(), pathTypes))
	}
	if hp.GetBackend() == nil {
		return append(allErrs, field.Invalid(p.Child("backend"), "", "resource or service backend is required"))
	}
	return append(allErrs, validateIngressBackend(hp.GetBackend(), p.Child("backend"))...)
}

// validateIngressBackend: exactly one of a Service (a DNS-1035 name and a
// port by name or number) and a resource.
func validateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	svc, res := b.GetService(), b.GetResource()
	switch {
	case svc != nil && res != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case res != nil:
		return validateTypedLocalObjectReference(res, p.Child("resource"))
	case svc == nil:
		return field.ErrorList{field.Invalid(p, "", "resource or service backend is required")}
	}
	var allErrs field.ErrorList
	sp := p.Child("service")
	if svc.GetName() == "" {
		allErrs = append(allErrs, field.Required(sp.Child("name"), ""))
	} else {
		for _, msg := range apivalidation.NameIsDNS1035Label(svc.GetName(), false) {
			allErrs = append(allErrs, field.Invalid(sp.Child("name"), svc.GetName(), msg))
		}
	}
	name, number := svc.GetPort().GetName(), svc.GetPort().GetNumber()
	switch {
	case name != "" && number != 0:
		allErrs = append(allErrs, field.Invalid(p, "", "cannot set both port name & port number"))
	case name != "":
		for _, msg := range utilvalidation.IsValidPortName(name) {
			allErrs = append(allErrs, field.Invalid(sp.Child("port", "name"), name, msg))
		}
	case number != 0:
		allErrs = append(allErrs, validatePortNum(number, sp.Child("port", "number"))...)
	default:
		allErrs = append(allErrs, field.Required(p, "port name or number is required"))
	}
	return allErrs
}

func validateTypedLocalObjectReference(r *corev1.TypedLocalObjectReference, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if r.ApiGroup != nil {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(r.GetApiGroup()) {
			allErrs = append(allErrs, field.Invalid(p.Child("apiGroup"), r.GetApiGroup(), msg))
		}
	}
	allErrs = append(allErrs, validateRefSegment(r.GetKind(), p.Child("kind"))...)
	return append(allErrs, validateRefSegment(r.GetName(), p.Child("name"))...)
}

// validateRefSegment: required, and usable as a URL path segment.
func validateRefSegment(v string, p *field.Path) field.ErrorList {
	if v == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var allErrs field.ErrorList
	for _, msg := range path.IsValidPathSegmentName(v) {
		allErrs = append(allErrs, field.Invalid(p, v, msg))
	}
	return allErrs
}

// IngressClass checks a class's spec: a controller that is a
// domain-prefixed path of at most 250 characters, and parameters that name
// a kind and an object, with scope Cluster or Namespace (the latter with a
// namespace, the former without).
func IngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	p := field.NewPath("spec")
	spec := ic.GetSpec()
	var allErrs field.ErrorList
	switch c := spec.GetController(); {
	case c == "":
		allErrs = append(allErrs, field.Required(p.Child("controller"), ""))
	default:
		if len(c) > 250 {
			allErrs = append(allErrs, field.TooLong(p.Child("controller"), "", 250))
		}
		allErrs = append(allErrs, utilvalidation.IsDomainPrefixedPath(p.Child("controller"), c)...)
	}
	par := spec.GetParameters()
	if par == nil {
		return allErrs
	}
	pp := p.Child("parameters")
	if par.ApiGroup != nil {
		for _, msg := range utilvalidation.IsDNS1123Subdomain(par.GetApiGroup()) {
			allErrs = append(allErrs, field.Invalid(pp.Child("apiGroup"), par.GetApiGroup(), msg))
		}
	}
	allErrs = append(allErrs, validateRefSegment(par.GetKind(), pp.Child("kind"))...)
	allErrs = append(allErrs, validateRefSegment(par.GetName(), pp.Child("name"))...)
	if par.Scope == nil {
		return append(allErrs, field.Required(pp.Child("scope"), ""))
	}
	switch par.GetScope() {
	case api.IngressClassParametersScopeNamespace:
		if par.Namespace == nil {
			allErrs = append(allErrs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		} else {
			for _, msg := range apivalidation.ValidateNamespaceName(par.GetNamespace(), false) {
				allErrs = append(allErrs, field.Invalid(pp.Child("namespace"), par.GetNamespace(), msg))
			}
		}
	case api.IngressClassParametersScopeCluster:
		if par.Namespace != nil {
			allErrs = append(allErrs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(pp.Child("scope"), par.GetScope(),
			[]string{api.IngressClassParametersScopeCluster, api.IngressClassParametersScopeNamespace}))
	}
	return allErrs
}

// IngressClassUpdate: the controller is fixed at creation.
func IngressClassUpdate(ic, old *networkingv1.IngressClass) field.ErrorList {
	return apivalidation.ValidateImmutableField(ic.GetSpec().GetController(), old.GetSpec().GetController(), field.NewPath("spec", "controller"))
}

var policyTypes = []string{api.PolicyTypeIngress, api.PolicyTypeEgress}

// NetworkPolicy checks a policy's spec: valid selectors, ports (TCP, UDP
// or SCTP; a number in 1-65535 or a port name; endPort only after a
// numeric port and not below it), peers that are pods (by pod and/or
// namespace selector) or an IPBlock whose exceptions lie strictly inside
// its CIDR, and policy types Ingress and Egress.
func NetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	spec := np.GetSpec()
	p := field.NewPath("spec")
	allErrs := validateLabelSelector(spec.GetPodSelector(), p.Child("podSelector"))
	for i, r := range spec.GetIngress() {
		rp := p.Child("ingress").Index(i)
		for j, port := range r.GetPorts() {
			allErrs = append(allErrs, validateNetworkPolicyPort(port, rp.Child("ports").Index(j))...)
		}
		for j, peer := range r.GetFrom() {
			allErrs = append(allErrs, validateNetworkPolicyPeer(peer, rp.Child("from").Index(j))...)
		}
	}
	for i, r := range spec.GetEgress() {
		rp := p.Child("egress").Index(i)
		for j, port := range r.GetPorts() {
			allErrs = append(allErrs, validateNetworkPolicyPort(port, rp.Child("ports").Index(j))...)
		}
		for j, peer := range r.GetTo() {
			allErrs = append(allErrs, validateNetworkPolicyPeer(peer, rp.Child("to").Index(j))...)
		}
	}
	if types := spec.GetPolicyTypes(); len(types) > len(policyTypes) {
		allErrs = append(allErrs, field.Invalid(p.Child("policyTypes"), types, "may not specify more than two policyTypes"))
	} else {
		for i, t := range types {
			allErrs = append(allErrs, validateEnum(t, p.Child("policyTypes").Index(i), policyTypes...)...)
		}
	}
	return allErrs
}

func validateNetworkPolicyPort(port *networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if port.Protocol != nil {
		allErrs = append(allErrs, validateEnum(port.GetProtocol(), p.Child("protocol"), api.ProtocolTCP, api.ProtocolUDP, api.ProtocolSCTP)...)
	}
	switch {
	case port.GetPort() == nil:
		if port.EndPort != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("endPort"), port.GetEndPort(), "may not be specified when `port` is not specified"))
		}
	case api.IsIntOrStringString(port.GetPort()):
		if port.EndPort != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("endPort"), port.GetEndPort(), "may not be specified when `port` is non-numeric"))
		}
		allErrs = append(allErrs, validatePortNumOrName(port.GetPort(), p.Child("port"))...)
	default:
		allErrs = append(allErrs, validatePortNum(port.GetPort().GetIntVal(), p.Child("port"))...)
		if port.EndPort != nil {
			if port.GetEndPort() < port.GetPort().GetIntVal() {
				allErrs = append(allErrs, field.Invalid(p.Child("endPort"), port.GetEndPort(), "must be greater than or equal to `port`"))
			}
			allErrs = append(allErrs, validatePortNum(port.GetEndPort(), p.Child("endPort"))...)
		}
	}
	return allErrs
}

func validateNetworkPolicyPeer(peer *networkingv1.NetworkPolicyPeer, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	n := 0
	if s := peer.GetPodSelector(); s != nil {
		n++
		allErrs = append(allErrs, validateLabelSelector(s, p.Child("podSelector"))...)
	}
	if s := peer.GetNamespaceSelector(); s != nil {
		n++
		allErrs = append(allErrs, validateLabelSelector(s, p.Child("namespaceSelector"))...)
	}
	if b := peer.GetIpBlock(); b != nil {
		n++
		allErrs = append(allErrs, validateIPBlock(b, p.Child("ipBlock"))...)
	}
	switch {
	case n == 0:
		allErrs = append(allErrs, field.Required(p, "must specify a peer"))
	case n > 1 && peer.GetIpBlock() != nil:
		allErrs = append(allErrs, field.Forbidden(p, "may not specify both ipBlock and another peer"))
	}
	return allErrs
}

func validateIPBlock(b *networkingv1.IPBlock, p *field.Path) field.ErrorList {
	if b.GetCidr() == "" {
		return field.ErrorList{field.Required(p.Child("cidr"), "")}
	}
	allErrs := validateCIDR(b.GetCidr(), p.Child("cidr"))
	_, cidr, err := net.ParseCIDR(b.GetCidr())
	if err != nil {
		return allErrs
	}
	for i, e := range b.GetExcept() {
		ep := p.Child("except").Index(i)
		errs := validateCIDR(e, ep)
		allErrs = append(allErrs, errs...)
		_, except, err := net.ParseCIDR(e)
		if len(errs) > 0 || err != nil {
			continue
		}
		cidrLen, _ := cidr.Mask.Size()
		exceptLen, _ := except.Mask.Size()
		if !cidr.Contains(except.IP) || cidrLen >= exceptLen {
			allErrs = append(allErrs, field.Invalid(ep, e, "must be a strict subset of `cidr`"))
		}
	}
	return allErrs
}
