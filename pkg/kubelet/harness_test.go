package kubelet_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
	"keel.dev/keel/pkg/kubelet/nodestatus"
	"keel.dev/keel/pkg/kubelet/podsync"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

const (
	testNode  = "node-1"
	testImage = "registry.keel.test/busybox:1.35"
)

// env is an apiserver as in a cluster (TLS, Node,RBAC), an admin client,
// the kubelet's own client (system:node:node-1, which must never be
// refused) and a fake runtime whose containers exit as the test says.
type env struct {
	t       *testing.T
	api     *testserver.Secure
	client  *client.Client
	kubelet *client.Client
	fake    *cri.Fake

	mu    sync.Mutex
	exits map[string]func(attempt int) *cri.ExitDecision // by container name
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with configure adjusting the apiserver's Config.
func newEnvWith(t *testing.T, configure func(*apiserver.Config)) *env {
	t.Helper()
	api := testserver.StartSecure(t, []string{testNode}, configure)
	api.FailOnForbidden()
	e := &env{t: t, api: api, client: api.Client(pki.AdminName), kubelet: api.Client(pki.KubeletClientName(testNode)),
		fake: cri.NewFake(), exits: map[string]func(int) *cri.ExitDecision{}}
	e.fake.OnStart = func(id string, cfg *runtimeapi.ContainerConfig) cri.ExitDecision {
		e.mu.Lock()
		f := e.exits[cfg.GetMetadata().GetName()]
		e.mu.Unlock()
		if f == nil {
			return cri.ExitDecision{}
		}
		attempt, _ := strconv.Atoi(cfg.GetLabels()[kuberuntime.LabelRestartCount])
		if d := f(attempt); d != nil {
			return *d
		}
		return cri.ExitDecision{}
	}
	return e
}

// exitWith makes container name exit as f decides on each start.
func (e *env) exitWith(name string, f func(attempt int) *cri.ExitDecision) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.exits[name] = f
}

// testSync has short back-offs so restarts show within a test.
func testSync() *podsync.Config {
	c := podsync.DefaultConfig()
	c.BackoffInitial, c.BackoffMax = 200*time.Millisecond, time.Second
	c.PullBackoffInitial, c.PullBackoffMax = 200*time.Millisecond, time.Second
	return &c
}

// startKubelet runs a kubelet on the env's fake runtime until the returned
// stop function is called (or the test ends).
func (e *env) startKubelet(t *testing.T, mod func(*kubelet.Config)) (*kubelet.Kubelet, func()) {
	t.Helper()
	log := zap.NewNop()
	if testing.Verbose() {
		log = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	dir := t.TempDir()
	cfg := kubelet.Config{
		NodeName:                  testNode,
		Client:                    e.kubelet,
		Runtime:                   e.fake,
		Log:                       log,
		RootDir:                   dir + "/root",
		PodLogDir:                 dir + "/logs",
		NodeIP:                    "192.0.2.10",
		Machine:                   &nodestatus.Machine{MilliCPU: 4000, MemoryBytes: 8 << 30, EphemeralStorageBytes: 100 << 30, OperatingSystem: "linux", Architecture: "amd64", KernelVersion: "6.1.0", OSImage: "Debian GNU/Linux 12 (bookworm)"},
		PodCIDR:                   "10.244.1.0/24",
		NodeStatusUpdateFrequency: 200 * time.Millisecond,
		RelistPeriod:              100 * time.Millisecond,
		RuntimeCheckPeriod:        200 * time.Millisecond,
		SyncFrequency:             5 * time.Second,
		Sync:                      testSync(),
	}
	if mod != nil {
		mod(&cfg)
	}
	k, err := kubelet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := k.Run(ctx); err != nil {
			t.Errorf("kubelet: %v", err)
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Error("the kubelet did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	return k, stop
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitFor polls cond every 20ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testutil.Eventually(t, timeout, what, func() error {
		if ok, state := cond(); !ok {
			return fmt.Errorf("last: %s", state)
		}
		return nil
	})
}

func testPod(name, policy string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &corev1.PodSpec{NodeName: testNode, RestartPolicy: policy},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: c, Image: testImage})
	}
	return p
}

func (e *env) create(t *testing.T, p *corev1.Pod) *corev1.Pod {
	t.Helper()
	got, err := e.client.Pods(p.GetMetadata().GetNamespace()).Create(ctx(t), p, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (e *env) get(t *testing.T, name string) (*corev1.Pod, error) {
	return e.client.Pods("default").Get(ctx(t), name)
}

// waitPod waits until the pod satisfies cond, describing it on failure.
func (e *env) waitPod(t *testing.T, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var got *corev1.Pod
	waitFor(t, 30*time.Second, "pod "+name+" "+what, func() (bool, string) {
		p, err := e.get(t, name)
		if err != nil {
			return false, err.Error()
		}
		got = p
		return cond(p), describe(p)
	})
	return got
}

func describe(p *corev1.Pod) string {
	s := "phase " + p.GetStatus().GetPhase()
	for _, c := range p.GetStatus().GetConditions() {
		s += fmt.Sprintf(" %s=%s", c.GetType(), c.GetStatus())
	}
	for _, cs := range append(append([]*corev1.ContainerStatus{}, p.GetStatus().GetInitContainerStatuses()...), p.GetStatus().GetContainerStatuses()...) {
		st := cs.GetState()
		switch {
		case st.GetRunning() != nil:
			s += fmt.Sprintf("; %s running", cs.GetName())
		case st.GetWaiting() != nil:
			s += fmt.Sprintf("; %s waiting %s (%s)", cs.GetName(), st.GetWaiting().GetReason(), st.GetWaiting().GetMessage())
		case st.GetTerminated() != nil:
			s += fmt.Sprintf("; %s terminated %s %d", cs.GetName(), st.GetTerminated().GetReason(), st.GetTerminated().GetExitCode())
		}
		s += fmt.Sprintf(" restarts=%d ready=%v", cs.GetRestartCount(), cs.GetReady())
	}
	return s
}

func phase(ph string) func(*corev1.Pod) bool {
	return func(p *corev1.Pod) bool { return p.GetStatus().GetPhase() == ph }
}

func condition(p *corev1.Pod, typ string) string {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c.GetStatus()
		}
	}
	return ""
}

func containerIDs(p *corev1.Pod) []string {
	var out []string
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		out = append(out, cs.GetContainerId())
	}
	return out
}

func clonePod(p *corev1.Pod) *corev1.Pod { return proto.Clone(p).(*corev1.Pod) }
