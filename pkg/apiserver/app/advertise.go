package app

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// advertiseAddress is the IP pods reach this apiserver at and its secure
// port (the bound listener's, so port 0 resolves): --advertise-address,
// else the --secure-address host unless it is unspecified, else the
// host's primary IP. ok is false without a secure listener: pods cannot
// use the loopback-only insecure one.
func advertiseAddress(flag string, secure net.Listener) (ip string, port int32, ok bool, err error) {
	if secure == nil {
		return "", 0, false, nil
	}
	ap, err := netip.ParseAddrPort(secure.Addr().String())
	if err != nil {
		return "", 0, false, fmt.Errorf("secure listener address: %w", err)
	}
	port = int32(ap.Port())
	if flag != "" {
		a, err := netip.ParseAddr(flag)
		if err != nil || a.IsUnspecified() {
			return "", 0, false, fmt.Errorf("--advertise-address %q: want the IP address at which pods reach this apiserver", flag)
		}
		return a.String(), port, true, nil
	}
	if a := ap.Addr().Unmap(); !a.IsUnspecified() {
		return a.String(), port, true, nil
	}
	a, err := primaryIP("/proc/net/route")
	if err != nil {
		return "", 0, false, fmt.Errorf("choosing the address to advertise (set --advertise-address): %w", err)
	}
	return a.String(), port, true, nil
}

// primaryIP is, as Kubernetes chooses it, the first global unicast IPv4
// address of the interface of the default route (read from routes, the
// format of /proc/net/route), else of any interface that is up.
func primaryIP(routes string) (netip.Addr, error) {
	var candidates []net.Interface
	if f, err := os.Open(routes); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// Iface Destination Gateway ...: destination 00000000 is the default route.
			if fs := strings.Fields(sc.Text()); len(fs) > 1 && fs[1] == "00000000" {
				if ifc, err := net.InterfaceByName(fs[0]); err == nil {
					candidates = append(candidates, *ifc)
				}
			}
		}
		f.Close()
	}
	all, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, ifc := range all {
		if ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagLoopback == 0 {
			candidates = append(candidates, ifc)
		}
	}
	for _, ifc := range candidates {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && p.Addr().IsGlobalUnicast() {
				return p.Addr(), nil
			}
		}
	}
	return netip.Addr{}, errors.New("no interface has a global unicast IPv4 address")
}
