package framework

import (
	"sort"
	"strconv"
	"strings"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// Histogram formats reason counts as "3 Insufficient cpu, 2 node(s) had
// untolerated taint {dedicated: gpu}": most frequent first, then
// alphabetically.
func Histogram(counts map[string]int) string {
	reasons := make([]string, 0, len(counts))
	for r := range counts {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if counts[reasons[i]] != counts[reasons[j]] {
			return counts[reasons[i]] > counts[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = strconv.Itoa(counts[r]) + " " + r
	}
	return strings.Join(parts, ", ")
}

// StaticSnapshot is a Snapshot built once from nodes and pods, for tests
// and tools. The scheduler itself uses its cache.
type StaticSnapshot struct {
	nodes    []*NodeInfo
	byName   map[string]*NodeInfo
	nsLabels map[string]map[string]string
	affinity []*NodeInfo
	antiAff  []*NodeInfo
	groups   *GroupIndex
}

var _ Snapshot = (*StaticSnapshot)(nil)

// NewStaticSnapshot puts each pod on the node its spec.nodeName names
// (pods on unknown nodes are dropped).
func NewStaticSnapshot(nodes []*corev1.Node, pods []*corev1.Pod) *StaticSnapshot {
	s := &StaticSnapshot{byName: map[string]*NodeInfo{}, nsLabels: map[string]map[string]string{}, groups: NewGroupIndex()}
	for _, n := range nodes {
		ni := NewNodeInfo(n)
		s.nodes = append(s.nodes, ni)
		s.byName[ni.Name] = ni
	}
	for _, p := range pods {
		s.add(p)
	}
	s.index()
	return s
}

func (s *StaticSnapshot) add(p *corev1.Pod) {
	if ni := s.byName[p.GetSpec().GetNodeName()]; ni != nil {
		pi := NewPodInfo(p)
		ni.AddPod(pi)
		s.groups.Add(pi, ni.Name)
	}
}

// SetNamespaceLabels sets a namespace's labels.
func (s *StaticSnapshot) SetNamespaceLabels(ns string, l map[string]string) { s.nsLabels[ns] = l }

// AddPod adds a pod to its node (for tests building state step by step).
func (s *StaticSnapshot) AddPod(p *corev1.Pod) {
	s.add(p)
	s.index()
}

func (s *StaticSnapshot) index() {
	s.affinity, s.antiAff = nil, nil
	for _, ni := range s.nodes {
		if len(ni.PodsWithAffinity) > 0 {
			s.affinity = append(s.affinity, ni)
		}
		if len(ni.PodsWithRequiredAntiAffinity) > 0 {
			s.antiAff = append(s.antiAff, ni)
		}
	}
}

func (s *StaticSnapshot) NodeInfos() []*NodeInfo                        { return s.nodes }
func (s *StaticSnapshot) Get(name string) *NodeInfo                     { return s.byName[name] }
func (s *StaticSnapshot) HavePodsWithAffinity() []*NodeInfo             { return s.affinity }
func (s *StaticSnapshot) HavePodsWithRequiredAntiAffinity() []*NodeInfo { return s.antiAff }
func (s *StaticSnapshot) NamespaceLabels(ns string) map[string]string   { return s.nsLabels[ns] }
func (s *StaticSnapshot) Groups() *GroupIndex                           { return s.groups }
