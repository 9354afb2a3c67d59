package printers_test

import (
	"bytes"
	"keel.dev/keel/pkg/api"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/scheme"
)

// now is the fixed clock of every test.
var now = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(-d)) }

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-3 * time.Second, "<invalid>"},
		{-500 * time.Millisecond, "0s"},
		{0, "0s"},
		{5 * time.Second, "5s"},
		{119 * time.Second, "119s"},
		{2 * time.Minute, "2m"},
		{3*time.Minute + 20*time.Second, "3m20s"},
		{15 * time.Minute, "15m"},
		{179 * time.Minute, "179m"},
		{3 * time.Hour, "3h"},
		{4*time.Hour + 10*time.Minute, "4h10m"},
		{20 * time.Hour, "20h"},
		{47 * time.Hour, "47h"},
		{2*24*time.Hour + 3*time.Hour, "2d3h"},
		{5 * 24 * time.Hour, "5d"},
		{30 * 24 * time.Hour, "30d"},
		{(2*365 + 45) * 24 * time.Hour, "2y45d"},
		{9 * 365 * 24 * time.Hour, "9y"},
	} {
		if got := printers.HumanDuration(tc.d); got != tc.want {
			t.Errorf("HumanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	if got := printers.Age(nil, now); got != "<unknown>" {
		t.Errorf("Age(nil) = %q", got)
	}
	if got := printers.Age(ago(90*time.Second), now); got != "90s" {
		t.Errorf("Age(90s ago) = %q", got)
	}
}

func running(name string, ready bool, restarts int32) *corev1.ContainerStatus {
	return &corev1.ContainerStatus{Name: name, Ready: ready, RestartCount: restarts,
		State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Minute)}}}
}

func waiting(name, reason string) *corev1.ContainerStatus {
	return &corev1.ContainerStatus{Name: name, State: &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(name, reason string, code, signal int32) *corev1.ContainerStatus {
	return &corev1.ContainerStatus{Name: name, State: &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code, Signal: signal}}}
}

func pod(containers []string, inits []string, phase string, statuses, initStatuses []*corev1.ContainerStatus) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", CreationTimestamp: ago(10 * time.Minute)},
		Spec:     &corev1.PodSpec{},
		Status:   &corev1.PodStatus{Phase: phase, ContainerStatuses: statuses, InitContainerStatuses: initStatuses},
	}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: c})
	}
	for _, c := range inits {
		p.Spec.InitContainers = append(p.Spec.InitContainers, &corev1.Container{Name: c})
	}
	return p
}

