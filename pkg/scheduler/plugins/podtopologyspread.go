package plugins

import (
	"context"
	"math"

	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/taints"
)

// PodTopologySpread enforces a pod's topology spread constraints:
// whenUnsatisfiable DoNotSchedule rejects a node when placing the pod
// there would make (pods matching the constraint's selector in the
// node's domain) - (the fewest in any domain) exceed maxSkew;
// ScheduleAnyway constraints only score, preferring domains with fewer
// matching pods.
//
// Domains are the values of topologyKey on the nodes that count: nodes
// with every constraint's key and, unless nodeAffinityPolicy is Ignore,
// matching the pod's node selector and required node affinity (and with
// nodeTaintsPolicy Honor, whose taints the pod tolerates). When fewer
// domains than minDomains exist, the fewest counts as 0.
type PodTopologySpread struct {
	h framework.Handle
}

var (
	_ framework.PreFilterPlugin   = (*PodTopologySpread)(nil)
	_ framework.FilterPlugin      = (*PodTopologySpread)(nil)
	_ framework.PreScorePlugin    = (*PodTopologySpread)(nil)
	_ framework.ScorePlugin       = (*PodTopologySpread)(nil)
	_ framework.EnqueueExtensions = (*PodTopologySpread)(nil)
)

// Reasons of PodTopologySpread.
var (
	statusSpreadMissingLabel = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match pod topology spread constraints (missing required label)")
	statusSpreadSkew         = framework.NewStatus(framework.Unschedulable, "node(s) didn't match pod topology spread constraints")
)

// NewPodTopologySpread is PodTopologySpread's factory.
func NewPodTopologySpread(args []byte, h framework.Handle) (framework.Plugin, error) {
	if err := decodeArgs(args, &struct{}{}); err != nil {
		return nil, err
	}
	return &PodTopologySpread{h: h}, nil
}

func (*PodTopologySpread) Name() string { return PodTopologySpreadName }

const ptsPreFilterKey framework.StateKey = "PreFilter" + PodTopologySpreadName

type ptsState struct {
	constraints []framework.SpreadConstraint
	// counts[i] maps each domain of constraint i to its matching pods.
	counts []map[string]int64
	mins   []int64
}

func (s *ptsState) Clone() framework.StateData {
	c := &ptsState{constraints: s.constraints, mins: append([]int64(nil), s.mins...)}
	for _, m := range s.counts {
		cm := make(map[string]int64, len(m))
		for k, v := range m {
			cm[k] = v
		}
		c.counts = append(c.counts, cm)
	}
	return c
}

func (s *ptsState) updateMin(i int) {
	c := s.constraints[i]
	if int32(len(s.counts[i])) < c.MinDomains {
		s.mins[i] = 0
		return
	}
	s.mins[i] = math.MaxInt64
	for _, v := range s.counts[i] {
		s.mins[i] = min(s.mins[i], v)
	}
	if s.mins[i] == math.MaxInt64 {
		s.mins[i] = 0
	}
}

// nodeCounts reports whether ni counts for the constraints of pod.
func nodeCounts(pod *framework.PodInfo, cs []framework.SpreadConstraint, ni *framework.NodeInfo) bool {
	if ni.Node == nil {
		return false
	}
	for _, c := range cs {
		if _, ok := ni.Labels[c.TopologyKey]; !ok {
			return false
		}
		if c.HonorNodeAffinity && !pod.NodeSelector.Matches(ni.Name, ni.Labels) {
			return false
		}
		if c.HonorTaints && taints.FirstUntoleratedTaint(ni.Taints, pod.Tolerations, api.TaintEffectNoSchedule, api.TaintEffectNoExecute) != nil {
			return false
		}
	}
	return true
}

// countMatching counts the pods on ni in pod's namespace, not being
// deleted, that sel selects.
func countMatching(pods []*framework.PodInfo, ns string, sel labels.Selector) int64 {
	var n int64
	for _, p := range pods {
		if p.Namespace == ns && !p.Terminating && sel.Matches(labels.Set(p.Labels)) {
			n++
		}
	}
	return n
}

func split(cs []framework.SpreadConstraint, hard bool) []framework.SpreadConstraint {
	var out []framework.SpreadConstraint
	for _, c := range cs {
		if c.Hard == hard {
			out = append(out, c)
		}
	}
	return out
}

