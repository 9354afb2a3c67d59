package stats

import (
	"context"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
	"keel.dev/keel/pkg/kubelet/volume"
)

// NodeKey is the Tracker key of the node's own CPU counter.
const NodeKey = "node"

// ContainerSample is one running container's reading from the runtime.
type ContainerSample struct {
	// ID is the runtime's container ID (the Tracker key); Name the
	// container's name in its pod.
	ID, Name string
	// The container's pod.
	PodNamespace, PodName, PodUID string
	StartTime                     time.Time
	// CPUTime is when CPUNanos was read; HasCPU is false when the runtime
	// gave no CPU figure.
	CPUTime  time.Time
	CPUNanos uint64
	HasCPU   bool
	// MemoryTime is when the memory figures were read (HasMemory: they
	// were given).
	MemoryTime                  time.Time
	UsageBytes, WorkingSetBytes uint64
	HasMemory                   bool
}

// Input is what one summary is made of.
type Input struct {
	NodeName string
	// Host is the node's reading; nil when it could not be read.
	Host *HostSample
	// Containers are the running containers.
	Containers []ContainerSample
	// Volumes are the pods' volumes as last measured, at VolumesTime.
	Volumes     []volume.Stats
	VolumesTime time.Time
}

// Summarize makes the summary of in, observing its CPU samples in t (so
// that the rates are those of in's samples over earlier ones) and making
// t forget the containers in does not have. Pods are sorted by namespace
// and name, their containers by name. A pod's CPU rate is the sum of its
// containers', absent until every container has one (its window is the
// longest of theirs); its figures are dated by its newest container's.
func Summarize(in Input, t *Tracker) *kubeletv1.StatsSummary {
	out := &kubeletv1.StatsSummary{Node: &kubeletv1.NodeStats{NodeName: in.NodeName}}
	if h := in.Host; h != nil {
		out.Node.Cpu = cpuStats(t, NodeKey, Point{Time: h.Time, CPUNanos: h.CPUNanos})
		out.Node.Memory = &kubeletv1.MemoryStats{Time: timestamppb.New(h.Time), UsageBytes: h.UsageBytes, WorkingSetBytes: h.WorkingSetBytes}
	}
	type podKey struct{ ns, name string }
	pods := map[podKey]*kubeletv1.PodStats{}
	pod := func(ns, name, uid string) *kubeletv1.PodStats {
		k := podKey{ns, name}
		p := pods[k]
		if p == nil {
			p = &kubeletv1.PodStats{Namespace: ns, Name: name, Uid: uid}
			pods[k] = p
		}
		if p.Uid == "" {
			p.Uid = uid
		}
		return p
	}
	seen := map[string]bool{NodeKey: true}
	for _, c := range in.Containers {
		seen[c.ID] = true
		cs := &kubeletv1.ContainerStats{Name: c.Name}
		if !c.StartTime.IsZero() {
			cs.StartTime = timestamppb.New(c.StartTime)
		}
		if c.HasCPU {
			cs.Cpu = cpuStats(t, c.ID, Point{Time: c.CPUTime, CPUNanos: c.CPUNanos})
		}
		if c.HasMemory {
			cs.Memory = &kubeletv1.MemoryStats{Time: timestamppb.New(c.MemoryTime), UsageBytes: c.UsageBytes, WorkingSetBytes: c.WorkingSetBytes}
		}
		p := pod(c.PodNamespace, c.PodName, c.PodUID)
		p.Containers = append(p.Containers, cs)
	}
	t.Retain(func(key string) bool { return seen[key] })
	for _, v := range in.Volumes {
		p := pod(v.Namespace, v.Pod, "")
		p.Volumes = append(p.Volumes, &kubeletv1.VolumeStats{
			Name: v.Volume, ClaimName: v.Claim, Time: timestamppb.New(in.VolumesTime),
			CapacityBytes: nonNeg(v.CapacityBytes), AvailableBytes: nonNeg(v.AvailableBytes), UsedBytes: nonNeg(v.UsedBytes),
			Inodes: nonNeg(v.Inodes), InodesFree: nonNeg(v.InodesFree), InodesUsed: nonNeg(v.InodesUsed),
		})
	}
	for _, p := range pods {
		sort.Slice(p.Containers, func(i, j int) bool { return p.Containers[i].Name < p.Containers[j].Name })
		sort.Slice(p.Volumes, func(i, j int) bool { return p.Volumes[i].Name < p.Volumes[j].Name })
		p.Cpu, p.Memory = podTotals(p.Containers)
		out.Pods = append(out.Pods, p)
	}
	sort.Slice(out.Pods, func(i, j int) bool {
		a, b := out.Pods[i], out.Pods[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out
}

func nonNeg(n int64) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// cpuStats observes p for key and reports it with its rate, if any.
func cpuStats(t *Tracker, key string, p Point) *kubeletv1.CPUStats {
	cs := &kubeletv1.CPUStats{Time: timestamppb.New(p.Time), UsageCoreNanoSeconds: p.CPUNanos}
	if r, ok := t.Observe(key, p); ok {
		n := r.NanoCores
		cs.UsageNanoCores, cs.Window = &n, durationpb.New(r.Window)
	}
	return cs
}

// podTotals sums the containers' figures (see Summarize).
func podTotals(cs []*kubeletv1.ContainerStats) (*kubeletv1.CPUStats, *kubeletv1.MemoryStats) {
	var cpu *kubeletv1.CPUStats
	var mem *kubeletv1.MemoryStats
	rates := true
	var rate uint64
	var window time.Duration
	for _, c := range cs {
		if c.Cpu == nil {
			rates = false
		} else {
			if cpu == nil {
				cpu = &kubeletv1.CPUStats{Time: c.Cpu.Time}
			}
			if c.Cpu.Time.AsTime().After(cpu.Time.AsTime()) {
				cpu.Time = c.Cpu.Time
			}
			cpu.UsageCoreNanoSeconds += c.Cpu.UsageCoreNanoSeconds
			if c.Cpu.UsageNanoCores == nil {
				rates = false
			} else {
				rate += c.Cpu.GetUsageNanoCores()
				window = max(window, c.Cpu.Window.AsDuration())
			}
		}
		if c.Memory != nil {
			if mem == nil {
				mem = &kubeletv1.MemoryStats{Time: c.Memory.Time}
			}
			if c.Memory.Time.AsTime().After(mem.Time.AsTime()) {
				mem.Time = c.Memory.Time
			}
			mem.UsageBytes += c.Memory.UsageBytes
			mem.WorkingSetBytes += c.Memory.WorkingSetBytes
		}
	}
	if cpu != nil && rates && len(cs) > 0 {
		cpu.UsageNanoCores, cpu.Window = &rate, durationpb.New(window)
	}
	return cpu, mem
}

// ContainerStatsLister is the runtime as the Collector uses it (a
// cri.Runtime is one).
type ContainerStatsLister interface {
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	ListContainerStats(ctx context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error)
}

// Collector takes the samples (the I/O) and summarizes them. Summary may
// be called concurrently (calls are serialized); Run keeps samples coming
// so that a summary has CPU rates.
type Collector struct {
	NodeName string
	// Runtime lists the running containers and their usage; nil: no
	// containers are reported.
	Runtime ContainerStatsLister
	// Host reads the node; nil: the node's usage is not reported.
	Host func() (HostSample, error)
	// Volumes returns the pods' volumes' usage (cached by the caller) and
	// when it was measured; nil: none.
	Volumes func() ([]volume.Stats, time.Time)
	// MinWindow is the Tracker's (DefaultMinWindow when zero).
	MinWindow time.Duration
	// OnError is told of a failed reading (nil: ignored).
	OnError func(what string, err error)

	mu      sync.Mutex
	tracker *Tracker
}

// Summary samples the node and its containers now and summarizes them.
// A failing reading leaves its part out; the summary is always returned.
func (c *Collector) Summary(ctx context.Context) *kubeletv1.StatsSummary {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tracker == nil {
		c.tracker = &Tracker{MinWindow: c.MinWindow}
	}
	in := Input{NodeName: c.NodeName}
	if c.Host != nil {
		if h, err := c.Host(); err == nil {
			in.Host = &h
		} else {
			c.fail("node", err)
		}
	}
	if c.Runtime != nil {
		cs, err := c.containers(ctx)
		if err != nil {
			c.fail("containers", err)
		}
		in.Containers = cs
	}
	if c.Volumes != nil {
		in.Volumes, in.VolumesTime = c.Volumes()
	}
	return Summarize(in, c.tracker)
}

func (c *Collector) fail(what string, err error) {
	if c.OnError != nil {
		c.OnError(what, err)
	}
}

// containers reads the running containers' usage from the runtime.
func (c *Collector) containers(ctx context.Context) ([]ContainerSample, error) {
	running, err := c.Runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*runtimeapi.Container, len(running))
	for _, r := range running {
		byID[r.GetId()] = r
	}
	stats, err := c.Runtime.ListContainerStats(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []ContainerSample
	for _, s := range stats {
		id := s.GetAttributes().GetId()
		r, ok := byID[id]
		if !ok {
			continue
		}
		out = append(out, FromCRI(r, s))
	}
	return out, nil
}

// FromCRI makes a sample of a running container r and its stats s: the
// pod and container names come from the kubelet's labels on r.
func FromCRI(r *runtimeapi.Container, s *runtimeapi.ContainerStats) ContainerSample {
	l := r.GetLabels()
	cs := ContainerSample{ID: r.GetId(), Name: l[kuberuntime.LabelContainerName],
		PodNamespace: l[kuberuntime.LabelPodNamespace], PodName: l[kuberuntime.LabelPodName], PodUID: l[kuberuntime.LabelPodUID]}
	if cs.Name == "" {
		cs.Name = r.GetMetadata().GetName()
	}
	if cpu := s.GetCpu(); cpu != nil && cpu.GetUsageCoreNanoSeconds() != nil {
		cs.CPUTime, cs.CPUNanos, cs.HasCPU = time.Unix(0, cpu.GetTimestamp()), cpu.GetUsageCoreNanoSeconds().GetValue(), true
	}
	if m := s.GetMemory(); m != nil && m.GetWorkingSetBytes() != nil {
		cs.MemoryTime, cs.WorkingSetBytes, cs.HasMemory = time.Unix(0, m.GetTimestamp()), m.GetWorkingSetBytes().GetValue(), true
		cs.UsageBytes = m.GetUsageBytes().GetValue()
	}
	return cs
}

// Run takes a summary every period (so that one asked for later has
// rates over at most about period) until ctx ends.
func (c *Collector) Run(ctx context.Context, period time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for {
		c.Summary(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
