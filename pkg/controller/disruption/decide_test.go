package disruption_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/controller/disruption"
)

var now = time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)

func pod(name string, ready bool, owner string) *corev1.Pod {
	st := api.ConditionFalse
	if ready {
		st = api.ConditionTrue
	}
	p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name},
		Status: &corev1.PodStatus{Phase: api.PodRunning, Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: st}}}}
	if owner != "" {
		yes := true
		p.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: owner, Uid: owner, Controller: &yes}}
	}
	return p
}

func deleting(p *corev1.Pod) *corev1.Pod {
	p.Metadata.DeletionTimestamp = timestamppb.New(now)
	return p
}

func budget(min, maxUnavailable *metav1.IntOrString, disrupted map[string]time.Duration) *policyv1.PodDisruptionBudget {
	b := &policyv1.PodDisruptionBudget{Metadata: &metav1.ObjectMeta{Name: "web", Generation: 2},
		Spec: &policyv1.PodDisruptionBudgetSpec{MinAvailable: min, MaxUnavailable: maxUnavailable, Selector: &metav1.LabelSelector{}}}
	if disrupted != nil {
		b.Status = &policyv1.PodDisruptionBudgetStatus{DisruptedPods: map[string]*timestamppb.Timestamp{}}
		for name, ago := range disrupted {
			b.Status.DisruptedPods[name] = timestamppb.New(now.Add(-ago))
		}
	}
	return b
}

