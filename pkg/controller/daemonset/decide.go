package daemonset

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/controller/history"
	"keel.dev/keel/pkg/nodeaffinity"
	"keel.dev/keel/pkg/taints"
)

// Input is what one sync of a DaemonSet decides from.
type Input struct {
	DS *appsv1.DaemonSet
	// Nodes are every node of the cluster.
	Nodes []*corev1.Node
	// Pods are the pods the DaemonSet controls, terminating ones included.
	Pods []*corev1.Pod
	// Hash is the controller-revision-hash of the current template's
	// revision: pods without it are old.
	Hash string
	// Satisfied: the creates and deletes of earlier syncs have all been
	// seen in the cache, so pods may be created and deleted again.
	Satisfied bool
	// FailedBackoff holds, by node, the time until which a failed daemon
	// pod there is left alone: the back-off since the last failed pod the
	// DaemonSet deleted on that node (see FailedPodBackoff).
	FailedBackoff map[string]time.Time
	Now           time.Time
}

// Plan is what the sync does.
type Plan struct {
	// Create names the nodes to create a daemon pod on (NewPod).
	Create []string
	// Delete are the pods to delete.
	Delete []*corev1.Pod
	// Status is the DaemonSet's status (observedGeneration, counts and
	// collisionCount; the caller writes it when it changed).
	Status *appsv1.DaemonSetStatus
	// FailedDeleted names, once per deleted failed pod, the node it ran
	// on: the caller advances that node's back-off.
	FailedDeleted []string
	// Events are recorded about the DaemonSet (FailedDaemonPod).
	Events []controller.Event
	// RequeueAfter > 0: sync again then (a ready pod becomes available
	// after minReadySeconds, a node's failed-pod back-off ends).
	RequeueAfter time.Duration
}

// FailedDaemonPodReason is the reason of the Event about a failed daemon
// pod the DaemonSet deletes.
const FailedDaemonPodReason = "FailedDaemonPod"

// nodeState is one node's view of the DaemonSet.
type nodeState struct {
	node *corev1.Node
	// shouldRun: a new daemon pod belongs on the node; keep: an existing
	// one may stay (its NoExecute taints are tolerated).
	shouldRun, keep bool
	pods            []*corev1.Pod // live (not terminating) pods, oldest first
}

// Decide plans one sync: manage (a pod on each eligible node, none on the
// others, failed and surplus pods removed), and when that has nothing to
// do and the strategy is RollingUpdate, the rolling update; then status.
func Decide(in Input) Plan {
	states, orphans := nodeStates(in)
	var plan Plan
	if in.Satisfied {
		manage(in, states, &plan)
		plan.Delete = append(plan.Delete, orphans...)
		if len(plan.Create) == 0 && len(plan.Delete) == 0 && in.DS.GetSpec().GetUpdateStrategy().GetType() == api.RollingUpdateDaemonSetStrategyType {
			plan.Create, plan.Delete = rollingUpdate(in, states)
		}
	}
	var requeue time.Duration
	plan.Status, requeue = status(in, states)
	if requeue > 0 && (plan.RequeueAfter == 0 || requeue < plan.RequeueAfter) {
		plan.RequeueAfter = requeue
	}
	return plan
}

// nodeStates judges every node and groups the live pods by node; live
// pods whose node is gone are returned apart, to be deleted.
func nodeStates(in Input) ([]*nodeState, []*corev1.Pod) {
	byNode := map[string][]*corev1.Pod{}
	for _, p := range in.Pods {
		if p.GetMetadata().GetDeletionTimestamp() == nil {
			byNode[PodNodeName(p)] = append(byNode[PodNodeName(p)], p)
		}
	}
	spec := podSpec(in.DS)
	sel, err := nodeaffinity.NewNodeSelector(spec)
	states := make([]*nodeState, 0, len(in.Nodes))
	for _, n := range in.Nodes {
		name := n.GetMetadata().GetName()
		st := &nodeState{node: n, pods: byNode[name]}
		delete(byNode, name)
		if err == nil && sel.Matches(name, n.GetMetadata().GetLabels()) {
			nodeTaints := n.GetSpec().GetTaints()
			st.shouldRun = taints.FirstUntoleratedTaint(nodeTaints, spec.GetTolerations(), api.TaintEffectNoSchedule, api.TaintEffectNoExecute) == nil
			st.keep = taints.FirstUntoleratedTaint(nodeTaints, spec.GetTolerations(), api.TaintEffectNoExecute) == nil
		}
		slices.SortStableFunc(st.pods, olderFirst)
		states = append(states, st)
	}
	var orphans []*corev1.Pod
	for _, pods := range byNode {
		orphans = append(orphans, pods...)
	}
	slices.SortFunc(orphans, olderFirst)
	return states, orphans
}

