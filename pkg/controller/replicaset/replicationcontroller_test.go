package replicaset_test

import (
	"context"
	"fmt"
	"testing"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/replicaset"
)

// TestReplicationController: the ReplicaSet logic keeps a
// ReplicationController's replicas, through its equality selector:
// creates pods it controls, replaces a deleted one, scales down, and
// reports status.
func TestReplicationController(t *testing.T) {
	e := &env{controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := replicaset.NewReplicationController(c, f, nil, nil)
		return func(ctx context.Context) { ctl.Run(ctx, 2) }
	})}
	rcs := client.For[*corev1.ReplicationController](e.Client, "default")
	replicas := int32(3)
	rc, err := rcs.Create(e.Ctx, &corev1.ReplicationController{Metadata: &metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec: &corev1.ReplicationControllerSpec{Replicas: &replicas, Template: &corev1.PodTemplateSpec{
			Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "nginx"}},
			Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx"}}}}}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rc.GetSpec().GetSelector()["app"]; got != "nginx" {
		t.Fatalf("selector %v, want the template's labels", rc.GetSpec().GetSelector())
	}
	converge := func(n int) []*corev1.Pod {
		t.Helper()
		var owned []*corev1.Pod
		e.Eventually(fmt.Sprintf("%d pods", n), func() error {
			owned = nil
			for _, p := range e.pods("nginx") {
				ref := api.ControllerRef(p.GetMetadata())
				if ref.GetUid() == rc.GetMetadata().GetUid() && ref.GetKind() == "ReplicationController" && p.GetMetadata().GetDeletionTimestamp() == nil {
					owned = append(owned, p)
				}
			}
			cur, err := rcs.Get(e.Ctx, "nginx")
			if err != nil {
				return err
			}
			if st := cur.GetStatus(); len(owned) != n || st.GetReplicas() != int32(n) || st.GetObservedGeneration() != cur.GetMetadata().GetGeneration() {
				return fmt.Errorf("%d pods controlled, status %v", len(owned), st)
			}
			return nil
		})
		return owned
	}
	pods := converge(3)
	zero := int64(0)
	if _, _, err := e.Client.Pods("default").Delete(e.Ctx, pods[0].GetMetadata().GetName(), client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	converge(3)
	// The controller may still be writing status: a conflict is retried.
	if err := client.RetryOnConflict(client.DefaultRetry, func() error {
		cur, err := rcs.Get(e.Ctx, "nginx")
		if err != nil {
			return err
		}
		one := int32(1)
		cur.Spec.Replicas = &one
		_, err = rcs.Update(e.Ctx, cur, client.UpdateOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	converge(1)
}
