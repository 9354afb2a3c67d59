// Command apiserver-bench runs the apiserver workloads of
// shared/BENCHMARKS.md and issue 2 against the real keel-apiserver binary
// on a separate etcd process, and prints figures with their conditions.
// The apiserver serves TLS only; the benchmark calls it as
// benchutil.BenchUser (no cluster admin), under each --authorization-mode
// of $BENCH_AUTHZ for the create workload:
//
//   - create: 3,000 pods by one client with 16 and 32 goroutines (creates/s,
//     p50/p99), next to raw etcd txn puts of the same size and concurrency,
//     with the apiserver's embedded etcd (the single-machine default) and
//     with an external one;
//   - audit: the same creates against two apiservers on embedded etcd, one
//     with an audit log of every request at level Metadata and one
//     without, run after run in turn (so that whatever else loads the
//     machine loads both alike);
//   - watch fan-out: 1,000 pod watchers, delay from a write to its delivery
//     to all of them (p50/p99);
//   - List of 10,000 pods (from the watch cache, and consistent);
//   - apiserver and etcd memory holding 10,000 pods.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	etcdversion "go.etcd.io/etcd/api/v3/version"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/scheme"

	"keel.dev/keel/hack/bench/benchutil"

	// Every kind the benchmark encodes.
	_ "keel.dev/keel/pkg/registry/all"
)

var (
	apiserverBin = flag.String("apiserver", "bin/keel-apiserver", "keel-apiserver binary")
	etcdBin      = flag.String("etcd", "/usr/bin/etcd", "etcd binary (Debian's etcd-server)")
	runs         = flag.Int("runs", 3, "repetitions of each timed workload")
	createPods   = flag.Int("create-pods", 3000, "pods per create run")
	listPods     = flag.Int("list-pods", 10000, "pods held for the List and memory figures")
	watchers     = flag.Int("watchers", 1000, "concurrent pod watchers")
	watchWrites  = flag.Int("watch-writes", 200, "writes timed through the watchers")
	workDir      = flag.String("dir", "", "working directory (default: a temporary one)")
	embeddedOnly = flag.Bool("embedded-only", false, "run only the create workload with the embedded etcd (for comparing builds and settings)")
	profileDir   = flag.String("profile", "", "if set, write the apiserver's CPU and allocation profiles of each phase there")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "apiserver-bench:", err)
		os.Exit(1)
	}
}

// env is one running control plane and the benchmark's clients of it.
type env struct {
	cp    *benchutil.ControlPlane
	api   apiv1.APIClient
	conns []*grpc.ClientConn
	etcd  *clientv3.Client
}

// connect opens four gRPC connections to the apiserver over TLS as
// benchutil.BenchUser (the first serves every request but the watch
// fan-out's) and one etcd client.
func connect(cp *benchutil.ControlPlane) (*env, error) {
	e := &env{cp: cp}
	tc, err := cp.TLS(benchutil.BenchUser)
	if err != nil {
		return nil, err
	}
	for range 4 {
		c, err := grpc.NewClient(cp.APIAddr, grpc.WithTransportCredentials(credentials.NewTLS(tc)),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30)))
		if err != nil {
			e.close()
			return nil, err
		}
		e.conns = append(e.conns, c)
	}
	e.api = apiv1.NewAPIClient(e.conns[0])
	if e.etcd, err = clientv3.New(clientv3.Config{Endpoints: []string{cp.EtcdURL}, TLS: cp.EtcdTLS}); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *env) close() {
	for _, c := range e.conns {
		c.Close()
	}
	if e.etcd != nil {
		e.etcd.Close()
	}
}

