package validation

import (
	"net"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
)

// Bounds of an EndpointSlice, as Kubernetes sets them.
const (
	maxEndpointAddresses = 100
	maxEndpointPorts     = 20000
	maxZoneHints         = 8
)

// EndpointSlice checks a slice: its address type, every endpoint's
// addresses against that type, hostnames, node names and hints, and its
// ports (unique names, valid numbers and protocols).
func EndpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	var allErrs field.ErrorList
	at := s.GetAddressType()
	allErrs = append(allErrs, validateEnum(at, field.NewPath("addressType"), api.AddressTypeIPv4, api.AddressTypeIPv6, api.AddressTypeFQDN)...)
	ep := field.NewPath("endpoints")
	if n := len(s.GetEndpoints()); n > api.MaxEndpointsPerSliceLimit {
		allErrs = append(allErrs, field.TooMany(ep, n, api.MaxEndpointsPerSliceLimit))
	}
	for i, e := range s.GetEndpoints() {
		allErrs = append(allErrs, validateEndpoint(e, at, ep.Index(i))...)
	}
	pp := field.NewPath("ports")
	if n := len(s.GetPorts()); n > maxEndpointPorts {
		allErrs = append(allErrs, field.TooMany(pp, n, maxEndpointPorts))
	}
	names := map[string]bool{}
	for i, p := range s.GetPorts() {
		ip := pp.Index(i)
		if p.Name != nil && p.GetName() != "" {
			allErrs = append(allErrs, validateDNS1123Label(p.GetName(), ip.Child("name"))...)
		}
		if names[p.GetName()] {
			allErrs = append(allErrs, field.Duplicate(ip.Child("name"), p.GetName()))
		}
		names[p.GetName()] = true
		if p.Port != nil {
			allErrs = append(allErrs, validatePortNum(p.GetPort(), ip.Child("port"))...)
		}
		allErrs = append(allErrs, validateOptionalEnum(p.Protocol, ip.Child("protocol"), api.ProtocolTCP, api.ProtocolUDP, api.ProtocolSCTP)...)
		if p.AppProtocol != nil {
			allErrs = append(allErrs, validateQualifiedName(p.GetAppProtocol(), ip.Child("appProtocol"))...)
		}
	}
	return allErrs
}

// EndpointSliceUpdate checks s as EndpointSlice does, and that its address
// type did not change.
func EndpointSliceUpdate(s, old *discoveryv1.EndpointSlice) field.ErrorList {
	allErrs := EndpointSlice(s)
	return append(allErrs, apivalidation.ValidateImmutableField(s.GetAddressType(), old.GetAddressType(), field.NewPath("addressType"))...)
}

func validateEndpoint(e *discoveryv1.Endpoint, addressType string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	ap := p.Child("addresses")
	switch n := len(e.GetAddresses()); {
	case n == 0:
		allErrs = append(allErrs, field.Required(ap, "must contain at least 1 address"))
	case n > maxEndpointAddresses:
		allErrs = append(allErrs, field.TooMany(ap, n, maxEndpointAddresses))
	}
	for i, a := range e.GetAddresses() {
		allErrs = append(allErrs, validateEndpointAddressOfType(a, addressType, ap.Index(i))...)
	}
	if e.Hostname != nil {
		allErrs = append(allErrs, validateDNS1123Label(e.GetHostname(), p.Child("hostname"))...)
	}
	if e.NodeName != nil {
		allErrs = append(allErrs, DNS1123Subdomain(e.GetNodeName(), p.Child("nodeName"))...)
	}
	if r := e.GetTargetRef(); r != nil && r.GetName() == "" {
		allErrs = append(allErrs, field.Required(p.Child("targetRef", "name"), ""))
	}
	if zones := e.GetHints().GetForZones(); len(zones) > maxZoneHints {
		allErrs = append(allErrs, field.TooMany(p.Child("hints", "forZones"), len(zones), maxZoneHints))
	}
	return allErrs
}

// validateEndpointAddressOfType checks one address against the slice's
// address type (an unknown type is reported once, at addressType).
func validateEndpointAddressOfType(a, addressType string, p *field.Path) field.ErrorList {
	ip := net.ParseIP(a)
	switch addressType {
	case api.AddressTypeIPv4:
		if ip == nil || ip.To4() == nil {
			return field.ErrorList{field.Invalid(p, a, "must be a valid IPv4 address")}
		}
	case api.AddressTypeIPv6:
		if ip == nil || ip.To4() != nil {
			return field.ErrorList{field.Invalid(p, a, "must be a valid IPv6 address")}
		}
	case api.AddressTypeFQDN:
		return DNS1123Subdomain(a, p)
	}
	return nil
}
