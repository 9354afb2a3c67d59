// Command storage-bench runs the pv-provision-200 workload with the real
// keel-apiserver (Debian's etcd beside it, fsync on),
// keel-controller-manager and one keel-kubelet --runtime=fake running 20
// hollow nodes, all on this machine: 200 claims of the default class
// local-path (WaitForFirstConsumer), each already carrying the node
// chosen for it (volume.kubernetes.io/selected-node, spread over the
// hollow nodes, as the scheduler would set it), from the first create to
// every claim Bound. The local-path provisioner does no I/O in the
// controller-manager (the directories are made by the nodes' kubelets),
// so it stands for the fake provisioner of the workload's definition. It
// prints the time to the last create and to every claim Bound, the
// control plane's CPU over each run, and Kubernetes' figure as
// docs/benchmarks.md records it; hack/bench/k8sref -workloads pv measures
// Kubernetes on the same workload (make bench runs it next when the
// reference is built).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"keel.dev/keel/hack/bench/benchutil"
	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

// pvRef200 is pv-provision-200 on 20 nodes of Kubernetes 1.31 with the
// in-tree host-path provisioner, min / median / max of 3 runs of
// hack/bench/k8sref -workloads pv (docs/benchmarks.md, storage).
const pvRef200 = "6.49 / 6.56 / 7.01 s (all created 2.47 s; k8sref, 2026-12-07, load 2.4)"