func run() error {
	dir, cleanup, err := benchutil.WorkDir(*workDir, "keel-bench-")
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	// The create workload runs under each mode; the others under the first.
	modes := benchutil.AuthzModes("Node,RBAC AlwaysAllow")
	fmt.Printf("# apiserver benchmarks\nmachine: %s\nsetup: keel-apiserver serving gRPC over TLS, every call authenticated by its client certificate (user %s, bound to a ClusterRole for the workloads' objects: no cluster admin) and authorized with --authorization-mode as given; fsync on in etcd, one gRPC connection per client; %d runs each, min / median / max\n\n",
		benchutil.Machine(), benchutil.BenchUser, *runs)
	fmt.Printf("## create: %d pods (1 container, requests 100m CPU / 128Mi), one client, nothing scheduling them\n\n", *createPods)

	// The single-machine default: etcd inside keel-apiserver, which calls
	// it in process. The raw figures are a gRPC client of the same member.
	// Once per authorization mode compared.
	for _, authz := range modes {
		cp, err := benchutil.StartControlPlane(ctx, filepath.Join(dir, "embedded-"+strings.ReplaceAll(authz, ",", "-")), "", *apiserverBin, authz)
		if err != nil {
			return err
		}
		e, err := connect(cp)
		if err == nil {
			fmt.Printf("### embedded etcd (the default), --authorization-mode=%s: etcd %s inside keel-apiserver, called in process; raw etcd is a gRPC client of that same member\n", authz, etcdversion.Version)
			err = e.createBench(ctx, "embedded-"+authz)
			e.close()
		}
		cp.Stop()
		if err != nil {
			return err
		}
	}
	if err := auditBench(ctx, filepath.Join(dir, "audit"), modes[0]); err != nil {
		return err
	}
	if *embeddedOnly {
		return nil
	}

	// An external etcd, and the rest of the workloads on it (so that the
	// apiserver's memory is its own).
	cp, err := benchutil.StartControlPlane(ctx, filepath.Join(dir, "external"), *etcdBin, *apiserverBin, modes[0])
	if err != nil {
		return err
	}
	defer cp.Stop()
	e, err := connect(cp)
	if err != nil {
		return err
	}
	defer e.close()
	fmt.Printf("### external etcd: %s as a separate process, reached over gRPC; --authorization-mode=%s\n", etcdVersion(*etcdBin), modes[0])
	if err := e.createBench(ctx, "external"); err != nil {
		return err
	}
	if err := e.watchBench(ctx); err != nil {
		return err
	}
	return e.listBench(ctx)
}

