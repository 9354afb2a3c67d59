package kuberuntime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/podsync"
)

func q(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }

func testPod() *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "shop", Uid: "u-1", Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"note": "x"}},
		Spec: &corev1.PodSpec{
			TerminationGracePeriodSeconds: proto.Int64(12),
			Containers: []*corev1.Container{{
				Name: "app", Image: "img:1", Command: []string{"sh"}, Args: []string{"-c", "true"}, WorkingDir: "/w",
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: "File",
				Ports: []*corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: "TCP"}, {ContainerPort: 53, Protocol: "UDP"}},
			}},
		},
	}
}

func TestSandboxConfig(t *testing.T) {
	opts := SandboxOptions{LogRoot: "/var/log/pods", ClusterDNS: []string{"10.96.0.10"}, ClusterDomain: "cluster.local", CgroupRoot: "/keel"}
	got := SandboxConfig(testPod(), 2, opts)
	want := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: "web", Namespace: "shop", Uid: "u-1", Attempt: 2},
		Hostname:     "web",
		LogDirectory: "/var/log/pods/shop_web_u-1",
		DnsConfig:    &runtimeapi.DNSConfig{Servers: []string{"10.96.0.10"}, Searches: []string{"shop.svc.cluster.local", "svc.cluster.local", "cluster.local"}, Options: []string{"ndots:5"}},
		PortMappings: []*runtimeapi.PortMapping{{Protocol: runtimeapi.Protocol_TCP, ContainerPort: 80, HostPort: 8080}},
		Labels:       map[string]string{"app": "web", LabelPodName: "web", LabelPodNamespace: "shop", LabelPodUID: "u-1"},
		Annotations:  map[string]string{"note": "x"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: "/keel/podu-1",
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{NamespaceOptions: &runtimeapi.NamespaceOption{
				Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}},
		},
	}
	if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
		t.Errorf("sandbox config (-want +got):\n%s", d)
	}

	hn := testPod()
	hn.Spec.HostNetwork = true
	hn.Spec.HostPid = true
	got = SandboxConfig(hn, 0, opts)
	if got.Hostname != "" || got.DnsConfig != nil || got.Linux.SecurityContext.NamespaceOptions.Network != runtimeapi.NamespaceMode_NODE ||
		got.Linux.SecurityContext.NamespaceOptions.Pid != runtimeapi.NamespaceMode_NODE {
		t.Errorf("host network sandbox: %v", got)
	}
	hn.Spec.DnsPolicy = "ClusterFirstWithHostNet"
	if got := SandboxConfig(hn, 0, opts); got.DnsConfig.GetServers()[0] != "10.96.0.10" {
		t.Errorf("ClusterFirstWithHostNet DNS: %v", got.DnsConfig)
	}
	none := testPod()
	none.Spec.DnsPolicy = "None"
	none.Spec.DnsConfig = &corev1.PodDNSConfig{Nameservers: []string{"1.1.1.1"}, Searches: []string{"example.com"}, Options: []*corev1.PodDNSConfigOption{{Name: "ndots", Value: proto.String("2")}, {Name: "edns0"}}}
	if d := cmp.Diff(&runtimeapi.DNSConfig{Servers: []string{"1.1.1.1"}, Searches: []string{"example.com"}, Options: []string{"ndots:2", "edns0"}},
		SandboxConfig(none, 0, opts).DnsConfig, protocmp.Transform()); d != "" {
		t.Errorf("None DNS (-want +got):\n%s", d)
	}
	noDNS := opts
	noDNS.ClusterDNS = nil
	if got := SandboxConfig(testPod(), 0, noDNS); got.DnsConfig != nil {
		t.Errorf("ClusterFirst without cluster DNS falls back to the node's: %v", got.DnsConfig)
	}
	long := testPod()
	long.Metadata.Name = strings.Repeat("a", 62) + "-bc"
	if h := SandboxConfig(long, 0, opts).Hostname; len(h) != 62 {
		t.Errorf("hostname %q (%d)", h, len(h))
	}
}

