package dns

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// Upstreams reads the nameservers of a resolv.conf file as host:53 (IPv6 in
// brackets, zones kept), in file order and without duplicates, leaving out
// the addresses in exclude: the node-local address itself, so that a host
// whose resolv.conf points at it does not forward to itself. Comments, other
// directives (search, options, …) and nameserver lines that are not an IP
// address are ignored. A file without any nameserver left gives an empty
// list, not an error; a missing file or an exclude that is not an IP
// address is an error.
func Upstreams(resolvConf string, exclude ...string) ([]string, error) {
	skip := map[netip.Addr]bool{}
	for _, e := range exclude {
		ip, err := netip.ParseAddr(e)
		if err != nil {
			return nil, fmt.Errorf("dns: exclude %q: %w", e, err)
		}
		skip[ip.Unmap().WithZone("")] = true
	}
	data, err := os.ReadFile(resolvConf)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "nameserver" {
			continue // blank, comment (# or ;) or another directive
		}
		ip, err := netip.ParseAddr(f[1])
		if err != nil || skip[ip.Unmap().WithZone("")] {
			continue
		}
		up := netip.AddrPortFrom(ip, 53).String()
		if !seen[up] {
			seen[up] = true
			out = append(out, up)
		}
	}
	return out, nil
}
