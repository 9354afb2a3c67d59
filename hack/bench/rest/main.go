// Command rest measures Keel's Kubernetes REST/JSON API (what kubectl,
// client-go and Helm speak) on the standard workloads of
// shared/BENCHMARKS.md, beside Keel's own gRPC API and, when its binaries
// are there (hack/bench/k8sref/build.sh), Kubernetes v1.31's REST/JSON API
// on the same machine in the same run:
//
//   - create-32: 3,000 pods created by one client with 32 concurrent
//     goroutines, nothing scheduling them → creates/s, p50/p99 latency,
//     apiserver+etcd CPU per create;
//   - list-1000: a namespace of 1,000 pods listed whole, from the watch
//     cache (resourceVersion=0) and consistently (resourceVersion unset) →
//     p50/p99 latency.
//
// Every client is the same user, benchutil.BenchUser, authorized by RBAC
// (--authorization-mode=Node,RBAC on both servers) through a ClusterRole,
// not a cluster administrator. The REST clients are client-go's typed
// clientset with JSON bodies; the gRPC client is Keel's. Runs alternate
// between the servers, so a busy machine slows them alike.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	k8scorev1 "k8s.io/api/core/v1"
	k8srbacv1 "k8s.io/api/rbac/v1"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"keel.dev/keel/hack/bench/benchutil"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
)

var (
	apiserverBin = flag.String("apiserver", "bin/keel-apiserver", "keel-apiserver binary")
	etcdBin      = flag.String("etcd", "/usr/bin/etcd", "etcd binary for Kubernetes (Debian's etcd-server); Keel runs its embedded member")
	k8sBin       = flag.String("k8s-bin", "/opt/k8sref/bin", "directory holding Kubernetes' kube-apiserver (hack/bench/k8sref/build.sh); Kubernetes is left out when it is missing")
	runs         = flag.Int("runs", 2, "runs of each workload on each server")
	createPods   = flag.Int("pods", 3000, "pods created per create run")
	conc         = flag.Int("concurrency", 32, "goroutines creating pods")
	listPods     = flag.Int("list-pods", 1000, "pods in the listed namespace")
	lists        = flag.Int("lists", 100, "lists timed per mode and run")
	workDir      = flag.String("dir", "", "working directory (default: a temporary one)")
	profileDir   = flag.String("profile", "", "if set, write keel-apiserver's CPU and allocation profiles of the first Keel REST create and list runs there")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "rest-bench:", err)
		os.Exit(1)
	}
}

// target is one way of calling one server: its pod create and list, and
// the processes whose CPU a create costs.
type target struct {
	name  string
	procs []*benchutil.Process
	// namespace makes ns (with its ServiceAccount default) for the
	// workload's pods.
	namespace func(ctx context.Context, ns string) error
	create    func(ctx context.Context, ns, name string) error
	// list lists ns at resourceVersion rv and returns the item count.
	list func(ctx context.Context, ns, rv string) (int, error)
	// read is list reading the answer's bytes without decoding them (nil:
	// not offered); the count is that of the items' uids.
	read func(ctx context.Context, ns, rv string) (int, error)
}

