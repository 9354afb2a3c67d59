// Command scheduler-bench runs the scheduler workloads of
// shared/BENCHMARKS.md and issue 5 against the real binaries, each a
// process of its own: Debian's etcd, keel-apiserver and keel-scheduler.
// Nodes are hollow: Node objects of 32 CPU, 256Gi and 110 pods, Ready,
// which is all a hollow node is to the scheduler. Pods have one container
// requesting 100m CPU and 128Mi.
//
// Workloads (each on a fresh cluster, repeated -runs times):
//
//   - sched-e2e: 3,000 pods created by 32 goroutines while the scheduler
//     runs; first create to every pod bound (pods/s), on 100 and 1,000
//     nodes;
//   - sched-backlog: 3,000 pods created while no scheduler runs, then it
//     starts; first bind to last bind (pods/s), and scheduler start to all
//     bound, on 100 and 1,000 nodes;
//   - 10,000 pods on 1,000 nodes, 10,000 pods on 5,000 nodes, and 5,000
//     pods with required pod anti-affinity (50 groups of 100 pods, one
//     pod of a group per node) on 1,000 nodes: both ways (created while
//     the scheduler runs: throughput and creation-to-bound latency p50 /
//     p99; and as a backlog: bind throughput).
//
// Bind times are observed through a watch on the pods. The scheduler's
// RSS and peak RSS are read from /proc at the end of each run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"

	"keel.dev/keel/hack/bench/benchutil"
)

var (
	apiserverBin = flag.String("apiserver", "bin/keel-apiserver", "keel-apiserver binary")
	schedulerBin = flag.String("scheduler", "bin/keel-scheduler", "keel-scheduler binary")
	etcdBin      = flag.String("etcd", "/usr/bin/etcd", "etcd binary (Debian's etcd-server)")
	runs         = flag.Int("runs", 2, "repetitions of each workload")
	quick        = flag.Bool("quick", false, "smoke run: one run, a tenth of the pods and nodes")
	only         = flag.String("workloads", "", "comma-separated workload names to run (default: all); see -list")
	list         = flag.Bool("list", false, "list the workloads and exit")
	conc         = flag.Int("goroutines", 32, "goroutines creating pods")
	workDir      = flag.String("dir", "", "working directory (default: a temporary one)")
	profileDir   = flag.String("profile", "", "if set, write the scheduler's CPU profile of each workload's first run there")
	schedArgs    = flag.String("scheduler-args", "", "extra keel-scheduler flags, space-separated")
)

type workload struct {
	name    string
	nodes   int
	pods    int
	backlog bool
	anti    bool
	ref     string // Kubernetes' figure on this machine, if any
}

var workloads = []workload{
	{name: "sched-e2e-100", nodes: 100, pods: 3000, ref: "220 / 251 / 269 pods/s"},
	{name: "sched-e2e-1000", nodes: 1000, pods: 3000, ref: "206 / 211 / 215 pods/s"},
	{name: "sched-backlog-100", nodes: 100, pods: 3000, backlog: true, ref: "110 / 239 / 323 pods/s"},
	{name: "sched-backlog-1000", nodes: 1000, pods: 3000, backlog: true, ref: "268 / 289 / 310 pods/s"},
	{name: "basic-10k-on-1000", nodes: 1000, pods: 10000},
	{name: "basic-10k-on-1000-backlog", nodes: 1000, pods: 10000, backlog: true},
	{name: "basic-10k-on-5000", nodes: 5000, pods: 10000, ref: "scheduler_perf SchedulingBasic floor: 680 pods/s (CI)"},
	{name: "basic-10k-on-5000-backlog", nodes: 5000, pods: 10000, backlog: true, ref: "scheduler_perf SchedulingBasic floor: 680 pods/s (CI)"},
	{name: "anti-affinity-5k-on-1000", nodes: 1000, pods: 5000, anti: true},
	{name: "anti-affinity-5k-on-1000-backlog", nodes: 1000, pods: 5000, anti: true, backlog: true},
}

