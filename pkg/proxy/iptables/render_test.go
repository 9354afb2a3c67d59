package iptables

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from Render's output")

var testCfg = Config{ClusterCIDR: "10.244.0.0/16", MasqueradeBit: DefaultMasqueradeBit}

// svcPort returns a TCP port 80 of default/<name> at clusterIP, with eps.
func svcPort(name, clusterIP string, eps ...Endpoint) ServicePort {
	return ServicePort{Namespace: "default", Name: name, Protocol: "TCP", ClusterIP: clusterIP, Port: 80, Endpoints: eps}
}

func with(sp ServicePort, f func(*ServicePort)) ServicePort {
	f(&sp)
	return sp
}

// mixedPorts are several services of every kind, for order independence.
func mixedPorts() []ServicePort {
	return []ServicePort{
		svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080}, Endpoint{IP: "10.244.2.7", Port: 8080}),
		{Namespace: "kube-system", Name: "dns", PortName: "dns", Protocol: "UDP", ClusterIP: "10.96.0.53", Port: 53,
			Endpoints: []Endpoint{{IP: "10.244.1.9", Port: 53}}},
		{Namespace: "kube-system", Name: "dns", PortName: "dns-tcp", Protocol: "TCP", ClusterIP: "10.96.0.53", Port: 53,
			Endpoints: []Endpoint{{IP: "10.244.1.9", Port: 53}}},
		with(svcPort("shop", "10.96.3.1", Endpoint{IP: "10.244.3.3", Port: 80}, Endpoint{IP: "10.244.1.3", Port: 80}, Endpoint{IP: "10.244.2.3", Port: 80}), func(sp *ServicePort) {
			sp.Namespace, sp.NodePort, sp.ExternalIPs, sp.AffinitySeconds = "prod", 30080, []string{"192.0.2.20", "192.0.2.10"}, 600
		}),
		with(svcPort("pending", "10.96.4.4"), func(sp *ServicePort) { sp.NodePort = 30444 }),
		{Namespace: "telco", Name: "sig", Protocol: "SCTP", ClusterIP: "10.96.5.5", Port: 3868, Endpoints: []Endpoint{{IP: "10.244.4.4", Port: 3868}}},
	}
}

var renderCases = []struct {
	name  string
	cfg   Config
	ports []ServicePort
}{
	{"no-services", testCfg, nil},
	{"clusterip-1-endpoint", testCfg, []ServicePort{svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080})}},
	{"clusterip-3-endpoints", testCfg, []ServicePort{
		svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080}, Endpoint{IP: "10.244.2.7", Port: 8080}, Endpoint{IP: "10.244.3.2", Port: 8080}),
	}},
	{"no-endpoints", testCfg, []ServicePort{with(svcPort("web", "10.96.0.10"), func(sp *ServicePort) {
		sp.NodePort, sp.ExternalIPs = 30080, []string{"192.0.2.10"}
	})}},
	{"nodeport", testCfg, []ServicePort{with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080}, Endpoint{IP: "10.244.2.7", Port: 8080}), func(sp *ServicePort) {
		sp.NodePort = 30080
	})}},
	{"multi-port", testCfg, []ServicePort{
		with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080}), func(sp *ServicePort) { sp.PortName = "http" }),
		with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8443}), func(sp *ServicePort) { sp.PortName, sp.Port = "https", 443 }),
	}},
	{"udp", testCfg, []ServicePort{{Namespace: "kube-system", Name: "dns", PortName: "dns", Protocol: "UDP",
		ClusterIP: "10.96.0.53", Port: 53, Endpoints: []Endpoint{{IP: "10.244.1.9", Port: 53}, {IP: "10.244.2.9", Port: 53}}}}},
	{"session-affinity", testCfg, []ServicePort{with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080}, Endpoint{IP: "10.244.2.7", Port: 8080}), func(sp *ServicePort) {
		sp.AffinitySeconds = DefaultAffinitySeconds
	})}},
	{"external-ips", testCfg, []ServicePort{with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080}), func(sp *ServicePort) {
		sp.ExternalIPs = []string{"192.0.2.10", "198.51.100.7"}
	})}},
	{"no-cluster-cidr", Config{MasqueradeBit: 3}, []ServicePort{svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080})}},
	{"mixed", testCfg, mixedPorts()},
	// Traffic policies: endpoints 10.244.1.5 and 10.244.1.6 are on this node.
	{"external-local", testCfg, []ServicePort{localPort(func(sp *ServicePort) {
		sp.NodePort, sp.ExternalIPs, sp.ExternalLocal = 30080, []string{"192.0.2.10"}, true
	})}},
	{"external-local-no-local-endpoints", testCfg, []ServicePort{with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.2.7", Port: 8080}), func(sp *ServicePort) {
		sp.NodePort, sp.ExternalIPs, sp.ExternalLocal = 30080, []string{"192.0.2.10"}, true
	})}},
	{"external-local-no-cluster-cidr", Config{MasqueradeBit: DefaultMasqueradeBit}, []ServicePort{localPort(func(sp *ServicePort) {
		sp.NodePort, sp.ExternalLocal, sp.AffinitySeconds = 30080, true, 600
	})}},
	{"internal-local", testCfg, []ServicePort{localPort(func(sp *ServicePort) { sp.InternalLocal = true })}},
	{"internal-local-no-local-endpoints", testCfg, []ServicePort{with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.2.7", Port: 8080}), func(sp *ServicePort) {
		sp.InternalLocal = true
	})}},
	{"both-local", testCfg, []ServicePort{localPort(func(sp *ServicePort) { sp.NodePort, sp.ExternalLocal, sp.InternalLocal = 30080, true, true })}},
}

