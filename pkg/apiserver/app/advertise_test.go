package app

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestAdvertiseAddress(t *testing.T) {
	listen := func(addr string) net.Listener {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	loop := listen("127.0.0.1:0")
	wildcard := listen("0.0.0.0:0")
	_, loopPort, _ := net.SplitHostPort(loop.Addr().String())

	if _, _, ok, err := advertiseAddress("", nil); ok || err != nil {
		t.Errorf("no secure listener: ok %v err %v, want neither", ok, err)
	}
	ip, port, ok, err := advertiseAddress("", loop)
	if err != nil || !ok || ip != "127.0.0.1" || strconv.Itoa(int(port)) != loopPort {
		t.Errorf("secure listener on 127.0.0.1: %s %d %v %v, want its host and port", ip, port, ok, err)
	}
	ip, _, ok, err = advertiseAddress("192.0.2.7", loop)
	if err != nil || !ok || ip != "192.0.2.7" {
		t.Errorf("--advertise-address 192.0.2.7: %s %v %v", ip, ok, err)
	}
	for _, bad := range []string{"api.example", "0.0.0.0", "10.0.0.1:6443"} {
		if _, _, _, err := advertiseAddress(bad, loop); err == nil || !strings.Contains(err.Error(), "--advertise-address") {
			t.Errorf("--advertise-address %q: %v, want an error naming the flag", bad, err)
		}
	}
	// Listening on every address: the host's primary IP.
	want, werr := primaryIP("/proc/net/route")
	ip, _, _, err = advertiseAddress("", wildcard)
	if (werr == nil) != (err == nil) || (werr == nil && ip != want.String()) {
		t.Errorf("secure listener on 0.0.0.0: %s %v, want %s %v", ip, err, want, werr)
	}
	if werr == nil && (!want.Is4() || !want.IsGlobalUnicast()) {
		t.Errorf("primary IP %s is not a global unicast IPv4 address", want)
	}
}