// TestDecide: the status of a budget from its pods and their controllers'
// scales, as Kubernetes computes it.
func TestDecide(t *testing.T) {
	i, s := api.IntOrStringFromInt, api.IntOrStringFromString
	three := func(ready ...bool) []*corev1.Pod {
		return []*corev1.Pod{pod("a", ready[0], "rs"), pod("b", ready[1], "rs"), pod("c", ready[2], "rs")}
	}
	rsScale := func(n int32) map[string]disruption.Scale {
		return map[string]disruption.Scale{"a": {UID: "rs", Replicas: n}, "b": {UID: "rs", Replicas: n}, "c": {UID: "rs", Replicas: n}}
	}
	for _, tc := range []struct {
		name   string
		pdb    *policyv1.PodDisruptionBudget
		pods   []*corev1.Pod
		scales map[string]disruption.Scale
		// want: expected, desired, current, allowed; condition reason.
		expected, desired, current, allowed int32
		reason                              string
		disrupted                           []string
		recheck                             time.Duration
	}{
		{name: "minAvailable int", pdb: budget(i(2), nil, nil), pods: three(true, true, true),
			expected: 3, desired: 2, current: 3, allowed: 1, reason: api.SufficientPodsReason},
		{name: "minAvailable int, one unready", pdb: budget(i(2), nil, nil), pods: three(true, false, true),
			expected: 3, desired: 2, current: 2, allowed: 0, reason: api.InsufficientPodsReason},
		{name: "minAvailable percent of the scale, rounded up", pdb: budget(s("50%"), nil, nil), pods: three(true, true, true), scales: rsScale(5),
			expected: 5, desired: 3, current: 3, allowed: 0, reason: api.InsufficientPodsReason},
		{name: "maxUnavailable int", pdb: budget(nil, i(1), nil), pods: three(true, true, true), scales: rsScale(3),
			expected: 3, desired: 2, current: 3, allowed: 1, reason: api.SufficientPodsReason},
		{name: "maxUnavailable percent rounded up", pdb: budget(nil, s("34%"), nil), pods: three(true, true, true), scales: rsScale(3),
			expected: 3, desired: 1, current: 3, allowed: 2, reason: api.SufficientPodsReason},
		{name: "two controllers counted once each", pdb: budget(nil, i(1), nil),
			pods:     []*corev1.Pod{pod("a", true, "x"), pod("b", true, "x"), pod("c", true, "y")},
			scales:   map[string]disruption.Scale{"a": {UID: "x", Replicas: 2}, "b": {UID: "x", Replicas: 2}, "c": {UID: "y", Replicas: 1}},
			expected: 3, desired: 2, current: 3, allowed: 1, reason: api.SufficientPodsReason},
		{name: "terminating pods are not healthy", pdb: budget(i(1), nil, nil), pods: []*corev1.Pod{pod("a", true, ""), deleting(pod("b", true, ""))},
			expected: 2, desired: 1, current: 1, allowed: 0, reason: api.InsufficientPodsReason},
		{name: "a recent eviction counts against health", pdb: budget(i(1), nil, map[string]time.Duration{"a": 30 * time.Second}),
			pods: three(true, true, true), expected: 3, desired: 1, current: 2, allowed: 1, reason: api.SufficientPodsReason,
			disrupted: []string{"a"}, recheck: 90 * time.Second},
		{name: "an eviction expires after 2 minutes", pdb: budget(i(1), nil, map[string]time.Duration{"a": 3 * time.Minute, "gone": time.Second}),
			pods: three(true, true, true), expected: 3, desired: 1, current: 3, allowed: 2, reason: api.SufficientPodsReason},
		{name: "no pods", pdb: budget(nil, i(1), nil), expected: 0, desired: 0, current: 0, allowed: 0, reason: api.InsufficientPodsReason},
		{name: "maxUnavailable with a pod without controller", pdb: budget(nil, i(1), nil), pods: []*corev1.Pod{pod("a", true, "")},
			reason: api.SyncFailedReason},
		{name: "percent with a controller not found", pdb: budget(s("50%"), nil, nil), pods: three(true, true, true),
			reason: api.SyncFailedReason},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := disruption.Decide(disruption.Input{PDB: tc.pdb, Pods: tc.pods, Scales: tc.scales, Now: now})
			st := plan.Status
			if st == nil {
				t.Fatal("no status")
			}
			if st.GetExpectedPods() != tc.expected || st.GetDesiredHealthy() != tc.desired || st.GetCurrentHealthy() != tc.current || st.GetDisruptionsAllowed() != tc.allowed {
				t.Errorf("expected/desired/current/allowed = %d/%d/%d/%d, want %d/%d/%d/%d", st.GetExpectedPods(), st.GetDesiredHealthy(),
					st.GetCurrentHealthy(), st.GetDisruptionsAllowed(), tc.expected, tc.desired, tc.current, tc.allowed)
			}
			if st.GetObservedGeneration() != 2 {
				t.Errorf("observedGeneration %d", st.GetObservedGeneration())
			}
			if c := st.GetConditions(); len(c) != 1 || c[0].GetType() != api.DisruptionAllowedCondition || c[0].GetReason() != tc.reason ||
				(c[0].GetStatus() == api.ConditionTrue) != (tc.reason == api.SufficientPodsReason) {
				t.Errorf("conditions %v, want reason %s", c, tc.reason)
			}
			if len(st.GetDisruptedPods()) != len(tc.disrupted) {
				t.Errorf("disruptedPods %v, want %v", st.GetDisruptedPods(), tc.disrupted)
			}
			for _, n := range tc.disrupted {
				if st.GetDisruptedPods()[n] == nil {
					t.Errorf("disruptedPods %v lacks %s", st.GetDisruptedPods(), n)
				}
			}
			if plan.RecheckAfter != tc.recheck {
				t.Errorf("recheck after %v, want %v", plan.RecheckAfter, tc.recheck)
			}
			if tc.reason == api.SyncFailedReason && (len(plan.Events) == 0 || plan.Events[len(plan.Events)-1].Reason != "CalculateExpectedPodCountFailed") {
				t.Errorf("events %v", plan.Events)
			}
		})
	}
}

// TestDecideUnchanged: a budget whose status is already right is not
// written again.
func TestDecideUnchanged(t *testing.T) {
	in := disruption.Input{PDB: budget(api.IntOrStringFromInt(1), nil, nil), Pods: []*corev1.Pod{pod("a", true, ""), pod("b", true, "")}, Now: now}
	in.PDB.Status = disruption.Decide(in).Status
	in.Now = now.Add(time.Hour)
	if plan := disruption.Decide(in); plan.Status != nil {
		t.Errorf("status written again: %v", plan.Status)
	}
}
