package hollow

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet/nodestatus"
	"keel.dev/keel/pkg/pki"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func TestPodStatusIsStable(t *testing.T) {
	pod := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "default", Uid: "u1"},
		Spec: &corev1.PodSpec{
			InitContainers: []*corev1.Container{{Name: "i", Image: "img"}},
			Containers: []*corev1.Container{{Name: "a", Image: "img", Resources: &corev1.ResourceRequirements{
				Requests: map[string]*metav1.Quantity{"cpu": {String_: "100m"}}}}},
		},
		Status: &corev1.PodStatus{Phase: "Pending", Conditions: []*corev1.PodCondition{
			{Type: "PodScheduled", Status: "True", LastTransitionTime: timestamppb.New(t0.Add(-time.Minute))},
			{Type: "example.com/gate", Status: "True"},
		}},
	}
	st := PodStatus(pod, "100.64.0.2", "192.0.2.2", t0)
	if st.Phase != "Running" || st.PodIp != "100.64.0.2" || st.HostIp != "192.0.2.2" || st.QosClass != "Burstable" || !st.StartTime.AsTime().Equal(t0) {
		t.Errorf("status %v", st)
	}
	if len(st.Conditions) != 5 || !st.Conditions[0].LastTransitionTime.AsTime().Equal(t0.Add(-time.Minute)) || st.Conditions[4].Type != "example.com/gate" {
		t.Errorf("conditions %v", st.Conditions)
	}
	if cs := st.ContainerStatuses[0]; cs.State.GetRunning() == nil || !cs.Ready || cs.ContainerId != "fake://u1/a" {
		t.Errorf("container %v", cs)
	}
	if ic := st.InitContainerStatuses[0]; ic.State.GetTerminated().GetReason() != "Completed" {
		t.Errorf("init container %v", ic)
	}
	// Computed again later from the status written: unchanged (no write).
	pod.Status = st
	if again := PodStatus(pod, "100.64.0.2", "192.0.2.2", t0.Add(time.Hour)); !proto.Equal(again, st) {
		t.Errorf("status changed on recompute:\n%v\n%v", st, again)
	}
}

func TestFakePodCIDRAndAllocation(t *testing.T) {
	for i, want := range map[int]string{0: "100.64.0.0/24", 1: "100.64.1.0/24", 256: "100.65.0.0/24", 16383: "100.127.255.0/24"} {
		if got := FakePodCIDR(i).String(); got != want {
			t.Errorf("FakePodCIDR(%d) = %s, want %s", i, got, want)
		}
	}
	n := &node{cidr: netip.MustParsePrefix("10.244.3.0/30"), ips: map[string]netip.Addr{}, used: map[netip.Addr]bool{}}
	a, ok := n.allocate("a", "")
	if !ok || a.String() != "10.244.3.2" {
		t.Fatalf("first IP %v %v", a, ok)
	}
	if again, _ := n.allocate("a", ""); again != a {
		t.Errorf("not idempotent: %v", again)
	}
	// .3 is the broadcast address of the /30: nothing left.
	if b, ok := n.allocate("b", ""); ok {
		t.Errorf("allocated %v past the range", b)
	}
	// A pod keeps the IP it has (after a restart of the process).
	m := &node{cidr: netip.MustParsePrefix("10.244.3.0/24"), ips: map[string]netip.Addr{}, used: map[netip.Addr]bool{}}
	if k, _ := m.allocate("k", "10.244.3.77"); k.String() != "10.244.3.77" {
		t.Errorf("kept IP %v", k)
	}
}

// TestHollowNodesRunPods: each hollow node runs as itself
// (system:node:hollow-i) against an apiserver with Node,RBAC, and none of
// its requests is refused.
func TestHollowNodesRunPods(t *testing.T) {
	names := Names("hollow", 3)
	api := testserver.StartSecure(t, names, nil)
	api.FailOnForbidden()
	c := api.Client(pki.AdminName)
	clients := map[string]*client.Client{}
	for _, n := range names {
		clients[n] = api.Client(pki.KubeletClientName(n))
	}
	h, err := New(Config{
		Client: clients[names[0]], ClientFor: func(n string) *client.Client { return clients[n] }, Names: names, NodeIP: "192.0.2.9",
		CPU: resource.MustParse("32"), Memory: resource.MustParse("256Gi"), MaxPods: 110,
		UpdateFrequency: 100 * time.Millisecond, LeaseDuration: 4 * time.Second, Workers: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(ctx) }()
	defer func() { cancel(); <-done }()

	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	wait := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if rctx.Err() != nil {
				t.Fatalf("%s: timed out", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("hollow nodes ready", func() bool { return h.Ready() == nil })
	for i := 0; i < 3; i++ {
		name := fmt.Sprintf("hollow-%d", i)
		n, err := c.Nodes().Get(rctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if n.GetStatus().GetCapacity()["cpu"].GetString_() != "32" || n.GetStatus().GetCapacity()["memory"].GetString_() != "256Gi" ||
			n.GetSpec().GetPodCidr() != FakePodCIDR(i).String() || n.GetStatus().GetNodeInfo().GetContainerRuntimeVersion() != RuntimeVersion {
			t.Errorf("node %s: %v", name, n)
		}
		wait("lease of "+name, func() bool {
			_, err := c.Leases(nodestatus.LeaseNamespace).Get(rctx, name)
			return err == nil
		})
	}
	// 30 pods over the 3 nodes.
	for i := 0; i < 30; i++ {
		p := &corev1.Pod{
			Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default"},
			Spec:     &corev1.PodSpec{NodeName: fmt.Sprintf("hollow-%d", i%3), Containers: []*corev1.Container{{Name: "c", Image: "registry.local/pause:3.9"}}},
		}
		if _, err := c.Pods("default").Create(rctx, p, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	wait("every pod Running", func() bool {
		l, err := c.Pods("default").List(rctx, client.ListOptions{})
		if err != nil {
			return false
		}
		running := 0
		seen := map[string]bool{}
		for _, p := range l.Items {
			if p.GetStatus().GetPhase() == "Running" {
				running++
				ip := p.GetStatus().GetPodIp()
				node := p.GetSpec().GetNodeName()
				var idx int
				fmt.Sscanf(node, "hollow-%d", &idx)
				if !FakePodCIDR(idx).Contains(netip.MustParseAddr(ip)) || seen[ip] {
					t.Errorf("pod %s on %s has IP %s", p.GetMetadata().GetName(), node, ip)
				}
				seen[ip] = true
			}
		}
		return running == 30
	})
	// Graceful deletion completes at once.
	if _, _, err := c.Pods("default").Delete(rctx, "p0", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("p0 deleted", func() bool {
		_, err := c.Pods("default").Get(rctx, "p0")
		return apierrors.IsNotFound(err)
	})
}
