package replicaset_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/controller/replicaset"
)

// env is a real apiserver with the ReplicaSet controller running against
// it (and no scheduler or kubelet: the test plays the kubelet's part).
type env struct {
	t   *testing.T
	ctx context.Context
	c   *client.Client
}

func start(t *testing.T) *env {
	_, a := testserver.StartAll(t, nil)
	c, err := client.New(client.Options{Servers: []string{a.Addr}, Insecure: true, UserAgent: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	f := informer.NewFactory(c, 0)
	ctl := replicaset.New(c, f, nil, nil)
	f.Start(ctx)
	done := make(chan struct{})
	go func() { ctl.Run(ctx, 2); close(done) }()
	t.Cleanup(func() { cancel(); <-done; f.Shutdown() })
	return &env{t: t, ctx: ctx, c: c}
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

// eventually retries cond until it returns nil or 30s pass.
func (e *env) eventually(cond func() error) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pods lists the pods with label app=name.
func (e *env) pods(name string) []*corev1.Pod {
	e.t.Helper()
	l, err := e.c.Pods("default").List(e.ctx, client.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	return l.Items
}

// waitFor waits until rs has n pods it controls and its status says so.
func (e *env) waitFor(rs *appsv1.ReplicaSet, n int, ready int32) []*corev1.Pod {
	e.t.Helper()
	var owned []*corev1.Pod
	e.eventually(func() error {
		owned = nil
		for _, p := range e.pods(rs.GetMetadata().GetName()) {
			if ref := controller.ControllerRef(p.GetMetadata()); ref != nil && ref.GetUid() == rs.GetMetadata().GetUid() {
				owned = append(owned, p)
			}
		}
		cur, err := e.c.ReplicaSets("default").Get(e.ctx, rs.GetMetadata().GetName())
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
	e.t.Helper()
	cur, err := e.c.Pods("default").Get(e.ctx, p.GetMetadata().GetName())
	if err != nil {
		e.t.Fatal(err)
	}
	status := map[bool]string{true: "True", false: "False"}[ready]
	cur.Status = &corev1.PodStatus{Phase: "Running", Conditions: []*corev1.PodCondition{
		{Type: "Ready", Status: status, LastTransitionTime: timestamppb.Now()}}}
	if _, err := e.c.Pods("default").UpdateStatus(e.ctx, cur, client.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func TestCreatesReplacesAndScales(t *testing.T) {
	e := start(t)
	rs, err := e.c.ReplicaSets("default").Create(e.ctx, replicaSet("web", 3), client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pods := e.waitFor(rs, 3, 0)
	for _, p := range pods {
		m := p.GetMetadata()
		if !strings.HasPrefix(m.GetName(), "web-") || m.GetLabels()["tier"] != "web" || !controller.ControllerRef(m).GetBlockOwnerDeletion() ||
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
	if _, _, err := e.c.Pods("default").Delete(e.ctx, gone, client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
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
		if !controller.IsPodReady(p) {
			unready = p
		}
	}
	if unready == nil {
		t.Fatal("the replacement pod is ready")
	}
	cur, err := e.c.ReplicaSets("default").Get(e.ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	two := int32(2)
	cur.Spec.Replicas = &two
	if _, err := e.c.ReplicaSets("default").Update(e.ctx, cur, client.UpdateOptions{}); err != nil {
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
	if _, err := e.c.Pods("default").Create(e.ctx, orphan, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rs, err := e.c.ReplicaSets("default").Create(e.ctx, replicaSet("api", 2), client.CreateOptions{})
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
	stray, err := e.c.Pods("default").Get(e.ctx, "stray")
	if err != nil {
		t.Fatal(err)
	}
	next := proto.Clone(stray).(*corev1.Pod)
	next.Metadata.Labels = map[string]string{"app": "debug"}
	if _, err := e.c.Pods("default").Update(e.ctx, next, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(rs, 2, 0)
	e.eventually(func() error {
		p, err := e.c.Pods("default").Get(e.ctx, "stray")
		if err != nil {
			return err
		}
		if controller.ControllerRef(p.GetMetadata()) != nil {
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
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Labels: labels}, Status: &corev1.PodStatus{Phase: "Running"}}
		status := map[bool]string{true: "True", false: "False"}[ready]
		p.Status.Conditions = []*corev1.PodCondition{{Type: "Ready", Status: status, LastTransitionTime: timestamppb.New(now.Add(-since))}}
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
