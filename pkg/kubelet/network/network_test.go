package network

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/kubelet/cni"
	"keel.dev/keel/pkg/testutil"
)

// fakeExec answers iptables -S and ip route show from its state and
// records the other commands.
type fakeExec struct {
	mu     sync.Mutex
	rules  []string // iptables -S lines of nat POSTROUTING
	routes []string // ip route show lines
	calls  []string
}

func (f *fakeExec) Run(name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cmd := name + " " + strings.Join(args, " ")
	switch {
	case strings.HasPrefix(cmd, "iptables -w -t nat -S POSTROUTING"):
		return []byte("-P POSTROUTING ACCEPT\n" + strings.Join(f.rules, "\n") + "\n"), nil
	case strings.HasPrefix(cmd, "ip -4 route show proto"):
		return []byte(strings.Join(f.routes, "\n") + "\n"), nil
	}
	f.calls = append(f.calls, cmd)
	return nil, nil
}

func node(name, cidr, ip string) *corev1.Node {
	n := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.NodeSpec{PodCidr: cidr}, Status: &corev1.NodeStatus{}}
	if ip != "" {
		n.Status.Addresses = []*corev1.NodeAddress{{Type: "Hostname", Address: name}, {Type: "InternalIP", Address: ip}}
	}
	return n
}

func TestSetPodCIDR(t *testing.T) {
	dir := t.TempDir()
	f := &fakeExec{}
	m := New(Config{CNIConfDir: dir, BridgeName: "br9", ClusterCIDR: "10.244.0.0/16", Masquerade: true}, f, nil)
	if err := m.SetPodCIDR("10.244.3.0/24"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, cni.ConflistFileName))
	if err != nil || !strings.Contains(string(b), `"subnet": "10.244.3.0/24"`) || !strings.Contains(string(b), `"ipMasq": false`) {
		t.Fatalf("conflist %s, %v", b, err)
	}
	want := "iptables -w -t nat -A POSTROUTING -s 10.244.3.0/24 ! -d 10.244.0.0/16 -m comment --comment keel-kubelet-masquerade -j MASQUERADE"
	if len(f.calls) != 1 || f.calls[0] != want {
		t.Fatalf("calls %q", f.calls)
	}
	// The rule is there now: nothing more.
	f.rules = []string{"-A POSTROUTING -s 10.244.3.0/24 ! -d 10.244.0.0/16 -m comment --comment keel-kubelet-masquerade -j MASQUERADE"}
	f.calls = nil
	if err := m.SetPodCIDR("10.244.3.0/24"); err != nil || len(f.calls) != 0 {
		t.Fatalf("second call: %q, %v", f.calls, err)
	}
	// The podCIDR changes: the old rule goes, the new one comes.
	if err := m.SetPodCIDR("10.244.4.0/24"); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 2 || !strings.Contains(f.calls[0], "-D POSTROUTING -s 10.244.3.0/24") || !strings.Contains(f.calls[1], "-A POSTROUTING -s 10.244.4.0/24") {
		t.Errorf("calls %q", f.calls)
	}
	if err := m.SetPodCIDR("bogus"); err == nil {
		t.Error("a bad podCIDR was accepted")
	}
}

func TestDesiredRoutes(t *testing.T) {
	nodes := []*corev1.Node{
		node("self", "10.244.1.0/24", "192.0.2.1"),
		node("b", "10.244.2.0/24", "192.0.2.2"),
		node("a", "10.244.3.0/24", "192.0.2.3"),
		node("no-cidr", "", "192.0.2.4"),
		node("no-ip", "10.244.5.0/24", ""),
		node("v6-ip", "10.244.6.0/24", "fd00::6"),
	}
	got := DesiredRoutes(nodes, "self")
	if fmt.Sprint(got) != "[{10.244.2.0/24 192.0.2.2} {10.244.3.0/24 192.0.2.3}]" {
		t.Errorf("routes %v", got)
	}
}

