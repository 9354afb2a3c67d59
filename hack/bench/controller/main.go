// Command controller-bench runs the deploy-1000, daemonset-rollout-1000
// and statefulset-parallel-100 workloads of shared/BENCHMARKS.md with the real keel-apiserver (Debian's
// etcd beside it, fsync on), keel-scheduler, keel-controller-manager and
// one keel-kubelet --runtime=fake running the hollow nodes, all on this
// machine:
//
//   - deploy-1000: a Deployment of 1,000 replicas, from its create to
//     readyReplicas == 1000; it prints when every pod was created, bound
//     and ready, and the controller-manager's memory;
//   - daemonset-rollout-1000: a DaemonSet on every hollow node (1,000),
//     from its create to numberReady == the node count, then a rolling
//     update of its template (maxUnavailable 10%) until every node runs an
//     updated, available pod;
//   - statefulset-parallel-100: a Parallel StatefulSet of 100 replicas,
//     from its create to readyReplicas == 100, timed as deploy-1000.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"keel.dev/keel/hack/bench/benchutil"
	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

var (
	apiserverBin  = flag.String("apiserver", "bin/keel-apiserver", "keel-apiserver binary")
	etcdBin       = flag.String("etcd", "/usr/bin/etcd", "etcd binary (Debian's etcd-server)")
	schedulerBin  = flag.String("scheduler", "bin/keel-scheduler", "keel-scheduler binary")
	controllerBin = flag.String("controller-manager", "bin/keel-controller-manager", "keel-controller-manager binary")
	kubeletBin    = flag.String("kubelet", "bin/keel-kubelet", "keel-kubelet binary")
	runs          = flag.Int("runs", 3, "Deployments rolled out per node count")
	replicas      = flag.Int("replicas", 1000, "replicas of each Deployment")
	nodeCounts    = flag.String("nodes", "100,1000", "hollow node counts, one cluster each")
	workDir       = flag.String("dir", "", "working directory (default: a temporary one)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "controller-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, cleanup, err := benchutil.WorkDir(*workDir, "keel-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Printf("# controller-manager benchmarks\nmachine: %s\nsetup: etcd (separate process, fsync on), keel-apiserver, keel-scheduler, keel-controller-manager and one keel-kubelet --runtime=fake --hollow-nodes N (32 CPU, 256Gi, 110 pods each) as processes on this machine; pods of one container requesting 100m / 128Mi; %d runs per node count, min / median / max\n\n",
		benchutil.Machine(), *runs)
	ref := map[int]string{100: "8.4 / 8.7 / 10.8 s (created 3.4 s, bound 4.4 s)", 1000: "11.3 s"}
	var deployRows, dsRows, stsRows []string
	for _, s := range strings.Split(*nodeCounts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("-nodes %q", *nodeCounts)
		}
		deployRow, dsRow, stsRow, err := nodeStep(filepath.Join(dir, strconv.Itoa(n)), n, ref[n])
		if err != nil {
			return fmt.Errorf("%d nodes: %w", n, err)
		}
		deployRows, dsRows, stsRows = append(deployRows, deployRow), append(dsRows, dsRow), append(stsRows, stsRow)
	}
	fmt.Printf("## deploy-%d: a Deployment of %d replicas, from its create to readyReplicas == %d\n", *replicas, *replicas, *replicas)
	fmt.Println("| nodes | all pods created | all bound | readyReplicas reached | controller-manager RSS (peak) | apiserver rejections (all runs) | Kubernetes 1.31 here |\n|---|---|---|---|---|---|---|")
	fmt.Println(strings.Join(deployRows, "\n"))
	fmt.Println("\n## daemonset-rollout: a DaemonSet on every hollow node, from its create to numberReady == nodes; then a template change (RollingUpdate, maxUnavailable 10%) until every node runs an updated, available pod")
	fmt.Println("| nodes | all pods ready | rolling update done | Kubernetes 1.31 here |\n|---|---|---|---|")
	fmt.Println(strings.Join(dsRows, "\n"))
	fmt.Printf("\n## statefulset-parallel-%d: a Parallel StatefulSet of %d replicas, from its create to readyReplicas == %d\n", stsReplicas, stsReplicas, stsReplicas)
	fmt.Println("| nodes | all pods created | all bound | readyReplicas reached | Kubernetes 1.31 here |\n|---|---|---|---|---|")
	fmt.Println(strings.Join(stsRows, "\n"))
	fmt.Println("\ntarget: deploy-1000 at most half of Kubernetes' (<= 4 s at 100 nodes); daemonset-rollout-1000 at least 3x faster than Kubernetes")
	return nil
}

// cluster is one control plane with its scheduler, controller-manager and
// hollow kubelet.
type cluster struct {
	*benchutil.ControlPlane
	procs []*benchutil.Process
	cm    *benchutil.Process
	c     *client.Client
}

