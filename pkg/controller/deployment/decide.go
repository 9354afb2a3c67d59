package deployment

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller"
)

// Input is what Decide decides on. Decide does not modify it.
type Input struct {
	Deployment *appsv1.Deployment
	// Owned are the ReplicaSets the Deployment controls (the claim's
	// Owned, after the adoptions).
	Owned []*appsv1.ReplicaSet
	// Pods are the pods of the Deployment's namespace; only the Recreate
	// strategy reads them (it waits for the old ReplicaSets' pods to
	// finish).
	Pods []*corev1.Pod
	Now  time.Time
}

// Scale sets a ReplicaSet's spec.replicas.
type Scale struct {
	RS       *appsv1.ReplicaSet
	Replicas int32
}

// Plan is what one sync of a Deployment does, in this order; the executor
// stops at the first step that fails (the key is retried):
//
//  1. Create the new ReplicaSet (if it exists already under that name,
//     for another template, the executor instead counts a hash collision
//     in status.collisionCount and stops), or SetRevision of the existing
//     one to the newest (a rollback to an old template), also when the
//     Deployment's annotations it carries (copyAnnotations) changed;
//  2. the Scales (all tried), then ScaleNew;
//  3. Delete the old ReplicaSets beyond revisionHistoryLimit;
//  4. write Status, then record Events.
//
// A Scale or ScaleNew of the ReplicaSet that step 1 created or updated
// applies to the object step 1 wrote. RequeueAfter, when positive, is
// when to look at the Deployment again whatever happens.
type Plan struct {
	Create      *appsv1.ReplicaSet
	SetRevision *appsv1.ReplicaSet
	// Revision is the revision SetRevision sets.
	Revision int64
	Scales   []Scale
	ScaleNew *Scale
	Delete   []*appsv1.ReplicaSet
	// Status is the new status; nil when it is unchanged.
	Status       *appsv1.DeploymentStatus
	Events       []controller.Event
	RequeueAfter time.Duration
}

// Decide plans one sync of a Deployment: the ReplicaSet of its current
// template (created with the replicas the strategy allows now, or moved
// to the newest revision), one step of the rolling update (the new
// ReplicaSet up as far as maxSurge allows, the old ones down as far as
// maxUnavailable allows, oldest revision first) or of Recreate (every old
// ReplicaSet to zero, the new one up once their pods are gone), the old
// ReplicaSets beyond revisionHistoryLimit to delete, and the status. A
// Deployment paused or being deleted only gets its status.
func Decide(in Input) Plan {
	d := in.Deployment
	var p Plan
	var newRS *appsv1.ReplicaSet
	var olds []*appsv1.ReplicaSet
	for _, rs := range in.Owned {
		if newRS == nil && sameTemplate(rs, d.GetSpec().GetTemplate()) {
			newRS = rs
		} else {
			olds = append(olds, rs)
		}
	}
	all := in.Owned
	if d.GetMetadata().GetDeletionTimestamp() == nil && !d.GetSpec().GetPaused() {
		newRS = p.ensureNew(d, newRS, olds)
		all = append([]*appsv1.ReplicaSet{newRS}, olds...)
		if d.GetSpec().GetStrategy().GetType() == api.RecreateDeploymentStrategyType {
			p.recreate(d, newRS, olds, in.Pods)
		} else {
			p.rolling(d, newRS, olds, all)
		}
		p.Delete = cleanup(d, olds)
	}
	p.status(d, newRS, all, in.Now)
	return p
}

// ensureNew plans the ReplicaSet of d's current template and returns it
// as it will be.
func (p *Plan) ensureNew(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	var maxRev int64
	for _, rs := range olds {
		maxRev = max(maxRev, revision(rs))
	}
	if newRS != nil {
		next := proto.Clone(newRS).(*appsv1.ReplicaSet)
		changed := copyAnnotations(d, next)
		rev := revision(newRS)
		if rev <= maxRev {
			rev, changed = maxRev+1, true
		}
		if !changed {
			return newRS
		}
		p.SetRevision, p.Revision = next, rev
		return next
	}
	var n int32
	if d.GetSpec().GetStrategy().GetType() != api.RecreateDeploymentStrategyType {
		n = rollingScaleUp(d, &appsv1.ReplicaSet{Spec: &appsv1.ReplicaSetSpec{Replicas: new(int32)}}, olds)
	}
	p.Create = newReplicaSet(d, TemplateHash(d.GetSpec().GetTemplate(), d.GetStatus().GetCollisionCount()), maxRev+1, n)
	p.Create.Metadata.OwnerReferences = []*metav1.OwnerReference{controller.NewControllerRef(d)}
	return p.Create
}

