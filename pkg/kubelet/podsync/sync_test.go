package podsync

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

const img = "registry.keel.test/busybox:1.35"

// pod builds a pod with app containers named by names and init containers
// named by inits, restart policy policy.
func pod(policy string, inits []string, names ...string) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: "uid-1"},
		Spec:     &corev1.PodSpec{RestartPolicy: policy, TerminationGracePeriodSeconds: proto.Int64(30)},
	}
	for _, n := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, &corev1.Container{Name: n, Image: img, ImagePullPolicy: "IfNotPresent"})
	}
	for _, n := range names {
		p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: n, Image: img, ImagePullPolicy: "IfNotPresent"})
	}
	return p
}

func sandbox(id string, attempt uint32, ready bool) Sandbox {
	return Sandbox{ID: id, Attempt: attempt, Ready: ready, IP: "10.244.1.5", CreatedAt: t0.Add(-time.Hour + time.Duration(attempt)*time.Minute)}
}

// running is a running instance created ago before t0.
func running(id, sb, name string, attempt uint32, ago time.Duration) Container {
	return Container{ID: id, SandboxID: sb, Name: name, Attempt: attempt, State: StateRunning,
		CreatedAt: t0.Add(-ago), StartedAt: t0.Add(-ago), Image: img, ImageRef: "sha256:bb"}
}

// exited is an instance that ran from startedAgo to finishedAgo before t0.
func exited(id, sb, name string, attempt uint32, code int32, startedAgo, finishedAgo time.Duration) Container {
	return Container{ID: id, SandboxID: sb, Name: name, Attempt: attempt, State: StateExited, ExitCode: code,
		CreatedAt: t0.Add(-startedAgo), StartedAt: t0.Add(-startedAgo), FinishedAt: t0.Add(-finishedAgo), Image: img, ImageRef: "sha256:bb"}
}

func input(p *corev1.Pod, sbs []Sandbox, cs ...Container) Input {
	return Input{
		Pod:     p,
		Runtime: RuntimePod{Sandboxes: sbs, Containers: cs},
		Images:  map[string]string{img: "sha256:bb"},
		HostIP:  "192.0.2.2",
		Now:     t0,
		Config:  testConfig(),
	}
}

func testConfig() Config {
	c := DefaultConfig()
	c.RuntimeName = "containerd"
	return c
}

func actions(p Plan) string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, a.String())
	}
	return strings.Join(out, "; ")
}

// stateOf summarises a container status: "running", "waiting:Reason",
// "terminated:Reason:code", plus " last=..." and " ready" and " #n".
func stateOf(cs *corev1.ContainerStatus) string {
	one := func(s *corev1.ContainerState) string {
		switch {
		case s.GetRunning() != nil:
			return "running"
		case s.GetWaiting() != nil:
			return "waiting:" + s.GetWaiting().GetReason()
		case s.GetTerminated() != nil:
			return fmt.Sprintf("terminated:%s:%d", s.GetTerminated().GetReason(), s.GetTerminated().GetExitCode())
		}
		return "none"
	}
	out := cs.GetName() + "=" + one(cs.GetState())
	if cs.GetLastState() != nil {
		out += " last=" + one(cs.GetLastState())
	}
	if cs.GetReady() {
		out += " ready"
	}
	if cs.GetRestartCount() > 0 {
		out += fmt.Sprintf(" #%d", cs.GetRestartCount())
	}
	return out
}

func statuses(st *corev1.PodStatus) string {
	var out []string
	for _, cs := range st.GetInitContainerStatuses() {
		out = append(out, "init:"+stateOf(cs))
	}
	for _, cs := range st.GetContainerStatuses() {
		out = append(out, stateOf(cs))
	}
	return strings.Join(out, ", ")
}

func conds(st *corev1.PodStatus) string {
	var out []string
	for _, c := range st.GetConditions() {
		s := c.GetType() + "=" + c.GetStatus()
		if c.GetReason() != "" {
			s += "(" + c.GetReason() + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

func ready(ids ...string) map[string]Probe {
	m := map[string]Probe{}
	for _, id := range ids {
		m[id] = Probe{Ready: true, Started: true}
	}
	return m
}

type syncCase struct {
	name     string
	in       Input
	actions  string
	phase    string
	status   string // statuses() of the result, when set
	conds    string // conds() of the result, when set
	requeue  time.Duration
	done     bool
	noStatus bool
}

func runCases(t *testing.T, cases []syncCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(tc.in.Pod)
			p := Compute(tc.in)
			if got := actions(p); got != tc.actions {
				t.Errorf("actions:\n got %s\nwant %s", got, tc.actions)
			}
			if tc.noStatus {
				if p.Status != nil {
					t.Errorf("status %v, want none", p.Status)
				}
			} else {
				if p.Status == nil {
					t.Fatal("no status")
				}
				if p.Status.Phase != tc.phase {
					t.Errorf("phase %s, want %s", p.Status.Phase, tc.phase)
				}
				if tc.status != "" && statuses(p.Status) != tc.status {
					t.Errorf("statuses:\n got %s\nwant %s", statuses(p.Status), tc.status)
				}
				if tc.conds != "" && conds(p.Status) != tc.conds {
					t.Errorf("conditions:\n got %s\nwant %s", conds(p.Status), tc.conds)
				}
			}
			if p.RequeueAfter != tc.requeue {
				t.Errorf("requeue %v, want %v", p.RequeueAfter, tc.requeue)
			}
			if p.Done != tc.done {
				t.Errorf("done %v, want %v", p.Done, tc.done)
			}
			if tc.in.Pod != nil && !proto.Equal(before, tc.in.Pod) {
				t.Error("Compute modified its input pod")
			}
		})
	}
}

