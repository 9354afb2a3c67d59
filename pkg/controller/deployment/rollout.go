package deployment

import (
	"maps"
	"sort"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller/history"
)

// The reasons of a Deployment's Progressing condition, as in Kubernetes.
const (
	ReasonReplicaSetUpdated        = "ReplicaSetUpdated"
	ReasonNewReplicaSetAvailable   = "NewReplicaSetAvailable"
	ReasonProgressDeadlineExceeded = api.ProgressDeadlineExceeded
	ReasonDeploymentPaused         = "DeploymentPaused"
)

// replicas is a Deployment's or ReplicaSet's spec.replicas (1 when unset).
func replicas(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded
// down) against the desired replicas; both zero would stall, so
// maxUnavailable is then 1.
func fenceposts(d *appsv1.Deployment) (surge, unavailable int32) {
	desired := int(replicas(d.GetSpec().Replicas))
	ru := d.GetSpec().GetStrategy().GetRollingUpdate()
	scaled := func(v *metav1.IntOrString, up bool) int32 {
		if v == nil {
			v = api.IntOrStringFromString("25%")
		}
		n, err := api.ScaledValue(v, desired, up)
		if err != nil {
			return 0
		}
		return int32(n)
	}
	surge = scaled(ru.GetMaxSurge(), true)
	unavailable = scaled(ru.GetMaxUnavailable(), false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// TemplateHash is the pod-template-hash of a template: history.Hash of
// its deterministic encoding and the collision count.
func TemplateHash(t *corev1.PodTemplateSpec, collisionCount int32) string {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(t)
	return history.Hash(b, collisionCount)
}

// sameTemplate reports whether a ReplicaSet's template is the Deployment's,
// ignoring the pod-template-hash label the ReplicaSet adds, and as
// Kubernetes' semantic equality does, whether an empty message is set or
// not (`resources: {}` is no resources): Kubernetes' typed clients write
// such empty structs back (kubectl rollout undo copies a ReplicaSet's
// template so), and the template must still match its ReplicaSet.
func sameTemplate(rs *appsv1.ReplicaSet, t *corev1.PodTemplateSpec) bool {
	a := proto.Clone(rs.GetSpec().GetTemplate()).(*corev1.PodTemplateSpec)
	if a.Metadata != nil {
		delete(a.Metadata.Labels, api.DeploymentHashLabel)
		if len(a.Metadata.Labels) == 0 {
			a.Metadata.Labels = nil
		}
	}
	b := proto.Clone(t).(*corev1.PodTemplateSpec)
	if b.Metadata != nil && len(b.Metadata.Labels) == 0 {
		b.Metadata.Labels = nil
	}
	clearEmpty(a.ProtoReflect())
	clearEmpty(b.ProtoReflect())
	return proto.Equal(a, b)
}

// clearEmpty clears, at every depth of m, the message fields that hold
// an empty message (after their own empty fields are cleared), and
// reports whether m is then empty. List elements and map values are
// cleaned but kept.
func clearEmpty(m protoreflect.Message) bool {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				clearEmpty(v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				clearEmpty(mv.Message())
				return true
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			if clearEmpty(v.Message()) {
				m.Clear(fd)
			}
		}
		return true
	})
	empty := true
	m.Range(func(protoreflect.FieldDescriptor, protoreflect.Value) bool {
		empty = false
		return false
	})
	return empty
}

// revision is a ReplicaSet's revision annotation (0 if none).
func revision(rs *appsv1.ReplicaSet) int64 {
	n, _ := strconv.ParseInt(rs.GetMetadata().GetAnnotations()[api.DeploymentRevisionAnnotation], 10, 64)
	return n
}

// newReplicaSet is the ReplicaSet a Deployment rolls out to for its
// current template.
func newReplicaSet(d *appsv1.Deployment, hash string, rev int64, n int32) *appsv1.ReplicaSet {
	tmpl := proto.Clone(d.GetSpec().GetTemplate()).(*corev1.PodTemplateSpec)
	if tmpl.Metadata == nil {
		tmpl.Metadata = &metav1.ObjectMeta{}
	}
	tmpl.Metadata.Labels = maps.Clone(tmpl.Metadata.Labels)
	if tmpl.Metadata.Labels == nil {
		tmpl.Metadata.Labels = map[string]string{}
	}
	tmpl.Metadata.Labels[api.DeploymentHashLabel] = hash
	sel := proto.Clone(d.GetSpec().GetSelector()).(*metav1.LabelSelector)
	sel.MatchLabels = maps.Clone(sel.MatchLabels)
	if sel.MatchLabels == nil {
		sel.MatchLabels = map[string]string{}
	}
	sel.MatchLabels[api.DeploymentHashLabel] = hash
	labels := maps.Clone(tmpl.Metadata.Labels)
	rs := &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{
			Name:        d.GetMetadata().GetName() + "-" + hash,
			Namespace:   d.GetMetadata().GetNamespace(),
			Labels:      labels,
			Annotations: map[string]string{api.DeploymentRevisionAnnotation: strconv.FormatInt(rev, 10)},
		},
		Spec: &appsv1.ReplicaSetSpec{Replicas: &n, MinReadySeconds: d.GetSpec().GetMinReadySeconds(), Selector: sel, Template: tmpl},
	}
	copyAnnotations(d, rs)
	return rs
}

