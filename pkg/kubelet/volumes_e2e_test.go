package kubelet_test

// Volumes on a real node: the kubelet of the test harness runs its pods on
// a private containerd (pkg/containerdtest) with the locally built busybox
// image, and the test looks at the volumes from inside the containers
// (CRI exec). Needs root, containerd, runc and busybox-static; skips with
// the reason otherwise.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/containerdtest"
	"keel.dev/keel/pkg/kubelet"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/volume"
	"keel.dev/keel/pkg/testimages"
)

// realNode is a kubelet of the harness on a private containerd.
type realNode struct {
	rt     *cri.Client
	root   string // the kubelet's RootDir
	events *events
}

// startRealKubelet starts containerd and a kubelet on it; when the test
// ends the kubelet stops and the tmpfs volumes it left are unmounted.
func (e *env) startRealKubelet(t *testing.T) *realNode {
	t.Helper()
	c := containerdtest.New(t, containerdtest.Options{}, true)
	rt, err := cri.Dial(context.Background(), c.Socket, cri.Options{Timeout: time.Minute, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	n := &realNode{rt: rt, events: &events{}}
	_, stop := e.startKubelet(t, func(cfg *kubelet.Config) {
		cfg.Runtime = rt
		cfg.Events = n.events
		cfg.VolumeStatsAggPeriod = time.Millisecond
		n.root = cfg.RootDir
	})
	t.Cleanup(func() {
		stop()
		m := volume.NewManager(n.root, nil, nil)
		uids, _ := m.PodsOnDisk()
		for _, uid := range uids {
			if err := m.Teardown(uid); err != nil {
				t.Error(err)
			}
		}
	})
	return n
}

// exec runs cmd in container name of pod and returns its output (stdout
// then stderr) and exit code.
func (n *realNode) exec(t *testing.T, p *corev1.Pod, name string, cmd ...string) (string, int32) {
	t.Helper()
	var id string
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if cs.GetName() == name {
			_, id, _ = strings.Cut(cs.GetContainerId(), "://")
		}
	}
	if id == "" {
		t.Fatalf("pod %s has no container %s: %s", p.GetMetadata().GetName(), name, describe(p))
	}
	resp, err := n.rt.ExecSync(ctx(t), id, cmd, 20*time.Second)
	if err != nil {
		t.Fatalf("exec %v: %v", cmd, err)
	}
	return string(resp.GetStdout()) + string(resp.GetStderr()), resp.GetExitCode()
}

// waitOutput waits until cmd in the container prints want.
func (n *realNode) waitOutput(t *testing.T, p *corev1.Pod, name, want string, cmd ...string) {
	t.Helper()
	waitFor(t, 30*time.Second, strings.Join(cmd, " ")+" printing "+want, func() (bool, string) {
		out, _ := n.exec(t, p, name, cmd...)
		return out == want, out
	})
}

// volumeMetric returns the value of a pod volume metric of the default
// registry (-1 when absent).
func volumeMetric(t *testing.T, name, pod, vol string) float64 {
	t.Helper()
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["pod"] == pod && labels["volume"] == vol {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// realPod is a host-network pod (no CNI needed) of busybox containers that
// sleep until stopped.
func realPod(name string, containers ...string) *corev1.Pod {
	p := testPod(name, "Always", containers...)
	p.Spec.HostNetwork = true
	p.Spec.TerminationGracePeriodSeconds = proto.Int64(2)
	for _, c := range p.Spec.Containers {
		c.Image = testimages.BusyboxRef
		c.ImagePullPolicy = "Never"
		c.Command = []string{"sh", "-c", `trap "exit 0" TERM; while true; do sleep 0.2; done`}
	}
	return p
}

// TestRealNodeVolumes: downwardAPI and projected files (labels as
// key="value" lines, resource limits with divisors, a limit not set being
// the node's allocatable) and their update when the pod's labels and a
// ConfigMap change; subPath and subPathExpr into an emptyDir; a readOnly
// mount refusing writes; fsGroup: a non-root container, in the group, reads
// a 0400 secret item and finds the emptyDir setgid with the group; a
// subPath through a symlink out of its volume is refused with an event.
func TestRealNodeVolumes(t *testing.T) {
	e := newEnv(t)
	n := e.startRealKubelet(t)
	if _, err := e.client.ConfigMaps("default").Create(ctx(t), &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "cfg"},
		Data: map[string]string{"app.conf": "v1"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.Secrets("default").Create(ctx(t), &corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "creds"},
		Data: map[string][]byte{"pass": []byte("s3cret")}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	p := realPod("vols", "app")
	p.Metadata.Labels = map[string]string{"app": "web", "tier": "a"}
	p.Metadata.Annotations = map[string]string{"build": "42"}
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: proto.Int64(1000), RunAsGroup: proto.Int64(3000), FsGroup: proto.Int64(2000)}
	labels := &corev1.DownwardAPIVolumeFile{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}
	p.Spec.Volumes = []*corev1.Volume{
		{Name: "podinfo", DownwardApi: &corev1.DownwardAPIVolumeSource{Items: []*corev1.DownwardAPIVolumeFile{
			labels,
			{Path: "annotations", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations"}},
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu", Divisor: &metav1.Quantity{String_: "1m"}}},
			{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: &metav1.Quantity{String_: "1Mi"}}},
		}}},
		{Name: "proj", Projected: &corev1.ProjectedVolumeSource{Sources: []*corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{Name: "cfg", Items: []*corev1.KeyToPath{{Key: "app.conf", Path: "conf/app.conf"}}}},
			{Secret: &corev1.SecretProjection{Name: "creds", Items: []*corev1.KeyToPath{{Key: "pass", Path: "pass", Mode: proto.Int32(0o400)}}}},
			{DownwardApi: &corev1.DownwardAPIProjection{Items: []*corev1.DownwardAPIVolumeFile{labels}}},
		}}},
		{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}},
	}
	app := p.Spec.Containers[0]
	app.Resources = &corev1.ResourceRequirements{Limits: map[string]*metav1.Quantity{"cpu": {String_: "500m"}}}
	app.Env = []*corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}
	app.VolumeMounts = []*corev1.VolumeMount{
		{Name: "podinfo", MountPath: "/podinfo"},
		{Name: "proj", MountPath: "/proj"},
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "scratch", MountPath: "/sub", SubPath: "a/b"},
		{Name: "scratch", MountPath: "/mine", SubPathExpr: "pods/$(POD_NAME)"},
		{Name: "scratch", MountPath: "/ro", ReadOnly: true},
	}
	created := e.create(t, p)
	got := e.waitPod(t, "vols", "Running", phase("Running"))

	for file, want := range map[string]string{
		"/podinfo/labels":      "app=\"web\"\ntier=\"a\"",
		"/podinfo/annotations": "build=\"42\"",
		"/podinfo/name":        "vols",
		"/podinfo/cpu":         "500",
		"/podinfo/mem":         "8192", // no limit: the node's allocatable (8Gi)
		"/proj/conf/app.conf":  "v1",
		"/proj/pass":           "s3cret", // 0400, readable through the fsGroup
		"/proj/labels":         "app=\"web\"\ntier=\"a\"",
	} {
		if out, code := n.exec(t, got, "app", "cat", file); out != want || code != 0 {
			t.Errorf("%s: %q (exit %d), want %q", file, out, code, want)
		}
	}
	if out, _ := n.exec(t, got, "app", "id", "-G"); !strings.Contains(" "+strings.TrimSpace(out)+" ", " 2000 ") {
		t.Errorf("groups %q lack the fsGroup", out)
	}
	if out, _ := n.exec(t, got, "app", "stat", "-L", "-c", "%g %a", "/scratch", "/sub", "/proj/pass"); out != "2000 2777\n2000 2777\n2000 440\n" {
		t.Errorf("emptyDir and secret item ownership: %q", out)
	}

	// subPath and subPathExpr land in the volume; readOnly refuses writes.
	if out, code := n.exec(t, got, "app", "sh", "-c", "echo one > /sub/f && echo two > /mine/f"); code != 0 {
		t.Fatalf("writing through subPaths: %s", out)
	}
	if out, _ := n.exec(t, got, "app", "cat", "/scratch/a/b/f", "/scratch/pods/vols/f"); out != "one\ntwo\n" {
		t.Errorf("subPath files seen from the whole volume: %q", out)
	}
	// The volume metrics count what the container wrote.
	if out, code := n.exec(t, got, "app", "dd", "if=/dev/zero", "of=/scratch/big", "bs=1024", "count=256"); code != 0 {
		t.Fatalf("dd: %s", out)
	}
	if used := volumeMetric(t, "keel_kubelet_pod_volume_used_bytes", "vols", "scratch"); used < 256<<10 {
		t.Errorf("scratch used bytes %v, want at least 256KiB", used)
	}
	if out, code := n.exec(t, got, "app", "touch", "/ro/x"); code == 0 || !strings.Contains(out, "Read-only file system") {
		t.Errorf("write to a readOnly mount: exit %d %q", code, out)
	}
	if out, code := n.exec(t, got, "app", "sh", "-c", "echo x > /podinfo/name"); code == 0 {
		t.Errorf("write to a downwardAPI volume succeeded: %q", out)
	}

	// A label and the ConfigMap change: the files follow while the
	// container runs.
	cur, err := e.get(t, "vols")
	if err != nil {
		t.Fatal(err)
	}
	cur.Metadata.Labels["tier"] = "b"
	if _, err := e.client.Pods("default").Update(ctx(t), cur, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm, err := e.client.ConfigMaps("default").Get(ctx(t), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["app.conf"] = "v2"
	if _, err := e.client.ConfigMaps("default").Update(ctx(t), cm, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitOutput(t, got, "app", "app=\"web\"\ntier=\"b\"", "cat", "/podinfo/labels")
	n.waitOutput(t, got, "app", "app=\"web\"\ntier=\"b\"", "cat", "/proj/labels")
	n.waitOutput(t, got, "app", "v2", "cat", "/proj/conf/app.conf")

	// A subPath through a symlink that leaves its volume: refused.
	host := t.TempDir()
	if err := os.Symlink("/etc", filepath.Join(host, "escape")); err != nil {
		t.Fatal(err)
	}
	esc := realPod("escape", "app")
	esc.Spec.Volumes = []*corev1.Volume{{Name: "host", HostPath: &corev1.HostPathVolumeSource{Path: host}}}
	esc.Spec.Containers[0].VolumeMounts = []*corev1.VolumeMount{{Name: "host", MountPath: "/etc-here", SubPath: "escape"}}
	e.create(t, esc)
	e.waitPod(t, "escape", "waiting CreateContainerConfigError", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		return len(cs) == 1 && cs[0].GetState().GetWaiting().GetReason() == "CreateContainerConfigError" &&
			strings.Contains(cs[0].GetState().GetWaiting().GetMessage(), "leaves the volume")
	})
	if !n.events.has("Warning Failed: ", `failed to prepare subPath for volumeMount "/etc-here" of container "app"`) {
		t.Errorf("no Failed event for the subPath: %v", n.events.all)
	}

	// The pod's volumes go with it; the hostPath's files stay.
	e.deleteAndWait(t, "vols")
	e.deleteAndWait(t, "escape")
	waitFor(t, 20*time.Second, "pod directory removed", func() (bool, string) {
		_, err := os.Stat(filepath.Join(n.root, "pods", created.GetMetadata().GetUid()))
		return os.IsNotExist(err), "still there"
	})
	if _, err := os.Lstat(filepath.Join(host, "escape")); err != nil {
		t.Errorf("hostPath content removed: %v", err)
	}
}
