package nodestatus

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func input() Input {
	m := Machine{MilliCPU: 2000, MemoryBytes: 24 << 30, EphemeralStorageBytes: 100 << 30, KernelVersion: "6.1.0-18-amd64",
		OSImage: "Debian GNU/Linux 12 (bookworm)", OperatingSystem: "linux", Architecture: "amd64", MachineID: "m", BootID: "b"}
	return Input{
		Capacity:       Capacity(m, 110),
		Reserved:       map[string]resource.Quantity{"cpu": resource.MustParse("200m"), "memory": resource.MustParse("512Mi")},
		InternalIP:     "192.0.2.2",
		Hostname:       "node-1",
		Port:           10250,
		Machine:        m,
		RuntimeVersion: "containerd://1.6.20",
		KubeletVersion: "v1.31.0-keel",
		RuntimeReady:   true,
		Usage:          &Usage{MemoryAvailableBytes: 20 << 30, DiskAvailableBytes: 50 << 30, DiskCapacityBytes: 100 << 30, Processes: 300, MaxProcesses: 4194304},
		Thresholds:     DefaultThresholds(),
		Now:            t0,
	}
}

func conds(st *corev1.NodeStatus) string {
	var out []string
	for _, c := range st.Conditions {
		out = append(out, c.Type+"="+c.Status+"("+c.Reason+")")
	}
	return strings.Join(out, " ")
}

func TestCompute(t *testing.T) {
	st := Compute(input())
	for k, want := range map[string]string{"cpu": "2", "memory": "24Gi", "pods": "110", "ephemeral-storage": "100Gi"} {
		if got := st.Capacity[k].GetString_(); got != want {
			t.Errorf("capacity %s = %s, want %s", k, got, want)
		}
	}
	for k, want := range map[string]string{"cpu": "1800m", "memory": "24064Mi", "pods": "110"} {
		if got := st.Allocatable[k].GetString_(); got != want {
			t.Errorf("allocatable %s = %s, want %s", k, got, want)
		}
	}
	if got := conds(st); got != "MemoryPressure=False(KubeletHasSufficientMemory) DiskPressure=False(KubeletHasNoDiskPressure) PIDPressure=False(KubeletHasSufficientPID) Ready=True(KubeletReady)" {
		t.Errorf("conditions %s", got)
	}
	if st.Addresses[0].Type != "InternalIP" || st.Addresses[0].Address != "192.0.2.2" || st.Addresses[1].Type != "Hostname" {
		t.Errorf("addresses %v", st.Addresses)
	}
	ni := st.NodeInfo
	if ni.ContainerRuntimeVersion != "containerd://1.6.20" || ni.KernelVersion != "6.1.0-18-amd64" || ni.OsImage == "" || ni.MachineId != "m" || ni.BootId != "b" || ni.Architecture != "amd64" {
		t.Errorf("node info %v", ni)
	}
	if st.DaemonEndpoints.KubeletEndpoint.Port != 10250 {
		t.Errorf("port %v", st.DaemonEndpoints)
	}

	// Later, unchanged: heartbeat moves, transition stays, nothing Changed.
	in := input()
	in.Previous, in.Now = st, t0.Add(time.Minute)
	later := Compute(in)
	if Changed(st, later) {
		t.Error("Changed with only heartbeats moving")
	}
	for _, c := range later.Conditions {
		if !c.LastTransitionTime.AsTime().Equal(t0) || !c.LastHeartbeatTime.AsTime().Equal(t0.Add(time.Minute)) {
			t.Errorf("condition %s times %v %v", c.Type, c.LastTransitionTime.AsTime(), c.LastHeartbeatTime.AsTime())
		}
	}

	// Pressure and a runtime that is not ready.
	in = input()
	in.Previous, in.Now = st, t0.Add(2*time.Minute)
	in.Usage = &Usage{MemoryAvailableBytes: 50 << 20, DiskAvailableBytes: 5 << 30, DiskCapacityBytes: 100 << 30, Processes: 4000000, MaxProcesses: 4194304}
	in.RuntimeReady, in.RuntimeMessage = false, "container runtime network not ready: NetworkReady=false"
	bad := Compute(in)
	if got := conds(bad); got != "MemoryPressure=True(KubeletHasInsufficientMemory) DiskPressure=True(KubeletHasDiskPressure) PIDPressure=True(KubeletHasInsufficientPID) Ready=False(KubeletNotReady)" {
		t.Errorf("conditions %s", got)
	}
	if !Changed(st, bad) {
		t.Error("not Changed")
	}
	for _, c := range bad.Conditions {
		if !c.LastTransitionTime.AsTime().Equal(t0.Add(2 * time.Minute)) {
			t.Errorf("%s did not move its transition time", c.Type)
		}
	}
	if bad.Conditions[3].Message != in.RuntimeMessage {
		t.Errorf("Ready message %q", bad.Conditions[3].Message)
	}
	// Without usage figures (hollow nodes): no pressure.
	in = input()
	in.Usage = nil
	if got := conds(Compute(in)); !strings.HasPrefix(got, "MemoryPressure=False") {
		t.Errorf("conditions %s", got)
	}
}

func TestAllocatableNeverNegative(t *testing.T) {
	a := Allocatable(map[string]resource.Quantity{"cpu": resource.MustParse("1")}, map[string]resource.Quantity{"cpu": resource.MustParse("2")})
	if q := a["cpu"]; q.Sign() != 0 {
		t.Errorf("allocatable %v", q.String())
	}
}

func TestParseFlags(t *testing.T) {
	th, err := ParseThresholds("memory.available<1Gi,nodefs.available<15%")
	if err != nil || th.MemoryAvailableBytes != 1<<30 || th.DiskAvailablePercent != 15 || th.PIDAvailablePercent != 5 {
		t.Errorf("thresholds %+v, %v", th, err)
	}
	for _, bad := range []string{"memory.available", "memory.available<10%", "imagefs.available<5%", "nodefs.available<x%"} {
		if _, err := ParseThresholds(bad); err == nil {
			t.Errorf("ParseThresholds(%q) succeeded", bad)
		}
	}
	l, err := ParseResourceList("cpu=100m, memory=1Gi")
	cpu, mem := l["cpu"], l["memory"]
	if err != nil || cpu.String() != "100m" || mem.String() != "1Gi" {
		t.Errorf("resource list %v, %v", l, err)
	}
	for _, bad := range []string{"cpu", "cpu=lots", "memory=-1Gi"} {
		if _, err := ParseResourceList(bad); err == nil {
			t.Errorf("ParseResourceList(%q) succeeded", bad)
		}
	}
}

func TestReadMachine(t *testing.T) {
	m, err := ReadMachine(t.TempDir() + "/not/yet/there")
	if err != nil {
		t.Fatal(err)
	}
	if m.MilliCPU < 1000 || m.MemoryBytes <= 0 || m.EphemeralStorageBytes <= 0 || m.KernelVersion == "" || m.OperatingSystem != "linux" {
		t.Errorf("machine %+v", m)
	}
	u, err := ReadUsage("/")
	if err != nil || u.MemoryAvailableBytes <= 0 || u.Processes <= 0 || u.MaxProcesses <= 0 {
		t.Errorf("usage %+v, %v", u, err)
	}
}
