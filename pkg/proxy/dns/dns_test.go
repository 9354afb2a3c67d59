package dns

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// fakeSource is a Source over maps keyed "namespace/name".
type fakeSource struct {
	services  map[string]*corev1.Service
	endpoints map[string][]*discoveryv1.EndpointSlice
}

func (f *fakeSource) Service(ns, name string) (*corev1.Service, bool) {
	s, ok := f.services[ns+"/"+name]
	return s, ok
}

func (f *fakeSource) EndpointSlices(ns, name string) []*discoveryv1.EndpointSlice {
	return f.endpoints[ns+"/"+name]
}

// add adds svc with one EndpointSlice per subset: its addresses ready, its
// not-ready addresses not.
func (f *fakeSource) add(svc *corev1.Service, subsets ...*corev1.EndpointSubset) {
	key := svc.GetMetadata().GetNamespace() + "/" + svc.GetMetadata().GetName()
	f.services[key] = svc
	for _, sub := range subsets {
		s := &discoveryv1.EndpointSlice{AddressType: "IPv4"}
		for _, p := range sub.GetPorts() {
			s.Ports = append(s.Ports, &discoveryv1.EndpointPort{Name: proto.String(p.GetName()), Protocol: proto.String(p.GetProtocol()), Port: proto.Int32(p.GetPort())})
		}
		for ready, addrs := range map[bool][]*corev1.EndpointAddress{true: sub.GetAddresses(), false: sub.GetNotReadyAddresses()} {
			for _, a := range addrs {
				e := &discoveryv1.Endpoint{Addresses: []string{a.GetIp()}, Conditions: &discoveryv1.EndpointConditions{Ready: proto.Bool(ready)}}
				if a.GetHostname() != "" {
					e.Hostname = proto.String(a.GetHostname())
				}
				s.Endpoints = append(s.Endpoints, e)
			}
		}
		f.endpoints[key] = append(f.endpoints[key], s)
	}
}

func service(ns, name, clusterIP string, ports ...*corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:     &corev1.ServiceSpec{ClusterIp: clusterIP, Ports: ports},
	}
}

func externalName(ns, name, target string) *corev1.Service {
	s := service(ns, name, "")
	s.Spec.Type = "ExternalName"
	s.Spec.ExternalName = target
	return s
}

func port(name, proto string, n int32) *corev1.ServicePort {
	return &corev1.ServicePort{Name: name, Protocol: proto, Port: n}
}

func epPort(name, proto string, n int32) *corev1.EndpointPort {
	return &corev1.EndpointPort{Name: name, Protocol: proto, Port: n}
}

func addr(ip, hostname string) *corev1.EndpointAddress {
	return &corev1.EndpointAddress{Ip: ip, Hostname: hostname}
}