func TestSummarizePod(t *testing.T) {
	crashing := running("app", false, 4)
	crashing.State = &corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	crashing.LastState = &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago(2 * time.Minute)}}

	deleting := pod([]string{"app"}, nil, "Running", []*corev1.ContainerStatus{running("app", true, 0)}, nil)
	deleting.Metadata.DeletionTimestamp = timestamppb.New(now.Add(30 * time.Second))

	deletedDone := pod([]string{"app"}, nil, "Succeeded", []*corev1.ContainerStatus{terminated("app", "Completed", 0, 0)}, nil)
	deletedDone.Metadata.DeletionTimestamp = timestamppb.New(now)

	nodeLost := pod([]string{"app"}, nil, "Running", nil, nil)
	nodeLost.Status.Reason = "NodeLost"
	nodeLost.Metadata.DeletionTimestamp = timestamppb.New(now)

	evicted := pod([]string{"app"}, nil, "Failed", nil, nil)
	evicted.Status.Reason = "Evicted"

	completedButRunning := pod([]string{"a", "b"}, nil, "Running",
		[]*corev1.ContainerStatus{running("a", true, 0), terminated("b", "Completed", 0, 0)}, nil)
	completedButRunningReady := proto.Clone(completedButRunning).(*corev1.Pod)
	completedButRunningReady.Status.Conditions = []*corev1.PodCondition{{Type: "Ready", Status: "True"}}

	sidecar := pod([]string{"app"}, []string{"proxy"}, "Running",
		[]*corev1.ContainerStatus{running("app", true, 0)},
		[]*corev1.ContainerStatus{func() *corev1.ContainerStatus {
			s := running("proxy", true, 1)
			s.Started = proto.Bool(true)
			return s
		}()})
	sidecar.Spec.InitContainers[0].RestartPolicy = proto.String("Always")
	sidecar.Status.Conditions = []*corev1.PodCondition{{Type: "Initialized", Status: "True"}}

	gated := pod([]string{"app"}, nil, "Pending", nil, nil)
	gated.Status.Conditions = []*corev1.PodCondition{{Type: "PodScheduled", Status: "False", Reason: "SchedulingGated"}}

	for _, tc := range []struct {
		name                    string
		pod                     *corev1.Pod
		ready, status, restarts string
	}{
		{"pending, no status", pod([]string{"a", "b"}, nil, "Pending", nil, nil), "0/2", "Pending", "0"},
		{"container creating", pod([]string{"app"}, nil, "Pending", []*corev1.ContainerStatus{waiting("app", "ContainerCreating")}, nil), "0/1", "ContainerCreating", "0"},
		{"running and ready", pod([]string{"a", "b"}, nil, "Running", []*corev1.ContainerStatus{running("a", true, 0), running("b", true, 0)}, nil), "2/2", "Running", "0"},
		{"running, one not ready", pod([]string{"a", "b"}, nil, "Running", []*corev1.ContainerStatus{running("a", true, 0), running("b", false, 0)}, nil), "1/2", "Running", "0"},
		{"crash loop with restarts", pod([]string{"app"}, nil, "Running", []*corev1.ContainerStatus{crashing}, nil), "0/1", "CrashLoopBackOff", "4 (2m ago)"},
		{"completed", pod([]string{"app"}, nil, "Succeeded", []*corev1.ContainerStatus{terminated("app", "Completed", 0, 0)}, nil), "0/1", "Completed", "0"},
		{"error", pod([]string{"app"}, nil, "Failed", []*corev1.ContainerStatus{terminated("app", "Error", 2, 0)}, nil), "0/1", "Error", "0"},
		{"exit code without reason", pod([]string{"app"}, nil, "Failed", []*corev1.ContainerStatus{terminated("app", "", 3, 0)}, nil), "0/1", "ExitCode:3", "0"},
		{"signal without reason", pod([]string{"app"}, nil, "Failed", []*corev1.ContainerStatus{terminated("app", "", 0, 9)}, nil), "0/1", "Signal:9", "0"},
		{"init pending", pod([]string{"app"}, []string{"i1", "i2"}, "Pending", nil, []*corev1.ContainerStatus{terminated("i1", "Completed", 0, 0), running("i2", false, 0)}), "0/1", "Init:1/2", "0"},
		{"init waiting reason", pod([]string{"app"}, []string{"i1"}, "Pending", nil, []*corev1.ContainerStatus{waiting("i1", "ImagePullBackOff")}), "0/1", "Init:ImagePullBackOff", "0"},
		{"init PodInitializing counts", pod([]string{"app"}, []string{"i1"}, "Pending", nil, []*corev1.ContainerStatus{waiting("i1", "PodInitializing")}), "0/1", "Init:0/1", "0"},
		{"init error", pod([]string{"app"}, []string{"i1"}, "Pending", nil, []*corev1.ContainerStatus{terminated("i1", "Error", 1, 0)}), "0/1", "Init:Error", "0"},
		{"init exit code", pod([]string{"app"}, []string{"i1"}, "Pending", nil, []*corev1.ContainerStatus{terminated("i1", "", 7, 0)}), "0/1", "Init:ExitCode:7", "0"},
		{"init signal", pod([]string{"app"}, []string{"i1"}, "Pending", nil, []*corev1.ContainerStatus{terminated("i1", "", 1, 15)}), "0/1", "Init:Signal:15", "0"},
		{"terminating", deleting, "1/1", "Terminating", "0"},
		{"deleted after finishing", deletedDone, "0/1", "Completed", "0"},
		{"node lost", nodeLost, "0/1", "Unknown", "0"},
		{"evicted", evicted, "0/1", "Evicted", "0"},
		{"completed while another runs, not ready", completedButRunning, "1/2", "NotReady", "0"},
		{"completed while another runs, ready", completedButRunningReady, "1/2", "Running", "0"},
		{"sidecar", sidecar, "2/2", "Running", "1"},
		{"scheduling gated", gated, "0/1", "SchedulingGated", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := printers.SummarizePod(tc.pod, now)
			if s.Ready != tc.ready || s.Status != tc.status || s.Restarts != tc.restarts {
				t.Errorf("got READY %q STATUS %q RESTARTS %q, want %q %q %q", s.Ready, s.Status, s.Restarts, tc.ready, tc.status, tc.restarts)
			}
		})
	}
}

func kind(t *testing.T, name string) *scheme.Kind {
	t.Helper()
	k, ok := scheme.ByResource(name)
	if !ok {
		t.Fatalf("no kind %s", name)
	}
	return k
}