// localPort is default/web with two local endpoints and one remote one.
func localPort(f func(*ServicePort)) ServicePort {
	return with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080, Local: true},
		Endpoint{IP: "10.244.2.7", Port: 8080}, Endpoint{IP: "10.244.1.6", Port: 8080, Local: true}), f)
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			got := Render(tc.cfg, tc.ports)
			checkPayload(t, got)
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Render differs from %s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// checkPayload checks what iptables-restore needs and Render promises,
// whatever the rules: tables in order, each chain declared once and within
// iptables' name limit, every rule in a declared chain, every jump to a
// KEEL- chain declared in that table, every per-service chain jumped to,
// and the nodeports jump last in nat KEEL-SERVICES.
func checkPayload(t *testing.T, payload []byte) {
	t.Helper()
	if !bytes.HasSuffix(payload, []byte("COMMIT\n")) {
		t.Fatalf("payload does not end with COMMIT:\n%s", payload)
	}
	var tables []string
	declared := map[string]bool{}
	jumped := map[string]bool{}
	var lastServices string
	table := ""
	for i, l := range strings.Split(strings.TrimSuffix(string(payload), "\n"), "\n") {
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, "*"):
			table = l[1:]
			tables = append(tables, table)
			clear(declared)
			clear(jumped)
		case strings.HasPrefix(l, ":"):
			name := f[0][1:]
			if declared[name] {
				t.Errorf("line %d: %s declared twice in %s", i+1, name, table)
			}
			if len(name) > 28 {
				t.Errorf("line %d: chain name %s longer than 28", i+1, name)
			}
			if !strings.HasPrefix(name, chainPrefix) {
				t.Errorf("line %d: payload declares non-Keel chain %s", i+1, name)
			}
			declared[name] = true
		case strings.HasPrefix(l, "-A "):
			if !declared[f[1]] {
				t.Errorf("line %d: rule in undeclared chain: %s", i+1, l)
			}
			if j := slices.Index(f, "-j"); j < 0 || j == len(f)-1 {
				t.Errorf("line %d: rule without target: %s", i+1, l)
			} else if target := f[j+1]; strings.HasPrefix(target, chainPrefix) {
				if !declared[target] {
					t.Errorf("line %d: jump to undeclared %s", i+1, target)
				}
				jumped[target] = true
			}
			if table == "nat" && f[1] == chainServices {
				lastServices = l
			}
		case l == "COMMIT":
			for c := range declared {
				if slices.ContainsFunc(perServicePrefixes, func(p string) bool { return strings.HasPrefix(c, p) }) && !jumped[c] {
					t.Errorf("%s: %s declared but never jumped to", table, c)
				}
			}
		default:
			t.Errorf("line %d: unexpected %q", i+1, l)
		}
	}
	if !slices.Equal(tables, []string{"filter", "nat"}) {
		t.Errorf("tables %v, want filter then nat", tables)
	}
	if !strings.HasSuffix(lastServices, "-j "+chainNodePorts) {
		t.Errorf("last nat KEEL-SERVICES rule is %q, want the jump to %s", lastServices, chainNodePorts)
	}
}

