package framework

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Factory builds a plugin from its JSON arguments (nil for none).
type Factory func(args []byte, h Handle) (Plugin, error)

// Registry names the plugin factories.
type Registry map[string]Factory

// PluginConfig enables one plugin. Plugins run, at each extension point,
// in the order they are listed.
type PluginConfig struct {
	Name string
	// Weight multiplies a Score plugin's scores (>= 1).
	Weight int32
	// Args are the plugin's arguments as JSON (nil: defaults).
	Args []byte
}

// Options configure a Framework.
type Options struct {
	Registry Registry
	Plugins  []PluginConfig
	Snapshot Snapshot
	// Nominator may be nil (no nominated pods).
	Nominator Nominator
	// Parallelism bounds the goroutines of one cycle (default 16).
	Parallelism int
	// PercentageOfNodesToScore: stop filtering once this share of the nodes
	// is feasible (at least 100 nodes). 0 adapts it to the cluster's size
	// as Kubernetes does: 50% minus 1% per 125 nodes, at least 5%; 100
	// filters every node.
	PercentageOfNodesToScore int32
	// Rand breaks ties between equally good nodes (default: seeded from
	// the runtime).
	Rand *rand.Rand
}

// Framework runs the plugins of one scheduler profile. It is not safe for
// concurrent cycles: one goroutine (the scheduling loop) calls Schedule,
// Reserve and Unreserve; PreBind and Bind may run concurrently with them.
type Framework struct {
	snapshot    Snapshot
	nominator   Nominator
	parallelism int
	percentage  int32
	rand        *rand.Rand

	plugins     map[string]Plugin
	preFilter   []PreFilterPlugin
	filter      []FilterPlugin
	postFilter  []PostFilterPlugin
	preScore    []PreScorePlugin
	score       []ScorePlugin
	weights     []int64
	reserve     []ReservePlugin
	preBind     []PreBindPlugin
	bind        []BindPlugin
	events      map[string][]ClusterEvent
	filterIndex map[string]int
	scoreIndex  map[string]int

	nextStartNodeIndex int

	// Scratch buffers reused by successive cycles (one cycle at a time).
	feasibleBuf []*NodeInfo
	scoreBuf    [][]NodeScore
	totalBuf    []int64
}

type emptyNominator struct{}

func (emptyNominator) NominatedPodsForNode(string) []*PodInfo { return nil }
func (emptyNominator) NominatedNodeName(*PodInfo) string      { return "" }

// NominatorWithNode is a Nominator that also knows the node a pod itself
// is nominated to (its own earlier preemption), tried first.
type NominatorWithNode interface {
	Nominator
	NominatedNodeName(pod *PodInfo) string
}