// render prints a table with the printers.Writer.
func render(t *testing.T, k *scheme.Kind, opts printers.Options, objs ...proto.Message) string {
	t.Helper()
	opts.Now = now
	var b bytes.Buffer
	if err := printers.NewWriter(&b).Write(printers.Table(k, objs, opts)); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func checkTable(t *testing.T, got, want string) {
	t.Helper()
	want = strings.TrimPrefix(want, "\n")
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestTables(t *testing.T) {
	created := ago(3*time.Minute + 20*time.Second)
	md := func(name string) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: created, Labels: map[string]string{"app": "web"}}
	}
	t.Run("pods", func(t *testing.T) {
		p := pod([]string{"app"}, nil, "Running", []*corev1.ContainerStatus{running("app", true, 0)}, nil)
		p.Metadata = md("web-1")
		p.Status.PodIp = "10.244.1.5"
		p.Spec.NodeName = "node-1"
		checkTable(t, render(t, kind(t, "po"), printers.Options{}, p), `
NAME    READY   STATUS    RESTARTS   AGE
web-1   1/1     Running   0          3m20s
`)
		checkTable(t, render(t, kind(t, "po"), printers.Options{Wide: true, WithNamespace: true, ShowLabels: true}, p), `
NAMESPACE   NAME    READY   STATUS    RESTARTS   AGE     IP           NODE     NOMINATED NODE   READINESS GATES   LABELS
default     web-1   1/1     Running   0          3m20s   10.244.1.5   node-1   <none>           <none>            app=web
`)
		checkTable(t, render(t, kind(t, "po"), printers.Options{WithKind: true}, p), `
NAME        READY   STATUS    RESTARTS   AGE
pod/web-1   1/1     Running   0          3m20s
`)
	})
	t.Run("deployments", func(t *testing.T) {
		d := &appsv1.Deployment{Metadata: md("web"), Spec: &appsv1.DeploymentSpec{
			Replicas: proto.Int32(3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"},
				MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"a", "b"}}}},
			Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1.27"}, {Name: "log", Image: "busybox"}}}},
		}, Status: &appsv1.DeploymentStatus{ReadyReplicas: 2, UpdatedReplicas: 3, AvailableReplicas: 2}}
		checkTable(t, render(t, kind(t, "deploy"), printers.Options{Wide: true}, d), `
NAME   READY   UP-TO-DATE   AVAILABLE   AGE     CONTAINERS   IMAGES               SELECTOR
web    2/3     3            2           3m20s   nginx,log    nginx:1.27,busybox   app=web,tier in (a,b)
`)
	})
	t.Run("replicasets", func(t *testing.T) {
		rs := &appsv1.ReplicaSet{Metadata: md("web-5d8f"), Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(3)},
			Status: &appsv1.ReplicaSetStatus{Replicas: 3, ReadyReplicas: 1}}
		checkTable(t, render(t, kind(t, "rs"), printers.Options{}, rs), `
NAME       DESIRED   CURRENT   READY   AGE
web-5d8f   3         3         1       3m20s
`)
	})
	t.Run("jobs", func(t *testing.T) {
		running := &batchv1.Job{Metadata: md("pi"), Spec: &batchv1.JobSpec{Completions: proto.Int32(5), Parallelism: proto.Int32(2)},
			Status: &batchv1.JobStatus{Succeeded: 2, StartTime: ago(2 * time.Minute)}}
		done := &batchv1.Job{Metadata: md("once"), Spec: &batchv1.JobSpec{Parallelism: proto.Int32(3)},
			Status: &batchv1.JobStatus{Succeeded: 1, StartTime: ago(3 * time.Minute), CompletionTime: ago(time.Minute),
				Conditions: []*batchv1.JobCondition{{Type: "Complete", Status: "True"}}}}
		failed := &batchv1.Job{Metadata: md("bad"), Spec: &batchv1.JobSpec{},
			Status: &batchv1.JobStatus{Conditions: []*batchv1.JobCondition{{Type: "Failed", Status: "True"}}}}
		checkTable(t, render(t, kind(t, "jobs"), printers.Options{}, running, done, failed), `
NAME   STATUS     COMPLETIONS   DURATION   AGE
pi     Running    2/5           2m         3m20s
once   Complete   1/1 of 3      2m         3m20s
bad    Failed     0/1                      3m20s
`)
	})
	t.Run("services", func(t *testing.T) {
		cip := &corev1.Service{Metadata: md("web"), Spec: &corev1.ServiceSpec{Type: "ClusterIP", ClusterIp: "10.96.0.10",
			Selector: map[string]string{"app": "web"},
			Ports:    []*corev1.ServicePort{{Port: 80, Protocol: "TCP"}, {Port: 53, Protocol: "UDP"}}}}
		np := &corev1.Service{Metadata: md("np"), Spec: &corev1.ServiceSpec{Type: "NodePort", ClusterIp: "10.96.0.11",
			ExternalIps: []string{"192.0.2.1"},
			Ports:       []*corev1.ServicePort{{Port: 80, NodePort: 30007, Protocol: "TCP"}}}}
		lb := &corev1.Service{Metadata: md("lb"), Spec: &corev1.ServiceSpec{Type: "LoadBalancer", ClusterIp: "10.96.0.12"}}
		ext := &corev1.Service{Metadata: md("ext"), Spec: &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com"}}
		headless := &corev1.Service{Metadata: md("headless"), Spec: &corev1.ServiceSpec{Type: "ClusterIP", ClusterIp: "None"}}
		checkTable(t, render(t, kind(t, "svc"), printers.Options{Wide: true}, cip, np, lb, ext, headless), `
NAME       TYPE           CLUSTER-IP   EXTERNAL-IP      PORT(S)         AGE     SELECTOR
web        ClusterIP      10.96.0.10   <none>           80/TCP,53/UDP   3m20s   app=web
np         NodePort       10.96.0.11   192.0.2.1        80:30007/TCP    3m20s   <none>
lb         LoadBalancer   10.96.0.12   <pending>        <none>          3m20s   <none>
ext        ExternalName   <none>       db.example.com   <none>          3m20s   <none>
headless   ClusterIP      None         <none>           <none>          3m20s   <none>
`)
	})
	t.Run("nodes", func(t *testing.T) {
		n := &corev1.Node{
			Metadata: &metav1.ObjectMeta{Name: "node-1", CreationTimestamp: ago(50 * time.Hour),
				Labels: map[string]string{"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "worker"}},
			Spec: &corev1.NodeSpec{Unschedulable: true},
			Status: &corev1.NodeStatus{
				Conditions: []*corev1.NodeCondition{{Type: "MemoryPressure", Status: "False"}, {Type: "Ready", Status: "True"}},
				Addresses:  []*corev1.NodeAddress{{Type: "Hostname", Address: "node-1"}, {Type: "InternalIP", Address: "10.0.0.21"}},
				NodeInfo:   &corev1.NodeSystemInfo{KubeletVersion: "v0.1.0", OsImage: "Debian GNU/Linux 13", KernelVersion: "6.12.0", ContainerRuntimeVersion: "containerd://2.1.0"},
			},
		}
		bare := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-2", CreationTimestamp: ago(time.Minute)},
			Status: &corev1.NodeStatus{Conditions: []*corev1.NodeCondition{{Type: "Ready", Status: "Unknown"}}}}
		fresh := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "node-3", CreationTimestamp: ago(time.Second)}}
		checkTable(t, render(t, kind(t, "no"), printers.Options{Wide: true, WithNamespace: true}, n, bare, fresh), `
NAME     STATUS                     ROLES                  AGE    VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE              KERNEL-VERSION   CONTAINER-RUNTIME
node-1   Ready,SchedulingDisabled   control-plane,worker   2d2h   v0.1.0    10.0.0.21     <none>        Debian GNU/Linux 13   6.12.0           containerd://2.1.0
node-2   NotReady                   <none>                 60s              <none>        <none>        <unknown>             <unknown>        <unknown>
node-3   Unknown                    <none>                 1s               <none>        <none>        <unknown>             <unknown>        <unknown>
`)
	})
	t.Run("namespaces, configmaps, secrets", func(t *testing.T) {
		ns := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "dev", CreationTimestamp: created}, Status: &corev1.NamespaceStatus{Phase: "Active"}}
		checkTable(t, render(t, kind(t, "ns"), printers.Options{}, ns), `
NAME   STATUS   AGE
dev    Active   3m20s
`)
		cm := &corev1.ConfigMap{Metadata: md("game"), Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": {1}}}
		checkTable(t, render(t, kind(t, "cm"), printers.Options{}, cm), `
NAME   DATA   AGE
game   3      3m20s
`)
		s := &corev1.Secret{Metadata: md("creds"), Type: "Opaque", Data: map[string][]byte{"user": []byte("admin"), "pass": []byte("x")}}
		checkTable(t, render(t, kind(t, "secrets"), printers.Options{}, s), `
NAME    TYPE     DATA   AGE
creds   Opaque   2      3m20s
`)
	})
	t.Run("endpoints", func(t *testing.T) {
		addrs := func(ips ...string) []*corev1.EndpointAddress {
			var out []*corev1.EndpointAddress
			for _, ip := range ips {
				out = append(out, &corev1.EndpointAddress{Ip: ip})
			}
			return out
		}
		few := &corev1.Endpoints{Metadata: md("few"), Subsets: []*corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2"), Ports: []*corev1.EndpointPort{{Port: 80}}}}}
		many := &corev1.Endpoints{Metadata: md("many"), Subsets: []*corev1.EndpointSubset{{Addresses: addrs("10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"), Ports: []*corev1.EndpointPort{{Port: 80}, {Port: 443}}}}}
		none := &corev1.Endpoints{Metadata: md("none")}
		headless := &corev1.Endpoints{Metadata: md("headless"), Subsets: []*corev1.EndpointSubset{{Addresses: addrs("fd00::1")}}}
		checkTable(t, render(t, kind(t, "ep"), printers.Options{}, few, many, none, headless), `
NAME       ENDPOINTS                                         AGE
few        10.0.0.1:80,10.0.0.2:80                           3m20s
many       10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 5 more...   3m20s
none       <none>                                            3m20s
headless   fd00::1                                           3m20s
`)
	})
	t.Run("events", func(t *testing.T) {
		e := &corev1.Event{Metadata: &metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
			InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Name: "web", FieldPath: "spec.containers{app}"},
			Reason:         "BackOff", Message: " Back-off restarting failed container \n", Type: "Warning", Count: 5,
			FirstTimestamp: ago(10 * time.Minute), LastTimestamp: ago(30 * time.Second),
			Source: &corev1.EventSource{Component: "kubelet", Host: "node-1"}}
		single := &corev1.Event{Metadata: &metav1.ObjectMeta{Name: "web.2", Namespace: "default"},
			InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Name: "web"}, Reason: "Scheduled", Type: "Normal",
			Message: "Successfully assigned default/web to node-1", EventTime: ago(time.Hour), ReportingComponent: "default-scheduler"}
		checkTable(t, render(t, kind(t, "ev"), printers.Options{}, e, single), `
LAST SEEN   TYPE      REASON      OBJECT    MESSAGE
30s         Warning   BackOff     pod/web   Back-off restarting failed container
60m         Normal    Scheduled   pod/web   Successfully assigned default/web to node-1
`)
		checkTable(t, render(t, kind(t, "ev"), printers.Options{Wide: true}, e), `
LAST SEEN   TYPE      REASON    OBJECT    SUBOBJECT              SOURCE            MESSAGE                                FIRST SEEN   COUNT   NAME
30s         Warning   BackOff   pod/web   spec.containers{app}   kubelet, node-1   Back-off restarting failed container   10m          5       web.1
`)
	})
	t.Run("leases and priority classes", func(t *testing.T) {
		l := &coordinationv1.Lease{Metadata: md("node-1"), Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String("node-1")}}
		checkTable(t, render(t, kind(t, "leases"), printers.Options{}, l), `
NAME     HOLDER   AGE
node-1   node-1   3m20s
`)
		pc := &schedulingv1.PriorityClass{Metadata: &metav1.ObjectMeta{Name: "high", CreationTimestamp: created}, Value: 1000000, GlobalDefault: true}
		checkTable(t, render(t, kind(t, "pc"), printers.Options{}, pc), `
NAME   VALUE     GLOBAL-DEFAULT   AGE
high   1000000   true             3m20s
`)
	})
}

