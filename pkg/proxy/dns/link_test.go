//go:build linux

package dns

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"keel.dev/keel/pkg/testutil"
)

// inNetns runs f on a thread moved into a new network namespace, so that
// nothing f does touches the host's network. The thread goes back to the
// original namespace afterwards (or, failing that, dies with the test's
// goroutine rather than serve anyone else).
func inNetns(t *testing.T, f func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		testutil.Missing(t, "creating a network namespace needs root")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	defer func() {
		if err := netns.Set(orig); err != nil {
			t.Errorf("back to the original network namespace: %v", err)
			return // stay locked: the thread exits with this goroutine
		}
		runtime.UnlockOSThread()
	}()
	ns, err := netns.New()
	if err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	defer ns.Close()
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("loopback up: %v", err)
	}
	f()
}

func addrsOf(t *testing.T, l netlink.Link) []string {
	t.Helper()
	as, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	return out
}

func TestLocalAddress(t *testing.T) {
	const link, ip = "keel-dns0", "10.96.0.10"
	inNetns(t, func() {
		if err := EnsureLocalAddress(link, ip); err != nil {
			t.Fatalf("EnsureLocalAddress: %v", err)
		}
		l, err := netlink.LinkByName(link)
		if err != nil {
			t.Fatal(err)
		}
		if l.Attrs().Flags&net.FlagUp == 0 || !owned(l) {
			t.Errorf("link %s: flags %v, type %s, alias %q; want up and ours", link, l.Attrs().Flags, l.Type(), l.Attrs().Alias)
		}
		if d := cmp.Diff([]string{ip + "/32"}, addrsOf(t, l)); d != "" {
			t.Errorf("addresses (-want +got):\n%s", d)
		}

		// Again: nothing changes.
		if err := EnsureLocalAddress(link, ip); err != nil {
			t.Fatalf("EnsureLocalAddress again: %v", err)
		}
		again, err := netlink.LinkByName(link)
		if err != nil {
			t.Fatal(err)
		}
		if again.Attrs().Index != l.Attrs().Index {
			t.Errorf("link recreated: index %d, was %d", again.Attrs().Index, l.Attrs().Index)
		}
		if d := cmp.Diff([]string{ip + "/32"}, addrsOf(t, again)); d != "" {
			t.Errorf("addresses after a second call (-want +got):\n%s", d)
		}

		// A link set down is set up again.
		if err := netlink.LinkSetDown(again); err != nil {
			t.Fatal(err)
		}
		if err := EnsureLocalAddress(link, ip); err != nil {
			t.Fatal(err)
		}
		if l, err := netlink.LinkByName(link); err != nil || l.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("link after being set down: %v, err %v; want up", l.Attrs().Flags, err)
		}

		// The address serves cluster DNS.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		addr := net.JoinHostPort(ip, "53")
		if err := New(Config{}, cluster(), nil).Serve(ctx, addr); err != nil {
			t.Fatalf("Serve on %s: %v", addr, err)
		}
		for _, network := range []string{"udp", "tcp"} {
			r := exchange(t, network, addr, query("web.default.svc.cluster.local.", dns.TypeA))
			if d := cmp.Diff(rrs(t, "web.default.svc.cluster.local. 5 IN A 10.96.1.1"), section(t, r.Answer)); d != "" {
				t.Errorf("%s answer on %s (-want +got):\n%s", network, addr, d)
			}
		}
		cancel()

		if err := RemoveLocalAddress(link); err != nil {
			t.Fatalf("RemoveLocalAddress: %v", err)
		}
		if _, err := netlink.LinkByName(link); !errors.As(err, new(netlink.LinkNotFoundError)) {
			t.Errorf("link after RemoveLocalAddress: err %v, want not found", err)
		}
		if err := RemoveLocalAddress(link); err != nil {
			t.Errorf("RemoveLocalAddress of an absent link: %v", err)
		}
	})
}

func TestLocalAddressLeavesOtherLinks(t *testing.T) {
	inNetns(t, func() {
		if err := EnsureLocalAddress("lo", "10.96.0.10"); err == nil {
			t.Error("EnsureLocalAddress took over lo")
		}
		if err := RemoveLocalAddress("lo"); err == nil {
			t.Error("RemoveLocalAddress deleted lo")
		}
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			t.Fatalf("lo: %v", err)
		}
		if d := cmp.Diff([]string{"127.0.0.1/8"}, addrsOf(t, lo)); d != "" {
			t.Errorf("lo addresses (-want +got):\n%s", d)
		}
		if err := EnsureLocalAddress("keel-dns0", "not-an-ip"); err == nil {
			t.Error("EnsureLocalAddress accepted a bad address")
		}
	})
}