// TestRenderOrderIndependent shuffles ports, endpoints and external IPs.
func TestRenderOrderIndependent(t *testing.T) {
	want := Render(testCfg, mixedPorts())
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		ports := mixedPorts()
		if i == 0 {
			slices.Reverse(ports)
		} else {
			rng.Shuffle(len(ports), func(a, b int) { ports[a], ports[b] = ports[b], ports[a] })
		}
		for k := range ports {
			eps, ext := ports[k].Endpoints, ports[k].ExternalIPs
			rng.Shuffle(len(eps), func(a, b int) { eps[a], eps[b] = eps[b], eps[a] })
			rng.Shuffle(len(ext), func(a, b int) { ext[a], ext[b] = ext[b], ext[a] })
		}
		if got := Render(testCfg, ports); !bytes.Equal(got, want) {
			t.Fatalf("order %d: %+v\nrenders differently:\n%s", i, ports, cmp.Diff(string(want), string(got)))
		}
	}
}

func TestRenderDropsInvalid(t *testing.T) {
	valid := []ServicePort{with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080}), func(sp *ServicePort) {
		sp.ExternalIPs, sp.NodePort = []string{"192.0.2.10"}, 30080
	})}
	messy := []ServicePort{
		with(svcPort("web", "10.96.0.10",
			Endpoint{IP: "10.244.1.5", Port: 8080}, Endpoint{IP: "10.244.1.5", Port: 8080}, // duplicate
			Endpoint{IP: "fd00::5", Port: 8080}, Endpoint{IP: "bogus", Port: 8080}, Endpoint{IP: "10.244.1.6", Port: 0}, Endpoint{IP: "10.244.1.7", Port: 70000}),
			func(sp *ServicePort) {
				sp.ExternalIPs, sp.NodePort = []string{"192.0.2.10", "2001:db8::1", "192.0.2.10", "x"}, 30080
				sp.Protocol = "tcp"
			}),
		svcPort("v6", "fd00::10", Endpoint{IP: "10.244.1.5", Port: 8080}),
		svcPort("headless", "None"),
		svcPort("empty", ""),
		with(svcPort("badport", "10.96.0.11"), func(sp *ServicePort) { sp.Port = 0 }),
		with(svcPort("icmp", "10.96.0.12"), func(sp *ServicePort) { sp.Protocol = "ICMP" }),
	}
	if got, want := Render(testCfg, messy), Render(testCfg, valid); !bytes.Equal(got, want) {
		t.Fatalf("invalid items not dropped:\n%s", cmp.Diff(string(want), string(got)))
	}
	// A NodePort out of range counts as none; "" protocol is TCP.
	bad := with(valid[0], func(sp *ServicePort) { sp.NodePort, sp.Protocol = 70000, "" })
	none := with(valid[0], func(sp *ServicePort) { sp.NodePort = 0 })
	if got, want := Render(testCfg, []ServicePort{bad}), Render(testCfg, []ServicePort{none}); !bytes.Equal(got, want) {
		t.Fatalf("out-of-range NodePort:\n%s", cmp.Diff(string(want), string(got)))
	}
}