// auditPolicy records every request at level Metadata, leaving out the
// RequestReceived stage as Kubernetes' example policies do.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
`

// auditBench compares creates on the embedded etcd under authz with an
// audit log at level Metadata (auditPolicy, a file in dir) and without:
// two control planes, each run of the workload on one then the other.
func auditBench(ctx context.Context, dir, authz string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	policy, logPath := filepath.Join(dir, "audit-policy.yaml"), filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return err
	}
	var envs []*env
	defer func() {
		for _, e := range envs {
			e.close()
			e.cp.Stop()
		}
	}()
	for _, extra := range [][]string{nil, {"--audit-policy-file", policy, "--audit-log-path", logPath, "--audit-log-maxsize", "100", "--audit-log-maxbackup", "2"}} {
		cp, err := benchutil.StartControlPlaneWith(ctx, filepath.Join(dir, fmt.Sprint(len(envs))), "", *apiserverBin, authz, extra)
		if err != nil {
			return err
		}
		e, err := connect(cp)
		if err != nil {
			cp.Stop()
			return err
		}
		envs = append(envs, e)
	}
	fmt.Printf("## audit: %d pod creates, embedded etcd, --authorization-mode=%s, without an audit log and with one of every request at level Metadata (one ResponseComplete event each, to a file); two apiservers, each run on one then on the other\n\n", *createPods, authz)
	fmt.Println("| goroutines | creates/s, no audit | creates/s, audit at Metadata | audited / not (median of runs) | p99, no audit | p99, audit | apiserver+etcd CPU per create, no audit | the same, audit |\n|---|---|---|---|---|---|---|---|")
	for _, conc := range []int{16, 32} {
		rates, p99s, cpus := [2][]float64{}, [2][]float64{}, [2][]float64{}
		var ratios []float64
		for r := range *runs {
			var rate [2]float64
			for k := range envs {
				i := (k + r) % 2 // alternate which goes first
				e := envs[i]
				ns := fmt.Sprintf("bench-audit-%d-%d", r, conc)
				if err := e.createNamespace(ctx, ns); err != nil {
					return err
				}
				cpu0 := e.cp.APIServer.CPUTime()
				lat, wall, err := benchutil.Parallel(*createPods, conc, func(j int) error { return e.createPod(ctx, ns, j) })
				if err != nil {
					return fmt.Errorf("audit create run: %w", err)
				}
				cpus[i] = append(cpus[i], float64((e.cp.APIServer.CPUTime()-cpu0).Microseconds())/float64(*createPods))
				rate[i] = float64(*createPods) / wall.Seconds()
				rates[i] = append(rates[i], rate[i])
				p99s[i] = append(p99s[i], lat.Percentile(99).Seconds()*1000)
			}
			ratios = append(ratios, rate[1]/rate[0])
		}
		sort.Float64s(ratios)
		fmt.Printf("| %d | %s | %s | %.0f%% | %s ms | %s ms | %s µs | %s µs |\n", conc, benchutil.Spread(rates[0], "%.0f"), benchutil.Spread(rates[1], "%.0f"),
			100*ratios[len(ratios)/2], benchutil.Spread(p99s[0], "%.1f"), benchutil.Spread(p99s[1], "%.1f"),
			benchutil.Spread(cpus[0], "%.0f"), benchutil.Spread(cpus[1], "%.0f"))
	}
	fmt.Println()
	for i, what := range []string{"no audit", "audit at Metadata"} {
		fmt.Print(what + ": ")
		envs[i].printServerLatency()
	}
	if fi, err := os.Stat(logPath); err == nil {
		fmt.Printf("audit log: %.1f MiB after the runs\n", float64(fi.Size())/(1<<20))
	}
	fmt.Println("target: the audited rate at least 90% of the other")
	fmt.Println()
	return nil
}

// printServerLatency prints the apiserver's own view of create latency: the
// whole request, and the etcd transaction inside it (means over every create
// so far, from its /metrics histograms).
func (e *env) printServerLatency() {
	resp, err := e.cp.GetHTTPS("/metrics")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return
	}
	// mean is the mean of the histogram whose labels include every pair.
	mean := func(family string, pairs ...string) float64 {
		f := families[family]
		if f == nil {
			return 0
		}
	metrics:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i < len(pairs); i += 2 {
				if have[pairs[i]] != pairs[i+1] {
					continue metrics
				}
			}
			if h := m.GetHistogram(); h.GetSampleCount() > 0 {
				return h.GetSampleSum() / float64(h.GetSampleCount()) * 1000
			}
		}
		return 0
	}
	fmt.Printf("apiserver-side means over all creates: request %.2f ms, of which the etcd transaction %.2f ms\n",
		mean("keel_apiserver_request_duration_seconds", "verb", "create", "resource", "pods"), mean("keel_etcd_request_duration_seconds", "operation", "create"))
}

// profile records the apiserver's profiles of the given phase when
// -profile is set (benchutil.ControlPlane.Profile); the returned function
// waits for them to be saved.
func (e *env) profile(phase string) func() {
	return e.cp.Profile(*profileDir, phase)
}

func etcdVersion(bin string) string {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return "etcd"
	}
	var v string
	fmt.Sscanf(string(out), "etcd Version: %s", &v)
	return "etcd " + v
}

// createPod creates the benchmark's pod number i of namespace ns.
func (e *env) createPod(ctx context.Context, ns string, i int) error {
	a, _ := scheme.Pack(benchutil.Pod(ns, fmt.Sprintf("pod-%05d", i)))
	_, err := e.api.Create(ctx, &apiv1.CreateRequest{Resource: "pods", Object: a})
	return err
}

func (e *env) createNamespace(ctx context.Context, name string) error {
	return benchutil.CreateNamespace(ctx, e.api, name)
}

// parallel runs n jobs over conc goroutines and returns per-job latencies
// and the wall time.
func (e *env) createBench(ctx context.Context, mode string) error {
	sample, _ := proto.Marshal(benchutil.Pod("bench-create-0-16", "pod-00000"))
	fmt.Printf("| goroutines | keel creates/s | p50 | p99 | raw etcd txn puts/s (%d-byte values) | keel / raw | raw etcd with a prefix watcher | keel / watched | Kubernetes 1.31 here |\n|---|---|---|---|---|---|---|---|---|\n", len(sample)+200)
	var cpuNotes []string
	ref := map[int]string{16: "652 / 748 / 763 creates/s, p99 58 ms", 32: "714 / 730 / 821 creates/s, p99 107 ms"}
	for _, conc := range []int{16, 32} {
		var rates, etcdRates, watchedRates, p50s, p99s []float64
		for r := 0; r < *runs; r++ {
			ns := fmt.Sprintf("bench-create-%d-%d", r, conc)
			if err := e.createNamespace(ctx, ns); err != nil {
				return err
			}
			var stopProfile func()
			if r == 0 {
				stopProfile = e.profile(fmt.Sprintf("create-%s-%d", mode, conc))
			}
			cpu := benchutil.StartCPU(e.cp.APIServer, e.cp.Etcd)
			lat, wall, err := benchutil.Parallel(*createPods, conc, func(i int) error { return e.createPod(ctx, ns, i) })
			if err != nil {
				return fmt.Errorf("create run: %w", err)
			}
			if r == 0 {
				cpuNotes = append(cpuNotes, fmt.Sprintf("%d goroutines, keel run: %s", conc, cpu))
			}
			if stopProfile != nil {
				stopProfile()
			}
			rates = append(rates, float64(*createPods)/wall.Seconds())
			p50s = append(p50s, lat.Percentile(50).Seconds()*1000)
			p99s = append(p99s, lat.Percentile(99).Seconds()*1000)

			// The same number of etcd transactions of the same shape and size
			// (create-if-absent of a stored pod's bytes), straight to etcd:
			// alone, and with one watcher on the prefix, as etcd has under
			// any apiserver (its watch cache).
			value := string(make([]byte, len(sample)+200))
			for _, watched := range []bool{false, true} {
				prefix := fmt.Sprintf("/raw/%s/%v/", ns, watched)
				wctx, stopWatch := context.WithCancel(ctx)
				if watched {
					wch := e.etcd.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithPrevKV())
					go func() {
						for range wch {
						}
					}()
				}
				cpu := benchutil.StartCPU(e.cp.APIServer, e.cp.Etcd)
				_, wall, err = benchutil.Parallel(*createPods, conc, func(i int) error {
					key := fmt.Sprintf("%s%05d", prefix, i)
					_, err := e.etcd.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(clientv3.OpPut(key, value)).Commit()
					return err
				})
				stopWatch()
				if err != nil {
					return fmt.Errorf("raw etcd run: %w", err)
				}
				if r == 0 && !watched {
					cpuNotes = append(cpuNotes, fmt.Sprintf("%d goroutines, raw etcd run: %s", conc, cpu))
				}
				if watched {
					watchedRates = append(watchedRates, float64(*createPods)/wall.Seconds())
				} else {
					etcdRates = append(etcdRates, float64(*createPods)/wall.Seconds())
				}
			}
		}
		fmt.Printf("| %d | %s | %s ms | %s ms | %s | %.0f%% | %s | %.0f%% | %s |\n", conc,
			benchutil.Spread(rates, "%.0f"), benchutil.Spread(p50s, "%.1f"), benchutil.Spread(p99s, "%.1f"),
			benchutil.Spread(etcdRates, "%.0f"), 100*benchutil.Median(rates)/benchutil.Median(etcdRates),
			benchutil.Spread(watchedRates, "%.0f"), 100*benchutil.Median(rates)/benchutil.Median(watchedRates), ref[conc])
	}
	fmt.Println()
	for _, n := range cpuNotes {
		fmt.Println("- " + n)
	}
	e.printServerLatency()
	fmt.Println("\nratios are of medians; targets: >= 1,100 creates/s at 32 goroutines (1.5x Kubernetes), >= 70% of raw etcd")
	fmt.Println()
	return nil
}

func (e *env) watchBench(ctx context.Context) error {
	ns := "bench-watch"
	if err := e.createNamespace(ctx, ns); err != nil {
		return err
	}
	fmt.Printf("## watch fan-out: %d pod watchers (namespace %s, over %d connections), %d writes one after another\n", *watchers, ns, len(e.conns), *watchWrites)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// seen[i] counts the watchers that received write i; done[i] is when
	// the last of them did.
	var mu sync.Mutex
	seen := make([]int, *watchWrites)
	done := make([]time.Time, *watchWrites)
	names := map[string]int{}
	for i := range *watchWrites {
		names[fmt.Sprintf("w-%05d", i)] = i
	}
	var ready sync.WaitGroup
	var openErr error
	for w := range *watchers {
		api := apiv1.NewAPIClient(e.conns[w%len(e.conns)])
		ready.Add(1)
		go func() {
			stream, err := openWatch(wctx, api, ns)
			if err != nil {
				mu.Lock()
				openErr = fmt.Errorf("watch %d: %w", w, err)
				mu.Unlock()
			}
			ready.Done()
			if err != nil {
				return
			}
			for {
				ev, err := stream.Recv()
				if err != nil {
					return
				}
				if ev.Type != "ADDED" {
					continue
				}
				m, _, err := scheme.Unpack(ev.Object)
				if err != nil {
					continue
				}
				i, ok := names[scheme.Meta(m).Name]
				if !ok {
					continue
				}
				now := time.Now()
				mu.Lock()
				seen[i]++
				if seen[i] == *watchers {
					done[i] = now
				}
				mu.Unlock()
			}
		}()
	}
	ready.Wait()
	if openErr != nil {
		return openErr
	}
	lat := make(benchutil.Durations, 0, *watchWrites)
	defer e.profile("watch")()
	for i := range *watchWrites {
		a, _ := scheme.Pack(benchutil.Pod(ns, fmt.Sprintf("w-%05d", i)))
		start := time.Now()
		if _, err := e.api.Create(ctx, &apiv1.CreateRequest{Resource: "pods", Object: a}); err != nil {
			return err
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			mu.Lock()
			t := done[i]
			mu.Unlock()
			if !t.IsZero() {
				lat = append(lat, t.Sub(start))
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("write %d reached only %d of %d watchers in 30s", i, seen[i], *watchers)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	fmt.Printf("write (create call start) to delivery at all %d watchers: p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 < 100 ms)\n\n",
		*watchers, lat.Percentile(50).Seconds()*1000, lat.Percentile(99).Seconds()*1000, lat.Percentile(100).Seconds()*1000)
	return nil
}

// openWatch opens a watch of ns's pods and waits for its initial-state
// bookmark, when the watch is live. A watch refused by overload protection
// (the benchmark opens all its watches at once, as one user) is opened
// again after the server's hint, as a client should.
func openWatch(ctx context.Context, api apiv1.APIClient, ns string) (apiv1.API_WatchClient, error) {
	for {
		stream, err := api.Watch(ctx, &apiv1.WatchRequest{Resource: "pods", Namespace: ns, ResourceVersion: "0", AllowBookmarks: true})
		if err == nil {
			if _, err = stream.Recv(); err == nil {
				return stream, nil
			}
		}
		hint, ok := apierrors.RetryAfter(err)
		if !ok {
			return nil, err
		}
		select {
		case <-time.After(hint):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (e *env) listBench(ctx context.Context) error {
	ns := "bench-list"
	if err := e.createNamespace(ctx, ns); err != nil {
		return err
	}
	if _, _, err := benchutil.Parallel(*listPods, 32, func(i int) error { return e.createPod(ctx, ns, i) }); err != nil {
		return err
	}
	fmt.Printf("## List of %d pods (namespace %s; the cluster also holds the pods of the runs above)\n", *listPods, ns)
	// A list at resourceVersion 0 may trail the last creates (Kubernetes'
	// semantics); an untimed consistent list first waits until the watch
	// cache holds them all.
	if _, err := e.api.List(ctx, &apiv1.ListRequest{Resource: "pods", Namespace: ns}); err != nil {
		return err
	}
	for _, mode := range []struct{ name, rv string }{{"from the watch cache (resourceVersion=0)", "0"}, {"consistent (resourceVersion unset)", ""}} {
		var ms []float64
		for range max(*runs, 5) {
			start := time.Now()
			resp, err := e.api.List(ctx, &apiv1.ListRequest{Resource: "pods", Namespace: ns, ResourceVersion: mode.rv})
			if err != nil {
				return err
			}
			if len(resp.Items) != *listPods {
				return fmt.Errorf("list returned %d pods, want %d", len(resp.Items), *listPods)
			}
			ms = append(ms, time.Since(start).Seconds()*1000)
		}
		fmt.Printf("- %s: %s ms (target < 100 ms)\n", mode.name, benchutil.Spread(ms, "%.1f"))
	}
	total, err := e.api.List(ctx, &apiv1.ListRequest{Resource: "pods", ResourceVersion: "0"})
	if err != nil {
		return err
	}
	rss, peak := e.cp.APIServer.Memory()
	erss, epeak := e.cp.Etcd.Memory()
	fmt.Printf("\n## memory holding %d pods in all\n- keel-apiserver: RSS %.0f MiB, peak %.0f MiB\n- etcd: RSS %.0f MiB, peak %.0f MiB\n(Kubernetes 1.31 after a 100-node phase: apiserver 952 MiB, etcd 421 MiB)\n",
		len(total.Items), rss, peak, erss, epeak)
	return nil
}