func with(in Input, f func(*Input)) Input {
	f(&in)
	return in
}

func TestStartAndInit(t *testing.T) {
	sb := []Sandbox{sandbox("sb1", 0, true)}
	runCases(t, []syncCase{
		{
			name:    "new pod: sandbox then containers",
			in:      input(pod("Always", nil, "a", "b"), nil),
			actions: "CreateSandbox(attempt 0); Start(a #0); Start(b #0)",
			phase:   "Pending",
			status:  "a=waiting:ContainerCreating, b=waiting:ContainerCreating",
			conds:   "PodScheduled=True Initialized=True ContainersReady=False(ContainersNotReady) Ready=False(ContainersNotReady)",
		},
		{
			name:    "image absent with IfNotPresent is pulled",
			in:      with(input(pod("Always", nil, "a"), nil), func(in *Input) { in.Images = nil }),
			actions: "CreateSandbox(attempt 0); Start(a #0, pull " + img + ")",
			phase:   "Pending",
		},
		{
			name: "Always pulls even when present",
			in: with(input(pod("Always", nil, "a"), nil), func(in *Input) {
				in.Pod.Spec.Containers[0].ImagePullPolicy = "Always"
			}),
			actions: "CreateSandbox(attempt 0); Start(a #0, pull " + img + ")",
			phase:   "Pending",
		},
		{
			name: "Never without the image waits with ErrImageNeverPull",
			in: with(input(pod("Always", nil, "a"), sb), func(in *Input) {
				in.Images = nil
				in.Pod.Spec.Containers[0].ImagePullPolicy = "Never"
			}),
			actions: "",
			phase:   "Pending",
			status:  "a=waiting:ErrImageNeverPull",
		},
		{
			name: "default pull policy of an untagged image is Always",
			in: with(input(pod("Always", nil, "a"), sb), func(in *Input) {
				in.Pod.Spec.Containers[0].ImagePullPolicy = ""
				in.Pod.Spec.Containers[0].Image = "registry.keel.test/busybox"
			}),
			actions: "Start(a #0, pull registry.keel.test/busybox)",
			phase:   "Pending",
		},
		{
			name:    "init containers: the first one with the sandbox",
			in:      input(pod("Always", []string{"i1", "i2"}, "a"), nil),
			actions: "CreateSandbox(attempt 0); StartInit(i1 #0)",
			phase:   "Pending",
			status:  "init:i1=waiting:PodInitializing, init:i2=waiting:PodInitializing, a=waiting:PodInitializing",
			conds:   "PodScheduled=True Initialized=False(ContainersNotInitialized) ContainersReady=False(ContainersNotReady) Ready=False(ContainersNotReady)",
		},
		{
			name:    "init container running: wait",
			in:      input(pod("Always", []string{"i1", "i2"}, "a"), sb, running("c1", "sb1", "i1", 0, time.Second)),
			actions: "",
			phase:   "Pending",
			status:  "init:i1=running, init:i2=waiting:PodInitializing, a=waiting:PodInitializing",
		},
		{
			name:    "first init container done: the second starts",
			in:      input(pod("Always", []string{"i1", "i2"}, "a"), sb, exited("c1", "sb1", "i1", 0, 0, 3*time.Second, 2*time.Second)),
			actions: "StartInit(i2 #0)",
			phase:   "Pending",
			status:  "init:i1=terminated:Completed:0 ready, init:i2=waiting:PodInitializing, a=waiting:PodInitializing",
		},
		{
			name: "every init container done: the app containers start",
			in: input(pod("Always", []string{"i1", "i2"}, "a", "b"), sb,
				exited("c1", "sb1", "i1", 0, 0, 3*time.Second, 2*time.Second),
				exited("c2", "sb1", "i2", 0, 0, 2*time.Second, time.Second)),
			actions: "Start(a #0); Start(b #0)",
			phase:   "Pending",
			status:  "init:i1=terminated:Completed:0 ready, init:i2=terminated:Completed:0 ready, a=waiting:ContainerCreating, b=waiting:ContainerCreating",
			conds:   "PodScheduled=True Initialized=True ContainersReady=False(ContainersNotReady) Ready=False(ContainersNotReady)",
		},
		{
			name: "failed init container restarts at once the first time",
			in: input(pod("OnFailure", []string{"i1"}, "a"), sb,
				exited("c1", "sb1", "i1", 0, 1, 3*time.Second, 2*time.Second)),
			actions: "StartInit(i1 #1, next back-off 10s)",
			phase:   "Pending",
			status:  "init:i1=terminated:Error:1, a=waiting:PodInitializing",
		},
		{
			name: "failed init container in back-off",
			in: with(input(pod("Always", []string{"i1"}, "a"), sb,
				exited("c2", "sb1", "i1", 1, 1, 3*time.Second, 2*time.Second),
				exited("c1", "sb1", "i1", 0, 1, 30*time.Second, 29*time.Second)), func(in *Input) {
				in.Backoff = map[string]BackoffEntry{"i1": {Delay: 10 * time.Second, LastExit: t0.Add(-29 * time.Second)}}
			}),
			actions: "",
			phase:   "Pending",
			status:  "init:i1=waiting:CrashLoopBackOff last=terminated:Error:1 #1, a=waiting:PodInitializing",
			requeue: 8 * time.Second,
		},
		{
			name: "failed init container with restartPolicy Never fails the pod",
			in: input(pod("Never", []string{"i1"}, "a"), sb,
				exited("c1", "sb1", "i1", 0, 2, 3*time.Second, 2*time.Second)),
			actions: "KillPod(containers [], 1 sandboxes: pod Failed)",
			phase:   "Failed",
			status:  "init:i1=terminated:Error:2, a=waiting:PodInitializing",
			conds:   "PodScheduled=True Initialized=False(ContainersNotInitialized) ContainersReady=False(PodCompleted) Ready=False(PodCompleted)",
		},
		{
			name: "init containers done earlier and since removed: app containers keep running",
			in: with(input(pod("Always", []string{"i1"}, "a"), sb, running("c2", "sb1", "a", 0, time.Minute)), func(in *Input) {
				in.Probes = ready("c2")
			}),
			actions: "",
			phase:   "Running",
			status:  "init:i1=waiting:PodInitializing, a=running ready",
			conds:   "PodScheduled=True Initialized=True ContainersReady=True Ready=True",
		},
		{
			name:    "a created but never started instance is replaced",
			in:      input(pod("Always", nil, "a"), sb, Container{ID: "c1", SandboxID: "sb1", Name: "a", Attempt: 2, State: StateCreated, CreatedAt: t0.Add(-time.Second)}),
			actions: "Remove(a c1); Start(a #2)",
			phase:   "Pending",
			status:  "a=waiting:ContainerCreating #2",
		},
	})
}