// New builds the plugins of opts.Plugins and sorts them into extension
// points by the interfaces they implement.
func New(opts Options) (*Framework, error) {
	f := &Framework{
		snapshot:    opts.Snapshot,
		nominator:   opts.Nominator,
		parallelism: opts.Parallelism,
		percentage:  opts.PercentageOfNodesToScore,
		rand:        opts.Rand,
		plugins:     map[string]Plugin{},
		events:      map[string][]ClusterEvent{},
		filterIndex: map[string]int{},
		scoreIndex:  map[string]int{},
	}
	if f.nominator == nil {
		f.nominator = emptyNominator{}
	}
	if f.parallelism <= 0 {
		f.parallelism = 16
	}
	if f.rand == nil {
		f.rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if f.percentage < 0 || f.percentage > 100 {
		return nil, fmt.Errorf("percentageOfNodesToScore %d: must be between 0 and 100", f.percentage)
	}
	for _, pc := range opts.Plugins {
		if _, dup := f.plugins[pc.Name]; dup {
			return nil, fmt.Errorf("plugin %s: listed twice", pc.Name)
		}
		factory, ok := opts.Registry[pc.Name]
		if !ok {
			return nil, fmt.Errorf("plugin %s: unknown plugin", pc.Name)
		}
		p, err := factory(pc.Args, f)
		if err != nil {
			return nil, fmt.Errorf("plugin %s: %w", pc.Name, err)
		}
		f.plugins[pc.Name] = p
		if x, ok := p.(PreFilterPlugin); ok {
			f.preFilter = append(f.preFilter, x)
		}
		if x, ok := p.(FilterPlugin); ok {
			f.filterIndex[pc.Name] = len(f.filter)
			f.filter = append(f.filter, x)
		}
		if x, ok := p.(PostFilterPlugin); ok {
			f.postFilter = append(f.postFilter, x)
		}
		if x, ok := p.(PreScorePlugin); ok {
			f.preScore = append(f.preScore, x)
		}
		if x, ok := p.(ScorePlugin); ok {
			w := pc.Weight
			if w <= 0 {
				w = 1
			}
			f.scoreIndex[pc.Name] = len(f.score)
			f.score = append(f.score, x)
			f.weights = append(f.weights, int64(w))
		}
		if x, ok := p.(ReservePlugin); ok {
			f.reserve = append(f.reserve, x)
		}
		if x, ok := p.(PreBindPlugin); ok {
			f.preBind = append(f.preBind, x)
		}
		if x, ok := p.(BindPlugin); ok {
			f.bind = append(f.bind, x)
		}
		if x, ok := p.(EnqueueExtensions); ok {
			f.events[pc.Name] = x.EventsToRegister()
		}
	}
	if len(f.bind) == 0 {
		return nil, fmt.Errorf("no bind plugin is enabled")
	}
	return f, nil
}

// Snapshot implements Handle.
func (f *Framework) Snapshot() Snapshot { return f.snapshot }

// Nominator implements Handle.
func (f *Framework) Nominator() Nominator { return f.nominator }

// Plugin returns the named plugin (nil if not enabled).
func (f *Framework) Plugin(name string) Plugin { return f.plugins[name] }

// EventsToRegister returns, per plugin that rejects pods, the events that
// may make such pods schedulable.
func (f *Framework) EventsToRegister() map[string][]ClusterEvent { return f.events }

// Parallelize implements Handle.
func (f *Framework) Parallelize(ctx context.Context, n int, work func(i int)) {
	chunk := max(32, int(math.Sqrt(float64(n))))
	if f.parallelism <= 1 || n <= chunk {
		for i := 0; i < n; i++ {
			work(i)
		}
		return
	}
	chunks := (n + chunk - 1) / chunk
	workers := min(f.parallelism, chunks)
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			for {
				c := int(next.Add(1)) - 1
				if c >= chunks || ctx.Err() != nil {
					return
				}
				for i, end := c*chunk, min(c*chunk+chunk, n); i < end; i++ {
					work(i)
				}
			}
		}()
	}
	wg.Wait()
}

// NodeToStatus is the rejection of each node that failed the filters.
type NodeToStatus map[string]*Status

// Diagnosis explains why a pod fits no node.
type Diagnosis struct {
	NodeToStatus NodeToStatus
	// UnschedulablePlugins rejected the pod somewhere: the queue retries
	// it early only on events they registered.
	UnschedulablePlugins map[string]struct{}
	// PreFilterMsg is set when a PreFilter plugin rejected the pod for
	// every node.
	PreFilterMsg string
}

// FitError is the Decision of a pod that fits no node.
type FitError struct {
	Pod         *PodInfo
	NumAllNodes int
	Diagnosis   Diagnosis
}

// Error formats the reasons per node, counted, most frequent first:
// "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated
// taint {dedicated: gpu}."
func (e *FitError) Error() string {
	head := fmt.Sprintf("0/%d nodes are available", e.NumAllNodes)
	if e.Diagnosis.PreFilterMsg != "" {
		return head + ": " + e.Diagnosis.PreFilterMsg + "."
	}
	if e.NumAllNodes == 0 {
		return head + ": no nodes are registered."
	}
	counts := map[string]int{}
	for _, st := range e.Diagnosis.NodeToStatus {
		for _, r := range st.Reasons() {
			counts[r]++
		}
	}
	return head + ": " + Histogram(counts) + "."
}

