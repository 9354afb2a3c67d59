package statefulset

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/controller/history"
)

// Revision is one revision of a StatefulSet's pod template: the
// ControllerRevision's name (what pods carry under
// controller-revision-hash and status.currentRevision/updateRevision
// name) and the template it records.
type Revision struct {
	Name     string
	Template *corev1.PodTemplateSpec
}

// Input is what Decide decides on. Decide does not modify it.
type Input struct {
	Set *appsv1.StatefulSet
	// Pods are the pods Set controls.
	Pods []*corev1.Pod
	// Current is the revision status.currentRevision names (Update when
	// that is unknown); Update is the revision of spec.template.
	Current, Update Revision
	// Claims are the PersistentVolumeClaims of the set's namespace, by
	// name.
	Claims map[string]*corev1.PersistentVolumeClaim
	Now    time.Time
}

// Plan is what one sync of a StatefulSet does, in this order: write the
// owners of UpdateClaims and create CreateClaims; create the pods of
// Create (each once its claims exist); delete the pods of Delete (once
// UpdateClaims are written: a condemned pod's claims name it as their
// owner before it goes); write Status; and look again after RequeueAfter
// (when positive).
type Plan struct {
	Create []*corev1.Pod
	Delete []*corev1.Pod
	// CreateClaims are the missing claims of the pods of Create and of
	// pending pods, with the owners the retention policy gives them.
	CreateClaims []PodClaim
	// UpdateClaims are existing claims of the set's pods whose
	// ownerReferences the retention policy changes, as they are to be.
	UpdateClaims []*corev1.PersistentVolumeClaim
	// Status is the new status; nil when it is unchanged.
	Status       *appsv1.StatefulSetStatus
	RequeueAfter time.Duration
}

// Ordinal returns the ordinal of the pod named name in the StatefulSet
// named set ("web-3" → 3), and whether name is one of the set's.
func Ordinal(set, name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, set+"-")
	if !ok || rest == "" || strings.TrimLeft(rest, "0123456789") != "" || (len(rest) > 1 && rest[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

// PodName is the name of the set's pod with ordinal i.
func PodName(set string, i int) string { return fmt.Sprintf("%s-%d", set, i) }

// ClaimName is the name of the claim of template for the set's pod with
// ordinal i: TEMPLATE-SET-i.
func ClaimName(template, set string, i int) string {
	return template + "-" + PodName(set, i)
}

// NewPod is the set's pod with ordinal i from rev: named and hostnamed
// NAME-i, in the governing Service's subdomain, labelled with its name,
// ordinal and revision, with a persistentVolumeClaim volume per claim
// template (replacing a template volume of the same name), controlled by
// the set.
func NewPod(set *appsv1.StatefulSet, rev Revision, i int) *corev1.Pod {
	name := PodName(set.GetMetadata().GetName(), i)
	t := rev.Template
	spec, _ := proto.Clone(t.GetSpec()).(*corev1.PodSpec)
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	labels := maps.Clone(t.GetMetadata().GetLabels())
	if labels == nil {
		labels = map[string]string{}
	}
	labels[api.StatefulSetPodNameLabel] = name
	labels[api.PodIndexLabel] = strconv.Itoa(i)
	labels[history.ControllerRevisionHashLabel] = rev.Name
	for _, ct := range set.GetSpec().GetVolumeClaimTemplates() {
		v := &corev1.Volume{Name: ct.GetMetadata().GetName(), PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
			ClaimName: ClaimName(ct.GetMetadata().GetName(), set.GetMetadata().GetName(), i)}}
		spec.Volumes = slices.DeleteFunc(spec.Volumes, func(o *corev1.Volume) bool { return o.GetName() == v.GetName() })
		spec.Volumes = append(spec.Volumes, v)
	}
	spec.Hostname = name
	spec.Subdomain = set.GetSpec().GetServiceName()
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{
			Name:            name,
			Namespace:       set.GetMetadata().GetNamespace(),
			Labels:          labels,
			Annotations:     maps.Clone(t.GetMetadata().GetAnnotations()),
			Finalizers:      slices.Clone(t.GetMetadata().GetFinalizers()),
			OwnerReferences: []*metav1.OwnerReference{controller.NewControllerRef(set)},
		},
		Spec: spec,
	}
}

