package controller_test

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	clocktesting "k8s.io/utils/clock/testing"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func pod(name, node, phase string, readySince time.Duration, restarts int32, created time.Duration) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, CreationTimestamp: timestamppb.New(t0.Add(created))},
		Spec:     &corev1.PodSpec{NodeName: node},
		Status: &corev1.PodStatus{Phase: phase,
			ContainerStatuses: []*corev1.ContainerStatus{{Name: "c", RestartCount: restarts}}},
	}
	if readySince >= 0 {
		p.Status.Conditions = []*corev1.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue, LastTransitionTime: timestamppb.New(t0.Add(readySince))}}
	}
	return p
}

func TestLessToDeleteOrdersAsKubernetes(t *testing.T) {
	const notReady = -1
	// In the order they should be deleted.
	want := []*corev1.Pod{
		pod("unscheduled", "", api.PodPending, notReady, 0, 0),
		pod("pending", "n", api.PodPending, notReady, 0, 0),
		pod("unknown", "n", api.PodUnknown, notReady, 0, 0),
		pod("running-unready", "n", api.PodRunning, notReady, 0, 0),
		pod("ready-recently", "n", api.PodRunning, 50*time.Second, 0, 0),
		pod("ready-long-restarted", "n", api.PodRunning, 10*time.Second, 3, 0),
		pod("ready-long-newer", "n", api.PodRunning, 10*time.Second, 0, 5*time.Second),
		pod("ready-long-older", "n", api.PodRunning, 10*time.Second, 0, 0),
	}
	got := slices.Clone(want)
	slices.Reverse(got)
	now := t0.Add(time.Minute)
	controller.SortToDelete(got, now)
	for i := range want {
		if got[i] != want[i] {
			var names []string
			for _, p := range got {
				names = append(names, p.GetMetadata().GetName())
			}
			t.Fatalf("deletion order %v", names)
		}
	}
}

func TestAvailableAt(t *testing.T) {
	p := pod("p", "n", api.PodRunning, 0, 0, 0)
	if ok, wait := controller.AvailableAt(p, 10, t0.Add(4*time.Second)); ok || wait != 6*time.Second {
		t.Errorf("ready 4s of 10: available %v, wait %v", ok, wait)
	}
	if ok, _ := controller.AvailableAt(p, 10, t0.Add(10*time.Second)); !ok {
		t.Error("ready 10s of 10: not available")
	}
	if ok, wait := controller.AvailableAt(pod("u", "n", api.PodRunning, -1, 0, 0), 0, t0); ok || wait != 0 {
		t.Errorf("unready pod: available %v, wait %v", ok, wait)
	}
}

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(t0)
	e := controller.NewExpectations(clk)
	if !e.Satisfied("ns/a") {
		t.Fatal("a key never expected is not satisfied")
	}
	e.Expect("ns/a", 2, nil)
	e.CreationObserved("ns/a")
	if e.Satisfied("ns/a") {
		t.Fatal("satisfied with one of two creates seen")
	}
	e.CreationObserved("ns/a")
	if !e.Satisfied("ns/a") {
		t.Fatal("not satisfied with both creates seen")
	}

	e.Expect("ns/a", 0, []string{"u1", "u2"})
	e.DeletionObserved("ns/a", "u1")
	e.DeletionObserved("ns/a", "u1") // terminating, then gone: counts once
	if e.Satisfied("ns/a") {
		t.Fatal("satisfied with u2's deletion unseen")
	}
	e.DeletionObserved("ns/a", "u2")
	if !e.Satisfied("ns/a") {
		t.Fatal("not satisfied with both deletions seen")
	}

	e.Expect("ns/b", 1, nil)
	clk.SetTime(t0.Add(controller.ExpectationsTimeout + time.Second))
	if !e.Satisfied("ns/b") {
		t.Fatal("expectations never expire")
	}
	e.Expect("ns/c", 1, nil)
	e.Forget("ns/c")
	if !e.Satisfied("ns/c") {
		t.Fatal("forgotten expectations still wait")
	}
}
