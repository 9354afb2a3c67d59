package scheduler

import (
	"context"
	"sync"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/queue"
)

type eventKind int

const (
	podAdd eventKind = iota
	podUpdate
	podDelete
	nodeAdd
	nodeUpdate
	nodeDelete
	nsSet
	nsDelete
	storageChange
	bindDone
)

// event is one change for the loop: from an informer, or a binding's
// outcome.
type event struct {
	kind          eventKind
	gen           uint64             // the Run it belongs to
	pod           *framework.PodInfo // new state (last state for deletes)
	old           *corev1.Pod        // previous state for updates
	node, oldNode *corev1.Node
	ns            *corev1.Namespace
	storage       framework.ClusterEvent // a claim, volume or class changed
	bind          *bindResult
}

type bindResult struct {
	qp    *queue.QueuedPodInfo
	node  string
	state *framework.CycleState
	err   error
}

// inbox is an unbounded, ordered hand-off from many producers to the loop:
// push never blocks.
type inbox struct {
	mu    sync.Mutex
	items []event
	spare []event
	wake  chan struct{}
}

func (b *inbox) push(e event) {
	b.mu.Lock()
	b.items = append(b.items, e)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// take returns everything pushed so far. The returned slice is valid until
// the next take.
func (b *inbox) take() []event {
	b.mu.Lock()
	items := b.items
	b.items = b.spare[:0]
	b.mu.Unlock()
	b.spare = items
	return items
}

// drain applies every pending change to the cache and the queue.
func (s *Scheduler) drain(ctx context.Context) {
	items := s.inbox.take()
	for i := range items {
		s.apply(ctx, &items[i])
		items[i] = event{}
	}
}

func assigned(p *corev1.Pod) bool { return p.GetSpec().GetNodeName() != "" }

// responsible reports whether this scheduler should place the pod: one
// of its own, unbound, not being deleted, and with no scheduling gate
// left (a gated pod enters the queue once its last gate is removed).
func (s *Scheduler) responsible(p *corev1.Pod) bool {
	return p.GetSpec().GetSchedulerName() == s.cfg.SchedulerName && !assigned(p) && p.GetMetadata().GetDeletionTimestamp() == nil &&
		len(p.GetSpec().GetSchedulingGates()) == 0
}

func (s *Scheduler) apply(ctx context.Context, e *event) {
	if e.gen != s.gen.Load() {
		return
	}
	switch e.kind {
	case podAdd, podUpdate:
		s.onPod(e.old, e.pod)
	case podDelete:
		s.onPodDelete(e.pod)
	case nodeAdd:
		s.cache.SetNode(e.node)
		s.move(framework.NodeEvent, framework.Add, "NodeAdd")
	case nodeUpdate:
		if a := nodeChange(e.oldNode, e.node); a != 0 {
			s.cache.SetNode(e.node)
			s.move(framework.NodeEvent, a, "NodeUpdate")
		}
	case nodeDelete:
		s.cache.RemoveNode(e.node.GetMetadata().GetName())
		s.move(framework.NodeEvent, framework.Delete, "NodeDelete")
	case nsSet:
		name := e.ns.GetMetadata().GetName()
		old := s.cache.NamespaceLabels(name)
		labels := e.ns.GetMetadata().GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		s.cache.SetNamespace(name, labels)
		if old == nil {
			s.move(framework.NamespaceEvent, framework.Add, "NamespaceAdd")
		} else if !equalMaps(old, labels) {
			s.move(framework.NamespaceEvent, framework.UpdateNamespaceLabel, "NamespaceUpdate")
		}
	case nsDelete:
		s.cache.SetNamespace(e.ns.GetMetadata().GetName(), nil)
	case storageChange:
		s.queue.MoveOnEvent(e.storage)
	case bindDone:
		s.bound(ctx, e.bind)
	}
}

func (s *Scheduler) move(r framework.EventResource, a framework.ActionType, label string) {
	s.queue.MoveOnEvent(framework.ClusterEvent{Resource: r, Action: a, Label: label})
}

// onPod handles an added or updated pod.
func (s *Scheduler) onPod(old *corev1.Pod, pi *framework.PodInfo) {
	p := pi.Pod
	if assigned(p) {
		s.queue.Delete(pi.Key)
		s.nominator.delete(pi.UID)
		if api.IsPodTerminal(p) {
			if s.cache.RemovePod(pi.UID) != nil {
				s.move(framework.AssignedPodEvent, framework.Delete, "AssignedPodFinished")
			}
			return
		}
		prev := s.cache.SetPod(pi)
		switch {
		case prev == nil || old == nil || !assigned(old):
			s.move(framework.AssignedPodEvent, framework.Add, "AssignedPodAdd")
		default:
			var a framework.ActionType
			if !equalMaps(prev.Labels, pi.Labels) {
				a |= framework.UpdatePodLabel
			}
			if pi.Requests.MilliCPU < prev.Requests.MilliCPU || pi.Requests.Memory < prev.Requests.Memory {
				a |= framework.UpdatePodRequest
			}
			if a != 0 {
				s.move(framework.AssignedPodEvent, a, "AssignedPodUpdate")
			}
		}
		return
	}
	// Unassigned.
	if !s.responsible(p) {
		s.queue.Delete(pi.Key)
		s.nominator.delete(pi.UID)
		return
	}
	if s.cache.IsAssumed(pi.UID) {
		return // its binding is in flight
	}
	if old != nil && old.GetMetadata().GetUid() != pi.UID {
		s.queue.Delete(pi.Key) // the same name, a new pod
	}
	if n := p.GetStatus().GetNominatedNodeName(); n != "" {
		s.nominator.add(pi, n)
	} else {
		s.nominator.refresh(pi)
	}
	if !s.queue.Update(pi, podChanged(old, p)) {
		s.queue.Add(pi)
	}
}

func (s *Scheduler) onPodDelete(pi *framework.PodInfo) {
	s.queue.Delete(pi.Key)
	// A nominated pod that goes frees the room it held as much as a
	// placed pod does.
	nominated := s.nominator.NominatedNodeName(pi) != ""
	s.nominator.delete(pi.UID)
	if s.cache.RemovePod(pi.UID) != nil || nominated {
		s.move(framework.AssignedPodEvent, framework.Delete, "AssignedPodDelete")
	}
}

// nodeChange returns what changed between two versions of a node that
// matters for scheduling (0: nothing).
func nodeChange(old, new *corev1.Node) framework.ActionType {
	var a framework.ActionType
	if !equalQuantities(old.GetStatus().GetAllocatable(), new.GetStatus().GetAllocatable()) {
		a |= framework.UpdateNodeAllocatable
	}
	if !equalMaps(old.GetMetadata().GetLabels(), new.GetMetadata().GetLabels()) {
		a |= framework.UpdateNodeLabel
	}
	if framework.ReadyStatus(old) != framework.ReadyStatus(new) || !equalTaints(old.GetSpec().GetTaints(), new.GetSpec().GetTaints()) {
		a |= framework.UpdateNodeTaint
	}
	if old.GetSpec().GetUnschedulable() != new.GetSpec().GetUnschedulable() {
		a |= framework.UpdateNodeUnschedulable
	}
	return a
}

func equalQuantities(a, b map[string]*metav1.Quantity) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.GetString_() != w.GetString_() {
			return false
		}
	}
	return true
}

func equalTaints(a, b []*corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].GetKey() != b[i].GetKey() || a[i].GetValue() != b[i].GetValue() || a[i].GetEffect() != b[i].GetEffect() {
			return false
		}
	}
	return true
}
