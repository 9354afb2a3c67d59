// Package keelctltest runs keelctl in-process against a real apiserver (on
// embedded etcd) for the tests of the keelctl packages, and checks its
// output.
package keelctltest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/cmd"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/testutil"
)

// Cluster is a real apiserver on embedded etcd, with a direct client for
// setting up and checking state, and keelctl run in-process against it.
type Cluster struct {
	t      *testing.T
	Addr   string
	C      *client.Client
	NoConf string // a configuration path that does not exist
	api    *testserver.APIServer
}

// StartCluster starts an etcd and an apiserver for one test.
func StartCluster(t *testing.T) *Cluster {
	t.Helper()
	return StartClusterWith(t, nil)
}

// StartClusterWith is StartCluster with configure adjusting the apiserver's
// Config at each start (see Restart).
func StartClusterWith(t *testing.T, configure func(*apiserver.Config)) *Cluster {
	t.Helper()
	_, api := testserver.StartAll(t, configure)
	return &Cluster{
		t:      t,
		Addr:   api.Addr,
		C:      client.NewForConn(api.Conn, "default"),
		NoConf: filepath.Join(t.TempDir(), "no-config"),
		api:    api,
	}
}

// Restart stops the apiserver and starts it again on the same etcd and
// address, with what its configure function gives now.
func (k *Cluster) Restart() {
	k.t.Helper()
	k.api.Stop()
	k.api.Start()
	k.Addr, k.C = k.api.Addr, client.NewForConn(k.api.Conn, "default")
}

// Etcd is a client of the cluster's etcd, to look at what is stored.
func (k *Cluster) Etcd() *clientv3.Client { return k.api.Etcd }

// Namespace creates the namespace name and, as the service account
// controller would, its "default" ServiceAccount, which pods need.
func (k *Cluster) Namespace(name string) {
	k.t.Helper()
	if _, err := k.C.Namespaces().Create(k.Ctx(), &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}}, client.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	if err := testserver.DefaultServiceAccounts(k.Ctx(), k.api.Server, name); err != nil {
		k.t.Fatal(err)
	}
}

// Result is one keelctl run.
type Result struct {
	Code     int
	Out, Err string
}

// RunOpts are the streams and environment of one run.
type RunOpts struct {
	Stdin string
	Env   map[string]string
	Ctx   context.Context
	Out   *SyncBuffer // set to watch the output while it runs
}

// Run runs keelctl against the cluster (--server ADDR --insecure, and a
// configuration file that does not exist, so nothing of the host leaks in).
func (k *Cluster) Run(args ...string) Result {
	k.t.Helper()
	return k.RunWith(RunOpts{}, args...)
}

// RunWith is Run with the streams and environment of o.
func (k *Cluster) RunWith(o RunOpts, args ...string) Result {
	k.t.Helper()
	full := append([]string{"--config", k.NoConf, "--server", k.Addr, "--insecure"}, args...)
	return RunKeelctl(k.t, o, full...)
}

// RunKeelctl runs keelctl in-process with exactly args.
func RunKeelctl(t *testing.T, o RunOpts, args ...string) Result {
	t.Helper()
	out := o.Out
	if out == nil {
		out = &SyncBuffer{}
	}
	var errb SyncBuffer
	ctx := o.Ctx
	if ctx == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
	}
	env := o.Env
	c := &cmdutil.CLI{
		In:     strings.NewReader(o.Stdin),
		Out:    out,
		ErrOut: &errb,
		Getenv: func(k string) string { return env[k] },
	}
	code := cmd.Execute(ctx, c, args)
	return Result{Code: code, Out: out.String(), Err: errb.String()}
}

// StartRun runs keelctl in the background; the channel gets its result.
func (k *Cluster) StartRun(out *SyncBuffer, args ...string) <-chan Result {
	done := make(chan Result, 1)
	go func() { done <- k.RunWith(RunOpts{Out: out}, args...) }()
	return done
}

// WaitResult waits for a background run.
func WaitResult(t *testing.T, done <-chan Result) Result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("keelctl did not finish")
	}
	return Result{}
}

// OK fails the test unless the run succeeded; it returns stdout.
func (r Result) OK(t *testing.T) string {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Out, r.Err)
	}
	return r.Out
}

// Fails checks the run failed with exit status 1 and that stderr contains
// every want; it returns stderr.
func (r Result) Fails(t *testing.T, wants ...string) string {
	t.Helper()
	if r.Code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.Code, r.Out, r.Err)
	}
	for _, w := range wants {
		if !strings.Contains(r.Err, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.Err)
		}
	}
	if strings.Contains(r.Err, "goroutine ") || strings.Contains(r.Err, "panic") {
		t.Errorf("stderr has a stack trace:\n%s", r.Err)
	}
	return r.Err
}

