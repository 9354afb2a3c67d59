package plugins_test

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/plugins"
)

func startedAt(sec int64) podOpt {
	return func(p *corev1.Pod) { p.Metadata.CreationTimestamp = timestamppb.New(time.Unix(sec, 0)) }
}

func preemptNever(p *corev1.Pod) { never := "Never"; p.Spec.PreemptionPolicy = &never }

func preemptionHarness(t *testing.T, nodes []*corev1.Node, pods []*corev1.Pod) *harness {
	return newHarness(t, nodes, pods, pc(plugins.TaintTolerationName), pc(plugins.NodeResourcesFitName),
		pc(plugins.PodTopologySpreadName), pc(plugins.InterPodAffinityName), pc(plugins.LeastAllocatedName), pc(plugins.DefaultPreemptionName))
}

func TestPreemption(t *testing.T) {
	small := func(name string) *corev1.Node { return node(name, withAllocatable("cpu", "2", "memory", "4Gi")) }
	taken := func(name, n, cpu string, prio int32, opts ...podOpt) *corev1.Pod {
		return pod(name, append([]podOpt{on(n), requests("cpu", cpu), priority(prio)}, opts...)...)
	}
	cases := []struct {
		name  string
		nodes []*corev1.Node
		pods  []*corev1.Pod
		pod   *corev1.Pod
		// wantNode "" means no preemption; then wantMsg is in the status.
		wantNode    string
		wantVictims []string
		wantMsg     string
	}{
		{
			name:  "lowest-priority victims win",
			nodes: []*corev1.Node{small("n1"), small("n2")},
			pods: []*corev1.Pod{
				taken("mid", "n1", "2", 50),
				taken("low", "n2", "2", 10),
			},
			pod:      pod("p", requests("cpu", "1"), priority(100)),
			wantNode: "n2", wantVictims: []string{"low"},
		},
		{
			name:  "then the fewest victims",
			nodes: []*corev1.Node{small("n1"), small("n2")},
			pods: []*corev1.Pod{
				taken("a", "n1", "1", 10), taken("b", "n1", "1", 10),
				taken("c", "n2", "2", 10),
			},
			pod:      pod("p", requests("cpu", "2"), priority(100)),
			wantNode: "n2", wantVictims: []string{"c"},
		},
		{
			name:  "only as many as needed, the youngest of equal priority",
			nodes: []*corev1.Node{node("n1", withAllocatable("cpu", "4"))},
			pods: []*corev1.Pod{
				taken("old", "n1", "1", 10, startedAt(100)),
				taken("young", "n1", "1", 10, startedAt(300)),
				taken("middle", "n1", "1", 10, startedAt(200)),
				taken("important", "n1", "1", 20, startedAt(400)),
			},
			pod:      pod("p", requests("cpu", "2"), priority(100)),
			wantNode: "n1", wantVictims: []string{"middle", "young"},
		},
		{
			name:    "never pods of equal or higher priority",
			nodes:   []*corev1.Node{small("n1")},
			pods:    []*corev1.Pod{taken("same", "n1", "1", 100), taken("higher", "n1", "1", 200)},
			pod:     pod("p", requests("cpu", "1"), priority(100)),
			wantMsg: "preemption is not helpful",
		},
		{
			name:    "preemptionPolicy Never",
			nodes:   []*corev1.Node{small("n1")},
			pods:    []*corev1.Pod{taken("low", "n1", "2", 1)},
			pod:     pod("p", requests("cpu", "1"), priority(100), preemptNever),
			wantMsg: "preemptionPolicy",
		},
		{
			name:  "nodes rejected for unresolvable reasons are not candidates",
			nodes: []*corev1.Node{node("tainted", withAllocatable("cpu", "2"), withTaint("dedicated", "gpu", "NoSchedule")), small("n2")},
			pods: []*corev1.Pod{
				taken("low", "tainted", "2", 1),
				taken("mid", "n2", "2", 50),
			},
			pod:      pod("p", requests("cpu", "1"), priority(100)),
			wantNode: "n2", wantVictims: []string{"mid"},
		},
		{
			name:  "removing a pod the preemptor's anti-affinity rejects",
			nodes: []*corev1.Node{small("n1"), small("n2")},
			pods: []*corev1.Pod{
				taken("enemy", "n1", "100m", 10, labels("app", "enemy")),
				taken("full", "n2", "2", 200),
			},
			pod:      pod("p", requests("cpu", "1"), priority(100), podAntiAffinity(term("kubernetes.io/hostname", "app", "enemy"))),
			wantNode: "n1", wantVictims: []string{"enemy"},
		},
		{
			name:    "removing everything lower is not enough",
			nodes:   []*corev1.Node{small("n1")},
			pods:    []*corev1.Pod{taken("low", "n1", "1", 10), taken("high", "n1", "1", 200)},
			pod:     pod("p", requests("cpu", "2"), priority(100)),
			wantMsg: "makes room on no node",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := preemptionHarness(t, tc.nodes, tc.pods)
			d := h.fwk.Schedule(context.Background(), framework.NewPodInfo(tc.pod))
			if d.FitError == nil {
				t.Fatalf("the pod fits (node %q, err %v); the case needs it not to", d.Node, d.Err)
			}
			if tc.wantNode == "" {
				if d.Preemption != nil {
					t.Fatalf("preempted on %s: %v", d.Preemption.NominatedNodeName, names(d.Preemption.Victims))
				}
				if !strings.Contains(d.PostFilterStatus.Message(), tc.wantMsg) {
					t.Fatalf("post-filter status %v lacks %q", d.PostFilterStatus, tc.wantMsg)
				}
				return
			}
			if d.Preemption == nil {
				t.Fatalf("no preemption: %v", d.PostFilterStatus)
			}
			if d.Preemption.NominatedNodeName != tc.wantNode || strings.Join(names(d.Preemption.Victims), ",") != strings.Join(tc.wantVictims, ",") {
				t.Fatalf("preempted %v on %s, want %v on %s", names(d.Preemption.Victims), d.Preemption.NominatedNodeName, tc.wantVictims, tc.wantNode)
			}
		})
	}
}

func names(pods []*framework.PodInfo) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func TestNominatedPodsReserveTheirRoom(t *testing.T) {
	nodes := []*corev1.Node{node("n1", withAllocatable("cpu", "2"))}
	h := preemptionHarness(t, nodes, nil)
	nominated := framework.NewPodInfo(pod("nominated", requests("cpu", "2"), priority(100)))
	h.noms.byNode["n1"] = []*framework.PodInfo{nominated}
	h.noms.byUID[nominated.UID] = "n1"

	d := h.fwk.Schedule(context.Background(), framework.NewPodInfo(pod("lower", requests("cpu", "1"), priority(10))))
	if d.FitError == nil {
		t.Fatalf("a lower-priority pod took the room of a nominated pod: node %q", d.Node)
	}
	if got := d.FitError.Error(); got != "0/1 nodes are available: 1 Insufficient cpu." {
		t.Errorf("message %q", got)
	}
	d = h.fwk.Schedule(context.Background(), framework.NewPodInfo(pod("higher", requests("cpu", "1"), priority(200))))
	if d.Node != "n1" {
		t.Errorf("a higher-priority pod was kept out by a nomination: %+v", d.FitError)
	}
	// The nominated pod itself goes to its node.
	d = h.fwk.Schedule(context.Background(), nominated)
	if d.Node != "n1" {
		t.Errorf("the nominated pod did not get its node: %v", d.FitError)
	}
}