func (p *PodTopologySpread) PreFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo) *framework.Status {
	hard := split(pod.SpreadConstraints, true)
	if len(hard) == 0 {
		return skip
	}
	s := &ptsState{constraints: hard, counts: make([]map[string]int64, len(hard)), mins: make([]int64, len(hard))}
	for i := range hard {
		s.counts[i] = map[string]int64{}
	}
	for _, ni := range p.h.Snapshot().NodeInfos() {
		if !nodeCounts(pod, hard, ni) {
			continue
		}
		for i, c := range hard {
			s.counts[i][ni.Labels[c.TopologyKey]] += countMatching(ni.Pods, pod.Namespace, c.Selector)
		}
	}
	for i := range hard {
		s.updateMin(i)
	}
	state.Write(ptsPreFilterKey, s)
	return nil
}

func (p *PodTopologySpread) PreFilterExtensions() framework.PreFilterExtensions { return p }

func (p *PodTopologySpread) update(state *framework.CycleState, pod, other *framework.PodInfo, ni *framework.NodeInfo, delta int64) *framework.Status {
	d, err := state.Read(ptsPreFilterKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	s := d.(*ptsState)
	if other.Namespace != pod.Namespace || other.Terminating || !nodeCounts(pod, s.constraints, ni) {
		return nil
	}
	for i, c := range s.constraints {
		if c.Selector.Matches(labels.Set(other.Labels)) {
			s.counts[i][ni.Labels[c.TopologyKey]] += delta
			s.updateMin(i)
		}
	}
	return nil
}

func (p *PodTopologySpread) AddPod(_ context.Context, state *framework.CycleState, pod, add *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	return p.update(state, pod, add, ni, 1)
}

func (p *PodTopologySpread) RemovePod(_ context.Context, state *framework.CycleState, pod, remove *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	return p.update(state, pod, remove, ni, -1)
}

func (p *PodTopologySpread) Filter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	d, err := state.Read(ptsPreFilterKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	s := d.(*ptsState)
	for i, c := range s.constraints {
		v, ok := ni.Labels[c.TopologyKey]
		if !ok {
			return statusSpreadMissingLabel
		}
		var self int64
		if c.Selector.Matches(labels.Set(pod.Labels)) {
			self = 1
		}
		if s.counts[i][v]+self-s.mins[i] > int64(c.MaxSkew) {
			return statusSpreadSkew
		}
	}
	return nil
}

const ptsPreScoreKey framework.StateKey = "PreScore" + PodTopologySpreadName

type ptsScoreState struct {
	constraints []framework.SpreadConstraint
	counts      []map[string]int64
	weights     []float64
}

func (s *ptsScoreState) Clone() framework.StateData { return s }

func (p *PodTopologySpread) PreScore(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	soft := split(pod.SpreadConstraints, false)
	if len(soft) == 0 {
		return skip
	}
	s := &ptsScoreState{constraints: soft, counts: make([]map[string]int64, len(soft)), weights: make([]float64, len(soft))}
	for i := range soft {
		s.counts[i] = map[string]int64{}
	}
	for _, ni := range p.h.Snapshot().NodeInfos() {
		if !nodeCounts(pod, soft, ni) {
			continue
		}
		for i, c := range soft {
			s.counts[i][ni.Labels[c.TopologyKey]] += countMatching(ni.Pods, pod.Namespace, c.Selector)
		}
	}
	// Constraints over more domains weigh more (as Kubernetes: log(n+2)).
	for i := range soft {
		s.weights[i] = math.Log(float64(len(s.counts[i]) + 2))
	}
	state.Write(ptsPreScoreKey, s)
	return nil
}

// Score is the weighted count of matching pods in the node's domains
// (lower is better; -1 for a node missing a key, which NormalizeScore
// gives 0).
func (p *PodTopologySpread) Score(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	d, err := state.Read(ptsPreScoreKey)
	if err != nil {
		return 0, framework.AsStatus(err)
	}
	s := d.(*ptsScoreState)
	var f float64
	for i, c := range s.constraints {
		v, ok := ni.Labels[c.TopologyKey]
		if !ok {
			return -1, nil
		}
		f += float64(s.counts[i][v])*s.weights[i] + float64(c.MaxSkew-1)
	}
	return int64(math.Round(f)), nil
}

func (p *PodTopologySpread) ScoreExtensions() framework.ScoreExtensions { return p }

// NormalizeScore reverses the scores onto [0, MaxNodeScore]: the least
// crowded domain scores highest.
func (p *PodTopologySpread) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []framework.NodeScore) *framework.Status {
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, s := range scores {
		if s.Score < 0 {
			continue
		}
		lo, hi = min(lo, s.Score), max(hi, s.Score)
	}
	for i := range scores {
		switch {
		case scores[i].Score < 0:
			scores[i].Score = 0
		case hi == 0:
			scores[i].Score = framework.MaxNodeScore
		default:
			scores[i].Score = framework.MaxNodeScore * (hi + lo - scores[i].Score) / hi
		}
	}
	return nil
}