// cluster is the state most tests answer from.
func cluster() *fakeSource {
	src := &fakeSource{services: map[string]*corev1.Service{}, endpoints: map[string][]*discoveryv1.EndpointSlice{}}
	src.add(service("default", "web", "10.96.1.1",
		port("http", "TCP", 80), port("dns", "UDP", 53), port("", "TCP", 8080)))
	src.add(service("other", "web", "10.96.2.2"))
	src.add(service("default", "pending", ""))
	src.add(service("default", "db", "None", port("pg", "TCP", 5432)),
		&corev1.EndpointSubset{
			Addresses:         []*corev1.EndpointAddress{addr("10.244.1.5", "db-0"), addr("10.244.2.6", "")},
			NotReadyAddresses: []*corev1.EndpointAddress{addr("10.244.3.7", "db-2")},
			// The endpoint's port, not the service's, is what a client of
			// a headless service connects to.
			Ports: []*corev1.EndpointPort{epPort("pg", "TCP", 15432)},
		},
		&corev1.EndpointSubset{ // the same address again, with another port
			Addresses: []*corev1.EndpointAddress{addr("10.244.1.5", "db-0")},
			Ports:     []*corev1.EndpointPort{epPort("metrics", "", 9090)},
		})
	all := service("default", "db-all", "None")
	all.Spec.PublishNotReadyAddresses = true
	src.add(all, &corev1.EndpointSubset{
		Addresses:         []*corev1.EndpointAddress{addr("10.244.1.8", "")},
		NotReadyAddresses: []*corev1.EndpointAddress{addr("10.244.3.9", "pending-0")},
	})
	src.add(service("default", "lonely", "None"))
	src.add(service("default", "drained", "None"), &corev1.EndpointSubset{
		NotReadyAddresses: []*corev1.EndpointAddress{addr("10.244.3.10", "")},
	})
	src.add(externalName("default", "ext-in", "Web.Default.svc.cluster.local"))
	src.add(externalName("default", "ext-out", "example.org"))
	src.add(externalName("default", "loop-a", "loop-b.default.svc.cluster.local."))
	src.add(externalName("default", "loop-b", "loop-a.default.svc.cluster.local."))
	var many []*corev1.EndpointAddress
	for i := range 100 {
		many = append(many, addr(fmt.Sprintf("10.244.9.%d", i+1), ""))
	}
	src.add(service("default", "big", "None"), &corev1.EndpointSubset{Addresses: many})
	return src
}

// serve starts a Server on a free loopback port and returns its address.
func serve(t *testing.T, cfg Config, src Source) (*Server, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := New(cfg, src, nil)
	var err error
	for range 10 { // a free UDP port may be taken for TCP: try another
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		if err = s.Serve(ctx, addr); err == nil {
			return s, addr
		}
	}
	t.Fatalf("Serve: %v", err)
	return nil, ""
}

func freePort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func query(name string, qtype uint16) *dns.Msg {
	return new(dns.Msg).SetQuestion(name, qtype)
}

func exchange(t *testing.T, network, addr string, q *dns.Msg) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s query %s over %s: %v", dns.TypeToString[q.Question[0].Qtype], q.Question[0].Name, network, err)
	}
	// miekg's server itself rejects other opcodes, without a question.
	if r.Id != q.Id || q.Opcode == dns.OpcodeQuery && !cmp.Equal(r.Question, q.Question) {
		t.Fatalf("reply id %d question %v, want %d %v", r.Id, r.Question, q.Id, q.Question)
	}
	return r
}

// rrs normalizes records, in zone-file syntax or as RRs, to sorted strings.
func rrs(t *testing.T, in ...any) []string {
	t.Helper()
	out := []string{}
	for _, x := range in {
		switch x := x.(type) {
		case string:
			rr, err := dns.NewRR(x)
			if err != nil {
				t.Fatalf("bad expected record %q: %v", x, err)
			}
			out = append(out, rr.String())
		case dns.RR:
			if _, ok := x.(*dns.OPT); !ok {
				out = append(out, x.String())
			}
		}
	}
	sort.Strings(out)
	return out
}

func section(t *testing.T, s []dns.RR) []string {
	t.Helper()
	in := make([]any, len(s))
	for i, rr := range s {
		in[i] = rr
	}
	return rrs(t, in...)
}

const soa = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"

type want struct {
	rcode  int
	answer []string
	ns     []string
	extra  []string
}

