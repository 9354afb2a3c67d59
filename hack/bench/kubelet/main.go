// Command kubelet-bench measures keel-kubelet (issue 4) and prints figures
// with their conditions:
//
//   - startup: pod startup latency on one real node — 30 pods created at
//     once, each one busybox container on containerd with the CNI bridge;
//     p50/p99 from creation (the apiserver's creationTimestamp) to Running
//     as a watch sees it; the kubelet's memory;
//   - hollow: how many hollow nodes one keel-kubelet --runtime=fake process
//     sustains with 30 pods each (32 CPU, 256Gi, 110 pods per node): the
//     time to register them and to run their pods, lease freshness, and
//     memory per node.
//
// It runs the real binaries (bin/keel-apiserver with its embedded etcd,
// bin/keel-kubelet) and a private containerd (pkg/containerdtest); it needs
// root for the startup part (which it skips otherwise). The apiserver
// serves TLS only with --authorization-mode Node,RBAC ($BENCH_AUTHZ): each
// node's kubelet, hollow or not, calls as system:node:NAME with its own
// certificate, and the benchmark's client as benchutil.BenchUser.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"keel.dev/keel/hack/bench/benchutil"
	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/containerdtest"
	"keel.dev/keel/pkg/kubelet/network"
	"keel.dev/keel/pkg/kubelet/nodestatus"
	"keel.dev/keel/pkg/testimages"
)

var (
	apiserverBin = flag.String("apiserver", "bin/keel-apiserver", "keel-apiserver binary")
	kubeletBin   = flag.String("kubelet", "bin/keel-kubelet", "keel-kubelet binary")
	runs         = flag.Int("runs", 3, "repetitions of the startup measurement")
	startupPods  = flag.Int("startup-pods", 30, "pods created at once on the real node")
	hollowSteps  = flag.String("hollow-nodes", "100,500,1000", "hollow node counts to try, one process each")
	podsPerNode  = flag.Int("pods-per-node", 30, "pods per hollow node")
	parallel     = flag.Int("max-parallel-sandboxes", -1, "keel-kubelet --max-parallel-sandboxes for the startup runs (-1: its default)")
	skipStartup  = flag.Bool("skip-startup", false, "skip the real-node startup measurement")
	skipHollow   = flag.Bool("skip-hollow", false, "skip the hollow node measurement")
	workDir      = flag.String("dir", "", "working directory (default: a temporary one)")
)

const (
	benchNode    = "bench-node"
	benchPodCIDR = "10.244.88.0/24"
	benchBridge  = "keel-bench0"
	benchCgroup  = "/keel-bench"
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kubelet-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, cleanup, err := benchutil.WorkDir(*workDir, "keel-kbench-")
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Printf("# kubelet benchmarks\nmachine: %s\n\n", benchutil.Machine())
	if !*skipStartup {
		if err := startupBench(filepath.Join(dir, "startup")); err != nil {
			return fmt.Errorf("startup: %w", err)
		}
	}
	if !*skipHollow {
		if err := hollowBench(filepath.Join(dir, "hollow")); err != nil {
			return fmt.Errorf("hollow: %w", err)
		}
	}
	return nil
}

// controlPlane starts keel-apiserver with its embedded etcd (fsync on),
// serving TLS only with --authorization-mode authzMode(), and issues a
// client certificate for each of nodes (PKIDir/kubelet-NODE-client.crt:
// system:node:NODE). It returns it and a client calling as
// benchutil.BenchUser, once namespace default has its ServiceAccount.
func controlPlane(dir string, nodes ...string) (*benchutil.ControlPlane, *client.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cp, err := benchutil.StartControlPlane(ctx, dir, "", *apiserverBin, authzMode(), nodes...)
	if err != nil {
		return nil, nil, err
	}
	c, err := cp.Client(benchutil.BenchUser, "kubelet-bench")
	if err != nil {
		cp.Stop()
		return nil, nil, err
	}
	if err := benchutil.DefaultServiceAccount(ctx, c.API(), "default"); err != nil {
		c.Close()
		cp.Stop()
		return nil, nil, err
	}
	return cp, c, nil
}

