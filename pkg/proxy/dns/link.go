package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
)

// linkAlias marks the links EnsureLocalAddress creates, so that neither
// function ever takes over or deletes a link it did not make.
const linkAlias = "keel-proxy node-local DNS"

// EnsureLocalAddress makes the link named link exist and be up with ip/32
// (ip/128 for IPv6) on it, so that the node and its pods can reach ip and a
// server can bind it. It is idempotent: what already holds leaves the link
// untouched, and other addresses on the link stay.
//
// The link is a dummy link; on a kernel built without the dummy driver it is
// an empty bridge instead (no ports, so it carries no traffic of its own).
// An existing link of that name is used only if it is a dummy link or one
// this package created; any other is an error, never modified.
//
// It acts in the network namespace of the calling OS thread.
func EnsureLocalAddress(link, ip string) error {
	addr, err := netip.ParseAddr(ip)
	if err != nil || addr.Zone() != "" {
		return fmt.Errorf("dns: local address %q is not an IP address", ip)
	}
	l, err := ensureLink(link)
	if err != nil {
		return err
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("dns: setting link %s up: %w", link, err)
		}
	}
	family, bits := netlink.FAMILY_V4, addr.BitLen()
	if addr.Is6() {
		family = netlink.FAMILY_V6
	}
	have, err := netlink.AddrList(l, family)
	if err != nil {
		return fmt.Errorf("dns: listing addresses of %s: %w", link, err)
	}
	for _, a := range have {
		if ones, _ := a.Mask.Size(); ones == bits && a.IP.Equal(addr.AsSlice()) {
			return nil
		}
	}
	want := &netlink.Addr{IPNet: &net.IPNet{IP: addr.AsSlice(), Mask: net.CIDRMask(bits, bits)}}
	if err := netlink.AddrAdd(l, want); err != nil {
		return fmt.Errorf("dns: adding %s to %s: %w", want.IPNet, link, err)
	}
	return nil
}

// RemoveLocalAddress deletes the link named link, with its addresses. A link
// that does not exist is no error; one that is neither a dummy link nor
// created by EnsureLocalAddress is an error and stays.
func RemoveLocalAddress(link string) error {
	l, err := netlink.LinkByName(link)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	if !owned(l) {
		return fmt.Errorf("dns: not deleting link %s: a %s link not created by keel-proxy", link, l.Type())
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("dns: deleting link %s: %w", link, err)
	}
	return nil
}

// ensureLink returns the link named name, creating it if absent.
func ensureLink(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err == nil {
		if !owned(l) {
			return nil, fmt.Errorf("dns: link %s exists and is a %s link not created by keel-proxy", name, l.Type())
		}
		return l, nil
	}
	if !errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, fmt.Errorf("dns: %w", err)
	}
	attrs := netlink.LinkAttrs{Name: name}
	err = netlink.LinkAdd(&netlink.Dummy{LinkAttrs: attrs})
	if errors.Is(err, syscall.EOPNOTSUPP) {
		// "Unknown device type": no dummy driver in this kernel.
		err = netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs})
	}
	if err != nil {
		return nil, fmt.Errorf("dns: creating link %s: %w", name, err)
	}
	l, err = netlink.LinkByName(name)
	if err == nil {
		// The kernel takes an alias only on an existing link.
		err = netlink.LinkSetAlias(l, linkAlias)
	}
	if err != nil {
		if l != nil {
			netlink.LinkDel(l)
		}
		return nil, fmt.Errorf("dns: creating link %s: %w", name, err)
	}
	l.Attrs().Alias = linkAlias
	return l, nil
}

// owned tells whether l is a link EnsureLocalAddress may use and
// RemoveLocalAddress may delete.
func owned(l netlink.Link) bool {
	return l.Type() == "dummy" || l.Attrs().Alias == linkAlias
}