// Claims are the claims the set's pod with ordinal i uses, one per claim
// template: named ClaimName, labelled with the template's labels and the
// set's selector labels, as Kubernetes makes them.
func Claims(set *appsv1.StatefulSet, i int) []*corev1.PersistentVolumeClaim {
	var out []*corev1.PersistentVolumeClaim
	for _, ct := range set.GetSpec().GetVolumeClaimTemplates() {
		labels := maps.Clone(ct.GetMetadata().GetLabels())
		if labels == nil {
			labels = map[string]string{}
		}
		maps.Copy(labels, set.GetSpec().GetSelector().GetMatchLabels())
		out = append(out, &corev1.PersistentVolumeClaim{
			Metadata: &metav1.ObjectMeta{
				Name:        ClaimName(ct.GetMetadata().GetName(), set.GetMetadata().GetName(), i),
				Namespace:   set.GetMetadata().GetNamespace(),
				Labels:      labels,
				Annotations: maps.Clone(ct.GetMetadata().GetAnnotations()),
			},
			Spec: proto.Clone(ct.GetSpec()).(*corev1.PersistentVolumeClaimSpec),
		})
	}
	return out
}

// PodClaim is a claim to create and the name of the pod that mounts it.
type PodClaim struct {
	Pod   string
	Claim *corev1.PersistentVolumeClaim
}

// ClaimOwners returns the ownerReferences claim, one of the claims of the
// set's pod, is to have under the set's persistentVolumeClaimRetentionPolicy,
// as Kubernetes keeps them, and whether they differ from claim's.
// condemned says the pod's ordinal is no longer one of the replicas'.
//
//   - whenScaled Delete: a condemned pod controls its claims, so the
//     garbage collector deletes them once the pod is gone.
//   - whenDeleted Delete: otherwise the set controls them, so they go with
//     the set.
//   - Retain (each one's default): the references to the set and the pod
//     are removed.
//
// Other owners stay. A claim with a reference naming the set or the pod
// under another uid (left by an earlier set or pod of that name) is left
// as it is; one with another controller loses the references to the set
// and the pod and gains none.
func ClaimOwners(set *appsv1.StatefulSet, pod *corev1.Pod, condemned bool, claim *corev1.PersistentVolumeClaim) ([]*metav1.OwnerReference, bool) {
	old := claim.GetMetadata().GetOwnerReferences()
	setRef, podRef := controller.NewControllerRef(set), controller.NewControllerRef(pod)
	names := func(r, o *metav1.OwnerReference) bool {
		return r.GetApiVersion() == o.GetApiVersion() && r.GetKind() == o.GetKind() && r.GetName() == o.GetName()
	}
	var refs []*metav1.OwnerReference
	otherController := false
	for _, r := range old {
		switch {
		case names(r, setRef) && r.GetUid() != setRef.GetUid(), names(r, podRef) && r.GetUid() != podRef.GetUid():
			return old, false
		case names(r, setRef), names(r, podRef):
		default:
			refs = append(refs, r)
			otherController = otherController || r.GetController()
		}
	}
	policy := set.GetSpec().GetPersistentVolumeClaimRetentionPolicy()
	switch {
	case otherController:
	case condemned && policy.GetWhenScaled() == api.DeletePersistentVolumeClaimRetentionPolicyType:
		refs = append(refs, podRef)
	case policy.GetWhenDeleted() == api.DeletePersistentVolumeClaimRetentionPolicyType:
		refs = append(refs, setRef)
	}
	return refs, !slices.EqualFunc(old, refs, func(a, b *metav1.OwnerReference) bool { return proto.Equal(a, b) })
}

// podState is what Decide reads of one pod.
type podState struct {
	pod         *corev1.Pod
	condemned   bool // its ordinal is not a replica's
	terminating bool
	finished    bool // Succeeded or Failed: to be replaced
	available   bool // running, ready for minReadySeconds, not terminating
	wait        time.Duration
}

func (s podState) revision() string {
	return s.pod.GetMetadata().GetLabels()[history.ControllerRevisionHashLabel]
}