func TestClusterNames(t *testing.T) {
	_, addr := serve(t, Config{}, cluster())
	nxdomain := want{rcode: dns.RcodeNameError, ns: []string{soa}}
	nodata := want{rcode: dns.RcodeSuccess, ns: []string{soa}}
	for _, tc := range []struct {
		name  string
		qtype uint16
		want  want
	}{
		// A service with a ClusterIP.
		{"web.default.svc.cluster.local.", dns.TypeA, want{answer: []string{"web.default.svc.cluster.local. 5 IN A 10.96.1.1"}}},
		{"web.other.svc.cluster.local.", dns.TypeA, want{answer: []string{"web.other.svc.cluster.local. 5 IN A 10.96.2.2"}}},
		{"WEB.Default.SVC.Cluster.Local.", dns.TypeA, want{answer: []string{"WEB.Default.SVC.Cluster.Local. 5 IN A 10.96.1.1"}}},
		{"web.default.svc.cluster.local.", dns.TypeANY, want{answer: []string{"web.default.svc.cluster.local. 5 IN A 10.96.1.1"}}},
		{"web.default.svc.cluster.local.", dns.TypeAAAA, nodata},
		{"web.nope.svc.cluster.local.", dns.TypeA, nxdomain},
		{"missing.default.svc.cluster.local.", dns.TypeA, nxdomain},
		{"x.web.default.svc.cluster.local.", dns.TypeA, nxdomain}, // not headless
		{"pending.default.svc.cluster.local.", dns.TypeA, nodata}, // no ClusterIP yet
		// SRV of named ports, the service's A record as additional data.
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, want{
			answer: []string{"_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 100 80 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. 5 IN A 10.96.1.1"},
		}},
		{"_DNS._UDP.web.default.svc.cluster.local.", dns.TypeSRV, want{
			answer: []string{"_DNS._UDP.web.default.svc.cluster.local. 5 IN SRV 0 100 53 web.default.svc.cluster.local."},
			extra:  []string{"web.default.svc.cluster.local. 5 IN A 10.96.1.1"},
		}},
		{"_http._udp.web.default.svc.cluster.local.", dns.TypeSRV, nxdomain},
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeA, nodata},
		{"_tcp.web.default.svc.cluster.local.", dns.TypeSRV, nodata},
		{"_sctp.web.default.svc.cluster.local.", dns.TypeSRV, nxdomain},
		// Headless services.
		{"db.default.svc.cluster.local.", dns.TypeA, want{answer: []string{
			"db.default.svc.cluster.local. 5 IN A 10.244.1.5",
			"db.default.svc.cluster.local. 5 IN A 10.244.2.6",
		}}},
		{"db-0.db.default.svc.cluster.local.", dns.TypeA, want{answer: []string{"db-0.db.default.svc.cluster.local. 5 IN A 10.244.1.5"}}},
		{"10-244-2-6.db.default.svc.cluster.local.", dns.TypeA, want{answer: []string{"10-244-2-6.db.default.svc.cluster.local. 5 IN A 10.244.2.6"}}},
		{"db-2.db.default.svc.cluster.local.", dns.TypeA, nxdomain}, // not ready
		{"db-0.db.default.svc.cluster.local.", dns.TypeTXT, nodata},
		{"_pg._tcp.db.default.svc.cluster.local.", dns.TypeSRV, want{
			answer: []string{
				"_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 100 15432 db-0.db.default.svc.cluster.local.",
				"_pg._tcp.db.default.svc.cluster.local. 5 IN SRV 0 100 15432 10-244-2-6.db.default.svc.cluster.local.",
			},
			extra: []string{
				"db-0.db.default.svc.cluster.local. 5 IN A 10.244.1.5",
				"10-244-2-6.db.default.svc.cluster.local. 5 IN A 10.244.2.6",
			},
		}},
		{"_metrics._tcp.db.default.svc.cluster.local.", dns.TypeSRV, want{
			answer: []string{"_metrics._tcp.db.default.svc.cluster.local. 5 IN SRV 0 100 9090 db-0.db.default.svc.cluster.local."},
			extra:  []string{"db-0.db.default.svc.cluster.local. 5 IN A 10.244.1.5"},
		}},
		{"db-all.default.svc.cluster.local.", dns.TypeA, want{answer: []string{
			"db-all.default.svc.cluster.local. 5 IN A 10.244.1.8",
			"db-all.default.svc.cluster.local. 5 IN A 10.244.3.9",
		}}},
		{"pending-0.db-all.default.svc.cluster.local.", dns.TypeA, want{answer: []string{"pending-0.db-all.default.svc.cluster.local. 5 IN A 10.244.3.9"}}},
		{"lonely.default.svc.cluster.local.", dns.TypeA, nxdomain},  // no Endpoints
		{"drained.default.svc.cluster.local.", dns.TypeA, nxdomain}, // none ready
		// ExternalName services.
		{"ext-in.default.svc.cluster.local.", dns.TypeA, want{answer: []string{
			"ext-in.default.svc.cluster.local. 5 IN CNAME web.default.svc.cluster.local.",
			"web.default.svc.cluster.local. 5 IN A 10.96.1.1",
		}}},
		{"ext-in.default.svc.cluster.local.", dns.TypeCNAME, want{answer: []string{
			"ext-in.default.svc.cluster.local. 5 IN CNAME web.default.svc.cluster.local.",
		}}},
		{"ext-in.default.svc.cluster.local.", dns.TypeAAAA, want{
			answer: []string{"ext-in.default.svc.cluster.local. 5 IN CNAME web.default.svc.cluster.local."},
			ns:     []string{soa},
		}},
		// No upstream to follow the CNAME: the client gets it alone.
		{"ext-out.default.svc.cluster.local.", dns.TypeA, want{answer: []string{
			"ext-out.default.svc.cluster.local. 5 IN CNAME example.org.",
		}}},
		// Pods.
		{"10-244-1-5.default.pod.cluster.local.", dns.TypeA, want{answer: []string{"10-244-1-5.default.pod.cluster.local. 5 IN A 10.244.1.5"}}},
		{"10-244-1-5.anything.pod.cluster.local.", dns.TypeA, want{answer: []string{"10-244-1-5.anything.pod.cluster.local. 5 IN A 10.244.1.5"}}},
		{"10-244-1-999.default.pod.cluster.local.", dns.TypeA, nxdomain},
		{"10-244-1.default.pod.cluster.local.", dns.TypeA, nxdomain},
		{"10-244-1-5.default.pod.cluster.local.", dns.TypeAAAA, nodata},
		// The rest of the zone.
		{"dns-version.cluster.local.", dns.TypeTXT, want{answer: []string{`dns-version.cluster.local. 5 IN TXT "1.0.1"`}}},
		{"cluster.local.", dns.TypeSOA, want{answer: []string{soa}}},
		{"Cluster.Local.", dns.TypeA, nodata},
		{"svc.cluster.local.", dns.TypeA, nodata},
		{"pod.cluster.local.", dns.TypeA, nodata},
		{"default.svc.cluster.local.", dns.TypeA, nxdomain},
		{"google.com.cluster.local.", dns.TypeA, nxdomain}, // a search-path expansion
		{"a.b.c.d.e.svc.cluster.local.", dns.TypeA, nxdomain},
	} {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(network+"/"+tc.name+"/"+dns.TypeToString[tc.qtype], func(t *testing.T) {
				r := exchange(t, network, addr, query(tc.name, tc.qtype))
				if r.Rcode != tc.want.rcode {
					t.Errorf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.want.rcode])
				}
				if !r.Authoritative || !r.RecursionAvailable || r.Truncated {
					t.Errorf("AA %v RA %v TC %v, want AA, RA, no TC", r.Authoritative, r.RecursionAvailable, r.Truncated)
				}
				for _, s := range []struct {
					name      string
					got, want []string
				}{
					{"answer", section(t, r.Answer), rrs(t, toAny(tc.want.answer)...)},
					{"authority", section(t, r.Ns), rrs(t, toAny(tc.want.ns)...)},
					{"additional", section(t, r.Extra), rrs(t, toAny(tc.want.extra)...)},
				} {
					if d := cmp.Diff(s.want, s.got); d != "" {
						t.Errorf("%s section (-want +got):\n%s", s.name, d)
					}
				}
			})
		}
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func TestCNAMELoopEnds(t *testing.T) {
	_, addr := serve(t, Config{}, cluster())
	r := exchange(t, "udp", addr, query("loop-a.default.svc.cluster.local.", dns.TypeA))
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 || len(r.Answer) > maxCNAMEHops+1 {
		t.Fatalf("rcode %s with %d answers, want NOERROR with 1 to %d CNAMEs", dns.RcodeToString[r.Rcode], len(r.Answer), maxCNAMEHops+1)
	}
	for _, rr := range r.Answer {
		if _, ok := rr.(*dns.CNAME); !ok {
			t.Errorf("answer %v, want only CNAMEs", rr)
		}
	}
}

