// Package hollow runs hollow nodes: kubelets without containers, for scale
// tests of the control plane (keel-kubelet --runtime=fake). Each hollow
// node registers its Node, renews its Lease and reports its status like a
// real kubelet (package nodestatus); the pods bound to it go Running at
// once, with an IP from the node's podCIDR, and a pod being deleted is
// removed from the API at once.
//
// One process runs many: they share one client connection, one pod
// informer (every bound pod, indexed by node name) and one work queue with
// a few workers, so a hollow node costs a goroutine (its heartbeat) and a
// few kilobytes.
package hollow

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/kubelet/nodestatus"
)

// RuntimeVersion is what hollow nodes report as their container runtime.
const RuntimeVersion = "fake://0.1.0"

// fakeRange holds the podCIDRs of hollow nodes that have none: node i gets
// the i-th /24 of 100.64.0.0/10 (16384 of them).
var fakeRange = netip.MustParsePrefix("100.64.0.0/10")

// Config configures the hollow nodes.
type Config struct {
	// Client watches the hollow nodes' pods.
	Client *client.Client
	// ClientFor, if set, is the client of one node's own writes (its
	// Node, Lease and pods), authenticated as that node
	// (system:node:NAME) so that the Node authorizer and NodeRestriction
	// see each hollow node as a kubelet; nil: Client for every node.
	ClientFor func(node string) *client.Client
	// Names are the nodes' names (see Names).
	Names []string
	// CPU, Memory and MaxPods are each node's capacity (32, 256Gi, 110).
	CPU, Memory resource.Quantity
	MaxPods     int
	// Reserved is subtracted from the capacity for allocatable.
	Reserved map[string]resource.Quantity
	// NodeIP is every node's InternalIP.
	NodeIP string
	// Labels are added to every node's.
	Labels map[string]string
	// PodCIDR is the podCIDR of a single hollow node (with more than one,
	// each gets its own /24 of 100.64.0.0/10 unless its Node has one).
	PodCIDR string
	// Port is advertised as the kubelet port.
	Port int32

	UpdateFrequency, ReportFrequency, LeaseDuration time.Duration
	// Workers write pod statuses concurrently (16).
	Workers        int
	KubeletVersion string
	Clock          clock.Clock
	Log            *zap.Logger
}

// Names returns prefix-0 … prefix-(n-1).
func Names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// Hollow runs the hollow nodes of one process.
type Hollow struct {
	cfg     Config
	log     *zap.Logger
	clock   clock.Clock
	nodes   map[string]*node
	pods    *informer.Informer[*corev1.Pod]
	factory *informer.Factory
	queue   workqueue.Interface[string]
	machine nodestatus.Machine
	cap     map[string]resource.Quantity
}

// node is one hollow node.
type node struct {
	name     string
	reporter *nodestatus.Reporter

	mu   sync.Mutex
	cidr netip.Prefix
	ips  map[string]netip.Addr // pod uid → IP
	used map[netip.Addr]bool
}