var (
	apiserverBin  = flag.String("apiserver", "bin/keel-apiserver", "keel-apiserver binary")
	etcdBin       = flag.String("etcd", "/usr/bin/etcd", "etcd binary (Debian's etcd-server)")
	controllerBin = flag.String("controller-manager", "bin/keel-controller-manager", "keel-controller-manager binary")
	kubeletBin    = flag.String("kubelet", "bin/keel-kubelet", "keel-kubelet binary")
	runs          = flag.Int("runs", 3, "workload repetitions")
	claims        = flag.Int("claims", 200, "claims per run")
	nodes         = flag.Int("nodes", 20, "hollow nodes")
	workDir       = flag.String("dir", "", "working directory (default: a temporary one)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "storage-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, cleanup, err := benchutil.WorkDir(*workDir, "keel-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	hollow := make([]string, *nodes)
	for i := range hollow {
		hollow[i] = fmt.Sprintf("hollow-%d", i)
	}
	cp, err := benchutil.StartControlPlane(ctx, dir, *etcdBin, *apiserverBin, benchutil.AuthzModes("Node,RBAC")[0], hollow...)
	if err != nil {
		return err
	}
	defer cp.Stop()
	cmConf, err := cp.WriteKubeconfig(dir, pki.ControllerManagerName)
	if err != nil {
		return err
	}
	// The claims are written as the admin: the benchmark user's role
	// (benchutil) grants pods and workloads only.
	c, err := cp.Client(pki.AdminName, "storage-bench")
	if err != nil {
		return err
	}
	defer c.Close()
	start := func(name string, args ...string) (*benchutil.Process, error) {
		health := fmt.Sprintf("127.0.0.1:%d", benchutil.FreePort())
		healthFlag := "--http-address"
		if name == "kubelet" {
			healthFlag = "--healthz-address"
		}
		p, err := benchutil.Start(dir, name, append(args, healthFlag, health, "--log-level", "warn")...)
		if err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		return p, benchutil.WaitHTTP(wctx, "http://"+health+"/readyz", p)
	}
	cm, err := start("controller-manager", *controllerBin, "--kubeconfig", cmConf, "--leader-elect=false")
	if cm != nil {
		defer cm.Stop()
	}
	if err != nil {
		return err
	}
	kubelet, err := start("kubelet", *kubeletBin, "--server", cp.APIAddr, "--pki-dir", cp.PKIDir, "--node-name", hollow[0], "--runtime", "fake",
		"--hollow-nodes", strconv.Itoa(*nodes), "--hollow-node-prefix", "hollow", "--node-ip", "127.0.0.1")
	if kubelet != nil {
		defer kubelet.Stop()
	}
	if err != nil {
		return err
	}
	if err := benchutil.WaitFor(5*time.Minute, func() (bool, error) {
		l, err := c.Nodes().List(ctx, client.ListOptions{ResourceVersion: "0"})
		return err == nil && len(l.Items) == *nodes, err
	}); err != nil {
		return fmt.Errorf("the hollow nodes: %w", err)
	}

	fmt.Printf("# storage benchmarks\nmachine: %s\nsetup: etcd (separate process, fsync on), keel-apiserver (Node,RBAC), keel-controller-manager and one keel-kubelet --runtime=fake --hollow-nodes %d as processes on this machine; %d runs, min / median / max\n\n",
		benchutil.Machine(), *nodes, *runs)
	var created, secs []float64
	var cpu []string
	for r := range *runs {
		ns := fmt.Sprintf("pv-%d", r)
		if err := benchutil.CreateNamespace(ctx, c.API(), ns); err != nil {
			return err
		}
		meter := benchutil.StartCPU(cp.APIServer, cm, cp.Etcd)
		cr, d, err := provision(ctx, c, ns, hollow)
		if err != nil {
			return fmt.Errorf("run %d: %w", r, err)
		}
		created, secs = append(created, cr.Seconds()), append(secs, d.Seconds())
		cpu = append(cpu, meter.String())
	}
	sort.Float64s(created)
	sort.Float64s(secs)
	fmt.Printf("## pv-provision-%d: %d claims of the default class local-path, each with its selected node (%d hollow nodes), from the first create to every claim Bound\n", *claims, *claims, *nodes)
	fmt.Println("| claims | nodes | all claims created | every claim Bound | Kubernetes 1.31 here |\n|---|---|---|---|---|")
	fmt.Printf("| %d | %d | %s s | %s s | %s |\n\n", *claims, *nodes, benchutil.Spread(created, "%.2f"), benchutil.Spread(secs, "%.2f"), pvRef(*claims, *nodes))
	for i, s := range cpu {
		fmt.Printf("run %d %s\n", i+1, s)
	}
	return nil
}

// provision creates the claims in ns one after another and returns how
// long until the last was created and until every one was Bound.
func provision(ctx context.Context, c *client.Client, ns string, nodes []string) (created, bound time.Duration, err error) {
	pvcs := client.For[*corev1.PersistentVolumeClaim](c, ns)
	class := api.LocalPathClass
	t0 := time.Now()
	for i := range *claims {
		claim := &corev1.PersistentVolumeClaim{
			Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("data-%d", i),
				Annotations: map[string]string{api.AnnSelectedNode: nodes[i%len(nodes)]}},
			Spec: &corev1.PersistentVolumeClaimSpec{AccessModes: []string{api.ReadWriteOnce}, StorageClassName: &class,
				Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}}},
		}
		if _, err := pvcs.Create(ctx, claim, client.CreateOptions{}); err != nil {
			return 0, 0, err
		}
	}
	created = time.Since(t0)
	err = benchutil.WaitFor(5*time.Minute, func() (bool, error) {
		l, err := pvcs.List(ctx, client.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false, err
		}
		nBound := 0
		for _, pvc := range l.Items {
			if pvc.GetStatus().GetPhase() == api.ClaimBound {
				nBound++
			}
		}
		return nBound == *claims, nil
	})
	return created, time.Since(t0), err
}

// pvRef is Kubernetes' figure for pv-provision-CLAIMS on NODES nodes as
// docs/benchmarks.md records it (hack/bench/k8sref -workloads pv, which
// `make bench` runs after this when /opt/k8sref is built), or n/a.
func pvRef(claims, nodes int) string {
	if claims == 200 && nodes == 20 {
		return pvRef200
	}
	return "n/a (not measured)"
}
