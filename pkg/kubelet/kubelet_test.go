package kubelet_test

// Integration tests: a real apiserver on embedded etcd (testserver), real
// clients and informers, the kubelet, and the fake CRI runtime.

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/apierrors"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
	"keel.dev/keel/pkg/kubelet/nodestatus"
)

func TestNodeRegistrationLeaseAndStatus(t *testing.T) {
	e := newEnv(t)
	_, stop := e.startKubelet(t, func(c *kubelet.Config) {
		c.NodeLabels = map[string]string{"zone": "a"}
		c.Reserved = map[string]resource.Quantity{"cpu": resource.MustParse("500m"), "memory": resource.MustParse("1Gi")}
		c.NodeLeaseDuration = 4 * time.Second // renewed every second
	})
	var node *corev1.Node
	waitFor(t, 20*time.Second, "node registered and Ready", func() (bool, string) {
		n, err := e.client.Nodes().Get(ctx(t), testNode)
		if err != nil {
			return false, err.Error()
		}
		node = n
		for _, c := range n.GetStatus().GetConditions() {
			if c.GetType() == "Ready" {
				return c.GetStatus() == "True", c.GetReason() + ": " + c.GetMessage()
			}
		}
		return false, "no Ready condition"
	})
	st := node.GetStatus()
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	check("capacity cpu", st.GetCapacity()["cpu"].GetString_(), "4")
	check("capacity pods", st.GetCapacity()["pods"].GetString_(), "110")
	check("capacity memory", st.GetCapacity()["memory"].GetString_(), "8Gi")
	check("allocatable cpu", st.GetAllocatable()["cpu"].GetString_(), "3500m")
	check("allocatable memory", st.GetAllocatable()["memory"].GetString_(), "7Gi")
	check("InternalIP", st.GetAddresses()[0].GetAddress(), "192.0.2.10")
	check("Hostname", st.GetAddresses()[1].GetAddress(), testNode)
	check("runtime", st.GetNodeInfo().GetContainerRuntimeVersion(), "fake://0.1.0")
	check("kubelet", st.GetNodeInfo().GetKubeletVersion(), kubelet.Version)
	check("podCIDR", node.GetSpec().GetPodCidr(), "10.244.1.0/24")
	if p := st.GetDaemonEndpoints().GetKubeletEndpoint().GetPort(); p != 10250 {
		t.Errorf("kubelet port %d", p)
	}
	l := node.GetMetadata().GetLabels()
	if l["kubernetes.io/hostname"] != testNode || l["kubernetes.io/os"] != "linux" || l["zone"] != "a" {
		t.Errorf("labels %v", l)
	}
	var conds []string
	for _, c := range st.GetConditions() {
		conds = append(conds, c.GetType()+"="+c.GetStatus())
	}
	if got := strings.Join(conds, " "); got != "MemoryPressure=False DiskPressure=False PIDPressure=False Ready=True" {
		t.Errorf("conditions %s", got)
	}

	// The lease is renewed.
	var lease *coordinationv1.Lease
	waitFor(t, 10*time.Second, "lease created", func() (bool, string) {
		l, err := e.client.Leases(nodestatus.LeaseNamespace).Get(ctx(t), testNode)
		lease = l
		return err == nil, fmt.Sprint(err)
	})
	if lease.GetSpec().GetHolderIdentity() != testNode || lease.GetMetadata().GetOwnerReferences()[0].GetUid() != node.GetMetadata().GetUid() {
		t.Errorf("lease %v", lease)
	}
	first := lease.GetSpec().GetRenewTime().AsTime()
	waitFor(t, 10*time.Second, "lease renewed", func() (bool, string) {
		l, err := e.client.Leases(nodestatus.LeaseNamespace).Get(ctx(t), testNode)
		if err != nil {
			return false, err.Error()
		}
		return l.GetSpec().GetRenewTime().AsTime().After(first), l.GetSpec().GetRenewTime().String()
	})

	// The runtime's network goes down: Ready turns False at once.
	e.fake.SetReady(true, false)
	waitFor(t, 10*time.Second, "node NotReady", func() (bool, string) {
		n, _ := e.client.Nodes().Get(ctx(t), testNode)
		for _, c := range n.GetStatus().GetConditions() {
			if c.GetType() == "Ready" {
				return c.GetStatus() == "False" && strings.Contains(c.GetMessage(), "NetworkReady=false"), c.GetMessage()
			}
		}
		return false, ""
	})
	e.fake.SetReady(true, true)

	// A restarted kubelet updates the existing Node.
	stop()
	e.startKubelet(t, func(c *kubelet.Config) { c.NodeLabels = map[string]string{"zone": "b"} })
	waitFor(t, 20*time.Second, "labels updated after restart", func() (bool, string) {
		n, err := e.client.Nodes().Get(ctx(t), testNode)
		if err != nil {
			return false, err.Error()
		}
		return n.GetMetadata().GetLabels()["zone"] == "b", n.GetMetadata().GetLabels()["zone"]
	})
}