func TestConfig(t *testing.T) {
	_, addr := serve(t, Config{Domain: "Example.Internal.", TTL: 30}, cluster())
	r := exchange(t, "udp", addr, query("web.default.svc.example.internal.", dns.TypeA))
	if d := cmp.Diff(rrs(t, "web.default.svc.example.internal. 30 IN A 10.96.1.1"), section(t, r.Answer)); d != "" {
		t.Errorf("answer (-want +got):\n%s", d)
	}
	// The default domain is not ours any more: it is forwarded (nowhere).
	r = exchange(t, "udp", addr, query("web.default.svc.cluster.local.", dns.TypeA))
	if r.Rcode != dns.RcodeServerFailure {
		t.Errorf("outside the domain: rcode %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

func TestTruncation(t *testing.T) {
	_, addr := serve(t, Config{}, cluster())
	const name = "big.default.svc.cluster.local."

	r := exchange(t, "udp", addr, query(name, dns.TypeA))
	if !r.Truncated || len(r.Answer) >= 100 || r.IsEdns0() != nil {
		t.Errorf("UDP without EDNS0: TC %v with %d answers, OPT %v; want TC, fewer than 100, no OPT", r.Truncated, len(r.Answer), r.IsEdns0())
	}
	r = exchange(t, "udp", addr, query(name, dns.TypeA).SetEdns0(4096, false))
	if r.Truncated || len(r.Answer) != 100 || r.IsEdns0() == nil {
		t.Errorf("UDP with EDNS0 4096: TC %v with %d answers, OPT %v; want 100 answers and an OPT", r.Truncated, len(r.Answer), r.IsEdns0())
	}
	r = exchange(t, "tcp", addr, query(name, dns.TypeA))
	if r.Truncated || len(r.Answer) != 100 {
		t.Errorf("TCP: TC %v with %d answers, want 100", r.Truncated, len(r.Answer))
	}
}

func TestNotQuery(t *testing.T) {
	_, addr := serve(t, Config{}, cluster())
	q := query("web.default.svc.cluster.local.", dns.TypeA)
	q.Opcode = dns.OpcodeStatus
	if r := exchange(t, "udp", addr, q); r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("STATUS opcode: rcode %s, want NOTIMP", dns.RcodeToString[r.Rcode])
	}
	q = query("web.default.svc.cluster.local.", dns.TypeA)
	q.Question[0].Qclass = dns.ClassCHAOS
	if r := exchange(t, "udp", addr, q); r.Rcode != dns.RcodeRefused {
		t.Errorf("CHAOS class: rcode %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}
}

// upstream is a resolver on loopback for the forwarding tests.
type upstream struct {
	addr string
	mu   sync.Mutex
	seen []string // "<network> <name>" of every query
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	u := &upstream{}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		u.mu.Lock()
		u.seen = append(u.seen, w.RemoteAddr().Network()+" "+name)
		u.mu.Unlock()
		m := new(dns.Msg).SetReply(r)
		m.Question[0].Name = name // as some resolvers do
		m.RecursionAvailable = true
		switch {
		case !r.RecursionDesired:
			m.Rcode = dns.RcodeRefused
		case name == "example.org." && q.Qtype == dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		case name == "big.example.org." && q.Qtype == dns.TypeA:
			for i := range 300 {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(198, 18, byte(i/250), byte(i%250))})
			}
		case name == "example.org.":
		default:
			m.Rcode = dns.RcodeNameError
		}
		size := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		if w.RemoteAddr().Network() == "tcp" {
			size = dns.MaxMsgSize
		}
		m.Truncate(size)
		w.WriteMsg(m)
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// The package's own Serve is a fine loopback server for any handler.
	for range 10 {
		u.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		if err := serveHandler(ctx, New(Config{}, nil, nil), u.addr, h); err == nil {
			return u
		}
	}
	t.Fatal("no port for the upstream")
	return nil
}

// serveHandler serves h on addr over UDP and TCP until ctx ends.
func serveHandler(ctx context.Context, s *Server, addr string, h dns.Handler) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return err
	}
	go s.run(ctx, &dns.Server{PacketConn: pc, Handler: h})
	go s.run(ctx, &dns.Server{Listener: l, Handler: h})
	return nil
}

