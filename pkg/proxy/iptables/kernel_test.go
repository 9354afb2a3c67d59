package iptables

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"keel.dev/keel/pkg/testutil"
)

// These tests program the kernel, each in network namespaces it creates
// and deletes, so the host's own rules are never touched: the executor's
// methods run on a goroutine locked to a thread that has joined the
// namespace, and the iptables commands it forks inherit it (the production
// code path, unchanged).

// requireKernel skips (or, in CI, fails) unless the test can create network
// namespaces and run iptables.
func requireKernel(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testutil.Missing(t, "needs root for network namespaces and iptables")
	}
	for _, bin := range []string{"ip", "iptables", "iptables-save", "iptables-restore"} {
		if _, err := exec.LookPath(bin); err != nil {
			testutil.Missing(t, bin+" not installed")
		}
	}
}

var netnsSeq atomic.Int32

// newNetns creates a network namespace with loopback up, deleted when the
// test ends.
func newNetns(t *testing.T, what string) string {
	t.Helper()
	name := fmt.Sprintf("keel-ipt-%d-%d-%s", os.Getpid(), netnsSeq.Add(1), what)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		testutil.Missing(t, fmt.Sprintf("cannot create a network namespace: %v: %s", err, out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("deleting netns %s: %v: %s", name, err, out)
		}
	})
	ip(t, "-n", name, "link", "set", "lo", "up")
	return name
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on a fresh OS thread that has joined network namespace
// ns. fn must report through its error, not t.Fatal. The thread is never
// unlocked, so it exits with the goroutine and no other goroutine ever runs
// in ns by accident.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// save returns iptables-save's rule and chain lines in ns, by table.
func save(t *testing.T, ns string) map[string][]string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "iptables-save").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables-save: %v: %s", err, out)
	}
	tables := map[string][]string{}
	table := ""
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "*"):
			table = l[1:]
		case strings.HasPrefix(l, "-A "), strings.HasPrefix(l, ":"):
			tables[table] = append(tables[table], l)
		}
	}
	return tables
}

// keelChains returns the KEEL- chains of each table in saved lines.
func keelChains(tables map[string][]string) map[string][]string {
	out := map[string][]string{}
	for table, lines := range tables {
		for _, l := range lines {
			if name, ok := strings.CutPrefix(l, ":"+chainPrefix); ok {
				out[table] = append(out[table], chainPrefix+strings.Fields(name)[0])
			}
		}
		slices.Sort(out[table])
	}
	return out
}

// declaredChains returns the chains payload declares, by table.
func declaredChains(payload []byte) map[string][]string {
	return keelChains(map[string][]string{
		"filter": strings.Split(strings.Split(string(payload), "*nat\n")[0], "\n"),
		"nat":    strings.Split(strings.Split(string(payload), "*nat\n")[1], "\n"),
	})
}

// checkJumps checks that each jump is in place exactly once, in order, and
// that no other rule of a built-in chain leads to a Keel chain.
func checkJumps(t *testing.T, tables map[string][]string) {
	t.Helper()
	for table, chains := range builtinChains {
		for _, chain := range chains {
			var got []string
			for _, l := range tables[table] {
				if strings.HasPrefix(l, "-A "+chain+" ") && strings.Contains(l, " -j "+chainPrefix) {
					got = append(got, l[strings.LastIndex(l, " -j ")+4:])
				}
			}
			var want []string
			for _, j := range jumps {
				if j.table == table && j.chain == chain {
					want = append(want, j.target())
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %s jumps to %v, want %v; table:\n%s", table, chain, got, want, strings.Join(tables[table], "\n"))
			}
		}
	}
}

func contains(lines []string, sub string) bool {
	return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, sub) })
}