func TestSyncRoutes(t *testing.T) {
	f := &fakeExec{routes: []string{
		"10.244.2.0/24 via 192.0.2.2 dev eth0 proto 77",
		"10.244.3.0/24 via 192.0.2.99 dev eth0 proto 77",
		"10.244.9.0/24 via 192.0.2.9 dev eth0 proto 77",
	}}
	m := New(Config{Routes: true}, f, nil)
	m.podCIDR = "10.244.1.0/24"
	nodes := []*corev1.Node{node("self", "10.244.1.0/24", "192.0.2.1"), node("b", "10.244.2.0/24", "192.0.2.2"),
		node("a", "10.244.3.0/24", "192.0.2.3"), node("c", "10.244.4.0/24", "192.0.2.4")}
	if err := m.SyncRoutes(nodes, "self"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ip route replace 10.244.3.0/24 via 192.0.2.3 proto 77",
		"ip route replace 10.244.4.0/24 via 192.0.2.4 proto 77",
		"ip route del 10.244.9.0/24 via 192.0.2.9 proto 77",
	}
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
	off := New(Config{}, f, nil)
	f.calls = nil
	if err := off.SyncRoutes(nodes, "self"); err != nil || len(f.calls) != 0 {
		t.Errorf("routes off: %q %v", f.calls, err)
	}
}

// TestRealRoutesAndRule programs a route and the masquerade rule for real,
// on a bridge of its own, and removes them.
func TestRealRoutesAndRule(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.Missing(t, "needs root")
	}
	for _, c := range []string{"ip", "iptables"} {
		if _, err := exec.LookPath(c); err != nil {
			testutil.Missing(t, c+" is not installed (hack/install-deps.sh)")
		}
	}
	const dev, peerCIDR, podCIDR = "keel-rt-test", "10.244.99.0/24", "10.244.98.0/24"
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	_ = exec.Command("ip", "link", "del", dev).Run()
	run("ip", "link", "add", dev, "type", "bridge")
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", dev).Run() })
	run("ip", "addr", "add", "198.18.250.1/24", "dev", dev)
	run("ip", "link", "set", dev, "up")

	m := New(Config{CNIConfDir: t.TempDir(), BridgeName: "keel-rt-br", ClusterCIDR: "10.244.0.0/16", Masquerade: true, Routes: true}, nil, nil)
	t.Cleanup(func() {
		if err := m.RemoveMasquerade(podCIDR); err != nil {
			t.Error(err)
		}
		if err := m.RemoveRoutes([]string{peerCIDR}); err != nil {
			t.Error(err)
		}
	})
	if err := m.SetPodCIDR(podCIDR); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("iptables", "-w", "-t", "nat", "-S", "POSTROUTING").Output()
	if !strings.Contains(string(out), "-s "+podCIDR+" ! -d 10.244.0.0/16") {
		t.Errorf("masquerade rule missing:\n%s", out)
	}
	nodes := []*corev1.Node{node("self", podCIDR, "198.18.250.1"), node("peer", peerCIDR, "198.18.250.2")}
	if err := m.SyncRoutes(nodes, "self"); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command("ip", "route", "show", peerCIDR).Output()
	if !strings.Contains(string(out), "via 198.18.250.2 dev "+dev) {
		t.Errorf("route: %q", out)
	}
	// The peer goes: its route goes.
	if err := m.SyncRoutes(nodes[:1], "self"); err != nil {
		t.Fatal(err)
	}
	if out, _ = exec.Command("ip", "route", "show", peerCIDR).Output(); len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("route left: %q", out)
	}
	if err := m.RemoveMasquerade(podCIDR); err != nil {
		t.Fatal(err)
	}
	out, _ = exec.Command("iptables", "-w", "-t", "nat", "-S", "POSTROUTING").Output()
	if strings.Contains(string(out), podCIDR) {
		t.Errorf("rule left:\n%s", out)
	}
}
