// Package iptables is the iptables half of keel-proxy: a pure renderer from
// Services and Endpoints to one iptables-restore payload, and an Executor
// that applies such a payload atomically and installs the jumps from the
// built-in chains.
//
// The rules follow kube-proxy's iptables mode with KEEL- names. In the nat
// table:
//
//	PREROUTING, OUTPUT -> KEEL-SERVICES
//	KEEL-SERVICES     clusterIP:port          -> KEEL-SVC-<hash>
//	                                             (KEEL-SVL-<hash>: internal policy Local)
//	                  externalIP:port         -> KEEL-EXT-<hash>
//	                  last: dst-type LOCAL    -> KEEL-NODEPORTS
//	KEEL-NODEPORTS    nodePort                -> KEEL-EXT-<hash>
//	KEEL-EXT-<hash>   mark for masquerade, then -> KEEL-SVC-<hash>
//	                  (external policy Local: no mark; traffic from
//	                  ClusterCIDR -> KEEL-SVC-<hash>; from the node itself,
//	                  marked, -> KEEL-SVC-<hash>; the rest -> KEEL-SVL-<hash>)
//	KEEL-SVC-<hash>   mark clusterIP traffic from outside ClusterCIDR,
//	                  sticky (recent) jumps when ClientIP affinity is on,
//	                  then a random spread   -> KEEL-SEP-<hash> (one per endpoint)
//	KEEL-SVL-<hash>   the same over the endpoints on this node only
//	KEEL-SEP-<hash>   mark hairpin traffic (endpoint to itself), DNAT to ip:port
//	KEEL-MARK-MASQ    sets the masquerade bit of the fwmark
//	POSTROUTING -> KEEL-POSTROUTING: MASQUERADE packets carrying the bit
//	                  (clearing it first, so it never leaks further)
//
// In the filter table:
//
//	OUTPUT, FORWARD (ctstate NEW) -> KEEL-SERVICES: REJECT clusterIP and
//	                  external IP ports of services without endpoints;
//	                  DROP those of services with endpoints but none on
//	                  this node when the policy of that traffic is Local
//	INPUT (ctstate NEW) -> KEEL-EXTERNAL-SERVICES: REJECT nodePorts of
//	                  services without endpoints (DROP: none local and
//	                  external policy Local)
//	FORWARD -> KEEL-FORWARD: ACCEPT marked and RELATED,ESTABLISHED traffic
//
// Traffic policies follow kube-proxy. Internal policy Local sends clusterIP
// traffic only to endpoints on this node. External policy Local sends
// nodePort and external IP traffic only to endpoints on this node, without
// masquerading it, so endpoints see the client's address; pods' and the
// node's own traffic to those destinations still goes to any endpoint.
// Traffic whose policy is Local is dropped (by the filter rules above, which
// see it not DNATed) when the service has endpoints but none on this node.
//
// Per-service chains are named by a hash of namespace/name:portName:protocol
// (plus ip:port for KEEL-SEP-), so a chain keeps its name across syncs and
// across proxy restarts. Only IPv4 is programmed.
//
// Render is pure and knows only the current services, so it cannot name the
// chains of services that are gone. Executor.Restore removes them: just
// before restoring it lists the kernel's chains and adds to the payload a
// flush and a delete (-X) for every KEEL-SVC-, KEEL-SVL-, KEEL-EXT- or KEEL-SEP-
// chain the payload does not declare, in the same atomic restore.
package iptables

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"keel.dev/keel/pkg/api"
)

// Endpoint is one ready backend of a service port.
type Endpoint struct {
	IP   string
	Port int32
	// Local is true for an endpoint on this node (the proxy's own).
	Local bool
}

// ServicePort is one port of one Service as the proxy programs it.
type ServicePort struct {
	Namespace, Name, PortName string // PortName "" for an unnamed port
	Protocol                  string // "TCP", "UDP" or "SCTP"; "" means TCP
	ClusterIP                 string // an IPv4 address
	Port                      int32
	NodePort                  int32 // 0: none
	ExternalIPs               []string
	AffinitySeconds           int32      // > 0: ClientIP session affinity with this timeout
	Endpoints                 []Endpoint // ready endpoints only
	// ExternalLocal is externalTrafficPolicy Local: nodePort and external
	// IP traffic from off the node goes only to local endpoints, not
	// masqueraded. It matters only with a NodePort or external IPs.
	ExternalLocal bool
	// InternalLocal is internalTrafficPolicy Local: clusterIP traffic goes
	// only to local endpoints.
	InternalLocal bool
}

