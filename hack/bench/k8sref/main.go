// Command k8sref runs the controller workloads of `make bench`
// (hack/bench/controller) and its storage workload (hack/bench/storage) on
// Kubernetes v1.31.0 instead of Keel, under the
// conditions of shared/BENCHMARKS.md, so that docs/benchmarks.md can put
// both side by side:
//
//   - etcd (Debian's, a separate process, fsync on), kube-apiserver
//     (--authorization-mode=Node,RBAC, TLS only, ServiceAccount tokens
//     signed with a key made on the fly), kube-controller-manager and
//     kube-scheduler (client rate limits 5000 QPS / 10000 burst), all
//     processes on this machine;
//   - kwok managing N fake nodes of 32 CPU, 256Gi and 110 pods, Ready,
//     and playing their kubelets: pods bound to them become Running and
//     Ready, pods deleted go away;
//   - the workloads as Keel's bench defines them: deploy-1000,
//     daemonset-rollout (create to numberReady == nodes, then a template
//     change with maxUnavailable 10% until every node runs an updated,
//     available pod) and statefulset-parallel-100, each -runs times;
//   - pv-provision (-workloads pv, not run by default): -claims claims,
//     each with its selected node, provisioned by the in-tree host-path
//     provisioner (--enable-hostpath-provisioner) and bound, with the
//     control plane's CPU, printed as hack/bench/storage prints Keel's.
//
// The binaries come from hack/bench/k8sref/build.sh (default
// /opt/k8sref/bin). CI does not run this; `make bench` runs only its
// pv-provision-200 on 20 nodes, when the binaries are there; see
// docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"keel.dev/keel/hack/bench/benchutil"
)

var (
	binDir     = flag.String("bin", "/opt/k8sref/bin", "directory holding kube-apiserver, kube-controller-manager, kube-scheduler and kwok (hack/bench/k8sref/build.sh)")
	kwokStages = flag.String("kwok-stages", "/opt/k8sref/kwok-stages.yaml", "kwok's stages (build.sh writes kwok's defaults there)")
	etcdBin    = flag.String("etcd", "/usr/bin/etcd", "etcd binary (Debian's etcd-server)")
	nodes      = flag.Int("nodes", 1000, "kwok nodes")
	runs       = flag.Int("runs", 2, "runs of each workload")
	replicas   = flag.Int("replicas", 1000, "replicas of the deploy workload")
	claims     = flag.Int("claims", 200, "claims of the pv workload")
	workloads  = flag.String("workloads", "deploy,daemonset,statefulset", "workloads to run, in this order, on one cluster (as hack/bench/controller does); pv (pv-provision, as hack/bench/storage) runs only when named")
	workDir    = flag.String("dir", "", "working directory (default: a temporary one)")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "k8sref:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, cleanup, err := benchutil.WorkDir(*workDir, "k8sref-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	cl, err := startCluster(ctx, dir, *nodes)
	if err != nil {
		return err
	}
	defer cl.stop()
	fmt.Printf("# Kubernetes reference: workloads %s\nmachine: %s\nsetup: %s\n%d kwok nodes (32 CPU, 256Gi, 110 pods each), runs per workload: %d, min / median / max\n\n",
		*workloads, benchutil.Machine(), cl.versions, *nodes, *runs)
	for _, w := range strings.Split(*workloads, ",") {
		var err error
		switch strings.TrimSpace(w) {
		case "deploy":
			err = cl.deployRows(ctx)
		case "daemonset":
			err = cl.daemonSetRows(ctx)
		case "statefulset":
			err = cl.statefulSetRows(ctx)
		case "pv":
			err = cl.pvRows(ctx)
		default:
			err = fmt.Errorf("-workloads: unknown workload %q", w)
		}
		if err != nil {
			return err
		}
	}
	fmt.Println("peak RSS (VmHWM):", cl.memory())
	return nil
}

// bin is the path of a reference binary.
func bin(name string) string { return filepath.Join(*binDir, name) }