// manage plans into plan: a pod on each node that should run one and has
// none; failed pods deleted, as Kubernetes does, once the node's back-off
// has passed (with a FailedDaemonPod event; the replacement comes when the
// failed pod is gone); of several, the oldest kept (with a surge, the
// oldest updated and the oldest old one); every pod off the nodes that
// may not keep one.
func manage(in Input, states []*nodeState, plan *Plan) {
	surge, _ := budgets(in.DS, desired(states))
	var create []string
	var del []*corev1.Pod
	for _, st := range states {
		if !st.keep {
			del = append(del, st.pods...)
			continue
		}
		name := st.node.GetMetadata().GetName()
		var running []*corev1.Pod
		for _, p := range st.pods {
			if p.GetStatus().GetPhase() != api.PodFailed {
				running = append(running, p)
				continue
			}
			if until := in.FailedBackoff[name]; until.After(in.Now) {
				if wait := until.Sub(in.Now); plan.RequeueAfter == 0 || wait < plan.RequeueAfter {
					plan.RequeueAfter = wait
				}
				continue
			}
			del = append(del, p)
			plan.FailedDeleted = append(plan.FailedDeleted, name)
			plan.Events = append(plan.Events, controller.Event{Type: record.Warning, Reason: FailedDaemonPodReason,
				Message: fmt.Sprintf("Found failed daemon pod %s/%s on node %s, will try to kill it", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), name)})
		}
		switch {
		case len(st.pods) == 0 && st.shouldRun:
			create = append(create, name)
		case len(running) > 1 && surge > 0:
			var keptNew, keptOld bool
			for _, p := range running {
				isNew := isUpdated(p, in.Hash)
				if (isNew && !keptNew) || (!isNew && !keptOld) {
					keptNew, keptOld = keptNew || isNew, keptOld || !isNew
					continue
				}
				del = append(del, p)
			}
		case len(running) > 1:
			del = append(del, running[1:]...)
		}
	}
	plan.Create, plan.Delete = create, del
}

// rollingUpdate replaces old pods (without the current hash) node by
// node. Without maxSurge, an old pod is deleted first while at most
// maxUnavailable nodes lack an available pod (an unavailable old pod is
// replaced at once); the next sync creates its replacement. With
// maxSurge, the new pod starts beside the old one on at most maxSurge
// nodes at a time, and the old one goes once the new one is available.
func rollingUpdate(in Input, states []*nodeState) (create []string, del []*corev1.Pod) {
	surge, maxUnavailable := budgets(in.DS, desired(states))
	minReady := in.DS.GetSpec().GetMinReadySeconds()
	available := func(p *corev1.Pod) bool { return api.IsPodAvailable(p, minReady, in.Now) }
	numUnavailable, numSurge := 0, 0
	var candidates []*corev1.Pod
	var candidateNodes []string
	for _, st := range states {
		if !st.shouldRun {
			continue
		}
		newPod, oldPod, ok := splitPods(st.pods, in.Hash)
		if !ok {
			numUnavailable++ // manage cleans the node up first
			continue
		}
		name := st.node.GetMetadata().GetName()
		switch {
		case surge == 0 && oldPod == nil:
			if newPod == nil || !available(newPod) {
				numUnavailable++
			}
		case surge == 0 && !available(oldPod):
			del = append(del, oldPod) // unavailable anyway: replace it now
		case surge == 0:
			candidates = append(candidates, oldPod)
		case oldPod == nil:
		case newPod == nil && !available(oldPod):
			create = append(create, name)
		case newPod == nil && numSurge < surge:
			numSurge++
			candidateNodes = append(candidateNodes, name)
		case newPod == nil:
		case available(newPod):
			del = append(del, oldPod)
		default:
			numSurge++ // waiting for the new pod
		}
	}
	if surge == 0 {
		// Old available pods go while the nodes without an available pod
		// (counted over every node) stay within maxUnavailable.
		return nil, append(del, candidates[:max(0, min(len(candidates), maxUnavailable-numUnavailable))]...)
	}
	// Surge slots freed by unavailable nodes are taken by the candidates
	// in order, never beyond maxSurge new pods at once.
	return append(create, candidateNodes...), del
}