func main() {
	flag.Parse()
	if *list {
		for _, w := range workloads {
			fmt.Printf("%-34s %5d nodes %6d pods backlog=%v anti-affinity=%v\n", w.name, w.nodes, w.pods, w.backlog, w.anti)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "scheduler-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, cleanup, err := benchutil.WorkDir(*workDir, "keel-sched-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	if *quick {
		*runs = 1
	}
	selected := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			selected[n] = true
		}
	}
	fmt.Printf("# scheduler benchmarks\nmachine: %s\n", benchutil.Machine())
	fmt.Printf("setup: etcd (separate process, fsync on), keel-apiserver and keel-scheduler as processes on this machine; hollow nodes (Node objects: 32 CPU, 256Gi, 110 pods, Ready); pods of one container requesting 100m / 128Mi, created by one client with %d goroutines; %d run(s) each, min / median / max\n", *conc, *runs)
	if *quick {
		fmt.Println("QUICK RUN: a tenth of the pods and nodes; figures are not comparable with the reference")
	}
	fmt.Println()
	fmt.Println("| workload | authorization | nodes | pods | pods/s | creation→bound p50 | p99 | scheduler start→all bound | scheduler RSS | peak RSS | Kubernetes 1.31 here |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	var notes []string
	// Every workload runs under the first mode; the compared ones under
	// each (the target: Node,RBAC within 5% of AlwaysAllow).
	modes := benchutil.AuthzModes("Node,RBAC AlwaysAllow")
	for _, w := range workloads {
		if len(selected) > 0 && !selected[w.name] {
			continue
		}
		if *quick {
			w.nodes, w.pods = max(w.nodes/10, 10), w.pods/10
		}
		for i, authz := range modes {
			if i > 0 && !compared[w.name] {
				continue
			}
			if err := runWorkloads(dir, w, authz, &notes); err != nil {
				return err
			}
		}
	}
	fmt.Println()
	fmt.Println("pods/s: runs with the scheduler running: first create to last pod bound; backlog runs (pods created first, then the scheduler starts): first bind to last bind. Latency: the create call's start to the watch showing the pod bound (backlog runs: n/a, pods wait for the scheduler to start).")
	fmt.Println("authorization: the apiserver's --authorization-mode ($BENCH_AUTHZ: space-separated settings; the first runs every workload, the others " + strings.Join(slices.Sorted(maps.Keys(compared)), ", ") + "). The scheduler calls as system:kube-scheduler, the client creating nodes and pods as " + benchutil.BenchUser + " (a ClusterRole for them, no cluster admin).")
	fmt.Println("Kubernetes' scheduler peak RSS after a 100-node phase here: 189 MiB (idle 58 MiB). Targets: sched-e2e >= 500 pods/s, sched-backlog >= 1,000 pods/s at 1,000 nodes, >= 1,000 pods/s at 5,000 nodes.")
	fmt.Println()
	for _, n := range notes {
		fmt.Println("- " + n)
	}
	return nil
}

// compared are the workloads run under every mode of $BENCH_AUTHZ.
var compared = map[string]bool{"sched-e2e-100": true, "sched-backlog-100": true}

// runWorkloads runs w -runs times under --authorization-mode=authz and
// prints its row.
func runWorkloads(dir string, w workload, authz string, notes *[]string) error {
	var rates, p50s, p99s, starts, rss, peaks []float64
	for r := 0; r < *runs; r++ {
		res, err := runWorkload(filepath.Join(dir, fmt.Sprintf("%s-%s-%d", w.name, strings.ReplaceAll(authz, ",", "-"), r)), w, authz, r == 0)
		if err != nil {
			return fmt.Errorf("%s (%s) run %d: %w", w.name, authz, r, err)
		}
		rates = append(rates, res.rate)
		p50s = append(p50s, res.p50.Seconds()*1000)
		p99s = append(p99s, res.p99.Seconds()*1000)
		starts = append(starts, res.startToAll.Seconds())
		rss = append(rss, res.rss)
		peaks = append(peaks, res.peak)
		if r == 0 {
			*notes = append(*notes, fmt.Sprintf("%s (%s): %s", w.name, authz, res.cpu))
		}
	}
	p50, p99, start := "n/a", "n/a", "n/a"
	if !w.backlog {
		p50, p99 = benchutil.Spread(p50s, "%.0f")+" ms", benchutil.Spread(p99s, "%.0f")+" ms"
	} else {
		start = benchutil.Spread(starts, "%.2f") + " s"
	}
	ref := w.ref
	if ref == "" {
		ref = "—"
	}
	fmt.Printf("| %s | %s | %d | %d | %s | %s | %s | %s | %s MiB | %s MiB | %s |\n", w.name, authz, w.nodes, w.pods,
		benchutil.Spread(rates, "%.0f"), p50, p99, start, benchutil.Spread(rss, "%.0f"), benchutil.Spread(peaks, "%.0f"), ref)
	return nil
}

type result struct {
	rate       float64
	p50, p99   time.Duration
	startToAll time.Duration
	rss, peak  float64
	cpu        string
}

type cluster struct {
	dir string
	*benchutil.ControlPlane
	sched      *benchutil.Process
	c          *client.Client
	kubeconfig string
	schedHTTP  string
}

func (cl *cluster) stop() {
	cl.sched.Stop()
	if cl.c != nil {
		cl.c.Close()
	}
	if cl.ControlPlane != nil {
		cl.ControlPlane.Stop()
	}
}

func startCluster(dir, authz string) (*cluster, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cl := &cluster{dir: dir}
	var err error
	if cl.ControlPlane, err = benchutil.StartControlPlane(context.Background(), dir, *etcdBin, *apiserverBin, authz); err != nil {
		return nil, err
	}
	if cl.kubeconfig, err = cl.WriteKubeconfig(dir, pki.SchedulerName); err != nil {
		cl.stop()
		return nil, err
	}
	if cl.c, err = cl.Client(benchutil.BenchUser, "scheduler-bench"); err != nil {
		cl.stop()
		return nil, err
	}
	return cl, nil
}

// startScheduler starts keel-scheduler and waits until it is ready and
// leading (it runs without leader election).
func (cl *cluster) startScheduler() error {
	cl.schedHTTP = fmt.Sprintf("127.0.0.1:%d", benchutil.FreePort())
	args := []string{*schedulerBin, "--kubeconfig", cl.kubeconfig, "--http-address", cl.schedHTTP, "--leader-elect=false", "--log-level", "warn"}
	if *schedArgs != "" {
		args = append(args, strings.Fields(*schedArgs)...)
	}
	var err error
	if cl.sched, err = benchutil.Start(cl.dir, "scheduler", args...); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := benchutil.WaitHTTP(ctx, "http://"+cl.schedHTTP+"/readyz", cl.sched); err != nil {
		return err
	}
	for {
		if body, err := get("http://" + cl.schedHTTP + "/metrics"); err == nil && strings.Contains(body, "\nkeel_scheduler_leader 1\n") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("keel-scheduler did not start scheduling (see %s)", cl.sched.Log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func (cl *cluster) createNodes(ctx context.Context, n int) error {
	return parallel(n, *conc, func(i int) error {
		name := fmt.Sprintf("node-%05d", i)
		q := func(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }
		res := map[string]*metav1.Quantity{"cpu": q("32"), "memory": q("256Gi"), "pods": q("110")}
		_, err := cl.c.Nodes().Create(ctx, &corev1.Node{
			Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{api.LabelHostname: name}},
			Status: &corev1.NodeStatus{Capacity: res, Allocatable: res,
				Conditions: []*corev1.NodeCondition{{Type: api.NodeReady, Status: api.ConditionTrue, Reason: "KubeletReady"}}},
		}, client.CreateOptions{})
		return err
	})
}

func benchPod(ns string, i int, anti bool) *corev1.Pod {
	p := &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Namespace: ns, Labels: map[string]string{"app": "bench"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
			Name: "c", Image: "registry.local/pause:3.9",
			Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{
				"cpu": {String_: "100m"}, "memory": {String_: "128Mi"}}},
		}}},
	}
	if anti {
		group := fmt.Sprintf("g%02d", i%50)
		p.Metadata.Labels["group"] = group
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"group": group}},
				TopologyKey:   api.LabelHostname,
			}},
		}}
	}
	return p
}

