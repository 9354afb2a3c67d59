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

// DecideClaim decides the claim of rs (whose parsed selector is sel) on
// pods, the pods of its namespace: it adopts active orphans and releases
// the pods its selector no longer matches.
func DecideClaim(rs *appsv1.ReplicaSet, sel labels.Selector, pods []*corev1.Pod) controller.Claim[*corev1.Pod] {
	return controller.DecideClaim(rs.GetMetadata(), sel, pods,
		controller.ClaimOptions[*corev1.Pod]{Release: true, Adoptable: controller.IsPodActive})
}

// Input is what Decide decides on. Decide does not modify it.
type Input struct {
	RS *appsv1.ReplicaSet
	// Owned are the pods RS controls (the claim's Owned, after its
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
		if api.IsPodReady(p) {
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
