package scheduler_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheduler"
	"keel.dev/keel/pkg/testutil"
)

// cluster is a real apiserver on embedded etcd with a client.
type cluster struct {
	t    *testing.T
	addr string
	c    *client.Client
	ctx  context.Context
	// srv, when set, is a secure apiserver (RBAC on): c is the admin and
	// schedulers run as keel-scheduler.
	srv *testserver.Secure
}

// newSecureCluster is a cluster whose apiserver authorizes every request
// (Node,RBAC with the bootstrap policy); the test fails if any request is
// refused.
func newSecureCluster(t *testing.T) *cluster {
	t.Helper()
	srv := testserver.StartSecure(t, nil, nil)
	srv.FailOnForbidden()
	return &cluster{t: t, addr: srv.Addr, c: srv.Client(pki.AdminName), ctx: testContext(t, 2*time.Minute), srv: srv}
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	_, api := testserver.StartAll(t, nil)
	return &cluster{t: t, addr: api.Addr, c: newClient(t, api.Addr), ctx: testContext(t, 2*time.Minute)}
}

func newClient(t *testing.T, addr string) *client.Client {
	t.Helper()
	c, err := client.New(client.Options{Servers: []string{addr}, Insecure: true, UserAgent: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t *testing.T) *zap.Logger {
	if testing.Verbose() {
		return zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	return zap.NewNop()
}

// runningScheduler is a scheduler running against the cluster with its own
// client, informers and recorder.
type runningScheduler struct {
	s      *scheduler.Scheduler
	cancel context.CancelFunc
	done   chan struct{}
}

// startScheduler runs a scheduler until the end of the test. configure may
// adjust its Config.
func (cl *cluster) startScheduler(configure func(*scheduler.Config)) *runningScheduler {
	t := cl.t
	t.Helper()
	var c *client.Client
	if cl.srv != nil {
		c = cl.srv.Client(pki.SchedulerName)
	} else {
		c = newClient(t, cl.addr)
	}
	f := informer.NewFactory(c, 0)
	rec, err := record.New(record.Config{Sink: record.ClientSink(c), Component: "default-scheduler"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := scheduler.Config{
		Informers: f, API: scheduler.ClientAPI(c), Recorder: rec, Logger: testLogger(t),
		Rand: rand.New(rand.NewPCG(1, 2)),
	}
	if configure != nil {
		configure(&cfg)
	}
	s, err := scheduler.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f.Start(ctx)
	rs := &runningScheduler{s: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rs.done)
		if err := s.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("scheduler: %v", err)
		}
	}()
	t.Cleanup(func() {
		rs.stop()
		f.Shutdown()
		sctx, c2 := context.WithTimeout(context.Background(), 5*time.Second)
		defer c2()
		_ = rec.Shutdown(sctx)
	})
	waitFor(t, 30*time.Second, s.Ready, "the scheduler to be ready")
	return rs
}

func (rs *runningScheduler) stop() {
	rs.cancel()
	<-rs.done
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, cond func() bool, what string, args ...any) {
	t.Helper()
	testutil.Eventually(t, timeout, "waiting for "+fmt.Sprintf(what, args...), testutil.Condition(cond, "not yet"))
}

// nodeSpec describes a hollow node: a Node object, Ready, with
// allocatable cpu, memory and pods.
type nodeSpec struct {
	name     string
	cpu, mem string
	pods     int
	labels   map[string]string
	taints   []*corev1.Taint
	notReady bool
}

func (cl *cluster) createNode(n nodeSpec) *corev1.Node {
	cl.t.Helper()
	if n.cpu == "" {
		n.cpu = "4"
	}
	if n.mem == "" {
		n.mem = "16Gi"
	}
	if n.pods == 0 {
		n.pods = 110
	}
	labels := map[string]string{"kubernetes.io/hostname": n.name}
	for k, v := range n.labels {
		labels[k] = v
	}
	ready := "True"
	if n.notReady {
		ready = "False"
	}
	obj := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: n.name, Labels: labels},
		Spec:     &corev1.NodeSpec{Taints: n.taints},
		Status: &corev1.NodeStatus{
			Allocatable: map[string]*metav1.Quantity{"cpu": {String_: n.cpu}, "memory": {String_: n.mem}, "pods": {String_: fmt.Sprint(n.pods)}},
			Capacity:    map[string]*metav1.Quantity{"cpu": {String_: n.cpu}, "memory": {String_: n.mem}, "pods": {String_: fmt.Sprint(n.pods)}},
			Conditions:  []*corev1.NodeCondition{{Type: "Ready", Status: ready}},
		},
	}
	out, err := cl.c.Nodes().Create(cl.ctx, obj, client.CreateOptions{})
	if err != nil {
		cl.t.Fatalf("creating node %s: %v", n.name, err)
	}
	return out
}

// podSpec describes a pod of one container.
type podSpec struct {
	ns, name      string
	cpu, mem      string
	labels        map[string]string
	priorityClass string
	mutate        func(*corev1.Pod)
}

func makePod(p podSpec) *corev1.Pod {
	if p.ns == "" {
		p.ns = "default"
	}
	req := map[string]*metav1.Quantity{}
	if p.cpu != "" {
		req["cpu"] = &metav1.Quantity{String_: p.cpu}
	}
	if p.mem != "" {
		req["memory"] = &metav1.Quantity{String_: p.mem}
	}
	pod := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: p.name, Namespace: p.ns, Labels: p.labels},
		Spec: &corev1.PodSpec{
			PriorityClassName: p.priorityClass,
			Containers: []*corev1.Container{{Name: "app", Image: "busybox",
				Resources: &corev1.ResourceRequirements{Requests: req}}},
		},
	}
	if p.mutate != nil {
		p.mutate(pod)
	}
	return pod
}

