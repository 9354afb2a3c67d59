package apiserver_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	keelclient "keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

// TestEviction: pods/eviction deletes a pod its budget allows, refuses
// with TooManyRequests and a cause naming the budget when it allows none,
// lets exactly one of two concurrent evictions spend the last
// disruption, honours unhealthyPodEvictionPolicy, deletes a pod no budget
// covers, and refuses (InternalError) a pod two budgets select. A budget
// with both minAvailable and maxUnavailable is refused with its field and
// stores nothing.
func TestEviction(t *testing.T) {
	t.Parallel()
	s := testserver.StartSecure(t, nil, nil)
	s.FailOnForbidden()
	admin := s.Client(pki.AdminName)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const ns = "default"
	pods, pdbs := keelclient.For[*corev1.Pod](admin, ns), keelclient.For[*policyv1.PodDisruptionBudget](admin, ns)

	mkPod := func(name, app string, ready bool) {
		t.Helper()
		p, err := pods.Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": app}},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}, keelclient.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		status := api.ConditionFalse
		if ready {
			status = api.ConditionTrue
		}
		p.Status = &corev1.PodStatus{Phase: api.PodRunning, Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: status}}}
		if _, err := pods.UpdateStatus(ctx, p, keelclient.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// setBudget stores the budget's status as the disruption controller
	// would have computed it.
	setBudget := func(name string, allowed, current, desired int32) {
		t.Helper()
		b, err := pdbs.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		b.Status = &policyv1.PodDisruptionBudgetStatus{ObservedGeneration: b.GetMetadata().GetGeneration(),
			DisruptionsAllowed: allowed, CurrentHealthy: current, DesiredHealthy: desired, ExpectedPods: 3}
		if _, err := pdbs.UpdateStatus(ctx, b, keelclient.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	now := int64(0)
	evict := func(name string) error {
		_, err := pods.CreateSubresource(ctx, name, "eviction",
			&policyv1.Eviction{Metadata: &metav1.ObjectMeta{Name: name}, DeleteOptions: &metav1.DeleteOptions{GracePeriodSeconds: &now}}, keelclient.CreateOptions{})
		return err
	}
	gone := func(name string) bool {
		_, err := pods.Get(ctx, name)
		return apierrors.IsNotFound(err)
	}
	refusedBy := func(err error, budget string) bool {
		var e *apierrors.Error
		return errors.As(err, &e) && e.Reason == apierrors.ReasonTooManyRequests && e.Message == api.EvictionRefusedMessage &&
			len(e.Causes) == 1 && e.Causes[0].Type == api.DisruptionBudgetCause && strings.Contains(e.Causes[0].Message, "budget "+budget+" ")
	}

	// Bad input: both bounds.
	before, _ := pdbs.List(ctx, keelclient.ListOptions{})
	_, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{Metadata: &metav1.ObjectMeta{Name: "both"}, Spec: &policyv1.PodDisruptionBudgetSpec{
		MinAvailable: api.IntOrStringFromInt(1), MaxUnavailable: api.IntOrStringFromInt(1)}}, keelclient.CreateOptions{})
	var inv *apierrors.Error
	if !errors.As(err, &inv) || inv.Reason != apierrors.ReasonInvalid || len(inv.Fields) != 1 || inv.Fields[0].Field != "spec" {
		t.Fatalf("create with both bounds: %v", err)
	}
	if after, _ := pdbs.List(ctx, keelclient.ListOptions{}); len(after.Items) != len(before.Items) {
		t.Fatalf("the refused budget was stored")
	}

	for _, n := range []string{"web-0", "web-1", "web-2"} {
		mkPod(n, "web", true)
	}
	mkPod("web-sick", "web", false)
	if _, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{Metadata: &metav1.ObjectMeta{Name: "web"}, Spec: &policyv1.PodDisruptionBudgetSpec{
		MinAvailable: api.IntOrStringFromInt(2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}, keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A budget the controller has not processed yet refuses.
	if err := evict("web-0"); !refusedBy(err, "web") || !strings.Contains(apierrors.FromStatus(err).(*apierrors.Error).Causes[0].Message, "still being processed") {
		t.Fatalf("evict before the controller processed the budget: %v", err)
	}

	// Two concurrent evictions, one disruption: exactly one passes.
	setBudget("web", 1, 3, 2)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, n := range []string{"web-0", "web-1"} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = evict(n) }()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("concurrent evictions: %v, %v; want exactly one to pass", errs[0], errs[1])
	}
	evicted, refused := "web-0", errs[1]
	if errs[0] != nil {
		evicted, refused = "web-1", errs[0]
	}
	if !refusedBy(refused, "web") {
		t.Fatalf("the other eviction: %v", refused)
	}
	if !gone(evicted) {
		t.Errorf("%s not deleted", evicted)
	}
	b, err := pdbs.Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	if st := b.GetStatus(); st.GetDisruptionsAllowed() != 0 || len(st.GetDisruptedPods()) != 1 || st.GetDisruptedPods()[evicted] == nil {
		t.Errorf("budget status after the eviction: %v", st)
	}

	// Unhealthy pods: IfHealthyBudget evicts them only while the budget
	// is healthy, AlwaysAllow always; neither spends the budget.
	setBudget("web", 0, 1, 2)
	if err := evict("web-sick"); !refusedBy(err, "web") {
		t.Fatalf("evict an unready pod of an unhealthy budget: %v", err)
	}
	setBudget("web", 0, 2, 2)
	if err := evict("web-sick"); err != nil || !gone("web-sick") {
		t.Fatalf("evict an unready pod of a healthy budget: %v", err)
	}
	mkPod("web-sick2", "web", false)
	b, _ = pdbs.Get(ctx, "web")
	b.Spec.UnhealthyPodEvictionPolicy = proto.String(api.AlwaysAllowPolicy)
	if _, err := pdbs.Update(ctx, b, keelclient.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	setBudget("web", 0, 1, 2)
	if err := evict("web-sick2"); err != nil || !gone("web-sick2") {
		t.Fatalf("evict an unready pod under AlwaysAllow: %v", err)
	}
	if b, _ := pdbs.Get(ctx, "web"); b.GetStatus().GetDisruptionsAllowed() != 0 || len(b.GetStatus().GetDisruptedPods()) != 0 {
		t.Errorf("unhealthy evictions spent the budget: %v", b.GetStatus())
	}

	// No budget: a plain delete. Two budgets: an InternalError.
	mkPod("lone", "lone", true)
	if err := evict("lone"); err != nil || !gone("lone") {
		t.Fatalf("evict a pod without budget: %v", err)
	}
	if _, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{Metadata: &metav1.ObjectMeta{Name: "web-too"}, Spec: &policyv1.PodDisruptionBudgetSpec{
		MaxUnavailable: api.IntOrStringFromInt(1), Selector: &metav1.LabelSelector{}}}, keelclient.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = evict("web-2")
	if apierrors.ReasonOf(err) != apierrors.ReasonInternal || !strings.Contains(err.Error(), "more than one PodDisruptionBudget") {
		t.Fatalf("evict a pod two budgets select: %v", err)
	}
	if gone("web-2") {
		t.Error("web-2 deleted")
	}
}