// Decide plans one sync of a StatefulSet, as Kubernetes' StatefulSet
// controller does:
//
//   - Ordinals start at spec.ordinals.start; the pods for
//     [start, start+replicas) are the replicas, any other is condemned.
//   - A finished (Succeeded or Failed) replica is deleted, to be
//     recreated under its name once gone; a missing one is created, from
//     the current revision when its ordinal is below the partition
//     (RollingUpdate), else from the update revision.
//   - OrderedReady goes one pod at a time: it creates the lowest missing
//     replica only when every lower one is running and available
//     (ready for minReadySeconds), and deletes condemned pods highest
//     ordinal first, one at a time, only while every other pod is
//     available. Parallel creates every missing replica and deletes every
//     condemned pod at once.
//   - RollingUpdate (once nothing is being created, and for OrderedReady
//     once every replica is available) deletes replicas at or above the
//     partition whose revision is not the update revision, highest ordinal
//     first, at most maxUnavailable (default 1) unavailable at a time;
//     they come back at the update revision. OnDelete never deletes for
//     an update.
//   - A pod is created after its claims (Claims), which are created when
//     missing, as are the missing claims of a pending pod. A pod one of
//     whose claims is being deleted is not created until the claim is
//     gone; meanwhile nothing is scaled down or updated (and OrderedReady
//     creates nothing after it).
//   - The claims of the set's pods keep the owners ClaimOwners gives
//     them.
//   - Nothing is created, deleted or changed while the set is being
//     deleted.
func Decide(in Input) Plan {
	set, spec := in.Set, in.Set.GetSpec()
	name := set.GetMetadata().GetName()
	start := int(spec.GetOrdinals().GetStart())
	replicas := int(spec.GetReplicas())
	minReady := spec.GetMinReadySeconds()
	parallel := spec.GetPodManagementPolicy() == api.ParallelPodManagement
	rolling := spec.GetUpdateStrategy().GetType() != api.OnDeleteStatefulSetStrategyType
	partition := int(spec.GetUpdateStrategy().GetRollingUpdate().GetPartition())

	slots := make([]*podState, replicas) // by ordinal - start
	var condemned []*podState
	var all []*podState
	var requeue time.Duration
	for _, p := range in.Pods {
		ord, ok := Ordinal(name, p.GetMetadata().GetName())
		if !ok {
			continue
		}
		s := &podState{pod: p, terminating: p.GetMetadata().GetDeletionTimestamp() != nil, finished: api.IsPodTerminal(p)}
		if !s.terminating && !s.finished && p.GetStatus().GetPhase() == api.PodRunning {
			s.available, s.wait = controller.AvailableAt(p, minReady, in.Now)
			if s.wait > 0 && (requeue == 0 || s.wait < requeue) {
				requeue = s.wait
			}
		}
		all = append(all, s)
		if ord >= start && ord < start+replicas {
			slots[ord-start] = s
		} else {
			s.condemned = true
			condemned = append(condemned, s)
		}
	}
	slices.SortFunc(condemned, func(a, b *podState) int {
		oa, _ := Ordinal(name, a.pod.GetMetadata().GetName())
		ob, _ := Ordinal(name, b.pod.GetMetadata().GetName())
		return ob - oa // highest first
	})

	var plan Plan
	if set.GetMetadata().GetDeletionTimestamp() == nil {
		held := plan.decideReplicas(in, slots, start, partition, rolling, parallel)
		if len(plan.Create) == 0 && len(plan.Delete) == 0 && !held {
			plan.decideCondemned(all, condemned, parallel)
		}
		if rolling && len(plan.Create) == 0 && len(plan.Delete) == 0 && !held && len(condemned) == 0 {
			plan.decideUpdate(in, all, slots, partition, spec.GetUpdateStrategy().GetRollingUpdate().GetMaxUnavailable())
		}
		plan.decideClaimOwners(in, all)
	}
	plan.RequeueAfter = requeue
	plan.Status = status(in, all)
	return plan
}

// decideReplicas plans the creates and the deletes of finished pods among
// the replicas, and the missing claims of pending ones; OrderedReady stops
// at the first replica not yet available. held reports a missing replica
// held back by a claim being deleted: until it is created, no condemned
// pod is deleted and no replica is updated.
func (p *Plan) decideReplicas(in Input, slots []*podState, start, partition int, rolling, parallel bool) (held bool) {
	for i, s := range slots {
		switch {
		case s == nil:
			rev := in.Update
			if rolling && i < partition {
				rev = in.Current
			}
			pod := NewPod(in.Set, rev, start+i)
			missing, ok := missingClaims(in, pod, start+i)
			if !ok {
				held = true
				break
			}
			p.CreateClaims = append(p.CreateClaims, missing...)
			p.Create = append(p.Create, pod)
		case s.finished && !s.terminating:
			p.Delete = append(p.Delete, s.pod)
		case !s.terminating && s.pod.GetStatus().GetPhase() == api.PodPending:
			missing, _ := missingClaims(in, s.pod, start+i)
			p.CreateClaims = append(p.CreateClaims, missing...)
		}
		if !parallel && (s == nil || !s.available) {
			return held
		}
	}
	return held
}

