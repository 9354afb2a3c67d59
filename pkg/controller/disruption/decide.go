package disruption

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/controller"
)

// DeletionTimeout is how long an eviction recorded in a budget's
// status.disruptedPods counts against the pod's health: an entry whose
// pod is still not deleted after it is dropped, as in Kubernetes.
const DeletionTimeout = 2 * time.Minute

// Scale is the scale of a pod's controller: the workload whose replicas
// the pod counts towards (a ReplicaSet's Deployment, when it has one).
type Scale struct {
	UID      string
	Replicas int32
}

// Input is what Decide needs about one budget.
type Input struct {
	PDB *policyv1.PodDisruptionBudget
	// Pods are the pods of the budget's namespace its selector selects.
	Pods []*corev1.Pod
	// Scales holds, by pod name, the scale of each pod's controller; a
	// pod without controller, or whose controller is not found, has no
	// entry. Only read when the budget counts on its controllers
	// (maxUnavailable, or a percentage minAvailable).
	Scales map[string]Scale
	Now    time.Time
}

// Plan is what to do for one budget.
type Plan struct {
	// Status is the budget's new status; nil when it is unchanged.
	Status *policyv1.PodDisruptionBudgetStatus
	// RecheckAfter, when positive, is when the budget must be computed
	// again: its oldest disruptedPods entry expires then.
	RecheckAfter time.Duration
	Events       []controller.Event
}

// Decide computes a budget's status, as Kubernetes' disruption controller:
//   - expectedPods: with an integer minAvailable, the selected pods;
//     otherwise the sum of the replicas of the pods' controllers (each
//     counted once), which every selected pod must have;
//   - desiredHealthy: minAvailable (a percentage of expectedPods rounded
//     up), or expectedPods minus maxUnavailable (likewise), at least 0;
//   - currentHealthy: the selected pods that are ready and not being
//     deleted, less those evicted in the last DeletionTimeout
//     (disruptedPods);
//   - disruptionsAllowed: currentHealthy - desiredHealthy, at least 0,
//     and 0 when no pods are expected;
//   - disruptedPods: the entries of selected pods not being deleted and
//     not older than DeletionTimeout;
//   - the DisruptionAllowed condition and observedGeneration.
//
// When expectedPods cannot be computed the status allows no disruption
// (condition reason SyncFailed) and a Warning event says why.
func Decide(in Input) Plan {
	pdb := in.PDB
	spec := pdb.GetSpec()
	var plan Plan
	if len(in.Pods) == 0 {
		plan.Events = append(plan.Events, controller.Event{Type: record.Normal, Reason: "NoPods", Message: "No matching pods found"})
	}
	next := &policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.GetMetadata().GetGeneration(),
		Conditions: cloneConditions(pdb.GetStatus())}
	expected, desired, err := expectedAndDesired(spec, in.Pods, in.Scales)
	if err != nil {
		plan.Events = append(plan.Events, controller.Event{Type: record.Warning, Reason: "CalculateExpectedPodCountFailed",
			Message: fmt.Sprintf("Failed to calculate the number of expected pods: %v", err)})
		next.DisruptedPods = pdb.GetStatus().GetDisruptedPods()
		next.CurrentHealthy, next.DesiredHealthy, next.ExpectedPods = pdb.GetStatus().GetCurrentHealthy(), pdb.GetStatus().GetDesiredHealthy(), pdb.GetStatus().GetExpectedPods()
		api.SetDisruptionAllowedCondition(next, next.ObservedGeneration, in.Now, err.Error())
		return withStatus(plan, pdb, next)
	}
	disrupted, recheck := disruptedPods(pdb.GetStatus().GetDisruptedPods(), in.Pods, in.Now)
	plan.RecheckAfter = recheck
	next.DisruptedPods = disrupted
	next.ExpectedPods, next.DesiredHealthy = expected, desired
	for _, p := range in.Pods {
		if p.GetMetadata().GetDeletionTimestamp() == nil && api.IsPodReady(p) && disrupted[p.GetMetadata().GetName()] == nil {
			next.CurrentHealthy++
		}
	}
	if expected > 0 && next.CurrentHealthy > desired {
		next.DisruptionsAllowed = next.CurrentHealthy - desired
	}
	api.SetDisruptionAllowedCondition(next, next.ObservedGeneration, in.Now, "")
	return withStatus(plan, pdb, next)
}

// withStatus sets plan.Status to next unless it equals the budget's.
func withStatus(plan Plan, pdb *policyv1.PodDisruptionBudget, next *policyv1.PodDisruptionBudgetStatus) Plan {
	if len(next.DisruptedPods) == 0 {
		next.DisruptedPods = nil
	}
	if !proto.Equal(next, pdb.GetStatus()) {
		plan.Status = next
	}
	return plan
}

func cloneConditions(st *policyv1.PodDisruptionBudgetStatus) []*metav1.Condition {
	var out []*metav1.Condition
	for _, c := range st.GetConditions() {
		out = append(out, proto.Clone(c).(*metav1.Condition))
	}
	return out
}

// expectedAndDesired returns expectedPods and desiredHealthy.
func expectedAndDesired(spec *policyv1.PodDisruptionBudgetSpec, pods []*corev1.Pod, scales map[string]Scale) (expected, desired int32, err error) {
	switch {
	case spec.GetMaxUnavailable() != nil:
		if expected, err = expectedScale(pods, scales); err != nil {
			return 0, 0, err
		}
		n, err := api.ScaledValue(spec.GetMaxUnavailable(), int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, max(expected-int32(n), 0), nil
	case spec.GetMinAvailable() != nil && !api.IsIntOrStringString(spec.GetMinAvailable()):
		return int32(len(pods)), spec.GetMinAvailable().GetIntVal(), nil
	case spec.GetMinAvailable() != nil:
		if expected, err = expectedScale(pods, scales); err != nil {
			return 0, 0, err
		}
		n, err := api.ScaledValue(spec.GetMinAvailable(), int(expected), true)
		if err != nil {
			return 0, 0, err
		}
		return expected, int32(n), nil
	}
	// Neither bound: the budget allows no disruption.
	return int32(len(pods)), int32(len(pods)), nil
}

// expectedScale sums the replicas of the pods' controllers, each once.
func expectedScale(pods []*corev1.Pod, scales map[string]Scale) (int32, error) {
	seen := map[string]bool{}
	var total int32
	for _, p := range pods {
		if api.ControllerRef(p.GetMetadata()) == nil {
			return 0, fmt.Errorf("found no controller ref for pod %q", p.GetMetadata().GetName())
		}
		s, ok := scales[p.GetMetadata().GetName()]
		if !ok {
			return 0, fmt.Errorf("found no controllers for pod %q", p.GetMetadata().GetName())
		}
		if !seen[s.UID] {
			seen[s.UID] = true
			total += s.Replicas
		}
	}
	return total, nil
}

// disruptedPods keeps the entries of old whose pod is selected, not being
// deleted and evicted less than DeletionTimeout ago; recheck is when the
// first kept entry expires (0 when none is kept).
func disruptedPods(old map[string]*timestamppb.Timestamp, pods []*corev1.Pod, now time.Time) (map[string]*timestamppb.Timestamp, time.Duration) {
	out := map[string]*timestamppb.Timestamp{}
	var recheck time.Duration
	for _, p := range pods {
		name := p.GetMetadata().GetName()
		t, ok := old[name]
		if !ok || p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		left := t.AsTime().Add(DeletionTimeout).Sub(now)
		if left <= 0 {
			continue
		}
		out[name] = t
		if recheck == 0 || left < recheck {
			recheck = left
		}
	}
	return out, recheck
}