func TestRunningAndProbes(t *testing.T) {
	sb := []Sandbox{sandbox("sb1", 0, true)}
	p := pod("Always", nil, "a", "b")
	runCases(t, []syncCase{
		{
			name: "all running and ready (as after a kubelet restart: nothing to do)",
			in: with(input(p, sb, running("c1", "sb1", "a", 0, time.Minute), running("c2", "sb1", "b", 0, time.Minute)), func(in *Input) {
				in.Probes = ready("c1", "c2")
			}),
			actions: "",
			phase:   "Running",
			status:  "a=running ready, b=running ready",
			conds:   "PodScheduled=True Initialized=True ContainersReady=True Ready=True",
		},
		{
			name: "readiness not passed gates Ready",
			in: with(input(p, sb, running("c1", "sb1", "a", 0, time.Minute), running("c2", "sb1", "b", 0, time.Minute)), func(in *Input) {
				in.Probes = map[string]Probe{"c1": {Ready: true, Started: true}, "c2": {Started: true}}
			}),
			actions: "",
			phase:   "Running",
			status:  "a=running ready, b=running",
			conds:   "PodScheduled=True Initialized=True ContainersReady=False(ContainersNotReady) Ready=False(ContainersNotReady)",
		},
		{
			name: "liveness failure kills the container",
			in: with(input(p, sb, running("c1", "sb1", "a", 0, time.Minute), running("c2", "sb1", "b", 0, time.Minute)), func(in *Input) {
				in.Probes = map[string]Probe{"c1": {Ready: true, Started: true, Failed: true, Message: "HTTP 500"}, "c2": {Ready: true, Started: true}}
			}),
			actions: "Kill(a c1, grace 30s: Unhealthy)",
			phase:   "Running",
		},
		{
			name: "a changed spec restarts the container",
			in: with(input(p, sb, running("c1", "sb1", "a", 0, time.Minute), running("c2", "sb1", "b", 0, time.Minute)), func(in *Input) {
				in.Runtime.Containers[0].Hash = "stale"
				in.Runtime.Containers[1].Hash = Hash(p.Spec.Containers[1])
				in.Probes = ready("c1", "c2")
			}),
			actions: "Kill(a c1, grace 30s: SpecChanged)",
			phase:   "Running",
		},
		{
			name: "one container missing: Pending until it runs",
			in: with(input(p, sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) {
				in.Probes = ready("c1")
			}),
			actions: "Start(b #0)",
			phase:   "Pending",
			status:  "a=running ready, b=waiting:ContainerCreating",
		},
		{
			name: "host network: the pod IP is the host's",
			in: with(input(p, sb, running("c1", "sb1", "a", 0, time.Minute), running("c2", "sb1", "b", 0, time.Minute)), func(in *Input) {
				in.Pod = proto.Clone(p).(*corev1.Pod)
				in.Pod.Spec.HostNetwork = true
			}),
			actions: "",
			phase:   "Running",
		},
	})
	// Status details.
	in := with(input(p, sb, running("c1", "sb1", "a", 3, time.Minute), running("c2", "sb1", "b", 0, time.Minute),
		Container{ID: "old", SandboxID: "sb1", Name: "a", Attempt: 2, State: StateExited, ExitCode: 137, Reason: "OOMKilled",
			CreatedAt: t0.Add(-2 * time.Minute), StartedAt: t0.Add(-2 * time.Minute), FinishedAt: t0.Add(-61 * time.Second)}), func(in *Input) {
		in.Probes = ready("c1", "c2")
	})
	st := Compute(in).Status
	a := st.ContainerStatuses[0]
	if a.RestartCount != 3 || a.ContainerId != "containerd://c1" || a.ImageId != "sha256:bb" || a.Image != img || !a.Ready || !a.GetStarted() {
		t.Errorf("status of a: %v", a)
	}
	if lt := a.GetLastState().GetTerminated(); lt.GetReason() != "OOMKilled" || lt.GetExitCode() != 137 || lt.GetContainerId() != "containerd://old" ||
		!lt.GetFinishedAt().AsTime().Equal(t0.Add(-61*time.Second)) {
		t.Errorf("last state of a: %v", a.LastState)
	}
	if st.PodIp != "10.244.1.5" || len(st.PodIps) != 1 || st.HostIp != "192.0.2.2" || !st.StartTime.AsTime().Equal(t0) || st.QosClass != "BestEffort" {
		t.Errorf("pod status: %v", st)
	}
	hn := proto.Clone(p).(*corev1.Pod)
	hn.Spec.HostNetwork = true
	if st := Compute(with(in, func(in *Input) { in.Pod = hn })).Status; st.PodIp != "192.0.2.2" {
		t.Errorf("host network pod IP %q", st.PodIp)
	}
}