// notCopied are the annotations of a Deployment that its ReplicaSets do
// not get: those kubectl and the deployment controller own, as in
// Kubernetes.
var notCopied = map[string]bool{
	api.LastAppliedConfigAnnotation:             true,
	api.DeploymentRevisionAnnotation:            true,
	"deployment.kubernetes.io/revision-history": true,
	"deployment.kubernetes.io/desired-replicas": true,
	"deployment.kubernetes.io/max-replicas":     true,
	"deprecated.deployment.rollback.to":         true,
}

// copyAnnotations sets on the Deployment's new ReplicaSet rs the
// Deployment's annotations (kubernetes.io/change-cause, which rollout
// history shows, among them), as Kubernetes does, and reports whether rs
// changed. Annotations of rs that d lacks stay.
func copyAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	changed := false
	for k, v := range d.GetMetadata().GetAnnotations() {
		if notCopied[k] {
			continue
		}
		if cur, ok := rs.GetMetadata().GetAnnotations()[k]; ok && cur == v {
			continue
		}
		if rs.Metadata.Annotations == nil {
			rs.Metadata.Annotations = map[string]string{}
		}
		rs.Metadata.Annotations[k] = v
		changed = true
	}
	return changed
}

// rollingScaleUp is how many replicas the new ReplicaSet may have now:
// toward the desired count, without the total of every ReplicaSet's
// spec.replicas passing desired + maxSurge.
func rollingScaleUp(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet) int32 {
	desired := replicas(d.GetSpec().Replicas)
	cur := replicas(newRS.GetSpec().Replicas)
	if cur >= desired {
		return desired
	}
	surge, _ := fenceposts(d)
	var total int32
	for _, rs := range all {
		total += replicas(rs.GetSpec().Replicas)
	}
	room := desired + surge - total
	if room <= 0 {
		return cur
	}
	return cur + min(room, desired-cur)
}

// rollingScaleDown is the spec.replicas each old ReplicaSet may go down to
// now, as Kubernetes computes it: first the old ReplicaSets' unavailable
// pods (at most all pods − minAvailable − the new ReplicaSet's unavailable
// ones, in case those never come up), then available ones while more than
// desired − maxUnavailable pods stay available; oldest revision first. It
// returns only the ReplicaSets that change, oldest revision first.
func rollingScaleDown(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) []Scale {
	desired := replicas(d.GetSpec().Replicas)
	_, unavailable := fenceposts(d)
	minAvailable := desired - unavailable
	var total, available, newUnavailable int32
	if newRS != nil {
		total += replicas(newRS.GetSpec().Replicas)
		available += newRS.GetStatus().GetAvailableReplicas()
		newUnavailable = max(0, replicas(newRS.GetSpec().Replicas)-newRS.GetStatus().GetAvailableReplicas())
	}
	for _, rs := range olds {
		total += replicas(rs.GetSpec().Replicas)
		available += rs.GetStatus().GetAvailableReplicas()
	}
	sorted := append([]*appsv1.ReplicaSet(nil), olds...)
	sort.SliceStable(sorted, func(i, j int) bool { return revision(sorted[i]) < revision(sorted[j]) })
	target := map[*appsv1.ReplicaSet]int32{}
	for _, rs := range sorted {
		target[rs] = replicas(rs.GetSpec().Replicas)
	}
	if cleanup := total - minAvailable - newUnavailable; cleanup > 0 {
		for _, rs := range sorted {
			unhealthy := target[rs] - rs.GetStatus().GetAvailableReplicas()
			cut := min(max(unhealthy, 0), cleanup)
			target[rs] -= cut
			cleanup -= cut
		}
	}
	budget := available - minAvailable
	for _, rs := range sorted {
		cut := min(target[rs], max(budget, 0))
		target[rs] -= cut
		budget -= cut
	}
	var out []Scale
	for _, rs := range sorted {
		if target[rs] != replicas(rs.GetSpec().Replicas) {
			out = append(out, Scale{rs, target[rs]})
		}
	}
	return out
}

