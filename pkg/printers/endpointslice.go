package printers

import (
	"strconv"
	"strings"
	"time"

	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	"keel.dev/keel/pkg/registry"
)

// EndpointSliceColumns are the columns of `get endpointslice`.
var EndpointSliceColumns = []registry.Column{{Name: "NAME"}, {Name: "ADDRESSTYPE"}, {Name: "PORTS"}, {Name: "ENDPOINTS"}, {Name: "AGE"}}

// EndpointSliceRow returns the cells of a slice's row under
// EndpointSliceColumns: up to three ports and three addresses, then
// "+ N more...".
func EndpointSliceRow(s *discoveryv1.EndpointSlice, now time.Time) []string {
	var ports, addrs []string
	for _, p := range s.GetPorts() {
		if p.Port == nil {
			ports = append(ports, "<unset>")
		} else {
			ports = append(ports, strconv.Itoa(int(p.GetPort())))
		}
	}
	for _, e := range s.GetEndpoints() {
		addrs = append(addrs, e.GetAddresses()...)
	}
	return []string{s.GetMetadata().GetName(), s.GetAddressType(), firstOf(ports, 3), firstOf(addrs, 3), Age(s.GetMetadata().GetCreationTimestamp(), now)}
}

// firstOf joins up to max values with commas, then " + N more...", or
// "<unset>" when there are none.
func firstOf(vals []string, max int) string {
	if len(vals) == 0 {
		return "<unset>"
	}
	if len(vals) <= max {
		return strings.Join(vals, ",")
	}
	return strings.Join(vals[:max], ",") + " + " + strconv.Itoa(len(vals)-max) + " more..."
}

// DescribeEndpointSlice renders an EndpointSlice as `describe` does.
func DescribeEndpointSlice(o *discoveryv1.EndpointSlice, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.endpointSlice(o) })
}

func (w *dw) endpointSlice(s *discoveryv1.EndpointSlice) {
	m := s.GetMetadata()
	w.head(m, true)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "AddressType:\t%s", s.GetAddressType())
	if len(s.GetPorts()) == 0 {
		w.line(0, "Ports:\t<unset>")
	} else {
		w.line(0, "Ports:")
		w.line(1, "Name\tPort\tProtocol")
		w.line(1, "----\t----\t--------")
		for _, p := range s.GetPorts() {
			port := "<unset>"
			if p.Port != nil {
				port = strconv.Itoa(int(p.GetPort()))
			}
			w.line(1, "%s\t%s\t%s", unsetIfEmpty(p.GetName()), port, unsetIfEmpty(p.GetProtocol()))
		}
	}
	if len(s.GetEndpoints()) == 0 {
		w.line(0, "Endpoints:\t<none>")
	} else {
		w.line(0, "Endpoints:")
	}
	for _, e := range s.GetEndpoints() {
		w.line(1, "- Addresses:\t%s", strings.Join(e.GetAddresses(), ","))
		w.line(2, "Conditions:")
		c := e.GetConditions()
		w.line(3, "Ready:\t%s", optBool(c.Ready))
		w.line(2, "Hostname:\t%s", unsetIfEmpty(e.GetHostname()))
		if r := e.GetTargetRef(); r != nil {
			w.line(2, "TargetRef:\t%s/%s", r.GetKind(), r.GetName())
		}
		w.line(2, "NodeName:\t%s", unsetIfEmpty(e.GetNodeName()))
		w.line(2, "Zone:\t%s", unsetIfEmpty(e.GetZone()))
	}
	w.events()
}

func unsetIfEmpty(s string) string {
	if s == "" {
		return "<unset>"
	}
	return s
}

func optBool(b *bool) string {
	if b == nil {
		return "<unset>"
	}
	return strconv.FormatBool(*b)
}
