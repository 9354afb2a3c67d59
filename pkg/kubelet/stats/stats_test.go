package stats

import (
	"testing"
	"time"

	"keel.dev/keel/pkg/kubelet/volume"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(sec float64, cpu uint64) Point {
	return Point{Time: t0.Add(time.Duration(sec * float64(time.Second))), CPUNanos: cpu}
}

func TestRateBetween(t *testing.T) {
	for _, tc := range []struct {
		name      string
		prev, cur Point
		want      Rate
		ok        bool
	}{
		{"half a core over 10s", at(0, 0), at(10, 5e9), Rate{NanoCores: 5e8, Window: 10 * time.Second}, true},
		{"idle", at(0, 7), at(2, 7), Rate{NanoCores: 0, Window: 2 * time.Second}, true},
		{"two cores", at(0, 1e9), at(1, 3e9), Rate{NanoCores: 2e9, Window: time.Second}, true},
		{"same time", at(5, 0), at(5, 10), Rate{}, false},
		{"backwards in time", at(5, 0), at(4, 10), Rate{}, false},
		{"counter reset", at(0, 100), at(10, 5), Rate{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := RateBetween(tc.prev, tc.cur)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("RateBetween = %+v, %v; want %+v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestTrackerObserve(t *testing.T) {
	tr := &Tracker{MinWindow: time.Second}
	rate := func(dcpu, sec float64) uint64 { return uint64(dcpu / sec) }
	steps := []struct {
		p      Point
		want   Rate
		wantOK bool
	}{
		{at(0, 0), Rate{}, false},     // the first sample: no rate
		{at(0.5, 1e8), Rate{}, false}, // too close to the first
		// Over the newest sample at least a second older (t=0.5).
		{at(10, 1e9), Rate{NanoCores: rate(1e9-1e8, 9.5), Window: 9500 * time.Millisecond}, true},
		{at(10.2, 1.1e9), Rate{NanoCores: rate(1.1e9-1e8, 9.7), Window: 9700 * time.Millisecond}, true},
		{at(20, 2e9), Rate{NanoCores: rate(2e9-1.1e9, 9.8), Window: 9800 * time.Millisecond}, true},
		{at(15, 3e9), Rate{}, false}, // older than the newest: ignored
		{at(25, 1e6), Rate{}, false}, // the counter was reset: start over
		{at(27, 2e8+1e6), Rate{NanoCores: 1e8, Window: 2 * time.Second}, true},
	}
	for i, s := range steps {
		got, ok := tr.Observe("c", s.p)
		if ok != s.wantOK || (ok && (got.Window != s.want.Window || diff(got.NanoCores, s.want.NanoCores) > 1)) {
			t.Fatalf("step %d: Observe(%v) = %+v, %v; want %+v, %v", i, s.p, got, ok, s.want, s.wantOK)
		}
	}
	if n := len(tr.hist["c"]); n > 3 {
		t.Errorf("the tracker keeps %d samples of one key; want the base and what follows it only", n)
	}
	tr.Observe("gone", at(30, 0))
	tr.Retain(func(k string) bool { return k == "c" })
	if tr.Len() != 1 {
		t.Errorf("after Retain the tracker has %d keys, want 1", tr.Len())
	}
}

func diff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

func TestSummarize(t *testing.T) {
	tr := &Tracker{MinWindow: time.Second}
	in := func(sec float64, webCPU, sideCPU, nodeCPU uint64) Input {
		ts := t0.Add(time.Duration(sec * float64(time.Second)))
		return Input{
			NodeName: "n1",
			Host:     &HostSample{Time: ts, CPUNanos: nodeCPU, UsageBytes: 3 << 30, WorkingSetBytes: 2 << 30},
			Containers: []ContainerSample{
				{ID: "b", Name: "side", PodNamespace: "default", PodName: "web", PodUID: "u1", CPUTime: ts, CPUNanos: sideCPU, HasCPU: true,
					MemoryTime: ts, WorkingSetBytes: 1 << 20, UsageBytes: 2 << 20, HasMemory: true},
				{ID: "a", Name: "web", PodNamespace: "default", PodName: "web", PodUID: "u1", CPUTime: ts, CPUNanos: webCPU, HasCPU: true,
					MemoryTime: ts, WorkingSetBytes: 4 << 20, UsageBytes: 5 << 20, HasMemory: true},
				{ID: "c", Name: "app", PodNamespace: "apps", PodName: "z", PodUID: "u2", MemoryTime: ts, WorkingSetBytes: 7, HasMemory: true},
			},
			Volumes:     []volume.Stats{{Namespace: "default", Pod: "web", Volume: "data", Claim: "pvc", CapacityBytes: 100, AvailableBytes: 60, UsedBytes: 40, Inodes: 10, InodesFree: 8, InodesUsed: 2}},
			VolumesTime: t0,
		}
	}
	first := Summarize(in(0, 0, 0, 0), tr)
	if first.GetNode().GetCpu().UsageNanoCores != nil || first.GetPods()[1].GetCpu().UsageNanoCores != nil {
		t.Fatalf("the first summary has CPU rates: %v", first)
	}
	s := Summarize(in(10, 2e9, 1e9, 8e9), tr)
	if got := s.GetNode().GetCpu().GetUsageNanoCores(); got != 8e8 {
		t.Errorf("node nanocores = %d, want 8e8", got)
	}
	if got := s.GetNode().GetMemory().GetWorkingSetBytes(); got != 2<<30 {
		t.Errorf("node working set = %d", got)
	}
	if len(s.Pods) != 2 || s.Pods[0].Name != "z" || s.Pods[1].Name != "web" {
		t.Fatalf("pods = %v, want apps/z then default/web", s.Pods)
	}
	web := s.Pods[1]
	if web.Uid != "u1" || len(web.Containers) != 2 || web.Containers[0].Name != "side" || web.Containers[1].Name != "web" {
		t.Fatalf("web = %v", web)
	}
	if got := web.Containers[1].GetCpu().GetUsageNanoCores(); got != 2e8 {
		t.Errorf("web container nanocores = %d, want 2e8", got)
	}
	if got := web.GetCpu().GetUsageNanoCores(); got != 3e8 || web.GetCpu().GetWindow().AsDuration() != 10*time.Second {
		t.Errorf("pod nanocores = %d over %v, want 3e8 over 10s", got, web.GetCpu().GetWindow().AsDuration())
	}
	if got := web.GetMemory().GetWorkingSetBytes(); got != 5<<20 {
		t.Errorf("pod working set = %d, want 5Mi", got)
	}
	if len(web.Volumes) != 1 || web.Volumes[0].GetUsedBytes() != 40 || web.Volumes[0].GetClaimName() != "pvc" || web.Volumes[0].GetInodesUsed() != 2 {
		t.Errorf("volumes = %v", web.Volumes)
	}
	z := s.Pods[0]
	if z.GetCpu() != nil || z.GetMemory().GetWorkingSetBytes() != 7 {
		t.Errorf("a container without CPU figures: pod cpu %v memory %v", z.GetCpu(), z.GetMemory())
	}
	// A container that is gone is forgotten.
	next := in(20, 3e9, 2e9, 9e9)
	next.Containers = next.Containers[:1]
	Summarize(next, tr)
	if _, ok := tr.hist["a"]; ok {
		t.Error("the tracker still has a container that is gone")
	}
}

func TestParseProcStatCPU(t *testing.T) {
	b := []byte("cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1\n")
	got, err := ParseProcStatCPU(b)
	if err != nil || got != (100+5+50+3+2+1)*1e7 {
		t.Fatalf("ParseProcStatCPU = %d, %v", got, err)
	}
	if _, err := ParseProcStatCPU([]byte("intr 1\n")); err == nil {
		t.Error("no cpu line: no error")
	}
}

func TestParseMeminfo(t *testing.T) {
	b := []byte("MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    400 kB\nBuffers: 1 kB\n")
	usage, ws, err := ParseMeminfo(b)
	if err != nil || usage != 900*1024 || ws != 600*1024 {
		t.Fatalf("ParseMeminfo = %d, %d, %v", usage, ws, err)
	}
	if _, _, err := ParseMeminfo([]byte("MemTotal: 1 kB\n")); err == nil {
		t.Error("no MemAvailable: no error")
	}
}

func TestHostRead(t *testing.T) {
	// The machine's own figures: the node uses some memory and CPU.
	s, err := Host{}.Read()
	if err != nil {
		t.Fatal(err)
	}
	if s.CPUNanos == 0 || s.WorkingSetBytes == 0 {
		t.Errorf("host sample = %+v", s)
	}
}