// String names the port as kube-proxy does in its rule comments:
// "namespace/name:portName", or "namespace/name" for an unnamed port.
func (sp ServicePort) String() string {
	s := sp.Namespace + "/" + sp.Name
	if sp.PortName != "" {
		s += ":" + sp.PortName
	}
	return s
}

// DefaultMasqueradeBit is the fwmark bit Kubernetes uses (0x4000).
const DefaultMasqueradeBit = 14

// Config is what the rules depend on besides the services.
type Config struct {
	// ClusterCIDR is the pods' IPv4 range. ClusterIP traffic whose source
	// is outside it (from the node itself or from off the node) is
	// masqueraded, so replies from an endpoint on another node come back
	// through this node to be un-DNATed. "" means the pod range is unknown:
	// then all ClusterIP traffic is masqueraded (kube-proxy's
	// --masquerade-all), which always routes correctly but hides client
	// addresses from the endpoints.
	ClusterCIDR string
	// MasqueradeBit is the fwmark bit used to mark packets for SNAT, 0..31.
	// Nothing else on the node may use it. Kubernetes uses 14.
	MasqueradeBit int
}

// Validate reports whether Render accepts c.
func (c Config) Validate() error {
	if c.MasqueradeBit < 0 || c.MasqueradeBit > 31 {
		return fmt.Errorf("masquerade bit %d: want 0..31", c.MasqueradeBit)
	}
	if c.ClusterCIDR != "" {
		p, err := netip.ParsePrefix(c.ClusterCIDR)
		if err != nil || !p.Addr().Is4() {
			return fmt.Errorf("cluster CIDR %q: want an IPv4 CIDR", c.ClusterCIDR)
		}
	}
	return nil
}

// Chains Render always declares, and the prefixes of the per-service chains.
const (
	chainServices         = "KEEL-SERVICES"
	chainExternalServices = "KEEL-EXTERNAL-SERVICES"
	chainForward          = "KEEL-FORWARD"
	chainNodePorts        = "KEEL-NODEPORTS"
	chainPostrouting      = "KEEL-POSTROUTING"
	chainMarkMasq         = "KEEL-MARK-MASQ"

	prefixSvc = "KEEL-SVC-"
	prefixSvl = "KEEL-SVL-"
	prefixExt = "KEEL-EXT-"
	prefixSep = "KEEL-SEP-"

	// chainPrefix marks every chain this package owns.
	chainPrefix = "KEEL-"
)

// perServicePrefixes are the chains that come and go with services: the
// Executor deletes those a payload no longer declares.
var perServicePrefixes = []string{prefixSvc, prefixSvl, prefixExt, prefixSep}

// hashName returns prefix plus 16 base32 characters of sha256(key): 25
// characters with the 9-character prefixes, within iptables' 28.
func hashName(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + base32.StdEncoding.EncodeToString(sum[:10])
}

// key identifies a service port; chain names derive from it.
func (sp ServicePort) key() string {
	return sp.Namespace + "/" + sp.Name + ":" + sp.PortName + ":" + sp.Protocol
}

func (sp ServicePort) svcChain() string { return hashName(prefixSvc, sp.key()) }
func (sp ServicePort) svlChain() string { return hashName(prefixSvl, sp.key()) }
func (sp ServicePort) extChain() string { return hashName(prefixExt, sp.key()) }
func (sp ServicePort) sepChain(ep Endpoint) string {
	return hashName(prefixSep, sp.key()+":"+ep.String())
}

// String is ip:port.
func (ep Endpoint) String() string {
	return ep.IP + ":" + strconv.Itoa(int(ep.Port))
}

// probability is the chance, formatted as kube-proxy does, that the first of
// n remaining endpoints is picked: endpoint i of n uses probability(n-i).
func probability(n int) string {
	return fmt.Sprintf("%0.10f", 1.0/float64(n))
}