// missingClaims returns the claims of pod, the set's pod with ordinal
// ord, that do not exist, with the owners ClaimOwners gives them; ok is
// false when one of its claims is being deleted.
func missingClaims(in Input, pod *corev1.Pod, ord int) (missing []PodClaim, ok bool) {
	for _, c := range Claims(in.Set, ord) {
		cur, exists := in.Claims[c.GetMetadata().GetName()]
		switch {
		case !exists:
			c.Metadata.OwnerReferences, _ = ClaimOwners(in.Set, pod, false, c)
			missing = append(missing, PodClaim{Pod: pod.GetMetadata().GetName(), Claim: c})
		case cur.GetMetadata().GetDeletionTimestamp() != nil:
			return nil, false
		}
	}
	return missing, true
}

// decideClaimOwners plans the owner changes of the existing claims of the
// set's pods.
func (p *Plan) decideClaimOwners(in Input, all []*podState) {
	name := in.Set.GetMetadata().GetName()
	for _, s := range all {
		ord, _ := Ordinal(name, s.pod.GetMetadata().GetName())
		for _, ct := range in.Set.GetSpec().GetVolumeClaimTemplates() {
			cur, ok := in.Claims[ClaimName(ct.GetMetadata().GetName(), name, ord)]
			if !ok || cur.GetMetadata().GetDeletionTimestamp() != nil {
				continue
			}
			if refs, changed := ClaimOwners(in.Set, s.pod, s.condemned, cur); changed {
				next := proto.Clone(cur).(*corev1.PersistentVolumeClaim)
				next.Metadata.OwnerReferences = refs
				p.UpdateClaims = append(p.UpdateClaims, next)
			}
		}
	}
}

// decideCondemned plans the deletes of the pods beyond the replicas,
// highest ordinal first: all at once for Parallel, else one, and only
// while every other pod is available.
func (p *Plan) decideCondemned(all, condemned []*podState, parallel bool) {
	for _, s := range condemned {
		if s.terminating {
			if parallel {
				continue
			}
			return // OrderedReady: wait for it to go
		}
		if !parallel {
			for _, o := range all {
				if o != s && !o.available {
					return
				}
			}
			p.Delete = append(p.Delete, s.pod)
			return
		}
		p.Delete = append(p.Delete, s.pod)
	}
}

// decideUpdate plans a rolling update's deletes: replicas at or above the
// partition whose revision is not the update revision, highest first,
// while fewer than maxUnavailable replicas are unavailable.
func (p *Plan) decideUpdate(in Input, all, slots []*podState, partition int, maxUnavailable *metav1.IntOrString) {
	budget := 1
	if n, err := api.ScaledValue(maxUnavailable, len(slots), false); maxUnavailable != nil && err == nil {
		budget = max(1, n)
	}
	unavailable := 0
	for _, s := range all {
		if !s.available {
			unavailable++
		}
	}
	for i := len(slots) - 1; i >= partition && unavailable < budget; i-- {
		s := slots[i]
		if s.terminating || s.revision() == in.Update.Name {
			continue
		}
		p.Delete = append(p.Delete, s.pod)
		if s.available {
			unavailable++
		}
	}
}

// status is the set's status for the pods as they are now; nil when it
// is unchanged.
func status(in Input, all []*podState) *appsv1.StatefulSetStatus {
	old := in.Set.GetStatus()
	st := &appsv1.StatefulSetStatus{
		ObservedGeneration: in.Set.GetMetadata().GetGeneration(),
		CurrentRevision:    in.Current.Name,
		UpdateRevision:     in.Update.Name,
		Conditions:         old.GetConditions(),
	}
	if old != nil {
		st.CollisionCount = old.CollisionCount
	}
	for _, s := range all {
		if s.finished {
			continue
		}
		st.Replicas++
		if api.IsPodReady(s.pod) && s.pod.GetStatus().GetPhase() == api.PodRunning && !s.terminating {
			st.ReadyReplicas++
		}
		if s.available {
			st.AvailableReplicas++
		}
		if s.terminating {
			continue
		}
		if s.revision() == in.Current.Name {
			st.CurrentReplicas++
		}
		if s.revision() == in.Update.Name {
			st.UpdatedReplicas++
		}
	}
	// A rolling update is complete when every replica is updated and
	// ready: the update revision becomes the current one.
	if in.Set.GetSpec().GetUpdateStrategy().GetType() != api.OnDeleteStatefulSetStrategyType &&
		st.UpdatedReplicas == in.Set.GetSpec().GetReplicas() && st.ReadyReplicas == st.Replicas && st.Replicas == in.Set.GetSpec().GetReplicas() {
		st.CurrentRevision, st.CurrentReplicas = st.UpdateRevision, st.UpdatedReplicas
	}
	if proto.Equal(st, old) {
		return nil
	}
	return st
}