// tracker watches the pods of a namespace and records when each is first
// seen bound.
type tracker struct {
	mu      sync.Mutex
	bound   map[string]time.Time
	nodes   map[string]string
	want    int
	all     chan struct{}
	w       client.Watcher[*corev1.Pod]
	stopped chan struct{}
	err     error
}

func (cl *cluster) track(ctx context.Context, ns string, want int) (*tracker, error) {
	w, err := cl.c.Pods(ns).Watch(ctx, client.WatchOptions{})
	if err != nil {
		return nil, err
	}
	t := &tracker{bound: map[string]time.Time{}, nodes: map[string]string{}, want: want, all: make(chan struct{}), w: w, stopped: make(chan struct{})}
	go func() {
		defer close(t.stopped)
		for {
			ev, err := w.Next()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
					t.mu.Lock()
					t.err = err
					t.mu.Unlock()
				}
				return
			}
			now := time.Now()
			node := ev.Object.GetSpec().GetNodeName()
			if node == "" || ev.Type == client.Deleted {
				continue
			}
			name := ev.Object.GetMetadata().GetName()
			t.mu.Lock()
			if prev, ok := t.nodes[name]; ok && prev != node {
				t.err = fmt.Errorf("pod %s bound to %s, then seen on %s", name, prev, node)
			}
			if _, ok := t.bound[name]; !ok {
				t.bound[name] = now
				t.nodes[name] = node
				if len(t.bound) == t.want {
					close(t.all)
				}
			}
			t.mu.Unlock()
		}
	}()
	return t, nil
}

