package api

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
)

// GroupPolicy is the API group of PodDisruptionBudgets and Evictions.
const GroupPolicy = "policy"

// A PodDisruptionBudget's spec.unhealthyPodEvictionPolicy: when a running
// pod that is not ready may be evicted. Unset means IfHealthyBudget.
const (
	// IfHealthyBudgetPolicy: only while the budget has at least its
	// desired healthy pods.
	IfHealthyBudgetPolicy = "IfHealthyBudget"
	// AlwaysAllowPolicy: always, whatever the budget.
	AlwaysAllowPolicy = "AlwaysAllow"
)

// The condition a PodDisruptionBudget's status carries, with its reasons,
// as in Kubernetes.
const (
	DisruptionAllowedCondition = "DisruptionAllowed"
	// SufficientPodsReason: disruptionsAllowed > 0.
	SufficientPodsReason = "SufficientPods"
	// InsufficientPodsReason: disruptionsAllowed is 0.
	InsufficientPodsReason = "InsufficientPods"
	// SyncFailedReason: the controller could not compute the status.
	SyncFailedReason = "SyncFailed"
)

// DisruptionBudgetCause is the type of the cause a refused eviction
// carries, naming the budget that refused it.
const DisruptionBudgetCause = "DisruptionBudget"

// EvictionRefusedMessage is the message of an eviction a disruption
// budget refuses (TooManyRequests), in Kubernetes' words.
const EvictionRefusedMessage = "Cannot evict pod as it would violate the pod's disruption budget."

// SetDisruptionAllowedCondition sets the DisruptionAllowed condition of
// st as Kubernetes does: True (SufficientPods) when disruptionsAllowed >
// 0, else False (InsufficientPods), or False with reason syncFailed's
// message when it is not empty. lastTransitionTime moves only when the
// status changes.
func SetDisruptionAllowedCondition(st *policyv1.PodDisruptionBudgetStatus, generation int64, now time.Time, syncFailed string) {
	c := &metav1.Condition{Type: DisruptionAllowedCondition, Status: ConditionFalse, Reason: InsufficientPodsReason, ObservedGeneration: generation}
	switch {
	case syncFailed != "":
		c.Reason, c.Message = SyncFailedReason, syncFailed
	case st.GetDisruptionsAllowed() > 0:
		c.Status, c.Reason = ConditionTrue, SufficientPodsReason
	}
	for i, old := range st.Conditions {
		if old.GetType() != DisruptionAllowedCondition {
			continue
		}
		c.LastTransitionTime = old.GetLastTransitionTime()
		if old.GetStatus() != c.Status || c.LastTransitionTime == nil {
			c.LastTransitionTime = timestamppb.New(now)
		}
		st.Conditions[i] = c
		return
	}
	c.LastTransitionTime = timestamppb.New(now)
	st.Conditions = append(st.Conditions, c)
}