func (u *upstream) queries() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// deadUpstream is a bound UDP socket nobody reads: queries to it time out.
func deadUpstream(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

func TestForward(t *testing.T) {
	up := startUpstream(t)
	refused := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))) // nothing listens
	_, addr := serve(t, Config{Upstreams: []string{refused, up.addr}, Timeout: time.Second}, cluster())

	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			r := exchange(t, network, addr, query("Example.ORG.", dns.TypeA))
			if r.Rcode != dns.RcodeSuccess || r.Authoritative {
				t.Errorf("rcode %s AA %v, want NOERROR, not authoritative", dns.RcodeToString[r.Rcode], r.Authoritative)
			}
			if d := cmp.Diff(rrs(t, "Example.ORG. 60 IN A 192.0.2.1"), section(t, r.Answer)); d != "" {
				t.Errorf("answer (-want +got):\n%s", d)
			}

			r = exchange(t, network, addr, query("missing.example.org.", dns.TypeA))
			if r.Rcode != dns.RcodeNameError {
				t.Errorf("missing name: rcode %s, want the upstream's NXDOMAIN", dns.RcodeToString[r.Rcode])
			}

			// An ExternalName service pointing outside: the CNAME, then
			// the upstream's answer for its target.
			r = exchange(t, network, addr, query("ext-out.default.svc.cluster.local.", dns.TypeA))
			want := rrs(t, "ext-out.default.svc.cluster.local. 5 IN CNAME example.org.", "example.org. 60 IN A 192.0.2.1")
			if d := cmp.Diff(want, section(t, r.Answer)); d != "" || !r.Authoritative {
				t.Errorf("ExternalName: AA %v, answer (-want +got):\n%s", r.Authoritative, d)
			}
			r = exchange(t, network, addr, query("ext-out.default.svc.cluster.local.", dns.TypeAAAA))
			want = rrs(t, "ext-out.default.svc.cluster.local. 5 IN CNAME example.org.")
			if d := cmp.Diff(want, section(t, r.Answer)); d != "" || r.Rcode != dns.RcodeSuccess {
				t.Errorf("ExternalName AAAA: rcode %s, answer (-want +got):\n%s", dns.RcodeToString[r.Rcode], d)
			}
		})
	}

	// An answer too big for the upstream's UDP is fetched again over TCP,
	// then truncated to what the client accepts.
	r := exchange(t, "tcp", addr, query("big.example.org.", dns.TypeA))
	if r.Truncated || len(r.Answer) != 300 {
		t.Errorf("big answer over TCP: TC %v with %d answers, want 300", r.Truncated, len(r.Answer))
	}
	if q := up.queries(); !contains(q, "udp big.example.org.") || !contains(q, "tcp big.example.org.") {
		t.Errorf("upstream saw %q, want big.example.org. over UDP then TCP", q)
	}
	r = exchange(t, "udp", addr, query("big.example.org.", dns.TypeA))
	if !r.Truncated || r.Rcode != dns.RcodeSuccess {
		t.Errorf("big answer over UDP: TC %v rcode %s, want TC", r.Truncated, dns.RcodeToString[r.Rcode])
	}
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