func TestWriterKeepsWidths(t *testing.T) {
	var b bytes.Buffer
	w := printers.NewWriter(&b)
	if err := w.Write([][]string{{"NAME", "READY", "STATUS"}, {"web", "0/1", "Pending"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Write([][]string{{"a", "1/1", "Running"}}); err != nil {
		t.Fatal(err)
	}
	// A wider cell widens its column from then on.
	if err := w.Write([][]string{{"a-much-longer-name", "1/1", "Running"}}); err != nil {
		t.Fatal(err)
	}
	checkTable(t, b.String(), `
NAME   READY   STATUS
web    0/1     Pending
a      1/1     Running
a-much-longer-name   1/1     Running
`)
}

func TestQualifiedNames(t *testing.T) {
	for res, want := range map[string]string{"po": "pod", "deploy": "deployment.apps", "leases": "lease.coordination.k8s.io", "pc": "priorityclass.scheduling.k8s.io", "jobs": "job.batch"} {
		if got := printers.QualifiedKind(kind(t, res)); got != want {
			t.Errorf("QualifiedKind(%s) = %q, want %q", res, got, want)
		}
	}
	if got := kind(t, "deploy").QualifiedResource(); got != "deployments.apps" {
		t.Errorf("deploy QualifiedResource() = %q", got)
	}
	if got := kind(t, "deploy").QualifiedKind(); got != "Deployment.apps" {
		t.Errorf("deploy QualifiedKind() = %q", got)
	}
}

var runOfSpaces = regexp.MustCompile(`(\S) {2,}`)

// squash collapses the alignment padding after a cell (two or more spaces
// after a non-space) to one space, and drops trailing spaces, so that
// describe tests check content and indentation, not column widths.
func squash(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(runOfSpaces.ReplaceAllString(l, "$1 "), " ")
	}
	return strings.Join(lines, "\n")
}

func checkDescribe(t *testing.T, got string, wants ...string) {
	t.Helper()
	sq := squash(got)
	for _, want := range wants {
		if !strings.Contains(sq, squash(want)) {
			t.Errorf("describe lacks %q:\n%s", squash(want), got)
		}
	}
}

func TestDescribePod(t *testing.T) {
	p := pod([]string{"app"}, nil, "Running", []*corev1.ContainerStatus{running("app", true, 2)}, nil)
	p.Metadata.Labels = map[string]string{"app": "web", "tier": "fe"}
	p.Metadata.Annotations = map[string]string{api.LastAppliedConfigAnnotation: "{}", "note": "hi"}
	p.Metadata.OwnerReferences = []*metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-5d8f", Controller: proto.Bool(true)}}
	p.Spec.NodeName = "node-1"
	p.Spec.ServiceAccountName = "default"
	p.Status.HostIp = "10.0.0.21"
	p.Status.PodIp = "10.244.1.5"
	p.Status.PodIps = []*corev1.PodIP{{Ip: "10.244.1.5"}}
	p.Status.QosClass = "Burstable"
	p.Status.Conditions = []*corev1.PodCondition{{Type: "Ready", Status: "True"}}
	c := p.Spec.Containers[0]
	c.Image = "nginx:1.27"
	c.Ports = []*corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}}
	c.Resources = &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": {String_: "250m"}}}
	c.LivenessProbe = &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Path: "/healthz", Port: &metav1.IntOrString{IntVal: 8080}},
		TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
	c.Env = []*corev1.EnvVar{{Name: "MODE", Value: "prod"},
		{Name: "PASS", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "creds", Key: "pass"}}}}
	c.VolumeMounts = []*corev1.VolumeMount{{Name: "data", MountPath: "/data", ReadOnly: true}}
	p.Spec.Volumes = []*corev1.Volume{{Name: "data", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		{Name: "kube-api-access-x7k2p", Projected: &corev1.ProjectedVolumeSource{Sources: []*corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: proto.Int64(3607)}},
			{ConfigMap: &corev1.ConfigMapProjection{Name: "kube-root-ca.crt"}},
			{DownwardApi: &corev1.DownwardAPIProjection{}},
		}}}}
	events := []*corev1.Event{
		{Type: "Normal", Reason: "Started", Message: "Started container app", Count: 3, FirstTimestamp: ago(9 * time.Minute), LastTimestamp: ago(time.Minute), Source: &corev1.EventSource{Component: "kubelet"}},
		{Type: "Normal", Reason: "Scheduled", Message: "Successfully assigned default/web to node-1", EventTime: ago(10 * time.Minute), ReportingComponent: "default-scheduler"},
	}
	got := printers.Describe(registry.DescribeInput{Object: p, Events: events, Now: now, Location: time.UTC})
	checkDescribe(t, got,
		"Name:             web\n",
		"Namespace:        default\n",
		"Node:             node-1/10.0.0.21\n",
		"Labels:           app=web\n                  tier=fe\n",
		"Annotations:      note: hi\n",
		"Status:           Running\n",
		"IPs:\n  IP:  10.244.1.5\n",
		"Controlled By:  ReplicaSet/web-5d8f\n",
		"Containers:\n  app:\n",
		"    Image:          nginx:1.27\n",
		"    Port:           80/TCP\n",
		"    State:          Running\n      Started:      Mon, 10 Mar 2025 11:59:00 +0000\n",
		"    Ready:          True\n",
		"    Restart Count:  2\n",
		"    Requests:\n      cpu:  250m\n",
		"    Liveness:       http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3\n",
		"      MODE:  prod\n",
		"      PASS:  <set to the key 'pass' in secret 'creds'>  Optional: false\n",
		"      /data from data (ro)\n",
		"Conditions:\n  Type   Status\n  Ready  True\n",
		"  data:\n    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)\n",
		"  kube-api-access-x7k2p:\n    Type:                    Projected (a volume that contains injected data from multiple sources)\n"+
			"    TokenExpirationSeconds:  3607\n    ConfigMapName:           kube-root-ca.crt\n    ConfigMapOptional:       false\n    DownwardAPI:             true\n",
		"QoS Class:       Burstable\n",
		"Events:\n  Type    Reason     Age                From               Message\n  ----    ------     ----               ----               -------\n",
		"  Normal  Scheduled  10m                default-scheduler  Successfully assigned default/web to node-1\n",
		"  Normal  Started    60s (x3 over 9m)  kubelet            Started container app\n",
	)
	if strings.Contains(got, api.LastAppliedConfigAnnotation) {
		t.Errorf("describe shows the last-applied annotation:\n%s", got)
	}
}

