package record_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/internal/clienttest"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/testutil"
)

func TestAggregation(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, 30*time.Second)
	pod, err := c.Pods("default").Create(ctx, &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clk := clocktesting.NewFakeClock(t0)
	r, err := record.New(record.Config{Sink: record.ClientSink(c), Component: "keel-scheduler", Host: "node-1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(ctx)

	for i := 0; i < 3; i++ {
		r.Eventf(pod, record.Warning, "FailedScheduling", "0/%d nodes are available", 3)
		if err := r.Flush(ctx); err != nil { // one write at a time: deterministic counts
			t.Fatal(err)
		}
		clk.Step(time.Minute)
	}
	r.Eventf(pod, record.Normal, "Scheduled", "Successfully assigned default/web to node-1")
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	list, err := c.Events("default").List(ctx, client.ListOptions{FieldSelector: "involvedObject.name=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("%d events, want 2 (one aggregated): %v", len(list.Items), list.Items)
	}
	var failed, scheduled *corev1.Event
	for _, e := range list.Items {
		switch e.GetReason() {
		case "FailedScheduling":
			failed = e
		case "Scheduled":
			scheduled = e
		}
	}
	if failed == nil || scheduled == nil {
		t.Fatalf("events: %v", list.Items)
	}
	if failed.GetCount() != 3 || failed.GetType() != "Warning" || failed.GetMessage() != "0/3 nodes are available" {
		t.Errorf("aggregated event: count %d type %s message %q", failed.GetCount(), failed.GetType(), failed.GetMessage())
	}
	if se := failed.GetSeries(); se.GetCount() != 3 || !se.GetLastObservedTime().AsTime().Equal(t0.Add(2*time.Minute)) {
		t.Errorf("series %v, want count 3 last observed at the third occurrence", se)
	}
	if !failed.GetFirstTimestamp().AsTime().Equal(t0) || !failed.GetLastTimestamp().AsTime().Equal(t0.Add(2*time.Minute)) {
		t.Errorf("timestamps first %v last %v", failed.GetFirstTimestamp().AsTime(), failed.GetLastTimestamp().AsTime())
	}
	io := failed.GetInvolvedObject()
	if io.GetKind() != "Pod" || io.GetApiVersion() != "v1" || io.GetName() != "web" || io.GetNamespace() != "default" ||
		io.GetUid() != pod.GetMetadata().GetUid() || io.GetResourceVersion() != pod.GetMetadata().GetResourceVersion() {
		t.Errorf("involvedObject %v", io)
	}
	if s := failed.GetSource(); s.GetComponent() != "keel-scheduler" || s.GetHost() != "node-1" {
		t.Errorf("source %v", s)
	}
	if scheduled.GetCount() != 1 {
		t.Errorf("scheduled count %d", scheduled.GetCount())
	}

	// After the aggregation window, a repeat starts a new Event.
	clk.Step(11 * time.Minute)
	r.Eventf(pod, record.Warning, "FailedScheduling", "0/%d nodes are available", 3)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	list, err = c.Events("default").List(ctx, client.ListOptions{FieldSelector: "reason=FailedScheduling"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 2 {
		t.Fatalf("%d FailedScheduling events after the window, want 2", len(list.Items))
	}

	// Events about cluster-scoped objects go to the default namespace.
	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-1", Uid: "n-uid"}}
	r.Event(node, record.Normal, "Starting", "kubelet starting")
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := c.Events("default").List(ctx, client.ListOptions{FieldSelector: "involvedObject.kind=Node"})
	if err != nil || len(evs.Items) != 1 || evs.Items[0].GetInvolvedObject().GetNamespace() != "" {
		t.Fatalf("node event: %v %v", evs, err)
	}
	if r.Dropped() != 0 {
		t.Fatalf("dropped %d", r.Dropped())
	}
	if r.Written() != 6 { // 3 creates, 2 count updates, the node event
		t.Fatalf("written %d, want 6", r.Written())
	}
}

// TestFlood: a crash-looping pod's flood of similar events becomes its
// first distinct events, one aggregate event for the rest, and stops at the
// rate limit.
func TestFlood(t *testing.T) {
	_, a := testserver.StartAll(t, nil)
	c := clienttest.Client(t, a.Addr)
	ctx := clienttest.Context(t, 30*time.Second)
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "crashy", Namespace: "default", Uid: "crashy-uid"}}
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r, err := record.New(record.Config{Sink: record.ClientSink(c), Component: "kubelet", Host: "node-1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Shutdown(ctx)
	for i := range 100 {
		r.Eventf(pod, record.Warning, "BackOff", "Back-off restarting failed container (attempt %d)", i)
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	list, err := c.Events("default").List(ctx, client.ListOptions{FieldSelector: "involvedObject.name=crashy"})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != record.DefaultMaxSimilar+1 {
		t.Fatalf("%d events, want %d distinct and one aggregate", len(list.Items), record.DefaultMaxSimilar)
	}
	var combined []*corev1.Event
	for _, e := range list.Items {
		if strings.HasPrefix(e.GetMessage(), record.CombinedPrefix) {
			combined = append(combined, e)
		}
	}
	// 25 writes allowed: 10 distinct events, then 15 into the aggregate.
	want := record.CombinedPrefix + "Back-off restarting failed container (attempt 24)"
	if len(combined) != 1 || combined[0].GetCount() != 15 || combined[0].GetMessage() != want {
		t.Fatalf("aggregate events %v, want one with count 15 and message %q", combined, want)
	}
	if r.Limited() != 75 || r.Dropped() != 0 {
		t.Fatalf("limited %d dropped %d, want 75 and 0", r.Limited(), r.Dropped())
	}
}

// blockingSink never answers until released.
type blockingSink struct {
	release  chan struct{}
	creates  atomic.Int32
	inFlight atomic.Int32 // writes waiting for release
}

func (s *blockingSink) Create(ctx context.Context, ev *corev1.Event) (*corev1.Event, error) {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.creates.Add(1)
	return ev, nil
}

func (s *blockingSink) Update(ctx context.Context, ev *corev1.Event) (*corev1.Event, error) {
	return s.Create(ctx, ev)
}

// TestNeverBlocks: with the writer stuck, Eventf returns at once and drops
// (and counts) what does not fit in the buffer.
func TestNeverBlocks(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{})}
	r, err := record.New(record.Config{Sink: sink, BufferSize: 6, Writers: 2, Component: "test"})
	if err != nil {
		t.Fatal(err)
	}
	objs := make([]*corev1.ConfigMap, 1000) // one each: no rate limit applies
	for i := range objs {
		objs[i] = &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: "default"}}
	}
	start := time.Now()
	for i, obj := range objs {
		r.Eventf(obj, record.Normal, "Test", "event %d", i)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("1000 Eventf calls took %v", d)
	}
	// At most the buffers plus one being written per writer are kept.
	if d := r.Dropped(); d < 1000-8 {
		t.Fatalf("dropped %d, want at least %d", d, 1000-8)
	}
	close(sink.release)
	ctx := clienttest.Context(t, 10*time.Second)
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	kept := sink.creates.Load()
	if kept < 1 || int(kept)+int(r.Dropped()) != 1000 {
		t.Fatalf("created %d + dropped %d != 1000", kept, r.Dropped())
	}
	// After Shutdown everything is dropped.
	r.Eventf(objs[0], record.Normal, "Late", "too late")
	if int(r.Dropped())+int(kept) != 1001 {
		t.Fatal("event after Shutdown not dropped")
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("Flush after Shutdown: %v", err)
	}
}

// TestWritersRunConcurrently: one stuck write does not hold up the others;
// as many writes as there are writers are in flight at once.
func TestWritersRunConcurrently(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{})}
	const writers = 4
	r, err := record.New(record.Config{Sink: sink, Writers: writers, Component: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := clienttest.Context(t, 10*time.Second)
	for i := range 200 {
		obj := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i), Namespace: "default"}}
		r.Eventf(obj, record.Normal, "Test", "event %d", i)
	}
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("%d writes in flight", writers), func() error {
		if n := sink.inFlight.Load(); n < writers {
			return fmt.Errorf("%d in flight", n)
		}
		return nil
	})
	close(sink.release)
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := int(sink.creates.Load()); got != 200 || r.Dropped() != 0 {
		t.Fatalf("created %d, dropped %d; want all 200 written", got, r.Dropped())
	}
}

func TestReference(t *testing.T) {
	if _, err := record.Reference(&corev1.Pod{}); err == nil {
		t.Error("object without a name accepted")
	}
	if _, err := record.Reference(&metav1.ObjectMeta{Name: "x"}); err == nil {
		t.Error("unregistered message accepted")
	}
	ref, err := record.Reference(&corev1.ObjectReference{Kind: "Pod", Name: "p"})
	if err != nil || ref.GetName() != "p" {
		t.Errorf("ObjectReference: %v %v", ref, err)
	}
}