func run() error {
	dir, cleanup, err := benchutil.WorkDir(*workDir, "rest-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()

	cp, err := benchutil.StartControlPlane(ctx, filepath.Join(dir, "keel"), "", *apiserverBin, "Node,RBAC")
	if err != nil {
		return err
	}
	defer cp.Stop()
	keelREST, err := restTarget("Keel REST/JSON", cp.APIAddr, cp.PKIDir, cp.APIServer)
	if err != nil {
		return err
	}
	keelGRPC, err := grpcTarget(cp)
	if err != nil {
		return err
	}
	targets := []*target{keelREST, keelGRPC}
	k8sNote := "Kubernetes: not run (no " + filepath.Join(*k8sBin, "kube-apiserver") + "; build it with hack/bench/k8sref/build.sh)"
	if _, err := os.Stat(filepath.Join(*k8sBin, "kube-apiserver")); err == nil {
		k, err := benchutil.StartKubeAPIServer(ctx, filepath.Join(dir, "k8s"), *etcdBin, filepath.Join(*k8sBin, "kube-apiserver"))
		if err != nil {
			return err
		}
		defer k.Stop()
		t, err := kubernetesTarget(ctx, k)
		if err != nil {
			return err
		}
		targets = append(targets, t)
		k8sNote = "Kubernetes: " + version(filepath.Join(*k8sBin, "kube-apiserver")) + ", etcd a separate process (fsync on), --authorization-mode=Node,RBAC"
	}

	fmt.Printf("# REST/JSON API benchmarks\nmachine: %s\nsetup: every client is user %s (RBAC through a ClusterRole, no cluster admin) over TLS with a client certificate; REST clients are client-go's typed clientset sending and accepting JSON (QPS unlimited), the gRPC client is Keel's own; Keel: keel-apiserver on its embedded etcd (fsync on), --authorization-mode=Node,RBAC; %s; %d runs each, alternating servers, min / median / max\n\n",
		benchutil.Machine(), benchutil.BenchUser, k8sNote, *runs)

	type createFig struct{ rates, p50, p99, cpu []float64 }
	creates := make([]createFig, len(targets))
	for r := range *runs {
		for i, t := range targets {
			ns := fmt.Sprintf("create-%d", r)
			if err := t.namespace(ctx, ns); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			cpu0 := cpuTime(t.procs)
			saved := func() {}
			if r == 0 && t == keelREST {
				saved = cp.Profile(*profileDir, "rest-create")
			}
			lat, wall, err := benchutil.Parallel(*createPods, *conc, func(j int) error {
				return t.create(ctx, ns, fmt.Sprintf("pod-%05d", j))
			})
			saved()
			if err != nil {
				return fmt.Errorf("%s create: %w", t.name, err)
			}
			f := &creates[i]
			f.rates = append(f.rates, float64(*createPods)/wall.Seconds())
			f.p50 = append(f.p50, ms(lat.Percentile(50)))
			f.p99 = append(f.p99, ms(lat.Percentile(99)))
			f.cpu = append(f.cpu, float64((cpuTime(t.procs)-cpu0).Microseconds())/float64(*createPods))
		}
	}
	fmt.Printf("## create: %d pods (1 container, requests 100m CPU / 128Mi), %d goroutines, nothing scheduling them\n", *createPods, *conc)
	fmt.Println("| API | creates/s | p50 | p99 | apiserver+etcd CPU per create |\n|---|---|---|---|---|")
	for i, t := range targets {
		f := creates[i]
		fmt.Printf("| %s | %s | %s ms | %s ms | %s µs |\n", t.name, benchutil.Spread(f.rates, "%.0f"),
			benchutil.Spread(f.p50, "%.1f"), benchutil.Spread(f.p99, "%.1f"), benchutil.Spread(f.cpu, "%.0f"))
	}
	fmt.Println("| Kubernetes 1.31, shared/BENCHMARKS.md (protobuf) | 714 / 730 / 821 | | 107 ms | |")
	if len(targets) == 3 {
		fmt.Printf("\nKeel REST / Kubernetes REST (medians): %.1fx the creates/s, %.0f%% of the p99 (target: >= 3x, < 33%%)\n",
			benchutil.Median(creates[0].rates)/benchutil.Median(creates[2].rates), 100*benchutil.Median(creates[0].p99)/benchutil.Median(creates[2].p99))
	}

	fmt.Printf("\n## list: a namespace of %d pods listed whole, %d lists per mode and run, one at a time\n", *listPods, *lists)
	for _, t := range targets {
		if err := t.namespace(ctx, "list"); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		if t == keelGRPC {
			continue // the same server as Keel REST: the pods are there
		}
		if _, _, err := benchutil.Parallel(*listPods, *conc, func(j int) error {
			return t.create(ctx, "list", fmt.Sprintf("pod-%05d", j))
		}); err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
	}
	// The modes of listing: the first two decode the list as a client
	// does; the third reads its bytes only, so it times the server and the
	// transfer without the client's decoding, which both servers' columns
	// pay alike (client-go decodes 1,000 pods of JSON in about 40 ms here).
	modes := []struct {
		name, rv string
		raw      bool
	}{{"from the watch cache (resourceVersion=0)", "0", false}, {"consistent (resourceVersion unset)", "", false},
		{"from the watch cache, read undecoded", "0", true}}
	header, rule := "| API |", "|---|"
	for _, m := range modes {
		header += " " + m.name + ": p50 | p99 |"
		rule += "---|---|"
	}
	fmt.Println(header + "\n" + rule)
	type listFig struct{ p50, p99 [][]float64 }
	listed := make([]listFig, len(targets))
	for i := range listed {
		listed[i] = listFig{make([][]float64, len(modes)), make([][]float64, len(modes))}
	}
	for r := range *runs {
		for i, t := range targets {
			for m, mode := range modes {
				list := t.list
				if mode.raw {
					if list = t.read; list == nil {
						continue
					}
				}
				saved := func() {}
				if r == 0 && m == 0 && t == keelREST {
					saved = cp.Profile(*profileDir, "rest-list")
				}
				lat := make(benchutil.Durations, 0, *lists)
				for range *lists {
					start := time.Now()
					n, err := list(ctx, "list", mode.rv)
					if err != nil {
						return fmt.Errorf("%s list: %w", t.name, err)
					}
					if n != *listPods {
						return fmt.Errorf("%s list: %d pods, want %d", t.name, n, *listPods)
					}
					lat = append(lat, time.Since(start))
				}
				saved()
				listed[i].p50[m] = append(listed[i].p50[m], ms(lat.Percentile(50)))
				listed[i].p99[m] = append(listed[i].p99[m], ms(lat.Percentile(99)))
			}
		}
	}
	for i, t := range targets {
		line := "| " + t.name + " |"
		for m := range modes {
			if len(listed[i].p50[m]) == 0 {
				line += " n/a | n/a |"
				continue
			}
			line += fmt.Sprintf(" %s ms | %s ms |", benchutil.Spread(listed[i].p50[m], "%.1f"), benchutil.Spread(listed[i].p99[m], "%.1f"))
		}
		fmt.Println(line)
	}
	if len(targets) == 3 {
		ratio := func(m int) float64 {
			return 100 * benchutil.Median(listed[0].p99[m]) / benchutil.Median(listed[2].p99[m])
		}
		fmt.Printf("\nKeel REST / Kubernetes REST (medians of p99): %.0f%% from the cache, %.0f%% consistent, %.0f%% from the cache read undecoded (target: < 33%%)\n",
			ratio(0), ratio(1), ratio(2))
	}
	fmt.Println()
	for _, t := range targets {
		if t == keelGRPC {
			continue
		}
		for _, p := range t.procs {
			_, peak := p.Memory()
			fmt.Printf("- %s: %s peak RSS %.0f MiB\n", t.name, p.Name, peak)
		}
	}
	return nil
}

// restTarget calls the apiserver at addr through client-go with JSON, as
// BenchUser of pkiDir.
func restTarget(name, addr, pkiDir string, procs ...*benchutil.Process) (*target, error) {
	cs, err := clientset(addr, pkiDir, benchutil.BenchUser)
	if err != nil {
		return nil, err
	}
	q := resource.MustParse
	return &target{
		name:  name,
		procs: procs,
		namespace: func(ctx context.Context, ns string) error {
			_, err := cs.CoreV1().Namespaces().Create(ctx, &k8scorev1.Namespace{ObjectMeta: k8smetav1.ObjectMeta{Name: ns}}, k8smetav1.CreateOptions{})
			if err != nil && !k8serrors.IsAlreadyExists(err) {
				return err
			}
			sa := &k8scorev1.ServiceAccount{ObjectMeta: k8smetav1.ObjectMeta{Name: "default", Namespace: ns}}
			if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, k8smetav1.CreateOptions{}); err != nil && !k8serrors.IsAlreadyExists(err) {
				return err
			}
			return nil
		},
		create: func(ctx context.Context, ns, name string) error {
			pod := &k8scorev1.Pod{
				ObjectMeta: k8smetav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": "bench"}},
				Spec: k8scorev1.PodSpec{Containers: []k8scorev1.Container{{Name: "c", Image: "registry.local/pause:3.9",
					Resources: k8scorev1.ResourceRequirements{Requests: k8scorev1.ResourceList{"cpu": q("100m"), "memory": q("128Mi")}}}}},
			}
			_, err := cs.CoreV1().Pods(ns).Create(ctx, pod, k8smetav1.CreateOptions{})
			return err
		},
		list: func(ctx context.Context, ns, rv string) (int, error) {
			l, err := cs.CoreV1().Pods(ns).List(ctx, k8smetav1.ListOptions{ResourceVersion: rv})
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
		read: func(ctx context.Context, ns, rv string) (int, error) {
			req := cs.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods")
			if rv != "" {
				req = req.Param("resourceVersion", rv)
			}
			b, err := req.DoRaw(ctx)
			// The pods own nothing and are owned by nothing: one uid each.
			return bytes.Count(b, []byte(`"uid":`)), err
		},
	}, nil
}

// clientset is client-go's typed clientset for the apiserver at addr as
// the key pair user of pkiDir, with JSON bodies and no client rate limit.
func clientset(addr, pkiDir, user string) (*kubernetes.Clientset, error) {
	cfg := &rest.Config{Host: "https://" + addr, QPS: -1, UserAgent: "rest-bench",
		ContentConfig: rest.ContentConfig{ContentType: "application/json", AcceptContentTypes: "application/json"},
		TLSClientConfig: rest.TLSClientConfig{ServerName: "localhost", CAFile: pki.CertPath(pkiDir, pki.CAName),
			CertFile: pki.CertPath(pkiDir, user), KeyFile: pki.KeyPath(pkiDir, user)}}
	return kubernetes.NewForConfig(cfg)
}

// grpcTarget calls Keel's gRPC API as BenchUser.
func grpcTarget(cp *benchutil.ControlPlane) (*target, error) {
	c, err := cp.Client(benchutil.BenchUser, "rest-bench")
	if err != nil {
		return nil, err
	}
	return &target{
		name:  "Keel gRPC (protobuf)",
		procs: []*benchutil.Process{cp.APIServer},
		namespace: func(ctx context.Context, ns string) error {
			return benchutil.CreateNamespace(ctx, c.API(), ns+"-grpc")
		},
		create: func(ctx context.Context, ns, name string) error {
			_, err := client.For[*corev1.Pod](c, ns+"-grpc").Create(ctx, benchutil.Pod(ns+"-grpc", name), client.CreateOptions{})
			return err
		},
		list: func(ctx context.Context, ns, rv string) (int, error) {
			// The namespace Keel REST filled.
			resp, err := c.API().List(ctx, &apiv1.ListRequest{Resource: "pods", Namespace: ns, ResourceVersion: rv})
			if err != nil {
				return 0, err
			}
			return len(resp.Items), nil
		},
	}, nil
}

// kubernetesTarget binds BenchUser on Kubernetes as benchutil does on Keel
// (the workloads' verbs on pods, namespaces and serviceaccounts) and calls
// it through REST/JSON.
func kubernetesTarget(ctx context.Context, k *benchutil.KubeAPIServer) (*target, error) {
	if _, err := pki.IssueInDir(k.PKIDir, benchutil.BenchUser, pki.CertSpec{CommonName: benchutil.BenchUser, Client: true}); err != nil {
		return nil, err
	}
	admin, err := clientset(k.Addr, k.PKIDir, pki.AdminName)
	if err != nil {
		return nil, err
	}
	if err := benchutil.WaitFor(2*time.Minute, func() (bool, error) {
		if k.APIServer.Exited() {
			return false, errors.New("kube-apiserver exited; see " + k.APIServer.Log)
		}
		err := admin.CoreV1().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
		return err == nil, err
	}); err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	if k.APIServer.Exited() {
		return nil, errors.New("kube-apiserver exited; see " + k.APIServer.Log)
	}
	role := &k8srbacv1.ClusterRole{ObjectMeta: k8smetav1.ObjectMeta{Name: benchutil.BenchUser}, Rules: []k8srbacv1.PolicyRule{{
		Verbs: []string{"create", "get", "list", "watch", "update", "delete"}, APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "serviceaccounts"}}}}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, role, k8smetav1.CreateOptions{}); err != nil {
		return nil, err
	}
	binding := &k8srbacv1.ClusterRoleBinding{ObjectMeta: k8smetav1.ObjectMeta{Name: benchutil.BenchUser},
		RoleRef:  k8srbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: benchutil.BenchUser},
		Subjects: []k8srbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: benchutil.BenchUser}}}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, k8smetav1.CreateOptions{}); err != nil {
		return nil, err
	}
	t, err := restTarget("Kubernetes 1.31 REST/JSON", k.Addr, k.PKIDir, k.APIServer, k.Etcd)
	if err != nil {
		return nil, err
	}
	// The binding works once the RBAC cache has it.
	return t, benchutil.WaitFor(time.Minute, func() (bool, error) {
		_, err := t.list(ctx, "default", "0")
		return err == nil, err
	})
}

func cpuTime(procs []*benchutil.Process) time.Duration {
	var d time.Duration
	for _, p := range procs {
		d += p.CPUTime()
	}
	return d
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

func version(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "unknown version"
	}
	return strings.TrimSpace(string(out))
}
