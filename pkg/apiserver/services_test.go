package apiserver_test

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
)

func service(ns, name, typ string) *corev1.Service {
	return &corev1.Service{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: &corev1.ServiceSpec{Type: typ, Selector: map[string]string{"app": name},
			Ports: []*corev1.ServicePort{{Name: "http", Port: 80}, {Name: "https", Port: 443}}},
	}
}

// twoServers starts one etcd and two apiservers on it.
func twoServers(t *testing.T, configure func(*apiserver.Config)) (a, b *client) {
	e := testserver.StartEtcd(t)
	return newClient(t, testserver.Start(t, e.Endpoint, configure)), newClient(t, testserver.Start(t, e.Endpoint, configure))
}

func TestTwoAPIServersShareState(t *testing.T) {
	t.Parallel()
	a, b := twoServers(t, nil)
	w := watch[*corev1.ConfigMap](b, &apiv1.WatchRequest{Namespace: "default", ResourceVersion: currentRV(b, "configmaps")})

	// A namespace created through A is usable through B at once.
	mustNamespace(a, "shared")
	cm := mustCreate(b, configMap("shared", "via-b", nil))
	assertEqual(t, "read through A", cm, mustGet[*corev1.ConfigMap](a, "shared", "via-b"))

	created := mustCreate(a, configMap("default", "via-a", map[string]string{"k": "v"}))
	assertEqual(t, "B's watch", created, w.expect("ADDED", "via-a").Obj)
	created.Data["k"] = "v2"
	updated := mustUpdate(a, created)
	assertEqual(t, "B's watch", updated, w.expect("MODIFIED", "via-a").Obj)
	// A consistent List on B includes A's last write.
	items, _ := mustList[*corev1.ConfigMap](b, &apiv1.ListRequest{Namespace: "default", FieldSelector: "metadata.name=via-a"})
	if len(items) != 1 {
		t.Fatalf("B lists %d, want 1", len(items))
	}
	assertEqual(t, "B's list", updated, items[0])
	// Optimistic concurrency holds across servers.
	created.Data["k"] = "stale"
	_, err := update(b, created)
	wantCode(t, err, codes.Aborted)
}

// createConcurrently creates n Services of the type, alternating between
// the two servers, all at once.
func createConcurrently(t *testing.T, a, b *client, typ string, n int) []*corev1.Service {
	t.Helper()
	out := make([]*corev1.Service, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := a
			if i%2 == 1 {
				c = b
			}
			out[i], errs[i] = create(c, service("default", fmt.Sprintf("%s-%02d", strings.ToLower(typ), i), typ))
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("service %d: %v", i, err)
		}
	}
	return out
}

func TestConcurrentAllocationsAreUnique(t *testing.T) {
	t.Parallel()
	// Small ranges make the two servers' random picks collide often.
	a, b := twoServers(t, func(cfg *apiserver.Config) {
		cfg.ServiceClusterIPRange = "10.0.0.0/24"
		cfg.ServiceNodePortRange = "30000-30299"
	})
	prefix := netip.MustParsePrefix("10.0.0.0/24")

	ips := map[string]string{}
	check := func(svc *corev1.Service) {
		ip := svc.Spec.ClusterIp
		addr, err := netip.ParseAddr(ip)
		if err != nil || !prefix.Contains(addr) {
			t.Fatalf("%s: clusterIP %q outside %s", svc.Metadata.Name, ip, prefix)
		}
		if other, dup := ips[ip]; dup {
			t.Fatalf("%s and %s share clusterIP %s", other, svc.Metadata.Name, ip)
		}
		ips[ip] = svc.Metadata.Name
		if len(svc.Spec.ClusterIps) != 1 || svc.Spec.ClusterIps[0] != ip {
			t.Fatalf("%s: clusterIPs %v, want [%s]", svc.Metadata.Name, svc.Spec.ClusterIps, ip)
		}
	}
	for _, svc := range createConcurrently(t, a, b, "ClusterIP", 60) {
		check(svc)
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 {
				t.Fatalf("ClusterIP service %s got nodePort %d", svc.Metadata.Name, p.NodePort)
			}
		}
	}
	ports := map[int32]string{}
	for _, svc := range createConcurrently(t, a, b, "NodePort", 60) {
		check(svc)
		for _, p := range svc.Spec.Ports {
			if p.NodePort < 30000 || p.NodePort > 30299 {
				t.Fatalf("%s: nodePort %d outside 30000-30299", svc.Metadata.Name, p.NodePort)
			}
			if other, dup := ports[p.NodePort]; dup {
				t.Fatalf("%s and %s share nodePort %d", other, svc.Metadata.Name, p.NodePort)
			}
			ports[p.NodePort] = svc.Metadata.Name
		}
	}
	// What was returned is what was stored.
	items, _ := mustList[*corev1.Service](b, &apiv1.ListRequest{Namespace: "default"})
	if len(items) != 120 {
		t.Fatalf("%d services stored, want 120", len(items))
	}
	for _, s := range items {
		if ips[s.Spec.ClusterIp] != s.Metadata.Name {
			t.Fatalf("stored %s has clusterIP %s, returned to %s", s.Metadata.Name, s.Spec.ClusterIp, ips[s.Spec.ClusterIp])
		}
	}
}