func (cl *cluster) stop() {
	for i := len(cl.procs) - 1; i >= 0; i-- {
		cl.procs[i].Stop()
	}
	if cl.c != nil {
		cl.c.Close()
	}
	cl.ControlPlane.Stop()
}

func startCluster(ctx context.Context, dir string, nodes int) (*cluster, error) {
	hollow := make([]string, nodes)
	for i := range hollow {
		hollow[i] = fmt.Sprintf("hollow-%d", i)
	}
	cp, err := benchutil.StartControlPlane(ctx, dir, *etcdBin, *apiserverBin, benchutil.AuthzModes("Node,RBAC")[0], hollow...)
	if err != nil {
		return nil, err
	}
	cl := &cluster{ControlPlane: cp}
	schedConf, err := cp.WriteKubeconfig(dir, pki.SchedulerName)
	var cmConf string
	if err == nil {
		cmConf, err = cp.WriteKubeconfig(dir, pki.ControllerManagerName)
	}
	if err == nil {
		cl.c, err = cp.Client(benchutil.BenchUser, "controller-bench")
	}
	if err != nil {
		cl.stop()
		return nil, err
	}
	start := func(name string, args ...string) (*benchutil.Process, error) {
		health := fmt.Sprintf("127.0.0.1:%d", benchutil.FreePort())
		flag := "--http-address"
		if name == "kubelet" {
			flag = "--healthz-address"
		}
		p, err := benchutil.Start(dir, name, append(args, flag, health, "--log-level", "warn")...)
		if err != nil {
			return nil, err
		}
		cl.procs = append(cl.procs, p)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		return p, benchutil.WaitHTTP(wctx, "http://"+health+"/readyz", p)
	}
	// Each daemon calls as itself; each hollow node as system:node:NAME.
	if _, err = start("scheduler", *schedulerBin, "--kubeconfig", schedConf, "--leader-elect=false"); err == nil {
		if cl.cm, err = start("controller-manager", *controllerBin, "--kubeconfig", cmConf, "--leader-elect=false", "--root-ca-file", pki.CertPath(cp.PKIDir, pki.CAName)); err == nil {
			_, err = start("kubelet", *kubeletBin, "--server", cp.APIAddr, "--pki-dir", cp.PKIDir, "--node-name", hollow[0], "--runtime", "fake",
				"--hollow-nodes", strconv.Itoa(nodes), "--hollow-node-prefix", "hollow", "--node-ip", "127.0.0.1")
		}
	}
	if err == nil {
		err = benchutil.WaitFor(5*time.Minute, func() (bool, error) {
			l, err := cl.c.Nodes().List(ctx, client.ListOptions{ResourceVersion: "0"})
			if err != nil {
				return false, err
			}
			ready := 0
			for _, n := range l.Items {
				if api.IsNodeReady(n) {
					ready++
				}
			}
			return ready == nodes, nil
		})
	}
	if err != nil {
		cl.stop()
		return nil, err
	}
	return cl, nil
}

// Kubernetes 1.31's figures on the DaemonSet and StatefulSet workloads,
// by node count: min / median / max of 4 runs of hack/bench/k8sref with
// kwok on a loaded machine (docs/benchmarks.md has the conditions).
var (
	dsRef  = map[int]string{1000: "ready 25.55 / 26.86 / 32.64 s, rolled 74.86 / 90.07 / 97.67 s (k8sref, loaded machine)"}
	stsRef = map[int]string{1000: "3.92 / 4.00 / 4.28 s (k8sref, loaded machine)"}
)

// k8sRef is ref's figure for nodes, or says there is none.
func k8sRef(ref map[int]string, nodes int) string {
	if r, ok := ref[nodes]; ok {
		return r
	}
	return "n/a (not measured at this node count)"
}