func TestForwardFailure(t *testing.T) {
	const timeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name      string
		upstreams []string
	}{
		{"none", nil},
		{"dead", []string{deadUpstream(t), deadUpstream(t)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := serve(t, Config{Upstreams: tc.upstreams, Timeout: timeout}, cluster())
			start := time.Now()
			r := exchange(t, "udp", addr, query("example.org.", dns.TypeA))
			if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
				t.Errorf("rcode %s with %d answers, want SERVFAIL", dns.RcodeToString[r.Rcode], len(r.Answer))
			}
			if limit := time.Duration(len(tc.upstreams)+1) * timeout * 2; time.Since(start) > limit {
				t.Errorf("answered after %v, want within %v", time.Since(start), limit)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	s, addr := serve(t, Config{}, cluster())
	reg := prometheus.NewRegistry()
	if err := s.Register(reg); err != nil {
		t.Fatal(err)
	}
	exchange(t, "udp", addr, query("web.default.svc.cluster.local.", dns.TypeA))
	exchange(t, "tcp", addr, query("nope.default.svc.cluster.local.", dns.TypeA))
	exchange(t, "udp", addr, query("example.org.", dns.TypeA))
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"keel_proxy_dns_responses_total{rcode=NOERROR,source=cluster}":   1,
		"keel_proxy_dns_responses_total{rcode=NXDOMAIN,source=cluster}":  1,
		"keel_proxy_dns_responses_total{rcode=SERVFAIL,source=upstream}": 1,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("metrics (-want +got):\n%s", d)
	}
}

func TestServeBindError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// UDP on this port is free, TCP is taken: Serve fails and leaves the
	// UDP port free again.
	s := New(Config{}, cluster(), nil)
	if err := s.Serve(context.Background(), l.Addr().String()); err == nil {
		t.Fatal("Serve on a taken TCP port succeeded")
	}
	pc, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		t.Fatalf("UDP port still held after a failed Serve: %v", err)
	}
	pc.Close()
}