func (t *tracker) wait(ctx context.Context) error {
	select {
	case <-t.all:
		t.w.Stop()
		<-t.stopped
		return t.err
	case <-ctx.Done():
		t.mu.Lock()
		n := len(t.bound)
		t.mu.Unlock()
		return fmt.Errorf("only %d of %d pods bound: %w", n, t.want, ctx.Err())
	}
}

func (t *tracker) span() (first, last time.Time) {
	for _, b := range t.bound {
		if first.IsZero() || b.Before(first) {
			first = b
		}
		if b.After(last) {
			last = b
		}
	}
	return first, last
}

func runWorkload(dir string, w workload, authz string, profile bool) (*result, error) {
	cl, err := startCluster(dir, authz)
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := cl.createNodes(ctx, w.nodes); err != nil {
		return nil, fmt.Errorf("creating nodes: %w", err)
	}
	ns := "bench"
	if err := benchutil.CreateNamespace(ctx, cl.c.API(), ns); err != nil {
		return nil, err
	}
	tr, err := cl.track(ctx, ns, w.pods)
	if err != nil {
		return nil, err
	}
	created := make([]time.Time, w.pods)
	create := func() (time.Time, error) {
		start := time.Now()
		err := parallel(w.pods, *conc, func(i int) error {
			created[i] = time.Now()
			_, err := cl.c.Pods(ns).Create(ctx, benchPod(ns, i, w.anti), client.CreateOptions{})
			return err
		})
		return start, err
	}
	res := &result{}
	var stopProfile func()
	if w.backlog {
		if _, err := create(); err != nil {
			return nil, fmt.Errorf("creating pods: %w", err)
		}
		start := time.Now()
		if err := cl.startScheduler(); err != nil {
			return nil, err
		}
		cpu := benchutil.StartCPU(cl.sched, cl.APIServer, cl.Etcd)
		if profile {
			stopProfile = cl.profile(w.name)
		}
		if err := tr.wait(ctx); err != nil {
			return nil, err
		}
		first, last := tr.span()
		res.rate = float64(w.pods-1) / last.Sub(first).Seconds()
		res.startToAll = last.Sub(start)
		res.cpu = cpu.String()
	} else {
		if err := cl.startScheduler(); err != nil {
			return nil, err
		}
		cpu := benchutil.StartCPU(cl.sched, cl.APIServer, cl.Etcd)
		if profile {
			stopProfile = cl.profile(w.name)
		}
		start, err := create()
		if err != nil {
			return nil, fmt.Errorf("creating pods: %w", err)
		}
		if err := tr.wait(ctx); err != nil {
			return nil, err
		}
		_, last := tr.span()
		res.rate = float64(w.pods) / last.Sub(start).Seconds()
		lat := make(benchutil.Durations, w.pods)
		for i := range w.pods {
			lat[i] = tr.bound[fmt.Sprintf("pod-%05d", i)].Sub(created[i])
		}
		res.p50, res.p99 = lat.Percentile(50), lat.Percentile(99)
		res.cpu = cpu.String()
	}
	if stopProfile != nil {
		stopProfile()
	}
	res.rss, res.peak = cl.sched.Memory()
	if body, err := get("http://" + cl.schedHTTP + "/metrics"); err == nil {
		res.cpu += fmt.Sprintf("; Scheduled events: %s written, %s dropped (best effort)",
			metricValue(body, "keel_scheduler_events_written_total"), metricValue(body, "keel_scheduler_events_dropped_total"))
	}
	if w.anti {
		if err := checkAntiAffinity(tr, w.pods); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// checkAntiAffinity verifies no node got two pods of one group.
func checkAntiAffinity(tr *tracker, pods int) error {
	seen := map[string]string{}
	for i := range pods {
		name := fmt.Sprintf("pod-%05d", i)
		key := fmt.Sprintf("g%02d/%s", i%50, tr.nodes[name])
		if other, ok := seen[key]; ok {
			return fmt.Errorf("anti-affinity violated: %s and %s on %s", other, name, tr.nodes[name])
		}
		seen[key] = name
	}
	return nil
}

// profile records the scheduler's CPU profile for up to 10 seconds.
func (cl *cluster) profile(name string) func() {
	if *profileDir == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.Get("http://" + cl.schedHTTP + "/debug/pprof/profile?seconds=10")
		if err != nil {
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(*profileDir, name+".pprof"))
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}()
	return func() { <-done }
}

// metricValue returns the value of an unlabelled metric in a Prometheus
// text exposition ("?" if absent).
func metricValue(body, name string) string {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return "?"
}

// parallel runs n jobs on conc goroutines (benchutil.Parallel without
// the latencies).
func parallel(n, conc int, job func(i int) error) error {
	_, _, err := benchutil.Parallel(n, conc, job)
	return err
}
