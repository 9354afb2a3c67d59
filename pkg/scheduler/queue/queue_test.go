package queue_test

import (
	"fmt"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/queue"
)

func podInfo(name string, prio int32) *framework.PodInfo {
	return framework.NewPodInfo(&corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name},
		Spec:     &corev1.PodSpec{Priority: &prio},
	})
}

var events = map[string][]framework.ClusterEvent{
	"Fit":      {{Resource: framework.NodeEvent, Action: framework.Add | framework.UpdateNodeAllocatable}, {Resource: framework.AssignedPodEvent, Action: framework.Delete}},
	"Affinity": {{Resource: framework.AssignedPodEvent, Action: framework.Add | framework.UpdatePodLabel}},
}

func newQueue() (*queue.Queue, *testingclock.FakeClock) {
	clk := testingclock.NewFakeClock(time.Unix(1000, 0))
	return queue.New(queue.Config{Clock: clk, Events: events}), clk
}

func popAll(q *queue.Queue) []string {
	var out []string
	for p := q.Pop(); p != nil; p = q.Pop() {
		out = append(out, p.Name)
	}
	return out
}

func TestActiveOrder(t *testing.T) {
	q, clk := newQueue()
	q.Add(podInfo("low-1", 0))
	clk.Step(time.Millisecond)
	q.Add(podInfo("high-1", 100))
	clk.Step(time.Millisecond)
	q.Add(podInfo("low-2", 0))
	q.Add(podInfo("high-2", 100)) // same time as low-2: arrival order decides
	q.Add(podInfo("mid", 50))
	got := fmt.Sprint(popAll(q))
	if want := "[high-1 high-2 mid low-1 low-2]"; got != want {
		t.Errorf("pop order %s, want %s", got, want)
	}
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	q, _ := newQueue()
	var got []time.Duration
	for attempts := 1; attempts <= 6; attempts++ {
		got = append(got, q.BackoffDuration(attempts))
	}
	if want := "[1s 2s 4s 8s 10s 10s]"; fmt.Sprint(got) != want {
		t.Errorf("back-offs %v, want %s", got, want)
	}
}

func TestBackoffQueue(t *testing.T) {
	q, clk := newQueue()
	q.Add(podInfo("p", 0))
	for attempt, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		p := q.Pop()
		if p == nil || p.Attempts != attempt+1 {
			t.Fatalf("attempt %d: popped %+v", attempt+1, p)
		}
		q.AddUnschedulable(p, true) // failed: back off
		if a, b, u := q.Len(); a != 0 || b != 1 || u != 0 {
			t.Fatalf("after failure %d: lengths %d %d %d", attempt+1, a, b, u)
		}
		next, ok := q.NextWakeup()
		if !ok || next.Sub(clk.Now()) != wait {
			t.Fatalf("after failure %d: next wake-up in %v, want %v", attempt+1, next.Sub(clk.Now()), wait)
		}
		clk.Step(wait - time.Millisecond)
		q.Flush()
		if q.Pop() != nil {
			t.Fatalf("after failure %d: popped before the back-off ended", attempt+1)
		}
		clk.Step(time.Millisecond)
		q.Flush()
		if a, _, _ := q.Len(); a != 1 {
			t.Fatalf("after failure %d: not active once the back-off ended", attempt+1)
		}
	}
}

func TestUnschedulableMovesOnRelevantEvents(t *testing.T) {
	q, clk := newQueue()
	q.Add(podInfo("fit", 0))
	q.Add(podInfo("affinity", 0))
	q.Add(podInfo("unknown", 0))
	for range 3 {
		p := q.Pop()
		switch p.Name {
		case "fit":
			p.UnschedulablePlugins = map[string]struct{}{"Fit": {}}
		case "affinity":
			p.UnschedulablePlugins = map[string]struct{}{"Affinity": {}}
		}
		q.AddUnschedulable(p, false)
	}
	if _, _, u := q.Len(); u != 3 {
		t.Fatalf("%d parked", u)
	}
	// Past their back-off, moved pods go straight to the active queue.
	clk.Step(2 * time.Second)

	// A label change of a placed pod interests only Affinity (and pods
	// rejected for unknown reasons).
	if n := q.MoveOnEvent(framework.ClusterEvent{Resource: framework.AssignedPodEvent, Action: framework.UpdatePodLabel}); n != 2 {
		t.Errorf("label event moved %d pods, want 2", n)
	}
	if got := fmt.Sprint(popAll(q)); got != "[affinity unknown]" {
		t.Errorf("moved %s", got)
	}
	// A node label change interests nobody parked now.
	if n := q.MoveOnEvent(framework.ClusterEvent{Resource: framework.NodeEvent, Action: framework.UpdateNodeLabel}); n != 0 {
		t.Errorf("node label event moved %d pods", n)
	}
	if n := q.MoveOnEvent(framework.ClusterEvent{Resource: framework.AssignedPodEvent, Action: framework.Delete}); n != 1 {
		t.Errorf("pod deletion moved %d pods, want 1", n)
	}
	if got := fmt.Sprint(popAll(q)); got != "[fit]" {
		t.Errorf("moved %s", got)
	}
}

