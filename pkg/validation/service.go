package validation

import (
	"fmt"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// NodePortMin and NodePortMax bound Service nodePorts (Kubernetes' default
// --service-node-port-range).
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

var serviceTypes = []string{"", api.ServiceTypeClusterIP, api.ServiceTypeNodePort, api.ServiceTypeLoadBalancer, api.ServiceTypeExternalName}

func validateService(svc *corev1.Service) field.ErrorList {
	p := field.NewPath("spec")
	spec := svc.GetSpec()
	if spec == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	typ := spec.GetType()
	if typ == "" {
		typ = api.ServiceTypeClusterIP
	}
	allErrs := validateEnum(spec.GetType(), p.Child("type"), serviceTypes...)
	typeKnown := len(allErrs) == 0
	headless := spec.GetClusterIp() == api.ClusterIPNone
	nodePorts := api.ServiceNeedsNodePorts(svc)

	switch typ {
	case api.ServiceTypeExternalName:
		if spec.GetExternalName() == "" {
			allErrs = append(allErrs, field.Required(p.Child("externalName"), ""))
		} else {
			allErrs = append(allErrs, DNS1123Subdomain(spec.GetExternalName(), p.Child("externalName"))...)
		}
		if spec.GetClusterIp() != "" {
			allErrs = append(allErrs, field.Forbidden(p.Child("clusterIP"), "may not be set for ExternalName services"))
		}
	default:
		if len(spec.GetPorts()) == 0 && !headless {
			allErrs = append(allErrs, field.Required(p.Child("ports"), ""))
		}
	}
	if headless && nodePorts {
		allErrs = append(allErrs, field.Invalid(p.Child("clusterIP"), api.ClusterIPNone, fmt.Sprintf("may not be set to 'None' for %s services", typ)))
	}

	// Ports.
	multi := len(spec.GetPorts()) > 1
	names := map[string]bool{}
	portProto := map[string]bool{}
	nodePortProto := map[string]bool{}
	for i, port := range spec.GetPorts() {
		pp := p.Child("ports").Index(i)
		switch {
		case port.GetName() == "" && multi:
			allErrs = append(allErrs, field.Required(pp.Child("name"), "must be specified when there is more than one port"))
		case port.GetName() != "":
			allErrs = append(allErrs, validateDNS1123Label(port.GetName(), pp.Child("name"))...)
			if names[port.GetName()] {
				allErrs = append(allErrs, field.Duplicate(pp.Child("name"), port.GetName()))
			}
			names[port.GetName()] = true
		}
		allErrs = append(allErrs, validatePortNum(port.GetPort(), pp.Child("port"))...)
		allErrs = append(allErrs, validateEnum(port.GetProtocol(), pp.Child("protocol"), "", api.ProtocolTCP, api.ProtocolUDP, api.ProtocolSCTP)...)
		if port.AppProtocol != nil {
			allErrs = append(allErrs, validateQualifiedName(port.GetAppProtocol(), pp.Child("appProtocol"))...)
		}
		if tp := port.GetTargetPort(); tp != nil && !(tp.GetType() == api.IntOrStringTypeInt && tp.GetIntVal() == 0) && !(tp.GetType() == api.IntOrStringTypeString && tp.GetStrVal() == "") {
			allErrs = append(allErrs, validatePortNumOrName(tp, pp.Child("targetPort"))...)
		}
		proto := port.GetProtocol()
		if proto == "" {
			proto = api.ProtocolTCP
		}
		key := fmt.Sprintf("%d/%s", port.GetPort(), proto)
		if portProto[key] {
			allErrs = append(allErrs, field.Duplicate(pp, key))
		}
		portProto[key] = true
		if port.GetNodePort() != 0 {
			np := pp.Child("nodePort")
			switch {
			case !typeKnown:
				// The type is reported at spec.type already.
			case !nodePorts:
				allErrs = append(allErrs, field.Forbidden(np, fmt.Sprintf("may not be used when `type` is '%s'", typ)))
			case len(utilvalidation.IsInRange(int(port.GetNodePort()), NodePortMin, NodePortMax)) > 0:
				allErrs = append(allErrs, field.Invalid(np, port.GetNodePort(), fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)))
			}
			nkey := fmt.Sprintf("%d/%s", port.GetNodePort(), proto)
			if nodePortProto[nkey] {
				allErrs = append(allErrs, field.Duplicate(np, nkey))
			}
			nodePortProto[nkey] = true
		}
	}

	// Addresses.
	if ip := spec.GetClusterIp(); ip != "" && ip != api.ClusterIPNone {
		allErrs = append(allErrs, validateIP(ip, p.Child("clusterIP"))...)
	}
	if len(spec.GetClusterIps()) > 2 {
		allErrs = append(allErrs, field.TooMany(p.Child("clusterIPs"), len(spec.GetClusterIps()), 2))
	}
	for i, ip := range spec.GetClusterIps() {
		ipp := p.Child("clusterIPs").Index(i)
		switch {
		case ip == api.ClusterIPNone:
			if i > 0 || len(spec.GetClusterIps()) > 1 {
				allErrs = append(allErrs, field.Invalid(ipp, ip, "'None' must be the only value"))
			}
		default:
			allErrs = append(allErrs, validateIP(ip, ipp)...)
		}
	}
	if len(spec.GetClusterIps()) > 0 && spec.GetClusterIp() != "" && spec.GetClusterIps()[0] != spec.GetClusterIp() {
		allErrs = append(allErrs, field.Invalid(p.Child("clusterIPs").Index(0), spec.GetClusterIps()[0], "must be equal to `clusterIP`"))
	}
	for i, ip := range spec.GetExternalIps() {
		allErrs = append(allErrs, validateIP(ip, p.Child("externalIPs").Index(i))...)
	}
	if spec.GetLoadBalancerIp() != "" {
		allErrs = append(allErrs, validateIP(spec.GetLoadBalancerIp(), p.Child("loadBalancerIP"))...)
	}
	for i, c := range spec.GetLoadBalancerSourceRanges() {
		allErrs = append(allErrs, validateCIDR(c, p.Child("loadBalancerSourceRanges").Index(i))...)
	}
	if len(spec.GetLoadBalancerSourceRanges()) > 0 && typ != api.ServiceTypeLoadBalancer {
		allErrs = append(allErrs, field.Forbidden(p.Child("loadBalancerSourceRanges"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if len(spec.GetIpFamilies()) > 2 {
		allErrs = append(allErrs, field.TooMany(p.Child("ipFamilies"), len(spec.GetIpFamilies()), 2))
	}
	fams := map[string]bool{}
	for i, f := range spec.GetIpFamilies() {
		fp := p.Child("ipFamilies").Index(i)
		allErrs = append(allErrs, validateEnum(f, fp, "IPv4", "IPv6")...)
		if fams[f] {
			allErrs = append(allErrs, field.Duplicate(fp, f))
		}
		fams[f] = true
	}
	allErrs = append(allErrs, validateOptionalEnum(spec.IpFamilyPolicy, p.Child("ipFamilyPolicy"), "SingleStack", "PreferDualStack", "RequireDualStack")...)

	// Selector, affinity and traffic policies.
	allErrs = append(allErrs, validateLabels(spec.GetSelector(), p.Child("selector"))...)
	allErrs = append(allErrs, validateEnum(spec.GetSessionAffinity(), p.Child("sessionAffinity"), "", api.ServiceAffinityNone, api.ServiceAffinityClientIP)...)
	if cfg := spec.GetSessionAffinityConfig(); cfg != nil {
		cp := p.Child("sessionAffinityConfig")
		if spec.GetSessionAffinity() != api.ServiceAffinityClientIP {
			allErrs = append(allErrs, field.Invalid(cp, "", "must not be set when `sessionAffinity` is not 'ClientIP'"))
		} else if t := cfg.GetClientIp(); t != nil && t.TimeoutSeconds != nil && (t.GetTimeoutSeconds() <= 0 || t.GetTimeoutSeconds() > 86400) {
			allErrs = append(allErrs, field.Invalid(cp.Child("clientIP", "timeoutSeconds"), t.GetTimeoutSeconds(), "must be greater than 0 and less than or equal to 86400"))
		}
	}
	etp := p.Child("externalTrafficPolicy")
	allErrs = append(allErrs, validateEnum(spec.GetExternalTrafficPolicy(), etp, "", api.ServiceTrafficPolicyCluster, api.ServiceTrafficPolicyLocal)...)
	if spec.GetExternalTrafficPolicy() != "" && !nodePorts && len(spec.GetExternalIps()) == 0 {
		allErrs = append(allErrs, field.Invalid(etp, spec.GetExternalTrafficPolicy(), "may only be set for externally-accessible services"))
	}
	if spec.GetHealthCheckNodePort() != 0 {
		allErrs = append(allErrs, validatePortNum(spec.GetHealthCheckNodePort(), p.Child("healthCheckNodePort"))...)
	}
	allErrs = append(allErrs, validateOptionalEnum(spec.InternalTrafficPolicy, p.Child("internalTrafficPolicy"), api.ServiceTrafficPolicyCluster, api.ServiceTrafficPolicyLocal)...)
	return allErrs
}

func validateServiceUpdate(svc, old *corev1.Service) field.ErrorList {
	ip, oldIP := svc.GetSpec().GetClusterIp(), old.GetSpec().GetClusterIp()
	// clusterIP is immutable once set, except that changing the type to
	// ExternalName releases it.
	if oldIP != "" && ip != oldIP && !(svc.GetSpec().GetType() == api.ServiceTypeExternalName && ip == "") {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "clusterIP"), ip, apivalidation.FieldImmutableErrorMsg)}
	}
	return nil
}

func validateServiceStatus(s *corev1.ServiceStatus, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, in := range s.GetLoadBalancer().GetIngress() {
		ip := p.Child("loadBalancer", "ingress").Index(i)
		if in.GetIp() != "" {
			allErrs = append(allErrs, validateIP(in.GetIp(), ip.Child("ip"))...)
		}
		if in.GetHostname() != "" {
			allErrs = append(allErrs, DNS1123Subdomain(in.GetHostname(), ip.Child("hostname"))...)
		}
		allErrs = append(allErrs, validateOptionalEnum(in.IpMode, ip.Child("ipMode"), "VIP", "Proxy")...)
		for j, port := range in.GetPorts() {
			allErrs = append(allErrs, validatePortNum(port.GetPort(), ip.Child("ports").Index(j).Child("port"))...)
		}
	}
	allErrs = append(allErrs, validateConditions(s.GetConditions(), p.Child("conditions"))...)
	return allErrs
}

// ---------------------------------------------------------------------------
// Endpoints

func validateEndpoints(ep *corev1.Endpoints) field.ErrorList {
	var allErrs field.ErrorList
	for i, ss := range ep.GetSubsets() {
		sp := field.NewPath("subsets").Index(i)
		if len(ss.GetAddresses()) == 0 && len(ss.GetNotReadyAddresses()) == 0 {
			allErrs = append(allErrs, field.Required(sp, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.GetAddresses() {
			allErrs = append(allErrs, validateEndpointAddress(a, sp.Child("addresses").Index(j))...)
		}
		for j, a := range ss.GetNotReadyAddresses() {
			allErrs = append(allErrs, validateEndpointAddress(a, sp.Child("notReadyAddresses").Index(j))...)
		}
		multi := len(ss.GetPorts()) > 1
		names := map[string]bool{}
		for j, port := range ss.GetPorts() {
			pp := sp.Child("ports").Index(j)
			switch {
			case port.GetName() == "" && multi:
				allErrs = append(allErrs, field.Required(pp.Child("name"), ""))
			case port.GetName() != "":
				allErrs = append(allErrs, validateDNS1123Label(port.GetName(), pp.Child("name"))...)
				if names[port.GetName()] {
					allErrs = append(allErrs, field.Duplicate(pp.Child("name"), port.GetName()))
				}
				names[port.GetName()] = true
			}
			allErrs = append(allErrs, validatePortNum(port.GetPort(), pp.Child("port"))...)
			allErrs = append(allErrs, validateEnum(port.GetProtocol(), pp.Child("protocol"), "", api.ProtocolTCP, api.ProtocolUDP, api.ProtocolSCTP)...)
			if port.AppProtocol != nil {
				allErrs = append(allErrs, validateQualifiedName(port.GetAppProtocol(), pp.Child("appProtocol"))...)
			}
		}
	}
	return allErrs
}

func validateEndpointAddress(a *corev1.EndpointAddress, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if a.GetIp() == "" {
		allErrs = append(allErrs, field.Required(p.Child("ip"), ""))
	} else {
		allErrs = append(allErrs, validateIP(a.GetIp(), p.Child("ip"))...)
	}
	if a.GetHostname() != "" {
		allErrs = append(allErrs, validateDNS1123Label(a.GetHostname(), p.Child("hostname"))...)
	}
	if a.NodeName != nil {
		allErrs = append(allErrs, DNS1123Subdomain(a.GetNodeName(), p.Child("nodeName"))...)
	}
	return allErrs
}