func (*PodTopologySpread) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPodEvent, Action: framework.Add | framework.UpdatePodLabel | framework.Delete},
		{Resource: framework.NodeEvent, Action: framework.Add | framework.Delete | framework.UpdateNodeLabel | framework.UpdateNodeTaint},
	}
}

// DefaultSpread spreads the pods of one controller (a ReplicaSet, a Job…:
// the owner reference with controller: true) across nodes, and across
// zones when nodes carry topology.kubernetes.io/zone: nodes (and zones)
// with fewer of the controller's pods score higher. It applies to pods
// without topologySpreadConstraints of their own.
type DefaultSpread struct {
	h framework.Handle
}

var (
	_ framework.PreScorePlugin = (*DefaultSpread)(nil)
	_ framework.ScorePlugin    = (*DefaultSpread)(nil)
)

// NewDefaultSpread is DefaultSpread's factory.
func NewDefaultSpread(args []byte, h framework.Handle) (framework.Plugin, error) {
	if err := decodeArgs(args, &struct{}{}); err != nil {
		return nil, err
	}
	return &DefaultSpread{h: h}, nil
}

func (*DefaultSpread) Name() string { return DefaultSpreadName }

const dsPreScoreKey framework.StateKey = "PreScore" + DefaultSpreadName

type dsState struct {
	zones map[string]int64 // zone -> the controller's pods; nil without zones
}

func (s *dsState) Clone() framework.StateData { return s }

func (p *DefaultSpread) PreScore(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	if pod.ControllerUID == "" || len(pod.SpreadConstraints) > 0 {
		return skip
	}
	s := &dsState{}
	for _, ni := range p.h.Snapshot().NodeInfos() {
		z, ok := ni.Labels[api.LabelTopologyZone]
		if !ok {
			continue
		}
		if s.zones == nil {
			s.zones = map[string]int64{}
		}
		s.zones[z] += int64(ni.ControllerCount(pod.ControllerUID))
	}
	state.Write(dsPreScoreKey, s)
	return nil
}

func (p *DefaultSpread) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	return int64(ni.ControllerCount(pod.ControllerUID)), nil
}

func (p *DefaultSpread) ScoreExtensions() framework.ScoreExtensions { return p }

// NormalizeScore: fewer of the controller's pods on the node scores
// higher; with zones, the zone's share weighs two thirds.
func (p *DefaultSpread) NormalizeScore(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, scores []framework.NodeScore) *framework.Status {
	d, err := state.Read(dsPreScoreKey)
	if err != nil {
		return framework.AsStatus(err)
	}
	zones := d.(*dsState).zones
	var maxNode, maxZone int64
	for _, s := range scores {
		maxNode = max(maxNode, s.Score)
	}
	for _, c := range zones {
		maxZone = max(maxZone, c)
	}
	snap := p.h.Snapshot()
	for i := range scores {
		f := float64(framework.MaxNodeScore)
		if maxNode > 0 {
			f = float64(framework.MaxNodeScore) * float64(maxNode-scores[i].Score) / float64(maxNode)
		}
		if zones != nil {
			if ni := snap.Get(scores[i].Name); ni != nil {
				if z, ok := ni.Labels[api.LabelTopologyZone]; ok {
					zs := float64(framework.MaxNodeScore)
					if maxZone > 0 {
						zs = float64(framework.MaxNodeScore) * float64(maxZone-zones[z]) / float64(maxZone)
					}
					f = f/3 + zs*2/3
				}
			}
		}
		scores[i].Score = int64(f)
	}
	return nil
}
