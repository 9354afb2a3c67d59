// Package cni renders and writes the CNI network configuration of a Keel
// node: one bridge network over the node's podCIDR, built from the standard
// CNI plugins (Debian's containernetworking-plugins in /usr/lib/cni):
//
//   - bridge: a Linux bridge (DefaultBridge, "keel0") that is the pods'
//     gateway (isGateway), with hairpin mode so a pod can reach itself
//     through a Service address. It does not masquerade (ipMasq off): that
//     would hide pod addresses from pods on other nodes; the kubelet's one
//     iptables rule masquerades only traffic leaving the cluster CIDR
//     (pkg/kubelet/network);
//   - host-local IPAM: addresses from the podCIDR, the first one being the
//     gateway on the bridge, with a default route through it;
//   - portmap: hostPort mappings (capabilities portMappings);
//   - loopback is not part of the list: the CRI runtime sets up lo itself
//     from the loopback plugin in the same bin_dir.
//
// Conflist is a pure function; WriteConflist puts its result where the
// runtime (containerd's CRI conf_dir) reads it.
package cni

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

const (
	// DefaultBridge is the bridge device pods attach to.
	DefaultBridge = "keel0"
	// DefaultNetworkName is the CNI network's name.
	DefaultNetworkName = "keel"
	// CNIVersion is the CNI spec version of the rendered config; both
	// containerd 1.6 and the Debian 12 plugins (1.1.1) support it.
	CNIVersion = "0.4.0"
	// ConflistFileName is the file WriteConflist writes in the conf_dir.
	// containerd loads the first file in lexical order, hence the prefix.
	ConflistFileName = "10-keel.conflist"
)

// Config describes a node's pod network.
type Config struct {
	// PodCIDR is the node's pod range, e.g. "10.244.7.0/24" (IPv4 or IPv6).
	// It must be a network address with room for the gateway and at least
	// one pod. Required.
	PodCIDR string
	// BridgeName is the bridge device; DefaultBridge when empty. At most 15
	// bytes (a Linux interface name).
	BridgeName string
	// NetworkName is the CNI network name; DefaultNetworkName when empty.
	NetworkName string
	// MTU of the bridge and the pods' interfaces; 0 leaves the plugin's
	// default.
	MTU int
	// IPAMDataDir is where host-local keeps its allocations; empty means
	// the plugin's default (/var/lib/cni/networks). Tests point it at a
	// temporary directory so that no state outlives them.
	IPAMDataDir string
}

// conflist mirrors the JSON layout of a CNI network configuration list. The
// field order here is the order in the rendered file.
type conflist struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []any  `json:"plugins"`
}

type bridgePlugin struct {
	Type        string    `json:"type"`
	Bridge      string    `json:"bridge"`
	IsGateway   bool      `json:"isGateway"`
	IPMasq      bool      `json:"ipMasq"`
	HairpinMode bool      `json:"hairpinMode"`
	MTU         int       `json:"mtu,omitempty"`
	IPAM        hostLocal `json:"ipam"`
}

type hostLocal struct {
	Type    string  `json:"type"`
	Ranges  [][]rng `json:"ranges"`
	Routes  []route `json:"routes"`
	DataDir string  `json:"dataDir,omitempty"`
}

type rng struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

type route struct {
	Dst string `json:"dst"`
}

type portmapPlugin struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
	SNAT         bool            `json:"snat"`
}

// Conflist renders the network configuration list for c. The same Config
// always gives the same bytes (indented JSON ending in a newline).
func Conflist(c Config) ([]byte, error) {
	prefix, err := netip.ParsePrefix(c.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("cni: podCIDR %q: %w", c.PodCIDR, err)
	}
	if prefix.Masked() != prefix {
		return nil, fmt.Errorf("cni: podCIDR %q is not a network address (did you mean %s?)", c.PodCIDR, prefix.Masked())
	}
	// The network, gateway and one pod, plus the broadcast address in IPv4.
	hostBits := prefix.Addr().BitLen() - prefix.Bits()
	if hostBits < 2 {
		return nil, fmt.Errorf("cni: podCIDR %q is too small for a gateway and a pod", c.PodCIDR)
	}
	bridge := c.BridgeName
	if bridge == "" {
		bridge = DefaultBridge
	}
	if len(bridge) > 15 {
		return nil, fmt.Errorf("cni: bridge name %q is longer than 15 bytes", bridge)
	}
	netName := c.NetworkName
	if netName == "" {
		netName = DefaultNetworkName
	}
	if c.MTU < 0 {
		return nil, fmt.Errorf("cni: negative MTU %d", c.MTU)
	}
	gateway := prefix.Addr().Next()
	defaultRoute := "0.0.0.0/0"
	if prefix.Addr().Is6() {
		defaultRoute = "::/0"
	}
	list := conflist{
		CNIVersion: CNIVersion,
		Name:       netName,
		Plugins: []any{
			bridgePlugin{
				Type:        "bridge",
				Bridge:      bridge,
				IsGateway:   true,
				IPMasq:      false,
				HairpinMode: true,
				MTU:         c.MTU,
				IPAM: hostLocal{
					Type:    "host-local",
					Ranges:  [][]rng{{{Subnet: prefix.String(), Gateway: gateway.String()}}},
					Routes:  []route{{Dst: defaultRoute}},
					DataDir: c.IPAMDataDir,
				},
			},
			portmapPlugin{
				Type:         "portmap",
				Capabilities: map[string]bool{"portMappings": true},
				SNAT:         true,
			},
		},
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteConflist renders c and writes it to dir/ConflistFileName, creating
// dir if needed, unless the file holds exactly that already (so the
// runtime does not reload for nothing). The file is replaced atomically
// (written aside, then renamed) so the runtime never reads half of it. It
// returns the file's path.
func WriteConflist(dir string, c Config) (string, error) {
	b, err := Conflist(c)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("cni: %w", err)
	}
	path := filepath.Join(dir, ConflistFileName)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
		return path, nil
	}
	// The temporary file is made in dir itself: containerd reloads its CNI
	// configuration on a rename or write in dir, not on a file moved in
	// from elsewhere (a create, which it ignores).
	if err := renameio.WriteFile(path, b, 0o644, renameio.WithStaticPermissions(0o644), renameio.WithTempDir(dir)); err != nil {
		return "", fmt.Errorf("cni: writing %s: %w", path, err)
	}
	return path, nil
}