func TestServiceAddressRequests(t *testing.T) {
	t.Parallel()
	c := start(t, nil) // 10.96.0.0/16, 30000-32767

	// Delete releases the ClusterIP and the nodePorts.
	first := mustCreate(c, service("default", "first", "NodePort"))
	ip, port := first.Spec.ClusterIp, first.Spec.Ports[0].NodePort
	deleteNow(c, "services", "default", "first")
	again := service("default", "second", "NodePort")
	again.Spec.ClusterIp = ip
	again.Spec.Ports[0].NodePort = port
	second := mustCreate(c, again)
	if second.Spec.ClusterIp != ip || second.Spec.Ports[0].NodePort != port {
		t.Fatalf("requested %s:%d, got %s:%d", ip, port, second.Spec.ClusterIp, second.Spec.Ports[0].NodePort)
	}

	for _, tc := range []struct {
		name    string
		mutate  func(*corev1.Service)
		field   string
		message string
	}{
		{"IP outside the range", func(s *corev1.Service) { s.Spec.ClusterIp = "192.168.1.1" }, "spec.clusterIP", "not in the valid range"},
		{"network address", func(s *corev1.Service) { s.Spec.ClusterIp = "10.96.0.0" }, "spec.clusterIP", "not in the valid range"},
		{"not an IP", func(s *corev1.Service) { s.Spec.ClusterIp = "ten.one" }, "spec.clusterIP", ""},
		{"IP already allocated", func(s *corev1.Service) { s.Spec.ClusterIp = ip }, "spec.clusterIP", "already allocated"},
		{"nodePort outside the range", func(s *corev1.Service) { s.Spec.Ports[1].NodePort = 8080 }, "spec.ports[1].nodePort", "not in the valid range"},
		{"nodePort already allocated", func(s *corev1.Service) { s.Spec.Ports[1].NodePort = port }, "spec.ports[1].nodePort", "already allocated"},
		{"nodePort on a ClusterIP service", func(s *corev1.Service) {
			s.Spec.Type = "ClusterIP"
			s.Spec.Ports[0].NodePort = 30555
		}, "spec.ports[0].nodePort", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, c.srv)
			svc := service("default", "refused", "NodePort")
			tc.mutate(svc)
			writesNothing(c, tc.name, func() {
				_, err := create(c, svc)
				wantCode(t, err, codes.InvalidArgument)
				if f := fieldsOf(t, err); !contains(f, tc.field) {
					t.Fatalf("error fields %v (%v), want %s", f, err, tc.field)
				}
				if !containsAll(err.Error(), tc.message) {
					t.Fatalf("error %q does not say %q", err, tc.message)
				}
			})
			mustBeGone[*corev1.Service](c, "default", "refused")
		})
	}

	// Re-applying the manifest, which names no addresses, keeps them: an
	// unchanged one writes nothing, a changed one bumps only generation.
	cur := mustGet[*corev1.Service](c, "default", "second")
	reapply := service("default", "second", "NodePort")
	reapply.Metadata.ResourceVersion = cur.Metadata.ResourceVersion
	writesNothing(c, "re-applying an unchanged service", func() {
		same := mustUpdate(c, reapply)
		assertEqual(t, "re-applied service", cur, same)
	})
	reapply.Spec.Selector["tier"] = "x"
	kept := mustUpdate(c, reapply)
	if kept.Spec.ClusterIp != ip || kept.Spec.Ports[0].NodePort != port || kept.Spec.Ports[1].NodePort != cur.Spec.Ports[1].NodePort {
		t.Fatalf("update moved the service from %s %v to %s %v", ip, cur.Spec.Ports, kept.Spec.ClusterIp, kept.Spec.Ports)
	}
	if kept.Metadata.Generation != 0 {
		t.Fatalf("generation %d: a Service does not track its generation", kept.Metadata.Generation)
	}
	// Changing the clusterIP is refused.
	kept.Spec.ClusterIp = "10.96.200.200"
	writesNothing(c, "changing clusterIP", func() {
		_, err := update(c, kept)
		wantCode(t, err, codes.InvalidArgument)
		if f := fieldsOf(t, err); !contains(f, "spec.clusterIP") {
			t.Fatalf("fields %v", f)
		}
	})
}