// Decision is the outcome of a cycle.
type Decision struct {
	// Node is the chosen node ("" when none fits or on error).
	Node string
	// EvaluatedNodes were filtered; FeasibleNodes passed.
	EvaluatedNodes, FeasibleNodes int
	// State is the cycle's state, for Reserve and Bind.
	State *CycleState
	// FitError is set when no node fits.
	FitError *FitError
	// Preemption, with FitError, is a PostFilter plugin's decision: evict
	// the victims and nominate the node. PostFilterStatus is the
	// PostFilter plugins' answer when they found nothing.
	Preemption       *PostFilterResult
	PostFilterStatus *Status
	// Err is an internal error (the pod is retried after a back-off).
	Err error
}

// Schedule runs one scheduling cycle for pod over the snapshot and returns
// the decision. It performs no I/O and changes nothing but the framework's
// round-robin start index and random source.
func (f *Framework) Schedule(ctx context.Context, pod *PodInfo) Decision {
	nodes := f.snapshot.NodeInfos()
	state := NewCycleState()
	state.skipFilter = make([]bool, len(f.filter))
	state.skipScore = make([]bool, len(f.score))
	d := Decision{State: state}
	fail := func(diag Diagnosis) Decision {
		d.FitError = &FitError{Pod: pod, NumAllNodes: len(nodes), Diagnosis: diag}
		return d
	}
	if len(nodes) == 0 {
		return fail(Diagnosis{NodeToStatus: NodeToStatus{}})
	}
	if pod.Err != nil {
		st := NewStatus(UnschedulableAndUnresolvable, "pod spec: "+pod.Err.Error())
		return fail(allNodes(nodes, st, "", st.Message()))
	}

	// PreFilter.
	for _, p := range f.preFilter {
		st := p.PreFilter(ctx, state, pod)
		switch {
		case st.IsSuccess():
		case st.IsSkip():
			if i, ok := f.filterIndex[p.Name()]; ok {
				state.skipFilter[i] = true
			}
		case st.IsRejected():
			diag := allNodes(nodes, st, p.Name(), st.Message())
			d.FitError = &FitError{Pod: pod, NumAllNodes: len(nodes), Diagnosis: diag}
			d.Preemption, d.PostFilterStatus = f.runPostFilter(ctx, state, pod, diag.NodeToStatus)
			return d
		default:
			d.Err = fmt.Errorf("prefilter %s: %w", p.Name(), st.AsError())
			return d
		}
	}

	// Nodes a PreFilter plugin ruled out (see CycleState.NarrowNodes) are
	// never filtered.
	candidates := nodes
	if state.narrowed != nil {
		candidates = make([]*NodeInfo, 0, len(state.narrowed))
		for name := range state.narrowed {
			if ni := f.snapshot.Get(name); ni != nil && ni.Node != nil {
				candidates = append(candidates, ni)
			}
		}
		slices.SortFunc(candidates, func(a, b *NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	}

	// A pod nominated by its own earlier preemption tries that node first.
	var feasible []*NodeInfo
	if nn, ok := f.nominator.(NominatorWithNode); ok {
		if name := nn.NominatedNodeName(pod); name != "" {
			if ni := f.snapshot.Get(name); ni != nil && ni.Node != nil {
				if _, st := f.runFiltersWithNominated(ctx, state, pod, ni); st.IsSuccess() {
					feasible = []*NodeInfo{ni}
					d.EvaluatedNodes = 1
				}
			}
		}
	}
	if feasible == nil {
		var failures []failure
		var err error
		if len(candidates) > 0 {
			feasible, failures, err = f.findFeasible(ctx, state, pod, candidates)
		}
		if err != nil {
			d.Err = err
			return d
		}
		d.EvaluatedNodes = len(feasible) + len(failures)
		if len(feasible) == 0 {
			diag := Diagnosis{NodeToStatus: make(NodeToStatus, len(nodes)), UnschedulablePlugins: map[string]struct{}{}}
			if state.narrowed != nil {
				for _, ni := range nodes {
					if _, ok := state.narrowed[ni.Name]; !ok {
						diag.NodeToStatus[ni.Name] = state.narrowStatus
					}
				}
				diag.UnschedulablePlugins[state.narrowPlugin] = struct{}{}
			}
			for _, fl := range failures {
				diag.NodeToStatus[fl.node] = fl.status
				diag.UnschedulablePlugins[fl.plugin] = struct{}{}
			}
			d.FitError = &FitError{Pod: pod, NumAllNodes: len(nodes), Diagnosis: diag}
			d.Preemption, d.PostFilterStatus = f.runPostFilter(ctx, state, pod, diag.NodeToStatus)
			return d
		}
	}
	d.FeasibleNodes = len(feasible)
	if len(feasible) == 1 {
		d.Node = feasible[0].Name
		return d
	}
	node, err := f.prioritize(ctx, state, pod, feasible)
	if err != nil {
		d.Err = err
		return d
	}
	d.Node = node
	return d
}

func allNodes(nodes []*NodeInfo, st *Status, plugin, msg string) Diagnosis {
	diag := Diagnosis{NodeToStatus: make(NodeToStatus, len(nodes)), UnschedulablePlugins: map[string]struct{}{}, PreFilterMsg: msg}
	for _, n := range nodes {
		diag.NodeToStatus[n.Name] = st
	}
	if plugin != "" {
		diag.UnschedulablePlugins[plugin] = struct{}{}
	}
	return diag
}

type failure struct {
	node, plugin string
	status       *Status
}

// NumFeasibleNodesToFind is how many feasible nodes a cycle looks for
// among n nodes before it stops filtering.
func NumFeasibleNodesToFind(n int, percentage int32) int {
	const minFeasible = 100
	if n < minFeasible || percentage >= 100 {
		return n
	}
	pct := int(percentage)
	if pct <= 0 {
		pct = max(50-n/125, 5)
	}
	return max(n*pct/100, minFeasible)
}

// findFeasible filters nodes in parallel, starting where the last cycle
// stopped so every node gets its turn, until enough feasible nodes are
// found.
func (f *Framework) findFeasible(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo) ([]*NodeInfo, []failure, error) {
	n := len(nodes)
	want := NumFeasibleNodesToFind(n, f.percentage)
	if cap(f.feasibleBuf) < want {
		f.feasibleBuf = make([]*NodeInfo, want)
	}
	feasible := f.feasibleBuf[:want]
	clear(feasible)
	var found atomic.Int32
	var stop atomic.Bool
	var mu sync.Mutex
	var failures []failure
	var firstErr error
	start := f.nextStartNodeIndex % n
	f.Parallelize(ctx, n, func(i int) {
		if stop.Load() {
			return
		}
		ni := nodes[(start+i)%n]
		plugin, st := f.runFiltersWithNominated(ctx, state, pod, ni)
		if st.IsSuccess() {
			k := found.Add(1)
			if int(k) > want {
				stop.Store(true)
				found.Add(-1)
				return
			}
			feasible[k-1] = ni
			if int(k) == want {
				stop.Store(true)
			}
			return
		}
		mu.Lock()
		if st.Code() == Error {
			if firstErr == nil {
				firstErr = fmt.Errorf("filter %s on node %s: %w", plugin, ni.Name, st.AsError())
			}
			stop.Store(true)
		} else {
			failures = append(failures, failure{node: ni.Name, plugin: plugin, status: st})
		}
		mu.Unlock()
	})
	if firstErr != nil {
		return nil, nil, firstErr
	}
	f.nextStartNodeIndex = (start + int(found.Load()) + len(failures)) % n
	return feasible[:found.Load()], failures, nil
}

// runFilters runs the filters on one node and returns the first rejection
// (with its plugin's name).
func (f *Framework) runFilters(ctx context.Context, state *CycleState, pod *PodInfo, ni *NodeInfo) (string, *Status) {
	if ni.Err != nil {
		return "", NewStatus(UnschedulableAndUnresolvable, "node(s) had invalid allocatable resources")
	}
	for i, p := range f.filter {
		if state.skipFilter[i] {
			continue
		}
		if st := p.Filter(ctx, state, pod, ni); !st.IsSuccess() {
			return p.Name(), st
		}
	}
	return "", nil
}

// runFiltersWithNominated runs the filters as if the pods nominated to the
// node with at least pod's priority were already there, and, when there
// were any, again without them (a nominated pod might be what satisfies
// an affinity term, and it may yet go elsewhere).
func (f *Framework) runFiltersWithNominated(ctx context.Context, state *CycleState, pod *PodInfo, ni *NodeInfo) (string, *Status) {
	var add []*PodInfo
	for _, np := range f.nominator.NominatedPodsForNode(ni.Name) {
		if np.UID != pod.UID && np.Priority >= pod.Priority {
			add = append(add, np)
		}
	}
	if len(add) == 0 {
		return f.runFilters(ctx, state, pod, ni)
	}
	s2, n2 := state.Clone(), ni.Clone()
	for _, np := range add {
		n2.AddPod(np)
		if st := f.RunPreFilterExtensionAddPod(ctx, s2, pod, np, n2); !st.IsSuccess() {
			return "", st
		}
	}
	if plugin, st := f.runFilters(ctx, s2, pod, n2); !st.IsSuccess() {
		return plugin, st
	}
	return f.runFilters(ctx, state, pod, ni)
}

// RunFilterPluginsWithNominatedPods implements Handle.
func (f *Framework) RunFilterPluginsWithNominatedPods(ctx context.Context, state *CycleState, pod *PodInfo, ni *NodeInfo) *Status {
	_, st := f.runFiltersWithNominated(ctx, state, pod, ni)
	return st
}

// RunPreFilterExtensionAddPod implements Handle.
func (f *Framework) RunPreFilterExtensionAddPod(ctx context.Context, state *CycleState, podToSchedule, podToAdd *PodInfo, ni *NodeInfo) *Status {
	for _, p := range f.preFilter {
		if i, ok := f.filterIndex[p.Name()]; ok && state.skipFilter[i] {
			continue
		}
		if ext := p.PreFilterExtensions(); ext != nil {
			if st := ext.AddPod(ctx, state, podToSchedule, podToAdd, ni); !st.IsSuccess() {
				return st
			}
		}
	}
	return nil
}

// RunPreFilterExtensionRemovePod implements Handle.
func (f *Framework) RunPreFilterExtensionRemovePod(ctx context.Context, state *CycleState, podToSchedule, podToRemove *PodInfo, ni *NodeInfo) *Status {
	for _, p := range f.preFilter {
		if i, ok := f.filterIndex[p.Name()]; ok && state.skipFilter[i] {
			continue
		}
		if ext := p.PreFilterExtensions(); ext != nil {
			if st := ext.RemovePod(ctx, state, podToSchedule, podToRemove, ni); !st.IsSuccess() {
				return st
			}
		}
	}
	return nil
}

func (f *Framework) runPostFilter(ctx context.Context, state *CycleState, pod *PodInfo, failed NodeToStatus) (*PostFilterResult, *Status) {
	var last *Status
	for _, p := range f.postFilter {
		r, st := p.PostFilter(ctx, state, pod, failed)
		if st.IsSuccess() && r != nil {
			return r, nil
		}
		last = st
	}
	return nil, last
}

// prioritize scores the feasible nodes and picks the best (ties broken at
// random).
func (f *Framework) prioritize(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo) (string, error) {
	for _, p := range f.preScore {
		st := p.PreScore(ctx, state, pod, nodes)
		switch {
		case st.IsSuccess():
		case st.IsSkip():
			if i, ok := f.scoreIndex[p.Name()]; ok {
				state.skipScore[i] = true
			}
		default:
			return "", fmt.Errorf("prescore %s: %s", p.Name(), st.Message())
		}
	}
	var active []int
	for i := range f.score {
		if !state.skipScore[i] {
			active = append(active, i)
		}
	}
	if len(active) == 0 {
		return nodes[f.rand.IntN(len(nodes))].Name, nil
	}
	for len(f.scoreBuf) < len(active) {
		f.scoreBuf = append(f.scoreBuf, nil)
	}
	scores := f.scoreBuf[:len(active)]
	for j := range scores {
		if cap(scores[j]) < len(nodes) {
			scores[j] = make([]NodeScore, len(nodes))
		}
		scores[j] = scores[j][:len(nodes)]
	}
	var errOnce sync.Once
	var scoreErr error
	f.Parallelize(ctx, len(nodes), func(i int) {
		ni := nodes[i]
		for j, pi := range active {
			s, st := f.score[pi].Score(ctx, state, pod, ni)
			if !st.IsSuccess() {
				errOnce.Do(func() { scoreErr = fmt.Errorf("score %s on node %s: %s", f.score[pi].Name(), ni.Name, st.Message()) })
				return
			}
			scores[j][i] = NodeScore{Name: ni.Name, Score: s}
		}
	})
	if scoreErr != nil {
		return "", scoreErr
	}
	if cap(f.totalBuf) < len(nodes) {
		f.totalBuf = make([]int64, len(nodes))
	}
	total := f.totalBuf[:len(nodes)]
	clear(total)
	for j, pi := range active {
		p := f.score[pi]
		if ext := p.ScoreExtensions(); ext != nil {
			if st := ext.NormalizeScore(ctx, state, pod, scores[j]); !st.IsSuccess() {
				return "", fmt.Errorf("normalize %s: %s", p.Name(), st.Message())
			}
		}
		w := f.weights[pi]
		for i, s := range scores[j] {
			total[i] += s.Score * w
		}
	}
	best, ties := 0, 1
	for i := 1; i < len(nodes); i++ {
		switch {
		case total[i] > total[best]:
			best, ties = i, 1
		case total[i] == total[best]:
			ties++
			if f.rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return nodes[best].Name, nil
}

// RunReserve runs the Reserve plugins; on a failure it unreserves those
// that ran and returns the failure.
func (f *Framework) RunReserve(ctx context.Context, state *CycleState, pod *PodInfo, node string) *Status {
	for i, p := range f.reserve {
		if st := p.Reserve(ctx, state, pod, node); !st.IsSuccess() {
			for j := i; j >= 0; j-- {
				f.reserve[j].Unreserve(ctx, state, pod, node)
			}
			return st
		}
	}
	return nil
}

// RunUnreserve runs the Unreserve hooks, in reverse order.
func (f *Framework) RunUnreserve(ctx context.Context, state *CycleState, pod *PodInfo, node string) {
	for i := len(f.reserve) - 1; i >= 0; i-- {
		f.reserve[i].Unreserve(ctx, state, pod, node)
	}
}

// RunPreBind runs the PreBind plugins in order and stops at the first
// failure. It may be called concurrently with cycles.
func (f *Framework) RunPreBind(ctx context.Context, state *CycleState, pod *PodInfo, node string) *Status {
	for _, p := range f.preBind {
		if st := p.PreBind(ctx, state, pod, node); !st.IsSuccess() {
			return NewStatus(st.Code(), fmt.Sprintf("running PreBind plugin %q: %s", p.Name(), st.Message()))
		}
	}
	return nil
}

// RunBind runs the bind plugins until one does not Skip. It may be called
// concurrently with cycles.
func (f *Framework) RunBind(ctx context.Context, state *CycleState, pod *PodInfo, node string) *Status {
	for _, p := range f.bind {
		st := p.Bind(ctx, state, pod, node)
		if st.IsSkip() {
			continue
		}
		return st
	}
	return NewStatus(Error, "no bind plugin bound the pod")
}