func TestDescribeWorkloads(t *testing.T) {
	uid := "d-1"
	template := &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}}}
	d := &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Uid: uid, CreationTimestamp: ago(time.Hour)},
		Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(3), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: template, Strategy: &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: &metav1.IntOrString{Type: 1, StrVal: "25%"}, MaxSurge: &metav1.IntOrString{IntVal: 1}}}},
		Status: &appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, AvailableReplicas: 2, UnavailableReplicas: 1,
			Conditions: []*appsv1.DeploymentCondition{{Type: "Available", Status: "True", Reason: "MinimumReplicasAvailable"}}},
	}
	owned := func(name string, replicas int32, t *corev1.PodTemplateSpec) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Name: name, OwnerReferences: []*metav1.OwnerReference{{Uid: uid, Controller: proto.Bool(true)}}},
			Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(replicas), Template: t}, Status: &appsv1.ReplicaSetStatus{Replicas: replicas}}
	}
	newT := proto.Clone(template).(*corev1.PodTemplateSpec)
	newT.Metadata.Labels["pod-template-hash"] = "5d8f"
	oldT := proto.Clone(newT).(*corev1.PodTemplateSpec)
	oldT.Spec.Containers[0].Image = "nginx:1.26"
	got := printers.Describe(registry.DescribeInput{Object: d, Now: now, Location: time.UTC, Related: map[string][]proto.Message{printers.RelatedReplicaSets: {
		owned("web-old", 1, oldT), owned("web-5d8f", 3, newT), owned("web-older", 0, oldT),
		&appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Name: "other"}},
	}}})
	checkDescribe(t, got,
		"Replicas:               3 desired | 3 updated | 3 total | 2 available | 1 unavailable\n",
		"StrategyType:           RollingUpdate\n",
		"RollingUpdateStrategy:  25% max unavailable, 1 max surge\n",
		"Pod Template:\n  Labels:  app=web\n  Containers:\n    nginx:\n      Image:",
		"  Available  True    MinimumReplicasAvailable\n",
		"OldReplicaSets:         web-old (1/1 replicas created)\n",
		"NewReplicaSet:          web-5d8f (3/3 replicas created)\n",
		"Events:                 <none>\n",
	)

	j := &batchv1.Job{Metadata: &metav1.ObjectMeta{Name: "pi", Namespace: "default"},
		Spec:   &batchv1.JobSpec{Parallelism: proto.Int32(2), Completions: proto.Int32(4), BackoffLimit: proto.Int32(6), Template: template},
		Status: &batchv1.JobStatus{Active: 2, Ready: proto.Int32(1), Succeeded: 1, StartTime: ago(5 * time.Minute)}}
	got = printers.Describe(registry.DescribeInput{Object: j, Now: now, Location: time.UTC})
	checkDescribe(t, got,
		"Parallelism:              2\n", "Completions:              4\n", "Backoff Limit:            6\n",
		"Start Time:               Mon, 10 Mar 2025 11:55:00 +0000\n", "Duration:                 5m\n",
		"Pods Statuses:            2 Active (1 Ready) / 1 Succeeded / 0 Failed\n",
	)
}