func TestMovedPodStillBackingOffWaits(t *testing.T) {
	q, clk := newQueue()
	q.Add(podInfo("p", 0))
	p := q.Pop()
	q.AddUnschedulable(p, false)
	clk.Step(500 * time.Millisecond)
	q.MoveOnEvent(framework.ClusterEvent{Resource: framework.NodeEvent, Action: framework.Add})
	if a, b, u := q.Len(); a != 0 || b != 1 || u != 0 {
		t.Fatalf("lengths %d %d %d, want the pod backing off", a, b, u)
	}
	clk.Step(500 * time.Millisecond)
	q.Flush()
	if q.Pop() == nil {
		t.Fatal("not active after its 1s back-off")
	}
}

func TestUnschedulableFlushedAfterMax(t *testing.T) {
	q, clk := newQueue()
	q.Add(podInfo("a", 0))
	q.Add(podInfo("b", 0))
	pa := q.Pop()
	pa.UnschedulablePlugins = map[string]struct{}{"Fit": {}}
	q.AddUnschedulable(pa, false)
	clk.Step(20 * time.Second)
	pb := q.Pop()
	pb.UnschedulablePlugins = map[string]struct{}{"Fit": {}}
	q.AddUnschedulable(pb, false)

	next, ok := q.NextWakeup()
	if !ok || !next.Equal(time.Unix(1060, 0)) {
		t.Fatalf("next wake-up %v, want a's 60s", next)
	}
	clk.Step(40*time.Second - time.Millisecond)
	q.Flush()
	if q.Pop() != nil {
		t.Fatal("flushed before 60s")
	}
	clk.Step(time.Millisecond)
	q.Flush()
	if got := fmt.Sprint(popAll(q)); got != "[a]" {
		t.Fatalf("flushed %s at 60s, want [a]", got)
	}
	clk.Step(20 * time.Second)
	q.Flush()
	if got := fmt.Sprint(popAll(q)); got != "[b]" {
		t.Fatalf("flushed %s, want [b]", got)
	}
}

func TestUpdateAndDelete(t *testing.T) {
	q, clk := newQueue()
	q.Add(podInfo("a", 0))
	q.Add(podInfo("b", 0))
	// A priority change reorders the active queue.
	q.Update(podInfo("b", 10), false)
	if got := fmt.Sprint(popAll(q)[0]); got != "b" {
		t.Errorf("first %s, want b after its priority rose", got)
	}
	q.Add(podInfo("c", 0))
	p := q.Pop()
	q.AddUnschedulable(p, false)
	clk.Step(5 * time.Second)
	// A status-only update leaves a parked pod parked; a real change moves it.
	q.Update(podInfo("c", 0), false)
	if _, _, u := q.Len(); u != 1 {
		t.Fatalf("parked %d", u)
	}
	q.Update(podInfo("c", 0), true)
	if a, _, u := q.Len(); a != 1 || u != 0 {
		t.Fatalf("lengths after update: active %d unschedulable %d", a, u)
	}
	q.Delete("default/c")
	if a, b, u := q.Len(); a+b+u != 0 {
		t.Fatalf("not empty after delete: %d %d %d", a, b, u)
	}
	// Deleting from the back-off queue.
	q.Add(podInfo("d", 0))
	q.AddUnschedulable(q.Pop(), true)
	q.Delete("default/d")
	if _, ok := q.NextWakeup(); ok {
		t.Error("a deleted pod still wakes the queue")
	}
	// A pod re-added while being scheduled is not overwritten by the
	// attempt's outcome.
	q.Add(podInfo("e", 0))
	e := q.Pop()
	q.Add(podInfo("e", 5))
	q.AddUnschedulable(e, false)
	if a, _, u := q.Len(); a != 1 || u != 0 {
		t.Fatalf("lengths %d %d", a, u)
	}
}