// Render returns the iptables-restore payload (filter and nat tables) for
// ports, for Executor.Restore. It declares (and so flushes and rewrites)
// every chain it uses; it does not know chains left from services that are
// gone, the Executor deletes those.
//
// Deterministic: the same set of ports, with endpoints and external IPs in
// any order, gives the same bytes. Pure: no I/O.
//
// Render programs what can be programmed rather than fail the whole
// payload: a port with a ClusterIP that is not IPv4, an unknown protocol or
// a port outside 1..65535 is left out; so are endpoints and external IPs
// that are not IPv4 (or whose port is out of range), and a NodePort out of
// range counts as none. Ports that repeat another's namespace, name, port
// name and protocol are dropped but one. A port with no usable endpoint
// gets REJECT rules in the filter table instead of nat rules.
//
// cfg must pass Validate; Render panics otherwise (it is a programming or
// start-up error, not something a sync can fix).
func Render(cfg Config, ports []ServicePort) []byte {
	if err := cfg.Validate(); err != nil {
		panic("iptables.Render: " + err.Error())
	}
	mark := fmt.Sprintf("%#x", uint32(1)<<cfg.MasqueradeBit)
	cidr := ""
	if cfg.ClusterCIDR != "" {
		cidr = netip.MustParsePrefix(cfg.ClusterCIDR).Masked().String()
	}
	sps := normalize(ports)

	var (
		fSvc, fExt, fFwd rules // filter
		nSvc, nNodePorts rules // nat top level
		nPer             rules // nat per-service chains
		nChains          []string
	)
	for _, sp := range sps {
		proto := strings.ToLower(sp.Protocol)
		dport := []string{"-p", proto, "-m", proto, "--dport", strconv.Itoa(int(sp.Port))}
		name := sp.String()
		if len(sp.Endpoints) == 0 {
			comment := quote(name + " has no endpoints")
			reject := []string{"-j", "REJECT", "--reject-with", "icmp-port-unreachable"}
			fSvc.add(chainServices, "-m comment --comment", comment, "-d", sp.ClusterIP+"/32", dport, reject)
			for _, ip := range sp.ExternalIPs {
				fSvc.add(chainServices, "-m comment --comment", comment, "-d", ip+"/32", dport, reject)
			}
			if sp.NodePort != 0 {
				fExt.add(chainExternalServices, "-m comment --comment", comment, "-m addrtype --dst-type LOCAL",
					"-p", proto, "-m", proto, "--dport", strconv.Itoa(int(sp.NodePort)), reject)
			}
			continue
		}

		svc, svl, ext := sp.svcChain(), sp.svlChain(), sp.extChain()
		hasExt := sp.NodePort != 0 || len(sp.ExternalIPs) > 0
		var local []Endpoint
		for _, ep := range sp.Endpoints {
			if ep.Local {
				local = append(local, ep)
			}
		}
		extLocal := hasExt && sp.ExternalLocal
		// KEEL-SVC is used by clusterIP traffic (internal policy Cluster)
		// and by external traffic (policy Cluster, or pods' and the node's
		// own traffic under policy Local); KEEL-SVL by the traffic whose
		// policy is Local, when there are local endpoints.
		useSvc := !sp.InternalLocal || hasExt
		useSvl := len(local) > 0 && (sp.InternalLocal || extLocal)
		if useSvc {
			nChains = append(nChains, svc)
		}
		if useSvl {
			nChains = append(nChains, svl)
		}
		if hasExt {
			nChains = append(nChains, ext)
		}

		// Where clusterIP traffic goes: none local under policy Local drops it.
		internal := svc
		if sp.InternalLocal {
			internal = svl
		}
		noLocal := quote(name + " has no local endpoints")
		drop := []string{"-j", "DROP"}
		if sp.InternalLocal && len(local) == 0 {
			fSvc.add(chainServices, "-m comment --comment", noLocal, "-d", sp.ClusterIP+"/32", dport, drop)
		} else {
			nSvc.add(chainServices, "-m comment --comment", quote(name+" cluster IP"), "-d", sp.ClusterIP+"/32", dport, "-j", internal)
		}
		for _, ip := range sp.ExternalIPs {
			nSvc.add(chainServices, "-m comment --comment", quote(name+" external IP"), "-d", ip+"/32", dport, "-j", ext)
		}
		if sp.NodePort != 0 {
			nNodePorts.add(chainNodePorts, "-m comment --comment", quote(name),
				"-p", proto, "-m", proto, "--dport", strconv.Itoa(int(sp.NodePort)), "-j", ext)
		}
		switch {
		case extLocal:
			if cidr != "" {
				nPer.add(ext, "-m comment --comment", quote("pod traffic for "+name+" external destinations"), "-s", cidr, "-j", svc)
			}
			nPer.add(ext, "-m comment --comment", quote("masquerade LOCAL traffic for "+name+" external destinations"),
				"-m addrtype --src-type LOCAL -j", chainMarkMasq)
			nPer.add(ext, "-m comment --comment", quote("route LOCAL traffic for "+name+" external destinations"),
				"-m addrtype --src-type LOCAL -j", svc)
			if len(local) > 0 {
				nPer.add(ext, "-j", svl)
			} else {
				// Not DNATed, so the filter rules see the original
				// destination and drop it.
				for _, ip := range sp.ExternalIPs {
					fSvc.add(chainServices, "-m comment --comment", noLocal, "-d", ip+"/32", dport, drop)
				}
				if sp.NodePort != 0 {
					fExt.add(chainExternalServices, "-m comment --comment", noLocal, "-m addrtype --dst-type LOCAL",
						"-p", proto, "-m", proto, "--dport", strconv.Itoa(int(sp.NodePort)), drop)
				}
			}
		case hasExt:
			nPer.add(ext, "-m comment --comment", quote("masquerade traffic for "+name+" external destinations"), "-j", chainMarkMasq)
			nPer.add(ext, "-j", svc)
		}

		// KEEL-SVC, KEEL-SVL: masquerade clusterIP traffic (in the chain
		// it uses), affinity, spread.
		masq := []string{"-d", sp.ClusterIP + "/32"}
		if cidr != "" {
			masq = []string{"!", "-s", cidr, "-d", sp.ClusterIP + "/32"}
		}
		if useSvc {
			if internal == svc {
				nPer.add(svc, "-m comment --comment", quote(name+" cluster IP"), masq, dport, "-j", chainMarkMasq)
			}
			spread(&nPer, sp, svc, sp.Endpoints)
		}
		if useSvl {
			if internal == svl {
				nPer.add(svl, "-m comment --comment", quote(name+" cluster IP"), masq, dport, "-j", chainMarkMasq)
			}
			spread(&nPer, sp, svl, local)
		}
		// KEEL-SEP: hairpin, DNAT. Only the endpoints some chain jumps to.
		for _, ep := range sp.Endpoints {
			if !useSvc && !ep.Local {
				continue
			}
			sep := sp.sepChain(ep)
			nChains = append(nChains, sep)
			nPer.add(sep, "-m comment --comment", quote(name), "-s", ep.IP+"/32", "-j", chainMarkMasq)
			var sticky []string
			if sp.AffinitySeconds > 0 {
				sticky = append([]string{"-m recent --set --name", sep}, recentArgs...)
			}
			nPer.add(sep, "-m comment --comment", quote(name), "-p", proto, "-m", proto, sticky, "-j DNAT --to-destination", ep.String())
		}
	}
	nSvc.add(chainServices, "-m comment --comment", quote("keel service nodeports; NOTE: this must be the last rule in this chain"),
		"-m addrtype --dst-type LOCAL -j", chainNodePorts)
	fFwd.add(chainForward, "-m comment --comment", quote("keel forwarding rules"), "-m mark --mark", mark+"/"+mark, "-j ACCEPT")
	fFwd.add(chainForward, "-m comment --comment", quote("keel forwarding conntrack rule"), "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")

	var b bytes.Buffer
	b.WriteString("*filter\n")
	declare(&b, chainServices, chainExternalServices, chainForward)
	b.Write(fSvc.Bytes())
	b.Write(fExt.Bytes())
	b.Write(fFwd.Bytes())
	b.WriteString("COMMIT\n")

	b.WriteString("*nat\n")
	declare(&b, chainServices, chainNodePorts, chainPostrouting, chainMarkMasq)
	declare(&b, nChains...)
	b.Write(nSvc.Bytes())
	b.Write(nNodePorts.Bytes())
	fmt.Fprintf(&b, "-A %s -m mark ! --mark %s/%s -j RETURN\n", chainPostrouting, mark, mark)
	// Clear the bit so a packet re-entering the stack (e.g. after IPsec
	// or through a bridge) is not masqueraded twice.
	fmt.Fprintf(&b, "-A %s -j MARK --xor-mark %s\n", chainPostrouting, mark)
	fmt.Fprintf(&b, "-A %s -m comment --comment %s -j MASQUERADE --random-fully\n", chainPostrouting, quote("keel service traffic requiring SNAT"))
	fmt.Fprintf(&b, "-A %s -j MARK --or-mark %s\n", chainMarkMasq, mark)
	b.Write(nPer.Bytes())
	b.WriteString("COMMIT\n")
	return b.Bytes()
}