func TestPodRunsWithStatus(t *testing.T) {
	e := newEnv(t)
	e.startKubelet(t, nil)
	p := testPod("web", "Always", "a", "b")
	p.Spec.InitContainers = []*corev1.Container{{Name: "init", Image: testImage}}
	e.exitWith("init", func(int) *cri.ExitDecision { return &cri.ExitDecision{Exit: true} })
	created := e.create(t, p)
	got := e.waitPod(t, "web", "Running and Ready", func(p *corev1.Pod) bool {
		return p.GetStatus().GetPhase() == "Running" && condition(p, "Ready") == "True"
	})
	st := got.GetStatus()
	if st.GetPodIp() == "" || st.GetPodIps()[0].GetIp() != st.GetPodIp() || st.GetHostIp() != "192.0.2.10" || st.GetStartTime() == nil || st.GetQosClass() != "BestEffort" {
		t.Errorf("status %v", st)
	}
	for _, typ := range []string{"PodScheduled", "Initialized", "ContainersReady", "Ready"} {
		if condition(got, typ) != "True" {
			t.Errorf("condition %s = %q", typ, condition(got, typ))
		}
	}
	ic := st.GetInitContainerStatuses()[0]
	if ic.GetState().GetTerminated().GetReason() != "Completed" || !ic.GetReady() {
		t.Errorf("init container status %v", ic)
	}
	for _, cs := range st.GetContainerStatuses() {
		if cs.GetState().GetRunning() == nil || !cs.GetReady() || !strings.HasPrefix(cs.GetContainerId(), "fake://") ||
			cs.GetImage() != testImage || !strings.HasPrefix(cs.GetImageId(), "sha256:") || cs.GetRestartCount() != 0 {
			t.Errorf("container status %v", cs)
		}
	}
	// The sandbox and containers carry the pod's identity.
	sbs, _ := e.fake.ListPodSandbox(ctx(t), nil)
	if len(sbs) != 1 || sbs[0].GetLabels()[kuberuntime.LabelPodUID] != created.GetMetadata().GetUid() || sbs[0].GetMetadata().GetName() != "web" {
		t.Errorf("sandboxes %v", sbs)
	}
	// The init container ran before the others.
	var order []string
	for _, c := range e.fake.Calls() {
		if c.Method == "CreateContainer" {
			order = append(order, c.ID[strings.IndexByte(c.ID, '/')+1:])
		}
	}
	if strings.Join(order, ",") != "init,a,b" {
		t.Errorf("create order %v", order)
	}
}

func TestRestartPolicies(t *testing.T) {
	e := newEnv(t)
	e.startKubelet(t, nil)
	// OnFailure: fails once, then succeeds.
	e.exitWith("flaky", func(attempt int) *cri.ExitDecision {
		if attempt == 0 {
			return &cri.ExitDecision{Exit: true, ExitCode: 2}
		}
		return &cri.ExitDecision{Exit: true}
	})
	e.create(t, testPod("onfailure", "OnFailure", "flaky"))
	// Never: fails with 3.
	e.exitWith("once", func(int) *cri.ExitDecision { return &cri.ExitDecision{Exit: true, ExitCode: 3} })
	e.create(t, testPod("never", "Never", "once"))
	// Always: exits 0 every time, restarted with back-off.
	e.exitWith("loop", func(int) *cri.ExitDecision { return &cri.ExitDecision{Exit: true} })
	e.create(t, testPod("always", "Always", "loop"))
	// OOM kill shows as such.
	e.exitWith("hog", func(int) *cri.ExitDecision { return &cri.ExitDecision{Exit: true, ExitCode: 137, Reason: "OOMKilled"} })
	e.create(t, testPod("oom", "Never", "hog"))

	p := e.waitPod(t, "onfailure", "Succeeded", phase("Succeeded"))
	cs := p.GetStatus().GetContainerStatuses()[0]
	if cs.GetRestartCount() != 1 || cs.GetState().GetTerminated().GetExitCode() != 0 || cs.GetLastState().GetTerminated().GetExitCode() != 2 {
		t.Errorf("onfailure: %s", describe(p))
	}
	p = e.waitPod(t, "never", "Failed", phase("Failed"))
	if cs := p.GetStatus().GetContainerStatuses()[0]; cs.GetRestartCount() != 0 || cs.GetState().GetTerminated().GetExitCode() != 3 || cs.GetState().GetTerminated().GetReason() != "Error" {
		t.Errorf("never: %s", describe(p))
	}
	p = e.waitPod(t, "oom", "Failed", phase("Failed"))
	if r := p.GetStatus().GetContainerStatuses()[0].GetState().GetTerminated().GetReason(); r != "OOMKilled" {
		t.Errorf("oom: %s", describe(p))
	}
	p = e.waitPod(t, "always", "restarted at least 3 times, in CrashLoopBackOff at times", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		return len(cs) == 1 && cs[0].GetRestartCount() >= 3
	})
	if p.GetStatus().GetPhase() != "Running" {
		t.Errorf("always: %s", describe(p))
	}
	// Terminal pods release their sandbox.
	waitFor(t, 10*time.Second, "sandboxes of finished pods stopped", func() (bool, string) {
		sbs, _ := e.fake.ListPodSandbox(ctx(t), nil)
		ready := 0
		for _, sb := range sbs {
			if sb.State == runtimeapi.PodSandboxState_SANDBOX_READY {
				ready++
			}
		}
		return ready == 1, "ready sandboxes: " + string(rune('0'+ready))
	})
}