func TestDescribeNodeAndService(t *testing.T) {
	n := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: "node-1", CreationTimestamp: ago(time.Hour)},
		Spec:     &corev1.NodeSpec{PodCidr: "10.244.1.0/24", PodCidrs: []string{"10.244.1.0/24"}, Taints: []*corev1.Taint{{Key: "dedicated", Value: "db", Effect: "NoSchedule"}}},
		Status: &corev1.NodeStatus{
			Allocatable: map[string]*metav1.Quantity{"cpu": {String_: "2"}, "memory": {String_: "4Gi"}},
			Conditions:  []*corev1.NodeCondition{{Type: "Ready", Status: "True", Reason: "KubeletReady", Message: "kubelet is posting ready status"}},
			Addresses:   []*corev1.NodeAddress{{Type: "InternalIP", Address: "10.0.0.21"}},
			NodeInfo:    &corev1.NodeSystemInfo{KubeletVersion: "v0.1.0"},
		},
	}
	p := pod([]string{"app"}, nil, "Running", nil, nil)
	p.Spec.NodeName = "node-1"
	p.Spec.Containers[0].Resources = &corev1.ResourceRequirements{
		Requests: map[string]*metav1.Quantity{"cpu": {String_: "500m"}, "memory": {String_: "1Gi"}},
		Limits:   map[string]*metav1.Quantity{"cpu": {String_: "1"}},
	}
	other := pod([]string{"x"}, nil, "Running", nil, nil)
	other.Spec.NodeName = "node-2"
	got := printers.Describe(registry.DescribeInput{Object: n, Related: map[string][]proto.Message{printers.RelatedPods: {p, other}, printers.RelatedLease: {
		&coordinationv1.Lease{Spec: &coordinationv1.LeaseSpec{HolderIdentity: proto.String("node-1"), RenewTime: ago(10 * time.Second)}}}},
		Now: now, Location: time.UTC})
	checkDescribe(t, got,
		"Taints:             dedicated=db:NoSchedule\n",
		"Lease:\n  HolderIdentity:  node-1\n",
		"  Ready  True    <unset>            <unset>             KubeletReady  kubelet is posting ready status\n",
		"Addresses:\n  InternalIP:  10.0.0.21\n",
		"PodCIDR:            10.244.1.0/24\n",
		"Non-terminated Pods:  (1 in total)\n",
		"  default    web   500m (25%)    1 (50%)     1Gi (25%)        0 (0%)         10m\n",
		"  cpu       500m (25%)  1 (50%)\n",
		"  memory    1Gi (25%)   0 (0%)\n",
	)

	svc := &corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: &corev1.ServiceSpec{
		Type: "NodePort", ClusterIp: "10.96.0.10", ClusterIps: []string{"10.96.0.10"}, Selector: map[string]string{"app": "web"},
		SessionAffinity: "None", ExternalTrafficPolicy: "Cluster",
		Ports: []*corev1.ServicePort{{Name: "http", Port: 80, Protocol: "TCP", TargetPort: &metav1.IntOrString{Type: 1, StrVal: "web"}, NodePort: 30080}}}}
	ep := &corev1.Endpoints{Subsets: []*corev1.EndpointSubset{{
		Addresses: []*corev1.EndpointAddress{{Ip: "10.244.1.5"}, {Ip: "10.244.2.7"}},
		Ports:     []*corev1.EndpointPort{{Name: "http", Port: 8080}, {Name: "metrics", Port: 9090}}}}}
	got = printers.Describe(registry.DescribeInput{Object: svc, Related: map[string][]proto.Message{printers.RelatedEndpoints: {ep}}, Now: now})
	checkDescribe(t, got,
		"Selector:                 app=web\n",
		"Type:                     NodePort\n",
		"IP:                       10.96.0.10\n",
		"Port:                     http  80/TCP\n",
		"TargetPort:               web/TCP\n",
		"NodePort:                 http  30080/TCP\n",
		"Endpoints:                10.244.1.5:8080,10.244.2.7:8080\n",
		"External Traffic Policy:  Cluster\n",
	)
}