func TestContainerConfigAndResources(t *testing.T) {
	pod := testPod()
	c := pod.Spec.Containers[0]
	got := ContainerConfig(pod, c, 3, ContainerOptions{
		Envs:                       []*runtimeapi.KeyValue{{Key: "A", Value: []byte("1")}},
		Mounts:                     []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/h/data"}},
		TerminationMessageHostPath: "/root/pods/u-1/containers/app/3",
		MemoryCapacity:             8 << 30,
	})
	if got.Metadata.Name != "app" || got.Metadata.Attempt != 3 || got.LogPath != "app/3.log" || got.WorkingDir != "/w" ||
		strings.Join(got.Command, " ") != "sh" || strings.Join(got.Args, " ") != "-c true" || got.Image.Image != "img:1" {
		t.Errorf("config %v", got)
	}
	wantLabels := map[string]string{LabelPodName: "web", LabelPodNamespace: "shop", LabelPodUID: "u-1", LabelContainerName: "app", LabelRestartCount: "3"}
	if d := cmp.Diff(wantLabels, got.Labels); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	if got.Annotations[AnnotationHash] != podsync.Hash(c) || got.Annotations[AnnotationGrace] != "12" || got.Annotations[AnnotationTerminationMessage] != "/root/pods/u-1/containers/app/3" {
		t.Errorf("annotations %v", got.Annotations)
	}
	if len(got.Mounts) != 2 || got.Mounts[0].ContainerPath != "/data" || got.Mounts[1].ContainerPath != "/dev/termination-log" {
		t.Errorf("mounts %v", got.Mounts)
	}

	res := func(req, lim map[string]*metav1.Quantity) *runtimeapi.LinuxContainerResources {
		p := testPod()
		p.Spec.Containers[0].Resources = &corev1.ResourceRequirements{Requests: req, Limits: lim}
		return Resources(p, p.Spec.Containers[0], 8<<30)
	}
	for _, tc := range []struct {
		name     string
		req, lim map[string]*metav1.Quantity
		want     *runtimeapi.LinuxContainerResources
	}{
		{"best effort", nil, nil, &runtimeapi.LinuxContainerResources{CpuShares: 2, OomScoreAdj: 1000}},
		{"burstable requests", map[string]*metav1.Quantity{"cpu": q("250m"), "memory": q("2Gi")}, nil,
			&runtimeapi.LinuxContainerResources{CpuShares: 256, OomScoreAdj: 750}},
		{"burstable limits", map[string]*metav1.Quantity{"cpu": q("100m")}, map[string]*metav1.Quantity{"cpu": q("1500m"), "memory": q("64Mi")},
			&runtimeapi.LinuxContainerResources{CpuShares: 102, CpuPeriod: 100000, CpuQuota: 150000, MemoryLimitInBytes: 64 << 20, OomScoreAdj: 999}},
		{"guaranteed", map[string]*metav1.Quantity{"cpu": q("1"), "memory": q("1Gi")}, map[string]*metav1.Quantity{"cpu": q("1"), "memory": q("1Gi")},
			&runtimeapi.LinuxContainerResources{CpuShares: 1024, CpuPeriod: 100000, CpuQuota: 100000, MemoryLimitInBytes: 1 << 30, OomScoreAdj: -997}},
		{"tiny", map[string]*metav1.Quantity{"cpu": q("1m")}, map[string]*metav1.Quantity{"cpu": q("1m")},
			&runtimeapi.LinuxContainerResources{CpuShares: 2, CpuPeriod: 100000, CpuQuota: 1000, OomScoreAdj: 999}},
	} {
		if d := cmp.Diff(tc.want, res(tc.req, tc.lim), protocmp.Transform()); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}

	sc := testPod()
	sc.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: proto.Int64(1000), SupplementalGroups: []int64{5}}
	sc.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsGroup: proto.Int64(7), ReadOnlyRootFilesystem: proto.Bool(true),
		AllowPrivilegeEscalation: proto.Bool(false), Capabilities: &corev1.Capabilities{Add: []string{"NET_ADMIN"}, Drop: []string{"cap_chown", "ALL"}}}
	sec := ContainerConfig(sc, sc.Spec.Containers[0], 0, ContainerOptions{}).Linux.SecurityContext
	if sec.RunAsUser.GetValue() != 1000 || sec.RunAsGroup.GetValue() != 7 || !sec.ReadonlyRootfs || !sec.NoNewPrivs ||
		len(sec.SupplementalGroups) != 1 || sec.SupplementalGroups[0] != 5 ||
		strings.Join(sec.Capabilities.AddCapabilities, ",") != "NET_ADMIN" || strings.Join(sec.Capabilities.DropCapabilities, ",") != "CHOWN,ALL" {
		t.Errorf("security context %v", sec)
	}
}

func TestObserver(t *testing.T) {
	ctx := context.Background()
	f := cri.NewFake()
	f.AddImage("img:1")
	dir := t.TempDir()
	pod := testPod()
	sbCfg := SandboxConfig(pod, 0, SandboxOptions{LogRoot: dir})
	sb, err := f.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatal(err)
	}
	msgFile := filepath.Join(dir, "msg")
	if err := os.WriteFile(msgFile, []byte("bye"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := ContainerConfig(pod, pod.Spec.Containers[0], 0, ContainerOptions{TerminationMessageHostPath: msgFile})
	id, err := f.CreateContainer(ctx, sb, cfg, sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	// Another pod's sandbox is not this pod's.
	other := testPod()
	other.Metadata.Uid = "u-2"
	if _, err := f.RunPodSandbox(ctx, SandboxConfig(other, 0, SandboxOptions{}), ""); err != nil {
		t.Fatal(err)
	}
	o := NewObserver(f)
	rp, err := o.Pod(ctx, "u-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Sandboxes) != 1 || !rp.Sandboxes[0].Ready || rp.Sandboxes[0].IP == "" || len(rp.Containers) != 1 {
		t.Fatalf("runtime pod %+v", rp)
	}
	c := rp.Containers[0]
	if c.State != podsync.StateRunning || c.Name != "app" || c.SandboxID != sb || c.Hash != podsync.Hash(pod.Spec.Containers[0]) || c.StartedAt.IsZero() {
		t.Errorf("container %+v", c)
	}
	if err := f.ExitContainer(id, 2, ""); err != nil {
		t.Fatal(err)
	}
	rp, _ = o.Pod(ctx, "u-1")
	if c := rp.Containers[0]; c.State != podsync.StateExited || c.ExitCode != 2 || c.Reason != "Error" || c.Message != "bye" {
		t.Errorf("exited container %+v", c)
	}
	// Exited containers are not asked about again.
	f.ResetCalls()
	if _, err := o.Pod(ctx, "u-1"); err != nil {
		t.Fatal(err)
	}
	if n := f.CallCount("ContainerStatus") + f.CallCount("PodSandboxStatus"); n != 0 {
		t.Errorf("%d status calls for a pod with nothing live to ask about", n)
	}
}

func TestLogText(t *testing.T) {
	in := "2025-01-01T00:00:00.1Z stdout F hello\n2025-01-01T00:00:00.2Z stderr P par\n2025-01-01T00:00:00.3Z stderr F tial\nbroken\n"
	if got := LogText([]byte(in)); got != "hello\npartial\n" {
		t.Errorf("LogText = %q", got)
	}
}
