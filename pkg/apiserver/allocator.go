package apiserver

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/apiserver/kubernetesservice"
	"keel.dev/keel/pkg/storage"
)

// Allocation keys: one etcd key per ClusterIP and per NodePort in use,
// created in the same transaction as the Service that holds it and deleted
// with it. etcd's CreateRevision==0 guard makes every address unique across
// any number of apiservers, with no lock and no in-memory bitmap to drift.
const (
	ipKeyPrefix   = "/keel/ranges/serviceips/"
	portKeyPrefix = "/keel/ranges/nodeports/"
)

// allocator hands out Service ClusterIPs and NodePorts.
type allocator struct {
	store    storage.Interface
	ipRange  netip.Prefix
	ipCount  uint64 // usable addresses: the range less network and broadcast
	portBase int
	portSize int
}

func newAllocator(store storage.Interface, ipRange string, portRange string) (*allocator, error) {
	p, err := netip.ParsePrefix(ipRange)
	if err != nil {
		return nil, fmt.Errorf("--service-cluster-ip-range: %w", err)
	}
	p = p.Masked()
	bits := p.Addr().BitLen() - p.Bits()
	if bits < 2 || bits > 24 {
		return nil, fmt.Errorf("--service-cluster-ip-range %s: need between 4 and 2^24 addresses", ipRange)
	}
	lo, hi, ok := strings.Cut(portRange, "-")
	base, err1 := strconv.Atoi(lo)
	last, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || base < 1 || last > 65535 || last < base {
		return nil, fmt.Errorf("--service-node-port-range %q: want FIRST-LAST, e.g. 30000-32767", portRange)
	}
	return &allocator{store: store, ipRange: p, ipCount: 1<<bits - 2, portBase: base, portSize: last - base + 1}, nil
}

// ipAt returns the address at offset i (1-based, within the usable range).
func (a *allocator) ipAt(i uint64) netip.Addr {
	b := new(big.Int).SetBytes(a.ipRange.Addr().AsSlice())
	b.Add(b, new(big.Int).SetUint64(i))
	buf := make([]byte, a.ipRange.Addr().BitLen()/8)
	b.FillBytes(buf)
	addr, _ := netip.AddrFromSlice(buf)
	return addr
}

// FirstIP is the range's first usable address, reserved for the API's own
// Service (default/kubernetes) as in Kubernetes: random allocation never
// picks it, and no other Service may ask for it.
func (a *allocator) FirstIP() netip.Addr { return a.ipAt(1) }

// isKubernetesService tells whether svc is default/kubernetes, the only
// Service that may hold FirstIP.
func isKubernetesService(svc *corev1.Service) bool {
	return svc.GetMetadata().GetNamespace() == kubernetesservice.Namespace && svc.GetMetadata().GetName() == kubernetesservice.Name
}

func ipKey(ip string) string { return ipKeyPrefix + ip }
func portKey(p int32) string { return portKeyPrefix + strconv.Itoa(int(p)) }

// serviceKeys lists the allocation keys a stored Service holds.
func serviceKeys(s *corev1.Service) []string {
	if s == nil {
		return nil
	}
	var keys []string
	if ip := s.GetSpec().GetClusterIp(); ip != "" && ip != api.ClusterIPNone {
		keys = append(keys, ipKey(ip))
	}
	seen := map[int32]bool{}
	for _, p := range s.GetSpec().GetPorts() {
		if n := p.GetNodePort(); n != 0 && !seen[n] {
			seen[n] = true
			keys = append(keys, portKey(n))
		}
	}
	return keys
}

// assignment records which allocation keys were picked at random (and may be
// re-picked when another apiserver took them first) and which the user asked
// for (a conflict on those is the user's error, reported at path).
type assignment struct {
	random   map[string]bool
	explicit map[string]*field.Path
}