// authzMode is the apiserver's --authorization-mode: Node,RBAC unless
// $BENCH_AUTHZ says otherwise.
func authzMode() string { return benchutil.AuthzModes("Node,RBAC")[0] }

// runningWatch records when a watch first sees each pod Running.
type runningWatch struct {
	mu      sync.Mutex
	seen    map[string]time.Duration // pod name → creation to Running
	running atomic.Int64
	cancel  context.CancelFunc
	done    chan struct{}
}

func watchRunning(c *client.Client, ns string) (*runningWatch, error) {
	ctx, cancel := context.WithCancel(context.Background())
	w, err := c.Pods(ns).Watch(ctx, client.WatchOptions{})
	if err != nil {
		cancel()
		return nil, err
	}
	rw := &runningWatch{seen: map[string]time.Duration{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rw.done)
		defer w.Stop()
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			p := ev.Object
			if p.GetStatus().GetPhase() != api.PodRunning {
				continue
			}
			now := time.Now()
			rw.mu.Lock()
			name := p.GetMetadata().GetName()
			if _, ok := rw.seen[name]; !ok {
				rw.seen[name] = now.Sub(p.GetMetadata().GetCreationTimestamp().AsTime())
				rw.running.Add(1)
			}
			rw.mu.Unlock()
		}
	}()
	return rw, nil
}

func (rw *runningWatch) stop() { rw.cancel(); <-rw.done }

func (rw *runningWatch) latencies() benchutil.Durations {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	var out benchutil.Durations
	for _, d := range rw.seen {
		out = append(out, d)
	}
	return out
}

