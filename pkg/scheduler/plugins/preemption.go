package plugins

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"keel.dev/keel/pkg/scheduler/framework"
)

// DefaultPreemption is the PostFilter plugin that makes room for a pod that
// fits nowhere by evicting pods of strictly lower priority.
//
// For each node that failed only with resolvable reasons (Unschedulable,
// not UnschedulableAndUnresolvable), it removes every lower-priority pod,
// checks that the pod then fits, and adds the removed pods back one by
// one, most important first (higher priority, then older), keeping each
// that still leaves room: the rest are the node's victims. Of the
// candidate nodes it picks the one whose most important victim has the
// lowest priority, then the one with the fewest victims, then the lowest
// sum of victim priorities, then the first found. It never chooses pods
// of equal or higher priority.
//
// It only decides: the scheduler deletes the victims (gracefully) and
// records the nomination. A pod whose earlier victims are still
// terminating on its nominated node waits instead of preempting again.
type DefaultPreemption struct {
	h                    framework.Handle
	minCandidatesPercent int
	minCandidatesAbs     int
	offset               int
}

// DefaultPreemptionArgs are DefaultPreemption's arguments: it evaluates at
// least MinCandidateNodesAbsolute nodes or MinCandidateNodesPercentage of
// the nodes (the larger), in parallel, and chooses among those.
type DefaultPreemptionArgs struct {
	MinCandidateNodesPercentage *int `json:"minCandidateNodesPercentage,omitempty"`
	MinCandidateNodesAbsolute   *int `json:"minCandidateNodesAbsolute,omitempty"`
}

var _ framework.PostFilterPlugin = (*DefaultPreemption)(nil)

// NewDefaultPreemption is DefaultPreemption's factory.
func NewDefaultPreemption(args []byte, h framework.Handle) (framework.Plugin, error) {
	var a DefaultPreemptionArgs
	if err := decodeArgs(args, &a); err != nil {
		return nil, err
	}
	p := &DefaultPreemption{h: h, minCandidatesPercent: 10, minCandidatesAbs: 100}
	if a.MinCandidateNodesPercentage != nil {
		if *a.MinCandidateNodesPercentage < 0 || *a.MinCandidateNodesPercentage > 100 {
			return nil, fmt.Errorf("minCandidateNodesPercentage %d is not between 0 and 100", *a.MinCandidateNodesPercentage)
		}
		p.minCandidatesPercent = *a.MinCandidateNodesPercentage
	}
	if a.MinCandidateNodesAbsolute != nil {
		if *a.MinCandidateNodesAbsolute < 0 {
			return nil, fmt.Errorf("minCandidateNodesAbsolute %d is negative", *a.MinCandidateNodesAbsolute)
		}
		p.minCandidatesAbs = *a.MinCandidateNodesAbsolute
	}
	if p.minCandidatesPercent == 0 && p.minCandidatesAbs == 0 {
		return nil, fmt.Errorf("minCandidateNodesPercentage and minCandidateNodesAbsolute cannot both be 0")
	}
	return p, nil
}

func (*DefaultPreemption) Name() string { return DefaultPreemptionName }

type candidate struct {
	node    string
	victims []*framework.PodInfo
	order   int
}