// SyncBuffer is a bytes.Buffer safe for a writer and a concurrent reader.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Eventually waits until cond holds, checking every few milliseconds, and
// fails the test with msg after timeout.
func Eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	testutil.Eventually(t, timeout, fmt.Sprintf(msg, args...), testutil.Condition(cond, "not yet"))
}

// Ctx returns a context for direct client calls.
func (k *Cluster) Ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	k.t.Cleanup(cancel)
	return ctx
}

// Write creates a file in a temporary directory and returns its path.
func Write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Lines splits output into lines, each with its runs of spaces collapsed
// to one, so tests check columns without depending on widths.
func Lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return out
}

// HasLine reports whether output has a line that, once its spaces are
// collapsed, starts with prefix.
func HasLine(output, prefix string) bool {
	for _, l := range Lines(output) {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// MustHaveLines fails the test unless output has, for every prefix, a line
// starting with it (spaces collapsed, see Lines).
func MustHaveLines(t *testing.T, output string, prefixes ...string) {
	t.Helper()
	for _, p := range prefixes {
		if !HasLine(output, p) {
			t.Errorf("output has no line starting %q:\n%s", p, output)
		}
	}
}

// Clone deep-copies a message.
func Clone[T proto.Message](m T) T { return proto.Clone(m).(T) }

// JSONUnmarshal decodes JSON text into v.
func JSONUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// JSONString encodes v as JSON text.
func JSONString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// JSONEqual reports whether a and b encode to the same JSON.
func JSONEqual(t *testing.T, a, b any) bool { return JSONString(t, a) == JSONString(t, b) }

// Seed creates a namespace with pods in several states, a node, a service
// and an event.
func Seed(t *testing.T, k *Cluster) {
	t.Helper()
	ctx := k.Ctx()
	k.Namespace("shop")
	mkPod := func(ns, name string, labels map[string]string, containers ...string) *corev1.Pod {
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, Spec: &corev1.PodSpec{}}
		for _, c := range containers {
			p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: c, Image: "busybox"})
		}
		out, err := k.C.Pods(ns).Create(ctx, p, client.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	setStatus := func(p *corev1.Pod, st *corev1.PodStatus) {
		p.Status = st
		if _, err := k.C.Pods(p.Metadata.Namespace).UpdateStatus(ctx, p, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	web := mkPod("default", "web", map[string]string{"app": "web"}, "nginx", "log")
	setStatus(web, &corev1.PodStatus{Phase: api.PodRunning, PodIp: "10.244.1.5", ContainerStatuses: []*corev1.ContainerStatus{
		{Name: "nginx", Ready: true, State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timestamppb.Now()}}},
		{Name: "log", Ready: true, State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timestamppb.Now()}}},
	}})
	crash := mkPod("default", "crash", map[string]string{"app": "batch"}, "app")
	setStatus(crash, &corev1.PodStatus{Phase: api.PodRunning, ContainerStatuses: []*corev1.ContainerStatus{
		{Name: "app", RestartCount: 3, State: &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
	}})
	mkPod("default", "new", nil, "app")
	mkPod("shop", "cart", map[string]string{"app": "cart"}, "app")

	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{api.LabelNodeRolePrefix + "control-plane": ""}},
		Status: &corev1.NodeStatus{
			Conditions: []*corev1.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue}},
			Addresses:  []*corev1.NodeAddress{{Type: api.NodeInternalIP, Address: "10.0.0.21"}},
			NodeInfo:   &corev1.NodeSystemInfo{KubeletVersion: "v0.1.0", OsImage: "Debian GNU/Linux 13", KernelVersion: "6.12", ContainerRuntimeVersion: "containerd://2.1"},
		}}
	if _, err := k.C.Nodes().Create(ctx, node, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: &corev1.ServiceSpec{
		Selector: map[string]string{"app": "web"}, Ports: []*corev1.ServicePort{{Port: 80, TargetPort: api.IntOrStringFromInt(8080)}}}}
	if _, err := k.C.Services("default").Create(ctx, svc, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ev := &corev1.Event{Metadata: &metav1.ObjectMeta{Name: "crash.1", Namespace: "default"},
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "crash", Uid: crash.GetMetadata().GetUid()},
		Reason:         "BackOff", Message: "Back-off restarting failed container", Type: api.EventTypeWarning, Count: 3,
		FirstTimestamp: timestamppb.New(time.Now().Add(-5 * time.Minute)), LastTimestamp: timestamppb.Now(),
		Source: &corev1.EventSource{Component: "kubelet", Host: "node-1"}}
	if _, err := k.C.Events("default").Create(ctx, ev, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// WebDeployment is a Deployment manifest (web, two replicas, nginx with
// two ports) that several tests apply.
const WebDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
    stage: beta
spec:
  replicas: 2
  minReadySeconds: 5
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
        - containerPort: 80
        - containerPort: 443
`