func waitUntil(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func startupBench(dir string) error {
	if err := containerdtest.Available(); err != nil {
		fmt.Printf("## pod startup on a real node: skipped (%v)\n\n", err)
		return nil
	}
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tbs, err := testimages.WriteAll(ctx, filepath.Join(dir, "images"), testimages.Options{})
	if err != nil {
		return err
	}
	var images []string
	for _, tb := range tbs {
		images = append(images, tb.Path)
	}
	ctdDir, err := os.MkdirTemp("", "keel-kb-") // short: the socket path is limited
	if err != nil {
		return err
	}
	defer os.RemoveAll(ctdDir)
	ctd, err := containerdtest.Start(ctx, containerdtest.Options{Dir: ctdDir, Images: images})
	if err != nil {
		return err
	}
	defer cleanupHost(ctd)

	cp, c, err := controlPlane(filepath.Join(dir, "api"), benchNode)
	if err != nil {
		return err
	}
	defer cp.Stop()
	defer c.Close()
	health := fmt.Sprintf("127.0.0.1:%d", benchutil.FreePort())
	var extra []string
	if *parallel >= 0 {
		extra = append(extra, "--max-parallel-sandboxes", strconv.Itoa(*parallel))
	}
	// The kubelet calls as system:node:bench-node (PKIDir/kubelet-bench-node-client.crt).
	kubelet, err := benchutil.Start(dir, "kubelet", append([]string{*kubeletBin, "--server", cp.APIAddr, "--pki-dir", cp.PKIDir,
		"--node-name", benchNode, "--node-ip", "127.0.0.1", "--container-runtime-endpoint", ctd.Socket,
		"--root-dir", filepath.Join(dir, "root"), "--pod-log-dir", filepath.Join(dir, "logs"), "--cgroup-root", benchCgroup,
		"--cni-conf-dir", ctd.CNIConfDir, "--cni-bridge", benchBridge, "--cni-network-name", "keel-bench", "--cni-ipam-data-dir", filepath.Join(ctdDir, "ipam"),
		"--pod-cidr", benchPodCIDR, "--healthz-address", health, "--log-level", "warn", "--port", strconv.Itoa(benchutil.FreePort())}, extra...)...)
	if err != nil {
		return err
	}
	defer kubelet.Stop()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := benchutil.WaitHTTP(wctx, "http://"+health+"/readyz", kubelet); err != nil {
		return err
	}
	// The node is Ready once the CNI config is in place.
	if err := waitUntil(wctx, "node Ready", func() bool {
		n, err := c.Nodes().Get(wctx, benchNode)
		if err != nil {
			return false
		}
		return api.IsNodeReady(n)
	}); err != nil {
		return err
	}

	fmt.Printf("## pod startup on one real node\nsetup: keel-apiserver (embedded etcd, fsync on; TLS, --authorization-mode %s), keel-kubelet as system:node:%s, containerd %s (private instance, %s snapshotter), CNI bridge; "+
		"%d pods created as %s at once by %d goroutines, each one busybox container (image present); latency = watch sees Running − creationTimestamp; %d runs\n\n",
		authzMode(), benchNode, containerdVersion(), ctd.Snapshotter, *startupPods, benchutil.BenchUser, *startupPods, *runs)
	var p50s, p99s, maxs, rss, peak []float64
	for r := 0; r < *runs; r++ {
		ns := "default"
		rw, err := watchRunning(c, ns)
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		errs := make(chan error, *startupPods)
		for i := 0; i < *startupPods; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := &corev1.Pod{
					Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("s%d-%d", r, i), Namespace: ns},
					Spec: &corev1.PodSpec{NodeName: benchNode, TerminationGracePeriodSeconds: ptr(int64(2)), Containers: []*corev1.Container{{
						Name: "app", Image: testimages.BusyboxRef, Command: []string{"sh", "-c", `trap "exit 0" TERM; sleep 3600 & wait`},
						Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": {String_: "10m"}, "memory": {String_: "16Mi"}}},
					}}},
				}
				if _, err := c.Pods(ns).Create(ctx, p, client.CreateOptions{}); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			rw.stop()
			return err
		}
		rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
		err = waitUntil(rctx, "pods Running", func() bool { return rw.running.Load() >= int64(*startupPods) })
		rcancel()
		rw.stop()
		if err != nil {
			return err
		}
		lat := rw.latencies()
		r1, p1 := kubelet.Memory()
		p50s = append(p50s, ms(lat.Percentile(50)))
		p99s = append(p99s, ms(lat.Percentile(99)))
		maxs = append(maxs, ms(lat.Percentile(100)))
		rss, peak = append(rss, r1), append(peak, p1)
		fmt.Printf("- run %d: p50 %.0f ms, p99 %.0f ms, max %.0f ms; kubelet RSS %.0f MiB (peak %.0f MiB) with %d pods\n",
			r+1, p50s[r], p99s[r], maxs[r], r1, p1, *startupPods)
		// Delete them all (grace 2s; the containers end on SIGTERM) and wait
		// until the kubelet has removed them.
		for i := 0; i < *startupPods; i++ {
			if _, _, err := c.Pods(ns).Delete(ctx, fmt.Sprintf("s%d-%d", r, i), client.DeleteOptions{}); err != nil {
				return err
			}
		}
		dctx, dcancel := context.WithTimeout(ctx, 2*time.Minute)
		err = waitUntil(dctx, "pods deleted", func() bool {
			l, err := c.Pods(ns).List(dctx, client.ListOptions{})
			return err == nil && len(l.Items) == 0
		})
		dcancel()
		if err != nil {
			return err
		}
	}
	printCRI(health)
	fmt.Printf("\nstartup latency (min / median / max over runs): p50 %s ms, p99 %s ms, max %s ms (target p99 < 2000 ms; Kubernetes' SLO 5 s)\n",
		benchutil.Spread(p50s, "%.0f"), benchutil.Spread(p99s, "%.0f"), benchutil.Spread(maxs, "%.0f"))
	fmt.Printf("kubelet memory with %d pods: RSS %s MiB, peak %s MiB\n\n", *startupPods, benchutil.Spread(rss, "%.0f"), benchutil.Spread(peak, "%.0f"))
	return nil
}

