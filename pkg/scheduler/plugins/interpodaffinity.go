package plugins

import (
	"context"
	"fmt"

	"keel.dev/keel/pkg/scheduler/framework"
)

// InterPodAffinity enforces required pod affinity and anti-affinity, both
// the incoming pod's and that of the pods already placed (a pod whose
// anti-affinity term selects the incoming pod keeps it out of its
// topology domain), and scores nodes by preferred terms (both ways) and by
// placed pods' required affinity terms that select the incoming pod
// (weighted by hardPodAffinityWeight).
//
// A topology domain is a (topologyKey, node label value) pair: the node
// itself for kubernetes.io/hostname, its zone for
// topology.kubernetes.io/zone, and so on. Nodes without the key are in no
// domain.
type InterPodAffinity struct {
	h          framework.Handle
	hardWeight int64
}

// InterPodAffinityArgs are InterPodAffinity's arguments.
type InterPodAffinityArgs struct {
	// HardPodAffinityWeight is the score weight of placed pods' required
	// affinity terms that select the incoming pod (default 1, 0..100).
	HardPodAffinityWeight *int64 `json:"hardPodAffinityWeight,omitempty"`
}

var (
	_ framework.PreFilterPlugin   = (*InterPodAffinity)(nil)
	_ framework.FilterPlugin      = (*InterPodAffinity)(nil)
	_ framework.PreScorePlugin    = (*InterPodAffinity)(nil)
	_ framework.ScorePlugin       = (*InterPodAffinity)(nil)
	_ framework.EnqueueExtensions = (*InterPodAffinity)(nil)
)

// Reasons of InterPodAffinity.
var (
	statusAffinityMismatch     = framework.NewStatus(framework.UnschedulableAndUnresolvable, "node(s) didn't match pod affinity rules")
	statusAntiAffinityMismatch = framework.NewStatus(framework.Unschedulable, "node(s) didn't match pod anti-affinity rules")
	statusExistingAntiAffinity = framework.NewStatus(framework.Unschedulable, "node(s) didn't satisfy existing pods anti-affinity rules")
)

// NewInterPodAffinity is InterPodAffinity's factory.
func NewInterPodAffinity(args []byte, h framework.Handle) (framework.Plugin, error) {
	var a InterPodAffinityArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, err
	}
	p := &InterPodAffinity{h: h, hardWeight: 1}
	if a.HardPodAffinityWeight != nil {
		if *a.HardPodAffinityWeight < 0 || *a.HardPodAffinityWeight > 100 {
			return nil, fmt.Errorf("hardPodAffinityWeight %d is not between 0 and 100", *a.HardPodAffinityWeight)
		}
		p.hardWeight = *a.HardPodAffinityWeight
	}
	return p, nil
}

func (*InterPodAffinity) Name() string { return InterPodAffinityName }

type topologyPair struct{ key, value string }

type pairCounts map[topologyPair]int64

func (c pairCounts) add(key string, ni *framework.NodeInfo, delta int64) {
	v, ok := ni.Labels[key]
	if !ok {
		return
	}
	p := topologyPair{key, v}
	if c[p] += delta; c[p] <= 0 {
		delete(c, p)
	}
}