// New builds the hollow nodes.
func New(cfg Config) (*Hollow, error) {
	if cfg.Client == nil || len(cfg.Names) == 0 {
		return nil, errors.New("hollow: a client and at least one node name are required")
	}
	if cfg.MaxPods <= 0 {
		cfg.MaxPods = 110
	}
	if cfg.CPU.IsZero() {
		cfg.CPU = resource.MustParse("32")
	}
	if cfg.Memory.IsZero() {
		cfg.Memory = resource.MustParse("256Gi")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Log == nil {
		cfg.Log = zap.NewNop()
	}
	if cfg.NodeIP == "" {
		cfg.NodeIP = "127.0.0.1"
	}
	if cfg.Port == 0 {
		cfg.Port = 10250
	}
	h := &Hollow{cfg: cfg, log: cfg.Log, clock: cfg.Clock, nodes: make(map[string]*node, len(cfg.Names))}
	h.machine = nodestatus.Machine{
		MilliCPU: cfg.CPU.MilliValue(), MemoryBytes: cfg.Memory.Value(), EphemeralStorageBytes: 100 << 30,
		KernelVersion: "hollow", OSImage: "Keel hollow node", OperatingSystem: "linux", Architecture: "amd64",
	}
	h.cap = map[string]resource.Quantity{
		"cpu":               cfg.CPU,
		"memory":            cfg.Memory,
		"pods":              *resource.NewQuantity(int64(cfg.MaxPods), resource.DecimalSI),
		"ephemeral-storage": *resource.NewQuantity(h.machine.EphemeralStorageBytes, resource.BinarySI),
	}
	var single netip.Prefix
	if cfg.PodCIDR != "" {
		p, err := netip.ParsePrefix(cfg.PodCIDR)
		if err != nil {
			return nil, fmt.Errorf("hollow: --pod-cidr %q: %w", cfg.PodCIDR, err)
		}
		single = p.Masked()
	}
	for i, name := range cfg.Names {
		if _, dup := h.nodes[name]; dup {
			return nil, fmt.Errorf("hollow: node %q twice", name)
		}
		n := &node{name: name, ips: map[string]netip.Addr{}, used: map[netip.Addr]bool{}}
		if len(cfg.Names) == 1 && single.IsValid() {
			n.cidr = single
		} else {
			n.cidr = FakePodCIDR(i)
		}
		labels := map[string]string{api.LabelHostname: name, api.LabelOS: "linux", api.LabelArch: "amd64"}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		n.reporter = &nodestatus.Reporter{
			Client:          h.clientFor(name),
			Node:            name,
			Labels:          labels,
			PodCIDR:         n.cidr.String(),
			Status:          h.statusFunc(name),
			UpdateFrequency: cfg.UpdateFrequency,
			ReportFrequency: cfg.ReportFrequency,
			LeaseDuration:   cfg.LeaseDuration,
			Clock:           cfg.Clock,
			Log:             cfg.Log,
			OnRegistered:    h.registered(n),
		}
		h.nodes[name] = n
	}
	h.factory = informer.NewFactory(cfg.Client, 0, informer.WithLogger(cfg.Log))
	scope := informer.Scope{FieldSelector: "spec.nodeName!="}
	if len(cfg.Names) == 1 {
		scope.FieldSelector = "spec.nodeName=" + cfg.Names[0]
	}
	h.pods = informer.ForScope[*corev1.Pod](h.factory, scope)
	h.queue = workqueue.New[string]("hollow-pods")
	return h, nil
}

// clientFor is the client of node's own writes (see Config.ClientFor).
func (h *Hollow) clientFor(node string) *client.Client {
	if h.cfg.ClientFor != nil {
		return h.cfg.ClientFor(node)
	}
	return h.cfg.Client
}

// FakePodCIDR is the podCIDR of the i-th hollow node that has none.
func FakePodCIDR(i int) netip.Prefix {
	base := fakeRange.Addr().As4()
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += uint32(i%16384) << 8
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)
}

func (h *Hollow) statusFunc(name string) func(*corev1.NodeStatus) *corev1.NodeStatus {
	return func(prev *corev1.NodeStatus) *corev1.NodeStatus {
		return nodestatus.Compute(nodestatus.Input{
			Capacity:       h.cap,
			Reserved:       h.cfg.Reserved,
			InternalIP:     h.cfg.NodeIP,
			Hostname:       name,
			Port:           h.cfg.Port,
			Machine:        h.machine,
			RuntimeVersion: RuntimeVersion,
			KubeletVersion: h.cfg.KubeletVersion,
			RuntimeReady:   true,
			Previous:       prev,
			Now:            h.clock.Now(),
		})
	}
}

// registered adopts the podCIDR of the Node if it already had one.
func (h *Hollow) registered(n *node) func(*corev1.Node) {
	return func(obj *corev1.Node) {
		if c := obj.GetSpec().GetPodCidr(); c != "" {
			if p, err := netip.ParsePrefix(c); err == nil {
				n.mu.Lock()
				if len(n.ips) == 0 {
					n.cidr = p.Masked()
				}
				n.mu.Unlock()
			}
		}
	}
}