func TestImagePullFailureAndRecovery(t *testing.T) {
	e := newEnv(t)
	var mu = make(chan struct{}, 1)
	allowed := false
	e.fake.OnPull = func(image string) error {
		mu <- struct{}{}
		defer func() { <-mu }()
		if !allowed {
			return status.Error(codes.NotFound, "manifest unknown")
		}
		return nil
	}
	e.startKubelet(t, nil)
	e.create(t, testPod("pull", "Always", "a"))
	e.waitPod(t, "pull", "waiting ErrImagePull or ImagePullBackOff", func(p *corev1.Pod) bool {
		w := p.GetStatus().GetContainerStatuses()
		return len(w) == 1 && (w[0].GetState().GetWaiting().GetReason() == "ImagePullBackOff")
	})
	mu <- struct{}{}
	allowed = true
	<-mu
	e.waitPod(t, "pull", "Running after the image appeared", phase("Running"))
}

func TestLivenessFailureRestarts(t *testing.T) {
	e := newEnv(t)
	fails := map[string]bool{}
	var mu = make(chan struct{}, 1)
	e.fake.OnExec = func(id string, cmd []string) (*runtimeapi.ExecSyncResponse, error) {
		mu <- struct{}{}
		defer func() { <-mu }()
		if fails[id] {
			return &runtimeapi.ExecSyncResponse{ExitCode: 1, Stderr: []byte("unhealthy")}, nil
		}
		return &runtimeapi.ExecSyncResponse{}, nil
	}
	e.startKubelet(t, nil)
	p := testPod("live", "Always", "a")
	p.Spec.Containers[0].LivenessProbe = &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"check"}}, PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 1}
	p.Spec.Containers[0].ReadinessProbe = &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"check"}}, PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 1}
	e.create(t, p)
	got := e.waitPod(t, "live", "Ready", func(p *corev1.Pod) bool { return condition(p, "Ready") == "True" })
	id := strings.TrimPrefix(got.GetStatus().GetContainerStatuses()[0].GetContainerId(), "fake://")
	mu <- struct{}{}
	fails[id] = true
	<-mu
	got = e.waitPod(t, "live", "restarted after the liveness failure", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()[0]
		return cs.GetRestartCount() == 1 && cs.GetState().GetRunning() != nil && condition(p, "Ready") == "True"
	})
	if lt := got.GetStatus().GetContainerStatuses()[0].GetLastState().GetTerminated(); lt.GetExitCode() != 143 {
		t.Errorf("last state %v", lt)
	}
}

func TestGracefulDeletion(t *testing.T) {
	e := newEnv(t)
	e.startKubelet(t, nil)
	p := testPod("bye", "Always", "a")
	p.Spec.TerminationGracePeriodSeconds = proto.Int64(7)
	created := e.create(t, p)
	e.waitPod(t, "bye", "Running", phase("Running"))
	e.fake.ResetCalls()
	if _, _, err := e.client.Pods("default").Delete(ctx(t), "bye", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "pod deleted by the kubelet", func() (bool, string) {
		_, err := e.get(t, "bye")
		return apierrors.IsNotFound(err), "still there"
	})
	var methods []string
	for _, c := range e.fake.Calls() {
		switch c.Method {
		case "StopContainer", "StopPodSandbox", "RemovePodSandbox":
			methods = append(methods, c.Method)
		}
	}
	if len(methods) < 3 || methods[0] != "StopContainer" || !slices.Contains(methods, "RemovePodSandbox") {
		t.Errorf("CRI calls during deletion: %v", methods)
	}
	if sbs, _ := e.fake.ListPodSandbox(ctx(t), nil); len(sbs) != 0 {
		t.Errorf("sandboxes left: %v", sbs)
	}
	_ = created
}