func TestRestartPoliciesAndBackoff(t *testing.T) {
	sb := []Sandbox{sandbox("sb1", 0, true)}
	one := func(policy string) *corev1.Pod { return pod(policy, nil, "a") }
	two := func(policy string) *corev1.Pod { return pod(policy, nil, "a", "b") }
	runCases(t, []syncCase{
		{
			name:    "Always: first exit restarts at once",
			in:      input(one("Always"), sb, exited("c1", "sb1", "a", 0, 0, time.Minute, time.Second)),
			actions: "Start(a #1, next back-off 10s)",
			phase:   "Running",
			status:  "a=terminated:Completed:0",
		},
		{
			name: "Always: in back-off",
			in: with(input(one("Always"), sb, exited("c2", "sb1", "a", 1, 1, 5*time.Second, 3*time.Second), exited("c1", "sb1", "a", 0, 1, time.Minute, 50*time.Second)), func(in *Input) {
				in.Backoff = map[string]BackoffEntry{"a": {Delay: 10 * time.Second, LastExit: t0.Add(-50 * time.Second)}}
			}),
			actions: "",
			phase:   "Running",
			status:  "a=waiting:CrashLoopBackOff last=terminated:Error:1 #1",
			requeue: 7 * time.Second,
		},
		{
			name: "Always: back-off over: restart, doubling",
			in: with(input(one("Always"), sb, exited("c2", "sb1", "a", 1, 1, 15*time.Second, 11*time.Second), exited("c1", "sb1", "a", 0, 1, time.Minute, 50*time.Second)), func(in *Input) {
				in.Backoff = map[string]BackoffEntry{"a": {Delay: 10 * time.Second, LastExit: t0.Add(-50 * time.Second)}}
			}),
			actions: "Start(a #2, next back-off 20s)",
			phase:   "Running",
		},
		{
			name: "Always: the back-off stops at 5 minutes",
			in: with(input(one("Always"), sb, exited("c9", "sb1", "a", 9, 1, 6*time.Minute, 5*time.Minute)), func(in *Input) {
				in.Backoff = map[string]BackoffEntry{"a": {Delay: 160 * time.Second}}
			}),
			actions: "Start(a #10, next back-off 5m0s)",
			phase:   "Running",
		},
		{
			name: "Always: at 5 minutes it waits 5 minutes",
			in: with(input(one("Always"), sb, exited("c9", "sb1", "a", 9, 1, 6*time.Minute, 4*time.Minute)), func(in *Input) {
				in.Backoff = map[string]BackoffEntry{"a": {Delay: 5 * time.Minute}}
			}),
			actions: "",
			phase:   "Running",
			requeue: time.Minute,
		},
		{
			name: "Always: ten minutes of running reset the back-off",
			in: with(input(one("Always"), sb, exited("c9", "sb1", "a", 9, 1, 11*time.Minute, time.Second)), func(in *Input) {
				in.Backoff = map[string]BackoffEntry{"a": {Delay: 5 * time.Minute}}
			}),
			actions: "Start(a #10, next back-off 10s)",
			phase:   "Running",
		},
		{
			name:    "OnFailure: exit 0 is final",
			in:      input(one("OnFailure"), sb, exited("c1", "sb1", "a", 0, 0, time.Minute, time.Second)),
			actions: "KillPod(containers [], 1 sandboxes: pod Succeeded)",
			phase:   "Succeeded",
			status:  "a=terminated:Completed:0",
			conds:   "PodScheduled=True Initialized=True ContainersReady=False(PodCompleted) Ready=False(PodCompleted)",
		},
		{
			name:    "OnFailure: a failure restarts",
			in:      input(one("OnFailure"), sb, exited("c1", "sb1", "a", 0, 3, time.Minute, time.Second)),
			actions: "Start(a #1, next back-off 10s)",
			phase:   "Running",
		},
		{
			name: "OnFailure: one done, one failing: Running",
			in: with(input(two("OnFailure"), sb, exited("c1", "sb1", "a", 0, 0, time.Minute, time.Second), exited("c3", "sb1", "b", 1, 1, 5*time.Second, time.Second)), func(in *Input) {
				in.Backoff = map[string]BackoffEntry{"b": {Delay: 10 * time.Second}}
			}),
			actions: "",
			phase:   "Running",
			status:  "a=terminated:Completed:0, b=waiting:CrashLoopBackOff last=terminated:Error:1 #1",
			requeue: 9 * time.Second,
		},
		{
			name:    "Never: a failure is final",
			in:      input(one("Never"), sb, exited("c1", "sb1", "a", 0, 2, time.Minute, time.Second)),
			actions: "KillPod(containers [], 1 sandboxes: pod Failed)",
			phase:   "Failed",
			status:  "a=terminated:Error:2",
		},
		{
			name:    "Never: success",
			in:      input(one("Never"), sb, exited("c1", "sb1", "a", 0, 0, time.Minute, time.Second)),
			actions: "KillPod(containers [], 1 sandboxes: pod Succeeded)",
			phase:   "Succeeded",
		},
		{
			name: "Never: one failed, one still running: Running",
			in: with(input(two("Never"), sb, exited("c1", "sb1", "a", 0, 1, time.Minute, time.Second), running("c2", "sb1", "b", 0, time.Minute)), func(in *Input) {
				in.Probes = ready("c2")
			}),
			actions: "",
			phase:   "Running",
			status:  "a=terminated:Error:1, b=running ready",
			conds:   "PodScheduled=True Initialized=True ContainersReady=False(ContainersNotReady) Ready=False(ContainersNotReady)",
		},
		{
			name:    "Never: an OOM kill is reported",
			in:      input(one("Never"), sb, with1(exited("c1", "sb1", "a", 0, 137, time.Minute, time.Second), func(c *Container) { c.Reason = "OOMKilled" })),
			actions: "KillPod(containers [], 1 sandboxes: pod Failed)",
			phase:   "Failed",
			status:  "a=terminated:OOMKilled:137",
		},
		{
			name: "a terminal phase sticks",
			in: with(input(one("Always"), sb, exited("c1", "sb1", "a", 0, 0, time.Minute, time.Second)), func(in *Input) {
				in.Previous = &corev1.PodStatus{Phase: "Succeeded"}
			}),
			actions: "KillPod(containers [], 1 sandboxes: pod Succeeded)",
			phase:   "Succeeded",
		},
		{
			name: "a terminal pod whose sandbox is stopped: nothing to do",
			in: with(input(one("Never"), []Sandbox{sandbox("sb1", 0, false)}, exited("c1", "sb1", "a", 0, 0, time.Minute, time.Second)), func(in *Input) {
				in.Previous = &corev1.PodStatus{Phase: "Succeeded", PodIp: "10.244.1.5"}
			}),
			actions: "",
			phase:   "Succeeded",
		},
	})
}

