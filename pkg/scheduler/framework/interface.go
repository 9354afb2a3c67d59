// Package framework is the scheduler's plugin framework: one small
// interface per extension point, the Status codes plugins answer with, the
// data they work on (PodInfo, NodeInfo, a read-only Snapshot of the
// cluster) and the Framework that runs them.
//
// A scheduling cycle is a pure function of a snapshot and a pod: Schedule
// runs PreFilter, Filter (in parallel over nodes, stopping once enough
// feasible nodes are found), PostFilter (preemption: it only computes
// victims), PreScore and Score, and returns a Decision. It performs no I/O:
// the caller (the scheduler loop) assumes the pod, binds it, deletes
// victims and writes statuses.
//
// Threading: a Framework runs one cycle at a time. During a cycle the
// snapshot, the nominator and every PodInfo/NodeInfo are read-only; Filter
// and Score run concurrently on different nodes, so they must not write
// shared state (CycleState is written only by PreFilter and PreScore, which
// run on the cycle's goroutine).
package framework

import (
	"context"
)

// MaxNodeScore is the highest score a Score plugin gives (after
// normalization); MinNodeScore the lowest.
const (
	MaxNodeScore int64 = 100
	MinNodeScore int64 = 0
)

// Plugin is any plugin.
type Plugin interface {
	Name() string
}

// PreFilterPlugin runs once per cycle before filtering: it checks the pod
// and precomputes what its Filter needs into the CycleState. Returning Skip
// skips the plugin's Filter for this cycle; a rejection makes the pod fit
// no node.
type PreFilterPlugin interface {
	Plugin
	PreFilter(ctx context.Context, state *CycleState, pod *PodInfo) *Status
	// PreFilterExtensions returns nil, or the hooks that update the
	// plugin's precomputed state when a pod is added to or removed from a
	// node in a what-if evaluation (nominated pods, preemption).
	PreFilterExtensions() PreFilterExtensions
}

// PreFilterExtensions keep a PreFilter plugin's state right when the
// framework evaluates a changed node: podToAdd was added to (or removed
// from) nodeInfo, a clone.
type PreFilterExtensions interface {
	AddPod(ctx context.Context, state *CycleState, podToSchedule, podToAdd *PodInfo, nodeInfo *NodeInfo) *Status
	RemovePod(ctx context.Context, state *CycleState, podToSchedule, podToRemove *PodInfo, nodeInfo *NodeInfo) *Status
}

// FilterPlugin decides whether the pod may go to a node. It must be cheap
// and must not write shared state: it runs in parallel over nodes.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, state *CycleState, pod *PodInfo, nodeInfo *NodeInfo) *Status
}

// PostFilterPlugin runs when no node passed the filters. Preemption is
// one: it chooses a node and the pods to evict there. It must not perform
// I/O; it returns its decision.
type PostFilterPlugin interface {
	Plugin
	PostFilter(ctx context.Context, state *CycleState, pod *PodInfo, failed NodeToStatus) (*PostFilterResult, *Status)
}

// PostFilterResult is a preemption decision: nominate NominatedNodeName
// for the pod and evict Victims from it.
type PostFilterResult struct {
	NominatedNodeName string
	Victims           []*PodInfo
}

// PreScorePlugin runs once per cycle before scoring, over the feasible
// nodes. Skip skips the plugin's Score for this cycle.
type PreScorePlugin interface {
	Plugin
	PreScore(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo) *Status
}

// ScorePlugin ranks feasible nodes: higher is better. Scores must end up in
// [MinNodeScore, MaxNodeScore], directly or through NormalizeScore; the
// framework multiplies them by the plugin's weight and adds them up.
type ScorePlugin interface {
	Plugin
	Score(ctx context.Context, state *CycleState, pod *PodInfo, nodeInfo *NodeInfo) (int64, *Status)
	// ScoreExtensions returns nil, or NormalizeScore.
	ScoreExtensions() ScoreExtensions
}

// ScoreExtensions normalize a plugin's scores over all feasible nodes.
type ScoreExtensions interface {
	NormalizeScore(ctx context.Context, state *CycleState, pod *PodInfo, scores []NodeScore) *Status
}

// NodeScore is a node's score.
type NodeScore struct {
	Name  string
	Score int64
}

// ReservePlugin is told when a pod is assumed on a node (Reserve) and when
// that is undone (Unreserve: the bind failed). Both run on the scheduling
// loop; Unreserve must be idempotent.
type ReservePlugin interface {
	Plugin
	Reserve(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) *Status
	Unreserve(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string)
}

// PreBindPlugin runs on the binding goroutine before the pod is bound:
// it performs the I/O its Reserve decided (a volume-binding plugin writes
// the claims' choices and waits until they are bound). A failure fails
// the binding: the pod is unreserved and retried. It must honour ctx.
type PreBindPlugin interface {
	Plugin
	PreBind(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) *Status
}

