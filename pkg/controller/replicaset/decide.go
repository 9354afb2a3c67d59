package replicaset

import (
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/controller"
)

// Claim is which of a namespace's pods a ReplicaSet controls, and the
// controller-reference changes that make it so.
type Claim struct {
	// Owned are the pods it controls and its selector matches, in the
	// order given, followed by nothing else: the pods of Adopt are in
	// Owned too (an adoption that fails is taken out by the executor).
	Owned []*corev1.Pod
	// Adopt are active orphans (no controller, not being deleted) that
	// the selector matches; never planned for a ReplicaSet being deleted.
	Adopt []*corev1.Pod
	// Release are pods it controls that the selector no longer matches:
	// their controller reference is removed.
	Release []*corev1.Pod
}

// DecideClaim decides the claim of rs (whose parsed selector is sel) on
// pods, the pods of its namespace. Pods controlled by another object are
// left alone.
func DecideClaim(rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) Claim {
	uid := rs.GetMetadata().GetUid()
	var c Claim
	for _, p := range pods {
		ref := api.ControllerRef(p.GetMetadata())
		matches := sel.Matches(labels.Set(p.GetMetadata().GetLabels()))
		switch {
		case ref != nil && ref.GetUid() == uid && matches:
			c.Owned = append(c.Owned, p)
		case ref != nil && ref.GetUid() == uid:
			c.Release = append(c.Release, p)
		case ref == nil && matches && rs.GetMetadata().GetDeletionTimestamp() == nil &&
			p.GetMetadata().GetDeletionTimestamp() == nil && controller.IsPodActive(p):
			c.Adopt = append(c.Adopt, p)
			c.Owned = append(c.Owned, p)
		}
	}
	return c
}

// Input is what Decide decides on. Decide does not modify it.
type Input struct {
	RS *appsv1.ReplicaSet
	// Owned are the pods RS controls (Claim.Owned after the claim's
	// writes).
	Owned []*corev1.Pod
	// Satisfied: the informer has shown every create and delete of the
	// previous plan (see controller.Expectations). Without it nothing is
	// created or deleted.
	Satisfied bool
	Now       time.Time
}

// Plan is what one sync of a ReplicaSet does, in this order: create
// Create pods from the template, delete the pods of Delete, write Status,
// and look at the ReplicaSet again after RequeueAfter (when positive and
// the creates and deletes succeeded).
type Plan struct {
	Create int
	// Delete are the active pods to delete, the first to go first
	// (controller.LessToDelete).
	Delete []*corev1.Pod
	// Status is the new status; nil when it is unchanged.
	Status       *appsv1.ReplicaSetStatus
	RequeueAfter time.Duration
}

// Decide plans one sync: toward spec.replicas (1 when unset) active pods,
// at most BurstReplicas creates or deletes, none while earlier writes are
// unseen or the ReplicaSet is being deleted; and the status of the owned
// pods as they are now.
func Decide(in Input) Plan {
	var p Plan
	rs := in.RS
	if in.Satisfied && rs.GetMetadata().GetDeletionTimestamp() == nil {
		var active []*corev1.Pod
		for _, pod := range in.Owned {
			if controller.IsPodActive(pod) {
				active = append(active, pod)
			}
		}
		want := 1
		if n := rs.GetSpec().Replicas; n != nil {
			want = int(*n)
		}
		switch diff := len(active) - want; {
		case diff < 0:
			p.Create = min(-diff, BurstReplicas)
		case diff > 0:
			victims := slices.Clone(active)
			controller.SortToDelete(victims, in.Now)
			p.Delete = victims[:min(diff, BurstReplicas)]
		}
	}
	st, wait := Status(rs, in.Owned, in.Now)
	if !proto.Equal(st, rs.GetStatus()) {
		p.Status = st
	}
	p.RequeueAfter = wait
	return p
}

// Status is the status of rs given the pods it controls at now: replicas
// counts active pods, fullyLabeledReplicas those that carry every template
// label, readyReplicas those ready, availableReplicas those ready for
// minReadySeconds, terminatingReplicas those being deleted. wait, when
// positive, is when a ready pod will become available. Conditions are kept.
func Status(rs *appsv1.ReplicaSet, owned []*corev1.Pod, now time.Time) (*appsv1.ReplicaSetStatus, time.Duration) {
	st := &appsv1.ReplicaSetStatus{ObservedGeneration: rs.GetMetadata().GetGeneration(), Conditions: rs.GetStatus().GetConditions()}
	tmpl := labels.SelectorFromSet(rs.GetSpec().GetTemplate().GetMetadata().GetLabels())
	var terminating int32
	var wait time.Duration
	for _, p := range owned {
		if controller.IsPodTerminating(p) {
			terminating++
		}
		if !controller.IsPodActive(p) {
			continue
		}
		st.Replicas++
		if tmpl.Matches(labels.Set(p.GetMetadata().GetLabels())) {
			st.FullyLabeledReplicas++
		}
		if controller.IsPodReady(p) {
			st.ReadyReplicas++
		}
		available, w := controller.AvailableAt(p, rs.GetSpec().GetMinReadySeconds(), now)
		if available {
			st.AvailableReplicas++
		} else if w > 0 && (wait == 0 || w < wait) {
			wait = w
		}
	}
	st.TerminatingReplicas = &terminating
	return st, wait
}