func with1(c Container, f func(*Container)) Container {
	f(&c)
	return c
}

func TestSandboxAndGarbage(t *testing.T) {
	runCases(t, []syncCase{
		{
			name: "a dead sandbox is replaced and every container restarted",
			in: input(pod("Always", nil, "a"), []Sandbox{sandbox("sb1", 0, false)},
				running("c1", "sb1", "a", 0, time.Minute)),
			actions: "KillPod(containers [a], 0 sandboxes: the sandbox is not ready); CreateSandbox(attempt 1: the sandbox is not ready); Start(a #1)",
			phase:   "Running",
		},
		{
			name: "a dead sandbox of a Never pod that ran is not replaced",
			in: input(pod("Never", nil, "a"), []Sandbox{sandbox("sb1", 0, false)},
				exited("c1", "sb1", "a", 0, 137, time.Minute, time.Second)),
			actions: "",
			phase:   "Failed",
		},
		{
			name: "old instances and empty old sandboxes are removed; the previous instance stays",
			in: with(input(pod("Always", nil, "a"), []Sandbox{sandbox("sb2", 1, true), sandbox("sb1", 0, false), sandbox("sb0", 0, false)},
				running("c4", "sb2", "a", 3, time.Minute),
				exited("c3", "sb1", "a", 2, 1, 3*time.Minute, 2*time.Minute),
				exited("c2", "sb1", "a", 1, 1, 5*time.Minute, 4*time.Minute),
				exited("c1", "sb0", "a", 0, 1, 7*time.Minute, 6*time.Minute)), func(in *Input) {
				in.Runtime.Sandboxes[2].CreatedAt = t0.Add(-2 * time.Hour)
				in.Probes = ready("c4")
			}),
			actions: "Remove(a c2); Remove(a c1); RemoveSandbox(sb0)",
			phase:   "Running",
			status:  "a=running last=terminated:Error:1 ready #3",
		},
		{
			name: "restart count continues from the API when the instances are gone",
			in: with(input(pod("Always", nil, "a"), nil), func(in *Input) {
				in.Previous = &corev1.PodStatus{Phase: "Running", ContainerStatuses: []*corev1.ContainerStatus{{Name: "a", RestartCount: 4,
					State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}
			}),
			actions: "CreateSandbox(attempt 0); Start(a #5)",
			phase:   "Pending",
			status:  "a=waiting:ContainerCreating #4",
		},
	})
}

func TestImagePullBackoff(t *testing.T) {
	sb := []Sandbox{sandbox("sb1", 0, true)}
	base := with(input(pod("Always", nil, "a"), sb), func(in *Input) { in.Images = nil })
	runCases(t, []syncCase{
		{
			name: "just failed: ErrImagePull",
			in: with(base, func(in *Input) {
				in.PullBackoff = map[string]PullBackoff{img: {Delay: 10 * time.Second, Until: t0.Add(10 * time.Second), Message: "not found"}}
				in.StartErrors = map[string]StartError{"a": {Reason: ReasonErrImagePull, Message: "pull: not found", Fresh: true}}
			}),
			actions: "",
			phase:   "Pending",
			status:  "a=waiting:ErrImagePull",
			requeue: 10 * time.Second,
		},
		{
			name: "later: ImagePullBackOff",
			in: with(base, func(in *Input) {
				in.PullBackoff = map[string]PullBackoff{img: {Delay: 10 * time.Second, Until: t0.Add(4 * time.Second), Message: "not found"}}
				in.StartErrors = map[string]StartError{"a": {Reason: ReasonErrImagePull, Message: "pull: not found"}}
			}),
			actions: "",
			phase:   "Pending",
			status:  "a=waiting:ImagePullBackOff",
			requeue: 4 * time.Second,
		},
		{
			name: "back-off over: pull again",
			in: with(base, func(in *Input) {
				in.PullBackoff = map[string]PullBackoff{img: {Delay: 10 * time.Second, Until: t0.Add(-time.Second)}}
			}),
			actions: "Start(a #0, pull " + img + ")",
			phase:   "Pending",
		},
		{
			name: "a create error is shown",
			in: with(input(pod("Always", nil, "a"), sb), func(in *Input) {
				in.StartErrors = map[string]StartError{"a": {Reason: ReasonCreateContainerErr, Message: "bad mount"}}
			}),
			actions: "Start(a #0)",
			phase:   "Pending",
			status:  "a=waiting:CreateContainerError",
		},
	})
}

func TestTermination(t *testing.T) {
	sb := []Sandbox{sandbox("sb1", 0, true)}
	deleting := pod("Always", nil, "a", "b")
	deleting.Metadata.DeletionTimestamp = timestamppb.New(t0.Add(5 * time.Second))
	deleting.Metadata.DeletionGracePeriodSeconds = proto.Int64(5)
	runCases(t, []syncCase{
		{
			name:    "being deleted: stop everything with the deletion's grace period",
			in:      input(deleting, sb, running("c1", "sb1", "a", 0, time.Minute), exited("c2", "sb1", "b", 0, 0, time.Minute, time.Second)),
			actions: "KillPod(containers [a], 1 sandboxes: pod is being deleted)",
			phase:   "Running",
		},
		{
			name:     "being deleted, everything stopped: clean up and delete from the API",
			in:       input(deleting, []Sandbox{sandbox("sb1", 0, false)}, exited("c1", "sb1", "a", 0, 143, time.Minute, time.Second)),
			actions:  "CleanupPod; DeletePod",
			done:     true,
			noStatus: true,
		},
		{
			name:     "being deleted before anything ran",
			in:       input(deleting, nil),
			actions:  "CleanupPod; DeletePod",
			done:     true,
			noStatus: true,
		},
		{
			name:     "gone from the API: kill at once (deleted with grace 0)",
			in:       with(input(pod("Always", nil, "a"), sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) { in.Deleted = true }),
			actions:  "KillPod(containers [a], 1 sandboxes: pod deleted)",
			noStatus: true,
		},
		{
			name:     "gone from the API and stopped: clean up, no API delete",
			in:       with(input(pod("Always", nil, "a"), []Sandbox{sandbox("sb1", 0, false)}), func(in *Input) { in.Deleted = true }),
			actions:  "CleanupPod",
			done:     true,
			noStatus: true,
		},
		{
			name:     "orphan found at start: killed with the orphan grace period",
			in:       with(input(nil, sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) { in.Deleted = true }),
			actions:  "KillPod(containers [a], 1 sandboxes: pod deleted)",
			noStatus: true,
		},
		{
			name: "activeDeadlineSeconds exceeded",
			in: with(input(pod("Always", nil, "a"), sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) {
				in.Pod.Spec.ActiveDeadlineSeconds = proto.Int64(30)
				in.Previous = &corev1.PodStatus{Phase: "Running", StartTime: timestamppb.New(t0.Add(-time.Minute))}
			}),
			actions: "KillPod(containers [a], 1 sandboxes: pod Failed)",
			phase:   "Failed",
		},
		{
			name: "activeDeadlineSeconds not yet: requeue at the deadline",
			in: with(input(pod("Always", nil, "a"), sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) {
				in.Pod.Spec.ActiveDeadlineSeconds = proto.Int64(90)
				in.Previous = &corev1.PodStatus{Phase: "Running", StartTime: timestamppb.New(t0.Add(-time.Minute))}
				in.Probes = ready("c1")
			}),
			actions: "",
			phase:   "Running",
			requeue: 30 * time.Second,
		},
	})
	// Grace periods carried by the kills.
	p := Compute(input(deleting, sb, running("c1", "sb1", "a", 0, time.Minute)))
	if kp := p.Actions[0].(KillPod); kp.Containers[0].Grace != 5*time.Second || kp.Sandboxes[0] != "sb1" {
		t.Errorf("kill %+v", kp)
	}
	// A terminating pod force-deleted is last seen with its longer grace
	// period: gone from the API, it has none left.
	forced := Compute(with(input(deleting, sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) { in.Deleted = true }))
	if g := forced.Actions[0].(KillPod).Containers[0].Grace; g != 0 {
		t.Errorf("grace of a pod gone from the API while terminating: %v, want 0", g)
	}
	orphan := Compute(with(input(nil, sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) { in.Deleted = true }))
	if g := orphan.Actions[0].(KillPod).Containers[0].Grace; g != 2*time.Second {
		t.Errorf("orphan grace %v", g)
	}
	dl := Compute(with(input(pod("Always", nil, "a"), sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) {
		in.Pod.Spec.ActiveDeadlineSeconds = proto.Int64(30)
		in.Previous = &corev1.PodStatus{StartTime: timestamppb.New(t0.Add(-time.Minute))}
	}))
	if dl.Status.Reason != ReasonDeadlineExceeded {
		t.Errorf("deadline reason %q", dl.Status.Reason)
	}
}

func TestConditionTransitionTimes(t *testing.T) {
	sb := []Sandbox{sandbox("sb1", 0, true)}
	in := with(input(pod("Always", nil, "a"), sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) { in.Probes = ready("c1") })
	first := Compute(in).Status
	// An hour later, nothing changed: the transition times stay.
	later := with(in, func(in2 *Input) { in2.Now = t0.Add(time.Hour); in2.Previous = first })
	second := Compute(later).Status
	if !proto.Equal(first, second) {
		t.Errorf("status changed with nothing happening:\n%v\n%v", first, second)
	}
	// Readiness lost: Ready and ContainersReady move, the others keep theirs.
	lost := with(later, func(in2 *Input) { in2.Probes = map[string]Probe{"c1": {Started: true}} })
	third := Compute(lost).Status
	for _, c := range third.Conditions {
		moved := !c.LastTransitionTime.AsTime().Equal(t0)
		if want := c.Type == api.PodReady || c.Type == api.ContainersReady; moved != want {
			t.Errorf("condition %s moved=%v", c.Type, moved)
		}
	}
	// Conditions others own are kept, and the scheduler's PodScheduled too.
	other := with(in, func(in2 *Input) {
		in2.Pod = proto.Clone(in.Pod).(*corev1.Pod)
		in2.Pod.Status = &corev1.PodStatus{Conditions: []*corev1.PodCondition{
			{Type: api.PodScheduled, Status: "True", LastTransitionTime: timestamppb.New(t0.Add(-time.Hour))},
			{Type: "example.com/gate", Status: "False"},
		}}
		in2.Pod.Spec.ReadinessGates = []*corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	})
	st := Compute(other).Status
	if got := conds(st); got != "PodScheduled=True Initialized=True ContainersReady=True Ready=False(ReadinessGatesNotReady) example.com/gate=False" {
		t.Errorf("conditions %s", got)
	}
	if !st.Conditions[0].LastTransitionTime.AsTime().Equal(t0.Add(-time.Hour)) {
		t.Error("PodScheduled's time was not kept")
	}
}

func TestMoreCases(t *testing.T) {
	sb := []Sandbox{sandbox("sb1", 0, true)}
	gated := pod("Always", nil, "a")
	gated.Spec.ReadinessGates = []*corev1.PodReadinessGate{{ConditionType: "example.com/lb"}}
	gated.Status = &corev1.PodStatus{Conditions: []*corev1.PodCondition{{Type: "example.com/lb", Status: "True"}}}
	deleting := pod("Always", nil, "a")
	deleting.Metadata.DeletionTimestamp = timestamppb.New(t0)
	runCases(t, []syncCase{
		{
			name: "an old sandbox still ready is stopped",
			in: with(input(pod("Always", nil, "a"), []Sandbox{sandbox("sb2", 1, true), sandbox("sb1", 0, true)},
				running("c2", "sb2", "a", 1, time.Minute)), func(in *Input) { in.Probes = ready("c2") }),
			actions: "StopSandbox(sb1)",
			phase:   "Running",
		},
		{
			name: "started but its startup probe has not passed: not ready",
			in: with(input(pod("Always", nil, "a"), sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) {
				in.Probes = map[string]Probe{"c1": {Ready: true, Started: false}}
			}),
			actions: "",
			phase:   "Running",
			status:  "a=running",
		},
		{
			name:    "readiness gate True: Ready",
			in:      with(input(gated, sb, running("c1", "sb1", "a", 0, time.Minute)), func(in *Input) { in.Probes = ready("c1") }),
			actions: "",
			phase:   "Running",
			conds:   "PodScheduled=True Initialized=True ContainersReady=True Ready=True example.com/lb=True",
		},
		{
			name:    "being deleted without a deletion grace period: the spec's",
			in:      input(deleting, sb, running("c1", "sb1", "a", 0, time.Minute)),
			actions: "KillPod(containers [a], 1 sandboxes: pod is being deleted)",
			phase:   "Running",
		},
		{
			name:    "a container in an unknown state is killed on deletion",
			in:      input(deleting, sb, Container{ID: "c1", SandboxID: "sb1", Name: "a", State: StateUnknown, CreatedAt: t0.Add(-time.Minute)}),
			actions: "KillPod(containers [a], 1 sandboxes: pod is being deleted)",
			phase:   "Pending",
		},
		{
			name: "init containers rerun in a new sandbox",
			in: input(pod("Always", []string{"i1"}, "a"), []Sandbox{sandbox("sb1", 0, false)},
				exited("c1", "sb1", "i1", 0, 0, time.Hour, time.Hour), exited("c2", "sb1", "a", 0, 137, time.Hour, time.Second)),
			actions: "CreateSandbox(attempt 1: the sandbox is not ready); StartInit(i1 #1)",
			phase:   "Pending",
		},
	})
	p := Compute(input(deleting, sb, running("c1", "sb1", "a", 0, time.Minute)))
	if g := p.Actions[0].(KillPod).Containers[0].Grace; g != 30*time.Second {
		t.Errorf("grace %v", g)
	}
}
