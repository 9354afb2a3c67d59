package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// The hollow nodes of TestWorkloads' cluster: each kubelet process runs
// the nodes of one pool, labelled poolLabel=its prefix. Workloads that
// must not be disturbed by the others' node changes keep to their pool
// with a nodeSelector; DaemonSets go everywhere.
const (
	poolLabel  = "e2e.keel.dev/pool"
	mainPool   = "hollow" // StatefulSets, CronJobs' pods, quota
	drainPool  = "drain"  // the Deployment the drain moves
	extraPool  = "extra"  // nodes that join and leave for the DaemonSet
	mainNodes  = 3
	drainNodes = 2
	extraNodes = 3
	// cronClockRate is the controller-manager's --cronjob-clock-rate: a
	// minute schedule runs every two seconds.
	cronClockRate = 30
)

// TestWorkloads runs the kinds of issue 13 end to end on the real daemons:
// keel-apiserver (embedded etcd, authorization Node,RBAC), keel-scheduler,
// keel-controller-manager (each controller as its own ServiceAccount, the
// CronJob controller's clock 30 times faster) and hollow kubelets
// (--runtime fake), every node authenticating as itself. The subtests
// share the cluster, each in a namespace of its own, and drive it as a
// user would, with keelctl as the admin; the apiserver refuses the
// daemons nothing.
func TestWorkloads(t *testing.T) {
	wc := startWorkloadCluster(t)
	t.Run("DaemonSet", func(t *testing.T) { t.Parallel(); testDaemonSet(t, wc) })
	t.Run("StatefulSet", func(t *testing.T) { t.Parallel(); testStatefulSet(t, wc) })
	t.Run("CronJob", func(t *testing.T) { t.Parallel(); testCronJob(t, wc) })
	t.Run("DisruptionBudgetBlocksDrain", func(t *testing.T) { t.Parallel(); testDrainBlocked(t, wc) })
	t.Run("QuotaRefusesPod", func(t *testing.T) { t.Parallel(); testQuota(t, wc) })
}

// built holds the binaries of cmd/ (named for their directories), built
// once for the tests of this package that run them (see binaries) and
// removed by TestMain.
var built struct {
	once sync.Once
	dir  string
	err  error
}

// binaries builds the daemons and keelctl (apiserver, scheduler,
// controller-manager, kubelet, ctl) the first time it is called and
// returns their directory.
func binaries(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		begin := time.Now()
		if built.dir, built.err = os.MkdirTemp("", "keel-e2e-bin"); built.err != nil {
			return
		}
		// Without symbol tables and DWARF (-s -w) the five link in a
		// good part less time; panics still print their stacks.
		build := exec.Command("go", "build", "-ldflags=-s -w", "-o", built.dir+"/", "./cmd/apiserver", "./cmd/scheduler", "./cmd/controller-manager", "./cmd/kubelet", "./cmd/ctl")
		build.Dir = "../.."
		if out, err := build.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("building the daemons and keelctl: %v\n%s", err, out)
		}
		t.Logf("built the daemons and keelctl in %v", time.Since(begin).Round(time.Millisecond))
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

// workloadCluster is TestWorkloads' cluster.
type workloadCluster struct {
	bin, dir, pkiDir string
	server           string
	admin            string // keelctl's kubeconfig: the admin's certificate
	client           *client.Client
}