func TestKubeletRestartKeepsContainersAndCleansOrphans(t *testing.T) {
	e := newEnv(t)
	_, stop := e.startKubelet(t, nil)
	e.create(t, testPod("keep", "Always", "a", "b"))
	e.create(t, testPod("gone", "Always", "a"))
	before := e.waitPod(t, "keep", "Running", phase("Running"))
	gone := e.waitPod(t, "gone", "Running", phase("Running"))
	stop()

	// While the kubelet is down, "gone" is force-deleted.
	zero := int64(0)
	if _, _, err := e.client.Pods("default").Delete(ctx(t), "gone", client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	creates := e.fake.CallCount("CreateContainer")
	e.fake.ResetCalls()
	e.startKubelet(t, nil)
	waitFor(t, 20*time.Second, "the orphan's sandbox removed", func() (bool, string) {
		sbs, _ := e.fake.ListPodSandbox(ctx(t), &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{kuberuntime.LabelPodUID: gone.GetMetadata().GetUid()}})
		return len(sbs) == 0, "still there"
	})
	// Status unchanged after the restart: same container IDs, nothing
	// recreated, nothing stopped.
	after, err := e.get(t, "keep")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(containerIDs(before), containerIDs(after)) {
		t.Errorf("container IDs changed: %v → %v", containerIDs(before), containerIDs(after))
	}
	if e.fake.CallCount("CreateContainer") != 0 || e.fake.CallCount("RunPodSandbox") != 0 {
		t.Errorf("containers created after the restart (%d before): %v", creates, e.fake.Calls())
	}
	for _, c := range e.fake.Calls() {
		if c.Method == "StopContainer" && !strings.Contains(strings.Join(containerIDs(gone), ","), c.ID) {
			t.Errorf("stopped %s, not the orphan's", c.ID)
		}
	}
	if after.GetStatus().GetPhase() != "Running" || condition(after, "Ready") != "True" {
		t.Errorf("after restart: %s", describe(after))
	}
}

func TestAPIServerDownPodsKeepRunning(t *testing.T) {
	e := newEnv(t)
	e.startKubelet(t, nil)
	e.create(t, testPod("steady", "Always", "a"))
	p := e.waitPod(t, "steady", "Running", phase("Running"))
	id := strings.TrimPrefix(p.GetStatus().GetContainerStatuses()[0].GetContainerId(), "fake://")

	e.api.Stop()
	// The container dies while the apiserver is away: the kubelet restarts
	// it all the same.
	if err := e.fake.ExitContainer(id, 1, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "container restarted without the apiserver", func() (bool, string) {
		cs, _ := e.fake.ListContainers(ctx(t), &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}})
		return len(cs) == 1 && cs[0].Id != id, "running containers: " + string(rune('0'+len(cs)))
	})
	e.api.Start()
	e.waitPod(t, "steady", "status caught up", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		return len(cs) == 1 && cs[0].GetRestartCount() == 1 && cs[0].GetState().GetRunning() != nil
	})
}

func TestPodDeletedBeforeRunningAndForceDelete(t *testing.T) {
	e := newEnv(t)
	e.startKubelet(t, nil)
	e.create(t, testPod("force", "Always", "a"))
	e.waitPod(t, "force", "Running", phase("Running"))
	zero := int64(0)
	if _, _, err := e.client.Pods("default").Delete(ctx(t), "force", client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "force-deleted pod removed from the runtime", func() (bool, string) {
		sbs, _ := e.fake.ListPodSandbox(ctx(t), nil)
		cs, _ := e.fake.ListContainers(ctx(t), nil)
		return len(sbs) == 0 && len(cs) == 0, "left"
	})
}

func TestNodeReRegisteredAfterDeletion(t *testing.T) {
	e := newEnv(t)
	e.startKubelet(t, func(c *kubelet.Config) { c.NodeStatusReportFrequency = 300 * time.Millisecond })
	var uid string
	waitFor(t, 20*time.Second, "node registered", func() (bool, string) {
		n, err := e.client.Nodes().Get(ctx(t), testNode)
		if err != nil {
			return false, err.Error()
		}
		uid = n.GetMetadata().GetUid()
		return true, ""
	})
	if _, _, err := e.client.Nodes().Delete(ctx(t), testNode, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "node registered again", func() (bool, string) {
		n, err := e.client.Nodes().Get(ctx(t), testNode)
		if err != nil {
			return false, err.Error()
		}
		return n.GetMetadata().GetUid() != uid, "same uid"
	})
}