func ptr[T any](v T) *T { return &v }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func containerdVersion() string {
	out, err := exec.Command("containerd", "--version").Output()
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(out))
	if len(f) >= 3 {
		return f[2]
	}
	return strings.TrimSpace(string(out))
}

// cleanupHost stops containerd (removing the pods) and removes what the
// kubelet set up on the host for the benchmark's pod network.
func cleanupHost(ctd *containerdtest.Containerd) {
	if err := ctd.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "kubelet-bench: stopping containerd:", err)
	}
	if _, err := os.Stat("/sys/class/net/" + benchBridge); err == nil {
		_ = exec.Command("ip", "link", "delete", benchBridge).Run()
	}
	_ = network.New(network.Config{}, nil, nil).RemoveMasquerade(benchPodCIDR)
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + benchCgroup)
	for _, d := range append(dirs, "/sys/fs/cgroup"+benchCgroup) {
		subs, _ := filepath.Glob(d + "/pod*")
		for _, s := range subs {
			_ = os.Remove(s)
		}
		_ = os.Remove(d)
	}
}

func hollowBench(dir string) error {
	var steps []int
	for _, s := range strings.Split(*hollowSteps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-hollow-nodes %q", *hollowSteps)
		}
		steps = append(steps, n)
	}
	fmt.Printf("## hollow nodes\nsetup: keel-apiserver (embedded etcd, fsync on; TLS, --authorization-mode %s) and one keel-kubelet --runtime=fake --hollow-nodes N (32 CPU, 256Gi, 110 pods each; lease renewed every 10s, status computed every 10s; each node calls as itself, system:node:NAME, with its own certificate), "+
		"all on this machine; %d pods per node created as %s by 32 goroutines, bound at creation (spec.nodeName); each N in a fresh cluster\n\n", authzMode(), *podsPerNode, benchutil.BenchUser)
	fmt.Println("| nodes | pods | nodes registered and Ready | pods created | all Running after | oldest lease at the end | kubelet RSS (peak) | per node | kubelet cores | apiserver RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, n := range steps {
		if err := hollowStep(filepath.Join(dir, strconv.Itoa(n)), n); err != nil {
			fmt.Printf("| %d | | failed: %v | | | | | | | |\n", n, err)
			continue
		}
	}
	fmt.Println("\nper node = kubelet RSS / nodes (the shared pod informer included); \"oldest lease\" is the largest now − renewTime over all nodes (the node lifecycle controller would call a node unhealthy past 40s)")
	return nil
}