func (p *DefaultPreemption) PostFilter(ctx context.Context, state *framework.CycleState, pod *framework.PodInfo, failed framework.NodeToStatus) (*framework.PostFilterResult, *framework.Status) {
	if pod.PreemptNever {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption is disabled by the pod's preemptionPolicy")
	}
	snap := p.h.Snapshot()
	if nn, ok := p.h.Nominator().(framework.NominatorWithNode); ok {
		if name := nn.NominatedNodeName(pod); name != "" {
			if ni := snap.Get(name); ni != nil {
				for _, v := range ni.Pods {
					if v.Terminating && v.Priority < pod.Priority {
						return nil, framework.NewStatus(framework.Unschedulable, "waiting for preempted pods on node "+name+" to terminate")
					}
				}
			}
		}
	}
	var potential []*framework.NodeInfo
	for _, ni := range snap.NodeInfos() {
		if st, ok := failed[ni.Name]; ok && st.Code() == framework.UnschedulableAndUnresolvable {
			continue
		}
		if !hasLowerPriority(ni, pod.Priority) {
			continue
		}
		potential = append(potential, ni)
	}
	if len(potential) == 0 {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption is not helpful: no node has lower-priority pods whose eviction would make room")
	}
	want := max(len(potential)*p.minCandidatesPercent/100, p.minCandidatesAbs)
	want = min(want, len(potential))
	start := p.offset % len(potential)
	p.offset += want

	var mu sync.Mutex
	var cands []candidate
	p.h.Parallelize(ctx, len(potential), func(i int) {
		mu.Lock()
		enough := len(cands) >= want
		mu.Unlock()
		if enough {
			return
		}
		ni := potential[(start+i)%len(potential)]
		victims, ok := p.selectVictims(ctx, state, pod, ni)
		if !ok {
			return
		}
		mu.Lock()
		cands = append(cands, candidate{node: ni.Name, victims: victims, order: i})
		mu.Unlock()
	})
	if len(cands) == 0 {
		return nil, framework.NewStatus(framework.Unschedulable, "preemption is not helpful: evicting lower-priority pods makes room on no node")
	}
	best := pickCandidate(cands)
	return &framework.PostFilterResult{NominatedNodeName: best.node, Victims: best.victims}, nil
}

func hasLowerPriority(ni *framework.NodeInfo, prio int32) bool {
	for _, p := range ni.Pods {
		if p.Priority < prio {
			return true
		}
	}
	return false
}

// moreImportant orders pods: higher priority first, then older.
func moreImportant(a, b *framework.PodInfo) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	return a.StartTime.Before(b.StartTime)
}

// selectVictims finds the fewest lower-priority pods to remove from ni so
// that pod fits (false if removing all of them is not enough).
func (p *DefaultPreemption) selectVictims(ctx context.Context, state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) ([]*framework.PodInfo, bool) {
	n := ni.Clone()
	s := state.Clone()
	var lower []*framework.PodInfo
	for _, v := range ni.Pods {
		if v.Priority < pod.Priority {
			lower = append(lower, v)
		}
	}
	for _, v := range lower {
		n.RemovePod(v)
		if st := p.h.RunPreFilterExtensionRemovePod(ctx, s, pod, v, n); !st.IsSuccess() {
			return nil, false
		}
	}
	if !p.h.RunFilterPluginsWithNominatedPods(ctx, s, pod, n).IsSuccess() {
		return nil, false
	}
	sort.Slice(lower, func(i, j int) bool { return moreImportant(lower[i], lower[j]) })
	var victims []*framework.PodInfo
	for _, v := range lower {
		n.AddPod(v)
		if st := p.h.RunPreFilterExtensionAddPod(ctx, s, pod, v, n); !st.IsSuccess() {
			return nil, false
		}
		if p.h.RunFilterPluginsWithNominatedPods(ctx, s, pod, n).IsSuccess() {
			continue // reprieved
		}
		n.RemovePod(v)
		if st := p.h.RunPreFilterExtensionRemovePod(ctx, s, pod, v, n); !st.IsSuccess() {
			return nil, false
		}
		victims = append(victims, v)
	}
	return victims, true
}

func pickCandidate(cands []candidate) candidate {
	type key struct {
		highest int64
		count   int
		sum     int64
		order   int
	}
	keyOf := func(c candidate) key {
		k := key{highest: -1 << 62, count: len(c.victims), order: c.order}
		for _, v := range c.victims {
			k.highest = max(k.highest, int64(v.Priority))
			k.sum += int64(v.Priority)
		}
		return k
	}
	less := func(a, b key) bool {
		switch {
		case a.highest != b.highest:
			return a.highest < b.highest
		case a.count != b.count:
			return a.count < b.count
		case a.sum != b.sum:
			return a.sum < b.sum
		}
		return a.order < b.order
	}
	best, bk := cands[0], keyOf(cands[0])
	for _, c := range cands[1:] {
		if k := keyOf(c); less(k, bk) {
			best, bk = c, k
		}
	}
	return best
}