func TestExecutorKernel(t *testing.T) {
	requireKernel(t)
	ns := newNetns(t, "rules")
	ex, err := New()
	if err != nil {
		t.Fatal(err)
	}
	web := with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.250.0.2", Port: 8080}), func(sp *ServicePort) { sp.NodePort = 30080 })
	gone := with(svcPort("gone", "10.96.0.20", Endpoint{IP: "10.250.0.3", Port: 8080}, Endpoint{IP: "10.250.0.4", Port: 8080}),
		func(sp *ServicePort) { sp.ExternalIPs, sp.AffinitySeconds = []string{"192.0.2.10"}, 60 })
	empty := svcPort("empty", "10.96.0.30")
	all := Render(testCfg, []ServicePort{web, gone, empty})

	// Twice, in full: jumps and rules must not pile up.
	for range 2 {
		if err := inNetns(ns, func() error { return errors.Join(ex.EnsureJumps(), ex.Restore(all, true)) }); err != nil {
			t.Fatal(err)
		}
	}
	tables := save(t, ns)
	checkJumps(t, tables)
	if diff := keelChains(tables); !slices.Equal(diff["nat"], declaredChains(all)["nat"]) || !slices.Equal(diff["filter"], declaredChains(all)["filter"]) {
		t.Errorf("chains in the kernel %v, want those declared %v", diff, declaredChains(all))
	}
	for _, want := range []string{"-j DNAT --to-destination 10.250.0.2:8080", "-j DNAT --to-destination 10.250.0.4:8080",
		"-A " + gone.svcChain() + " ", "--dport 30080 -j " + web.extChain()} {
		if !contains(tables["nat"], want) {
			t.Errorf("nat table lacks %q:\n%s", want, strings.Join(tables["nat"], "\n"))
		}
	}
	if n := strings.Count(strings.Join(tables["nat"], "\n"), "-j DNAT"); n != 3 {
		t.Errorf("%d DNAT rules after applying twice, want 3", n)
	}
	if !contains(tables["filter"], "-d 10.96.0.30/32 -p tcp") || !contains(tables["filter"], "-j REJECT") {
		t.Errorf("filter table lacks the REJECT for %s:\n%s", empty, strings.Join(tables["filter"], "\n"))
	}

	// gone is deleted: its chains go, in the same (partial) restore.
	less := Render(testCfg, []ServicePort{web, empty})
	if err := inNetns(ns, func() error { return errors.Join(ex.Restore(less, false), ex.EnsureJumps()) }); err != nil {
		t.Fatal(err)
	}
	tables = save(t, ns)
	checkJumps(t, tables)
	for _, c := range []string{gone.svcChain(), gone.extChain(), gone.sepChain(gone.Endpoints[0]), gone.sepChain(gone.Endpoints[1])} {
		if contains(tables["nat"], c) {
			t.Errorf("chain %s of a deleted service survived:\n%s", c, strings.Join(tables["nat"], "\n"))
		}
	}
	if got, want := keelChains(tables)["nat"], declaredChains(less)["nat"]; !slices.Equal(got, want) {
		t.Errorf("nat chains %v, want %v", got, want)
	}

	// A bad payload fails, names the line, and changes nothing.
	bad := []byte("*nat\n:KEEL-SERVICES - [0:0]\n-A KEEL-SERVICES -j KEEL-NOWHERE\nCOMMIT\n")
	err = inNetns(ns, func() error { return ex.Restore(bad, false) })
	if err == nil || !strings.Contains(err.Error(), "KEEL-NOWHERE") {
		t.Errorf("Restore(bad) = %v, want an error quoting the line", err)
	}
	if after := save(t, ns); !slices.Equal(after["nat"], tables["nat"]) {
		t.Errorf("a failed restore changed nat:\n%s", strings.Join(after["nat"], "\n"))
	}

	// Cleanup leaves no trace and is idempotent; other rules stay.
	if out, err := exec.Command("ip", "netns", "exec", ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "10.9.0.0/16", "-j", "MASQUERADE").CombinedOutput(); err != nil {
		t.Fatalf("adding a foreign rule: %v: %s", err, out)
	}
	for range 2 {
		if err := inNetns(ns, ex.Cleanup); err != nil {
			t.Fatal(err)
		}
	}
	tables = save(t, ns)
	for table, lines := range tables {
		if contains(lines, "KEEL") {
			t.Errorf("Cleanup left Keel rules in %s:\n%s", table, strings.Join(lines, "\n"))
		}
	}
	if !contains(tables["nat"], "-A POSTROUTING -s 10.9.0.0/16 -j MASQUERADE") {
		t.Errorf("Cleanup removed a foreign rule:\n%s", strings.Join(tables["nat"], "\n"))
	}
}