var recentArgs = []string{"--mask", "255.255.255.255", "--rsource"}

// spread adds to chain the jumps that pick one of eps (non-empty) for a new
// connection: with ClientIP affinity first the sticky ones, then a random
// spread, the last endpoint taking what is left.
func spread(r *rules, sp ServicePort, chain string, eps []Endpoint) {
	name := sp.String()
	if sp.AffinitySeconds > 0 {
		for _, ep := range eps {
			sep := sp.sepChain(ep)
			r.add(chain, "-m comment --comment", quote(name+" -> "+ep.String()),
				"-m recent --rcheck --seconds", strconv.Itoa(int(sp.AffinitySeconds)), "--reap --name", sep, recentArgs, "-j", sep)
		}
	}
	n := len(eps)
	for i, ep := range eps {
		sep := sp.sepChain(ep)
		if i < n-1 {
			r.add(chain, "-m comment --comment", quote(name+" -> "+ep.String()),
				"-m statistic --mode random --probability", probability(n-i), "-j", sep)
		} else {
			r.add(chain, "-m comment --comment", quote(name+" -> "+ep.String()), "-j", sep)
		}
	}
}

// rules accumulates "-A chain args..." lines. Each argument is a string
// (written as is, so it may hold several words) or a []string.
type rules struct{ bytes.Buffer }