func (cl *cluster) createPod(p podSpec) *corev1.Pod {
	cl.t.Helper()
	pod := makePod(p)
	out, err := cl.c.Pods(pod.GetMetadata().GetNamespace()).Create(cl.ctx, pod, client.CreateOptions{})
	if err != nil {
		cl.t.Fatalf("creating pod %s: %v", p.name, err)
	}
	return out
}

func (cl *cluster) getPod(ns, name string) *corev1.Pod {
	cl.t.Helper()
	p, err := cl.c.Pods(ns).Get(cl.ctx, name)
	if err != nil {
		cl.t.Fatalf("get pod %s/%s: %v", ns, name, err)
	}
	return p
}

// waitBound waits until the pod is bound and returns its node.
func (cl *cluster) waitBound(ns, name string) string {
	cl.t.Helper()
	var node string
	waitFor(cl.t, 30*time.Second, func() bool {
		node = cl.getPod(ns, name).GetSpec().GetNodeName()
		return node != ""
	}, "pod %s/%s to be bound", ns, name)
	return node
}

// scheduledCondition returns the pod's PodScheduled condition (nil if
// none).
func scheduledCondition(p *corev1.Pod) *corev1.PodCondition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "PodScheduled" {
			return c
		}
	}
	return nil
}

// waitUnschedulable waits for PodScheduled=False reason Unschedulable and
// returns its message.
func (cl *cluster) waitUnschedulable(ns, name string) string {
	cl.t.Helper()
	var msg string
	waitFor(cl.t, 30*time.Second, func() bool {
		p := cl.getPod(ns, name)
		c := scheduledCondition(p)
		if p.GetSpec().GetNodeName() != "" {
			cl.t.Fatalf("pod %s/%s was bound to %s; want it unschedulable", ns, name, p.GetSpec().GetNodeName())
		}
		if c != nil && c.GetStatus() == "False" && c.GetReason() == "Unschedulable" {
			msg = c.GetMessage()
			return true
		}
		return false
	}, "pod %s/%s to be marked unschedulable", ns, name)
	return msg
}

func (cl *cluster) deletePod(ns, name string, grace int64) {
	cl.t.Helper()
	if _, _, err := cl.c.Pods(ns).Delete(cl.ctx, name, client.DeleteOptions{GracePeriodSeconds: &grace}); err != nil && !apierrors.IsNotFound(err) {
		cl.t.Fatalf("delete pod %s/%s: %v", ns, name, err)
	}
}

// kubelet stands in for the kubelets: it removes (grace 0) every pod that
// gets a deletionTimestamp, as a kubelet does once the containers stopped.
// It returns the names of the pods it removed.
func (cl *cluster) kubelet() func() []string {
	t := cl.t
	ctx, cancel := context.WithCancel(cl.ctx)
	w, err := cl.c.Pods("").Watch(ctx, client.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var removed []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			m := ev.Object.GetMetadata()
			if ev.Type == client.Modified && m.GetDeletionTimestamp() != nil {
				zero := int64(0)
				_, _, err := cl.c.Pods(m.GetNamespace()).Delete(ctx, m.GetName(), client.DeleteOptions{GracePeriodSeconds: &zero})
				if err == nil || apierrors.IsNotFound(err) {
					mu.Lock()
					removed = append(removed, m.GetName())
					mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), removed...)
	}
}

func clonePod(p *corev1.Pod) *corev1.Pod { return proto.Clone(p).(*corev1.Pod) }