func startWorkloadCluster(t *testing.T) *workloadCluster {
	begin := time.Now()
	wc := &workloadCluster{bin: binaries(t), dir: t.TempDir()}
	wc.pkiDir = filepath.Join(wc.dir, "pki")
	var nodes []pki.Node
	for _, pool := range []struct {
		prefix string
		n      int
	}{{mainPool, mainNodes}, {drainPool, drainNodes}, {extraPool, extraNodes}} {
		for i := range pool.n {
			nodes = append(nodes, pki.Node{Name: fmt.Sprintf("%s-%d", pool.prefix, i), IPs: []net.IP{net.ParseIP("127.0.0.1")}})
		}
	}
	if _, err := pki.Init(pki.InitOptions{Dir: wc.pkiDir, Hostname: "localhost", Nodes: nodes}); err != nil {
		t.Fatal(err)
	}
	p := daemontest.FreePorts(t, 4)
	wc.server = p[0]
	file := func(name string) string { return filepath.Join(wc.pkiDir, name) }
	api := daemontest.Start(t, filepath.Join(wc.bin, "apiserver"), "--data-dir", filepath.Join(wc.dir, "etcd"), "--embedded-etcd-unsafe-no-fsync",
		"--secure-address", wc.server, "--http-address", p[1], "--authorization-mode", "Node,RBAC",
		"--tls-cert-file", pki.CertPath(wc.pkiDir, pki.APIServerName), "--tls-private-key-file", pki.KeyPath(wc.pkiDir, pki.APIServerName),
		"--client-ca-file", pki.CertPath(wc.pkiDir, pki.CAName),
		"--service-account-key-file", file(pki.ServiceAccountPublicKeyFile), "--service-account-signing-key-file", file(pki.ServiceAccountKeyFile),
		"--log-level", "info")
	api.WaitReady(t, "http://"+p[1]+"/readyz", time.Minute)
	t.Cleanup(func() {
		for _, line := range strings.Split(api.Out.String(), "\n") {
			if strings.Contains(line, "request forbidden") {
				t.Errorf("the apiserver refused a request: %s", line)
			}
		}
	})
	daemontest.Start(t, filepath.Join(wc.bin, "scheduler"), "--kubeconfig", daemontest.KubeconfigTLS(t, wc.pkiDir, pki.SchedulerName, wc.server),
		"--http-address", p[2], "--log-level", "warn")
	cm := daemontest.Start(t, filepath.Join(wc.bin, "controller-manager"), "--kubeconfig", daemontest.KubeconfigTLS(t, wc.pkiDir, pki.ControllerManagerName, wc.server),
		"--http-address", p[3], "--use-service-account-credentials", "--root-ca-file", pki.CertPath(wc.pkiDir, pki.CAName),
		"--cronjob-clock-rate", fmt.Sprint(cronClockRate), "--log-level", "warn")
	wc.startHollow(t, mainPool, mainNodes)
	wc.startHollow(t, drainPool, drainNodes)
	cm.WaitReady(t, "http://"+p[3]+"/readyz", time.Minute)

	wc.admin = daemontest.KubeconfigTLS(t, wc.pkiDir, pki.AdminName, wc.server)
	var err error
	if wc.client, err = client.FromConfig(wc.admin, "", "workloads-e2e"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wc.client.Close() })
	testutil.Eventually(t, time.Minute, "every hollow node Ready", func() error {
		nodes, err := wc.client.Nodes().List(wc.ctx(t), client.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, n := range nodes.Items {
			if nodeReady(n) {
				ready++
			}
		}
		if ready != mainNodes+drainNodes {
			return fmt.Errorf("%d of %d nodes Ready", ready, mainNodes+drainNodes)
		}
		return nil
	})
	t.Logf("the cluster is up %v after the start", time.Since(begin).Round(time.Millisecond))
	return wc
}

// startHollow starts a hollow kubelet running n nodes PREFIX-0…, labelled
// poolLabel=PREFIX, each authenticating as itself; it stops when the
// test ends.
func (wc *workloadCluster) startHollow(t *testing.T, prefix string, n int) *daemontest.Proc {
	p := daemontest.FreePorts(t, 2)
	k := daemontest.Start(t, filepath.Join(wc.bin, "kubelet"), "--server", wc.server, "--pki-dir", wc.pkiDir, "--node-name", prefix+"-0",
		"--runtime", "fake", "--hollow-nodes", fmt.Sprint(n), "--hollow-node-prefix", prefix, "--node-labels", poolLabel+"="+prefix,
		"--node-ip", "127.0.0.1", "--healthz-address", p[0], "--port", p[1][strings.LastIndexByte(p[1], ':')+1:],
		"--root-dir", filepath.Join(wc.dir, "kubelet-"+prefix), "--log-level", "warn")
	k.WaitReady(t, "http://"+p[0]+"/readyz", time.Minute)
	return k
}

// ctx bounds one request of the test.
func (wc *workloadCluster) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// keelctl runs keelctl as the admin, with stdin, and returns its combined
// output.
func (wc *workloadCluster) keelctl(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(wc.bin, "ctl"), args...)
	cmd.Env = append(os.Environ(), "KEELCONFIG="+wc.admin)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// run runs keelctl and fails the test if it fails.
