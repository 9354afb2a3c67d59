package apiserver

// The metrics.k8s.io API (NodeMetrics, PodMetrics: what `kubectl top`
// reads), computed on each request as metrics-server would serve it: the
// apiserver asks the kubelets of the nodes concerned for their stats
// (keel.kubelet.v1 Stats, over the same TLS connection as logs and exec),
// concurrently and each within kubeletStatsTimeout, and turns them into
// metrics (pkg/registry/metrics/...), the whole request within
// metricsTimeout. A node whose kubelet does not answer, or has not sampled
// twice yet, is left out, and so are its pods.

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	"keel.dev/keel/pkg/registry/metrics/nodemetrics"
	"keel.dev/keel/pkg/registry/metrics/podmetrics"
	"keel.dev/keel/pkg/scheme"
)

const (
	// kubeletStatsTimeout bounds one kubelet's Stats call, connection
	// included.
	kubeletStatsTimeout = 5 * time.Second
	// kubeletStatsParallel bounds the kubelets asked at once.
	kubeletStatsParallel = 32
	// metricsTimeout bounds the whole fan-out of one request: the
	// kubelets not asked or not answered by then are left out.
	metricsTimeout = 2 * kubeletStatsTimeout
)

// registerMetrics installs the answers to the metrics.k8s.io kinds.
// Called from New.
func (s *Server) registerMetrics() {
	s.handleRead(nodemetrics.Strategy.Info().QualifiedResource(), s.nodeMetrics)
	s.handleRead(podmetrics.Strategy.Info().QualifiedResource(), s.podMetrics)
}

// nodeMetrics answers NodeMetrics: of the node named, or of the nodes
// the label selector selects.
func (s *Server) nodeMetrics(ctx context.Context, call ReadCall) ([]proto.Message, error) {
	nodes, err := s.cachedSelection(s.resources["nodes"], "", call.Name, call)
	if err != nil {
		return nil, err
	}
	byNode := s.kubeletStats(ctx, asNodes(nodes))
	now := s.now().AsTime()
	var out []proto.Message
	for _, m := range nodes {
		n := m.(*corev1.Node)
		sum := byNode[n.GetMetadata().GetName()]
		if sum == nil {
			continue
		}
		if nm, ok := nodemetrics.FromStats(n, sum.GetNode(), now); ok {
			out = append(out, nm)
		}
	}
	return out, nil
}

// podMetrics answers PodMetrics: of the pod named, or of the pods (in the
// namespace, or all) the label selector selects. Only running pods bound
// to a node have metrics.
func (s *Server) podMetrics(ctx context.Context, call ReadCall) ([]proto.Message, error) {
	pods, err := s.cachedSelection(s.resources["pods"], call.Namespace, call.Name, call)
	if err != nil {
		return nil, err
	}
	var running []*corev1.Pod
	wanted := map[string]bool{}
	for _, m := range pods {
		p := m.(*corev1.Pod)
		if p.GetSpec().GetNodeName() == "" || p.GetStatus().GetPhase() != api.PodRunning {
			continue
		}
		running = append(running, p)
		wanted[p.GetSpec().GetNodeName()] = true
	}
	var nodes []*corev1.Node
	for name := range wanted {
		m, err := s.resources["nodes"].cachedGet("", name)
		if err != nil {
			return nil, err
		}
		if m != nil {
			nodes = append(nodes, m.(*corev1.Node))
		}
	}
	byNode := s.kubeletStats(ctx, nodes)
	now := s.now().AsTime()
	var out []proto.Message
	for _, p := range running {
		sum := byNode[p.GetSpec().GetNodeName()]
		ps := findPodStats(sum, p)
		if ps == nil {
			continue
		}
		if pm, ok := podmetrics.FromStats(p, ps, now); ok {
			out = append(out, pm)
		}
	}
	return out, nil
}

// findPodStats is pod's entry in a summary (the same namespace and name,
// and the same UID when the kubelet knows it), nil if none.
func findPodStats(sum *kubeletv1.StatsSummary, pod *corev1.Pod) *kubeletv1.PodStats {
	md := pod.GetMetadata()
	for _, ps := range sum.GetPods() {
		if ps.GetNamespace() == md.GetNamespace() && ps.GetName() == md.GetName() && (ps.GetUid() == "" || ps.GetUid() == md.GetUid()) {
			return ps
		}
	}
	return nil
}

// cachedSelection reads from r's watch cache the object named (none if
// absent), or those in ns the call's label selector selects.
func (s *Server) cachedSelection(r *resource, ns, name string, call ReadCall) ([]proto.Message, error) {
	if name != "" {
		m, err := r.cachedGet(ns, name)
		if err != nil || m == nil {
			return nil, err
		}
		if call.Label != nil && !call.Label.Matches(labels.Set(scheme.Meta(m).GetLabels())) {
			return nil, nil
		}
		return []proto.Message{m}, nil
	}
	return r.cachedList(ns, call.Label)
}

func asNodes(ms []proto.Message) []*corev1.Node {
	out := make([]*corev1.Node, len(ms))
	for i, m := range ms {
		out[i] = m.(*corev1.Node)
	}
	return out
}

// kubeletStats asks the kubelets of nodes for their stats, at most
// kubeletStatsParallel at once, each within kubeletStatsTimeout and all
// within metricsTimeout, and returns the answers by node name; a node
// that did not answer is absent.
func (s *Server) kubeletStats(ctx context.Context, nodes []*corev1.Node) map[string]*kubeletv1.StatsSummary {
	ctx, cancel := context.WithTimeout(ctx, metricsTimeout)
	defer cancel()
	out := make(map[string]*kubeletv1.StatsSummary, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, kubeletStatsParallel)
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			sum, err := s.statsOf(ctx, n)
			if err != nil {
				s.log.Debug("metrics: no stats from a kubelet", zap.String("node", n.GetMetadata().GetName()), zap.Error(err))
				return
			}
			mu.Lock()
			out[n.GetMetadata().GetName()] = sum
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// statsOf asks node's kubelet for its stats.
func (s *Server) statsOf(ctx context.Context, node *corev1.Node) (*kubeletv1.StatsSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, kubeletStatsTimeout)
	defer cancel()
	conn, addr, err := s.dialKubelet(node)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sum, err := kubeletv1.NewKubeletClient(conn).Stats(ctx, &kubeletv1.StatsRequest{})
	if err != nil {
		return nil, kubeletErr(err, node, addr)
	}
	return sum, nil
}
