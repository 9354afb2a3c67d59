// Package network programs a node's pod network around the CNI plugins:
//
//   - the CNI configuration for the node's podCIDR (pkg/kubelet/cni),
//     with the bridge plugin's own masquerading turned off, so that pods
//     on other nodes see pod source addresses (host-gw keeps them);
//   - one iptables rule masquerading traffic from the podCIDR to
//     destinations outside the cluster CIDR (the Internet, the nodes);
//   - a route to every other node's podCIDR through that node's
//     InternalIP (host-gw), tagged with RouteProtocol so the routes the
//     kubelet owns can be found again after a restart and removed when
//     their node goes.
//
// Commands run through an Exec seam (the ip and iptables commands), so the
// logic is unit-tested with a fake.
package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/kubelet/cni"
)

// RouteProtocol marks the routes the kubelet installs (ip route ... proto N).
const RouteProtocol = "77"

// masqComment tags the masquerade rule (no spaces: iptables -S prints it
// bare, so the rule can be split back into arguments).
const masqComment = "keel-kubelet-masquerade"

// Exec runs a command and returns its combined output.
type Exec interface {
	Run(name string, args ...string) ([]byte, error)
}

// OSExec runs real commands.
type OSExec struct{}

// Run implements Exec.
func (OSExec) Run(name string, args ...string) ([]byte, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return out, nil
}

// Config configures a Manager.
type Config struct {
	// CNIConfDir receives the conflist; BridgeName, NetworkName,
	// IPAMDataDir and MTU go into it (see cni.Config).
	CNIConfDir  string
	BridgeName  string
	NetworkName string
	IPAMDataDir string
	MTU         int
	// ClusterCIDR holds every node's podCIDR; traffic to it keeps pod
	// source addresses.
	ClusterCIDR string
	// Masquerade installs the masquerade rule; Routes programs host-gw
	// routes.
	Masquerade bool
	Routes     bool
}

// Manager programs the node's network. Safe for concurrent use.
type Manager struct {
	cfg  Config
	exec Exec
	log  *zap.Logger

	mu      sync.Mutex
	podCIDR string
	routes  map[string]string // podCIDR → via, as installed
}

// New returns a Manager running commands with ex (OSExec{} when nil).
func New(cfg Config, ex Exec, log *zap.Logger) *Manager {
	if ex == nil {
		ex = OSExec{}
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Manager{cfg: cfg, exec: ex, log: log}
}

// PodCIDR returns the podCIDR set last.
func (m *Manager) PodCIDR() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.podCIDR
}

// SetPodCIDR writes the CNI config for the node's podCIDR and installs the
// masquerade rule for it (removing one left for another podCIDR).
func (m *Manager) SetPodCIDR(podCIDR string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := netip.ParsePrefix(podCIDR); err != nil {
		return fmt.Errorf("podCIDR %q: %w", podCIDR, err)
	}
	if _, err := cni.WriteConflist(m.cfg.CNIConfDir, cni.Config{PodCIDR: podCIDR, BridgeName: m.cfg.BridgeName, NetworkName: m.cfg.NetworkName, IPAMDataDir: m.cfg.IPAMDataDir, MTU: m.cfg.MTU}); err != nil {
		return err
	}
	if m.cfg.Masquerade {
		if err := m.ensureMasquerade(podCIDR); err != nil {
			return err
		}
	}
	if m.podCIDR != podCIDR {
		m.log.Info("pod network configured", zap.String("podCIDR", podCIDR), zap.String("cniConfDir", m.cfg.CNIConfDir))
	}
	m.podCIDR = podCIDR
	return nil
}

// masqRule is the rule's specification (after "-A POSTROUTING").
func (m *Manager) masqRule(podCIDR string) []string {
	rule := []string{"-s", podCIDR}
	if m.cfg.ClusterCIDR != "" {
		rule = append(rule, "!", "-d", m.cfg.ClusterCIDR)
	} else {
		rule = append(rule, "!", "-d", podCIDR)
	}
	return append(rule, "-m", "comment", "--comment", masqComment, "-j", "MASQUERADE")
}

// ourRules lists the masquerade rules in nat POSTROUTING (as -A lines).
func (m *Manager) ourRules() ([][]string, error) {
	out, err := m.exec.Run("iptables", "-w", "-t", "nat", "-S", "POSTROUTING")
	if err != nil {
		return nil, err
	}
	var rules [][]string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == "-A" && strings.Contains(line, masqComment) {
			rules = append(rules, f[2:])
		}
	}
	return rules, nil
}