// splitPods returns a node's updated and old pod; ok is false when it has
// more than one of either (manage removes the extra ones first).
func splitPods(pods []*corev1.Pod, hash string) (newPod, oldPod *corev1.Pod, ok bool) {
	for _, p := range pods {
		if isUpdated(p, hash) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = p
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = p
		}
	}
	return newPod, oldPod, true
}

// budgets are the rolling update's maxSurge and maxUnavailable in nodes,
// scaled on the desired count (percentages round up); when both come to
// 0, maxUnavailable is 1. Both are 0 for OnDelete.
func budgets(ds *appsv1.DaemonSet, desired int) (surge, unavailable int) {
	us := ds.GetSpec().GetUpdateStrategy()
	if us.GetType() != api.RollingUpdateDaemonSetStrategyType {
		return 0, 0
	}
	ru := us.GetRollingUpdate()
	if ru.GetMaxSurge() != nil {
		surge, _ = api.ScaledValue(ru.GetMaxSurge(), desired, true)
	}
	if ru.GetMaxUnavailable() != nil {
		unavailable, _ = api.ScaledValue(ru.GetMaxUnavailable(), desired, true)
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

func desired(states []*nodeState) int {
	n := 0
	for _, st := range states {
		if st.shouldRun {
			n++
		}
	}
	return n
}

// status counts as Kubernetes does: per node that should run a pod and
// has one, its oldest live pod (current, ready, available, updated);
// nodes with a pod that should not run one are misscheduled.
func status(in Input, states []*nodeState) (*appsv1.DaemonSetStatus, time.Duration) {
	ds := in.DS
	st := &appsv1.DaemonSetStatus{ObservedGeneration: ds.GetMetadata().GetGeneration()}
	if old := ds.GetStatus(); old != nil {
		st.CollisionCount = old.CollisionCount
		st.Conditions = old.Conditions
	}
	minReady := ds.GetSpec().GetMinReadySeconds()
	var requeue time.Duration
	for _, s := range states {
		switch {
		case s.shouldRun:
			st.DesiredNumberScheduled++
			if len(s.pods) == 0 {
				continue
			}
			st.CurrentNumberScheduled++
			p := s.pods[0]
			if isUpdated(p, in.Hash) {
				st.UpdatedNumberScheduled++
			}
			if api.IsPodReady(p) {
				st.NumberReady++
				if api.IsPodAvailable(p, minReady, in.Now) {
					st.NumberAvailable++
				} else if minReady > 0 {
					requeue = time.Duration(minReady)*time.Second + time.Second
				}
			}
		case len(s.pods) > 0:
			st.NumberMisscheduled++
		}
	}
	st.NumberUnavailable = max(0, st.DesiredNumberScheduled-st.NumberAvailable)
	return st, requeue
}

func isUpdated(p *corev1.Pod, hash string) bool {
	return p.GetMetadata().GetLabels()[history.ControllerRevisionHashLabel] == hash
}

// olderFirst orders pods by creation, those of the same second (the
// timestamps' resolution) by name, as Kubernetes orders them.
func olderFirst(a, b *corev1.Pod) int {
	if c := a.GetMetadata().GetCreationTimestamp().AsTime().Compare(b.GetMetadata().GetCreationTimestamp().AsTime()); c != 0 {
		return c
	}
	return strings.Compare(a.GetMetadata().GetName(), b.GetMetadata().GetName())
}

// PodNodeName is the node a daemon pod is for: spec.nodeName once bound,
// else the metadata.name its required node affinity names.
func PodNodeName(p *corev1.Pod) string {
	if n := p.GetSpec().GetNodeName(); n != "" {
		return n
	}
	for _, t := range p.GetSpec().GetAffinity().GetNodeAffinity().GetRequiredDuringSchedulingIgnoredDuringExecution().GetNodeSelectorTerms() {
		for _, f := range t.GetMatchFields() {
			if f.GetKey() == metadataName && f.GetOperator() == "In" && len(f.GetValues()) == 1 {
				return f.GetValues()[0]
			}
		}
	}
	return ""
}

const metadataName = "metadata.name"

// podSpec is the spec of the DaemonSet's pods before the node affinity:
// its template's, with the tolerations Kubernetes adds to daemon pods.
func podSpec(ds *appsv1.DaemonSet) *corev1.PodSpec {
	spec := proto.Clone(ds.GetSpec().GetTemplate().GetSpec()).(*corev1.PodSpec)
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	add := []*corev1.Toleration{
		{Key: api.TaintNodeNotReady, Operator: "Exists", Effect: api.TaintEffectNoExecute},
		{Key: api.TaintNodeUnreachable, Operator: "Exists", Effect: api.TaintEffectNoExecute},
		{Key: api.TaintNodeDiskPressure, Operator: "Exists", Effect: api.TaintEffectNoSchedule},
		{Key: api.TaintNodeMemoryPressure, Operator: "Exists", Effect: api.TaintEffectNoSchedule},
		{Key: api.TaintNodePIDPressure, Operator: "Exists", Effect: api.TaintEffectNoSchedule},
		{Key: api.TaintNodeUnschedulable, Operator: "Exists", Effect: api.TaintEffectNoSchedule},
	}
	if spec.GetHostNetwork() {
		add = append(add, &corev1.Toleration{Key: api.TaintNodeNetworkUnavailable, Operator: "Exists", Effect: api.TaintEffectNoSchedule})
	}
	for _, t := range add {
		spec.Tolerations = slices.DeleteFunc(spec.Tolerations, func(o *corev1.Toleration) bool {
			return o.GetKey() == t.GetKey() && o.GetEffect() == t.GetEffect()
		})
		spec.Tolerations = append(spec.Tolerations, t)
	}
	return spec
}

// NewPod is the daemon pod of ds for node: its template with the hash
// label, the daemon tolerations, and a required node affinity on the
// node's metadata.name (each existing term keeps its expressions), so the
// scheduler binds it there.
func NewPod(ds *appsv1.DaemonSet, hash, node string) *corev1.Pod {
	tmpl := proto.Clone(ds.GetSpec().GetTemplate()).(*corev1.PodTemplateSpec)
	if tmpl.Metadata == nil {
		tmpl.Metadata = &metav1.ObjectMeta{}
	}
	if tmpl.Metadata.Labels == nil {
		tmpl.Metadata.Labels = map[string]string{}
	}
	tmpl.Metadata.Labels[history.ControllerRevisionHashLabel] = hash
	tmpl.Spec = podSpec(ds)
	spec := tmpl.Spec
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	if spec.Affinity.NodeAffinity == nil {
		spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := spec.Affinity.NodeAffinity
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
	}
	req := na.RequiredDuringSchedulingIgnoredDuringExecution
	field := &corev1.NodeSelectorRequirement{Key: metadataName, Operator: "In", Values: []string{node}}
	if len(req.NodeSelectorTerms) == 0 {
		req.NodeSelectorTerms = []*corev1.NodeSelectorTerm{{}}
	}
	for _, t := range req.NodeSelectorTerms {
		t.MatchFields = []*corev1.NodeSelectorRequirement{field}
	}
	return controller.PodFromTemplate(ds, tmpl)
}