func TestSmallRangeFillsUpCleanly(t *testing.T) {
	t.Parallel()
	// A /27 has 32 addresses: less network, broadcast and the first address
	// (reserved for the API's own Service), 29 are allocated at random.
	c := start(t, func(cfg *apiserver.Config) { cfg.ServiceClusterIPRange = "10.5.0.0/27" })
	seen := map[string]bool{}
	for i := 0; i < 29; i++ {
		svc := mustCreate(c, service("default", fmt.Sprintf("s-%02d", i), "ClusterIP"))
		if seen[svc.Spec.ClusterIp] {
			t.Fatalf("clusterIP %s handed out twice", svc.Spec.ClusterIp)
		}
		seen[svc.Spec.ClusterIp] = true
	}
	writesNothing(c, "create in a full range", func() {
		_, err := create(c, service("default", "one-too-many", "ClusterIP"))
		if err == nil {
			t.Fatalf("create in a full range succeeded")
		}
		if !containsAll(err.Error(), "range", "full") {
			t.Fatalf("error %v does not say the range is full", err)
		}
		wantCode(t, err, codes.Internal) // as Kubernetes: an internal error, not the user's
	})
	mustBeGone[*corev1.Service](c, "default", "one-too-many")

	// The reserved first address can still be requested explicitly.
	svc := service("default", "kubernetes", "ClusterIP")
	svc.Spec.ClusterIp = "10.5.0.1"
	mustCreate(c, svc)
	// Freeing one address makes room again, and it is the one reused.
	freed := mustGet[*corev1.Service](c, "default", "s-07").Spec.ClusterIp
	deleteNow(c, "services", "default", "s-07")
	got := mustCreate(c, service("default", "one-more", "ClusterIP"))
	if got.Spec.ClusterIp != freed {
		t.Fatalf("got %s, want the freed %s", got.Spec.ClusterIp, freed)
	}
}

// TestServiceTypeChangeDropsOldTypeFields: changing a NodePort Service to
// ClusterIP while re-sending what was read (nodePorts, externalTrafficPolicy)
// succeeds, drops those fields and releases the ports; to ExternalName it
// releases the ClusterIP.
func TestServiceTypeChangeDropsOldTypeFields(t *testing.T) {
	t.Parallel()
	c := start(t, nil)
	ns := mustNamespace(c, "typechange")
	np := mustCreate(c, service(ns, "web", "NodePort"))
	port := np.Spec.Ports[0].NodePort
	if port == 0 || np.Spec.GetExternalTrafficPolicy() == "" {
		t.Fatalf("NodePort service without nodePort or externalTrafficPolicy: %v", np.Spec)
	}

	np.Spec.Type = "ClusterIP" // everything else as read
	cip := mustUpdate(c, np)
	for _, p := range cip.Spec.Ports {
		if p.NodePort != 0 {
			t.Fatalf("nodePort %d kept after the change to ClusterIP", p.NodePort)
		}
	}
	if cip.Spec.GetExternalTrafficPolicy() != "" || cip.Spec.ClusterIp != np.Spec.ClusterIp {
		t.Fatalf("after the change to ClusterIP: externalTrafficPolicy %q, clusterIP %s (was %s)", cip.Spec.GetExternalTrafficPolicy(), cip.Spec.ClusterIp, np.Spec.ClusterIp)
	}
	// The port is free again.
	other := service(ns, "other", "NodePort")
	other.Spec.Ports = other.Spec.Ports[:1]
	other.Spec.Ports[0].NodePort = port
	mustCreate(c, other)

	// A changed value the new type cannot have is still refused.
	cip.Spec.Type = "ClusterIP"
	cip.Spec.Ports[0].NodePort = 31999
	if _, err := update(c, cip); !apierrors.IsInvalid(err) {
		t.Fatalf("nodePort on a ClusterIP service: %v, want Invalid", err)
	}

	cip.Spec.Ports[0].NodePort = 0
	cip.Spec.Type, cip.Spec.ExternalName = "ExternalName", "example.internal"
	ext := mustUpdate(c, cip)
	if ext.Spec.ClusterIp != "" || len(ext.Spec.ClusterIps) != 0 {
		t.Fatalf("ExternalName service kept clusterIP %q", ext.Spec.ClusterIp)
	}
	again := service(ns, "again", "ClusterIP")
	again.Spec.ClusterIp = np.Spec.ClusterIp
	mustCreate(c, again)
}