// TestRenderDuplicateKey: of two ports with one key, the same one survives
// whichever comes first.
func TestRenderDuplicateKey(t *testing.T) {
	a := svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080})
	b := svcPort("web", "10.96.0.11", Endpoint{IP: "10.244.1.6", Port: 8080})
	ab, ba := Render(testCfg, []ServicePort{a, b}), Render(testCfg, []ServicePort{b, a})
	if !bytes.Equal(ab, ba) {
		t.Fatalf("duplicate keys render by input order:\n%s", cmp.Diff(string(ab), string(ba)))
	}
	checkPayload(t, ab)
	if n := bytes.Count(ab, []byte("-j DNAT")); n != 1 {
		t.Fatalf("%d DNAT rules for one key, want 1:\n%s", n, ab)
	}
}

func TestChainNames(t *testing.T) {
	tcp := svcPort("web", "10.96.0.10")
	udp := with(tcp, func(sp *ServicePort) { sp.Protocol = "UDP" })
	named := with(tcp, func(sp *ServicePort) { sp.PortName = "http" })
	other := with(tcp, func(sp *ServicePort) { sp.Namespace = "prod" })
	names := []string{tcp.svcChain(), udp.svcChain(), named.svcChain(), other.svcChain(), tcp.extChain(),
		tcp.sepChain(Endpoint{IP: "10.244.1.5", Port: 8080}), tcp.sepChain(Endpoint{IP: "10.244.1.5", Port: 8081}), tcp.sepChain(Endpoint{IP: "10.244.1.6", Port: 8080})}
	for _, n := range names {
		if len(n) != 25 || strings.ToUpper(n) != n {
			t.Errorf("chain name %q: want 25 upper-case characters", n)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(names)))) != len(names) {
		t.Errorf("chain names collide: %v", names)
	}
	if tcp.svcChain() != svcPort("web", "10.96.9.9").svcChain() {
		t.Errorf("chain name depends on more than namespace/name:port:protocol")
	}
}

func TestProbability(t *testing.T) {
	for n, want := range map[int]string{1: "1.0000000000", 2: "0.5000000000", 3: "0.3333333333", 7: "0.1428571429"} {
		if got := probability(n); got != want {
			t.Errorf("probability(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{ClusterCIDR: "10.244.0.0/16", MasqueradeBit: 31}, true},
		{Config{MasqueradeBit: -1}, false},
		{Config{MasqueradeBit: 32}, false},
		{Config{ClusterCIDR: "10.244.0.0"}, false},
		{Config{ClusterCIDR: "fd00::/64"}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v, want ok %v", tc.cfg, err, tc.ok)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Render accepted an invalid Config")
		}
	}()
	Render(Config{MasqueradeBit: 40}, nil)
}

// TestClusterCIDRCanonical: a CIDR with host bits renders as its network.
func TestClusterCIDRCanonical(t *testing.T) {
	ports := []ServicePort{svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080})}
	got := Render(Config{ClusterCIDR: "10.244.7.1/16", MasqueradeBit: 14}, ports)
	if !bytes.Equal(got, Render(testCfg, ports)) {
		t.Fatalf("host bits in ClusterCIDR change the payload:\n%s", got)
	}
}

// BenchmarkRender renders 5000 service ports of 3 endpoints each.
func BenchmarkRender(b *testing.B) {
	var ports []ServicePort
	for i := range 5000 {
		ip := func(base, n int) string { return fmt.Sprintf("10.%d.%d.%d", base, n/250, n%250+1) }
		ports = append(ports, with(svcPort(fmt.Sprintf("svc-%d", i), ip(96, i),
			Endpoint{IP: ip(244, 3*i), Port: 8080}, Endpoint{IP: ip(245, 3*i+1), Port: 8080}, Endpoint{IP: ip(246, 3*i+2), Port: 8080}),
			func(sp *ServicePort) { sp.NodePort = int32(30000 + i%2768) }))
	}
	b.ReportAllocs()
	for b.Loop() {
		Render(testCfg, ports)
	}
}