func hollowStep(dir string, nodes int) error {
	ctx := context.Background()
	names := make([]string, nodes)
	for i := range names {
		names[i] = fmt.Sprintf("hollow-%d", i)
	}
	cp, c, err := controlPlane(filepath.Join(dir, "api"), names...)
	if err != nil {
		return err
	}
	defer cp.Stop()
	defer c.Close()
	health := fmt.Sprintf("127.0.0.1:%d", benchutil.FreePort())
	start := time.Now()
	// Each hollow node calls as itself: PKIDir/kubelet-hollow-i-client.crt.
	kubelet, err := benchutil.Start(dir, "kubelet", *kubeletBin, "--server", cp.APIAddr, "--pki-dir", cp.PKIDir, "--node-name", names[0], "--runtime", "fake",
		"--hollow-nodes", strconv.Itoa(nodes), "--hollow-node-prefix", "hollow", "--node-ip", "127.0.0.1",
		"--healthz-address", health, "--log-level", "warn")
	if err != nil {
		return err
	}
	defer kubelet.Stop()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := benchutil.WaitHTTP(wctx, "http://"+health+"/readyz", kubelet); err != nil {
		return err
	}
	if err := waitUntil(wctx, "nodes Ready", func() bool {
		l, err := c.Nodes().List(wctx, client.ListOptions{ResourceVersion: "0"})
		if err != nil {
			return false
		}
		ready := 0
		for _, n := range l.Items {
			if api.IsNodeReady(n) {
				ready++
			}
		}
		return ready == nodes
	}); err != nil {
		return err
	}
	registered := time.Since(start)

	rw, err := watchRunning(c, "default")
	if err != nil {
		return err
	}
	defer rw.stop()
	total := nodes * *podsPerNode
	cpu := benchutil.StartCPU(kubelet)
	createStart := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				p := &corev1.Pod{
					Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default"},
					Spec: &corev1.PodSpec{NodeName: names[i%nodes], Containers: []*corev1.Container{{
						Name: "c", Image: "registry.local/pause:3.9",
						Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": {String_: "100m"}, "memory": {String_: "128Mi"}}},
					}}},
				}
				if _, err := c.Pods("default").Create(ctx, p, client.CreateOptions{}); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	created := time.Since(createStart)
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Minute)
	defer rcancel()
	if err := waitUntil(rctx, "pods Running", func() bool { return rw.running.Load() >= int64(total) }); err != nil {
		return fmt.Errorf("%d of %d pods Running: %w", rw.running.Load(), total, err)
	}
	allRunning := time.Since(createStart)
	cores := cpu.String()
	// Let a full lease period pass under the load, then look at the leases.
	time.Sleep(15 * time.Second)
	oldest, err := oldestLease(ctx, c)
	if err != nil {
		return err
	}
	rss, peak := kubelet.Memory()
	arss, _ := cp.APIServer.Memory()
	fmt.Printf("| %d | %d | %.1f s | %.1f s (%.0f/s) | %.1f s | %.1f s | %.0f MiB (%.0f) | %.0f KiB | %s | %.0f MiB |\n",
		nodes, total, registered.Seconds(), created.Seconds(), float64(total)/created.Seconds(), allRunning.Seconds(),
		oldest.Seconds(), rss, peak, rss*1024/float64(nodes), strings.TrimPrefix(cores, "cores used: "), arss)
	return nil
}

// oldestLease is the largest age of a node lease's renewTime.
func oldestLease(ctx context.Context, c *client.Client) (time.Duration, error) {
	l, err := c.Leases(nodestatus.LeaseNamespace).List(ctx, client.ListOptions{})
	if err != nil {
		return 0, err
	}
	if len(l.Items) == 0 {
		return 0, errors.New("no leases")
	}
	var ages []time.Duration
	now := time.Now()
	for _, le := range l.Items {
		ages = append(ages, now.Sub(le.GetSpec().GetRenewTime().AsTime()))
	}
	sort.Slice(ages, func(i, j int) bool { return ages[i] > ages[j] })
	return ages[0], nil
}

// printCRI prints the kubelet's mean CRI call latencies by method and its
// own pod startup histogram, from its /metrics.
func printCRI(health string) {
	resp, err := http.Get("http://" + health + "/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return
	}
	var parts []string
	if f := families["keel_kubelet_runtime_operations_duration_seconds"]; f != nil {
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			if h.GetSampleCount() == 0 {
				continue
			}
			op := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "operation" {
					op = l.GetValue()
				}
			}
			parts = append(parts, fmt.Sprintf("%s %.1f ms ×%d", op, h.GetSampleSum()/float64(h.GetSampleCount())*1000, h.GetSampleCount()))
		}
	}
	sort.Strings(parts)
	fmt.Printf("\nkubelet CRI call means over all runs: %s\n", strings.Join(parts, ", "))
	for _, name := range []string{"keel_kubelet_pod_start_duration_seconds", "keel_kubelet_pleg_relist_duration_seconds", "keel_kubelet_pod_worker_duration_seconds"} {
		if f := families[name]; f != nil && len(f.GetMetric()) > 0 {
			h := f.GetMetric()[0].GetHistogram()
			if h.GetSampleCount() > 0 {
				fmt.Printf("%s: mean %.1f ms over %d\n", name, h.GetSampleSum()/float64(h.GetSampleCount())*1000, h.GetSampleCount())
			}
		}
	}
}