// rolling plans one step of a rolling update.
func (p *Plan) rolling(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds, all []*appsv1.ReplicaSet) {
	if n := rollingScaleUp(d, newRS, all); n != replicas(newRS.GetSpec().Replicas) {
		p.ScaleNew = &Scale{newRS, n} // the ReplicaSet's update brings the next step
		return
	}
	if n := replicas(d.GetSpec().Replicas); replicas(newRS.GetSpec().Replicas) > n {
		p.ScaleNew = &Scale{newRS, n} // scaled down
		return
	}
	p.Scales = rollingScaleDown(d, newRS, olds)
}

// recreate plans every old ReplicaSet to zero and, once no pod of theirs
// runs, the new one to the desired replicas.
func (p *Plan) recreate(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet, pods []*corev1.Pod) {
	oldUIDs := map[string]bool{}
	for _, rs := range olds {
		oldUIDs[rs.GetMetadata().GetUid()] = true
		if replicas(rs.GetSpec().Replicas) != 0 {
			p.Scales = append(p.Scales, Scale{rs, 0})
		}
	}
	for _, pod := range pods {
		if ref := api.ControllerRef(pod.GetMetadata()); ref != nil && oldUIDs[ref.GetUid()] {
			if phase := pod.GetStatus().GetPhase(); phase != api.PodSucceeded && phase != api.PodFailed {
				return // an old pod still runs: its deletion brings the next try
			}
		}
	}
	if n := replicas(d.GetSpec().Replicas); replicas(newRS.GetSpec().Replicas) != n {
		p.ScaleNew = &Scale{newRS, n}
	}
}

// cleanup is the oldest scaled-down ReplicaSets beyond
// revisionHistoryLimit (10 when unset), oldest first.
func cleanup(d *appsv1.Deployment, olds []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	limit := int32(10)
	if l := d.GetSpec().RevisionHistoryLimit; l != nil {
		limit = *l
	}
	var idle []*appsv1.ReplicaSet
	for _, rs := range olds {
		if replicas(rs.GetSpec().Replicas) == 0 && rs.GetStatus().GetReplicas() == 0 && rs.GetMetadata().GetDeletionTimestamp() == nil {
			idle = append(idle, rs)
		}
	}
	if int32(len(idle)) <= limit {
		return nil
	}
	sort.SliceStable(idle, func(i, j int) bool { return revision(idle[i]) < revision(idle[j]) })
	return idle[:int32(len(idle))-limit]
}

// status plans d's status, the look again when the progress deadline
// would pass, and the ProgressDeadlineExceeded event.
func (p *Plan) status(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet, now time.Time) {
	st := Status(d, newRS, all, now)
	if prog := findCondition(st, api.DeploymentProgressing); prog.GetReason() == ReasonReplicaSetUpdated {
		deadline := prog.GetLastUpdateTime().AsTime().Add(time.Duration(progressDeadline(d))*time.Second + time.Second)
		p.RequeueAfter = deadline.Sub(now)
	}
	if proto.Equal(st, d.GetStatus()) {
		return
	}
	p.Status = st
	exceeded := func(c *appsv1.DeploymentCondition) bool { return c.GetReason() == ReasonProgressDeadlineExceeded }
	if slices.ContainsFunc(st.GetConditions(), exceeded) && !slices.ContainsFunc(d.GetStatus().GetConditions(), exceeded) {
		p.Events = append(p.Events, controller.Event{Type: record.Warning, Reason: ReasonProgressDeadlineExceeded,
			Message: "Deployment has timed out progressing"})
	}
}

// scaleEvent is the event a successful scale records.
func scaleEvent(rs *appsv1.ReplicaSet, from, to int32) controller.Event {
	verb := "up"
	if to < from {
		verb = "down"
	}
	return controller.Event{Type: record.Normal, Reason: "ScalingReplicaSet",
		Message: fmt.Sprintf("Scaled %s replica set %s from %d to %d", verb, rs.GetMetadata().GetName(), from, to)}
}
