package replicaset_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/controllertest"
	"keel.dev/keel/pkg/controller/replicaset"
)

// env is a real apiserver with the ReplicaSet controller running against
// it (and no scheduler or kubelet: the test plays the kubelet's part).
type env struct{ *controllertest.Env }

func start(t *testing.T) *env {
	return &env{controllertest.Start(t, func(c *client.Client, f *informer.Factory) func(context.Context) {
		ctl := replicaset.New(c, f, nil, nil)
		return func(ctx context.Context) { ctl.Run(ctx, 2) }
	})}
}

func replicaSet(name string, replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &appsv1.ReplicaSetSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": name, "tier": "web"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

// pods lists the pods with label app=name.
func (e *env) pods(name string) []*corev1.Pod {
	e.T.Helper()
	l, err := e.Client.Pods("default").List(e.Ctx, client.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		e.T.Fatal(err)
	}
	return l.Items
}

// waitFor waits until rs has n pods it controls and its status says so.
func (e *env) waitFor(rs *appsv1.ReplicaSet, n int, ready int32) []*corev1.Pod {
	e.T.Helper()
	var owned []*corev1.Pod
	e.Eventually("the ReplicaSet converges", func() error {
		owned = nil
		for _, p := range e.pods(rs.GetMetadata().GetName()) {
			if ref := api.ControllerRef(p.GetMetadata()); ref != nil && ref.GetUid() == rs.GetMetadata().GetUid() {
				owned = append(owned, p)
			}
		}
		cur, err := e.Client.ReplicaSets("default").Get(e.Ctx, rs.GetMetadata().GetName())
		if err != nil {
			return err
		}
		st := cur.GetStatus()
		if len(owned) != n || st.GetReplicas() != int32(n) || st.GetReadyReplicas() != ready ||
			st.GetObservedGeneration() != cur.GetMetadata().GetGeneration() {
			return fmt.Errorf("%d pods controlled, status %v (generation %d); want %d pods, %d ready",
				len(owned), st, cur.GetMetadata().GetGeneration(), n, ready)
		}
		return nil
	})
	return owned
}

// setReady plays the kubelet: the pod runs, ready or not.
func (e *env) setReady(p *corev1.Pod, ready bool) {
	e.T.Helper()
	cur, err := e.Client.Pods("default").Get(e.Ctx, p.GetMetadata().GetName())
	if err != nil {
		e.T.Fatal(err)
	}
	status := map[bool]string{true: api.ConditionTrue, false: api.ConditionFalse}[ready]
	cur.Status = &corev1.PodStatus{Phase: api.PodRunning, Conditions: []*corev1.PodCondition{
		{Type: api.PodReady, Status: status, LastTransitionTime: timestamppb.Now()}}}
	if _, err := e.Client.Pods("default").UpdateStatus(e.Ctx, cur, client.UpdateOptions{}); err != nil {
		e.T.Fatal(err)
	}
}

func TestCreatesReplacesAndScales(t *testing.T) {
	e := start(t)
	rs, err := e.Client.ReplicaSets("default").Create(e.Ctx, replicaSet("web", 3), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := e.waitFor(rs, 3, 0)
	for _, p := range pods {
		m := p.GetMetadata()
		if !strings.HasPrefix(m.GetName(), "web-") || m.GetLabels()["tier"] != "web" || !api.ControllerRef(m).GetBlockOwnerDeletion() ||
			p.GetSpec().GetContainers()[0].GetImage() != "busybox" {
			t.Errorf("pod from template: %v", p)
		}
	}

	for _, p := range pods {
		e.setReady(p, true)
	}
	e.waitFor(rs, 3, 3)

	// A deleted pod is replaced.
	gone := pods[0].GetMetadata().GetName()
	zero := int64(0)
	if _, _, err := e.Client.Pods("default").Delete(e.Ctx, gone, client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	pods = e.waitFor(rs, 3, 2)
	for _, p := range pods {
		if p.GetMetadata().GetName() == gone {
			t.Fatalf("deleted pod %s still counted", gone)
		}
	}

	// Scaling down deletes the pods that are not ready first.
	var unready *corev1.Pod
	for _, p := range pods {
		if !api.IsPodReady(p) {
			unready = p
		}
	}
	if unready == nil {
		t.Fatal("the replacement pod is ready")
	}
	cur, err := e.Client.ReplicaSets("default").Get(e.Ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	cur.Spec.Replicas = &two
	if _, err := e.Client.ReplicaSets("default").Update(e.Ctx, cur, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range e.waitFor(rs, 2, 2) {
		if p.GetMetadata().GetName() == unready.GetMetadata().GetName() {
			t.Errorf("scale-down kept the unready pod %s", unready.GetMetadata().GetName())
		}
	}
}

func TestAdoptsOrphansAndReleasesMismatches(t *testing.T) {
	e := start(t)
	orphan := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "stray", Namespace: "default", Labels: map[string]string{"app": "api"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := e.Client.Pods("default").Create(e.Ctx, orphan, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs, err := e.Client.ReplicaSets("default").Create(e.Ctx, replicaSet("api", 2), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := e.waitFor(rs, 2, 0)
	adopted := false
	for _, p := range pods {
		adopted = adopted || p.GetMetadata().GetName() == "stray"
	}
	if !adopted {
		t.Fatalf("the matching orphan was not adopted: %v", pods)
	}
	if n := len(e.pods("api")); n != 2 {
		t.Fatalf("%d pods for 2 replicas with one adopted", n)
	}

	// A pod relabelled out of the selector is released and replaced.
	stray, err := e.Client.Pods("default").Get(e.Ctx, "stray")
	if err != nil {
		t.Fatal(err)
	}
	next := proto.Clone(stray).(*corev1.Pod)
	next.Metadata.Labels = map[string]string{"app": "debug"}
	if _, err := e.Client.Pods("default").Update(e.Ctx, next, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(rs, 2, 0)
	e.Eventually("the relabelled pod released", func() error {
		p, err := e.Client.Pods("default").Get(e.Ctx, "stray")
		if err != nil {
			return err
		}
		if api.ControllerRef(p.GetMetadata()) != nil {
			return fmt.Errorf("relabelled pod still controlled: %v", p.GetMetadata().GetOwnerReferences())
		}
		return nil
	})
}

func TestStatusCountsAvailabilityAfterMinReadySeconds(t *testing.T) {
	rs := replicaSet("web", 2)
	rs.Metadata.Generation = 4
	rs.Spec.MinReadySeconds = 30
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	mk := func(name string, ready bool, since time.Duration, labels map[string]string, deleting bool) *corev1.Pod {
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels}, Status: &corev1.PodStatus{Phase: api.PodRunning}}
		status := map[bool]string{true: api.ConditionTrue, false: api.ConditionFalse}[ready]
		p.Status.Conditions = []*corev1.PodCondition{{Type: api.PodReady, Status: status, LastTransitionTime: timestamppb.New(now.Add(-since))}}
		if deleting {
			p.Metadata.DeletionTimestamp = timestamppb.New(now)
		}
		return p
	}
	full := map[string]string{"app": "web", "tier": "web"}
	st, wait := replicaset.Status(rs, []*corev1.Pod{
		mk("available", true, time.Minute, full, false),
		mk("ready-10s", true, 10*time.Second, map[string]string{"app": "web"}, false),
		mk("unready", false, 0, full, false),
		mk("terminating", true, time.Hour, full, true),
	}, now)
	if st.GetReplicas() != 3 || st.GetFullyLabeledReplicas() != 2 || st.GetReadyReplicas() != 2 || st.GetAvailableReplicas() != 1 ||
		st.GetTerminatingReplicas() != 1 || st.GetObservedGeneration() != 4 {
		t.Errorf("status %v", st)
	}
	if wait != 20*time.Second {
		t.Errorf("next look in %v, want 20s (when ready-10s becomes available)", wait)
	}
}