// BindPlugin binds a pod to a node: the I/O at the end of a cycle. It runs
// on a binding goroutine, concurrently with later cycles. The first bind
// plugin that does not return Skip decides.
type BindPlugin interface {
	Plugin
	Bind(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) *Status
}

// EnqueueExtensions tell the queue which cluster events may make a pod that
// a plugin rejected schedulable again; such a pod is only retried early on
// those events (and otherwise after the unschedulable timeout).
type EnqueueExtensions interface {
	EventsToRegister() []ClusterEvent
}

// EventResource is the kind of object an event is about.
type EventResource string

// Event resources.
const (
	NodeEvent        EventResource = "Node"
	AssignedPodEvent EventResource = "Pod" // pods bound to a node
	NamespaceEvent   EventResource = "Namespace"
	// Storage objects (VolumeBinding's interests).
	PersistentVolumeClaimEvent EventResource = "PersistentVolumeClaim"
	PersistentVolumeEvent      EventResource = "PersistentVolume"
	StorageClassEvent          EventResource = "StorageClass"
	CSINodeEvent               EventResource = "CSINode"
	// WildCardEvent matches every resource (the periodic flush).
	WildCardEvent EventResource = "*"
)

// ActionType is a bit set of changes.
type ActionType uint32

// Action types.
const (
	Add ActionType = 1 << iota
	Delete
	UpdateNodeAllocatable
	UpdateNodeLabel
	UpdateNodeTaint // spec taints or readiness (implied taints)
	UpdateNodeUnschedulable
	UpdatePodLabel
	UpdatePodRequest // an assigned pod's requests shrank or it finished
	UpdateNamespaceLabel
	UpdateObject // any update of a storage object

	Update = UpdateNodeAllocatable | UpdateNodeLabel | UpdateNodeTaint | UpdateNodeUnschedulable | UpdatePodLabel | UpdatePodRequest | UpdateNamespaceLabel | UpdateObject
	All    = Add | Delete | Update
)

// ClusterEvent is a change in the cluster.
type ClusterEvent struct {
	Resource EventResource
	Action   ActionType
	// Label names the event in metrics and logs.
	Label string
}

// Match reports whether ev (an event that happened) is one that e (a
// registered interest) covers.
func (e ClusterEvent) Match(ev ClusterEvent) bool {
	return (e.Resource == WildCardEvent || ev.Resource == WildCardEvent || e.Resource == ev.Resource) && e.Action&ev.Action != 0
}

// Snapshot is the read-only view of the cluster a cycle works on: the
// scheduler cache, which only changes between cycles.
type Snapshot interface {
	// NodeInfos are the nodes that exist (have a Node object), in a stable
	// order.
	NodeInfos() []*NodeInfo
	// Get returns the named node, nil if unknown.
	Get(name string) *NodeInfo
	// HavePodsWithAffinity / HavePodsWithRequiredAntiAffinity are the nodes
	// with such pods.
	HavePodsWithAffinity() []*NodeInfo
	HavePodsWithRequiredAntiAffinity() []*NodeInfo
	// NamespaceLabels returns a namespace's labels (nil if unknown).
	NamespaceLabels(namespace string) map[string]string
	// Groups aggregates the placed pods by label set and by affinity
	// term (pods on nodes without a Node object included: check Get).
	Groups() *GroupIndex
}

// Nominator knows the pods nominated to nodes by preemption: they are
// waiting for victims to go, and lower-priority pods must not take the
// room being made for them.
type Nominator interface {
	// NominatedPodsForNode returns the pods nominated to the node.
	NominatedPodsForNode(nodeName string) []*PodInfo
}

// Handle is what plugins get from the framework.
type Handle interface {
	Snapshot() Snapshot
	Nominator() Nominator
	// RunFilterPluginsWithNominatedPods runs every filter for pod on
	// nodeInfo as if the nominated pods of equal or higher priority were
	// there too.
	RunFilterPluginsWithNominatedPods(ctx context.Context, state *CycleState, pod *PodInfo, nodeInfo *NodeInfo) *Status
	// RunPreFilterExtensionAddPod / RemovePod update every PreFilter
	// plugin's state for a pod added to or removed from nodeInfo.
	RunPreFilterExtensionAddPod(ctx context.Context, state *CycleState, podToSchedule, podToAdd *PodInfo, nodeInfo *NodeInfo) *Status
	RunPreFilterExtensionRemovePod(ctx context.Context, state *CycleState, podToSchedule, podToRemove *PodInfo, nodeInfo *NodeInfo) *Status
	// Parallelize calls work(i) for i in [0, n) on up to Parallelism
	// goroutines and returns when all are done.
	Parallelize(ctx context.Context, n int, work func(i int))
}
