package disruption_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/disruption"
)

// TestController: against a real apiserver, a budget over the pods of a
// Deployment's ReplicaSet counts on the Deployment's replicas, follows
// its pods' readiness, and allows no disruption (SyncFailed) once it
// selects a pod without controller.
func TestController(t *testing.T) {
	e := controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := disruption.New(c, f, nil, nil)
		return func(ctx context.Context) { ctl.Run(ctx, 1) }
	})
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	tmpl := &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: sel.MatchLabels},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}
	d, err := e.Client.Deployments("default").Create(e.Ctx, &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(4), Selector: sel, Template: tmpl}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rsMeta := &metav1.ObjectMeta{Name: "web-1", OwnerReferences: []*metav1.OwnerReference{controller.NewControllerRef(d)}}
	rs, err := e.Client.ReplicaSets("default").Create(e.Ctx, &appsv1.ReplicaSet{Metadata: rsMeta,
		Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(3), Selector: sel, Template: tmpl}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	setReady := func(name string, ready bool) {
		t.Helper()
		p, err := e.Client.Pods("default").Get(e.Ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		st := map[bool]string{true: api.ConditionTrue, false: api.ConditionFalse}[ready]
		p.Status = &corev1.PodStatus{Phase: api.PodRunning, Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: st}}}
		if _, err := e.Client.Pods("default").UpdateStatus(e.Ctx, p, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mkPod := func(name string, owner *metav1.OwnerReference) {
		t.Helper()
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Labels: sel.MatchLabels}, Spec: tmpl.Spec}
		if owner != nil {
			p.Metadata.OwnerReferences = []*metav1.OwnerReference{owner}
		}
		if _, err := e.Client.Pods("default").Create(e.Ctx, p, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		setReady(name, true)
	}
	for _, n := range []string{"web-1-a", "web-1-b", "web-1-c"} {
		mkPod(n, controller.NewControllerRef(rs))
	}
	pdbs := client.For[*policyv1.PodDisruptionBudget](e.Client, "default")
	if _, err := pdbs.Create(e.Ctx, &policyv1.PodDisruptionBudget{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &policyv1.PodDisruptionBudgetSpec{MaxUnavailable: api.IntOrStringFromInt(1), Selector: sel}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	status := func(expected, desired, current, allowed int32, reason string) func() error {
		return func() error {
			b, err := pdbs.Get(e.Ctx, "web")
			if err != nil {
				return err
			}
			st := b.GetStatus()
			got := fmt.Sprintf("%d/%d/%d/%d", st.GetExpectedPods(), st.GetDesiredHealthy(), st.GetCurrentHealthy(), st.GetDisruptionsAllowed())
			if want := fmt.Sprintf("%d/%d/%d/%d", expected, desired, current, allowed); got != want || st.GetObservedGeneration() != b.GetMetadata().GetGeneration() ||
				len(st.GetConditions()) != 1 || st.GetConditions()[0].GetReason() != reason {
				return fmt.Errorf("expected/desired/current/allowed %s, conditions %v; want %s, %s", got, st.GetConditions(), want, reason)
			}
			return nil
		}
	}
	// The Deployment's 4 replicas are expected (not the ReplicaSet's 3).
	e.Eventually("the budget's status", status(4, 3, 3, 0, api.InsufficientPodsReason))
	mkPod("web-1-d", controller.NewControllerRef(rs))
	e.Eventually("a fourth ready pod", status(4, 3, 4, 1, api.SufficientPodsReason))
	setReady("web-1-a", false)
	e.Eventually("a pod not ready", status(4, 3, 3, 0, api.InsufficientPodsReason))
	mkPod("bare", nil)
	e.Eventually("a pod without controller", status(4, 3, 3, 0, api.SyncFailedReason))
}