// TestStatefulSetPodNames: a StatefulSet's pods, named by hostname in the
// endpoints of their governing headless Service, answer as
// <pod>.<service>.<ns>.svc.<domain>; a pod not ready does not.
func TestStatefulSetPodNames(t *testing.T) {
	src := &fakeSource{services: map[string]*corev1.Service{}, endpoints: map[string][]*discoveryv1.EndpointSlice{}}
	src.add(service("default", "nginx", "None", port("web", "TCP", 80)), &corev1.EndpointSubset{
		Addresses:         []*corev1.EndpointAddress{addr("10.244.1.10", "web-0"), addr("10.244.2.11", "web-1")},
		NotReadyAddresses: []*corev1.EndpointAddress{addr("10.244.3.12", "web-2")},
		Ports:             []*corev1.EndpointPort{epPort("web", "TCP", 80)},
	})
	_, srv := serve(t, Config{}, src)
	for name, want := range map[string]string{
		"web-0.nginx.default.svc.cluster.local.": "10.244.1.10",
		"web-1.nginx.default.svc.cluster.local.": "10.244.2.11",
		"web-2.nginx.default.svc.cluster.local.": "",
	} {
		r := exchange(t, "udp", srv, query(name, dns.TypeA))
		var got string
		if len(r.Answer) == 1 {
			got = r.Answer[0].(*dns.A).A.String()
		}
		if got != want || (want == "" && r.Rcode != dns.RcodeNameError) {
			t.Errorf("%s: answer %v rcode %s, want %q", name, r.Answer, dns.RcodeToString[r.Rcode], want)
		}
	}
}
