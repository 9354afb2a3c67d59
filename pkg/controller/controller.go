// Package controller holds what Keel's reconcilers share: controller
// references (the owner reference with controller: true), pod readiness
// and ordering, and expectations, which keep a controller from acting twice
// on a cache that has not yet seen its own writes.
//
// Every controller follows one skeleton: informer handlers only enqueue
// keys ("namespace/name"); workers (workqueue.Run) call a sync function that
// reads the informers' caches, never modifies what it reads (it copies
// first), and writes through the client. A sync that finds its object gone
// succeeds; any other error re-queues the key with back-off.
package controller

import (
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/scheme"
)

// NewControllerRef is the owner reference that makes owner (a registered
// kind) the controller of what carries it: controller and
// blockOwnerDeletion set, as Kubernetes' controllers write it.
func NewControllerRef(owner proto.Message) *metav1.OwnerReference {
	k, ok := scheme.ByMessage(owner)
	if !ok {
		panic("controller: owner of an unregistered kind")
	}
	m := scheme.Meta(owner)
	t := true
	return &metav1.OwnerReference{ApiVersion: k.APIVersion(), Kind: k.Kind, Name: m.GetName(), Uid: m.GetUid(),
		Controller: &t, BlockOwnerDeletion: &t}
}

// IsPodActive reports whether the pod counts toward its controller's
// replicas: not finished and not being deleted.
func IsPodActive(p *corev1.Pod) bool {
	return !api.IsPodTerminal(p) && p.GetMetadata().GetDeletionTimestamp() == nil
}

// IsPodTerminating reports whether the pod is being deleted but not yet
// finished.
func IsPodTerminating(p *corev1.Pod) bool {
	return p.GetMetadata().GetDeletionTimestamp() != nil && !api.IsPodTerminal(p)
}

// podReadySince returns when the pod's Ready condition turned True, and
// whether it is ready.
func podReadySince(p *corev1.Pod) (time.Time, bool) {
	c := api.GetPodCondition(p.GetStatus(), api.PodReady)
	if c.GetStatus() != api.ConditionTrue {
		return time.Time{}, false
	}
	return c.GetLastTransitionTime().AsTime(), true
}

// AvailableAt reports whether the pod has been ready for at least
// minReadySeconds at now; when it is ready but not yet available, wait is
// how long until it will be.
func AvailableAt(p *corev1.Pod, minReadySeconds int32, now time.Time) (available bool, wait time.Duration) {
	since, ready := podReadySince(p)
	if !ready {
		return false, 0
	}
	min := time.Duration(minReadySeconds) * time.Second
	if min == 0 || !since.Add(min).After(now) {
		return true, 0
	}
	return false, since.Add(min).Sub(now)
}

// phaseRank orders phases for LessToDelete (others rank with Pending).
var phaseRank = map[string]int{api.PodPending: 0, api.PodUnknown: 1, api.PodRunning: 2}

// SortToDelete sorts pods (stably) in LessToDelete's order: the ones to
// delete first come first.
func SortToDelete(pods []*corev1.Pod, now time.Time) {
	slices.SortStableFunc(pods, func(a, b *corev1.Pod) int {
		switch {
		case LessToDelete(a, b, now):
			return -1
		case LessToDelete(b, a, now):
			return 1
		}
		return 0
	})
}

// LessToDelete orders pods so that the ones to delete first come first, as
// Kubernetes' ReplicaSet controller does: unscheduled before scheduled,
// Pending before Unknown before Running, not ready before ready, ready for
// less time before ready for longer, more container restarts before
// fewer, newer before older.
func LessToDelete(a, b *corev1.Pod, now time.Time) bool {
	if (a.GetSpec().GetNodeName() == "") != (b.GetSpec().GetNodeName() == "") {
		return a.GetSpec().GetNodeName() == ""
	}
	if ra, rb := phaseRank[a.GetStatus().GetPhase()], phaseRank[b.GetStatus().GetPhase()]; ra != rb {
		return ra < rb
	}
	sa, ra := podReadySince(a)
	sb, rb := podReadySince(b)
	if ra != rb {
		return !ra
	}
	if ra && !sa.Equal(sb) {
		return sa.After(sb)
	}
	if ca, cb := restarts(a), restarts(b); ca != cb {
		return ca > cb
	}
	ta, tb := a.GetMetadata().GetCreationTimestamp().AsTime(), b.GetMetadata().GetCreationTimestamp().AsTime()
	if !ta.Equal(tb) {
		return ta.After(tb)
	}
	return a.GetMetadata().GetName() < b.GetMetadata().GetName()
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, s := range p.GetStatus().GetContainerStatuses() {
		n = max(n, s.GetRestartCount())
	}
	return n
}

// Event is an Event a plan records about the object it is for.
type Event struct {
	Type    string // record.Normal or record.Warning
	Reason  string
	Message string
}

// RecordEvents records events about obj; rec may be nil (no events).
func RecordEvents(rec record.EventRecorder, obj proto.Message, events ...Event) {
	if rec == nil {
		return
	}
	for _, e := range events {
		rec.Eventf(obj, e.Type, e.Reason, "%s", e.Message)
	}
}