// Status is a Deployment's status from its ReplicaSets at now. Conditions
// keep the times of d's current ones while unchanged; Progressing's
// lastUpdateTime moves whenever the counts do.
func Status(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, all []*appsv1.ReplicaSet, now time.Time) *appsv1.DeploymentStatus {
	old := d.GetStatus()
	st := &appsv1.DeploymentStatus{ObservedGeneration: d.GetMetadata().GetGeneration()}
	if old != nil {
		st.CollisionCount = old.CollisionCount
	}
	var terminating int32
	for _, rs := range all {
		st.Replicas += rs.GetStatus().GetReplicas()
		st.ReadyReplicas += rs.GetStatus().GetReadyReplicas()
		st.AvailableReplicas += rs.GetStatus().GetAvailableReplicas()
		terminating += rs.GetStatus().GetTerminatingReplicas()
	}
	st.TerminatingReplicas = &terminating
	if newRS != nil {
		st.UpdatedReplicas = newRS.GetStatus().GetReplicas()
	}
	desired := replicas(d.GetSpec().Replicas)
	st.UnavailableReplicas = max(0, desired-st.AvailableReplicas)

	_, maxUnavailable := fenceposts(d)
	if d.GetSpec().GetStrategy().GetType() == api.RecreateDeploymentStrategyType {
		maxUnavailable = desired
	}
	avail := condition(old, api.DeploymentAvailable, api.ConditionFalse, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now)
	if st.AvailableReplicas >= desired-maxUnavailable {
		avail = condition(old, api.DeploymentAvailable, api.ConditionTrue, "MinimumReplicasAvailable", "Deployment has minimum availability.", now)
	}
	progressed := old.GetReplicas() != st.Replicas || old.GetUpdatedReplicas() != st.UpdatedReplicas ||
		old.GetAvailableReplicas() != st.AvailableReplicas || old.GetReadyReplicas() != st.ReadyReplicas
	complete := newRS != nil && st.UpdatedReplicas == desired && st.Replicas == desired && st.AvailableReplicas == desired &&
		replicas(newRS.GetSpec().Replicas) == desired
	var prog *appsv1.DeploymentCondition
	name := ""
	if newRS != nil {
		name = newRS.GetMetadata().GetName()
	}
	switch {
	case d.GetSpec().GetPaused():
		prog = condition(old, api.DeploymentProgressing, api.ConditionUnknown, ReasonDeploymentPaused, "Deployment is paused", now)
	case complete:
		prog = condition(old, api.DeploymentProgressing, api.ConditionTrue, ReasonNewReplicaSetAvailable, "ReplicaSet \""+name+"\" has successfully progressed.", now)
	case progressed || findCondition(old, api.DeploymentProgressing) == nil:
		prog = condition(old, api.DeploymentProgressing, api.ConditionTrue, ReasonReplicaSetUpdated, "ReplicaSet \""+name+"\" is progressing.", now)
		prog.LastUpdateTime = timestamppb.New(now)
	default:
		prog = proto.Clone(findCondition(old, api.DeploymentProgressing)).(*appsv1.DeploymentCondition)
		deadline := time.Duration(progressDeadline(d)) * time.Second
		if prog.GetStatus() == api.ConditionTrue && prog.GetReason() != ReasonNewReplicaSetAvailable && now.Sub(prog.GetLastUpdateTime().AsTime()) > deadline {
			prog = condition(old, api.DeploymentProgressing, api.ConditionFalse, ReasonProgressDeadlineExceeded, "ReplicaSet \""+name+"\" has timed out progressing.", now)
		}
	}
	st.Conditions = []*appsv1.DeploymentCondition{avail, prog}
	return st
}

// progressDeadline is spec.progressDeadlineSeconds (600 when unset).
func progressDeadline(d *appsv1.Deployment) int32 {
	if p := d.GetSpec().ProgressDeadlineSeconds; p != nil {
		return *p
	}
	return 600
}

func findCondition(st *appsv1.DeploymentStatus, typ string) *appsv1.DeploymentCondition {
	for _, c := range st.GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// condition is a condition with the given state, keeping the times of the
// existing one when its status and reason are unchanged.
func condition(st *appsv1.DeploymentStatus, typ, status, reason, message string, now time.Time) *appsv1.DeploymentCondition {
	c := &appsv1.DeploymentCondition{Type: typ, Status: status, Reason: reason, Message: message,
		LastUpdateTime: timestamppb.New(now), LastTransitionTime: timestamppb.New(now)}
	if prev := findCondition(st, typ); prev != nil {
		if prev.GetStatus() == status {
			c.LastTransitionTime = prev.GetLastTransitionTime()
		}
		if prev.GetStatus() == status && prev.GetReason() == reason {
			c.LastUpdateTime = prev.GetLastUpdateTime()
		}
	}
	return c
}