// describe node totals a pod as the scheduler reserves it: sidecars (init
// containers with restartPolicy Always) run beside the app containers and
// beside the init containers that start after them.
func TestDescribeNodeCountsSidecars(t *testing.T) {
	n := &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: "node-1", CreationTimestamp: ago(time.Hour)},
		Status:   &corev1.NodeStatus{Allocatable: map[string]*metav1.Quantity{"cpu": {String_: "2"}, "memory": {String_: "4Gi"}}},
	}
	res := func(req, lim string) *corev1.ResourceRequirements {
		r := &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": {String_: req}}}
		if lim != "" {
			r.Limits = map[string]*metav1.Quantity{"cpu": {String_: lim}}
		}
		return r
	}
	p := pod([]string{"app"}, []string{"proxy", "setup"}, "Running", nil, nil)
	p.Spec.NodeName = "node-1"
	p.Spec.Containers[0].Resources = res("500m", "1")
	p.Spec.InitContainers[0].RestartPolicy = proto.String("Always")
	p.Spec.InitContainers[0].Resources = res("100m", "200m")
	p.Spec.InitContainers[1].Resources = res("1", "")
	got := printers.Describe(registry.DescribeInput{Object: n, Related: map[string][]proto.Message{printers.RelatedPods: {p}},
		Now: now, Location: time.UTC})
	// Requests: setup's 1 beside the proxy's 100m beats app 500m + proxy
	// 100m. Limits: app 1 + proxy 200m (setup has none).
	checkDescribe(t, got,
		"  default    web   1100m (55%)   1200m (60%)  0 (0%)            0 (0%)         10m\n",
		"  cpu       1100m (55%)  1200m (60%)\n",
	)
}

func TestDescribeConfigMapKeepsValues(t *testing.T) {
	cm := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "game", Namespace: "default"},
		Data: map[string]string{"script": "#!/bin/sh\necho\ta\tb\n"}}
	got := printers.Describe(registry.DescribeInput{Object: cm, Now: now})
	if !strings.Contains(got, "script:\n----\n#!/bin/sh\necho\ta\tb\n\n") {
		t.Errorf("config map value not verbatim:\n%q", got)
	}
}