func (wc *workloadCluster) run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := wc.keelctl("", args...)
	if err != nil {
		t.Fatalf("keelctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// apply applies a manifest with keelctl apply -f -.
func (wc *workloadCluster) apply(t *testing.T, ns, manifest string) {
	t.Helper()
	args := []string{"apply", "-f", "-"}
	if ns != "" {
		args = append(args, "-n", ns)
	}
	if out, err := wc.keelctl(manifest, args...); err != nil {
		t.Fatalf("keelctl apply: %v\n%s\n%s", err, out, manifest)
	}
}

// namespace creates a namespace and waits for its default ServiceAccount,
// without which pods are refused.
func (wc *workloadCluster) namespace(t *testing.T, name string) string {
	t.Helper()
	wc.run(t, "create", "namespace", name)
	testutil.Eventually(t, time.Minute, "the default ServiceAccount of "+name, func() error {
		_, err := wc.keelctl("", "get", "serviceaccount", "default", "-n", name)
		return err
	})
	return name
}

// getJSON runs keelctl get -o json and decodes its output into v.
func (wc *workloadCluster) getJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := wc.run(t, append(append([]string{"get"}, args...), "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("keelctl get %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// podLog records the pod events of a namespace in the order the watch
// delivers them (the order of their resourceVersions).
type podLog struct {
	mu     sync.Mutex
	events []client.Event[*corev1.Pod]
	err    error // why the watch stopped early
}

// watchPods records ns's pod events from now until the test ends,
// resuming the watch where the server ends it; a watch that fails
// otherwise fails the test when it ends.
func (wc *workloadCluster) watchPods(t *testing.T, ns string) *podLog {
	ctx, cancel := context.WithCancel(context.Background())
	l := &podLog{}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
		if l.err != nil {
			t.Errorf("watching the pods of %s: %v", ns, l.err)
		}
	})
	list, err := wc.client.Pods(ns).List(wc.ctx(t), client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rv := list.ResourceVersion
	go func() {
		defer close(done)
		for {
			w, err := client.For[*corev1.Pod](wc.client, ns).Watch(ctx, client.WatchOptions{ResourceVersion: rv})
			for err == nil {
				var ev client.Event[*corev1.Pod]
				if ev, err = w.Next(); err == nil {
					rv = ev.Object.GetMetadata().GetResourceVersion()
					l.mu.Lock()
					l.events = append(l.events, ev)
					l.mu.Unlock()
				}
			}
			if w != nil {
				w.Stop()
			}
			// The server ended the watch, or this watcher fell behind:
			// resume. Anything else ends the record.
			if ctx.Err() == nil && !errors.Is(err, io.EOF) && apierrors.ReasonOf(err) != apierrors.ReasonTooManyRequests {
				l.mu.Lock()
				l.err = err
				l.mu.Unlock()
			}
			if ctx.Err() != nil || l.err != nil {
				return
			}
		}
	}()
	return l
}

// snapshot is the events recorded so far.
func (l *podLog) snapshot() []client.Event[*corev1.Pod] {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// firstEvent is the index of the first event from index from on for which
// match holds, or -1.
func firstEvent(events []client.Event[*corev1.Pod], from int, match func(client.Event[*corev1.Pod]) bool) int {
	for i := from; i < len(events); i++ {
		if match(events[i]) {
			return i
		}
	}
	return -1
}

func podNamed(name string, cond func(client.Event[*corev1.Pod]) bool) func(client.Event[*corev1.Pod]) bool {
	return func(ev client.Event[*corev1.Pod]) bool { return ev.Object.GetMetadata().GetName() == name && cond(ev) }
}

func podAdded(ev client.Event[*corev1.Pod]) bool { return ev.Type == client.Added }

func podReadyEvent(ev client.Event[*corev1.Pod]) bool {
	return ev.Type != client.Deleted && ev.Object.GetStatus().GetPhase() == api.PodRunning && api.IsPodReady(ev.Object)
}

// podLeaving: the pod is being deleted or gone.
func podLeaving(ev client.Event[*corev1.Pod]) bool {
	return ev.Type == client.Deleted || ev.Object.GetMetadata().GetDeletionTimestamp() != nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

// livePods lists ns's pods that are not being deleted, matching selector.
func (wc *workloadCluster) livePods(t *testing.T, ns, selector string) ([]*corev1.Pod, error) {
	l, err := wc.client.Pods(ns).List(wc.ctx(t), client.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, err
	}
	var out []*corev1.Pod
	for _, p := range l.Items {
		if p.GetMetadata().GetDeletionTimestamp() == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// testDaemonSet: a daemon pod on every node, with the tolerations
// Kubernetes adds; nodes joining get one, except one tainted NoSchedule
// before it joined; a NoExecute taint the DaemonSet does not tolerate
// takes it away; a RollingUpdate with maxUnavailable moves every pod to
// the new revision; nodes removed (their kubelet stopped, their Nodes
// deleted) lose their pods.
func testDaemonSet(t *testing.T, wc *workloadCluster) {
	ns := wc.namespace(t, "daemonset")
	events := wc.watchPods(t, ns)
	daemonSet := func(version string) string {
		return `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: registry.keel.test/pause:3.9
        env: [{name: VERSION, value: ` + version + `}]
`
	}
	wc.apply(t, ns, daemonSet("v1"))
	nodes, err := wc.client.Nodes().List(wc.ctx(t), client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var base []string
	for _, n := range nodes.Items {
		base = append(base, n.GetMetadata().GetName())
	}
	// onNodes waits until the DaemonSet's live pods are on exactly want,
	// one each, all Ready with the template of version, and its status
	// counts them.
	onNodes := func(what, version string, want ...string) []*corev1.Pod {
		t.Helper()
		slices.Sort(want)
		var pods []*corev1.Pod
		testutil.Eventually(t, time.Minute, "daemon pods on "+what, func() error {
			if pods, err = wc.livePods(t, ns, "app=agent"); err != nil {
				return err
			}
			var got []string
			for _, p := range pods {
				if !api.IsPodReady(p) || p.GetSpec().GetContainers()[0].GetEnv()[0].GetValue() != version {
					return fmt.Errorf("pod %s on %s: ready %v, template %v", p.GetMetadata().GetName(), p.GetSpec().GetNodeName(),
						api.IsPodReady(p), p.GetSpec().GetContainers()[0].GetEnv())
				}
				got = append(got, p.GetSpec().GetNodeName())
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				return fmt.Errorf("daemon pods on %v, want %v", got, want)
			}
			ds, err := client.For[*appsv1.DaemonSet](wc.client, ns).Get(wc.ctx(t), "agent")
			if err != nil {
				return err
			}
			st, n := ds.GetStatus(), int32(len(want))
			if st.GetObservedGeneration() != ds.GetMetadata().GetGeneration() || st.GetDesiredNumberScheduled() != n ||
				st.GetCurrentNumberScheduled() != n || st.GetNumberReady() != n || st.GetUpdatedNumberScheduled() != n ||
				st.GetNumberAvailable() != n || st.GetNumberMisscheduled() != 0 {
				return fmt.Errorf("status %v, want %d desired, current, ready, updated and available", st, n)
			}
			return nil
		})
		return pods
	}
	pods := onNodes("every node", "v1", base...)

	// The tolerations Kubernetes gives every daemon pod: it stays on a
	// node that is not ready or unreachable.
	for _, key := range []string{api.TaintNodeNotReady, api.TaintNodeUnreachable} {
		if !slices.ContainsFunc(pods[0].GetSpec().GetTolerations(), func(tol *corev1.Toleration) bool {
			return tol.GetKey() == key && tol.GetOperator() == "Exists" && tol.GetEffect() == api.TaintEffectNoExecute && tol.TolerationSeconds == nil
		}) {
			t.Errorf("daemon pod %s lacks the toleration %s:NoExecute (Exists, no tolerationSeconds): %v", pods[0].GetMetadata().GetName(), key, pods[0].GetSpec().GetTolerations())
		}
	}

	// extra-1 is tainted NoSchedule before its kubelet registers it; then
	// the extra nodes join.
	wc.apply(t, "", `apiVersion: v1
kind: Node
metadata: {name: extra-1}
spec:
  taints: [{key: e2e.keel.dev/dedicated, value: infra, effect: NoSchedule}]
`)
	extra := wc.startHollow(t, extraPool, extraNodes)
	onNodes("every node but the tainted one", "v1", append(slices.Clone(base), "extra-0", "extra-2")...)

	// A NoExecute taint the DaemonSet does not tolerate takes the pod off.
	err = client.RetryOnConflict(client.DefaultBackoff, func() error {
		n, err := wc.client.Nodes().Get(wc.ctx(t), "extra-2")
		if err != nil {
			return err
		}
		n.Spec.Taints = append(n.Spec.Taints, &corev1.Taint{Key: "e2e.keel.dev/evict", Value: "now", Effect: api.TaintEffectNoExecute})
		_, err = wc.client.Nodes().Update(wc.ctx(t), n, client.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	onNodes("every node but the tainted ones", "v1", append(slices.Clone(base), "extra-0")...)

	// A rolling update, two pods down at most, ends with every pod of the
	// new revision.
	old := pods[0].GetMetadata().GetLabels()["controller-revision-hash"]
	from := len(events.snapshot())
	eligible := append(slices.Clone(base), "extra-0")
	wc.apply(t, ns, daemonSet("v2"))
	pods = onNodes("every untainted node, updated", "v2", eligible...)
	if most := mostUnavailable(events.snapshot(), from, eligible); most < 1 || most > 2 {
		t.Errorf("during the rolling update at most %d nodes lacked a ready daemon pod, want 1 or 2 (maxUnavailable 2)", most)
	}
	hash := pods[0].GetMetadata().GetLabels()["controller-revision-hash"]
	for _, p := range pods {
		if h := p.GetMetadata().GetLabels()["controller-revision-hash"]; h != hash || h == old {
			t.Errorf("pod %s has controller-revision-hash %q after the update, want the new revision's %q (the old one was %q)",
				p.GetMetadata().GetName(), h, hash, old)
		}
	}

	// The extra nodes go: their daemon pods go with them.
	extra.Stop(t)
	wc.run(t, "delete", "node", "extra-0", "extra-1", "extra-2")
	onNodes("the nodes left", "v2", base...)
}

// mostUnavailable replays pod events and returns the most nodes of
// nodes that had no ready pod (one not being deleted) after any event
// from index from on.
func mostUnavailable(events []client.Event[*corev1.Pod], from int, nodes []string) int {
	readyOn := map[string]string{} // ready pod → its node
	most := 0
	for i, ev := range events {
		name := ev.Object.GetMetadata().GetName()
		delete(readyOn, name)
		if ev.Type != client.Deleted && ev.Object.GetMetadata().GetDeletionTimestamp() == nil && api.IsPodReady(ev.Object) {
			readyOn[name] = ev.Object.GetSpec().GetNodeName()
		}
		if i < from {
			continue
		}
		covered := map[string]bool{}
		for _, n := range readyOn {
			covered[n] = true
		}
		missing := 0
		for _, n := range nodes {
			if !covered[n] {
				missing++
			}
		}
		most = max(most, missing)
	}
	return most
}

// testStatefulSet: OrderedReady creates web-0, web-1, web-2 each once the
// one before is Running and Ready; a rolling update with partition 2
// replaces only web-2, then partition 0 the others; scaling down removes
// the highest ordinal first, each once the one above is gone.
func testStatefulSet(t *testing.T, wc *workloadCluster) {
	ns := wc.namespace(t, "statefulset")
	events := wc.watchPods(t, ns)
	statefulSet := func(version string, partition int) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: nginx}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: nginx
  replicas: 3
  selector: {matchLabels: {app: web}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: %d}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {%s: %s}
      containers:
      - name: web
        image: registry.keel.test/pause:3.9
        env: [{name: VERSION, value: %s}]
`, partition, poolLabel, mainPool, version)
	}
	sts := client.For[*appsv1.StatefulSet](wc.client, ns)
	// status is the StatefulSet if its status shows ready replicas, of
	// which updated are of the update revision.
	status := func(ready, updated int32) (*appsv1.StatefulSet, error) {
		cur, err := sts.Get(wc.ctx(t), "web")
		if err != nil {
			return nil, err
		}
		st := cur.GetStatus()
		if st.GetObservedGeneration() != cur.GetMetadata().GetGeneration() || st.GetReplicas() != ready ||
			st.GetReadyReplicas() != ready || st.GetUpdatedReplicas() != updated {
			return nil, fmt.Errorf("status %v, want %d ready, %d updated", st, ready, updated)
		}
		return cur, nil
	}
	settled := func(what string, ready, updated int32) *appsv1.StatefulSet {
		t.Helper()
		var cur *appsv1.StatefulSet
		testutil.Eventually(t, time.Minute, what, func() (err error) {
			cur, err = status(ready, updated)
			return err
		})
		return cur
	}
	wc.apply(t, ns, statefulSet("v1", 0))
	settled("web-0, web-1 and web-2 ready", 3, 3)
	evs := events.snapshot()
	var order []string
	for _, ev := range evs {
		order = append(order, fmt.Sprintf("%s %s ready=%v", ev.Type, ev.Object.GetMetadata().GetName(), podReadyEvent(ev)))
	}
	t.Logf("pod events while web started: %s", strings.Join(order, "; "))
	for i := range 3 {
		name := fmt.Sprintf("web-%d", i)
		at := firstEvent(evs, 0, podNamed(name, podAdded))
		if at < 0 {
			t.Fatalf("no creation of %s among the pod events", name)
		}
		if i == 0 {
			continue
		}
		prev := fmt.Sprintf("web-%d", i-1)
		if ready := firstEvent(evs, 0, podNamed(prev, podReadyEvent)); ready < 0 || ready > at {
			t.Errorf("%s created (event %d) before %s was Running and Ready (event %d)", name, at, prev, ready)
		}
	}

	podsByName := func() map[string]*corev1.Pod {
		t.Helper()
		pods, err := wc.livePods(t, ns, "app=web")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*corev1.Pod{}
		for _, p := range pods {
			out[p.GetMetadata().GetName()] = p
		}
		return out
	}
	before := podsByName()

	// partition 2: only web-2 (ordinal >= 2) is updated.
	wc.apply(t, ns, statefulSet("v2", 2))
	cur := settled("web-2 updated, web-0 and web-1 not", 3, 1)
	after := podsByName()
	for name, p := range after {
		want, replaced := cur.GetStatus().GetCurrentRevision(), false
		if name == "web-2" {
			want, replaced = cur.GetStatus().GetUpdateRevision(), true
		}
		if got := p.GetMetadata().GetLabels()["controller-revision-hash"]; got != want {
			t.Errorf("%s has revision %q with partition 2, want %q", name, got, want)
		}
		if (p.GetMetadata().GetUid() != before[name].GetMetadata().GetUid()) != replaced {
			t.Errorf("%s replaced: %v, want %v", name, !replaced, replaced)
		}
	}
	if cur.GetStatus().GetCurrentRevision() == cur.GetStatus().GetUpdateRevision() {
		t.Errorf("with partition 2, currentRevision %q is the updateRevision", cur.GetStatus().GetCurrentRevision())
	}

	// partition 0: every pod is updated, and the update revision becomes
	// the current one.
	wc.apply(t, ns, statefulSet("v2", 0))
	testutil.Eventually(t, time.Minute, "every pod updated", func() error {
		cur, err := status(3, 3)
		if err != nil {
			return err
		}
		if st := cur.GetStatus(); st.GetCurrentRevision() != st.GetUpdateRevision() {
			return fmt.Errorf("currentRevision %q, updateRevision %q", st.GetCurrentRevision(), st.GetUpdateRevision())
		}
		for name, p := range podsByName() {
			if got := p.GetMetadata().GetLabels()["controller-revision-hash"]; got != cur.GetStatus().GetUpdateRevision() {
				return fmt.Errorf("%s has revision %q", name, got)
			}
		}
		return nil
	})

	// Scaling down to 1 removes web-2, then web-1.
	from := len(events.snapshot())
	wc.run(t, "scale", "statefulset", "web", "-n", ns, "--replicas", "1")
	settled("scaled down to web-0", 1, 1)
	testutil.Eventually(t, time.Minute, "web-1 and web-2 gone", func() error {
		evs = events.snapshot()
		if firstEvent(evs, from, podNamed("web-1", func(ev client.Event[*corev1.Pod]) bool { return ev.Type == client.Deleted })) < 0 {
			return errors.New("web-1 not deleted yet")
		}
		return nil
	})
	leave2, gone2 := firstEvent(evs, from, podNamed("web-2", podLeaving)), firstEvent(evs, from, podNamed("web-2", func(ev client.Event[*corev1.Pod]) bool { return ev.Type == client.Deleted }))
	leave1 := firstEvent(evs, from, podNamed("web-1", podLeaving))
	if leave2 < 0 || gone2 < 0 || leave1 < gone2 {
		t.Errorf("scaling down: web-2 deleted at event %d (gone at %d), web-1 at %d: want web-2 first, and web-1 only once web-2 is gone", leave2, gone2, leave1)
	}
	if firstEvent(evs, from, podNamed("web-0", podLeaving)) >= 0 {
		t.Error("scaling down to 1 deleted web-0")
	}
}

// testCronJob: on the controller-manager's fast clock a minute schedule
// runs every two seconds. Jobs are created for times of the schedule
// (whole minutes, each after the one before; a Job's name says its
// time); concurrencyPolicy Forbid starts no second Job while the first
// runs (hollow pods never finish); the history limits keep only the
// newest finished Jobs.
func testCronJob(t *testing.T, wc *workloadCluster) {
	ns := wc.namespace(t, "cronjob")
	cronJob := func(name, policy, history, jobSpec string) string {
		return fmt.Sprintf(`apiVersion: batch/v1
kind: CronJob
metadata: {name: %s}
spec:
  schedule: "*/1 * * * *"
  concurrencyPolicy: %s
  %s
  jobTemplate:
    spec:
      %s
      template:
        spec:
          restartPolicy: Never
          nodeSelector: {%s: %s}
          containers: [{name: c, image: registry.keel.test/pause:3.9}]
`, name, policy, history, jobSpec, poolLabel, mainPool)
	}
	// done: Jobs of no pods complete at once; deadline: Jobs fail after a
	// second; forbid: Jobs run as long as their pods, forever here.
	wc.apply(t, ns, cronJob("done", "Allow", "successfulJobsHistoryLimit: 2", "completions: 0")+"---\n"+
		cronJob("deadline", "Allow", "failedJobsHistoryLimit: 1", "activeDeadlineSeconds: 1")+"---\n"+
		cronJob("forbid", "Forbid", "", "parallelism: 1"))
	jobs := client.For[*batchv1.Job](wc.client, ns)
	wctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := jobs.Watch(wctx, client.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	// Each CronJob's Jobs, by the scheduled time, as they are created.
	created := map[string][]time.Time{}
	var mu sync.Mutex
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			if ev.Type != client.Added {
				continue
			}
			ref := api.ControllerRef(ev.Object.GetMetadata())
			at, err := time.Parse(time.RFC3339, ev.Object.GetMetadata().GetAnnotations()[api.CronJobScheduledTimestampAnnotation])
			if ref == nil || err != nil {
				continue
			}
			mu.Lock()
			created[ref.GetName()] = append(created[ref.GetName()], at)
			mu.Unlock()
		}
	}()
	finished := func(cronJob, condition string) (int, error) {
		l, err := jobs.List(wc.ctx(t), client.ListOptions{})
		if err != nil {
			return 0, err
		}
		n := 0
		for _, j := range l.Items {
			if ref := api.ControllerRef(j.GetMetadata()); ref != nil && ref.GetName() == cronJob && api.JobFinishedCondition(j).GetType() == condition {
				n++
			}
		}
		return n, nil
	}
	// Four Jobs of done and deadline each, at times of the schedule, and
	// the finished ones beyond the history limits deleted.
	for _, h := range []struct {
		cronJob, condition string
		limit              int
	}{{"done", "Complete", 2}, {"deadline", "Failed", 1}} {
		testutil.Eventually(t, time.Minute, h.cronJob+"'s Jobs created and trimmed", func() error {
			mu.Lock()
			times := slices.Clone(created[h.cronJob])
			mu.Unlock()
			if len(times) < 4 {
				return fmt.Errorf("%d Jobs of %s created", len(times), h.cronJob)
			}
			for i, at := range times {
				if at.Second() != 0 || at.Nanosecond() != 0 || (i > 0 && !at.After(times[i-1])) {
					t.Fatalf("%s's Jobs scheduled at %v: want whole minutes, each after the one before", h.cronJob, times)
				}
			}
			if n, err := finished(h.cronJob, h.condition); err != nil || n > h.limit || n == 0 {
				return fmt.Errorf("%d %s Jobs of %s kept (%v), want 1 to %d", n, h.condition, h.cronJob, err, h.limit)
			}
			return nil
		})
	}
	mu.Lock()
	t.Logf("Jobs created at the scheduled times %v", created)
	mu.Unlock()
	wc.run(t, "delete", "cronjob", "done", "deadline", "-n", ns)

	// forbid waits for its running Job: once it says so, there is still
	// one Job.
	testutil.Eventually(t, time.Minute, "forbid not starting a second Job", func() error {
		evs, err := wc.client.Events(ns).List(wc.ctx(t), client.ListOptions{})
		if err != nil {
			return err
		}
		for _, ev := range evs.Items {
			if ev.GetInvolvedObject().GetName() == "forbid" && ev.GetReason() == "JobAlreadyActive" {
				return nil
			}
		}
		return errors.New("no JobAlreadyActive event")
	})
	var list struct {
		Items []struct {
			Metadata struct {
				Name            string `json:"name"`
				OwnerReferences []struct {
					Name string `json:"name"`
				} `json:"ownerReferences"`
			} `json:"metadata"`
			Status struct {
				Active int `json:"active"`
			} `json:"status"`
		} `json:"items"`
	}
	wc.getJSON(t, &list, "jobs", "-n", ns)
	var forbid []string
	for _, j := range list.Items {
		if len(j.Metadata.OwnerReferences) == 1 && j.Metadata.OwnerReferences[0].Name == "forbid" {
			forbid = append(forbid, j.Metadata.Name)
			if j.Status.Active != 1 {
				t.Errorf("forbid's Job %s has %d active pods, want 1", j.Metadata.Name, j.Status.Active)
			}
		}
	}
	if len(forbid) != 1 {
		t.Errorf("forbid has Jobs %v, want exactly one while it runs", forbid)
	}
	wc.run(t, "delete", "cronjob", "forbid", "-n", ns)
	w.Stop()
	<-watchDone
}

// testDrainBlocked: a Deployment of two replicas on one node, a budget
// of minAvailable 2: keelctl drain fails at its timeout naming the
// budget, and evicts nothing; with minAvailable 1 it completes, the pods
// moving to the other node one at a time.
func testDrainBlocked(t *testing.T, wc *workloadCluster) {
	ns := wc.namespace(t, "drain")
	// Both replicas on drain-0: drain-1 is cordoned while they start.
	wc.run(t, "cordon", "drain-1")
	pdb := func(min int) string {
		return fmt.Sprintf(`apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web-budget}
spec:
  minAvailable: %d
  selector: {matchLabels: {app: web}}
`, min)
	}
	wc.apply(t, ns, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {`+poolLabel+`: `+drainPool+`}
      containers: [{name: web, image: registry.keel.test/pause:3.9}]
---
`+pdb(2))
	// onNode waits until both replicas are Ready on node.
	onNode := func(node string) []*corev1.Pod {
		t.Helper()
		var pods []*corev1.Pod
		testutil.Eventually(t, time.Minute, "both replicas Ready on "+node, func() error {
			var err error
			if pods, err = wc.livePods(t, ns, "app=web"); err != nil {
				return err
			}
			if len(pods) != 2 {
				return fmt.Errorf("%d replicas", len(pods))
			}
			for _, p := range pods {
				if p.GetSpec().GetNodeName() != node || !api.IsPodReady(p) {
					return fmt.Errorf("pod %s on %q, ready %v", p.GetMetadata().GetName(), p.GetSpec().GetNodeName(), api.IsPodReady(p))
				}
			}
			return nil
		})
		return pods
	}
	// budget waits until the budget's status allows disruptions.
	budget := func(allowed int32) {
		t.Helper()
		testutil.Eventually(t, time.Minute, fmt.Sprintf("the budget allowing %d disruptions", allowed), func() error {
			b, err := client.For[*policyv1.PodDisruptionBudget](wc.client, ns).Get(wc.ctx(t), "web-budget")
			if err != nil {
				return err
			}
			if st := b.GetStatus(); st.GetObservedGeneration() != b.GetMetadata().GetGeneration() || st.GetCurrentHealthy() != 2 || st.GetDisruptionsAllowed() != allowed {
				return fmt.Errorf("status %v", st)
			}
			return nil
		})
	}
	pods := onNode("drain-0")
	budget(0)
	wc.run(t, "uncordon", "drain-1")

	out, err := wc.keelctl("", "drain", "drain-0", "--ignore-daemonsets", "--timeout", "10s")
	if err == nil || !strings.Contains(out, "web-budget") || !strings.Contains(out, "drain did not complete within 10s") {
		t.Errorf("keelctl drain with the budget at minAvailable 2: %v, want a failure naming web-budget:\n%s", err, out)
	}
	for _, p := range onNode("drain-0") {
		if !slices.ContainsFunc(pods, func(q *corev1.Pod) bool { return q.GetMetadata().GetUid() == p.GetMetadata().GetUid() }) {
			t.Errorf("pod %s is new: the blocked drain evicted a replica", p.GetMetadata().GetName())
		}
	}

	wc.apply(t, ns, pdb(1))
	budget(1)
	if out, err := wc.keelctl("", "drain", "drain-0", "--ignore-daemonsets", "--timeout", "60s"); err != nil || !strings.Contains(out, "node/drain-0 drained") {
		t.Fatalf("keelctl drain with the budget at minAvailable 1: %v\n%s", err, out)
	}
	onNode("drain-1")
}

// testQuota: with a ResourceQuota of one pod, a second pod applied is
// refused in Kubernetes' words and is not created.
func testQuota(t *testing.T, wc *workloadCluster) {
	ns := wc.namespace(t, "quota")
	pod := func(name string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  nodeSelector: {` + poolLabel + `: ` + mainPool + `}
  containers: [{name: c, image: registry.keel.test/pause:3.9}]
`
	}
	wc.apply(t, ns, `apiVersion: v1
kind: ResourceQuota
metadata: {name: one-pod}
spec:
  hard: {pods: "1"}
`)
	wc.apply(t, ns, pod("first"))
	out, err := wc.keelctl(pod("second"), "apply", "-n", ns, "-f", "-")
	const want = "exceeded quota: one-pod, requested: pods=1, used: pods=1, limited: pods=1"
	if err == nil || !strings.Contains(out, want) {
		t.Errorf("keelctl apply of a second pod: %v, want a refusal with %q:\n%s", err, want, out)
	}
	var list struct {
		Items []struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	wc.getJSON(t, &list, "pods", "-n", ns)
	if len(list.Items) != 1 || list.Items[0].Metadata.Name != "first" {
		t.Errorf("pods after the refusal: %+v, want only first", list.Items)
	}
	var quota struct {
		Status struct {
			Used map[string]string `json:"used"`
		} `json:"status"`
	}
	testutil.Eventually(t, time.Minute, "the quota's usage", func() error {
		wc.getJSON(t, &quota, "resourcequota", "one-pod", "-n", ns)
		if quota.Status.Used["pods"] != "1" {
			return fmt.Errorf("used %v", quota.Status.Used)
		}
		return nil
	})
}
