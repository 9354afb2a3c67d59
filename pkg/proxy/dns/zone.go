package dns

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// SchemaVersion is the version of the Kubernetes DNS schema served, in the
// TXT record dns-version.<domain>.
const SchemaVersion = "1.0.1"

// maxCNAMEHops bounds how many CNAMEs (ExternalName services) one answer
// follows, so services naming each other cannot loop.
const maxCNAMEHops = 8

// zone is the records of the cluster domain, computed per query from a
// Source. Every name it knows is one of:
//
//	<domain>                                   SOA
//	dns-version.<domain>                       TXT SchemaVersion
//	svc.<domain>, pod.<domain>                 exist, no records
//	<svc>.<ns>.svc.<domain>                    A (ClusterIP, or each endpoint of a headless service), or CNAME (ExternalName)
//	<endpoint>.<svc>.<ns>.svc.<domain>         A, headless services only
//	_<proto>.<svc>.<ns>.svc.<domain>           exist, no records
//	_<port>._<proto>.<svc>.<ns>.svc.<domain>   SRV, one per named port (and endpoint, when headless)
//	<a>-<b>-<c>-<d>.<ns>.pod.<domain>          A <a>.<b>.<c>.<d>, for any namespace and address
//
// Names are lower case and fully qualified. <ns>.svc.<domain> and
// <ns>.pod.<domain> do not exist: a Source knows services, not namespaces.
type zone struct {
	domain string // lower case, fully qualified: "cluster.local."
	ttl    uint32
	src    Source
}

// records returns a set of names and their records that holds name (lower
// case, fully qualified, inside z.domain) if and only if name exists; it may
// exist with no records. The set may hold other names too: all of a
// service's, so that SRV targets are at hand. It is new on every call; the
// caller may modify it.
func (z *zone) records(name string) recordSet {
	if name == z.domain {
		return recordSet{name: {z.soa()}}
	}
	labels := dns.SplitDomainName(strings.TrimSuffix(name, "."+z.domain))
	n := len(labels)
	switch {
	case n == 1 && labels[0] == "dns-version":
		return recordSet{name: {&dns.TXT{Hdr: z.hdr(name, dns.TypeTXT), Txt: []string{SchemaVersion}}}}
	case n == 1 && (labels[0] == "svc" || labels[0] == "pod"):
		return recordSet{name: nil}
	case n >= 3 && n <= 5 && labels[n-1] == "svc":
		// <svc>.<ns>.svc and the names below it.
		if svc, ok := z.src.Service(labels[n-2], labels[n-3]); ok {
			return z.serviceRecords(svc)
		}
	case n == 3 && labels[n-1] == "pod":
		ip, err := netip.ParseAddr(strings.ReplaceAll(labels[0], "-", "."))
		if err == nil && ip.Is4() {
			return recordSet{name: {z.addr(name, ip)}}
		}
	}
	return nil
}

// serviceRecords returns every name under <svc>.<ns>.svc.<domain> with its
// records. A headless service has names only for its ready endpoints (from
// its EndpointSlices; every one when it publishes not-ready addresses), so
// none at all without any (the specification asks for NXDOMAIN); nor has an
// ExternalName service without an external name.
func (z *zone) serviceRecords(svc *corev1.Service) recordSet {
	meta, spec := svc.GetMetadata(), svc.GetSpec()
	base := strings.ToLower(meta.GetName()+"."+meta.GetNamespace()) + ".svc." + z.domain
	b := builder{z: z, set: recordSet{}, seen: map[string]bool{}}
	switch {
	case spec.GetType() == api.ServiceTypeExternalName:
		if spec.GetExternalName() == "" {
			return nil
		}
		b.add(base, &dns.CNAME{Hdr: z.hdr(base, dns.TypeCNAME), Target: dns.Fqdn(strings.ToLower(spec.GetExternalName()))})
	case spec.GetClusterIp() == api.ClusterIPNone:
		for _, sl := range z.src.EndpointSlices(meta.GetNamespace(), meta.GetName()) {
			for _, e := range sl.GetEndpoints() {
				if c := e.GetConditions(); c != nil && c.Ready != nil && !c.GetReady() && !spec.GetPublishNotReadyAddresses() {
					continue // not ready (unset counts as ready)
				}
				if len(e.GetAddresses()) == 0 {
					continue
				}
				ip, err := netip.ParseAddr(e.GetAddresses()[0])
				if err != nil {
					continue
				}
				host := strings.ToLower(e.GetHostname())
				if host == "" {
					host = dashed(ip)
				}
				target := host + "." + base
				b.add(base, z.addr(base, ip))
				b.add(target, z.addr(target, ip))
				for _, p := range sl.GetPorts() {
					b.srv(base, p.GetName(), p.GetProtocol(), p.GetPort(), target)
				}
			}
		}
	default:
		b.exist(base)
		if ip, err := netip.ParseAddr(spec.GetClusterIp()); err == nil {
			b.add(base, z.addr(base, ip))
		}
		for _, p := range spec.GetPorts() {
			b.srv(base, p.GetName(), p.GetProtocol(), p.GetPort(), base)
		}
	}
	return b.set
}