func (c pairCounts) clone() pairCounts {
	out := make(pairCounts, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

const ipaPreFilterKey framework.StateKey = "PreFilter" + InterPodAffinityName

type ipaState struct {
	// existingAnti counts, per domain, the placed pods' required
	// anti-affinity terms that select the incoming pod; existingAntiKeys
	// are their topology keys.
	existingAnti     pairCounts
	existingAntiKeys map[string]int64
	// affinity counts, per domain of each incoming required affinity term,
	// placed pods matching all those terms; anti the placed pods matching
	// each incoming anti-affinity term.
	affinity, anti pairCounts
	nsLabels       framework.NamespaceLabels
}

func (s *ipaState) Clone() framework.StateData {
	c := &ipaState{existingAnti: s.existingAnti.clone(), existingAntiKeys: map[string]int64{}, affinity: s.affinity.clone(), anti: s.anti.clone(), nsLabels: s.nsLabels}
	for k, v := range s.existingAntiKeys {
		c.existingAntiKeys[k] = v
	}
	return c
}

func matchesAll(terms []framework.AffinityTerm, pod *framework.PodInfo, ns framework.NamespaceLabels) bool {
	for i := range terms {
		if !terms[i].Matches(pod, ns) {
			return false
		}
	}
	return len(terms) > 0
}

// existing accounts placed pod ep on ni: its anti-affinity terms that
// select the incoming pod.
func (s *ipaState) existing(ep, incoming *framework.PodInfo, ni *framework.NodeInfo, delta int64) {
	for i := range ep.RequiredAntiAffinityTerms {
		t := &ep.RequiredAntiAffinityTerms[i]
		if !t.Matches(incoming, s.nsLabels) {
			continue
		}
		if _, ok := ni.Labels[t.TopologyKey]; !ok {
			continue
		}
		s.existingAnti.add(t.TopologyKey, ni, delta)
		if s.existingAntiKeys[t.TopologyKey] += delta; s.existingAntiKeys[t.TopologyKey] <= 0 {
			delete(s.existingAntiKeys, t.TopologyKey)
		}
	}
}

// incoming accounts placed pod ep on ni against the incoming pod's terms.
func (s *ipaState) incoming(ep, incoming *framework.PodInfo, ni *framework.NodeInfo, delta int64) {
	if matchesAll(incoming.RequiredAffinityTerms, ep, s.nsLabels) {
		for i := range incoming.RequiredAffinityTerms {
			s.affinity.add(incoming.RequiredAffinityTerms[i].TopologyKey, ni, delta)
		}
	}
	for i := range incoming.RequiredAntiAffinityTerms {
		t := &incoming.RequiredAntiAffinityTerms[i]
		if t.Matches(ep, s.nsLabels) {
			s.anti.add(t.TopologyKey, ni, delta)
		}
	}
}

func (p *InterPodAffinity) PreFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo) *framework.Status {
	snap := p.h.Snapshot()
	g := snap.Groups()
	hasTerms := len(pod.RequiredAffinityTerms)+len(pod.RequiredAntiAffinityTerms) > 0
	if !hasTerms && g.KindCount[framework.RequiredAntiAffinity] == 0 {
		return skip
	}
	ns := snap.NamespaceLabels
	s := &ipaState{existingAnti: pairCounts{}, existingAntiKeys: map[string]int64{}, affinity: pairCounts{}, anti: pairCounts{}, nsLabels: ns}
	// Placed pods' required anti-affinity terms that select this pod, one
	// check per distinct term.
	if g.KindCount[framework.RequiredAntiAffinity] > 0 {
		for _, tg := range g.Terms {
			if tg.Kind != framework.RequiredAntiAffinity || !tg.Term.Matches(pod, ns) {
				continue
			}
			key := tg.Term.TopologyKey
			for node, c := range tg.Nodes {
				ni := snap.Get(node)
				if ni == nil || ni.Node == nil {
					continue
				}
				if _, ok := ni.Labels[key]; ok {
					s.existingAnti.add(key, ni, int64(c))
					s.existingAntiKeys[key] += int64(c)
				}
			}
		}
	}
	// This pod's terms against the placed pods, one check per distinct
	// namespace and label set.
	if hasTerms {
		var anti []int
		for _, pg := range g.Pods {
			aff := len(pod.RequiredAffinityTerms) > 0
			for i := range pod.RequiredAffinityTerms {
				if !pod.RequiredAffinityTerms[i].MatchesLabels(pg.Namespace, pg.Labels, ns) {
					aff = false
					break
				}
			}
			anti = anti[:0]
			for i := range pod.RequiredAntiAffinityTerms {
				if pod.RequiredAntiAffinityTerms[i].MatchesLabels(pg.Namespace, pg.Labels, ns) {
					anti = append(anti, i)
				}
			}
			if !aff && len(anti) == 0 {
				continue
			}
			for node, c := range pg.Nodes {
				ni := snap.Get(node)
				if ni == nil || ni.Node == nil {
					continue
				}
				if aff {
					for i := range pod.RequiredAffinityTerms {
						s.affinity.add(pod.RequiredAffinityTerms[i].TopologyKey, ni, int64(c))
					}
				}
				for _, i := range anti {
					s.anti.add(pod.RequiredAntiAffinityTerms[i].TopologyKey, ni, int64(c))
				}
			}
		}
	}
	state.Write(ipaPreFilterKey, s)
	return nil
}

func (p *InterPodAffinity) PreFilterExtensions() framework.PreFilterExtensions { return p }

func (p *InterPodAffinity) AddPod(_ context.Context, state *framework.CycleState, pod, add *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	s, err := readIPA(state)
	if err != nil {
		return framework.AsStatus(err)
	}
	s.existing(add, pod, ni, 1)
	s.incoming(add, pod, ni, 1)
	return nil
}

func (p *InterPodAffinity) RemovePod(_ context.Context, state *framework.CycleState, pod, remove *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	s, err := readIPA(state)
	if err != nil {
		return framework.AsStatus(err)
	}
	s.existing(remove, pod, ni, -1)
	s.incoming(remove, pod, ni, -1)
	return nil
}

func readIPA(state *framework.CycleState) (*ipaState, error) {
	d, err := state.Read(ipaPreFilterKey)
	if err != nil {
		return nil, err
	}
	return d.(*ipaState), nil
}

func (p *InterPodAffinity) Filter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	s, err := readIPA(state)
	if err != nil {
		return framework.AsStatus(err)
	}
	if len(pod.RequiredAffinityTerms) > 0 {
		all := true
		for i := range pod.RequiredAffinityTerms {
			key := pod.RequiredAffinityTerms[i].TopologyKey
			v, ok := ni.Labels[key]
			if !ok {
				return statusAffinityMismatch
			}
			if s.affinity[topologyPair{key, v}] <= 0 {
				all = false
			}
		}
		// The first pod of a group that selects itself may go anywhere
		// its topology keys exist.
		if !all && !(len(s.affinity) == 0 && matchesAll(pod.RequiredAffinityTerms, pod, s.nsLabels)) {
			return statusAffinityMismatch
		}
	}
	for i := range pod.RequiredAntiAffinityTerms {
		key := pod.RequiredAntiAffinityTerms[i].TopologyKey
		if v, ok := ni.Labels[key]; ok && s.anti[topologyPair{key, v}] > 0 {
			return statusAntiAffinityMismatch
		}
	}
	for key := range s.existingAntiKeys {
		if v, ok := ni.Labels[key]; ok && s.existingAnti[topologyPair{key, v}] > 0 {
			return statusExistingAntiAffinity
		}
	}
	return nil
}

