package drain_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

func createNodes(t *testing.T, k *keelctltest.Cluster, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := k.C.Nodes().Create(k.Ctx(), &corev1.Node{Metadata: &metav1.ObjectMeta{Name: n}}, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func cordoned(t *testing.T, k *keelctltest.Cluster, name string) bool {
	t.Helper()
	n, err := k.C.Nodes().Get(k.Ctx(), name)
	if err != nil {
		t.Fatal(err)
	}
	return n.GetSpec().GetUnschedulable()
}

// nodePod describes a pod of the drain tests.
type nodePod struct {
	ns, name, node string
	managed        bool   // a ReplicaSet controls it
	daemon         bool   // a DaemonSet controls it
	emptyDir       bool   // it has an emptyDir volume
	phase          string // its status.phase, if set
}

// createPod creates the pod, bound to its node (if any).
func createPod(t *testing.T, k *keelctltest.Cluster, p nodePod) {
	t.Helper()
	ctx := k.Ctx()
	pod := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: p.name, Namespace: p.ns},
		Spec: &corev1.PodSpec{NodeName: p.node,
			Containers: []*corev1.Container{{Name: "app", Image: "busybox"}}},
	}
	if p.managed {
		pod.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs",
			Uid: "2c1d4f9e-8b7a-4e55-a0d3-6f1b2c3d4e5f", Controller: proto.Bool(true)}}
	}
	if p.daemon {
		pod.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "apps/v1", Kind: "DaemonSet", Name: "agent",
			Uid: "5e0c7a3b-1f2d-4c6e-9a8b-7d6c5b4a3f2e", Controller: proto.Bool(true)}}
	}
	if p.emptyDir {
		pod.Spec.Volumes = []*corev1.Volume{{Name: "scratch", EmptyDir: &corev1.EmptyDirVolumeSource{}}}
	}
	created, err := k.C.Pods(p.ns).Create(ctx, pod, client.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.phase != "" {
		created.Status = &corev1.PodStatus{Phase: p.phase}
		if _, err := k.C.Pods(p.ns).UpdateStatus(ctx, created, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// podExists reports whether the pod is there (terminating or not).
func podExists(t *testing.T, k *keelctltest.Cluster, ns, name string) bool {
	t.Helper()
	_, err := k.C.Pods(ns).Get(k.Ctx(), name)
	if apierrors.IsNotFound(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func TestCordonUncordon(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	createNodes(t, k, "n1", "n2")

	if out := k.Run("cordon", "n1", "--dry-run").OK(t); out != "node/n1 cordoned (dry run)\n" {
		t.Errorf("dry run: %q", out)
	}
	if cordoned(t, k, "n1") {
		t.Fatal("cordoned by a dry run")
	}
	if out := k.Run("cordon", "n1", "n2").OK(t); out != "node/n1 cordoned\nnode/n2 cordoned\n" {
		t.Errorf("cordon: %q", out)
	}
	if !cordoned(t, k, "n1") || !cordoned(t, k, "n2") {
		t.Error("not cordoned")
	}
	if out := k.Run("cordon", "node/n1").OK(t); out != "node/n1 already cordoned\n" {
		t.Errorf("cordon again: %q", out)
	}
	if out := k.Run("uncordon", "n1").OK(t); out != "node/n1 uncordoned\n" {
		t.Errorf("uncordon: %q", out)
	}
	if cordoned(t, k, "n1") || !cordoned(t, k, "n2") {
		t.Errorf("after uncordon n1: n1 %v, n2 %v", cordoned(t, k, "n1"), cordoned(t, k, "n2"))
	}
	if out := k.Run("uncordon", "nodes/n1").OK(t); out != "node/n1 already uncordoned\n" {
		t.Errorf("uncordon again: %q", out)
	}
	k.Run("cordon", "nope").Fails(t, `Error from server (NotFound): nodes "nope" not found`)
	k.Run("uncordon", "pod/n1").Fails(t, `"pod/n1" is not a node`)
	k.Run("cordon").Fails(t, "requires at least 1 arg")
}

func TestDrain(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	createNodes(t, k, "n1", "n2")
	k.Namespace("shop")
	onN1 := []nodePod{
		{ns: "default", name: "bare", node: "n1"},
		{ns: "default", name: "cache", node: "n1", managed: true, emptyDir: true},
		{ns: "default", name: "done", node: "n1", phase: "Succeeded"}, // finished: deleted without --force
		{ns: "shop", name: "web-1", node: "n1", managed: true},
	}
	daemon := nodePod{ns: "default", name: "agent-n1", node: "n1", daemon: true}
	others := []nodePod{daemon,
		{ns: "default", name: "elsewhere", node: "n2", managed: true},
		{ns: "default", name: "pending", managed: true},
	}
	for _, p := range append(append([]nodePod{}, onN1...), others...) {
		createPod(t, k, p)
	}
	allThere := func(pods []nodePod) {
		t.Helper()
		for _, p := range pods {
			if !podExists(t, k, p.ns, p.name) {
				t.Errorf("pod %s/%s was deleted", p.ns, p.name)
			}
		}
	}

	// Unmanaged pods, pods with emptyDir volumes and DaemonSet-managed
	// pods are refused, listed; the node stays cordoned, every pod stays.
	r := k.Run("drain", "n1", "--grace-period=0")
	r.Fails(t,
		`error: unable to drain node "n1": cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/agent-n1`,
		`error: unable to drain node "n1": cannot delete Pods that declare no controller (use --force to override): default/bare`,
		`error: unable to drain node "n1": cannot delete Pods with local storage (use --delete-emptydir-data to override): default/cache`)
	if r.Out != "node/n1 cordoned\n" {
		t.Errorf("refused drain printed %q", r.Out)
	}
	if strings.Contains(r.Err, "done") || strings.Contains(r.Err, "web-1") {
		t.Errorf("refused pods that may go:\n%s", r.Err)
	}
	if !cordoned(t, k, "n1") {
		t.Error("n1 not cordoned")
	}
	allThere(onN1)
	allThere(others)

	// --force allows the unmanaged pod, not the emptyDir one.
	r = k.Run("drain", "n1", "--grace-period=0", "--force")
	r.Fails(t, `cannot delete Pods with local storage (use --delete-emptydir-data to override): default/cache`)
	if strings.Contains(r.Err, "use --force") {
		t.Errorf("--force did not allow the unmanaged pod:\n%s", r.Err)
	}
	allThere(onN1)

	// A dry run deletes nothing and leaves the node as it is.
	createNodes(t, k, "n3")
	createPod(t, k, nodePod{ns: "default", name: "web-3", node: "n3", managed: true})
	if out := k.Run("drain", "n3", "--dry-run").OK(t); out != "node/n3 cordoned (dry run)\nevicting pod default/web-3 (dry run)\nnode/n3 drained (dry run)\n" {
		t.Errorf("dry run: %q", out)
	}
	if cordoned(t, k, "n3") || !podExists(t, k, "default", "web-3") {
		t.Error("the dry run changed something")
	}

	// Allowed: every pod on n1 goes but the daemon pod, the others stay.
	r = k.Run("drain", "n1", "--grace-period=0", "--force", "--delete-emptydir-data", "--ignore-daemonsets")
	want := "node/n1 already cordoned\n" +
		"evicting pod default/bare\nevicting pod default/cache\nevicting pod default/done\nevicting pod shop/web-1\n" +
		"pod/bare evicted\npod/cache evicted\npod/done evicted\npod/web-1 evicted\n" +
		"node/n1 drained\n"
	if out := r.OK(t); out != want {
		t.Errorf("drain:\n%s\nwant:\n%s", out, want)
	}
	for _, w := range []string{"Warning: ignoring DaemonSet-managed Pods: default/agent-n1",
		"Warning: deleting Pods that declare no controller: default/bare", "Warning: deleting Pods with local storage: default/cache"} {
		if !strings.Contains(r.Err, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.Err)
		}
	}
	for _, p := range onN1 {
		if podExists(t, k, p.ns, p.name) {
			t.Errorf("pod %s/%s not deleted", p.ns, p.name)
		}
	}
	allThere(others)
	l, err := k.C.Pods("").List(k.Ctx(), client.ListOptions{FieldSelector: "spec.nodeName=n1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Items) != 1 || l.Items[0].GetMetadata().GetName() != daemon.name {
		t.Errorf("pods left on n1: %v, want only the daemon pod", l.Items)
	}

	// Drained again: nothing left to do but the daemon pod, left alone.
	if out := k.Run("drain", "n1", "--ignore-daemonsets").OK(t); out != "node/n1 already cordoned\nnode/n1 drained\n" {
		t.Errorf("drain again: %q", out)
	}
	k.Run("drain", "nope").Fails(t, `Error from server (NotFound): nodes "nope" not found`)
	k.Run("drain", "n1", "n2").Fails(t, "accepts 1 arg(s), received 2")
}

// TestDrainWaits checks that drain waits until the pods it deleted are
// gone: pods on a node stop gracefully, and only their kubelet (played by
// the test) removes them.
func TestDrainWaits(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	createNodes(t, k, "n1")
	createPod(t, k, nodePod{ns: "default", name: "web-1", node: "n1", managed: true})
	terminating := func(name string) bool {
		p, err := k.C.Pods("default").Get(ctx, name)
		return err == nil && p.GetMetadata().GetDeletionTimestamp() != nil
	}
	kubeletRemoves := func(name string) {
		t.Helper()
		if _, _, err := k.C.Pods("default").Delete(ctx, name, client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
			t.Fatal(err)
		}
	}

	// Nobody removes the pod: drain gives up at its timeout.
	r := k.Run("drain", "n1", "--timeout=300ms")
	r.Fails(t, "error: drain did not complete within 300ms: pods not yet gone: default/web-1")
	if r.Out != "node/n1 cordoned\nevicting pod default/web-1\n" {
		t.Errorf("timed out drain printed %q", r.Out)
	}
	if !terminating("web-1") {
		t.Fatal("web-1 is not being deleted")
	}
	kubeletRemoves("web-1")

	// The pod goes while drain waits.
	createPod(t, k, nodePod{ns: "default", name: "web-2", node: "n1", managed: true})
	var out keelctltest.SyncBuffer
	done := k.StartRun(&out, "drain", "n1")
	keelctltest.Eventually(t, 10*time.Second, func() bool { return terminating("web-2") }, "drain did not delete web-2")
	if s := out.String(); strings.Contains(s, "evicted") || strings.Contains(s, "drained") {
		t.Errorf("drain did not wait for the pod:\n%s", s)
	}
	kubeletRemoves("web-2")
	if got := keelctltest.WaitResult(t, done).OK(t); got != "node/n1 already cordoned\nevicting pod default/web-2\npod/web-2 evicted\nnode/n1 drained\n" {
		t.Errorf("drain: %q", got)
	}
	if podExists(t, k, "default", "web-2") {
		t.Error("web-2 still there")
	}
}

// TestDrainRespectsBudget: drain evicts, so a PodDisruptionBudget that
// allows no disruption holds it back: it retries, reports the budget, and
// gives up at --timeout naming it; once the budget allows the
// disruptions the drain completes. --disable-eviction deletes regardless.
func TestDrainRespectsBudget(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	createNodes(t, k, "n1", "n2")
	ready := func(name, node string) {
		t.Helper()
		createPod(t, k, nodePod{ns: "default", name: name, node: node, managed: true})
		p, err := k.C.Pods("default").Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		p.Metadata.Labels = map[string]string{"app": "web"}
		if p, err = k.C.Pods("default").Update(ctx, p, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		p.Status = &corev1.PodStatus{Phase: api.PodRunning, Conditions: []*corev1.PodCondition{{Type: api.PodReady, Status: api.ConditionTrue}}}
		if _, err := k.C.Pods("default").UpdateStatus(ctx, p, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ready("web-1", "n1")
	ready("web-2", "n1")
	pdbs := client.For[*policyv1.PodDisruptionBudget](k.C, "default")
	if _, err := pdbs.Create(ctx, &policyv1.PodDisruptionBudget{Metadata: &metav1.ObjectMeta{Name: "web"}, Spec: &policyv1.PodDisruptionBudgetSpec{
		MinAvailable: api.IntOrStringFromInt(2), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// allow sets the budget's status as the disruption controller would.
	allow := func(n int32) {
		t.Helper()
		b, err := pdbs.Get(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		b.Status = &policyv1.PodDisruptionBudgetStatus{ObservedGeneration: b.GetMetadata().GetGeneration(),
			DisruptionsAllowed: n, CurrentHealthy: 2, DesiredHealthy: 2 - n, ExpectedPods: 2}
		if _, err := pdbs.UpdateStatus(ctx, b, client.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	allow(0)
	keelctltest.MustHaveLines(t, k.Run("get", "pdb").OK(t), "NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE", "web 2 N/A 0 ")
	keelctltest.MustHaveLines(t, k.Run("describe", "poddisruptionbudget", "web").OK(t), "Name: web", "Min available: 2",
		"Selector: app=web", "Status:", "Allowed disruptions: 0", "Current: 2", "Desired: 2", "Total: 2")

	r := k.Run("drain", "n1", "--grace-period=0", "--timeout=1s")
	r.Fails(t, "error: drain did not complete within 1s: pods not yet gone: "+
		"default/web-1 (The disruption budget web needs 2 healthy pods and has 2 currently), "+
		"default/web-2 (The disruption budget web needs 2 healthy pods and has 2 currently)")
	for _, n := range []string{"web-1", "web-2"} {
		want := `error when evicting pods/"` + n + `" -n "default" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.`
		if !strings.Contains(r.Err, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.Err)
		}
		if !podExists(t, k, "default", n) {
			t.Fatalf("%s evicted against its budget", n)
		}
	}

	// Blocked, then the budget allows: the retries get through.
	var out keelctltest.SyncBuffer
	done := k.StartRun(&out, "drain", "n1", "--grace-period=0")
	keelctltest.Eventually(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "evicting pod default/web-2") }, "drain did not start evicting")
	if !podExists(t, k, "default", "web-1") || !podExists(t, k, "default", "web-2") {
		t.Fatal("evicted against the budget")
	}
	allow(2)
	if got := keelctltest.WaitResult(t, done).OK(t); !strings.HasSuffix(got, "pod/web-1 evicted\npod/web-2 evicted\nnode/n1 drained\n") {
		t.Errorf("drain: %q", got)
	}
	if podExists(t, k, "default", "web-1") || podExists(t, k, "default", "web-2") {
		t.Error("pods left on n1")
	}

	// --disable-eviction deletes whatever the budget says.
	ready("web-3", "n2")
	allow(0)
	k.Run("drain", "n2", "--grace-period=0", "--disable-eviction").OK(t)
	if podExists(t, k, "default", "web-3") {
		t.Error("web-3 not deleted with --disable-eviction")
	}
}