// assign fills in a Service's ClusterIP and NodePorts. Addresses new leaves
// empty are taken from old (an update) where old had them, else picked at
// random avoiding the keys in avoid. Addresses the user gave are checked
// against the configured ranges.
func (a *allocator) assign(svc, old *corev1.Service, avoid map[string]bool) (*assignment, error) {
	as := &assignment{random: map[string]bool{}, explicit: map[string]*field.Path{}}
	spec := svc.GetSpec()
	specPath := field.NewPath("spec")
	var errs field.ErrorList
	if api.ServiceNeedsClusterIP(svc) {
		switch ip := spec.GetClusterIp(); {
		case ip == "" && old != nil && old.GetSpec().GetClusterIp() != "" && old.GetSpec().GetClusterIp() != api.ClusterIPNone:
			spec.ClusterIp = old.GetSpec().GetClusterIp()
		case ip == "":
			pick, err := a.pickIP(avoid)
			if err != nil {
				return nil, err
			}
			spec.ClusterIp = pick
			as.random[ipKey(pick)] = true
		default:
			addr, err := netip.ParseAddr(ip)
			if err != nil || !a.ipRange.Contains(addr) || addr == a.ipRange.Addr() || addr == a.ipAt(a.ipCount+1) {
				errs = append(errs, field.Invalid(specPath.Child("clusterIP"), ip,
					fmt.Sprintf("provided IP is not in the valid range. The range of valid IPs is %s", a.ipRange)))
			} else if addr == a.FirstIP() && !isKubernetesService(svc) {
				errs = append(errs, field.Invalid(specPath.Child("clusterIP"), ip,
					fmt.Sprintf("provided IP is reserved for the Service %s/%s", kubernetesservice.Namespace, kubernetesservice.Name)))
			} else if old == nil || old.GetSpec().GetClusterIp() != ip {
				as.explicit[ipKey(ip)] = specPath.Child("clusterIP")
			}
		}
		spec.ClusterIps = []string{spec.GetClusterIp()}
	} else if spec.GetClusterIp() == api.ClusterIPNone {
		spec.ClusterIps = []string{api.ClusterIPNone}
	}

	if !api.ServiceNeedsNodePorts(svc) {
		for i, p := range spec.GetPorts() {
			if p.GetNodePort() != 0 {
				errs = append(errs, field.Forbidden(specPath.Child("ports").Index(i).Child("nodePort"),
					"may only be set when type is 'NodePort' or 'LoadBalancer'"))
			}
		}
		if len(errs) > 0 {
			return nil, apierrors.Invalid("Service", svc.GetMetadata().GetName(), errs)
		}
		return as, nil
	}
	oldPorts := old.GetSpec().GetPorts()
	if !api.ServiceNeedsNodePorts(old) {
		oldPorts = nil
	}
	held := map[int32]bool{} // ports this service already holds (from old)
	for _, p := range oldPorts {
		held[p.GetNodePort()] = true
	}
	used := map[int32]bool{}
	for i, p := range spec.GetPorts() {
		path := specPath.Child("ports").Index(i).Child("nodePort")
		n := p.GetNodePort()
		if n == 0 {
			// Keep the port an update's matching old port held.
			for _, op := range oldPorts {
				if op.GetPort() == p.GetPort() && op.GetProtocol() == p.GetProtocol() && op.GetNodePort() != 0 && !used[op.GetNodePort()] {
					n = op.GetNodePort()
					break
				}
			}
		}
		if n == 0 {
			pick, err := a.pickPort(avoid, used)
			if err != nil {
				return nil, err
			}
			n = pick
			as.random[portKey(n)] = true
		} else if int(n) < a.portBase || int(n) >= a.portBase+a.portSize {
			errs = append(errs, field.Invalid(path, n, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.portBase, a.portBase+a.portSize-1)))
		} else if !held[n] && !used[n] {
			as.explicit[portKey(n)] = path
		}
		p.NodePort = n
		used[n] = true
	}
	if len(errs) > 0 {
		return nil, apierrors.Invalid("Service", svc.GetMetadata().GetName(), errs)
	}
	return as, nil
}

// conflict turns a taken allocation key into a retry (random pick: true) or
// the user's error (explicit request).
func (as *assignment) conflict(svcName, key string) (retry bool, err error) {
	if as.random[key] {
		return true, nil
	}
	if path, ok := as.explicit[key]; ok {
		what := "IP"
		if strings.HasPrefix(key, portKeyPrefix) {
			what = "port"
		}
		val := key[strings.LastIndexByte(key, '/')+1:]
		return false, apierrors.Invalid("Service", svcName, field.ErrorList{
			field.Invalid(path, val, fmt.Sprintf("provided %s is already allocated", what))})
	}
	return false, apierrors.Internal("allocation key %s conflicted unexpectedly", key)
}

// sides turns the difference between the keys new and old hold into side
// operations: create what new adds, delete what it drops.
func sides(newKeys, oldKeys []string, value string) []storage.Side {
	had := map[string]bool{}
	for _, k := range oldKeys {
		had[k] = true
	}
	var out []storage.Side
	for _, k := range newKeys {
		if had[k] {
			delete(had, k)
			continue
		}
		out = append(out, storage.Side{Key: k, Value: []byte(value)})
	}
	for _, k := range oldKeys {
		if had[k] {
			out = append(out, storage.Side{Key: k, Delete: true})
		}
	}
	return out
}

const randomTries = 32

func (a *allocator) pickIP(avoid map[string]bool) (string, error) {
	// Offsets 2..ipCount: offset 1 is reserved.
	if a.ipCount < 2 {
		return "", apierrors.Internal("failed to allocate a serviceIP: range is full")
	}
	for range randomTries {
		ip := a.ipAt(2 + rand.Uint64N(a.ipCount-1)).String()
		if !avoid[ipKey(ip)] {
			return ip, nil
		}
	}
	for i := uint64(2); i <= a.ipCount; i++ {
		if ip := a.ipAt(i).String(); !avoid[ipKey(ip)] {
			return ip, nil
		}
	}
	return "", apierrors.Internal("failed to allocate a serviceIP: range %s is full", a.ipRange)
}

func (a *allocator) pickPort(avoid map[string]bool, used map[int32]bool) (int32, error) {
	free := func(p int32) bool { return !avoid[portKey(p)] && !used[p] }
	for range randomTries {
		if p := int32(a.portBase + rand.IntN(a.portSize)); free(p) {
			return p, nil
		}
	}
	for i := range a.portSize {
		if p := int32(a.portBase + i); free(p) {
			return p, nil
		}
	}
	return 0, apierrors.Internal("failed to allocate a nodePort: range %d-%d is full", a.portBase, a.portBase+a.portSize-1)
}

// taken reads every allocation key in use, for when random picks keep
// colliding (a nearly full range).
func (a *allocator) taken(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	for _, prefix := range []string{ipKeyPrefix, portKeyPrefix} {
		res, err := a.store.List(ctx, prefix, storage.ListOptions{})
		if err != nil {
			return nil, err
		}
		for _, kv := range res.Items {
			out[kv.Key] = true
		}
	}
	return out, nil
}