// Ready tells whether every node is registered and the pods are listed.
func (h *Hollow) Ready() error {
	if !h.pods.HasSynced() {
		return errors.New("pods not listed yet")
	}
	missing := 0
	for _, n := range h.nodes {
		if n.reporter.Registered() == nil {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("%d of %d hollow nodes not registered yet", missing, len(h.nodes))
	}
	return nil
}

// Run runs the nodes until ctx ends.
func (h *Hollow) Run(ctx context.Context) error {
	h.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc:    h.enqueue,
		UpdateFunc: func(_, p *corev1.Pod) { h.enqueue(p) },
		DeleteFunc: h.release,
	})
	h.factory.Start(ctx)
	defer h.factory.Shutdown()
	var wg sync.WaitGroup
	for _, n := range h.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.reporter.Run(ctx)
		}()
	}
	h.log.Info("hollow nodes running", zap.Int("nodes", len(h.nodes)))
	workqueue.Run(ctx, h.queue, h.cfg.Workers, h.sync)
	wg.Wait()
	return nil
}

func (h *Hollow) enqueue(p *corev1.Pod) {
	if _, ok := h.nodes[p.GetSpec().GetNodeName()]; ok {
		h.queue.Add(informer.KeyOf(p))
	}
}

// release frees the IP of a deleted pod.
func (h *Hollow) release(p *corev1.Pod) {
	n := h.nodes[p.GetSpec().GetNodeName()]
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	uid := p.GetMetadata().GetUid()
	if ip, ok := n.ips[uid]; ok {
		delete(n.used, ip)
		delete(n.ips, uid)
	}
}

// allocate returns the pod's IP, keeping the one it has when it is free.
func (n *node) allocate(uid, have string) (netip.Addr, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ip, ok := n.ips[uid]; ok {
		return ip, true
	}
	if a, err := netip.ParseAddr(have); err == nil && n.cidr.Contains(a) && !n.used[a] {
		n.ips[uid], n.used[a] = a, true
		return a, true
	}
	// The network and gateway addresses are skipped, as host-local does.
	a := n.cidr.Addr().Next().Next()
	for n.cidr.Contains(a) {
		if !n.used[a] && !isBroadcast(n.cidr, a) {
			n.ips[uid], n.used[a] = a, true
			return a, true
		}
		a = a.Next()
	}
	return netip.Addr{}, false
}

func isBroadcast(p netip.Prefix, a netip.Addr) bool {
	return a.Is4() && !p.Contains(a.Next())
}

func (h *Hollow) sync(ctx context.Context, key string) error {
	ns, name, _ := strings.Cut(key, "/")
	pod, ok := h.pods.Store().GetByName(ns, name)
	if !ok {
		return nil
	}
	n := h.nodes[pod.GetSpec().GetNodeName()]
	if n == nil {
		return nil
	}
	uid := pod.GetMetadata().GetUid()
	pods := h.clientFor(n.name).Pods(ns)
	if pod.GetMetadata().GetDeletionTimestamp() != nil {
		zero := int64(0)
		_, _, err := pods.Delete(ctx, name, client.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &client.Preconditions{UID: uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return err
		}
		h.release(pod)
		return nil
	}
	if api.IsPodTerminal(pod) {
		return nil
	}
	ip := h.cfg.NodeIP
	if !pod.GetSpec().GetHostNetwork() {
		a, ok := n.allocate(uid, pod.GetStatus().GetPodIp())
		if !ok {
			h.log.Warn("hollow node out of pod IPs", zap.String("node", n.name), zap.String("pod", key))
			return nil
		}
		ip = a.String()
	}
	st := PodStatus(pod, ip, h.cfg.NodeIP, h.clock.Now())
	if proto.Equal(st, pod.GetStatus()) {
		return nil
	}
	next := proto.Clone(pod).(*corev1.Pod)
	next.Status = st
	_, err := pods.UpdateStatus(ctx, next, client.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // a newer version (or its deletion) is on its way
	}
	return err
}