// nodeStep runs the workloads on a cluster of nodes hollow nodes and
// returns their table rows.
func nodeStep(dir string, nodes int, ref string) (deployRow, dsRow, stsRow string, err error) {
	ctx := context.Background()
	cl, err := startCluster(ctx, dir, nodes)
	if err != nil {
		return "", "", "", err
	}
	defer cl.stop()
	var created, bound, ready []float64
	for r := range *runs {
		ns := fmt.Sprintf("deploy-%d", r)
		if err := benchutil.CreateNamespace(ctx, cl.c.API(), ns); err != nil {
			return "", "", "", err
		}
		c, b, rd, err := cl.deploy(ctx, ns)
		if err != nil {
			return "", "", "", err
		}
		created, bound, ready = append(created, c), append(bound, b), append(ready, rd)
	}
	rss, peak := cl.cm.Memory()
	rejections := "unknown"
	if m, err := cl.Metrics(); err == nil {
		rejections = benchutil.Rejections(m)
	}
	deployRow = fmt.Sprintf("| %d | %s s | %s s | %s s | %.0f MiB (%.0f) | %s | %s |", nodes,
		benchutil.Spread(created, "%.2f"), benchutil.Spread(bound, "%.2f"), benchutil.Spread(ready, "%.2f"), rss, peak, rejections, ref)
	var dsReady, dsUpdated []float64
	for r := range *runs {
		ns := fmt.Sprintf("daemonset-%d", r)
		if err := benchutil.CreateNamespace(ctx, cl.c.API(), ns); err != nil {
			return "", "", "", err
		}
		rd, up, err := cl.daemonSet(ctx, ns, nodes)
		if err != nil {
			return "", "", "", fmt.Errorf("daemonset-rollout: %w", err)
		}
		dsReady, dsUpdated = append(dsReady, rd), append(dsUpdated, up)
	}
	dsRow = fmt.Sprintf("| %d | %s s | %s s | %s |", nodes, benchutil.Spread(dsReady, "%.2f"), benchutil.Spread(dsUpdated, "%.2f"), k8sRef(dsRef, nodes))
	stsRow, err = cl.statefulSetRow(ctx, nodes)
	return deployRow, dsRow, stsRow, err
}

// daemonSet creates a DaemonSet in ns and returns the seconds from its
// create to numberReady == nodes, and from a change of its template to
// every node running an updated, available pod.
func (cl *cluster) daemonSet(ctx context.Context, ns string, nodes int) (ready, updated float64, err error) {
	r := client.For[*appsv1.DaemonSet](cl.c, ns)
	ds := &appsv1.DaemonSet{
		Metadata: &metav1.ObjectMeta{Name: "agent", Namespace: ns},
		Spec: &appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "registry.local/pause:3.9",
					Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": {String_: "10m"}, "memory": {String_: "16Mi"}}}}}}},
			UpdateStrategy: &appsv1.DaemonSetUpdateStrategy{Type: api.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: api.IntOrStringFromString("10%")}},
		},
	}
	// done: the controller saw the latest spec and every node runs an
	// updated pod that is ready (available: minReadySeconds is 0).
	done := func() (bool, error) {
		cur, err := r.Get(ctx, "agent")
		if err != nil {
			return false, err
		}
		st := cur.GetStatus()
		return st.GetObservedGeneration() == cur.GetMetadata().GetGeneration() && st.GetDesiredNumberScheduled() == int32(nodes) &&
			st.GetUpdatedNumberScheduled() == int32(nodes) && st.GetNumberAvailable() == int32(nodes), nil
	}
	start := time.Now()
	if _, err := r.Create(ctx, ds, client.CreateOptions{}); err != nil {
		return 0, 0, err
	}
	if err := benchutil.WaitFor(10*time.Minute, done); err != nil {
		return 0, 0, errors.Join(errors.New("numberReady never reached the nodes"), err)
	}
	ready = time.Since(start).Seconds()
	start = time.Now()
	err = client.RetryOnConflict(client.DefaultRetry, func() error {
		cur, err := r.Get(ctx, "agent")
		if err != nil {
			return err
		}
		cur.Spec.Template.Metadata.Annotations = map[string]string{"bench/rollout": "2"}
		_, err = r.Update(ctx, cur, client.UpdateOptions{})
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	if err := benchutil.WaitFor(10*time.Minute, done); err != nil {
		return 0, 0, errors.Join(errors.New("the rolling update never finished"), err)
	}
	return ready, time.Since(start).Seconds(), nil
}

// deploy creates the Deployment in ns and returns the seconds from its
// create to the last pod created, the last bound, and readyReplicas.
func (cl *cluster) deploy(ctx context.Context, ns string) (created, bound, ready float64, err error) {
	track, err := cl.trackPods(ctx, ns)
	if err != nil {
		return 0, 0, 0, err
	}
	defer track.stop()
	n := int32(*replicas)
	d := &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: &appsv1.DeploymentSpec{Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "registry.local/pause:3.9",
					Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": {String_: "100m"}, "memory": {String_: "128Mi"}}}}}}}},
	}
	start := time.Now()
	if _, err := cl.c.Deployments(ns).Create(ctx, d, client.CreateOptions{}); err != nil {
		return 0, 0, 0, err
	}
	err = benchutil.WaitFor(5*time.Minute, func() (bool, error) {
		cur, err := cl.c.Deployments(ns).Get(ctx, "web")
		if err != nil {
			return false, err
		}
		return cur.GetStatus().GetReadyReplicas() == n, nil
	})
	readyAt := time.Since(start)
	if err != nil {
		return 0, 0, 0, errors.Join(errors.New("readyReplicas never reached the replicas"), err)
	}
	created, bound, err = track.Since(start, int(n))
	return created, bound, readyAt.Seconds(), err
}