// TestGoldenCasesApplyKernel applies every golden payload in turn, as if
// services came and went, in two namespaces: in one each restore is full,
// in the other partial (only what changed since the previous case). Each
// must be accepted; afterwards both kernels hold exactly the Keel chains
// that payload declares, with the same rules.
func TestGoldenCasesApplyKernel(t *testing.T) {
	requireKernel(t)
	fullNS, partialNS := newNetns(t, "golden-full"), newNetns(t, "golden-part")
	fullEx, err := New()
	if err != nil {
		t.Fatal(err)
	}
	partialEx, err := New()
	if err != nil {
		t.Fatal(err)
	}
	cases := append(slices.Clone(renderCases), renderCases[0]) // end with no services
	for _, tc := range cases {
		payload := Render(tc.cfg, tc.ports)
		if err := inNetns(fullNS, func() error { return fullEx.Restore(payload, true) }); err != nil {
			t.Fatalf("%s, full: %v", tc.name, err)
		}
		if err := inNetns(partialNS, func() error { return partialEx.Restore(payload, false) }); err != nil {
			t.Fatalf("%s, partial: %v", tc.name, err)
		}
		full, partial := save(t, fullNS), save(t, partialNS)
		got, want := keelChains(full), declaredChains(payload)
		for _, table := range []string{"filter", "nat"} {
			if !slices.Equal(got[table], want[table]) {
				t.Errorf("%s: %s chains %v, want %v", tc.name, table, got[table], want[table])
			}
			f, p := slices.Sorted(slices.Values(full[table])), slices.Sorted(slices.Values(partial[table]))
			if !slices.Equal(f, p) {
				t.Errorf("%s: %s after a partial restore differs from a full one:\nfull:\n%s\npartial:\n%s", tc.name, table, strings.Join(f, "\n"), strings.Join(p, "\n"))
			}
		}
	}
}

// TestTrafficKernel proves the rules route: a client namespace with the
// rules reaches a server namespace over a veth through a ClusterIP and a
// NodePort, and a service without endpoints refuses connections.
func TestTrafficKernel(t *testing.T) {
	requireKernel(t)
	cli, srv := newNetns(t, "cli"), newNetns(t, "srv")
	ip(t, "-n", cli, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", srv)
	ip(t, "-n", cli, "addr", "add", "10.250.0.1/24", "dev", "veth0")
	ip(t, "-n", srv, "addr", "add", "10.250.0.2/24", "dev", "veth0")
	ip(t, "-n", cli, "link", "set", "veth0", "up")
	ip(t, "-n", srv, "link", "set", "veth0", "up")
	ip(t, "-n", cli, "route", "add", "default", "via", "10.250.0.2")

	// The server answers with the client address it sees.
	var ln net.Listener
	if err := inNetns(srv, func() (err error) { ln, err = net.Listen("tcp", "10.250.0.2:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintln(c, c.RemoteAddr())
			c.Close()
		}
	}()

	ex, err := New()
	if err != nil {
		t.Fatal(err)
	}
	web := with(svcPort("web", "10.96.0.10", Endpoint{IP: "10.250.0.2", Port: 8080}), func(sp *ServicePort) { sp.NodePort = 30080 })
	empty := svcPort("empty", "10.96.0.30")
	payload := Render(testCfg, []ServicePort{web, empty})
	if err := inNetns(cli, func() error { return errors.Join(ex.EnsureJumps(), ex.Restore(payload, true)) }); err != nil {
		t.Fatal(err)
	}

	dial := func(addr string) (string, error) {
		var reply string
		err := inNetns(cli, func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Second))
			reply, err = bufio.NewReader(c).ReadString('\n')
			return err
		})
		return strings.TrimSpace(reply), err
	}
	for _, addr := range []string{"10.96.0.10:80", "10.250.0.1:30080"} {
		testutil.Eventually(t, 5*time.Second, "connecting to "+addr, func() error {
			reply, err := dial(addr)
			if err != nil {
				return err
			}
			// From outside ClusterCIDR: masqueraded to the client's own
			// address on the veth.
			if host, _, _ := net.SplitHostPort(reply); host != "10.250.0.1" {
				return fmt.Errorf("server saw the client as %q, want 10.250.0.1", reply)
			}
			return nil
		})
	}
	testutil.Eventually(t, 5*time.Second, "connection refused without endpoints", func() error {
		if _, err := dial("10.96.0.30:80"); !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("dial: %v, want ECONNREFUSED", err)
		}
		return nil
	})
}