// recordSet maps names to their records.
type recordSet map[string][]dns.RR

// builder fills a recordSet without duplicate records.
type builder struct {
	z    *zone
	set  recordSet
	seen map[string]bool // rr.String() of every record in set
}

func (b *builder) exist(name string) {
	if _, ok := b.set[name]; !ok {
		b.set[name] = nil
	}
}

func (b *builder) add(name string, rr dns.RR) {
	if key := rr.String(); !b.seen[key] {
		b.seen[key] = true
		b.set[name] = append(b.set[name], rr)
	}
}

// srv adds the SRV record of a named port to target, and its parent
// _<proto> name. Unnamed ports have no SRV record.
func (b *builder) srv(base, port, protocol string, number int32, target string) {
	if port == "" || number <= 0 || number > 65535 {
		return
	}
	if protocol == "" {
		protocol = api.ProtocolTCP
	}
	proto := "_" + strings.ToLower(protocol) + "." + base
	name := "_" + strings.ToLower(port) + "." + proto
	b.exist(proto)
	b.add(name, &dns.SRV{Hdr: b.z.hdr(name, dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(number), Target: target})
}

// dashed is the name of an endpoint without a hostname: its address with
// dashes for separators (10-244-1-5).
func dashed(ip netip.Addr) string {
	return strings.NewReplacer(".", "-", ":", "-").Replace(ip.String())
}

func (z *zone) hdr(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: z.ttl}
}

func (z *zone) addr(name string, ip netip.Addr) dns.RR {
	if ip.Is4() {
		return &dns.A{Hdr: z.hdr(name, dns.TypeA), A: ip.AsSlice()}
	}
	return &dns.AAAA{Hdr: z.hdr(name, dns.TypeAAAA), AAAA: ip.AsSlice()}
}

// soa is the zone's SOA record; its minimum (the negative-caching TTL) is
// the zone's TTL.
func (z *zone) soa() *dns.SOA {
	return &dns.SOA{
		Hdr:     z.hdr(z.domain, dns.TypeSOA),
		Ns:      "ns.dns." + z.domain,
		Mbox:    "hostmaster." + z.domain,
		Serial:  1,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  z.ttl,
	}
}

// answer fills m, a reply to client query r, with the answer to q, a
// question inside the cluster domain:
//   - records of q's type (all of them for ANY), owned by q.Name as asked;
//     the A records of SRV targets go to the additional section;
//   - for another type at a name holding a CNAME, the CNAME, followed to its
//     target: inside the domain again, or through the upstreams (if they
//     fail, the CNAME alone is the answer, for the client to follow);
//   - a name that does not exist: NXDOMAIN; one without records of q's type:
//     an empty answer; both with the zone's SOA in the authority section.
//
// Classes other than IN (and ANY) are refused.
func (s *Server) answer(m *dns.Msg, q dns.Question, r *dns.Msg) {
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return
	}
	name, owner := strings.ToLower(dns.Fqdn(q.Name)), q.Name
	for hops := 0; hops <= maxCNAMEHops; hops++ {
		if !dns.IsSubDomain(s.zone.domain, name) {
			resp, err := s.forward(dns.Question{Name: name, Qtype: q.Qtype, Qclass: q.Qclass}, r)
			if err == nil && (resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError) {
				m.Rcode = resp.Rcode
				m.Answer = append(m.Answer, resp.Answer...)
			}
			return
		}
		set := s.zone.records(name)
		rrs, ok := set[name]
		if !ok {
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{s.zone.soa()}
			return
		}
		var match []dns.RR
		var cname *dns.CNAME
		for _, rr := range rrs {
			if q.Qtype == dns.TypeANY || rr.Header().Rrtype == q.Qtype {
				match = append(match, rr)
			}
			if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if len(match) == 0 && cname != nil {
			cname.Hdr.Name = owner
			m.Answer = append(m.Answer, cname)
			name, owner = cname.Target, cname.Target
			continue
		}
		if len(match) == 0 {
			m.Ns = []dns.RR{s.zone.soa()}
			return
		}
		added := map[string]bool{}
		for _, rr := range match {
			rr.Header().Name = owner
			m.Answer = append(m.Answer, rr)
			if srv, ok := rr.(*dns.SRV); ok && !added[srv.Target] {
				added[srv.Target] = true
				additional(m, set[srv.Target])
			}
		}
		return
	}
	// The CNAME chain is longer than maxCNAMEHops: answer what was found.
}

// additional adds the address records among rrs to m's additional section.
func additional(m *dns.Msg, rrs []dns.RR) {
	for _, rr := range rrs {
		switch rr.(type) {
		case *dns.A, *dns.AAAA:
			m.Extra = append(m.Extra, rr)
		}
	}
}