func (m *Manager) ensureMasquerade(podCIDR string) error {
	want := m.masqRule(podCIDR)
	rules, err := m.ourRules()
	if err != nil {
		return err
	}
	found := false
	for _, r := range rules {
		if sameRule(r, want) {
			found = true
			continue
		}
		// A rule for another podCIDR of this node (it changed): remove it,
		// unless it is another node's sharing this network namespace.
		if podCIDRs := ruleSource(r); podCIDRs != "" && podCIDRs == m.podCIDR {
			if _, err := m.exec.Run("iptables", append([]string{"-w", "-t", "nat", "-D", "POSTROUTING"}, r...)...); err != nil {
				m.log.Warn("removing a stale masquerade rule failed", zap.Error(err))
			}
		}
	}
	if found {
		return nil
	}
	_, err = m.exec.Run("iptables", append([]string{"-w", "-t", "nat", "-A", "POSTROUTING"}, want...)...)
	return err
}

// sameRule compares a rule as iptables -S prints it with ours (iptables
// prints a /32 address without mask and the comment quoted when needed).
func sameRule(got, want []string) bool {
	return strings.Join(got, " ") == strings.Join(want, " ")
}

func ruleSource(r []string) string {
	for i := 0; i+1 < len(r); i++ {
		if r[i] == "-s" {
			return r[i+1]
		}
	}
	return ""
}

// RemoveMasquerade deletes the masquerade rule of podCIDR, if present.
func (m *Manager) RemoveMasquerade(podCIDR string) error {
	rules, err := m.ourRules()
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rules {
		if ruleSource(r) == podCIDR {
			if _, err := m.exec.Run("iptables", append([]string{"-w", "-t", "nat", "-D", "POSTROUTING"}, r...)...); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Route is a host-gw route: Dst (another node's podCIDR) via Via (its
// InternalIP).
type Route struct {
	Dst, Via string
}

// DesiredRoutes returns a route for every node other than self with a
// podCIDR and an InternalIP, sorted by destination. Pure.
func DesiredRoutes(nodes []*corev1.Node, self string) []Route {
	var out []Route
	for _, n := range nodes {
		if n.GetMetadata().GetName() == self {
			continue
		}
		cidr := n.GetSpec().GetPodCidr()
		if cidr == "" {
			continue
		}
		if _, err := netip.ParsePrefix(cidr); err != nil {
			continue
		}
		via := ""
		for _, a := range n.GetStatus().GetAddresses() {
			if a.GetType() == api.NodeInternalIP {
				if ip, err := netip.ParseAddr(a.GetAddress()); err == nil && ip.Is4() == netip.MustParsePrefix(cidr).Addr().Is4() {
					via = a.GetAddress()
					break
				}
			}
		}
		if via == "" {
			continue
		}
		out = append(out, Route{Dst: cidr, Via: via})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dst < out[j].Dst })
	return out
}

// installedRoutes lists the routes tagged with RouteProtocol.
func (m *Manager) installedRoutes() (map[string]string, error) {
	out, err := m.exec.Run("ip", "-4", "route", "show", "proto", RouteProtocol)
	if err != nil {
		return nil, err
	}
	routes := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "via" {
			routes[f[0]] = f[2]
		}
	}
	return routes, nil
}

// SyncRoutes makes the node's host-gw routes those of nodes (less self):
// it replaces missing or changed ones and deletes the ones tagged with
// RouteProtocol that no node needs any more. A route that cannot be
// installed (its gateway is not on a directly connected network) is
// logged and skipped.
func (m *Manager) SyncRoutes(nodes []*corev1.Node, self string) error {
	if !m.cfg.Routes {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	have, err := m.installedRoutes()
	if err != nil {
		return err
	}
	var errs []error
	want := map[string]bool{}
	for _, r := range DesiredRoutes(nodes, self) {
		if r.Dst == m.podCIDR {
			continue // our own range is on the bridge
		}
		want[r.Dst] = true
		if have[r.Dst] == r.Via {
			continue
		}
		if _, err := m.exec.Run("ip", "route", "replace", r.Dst, "via", r.Via, "proto", RouteProtocol); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.Info("route to a node's pods", zap.String("podCIDR", r.Dst), zap.String("via", r.Via))
	}
	for dst, via := range have {
		if want[dst] {
			continue
		}
		if _, err := m.exec.Run("ip", "route", "del", dst, "via", via, "proto", RouteProtocol); err != nil {
			errs = append(errs, err)
			continue
		}
		m.log.Info("removed the route of a node that is gone", zap.String("podCIDR", dst), zap.String("via", via))
	}
	return errors.Join(errs...)
}

// RemoveRoutes deletes every route tagged with RouteProtocol whose
// destination is in dsts (all of them when dsts is nil).
func (m *Manager) RemoveRoutes(dsts []string) error {
	have, err := m.installedRoutes()
	if err != nil {
		return err
	}
	var errs []error
	for dst, via := range have {
		if dsts != nil && !contains(dsts, dst) {
			continue
		}
		if _, err := m.exec.Run("ip", "route", "del", dst, "via", via, "proto", RouteProtocol); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