const ipaPreScoreKey framework.StateKey = "PreScore" + InterPodAffinityName

type ipaScoreState struct {
	scores map[string]map[string]int64 // topology key -> value -> score
}

func (s *ipaScoreState) Clone() framework.StateData { return s }

func (p *InterPodAffinity) PreScore(_ context.Context, state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo) *framework.Status {
	snap := p.h.Snapshot()
	g := snap.Groups()
	hasPreferred := len(pod.PreferredAffinityTerms)+len(pod.PreferredAntiAffinityTerms) > 0
	existing := g.KindCount[framework.PreferredAffinity] + g.KindCount[framework.PreferredAntiAffinity]
	if p.hardWeight > 0 {
		existing += g.KindCount[framework.RequiredAffinity]
	}
	if !hasPreferred && existing == 0 {
		return skip
	}
	ns := snap.NamespaceLabels
	s := &ipaScoreState{scores: map[string]map[string]int64{}}
	add := func(key string, nodes map[string]int, w int64) {
		if w == 0 {
			return
		}
		for node, c := range nodes {
			ni := snap.Get(node)
			if ni == nil || ni.Node == nil {
				continue
			}
			v, ok := ni.Labels[key]
			if !ok {
				continue
			}
			m := s.scores[key]
			if m == nil {
				m = map[string]int64{}
				s.scores[key] = m
			}
			m[v] += w * int64(c)
		}
	}
	// Placed pods' terms that select this pod.
	if existing > 0 {
		for _, tg := range g.Terms {
			var w int64
			switch tg.Kind {
			case framework.RequiredAffinity:
				w = p.hardWeight
			case framework.PreferredAffinity:
				w = int64(tg.Weight)
			case framework.PreferredAntiAffinity:
				w = -int64(tg.Weight)
			default:
				continue
			}
			if w != 0 && tg.Term.Matches(pod, ns) {
				add(tg.Term.TopologyKey, tg.Nodes, w)
			}
		}
	}
	// This pod's preferred terms against the placed pods.
	if hasPreferred {
		for _, pg := range g.Pods {
			for i := range pod.PreferredAffinityTerms {
				if t := &pod.PreferredAffinityTerms[i]; t.MatchesLabels(pg.Namespace, pg.Labels, ns) {
					add(t.TopologyKey, pg.Nodes, int64(t.Weight))
				}
			}
			for i := range pod.PreferredAntiAffinityTerms {
				if t := &pod.PreferredAntiAffinityTerms[i]; t.MatchesLabels(pg.Namespace, pg.Labels, ns) {
					add(t.TopologyKey, pg.Nodes, -int64(t.Weight))
				}
			}
		}
	}
	if len(s.scores) == 0 {
		return skip
	}
	state.Write(ipaPreScoreKey, s)
	return nil
}

func (p *InterPodAffinity) Score(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, ni *framework.NodeInfo) (int64, *framework.Status) {
	d, err := state.Read(ipaPreScoreKey)
	if err != nil {
		return 0, framework.AsStatus(err)
	}
	var total int64
	for key, m := range d.(*ipaScoreState).scores {
		if v, ok := ni.Labels[key]; ok {
			total += m[v]
		}
	}
	return total, nil
}

func (p *InterPodAffinity) ScoreExtensions() framework.ScoreExtensions { return p }

// NormalizeScore maps the scores linearly onto [0, MaxNodeScore].
func (p *InterPodAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, scores []framework.NodeScore) *framework.Status {
	minMaxNormalize(scores)
	return nil
}

func minMaxNormalize(scores []framework.NodeScore) {
	if len(scores) == 0 {
		return
	}
	lo, hi := scores[0].Score, scores[0].Score
	for _, s := range scores {
		lo, hi = min(lo, s.Score), max(hi, s.Score)
	}
	for i := range scores {
		if hi == lo {
			scores[i].Score = 0
			continue
		}
		scores[i].Score = framework.MaxNodeScore * (scores[i].Score - lo) / (hi - lo)
	}
}

func (*InterPodAffinity) EventsToRegister() []framework.ClusterEvent {
	return []framework.ClusterEvent{
		{Resource: framework.AssignedPodEvent, Action: framework.Add | framework.UpdatePodLabel | framework.Delete},
		{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeLabel},
		{Resource: framework.NamespaceEvent, Action: framework.Add | framework.UpdateNamespaceLabel},
	}
}