func (r *rules) add(chain string, args ...any) {
	r.WriteString("-A ")
	r.WriteString(chain)
	for _, a := range args {
		switch a := a.(type) {
		case string:
			r.WriteByte(' ')
			r.WriteString(a)
		case []string:
			for _, s := range a {
				r.WriteByte(' ')
				r.WriteString(s)
			}
		default:
			panic(fmt.Sprintf("rules.add: %T", a))
		}
	}
	r.WriteByte('\n')
}

func declare(b *bytes.Buffer, chains ...string) {
	for _, c := range chains {
		fmt.Fprintf(b, ":%s - [0:0]\n", c)
	}
}

// quote makes s one iptables-restore word. Comments here are built from
// namespace, service and port names (DNS labels) and fixed text, so they
// hold no quote or backslash; those would be escaped anyway.
func quote(s string) string {
	return `"` + quoteEscaper.Replace(s) + `"`
}

var quoteEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)

// normalize returns the ports Render programs, canonicalized and sorted:
// invalid items dropped, protocol upper-cased with "" as TCP, addresses in
// canonical form, endpoints and external IPs sorted and de-duplicated,
// ports sorted by key with duplicates of a key dropped.
func normalize(ports []ServicePort) []ServicePort {
	out := make([]ServicePort, 0, len(ports))
	for _, sp := range ports {
		sp.Protocol = strings.ToUpper(cmp.Or(sp.Protocol, api.ProtocolTCP))
		ip, ok := ipv4(sp.ClusterIP)
		if !ok || !validPort(sp.Port) || !slices.Contains([]string{api.ProtocolTCP, api.ProtocolUDP, api.ProtocolSCTP}, sp.Protocol) {
			continue
		}
		sp.ClusterIP = ip
		if !validPort(sp.NodePort) {
			sp.NodePort = 0
		}
		sp.AffinitySeconds = max(sp.AffinitySeconds, 0)
		var ext []string
		for _, e := range sp.ExternalIPs {
			if ip, ok := ipv4(e); ok {
				ext = append(ext, ip)
			}
		}
		slices.SortFunc(ext, func(a, b string) int { return netip.MustParseAddr(a).Compare(netip.MustParseAddr(b)) })
		sp.ExternalIPs = slices.Compact(ext)
		var eps []Endpoint
		for _, ep := range sp.Endpoints {
			if ip, ok := ipv4(ep.IP); ok && validPort(ep.Port) {
				eps = append(eps, Endpoint{IP: ip, Port: ep.Port, Local: ep.Local})
			}
		}
		slices.SortFunc(eps, compareEndpoints)
		sp.Endpoints = slices.CompactFunc(eps, sameEndpoint)
		out = append(out, sp)
	}
	// Sort by key, then by the rest, so which of two ports with the same
	// key survives does not depend on the input order.
	slices.SortFunc(out, func(a, b ServicePort) int {
		if c := cmp.Or(
			strings.Compare(a.Namespace, b.Namespace),
			strings.Compare(a.Name, b.Name),
			strings.Compare(a.PortName, b.PortName),
			strings.Compare(a.Protocol, b.Protocol),
		); c != 0 {
			return c
		}
		return strings.Compare(fmt.Sprintf("%#v", a), fmt.Sprintf("%#v", b))
	})
	return slices.CompactFunc(out, func(a, b ServicePort) bool { return a.key() == b.key() })
}

// compareEndpoints orders by address, port, then local first, so that of
// two entries for one ip:port (which sameEndpoint merges) the local one is
// kept, whatever the input order.
func compareEndpoints(a, b Endpoint) int {
	return cmp.Or(netip.MustParseAddr(a.IP).Compare(netip.MustParseAddr(b.IP)), cmp.Compare(a.Port, b.Port),
		-boolCompare(a.Local, b.Local))
}

func sameEndpoint(a, b Endpoint) bool { return a.IP == b.IP && a.Port == b.Port }

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func validPort(p int32) bool { return p > 0 && p <= 65535 }

// ipv4 returns s in canonical form if it is an IPv4 address.
func ipv4(s string) (string, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return "", false
	}
	return a.String(), true
}
