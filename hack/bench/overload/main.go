// Command overload-bench is `make bench`'s scenario "overload" (issue 12,
// item 1): one keel-apiserver on its embedded etcd, TLS and
// --authorization-mode=Node,RBAC, first loaded by 32 clients (the
// unloaded create throughput), then by 2,000 clients, each on a
// connection of its own, as one user (benchutil.BenchUser) for 30 s. Each
// client creates a pod and deletes it again, in a loop; a call refused as
// overloaded is sent again after its retry-after hint, doubled on each
// refusal in a row and jittered, as the client library does
// (client.OverloadDelay). Meanwhile a probe, as a node (priority level
// system), checks the gRPC health service and gets its own Node every
// 100 ms, and a health watch records every status the apiserver reports.
//
// It prints the apiserver's peak RSS, the probe's p50/p99, whether
// NOT_SERVING was ever seen, the goodput (creates/s under overload against
// the unloaded creates/s), every failed call by gRPC code, and the
// apiserver's rejections by reason. Targets: RSS < 1 GiB, probe p99 < 1 s,
// never NOT_SERVING, goodput >= 80%, every failed call ResourceExhausted.
// Run it alone with `make bench-overload`.
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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheme"

	"keel.dev/keel/hack/bench/benchutil"

	// Every kind the benchmark encodes.
	_ "keel.dev/keel/pkg/registry/all"
)

var (
	apiserverBin = flag.String("apiserver", "bin/keel-apiserver", "keel-apiserver binary")
	clients      = flag.Int("clients", 2000, "concurrent clients under overload, one connection each")
	duration     = flag.Duration("duration", 30*time.Second, "how long the overload lasts")
	baseline     = flag.Int("baseline-clients", 32, "clients of the unloaded create workload, one connection each")
	baselineFor  = flag.Duration("baseline-duration", 10*time.Second, "how long the unloaded create workload runs")
	workDir      = flag.String("dir", "", "working directory (default: a temporary one)")
)

const (
	namespace = "bench-overload"
	probeNode = "probe-node"
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "overload-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, cleanup, err := benchutil.WorkDir(*workDir, "keel-bench-overload-")
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	cp, err := benchutil.StartControlPlane(ctx, filepath.Join(dir, "cp"), "", *apiserverBin, "Node,RBAC", probeNode)
	if err != nil {
		return err
	}
	defer cp.Stop()
	fmt.Printf("## overload: %d clients (one TLS connection each, all user %s) for %s against one keel-apiserver on its embedded etcd, default --max-requests-inflight 400 / --max-mutating-requests-inflight 200\nmachine: %s\n",
		*clients, benchutil.BenchUser, *duration, benchutil.Machine())

	admin, err := dial(cp, pki.AdminName)
	if err != nil {
		return err
	}
	defer admin.Close()
	api := apiv1.NewAPIClient(admin)
	if err := benchutil.CreateNamespace(ctx, api, namespace); err != nil {
		return err
	}
	node, err := scheme.Pack(&corev1.Node{Metadata: &metav1.ObjectMeta{Name: probeNode}})
	if err != nil {
		return err
	}
	if _, err := api.Create(ctx, &apiv1.CreateRequest{Resource: "nodes", Object: node}); err != nil {
		return fmt.Errorf("node %s: %w", probeNode, err)
	}

	// Unloaded: the same create-and-delete loop by a few clients, each on
	// a connection of its own as under overload.
	conns, err := dialMany(cp, benchutil.BenchUser, *baseline)
	if err != nil {
		return err
	}
	// The benchmark's own CPU, next to the apiserver's: its clients share
	// the machine's cores with it.
	self := &benchutil.Process{Name: "benchmark", Cmd: &exec.Cmd{Process: &os.Process{Pid: os.Getpid()}}}
	cpu := benchutil.StartCPU(cp.APIServer, self)
	base := load(ctx, conns, *baseline, *baselineFor, "base")
	cpuUse := cpu.String()
	closeAll(conns)
	_, peakBefore := cp.APIServer.Memory()
	fmt.Printf("unloaded (%d clients, %s): %.0f creates/s; %s; apiserver peak RSS so far %.0f MiB\n", *baseline, *baselineFor, base.rate, cpuUse, peakBefore)

	// Overloaded.
	fmt.Printf("connecting %d clients...\n", *clients)
	conns, err = dialMany(cp, benchutil.BenchUser, *clients)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	probeConn, err := dial(cp, pki.KubeletClientName(probeNode))
	if err != nil {
		return err
	}
	defer probeConn.Close()
	pctx, stopProbe := context.WithCancel(ctx)
	probes := make(chan probeResult, 1)
	go func() { probes <- probe(pctx, probeConn, cp.HealthURL) }()
	cpu = benchutil.StartCPU(cp.APIServer, self)
	over := load(ctx, conns, *clients, *duration, "over")
	cpuUse = cpu.String()
	stopProbe()
	pr := <-probes
	_, peak := cp.APIServer.Memory()

	fmt.Printf("overloaded: %.0f creates/s, goodput %.0f%% of unloaded (target >= 80%%); %s\n", over.rate, 100*over.rate/base.rate, cpuUse)
	fmt.Printf("apiserver (with its embedded etcd) peak RSS: %.0f MiB (target < 1024 MiB)\n", peak)
	fmt.Printf("probe as system:node:%s (health check + get of its Node, every 100 ms): %d probes, p50 %s, p99 %s, max %s (target p99 < 1 s); failed probes: %d\n",
		probeNode, len(pr.latencies), ms(pr.latencies.Percentile(50)), ms(pr.latencies.Percentile(99)), ms(pr.latencies.Percentile(100)), pr.failed)
	fmt.Printf("gRPC health statuses seen: %s; NOT_SERVING seen: %v (target: never); /readyz: %d polls, %d not 200, slowest %s\n",
		strings.Join(pr.statuses, ", "), pr.notServing, pr.readyzPolls, pr.readyzBad, ms(pr.readyzMax))
	fmt.Printf("failed calls by code: %s (target: ResourceExhausted only)\n", over.failures())
	fmt.Printf("apiserver's view: %s\n", serverView(cp))
	return nil
}

// dial connects as the key pair name and waits until the connection is
// ready.
func dial(cp *benchutil.ControlPlane, name string) (*grpc.ClientConn, error) {
	tc, err := cp.TLS(name)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(cp.APIAddr, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn.Connect()
	for s := conn.GetState(); s != connectivity.Ready; s = conn.GetState() {
		if !conn.WaitForStateChange(ctx, s) {
			conn.Close()
			return nil, fmt.Errorf("connecting as %s: %s", name, s)
		}
	}
	return conn, nil
}

// dialMany opens n ready connections as name, a few at a time.
func dialMany(cp *benchutil.ControlPlane, name string, n int) ([]*grpc.ClientConn, error) {
	conns := make([]*grpc.ClientConn, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial(cp, name)
			conns[i] = c
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			closeAll(conns)
			return nil, err
		}
	}
	return conns, nil
}

func closeAll(conns []*grpc.ClientConn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// loadResult is what a load phase achieved.
type loadResult struct {
	rate   float64 // successful creates per second
	mu     sync.Mutex
	byCode map[codes.Code]int
	sample map[codes.Code]string // the first message of each code
}

func (r *loadResult) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.byCode) == 0 {
		return "none"
	}
	var out []string
	for c, n := range r.byCode {
		out = append(out, fmt.Sprintf("%s %d (%q)", c, n, r.sample[c]))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// load runs n workers over conns (worker i on conns[i % len]) for d: each
// creates a pod of its own and deletes it, again and again; a call
// refused as overloaded is sent again after client.OverloadDelay. It
// counts creates that succeeded and failed calls by code.
func load(ctx context.Context, conns []*grpc.ClientConn, n int, d time.Duration, prefix string) *loadResult {
	// Cancelled, not timed out: a call cut short at the end fails with
	// Canceled after lctx.Err() is set, so it is not counted.
	lctx, cancel := context.WithCancel(ctx)
	defer time.AfterFunc(d, cancel).Stop()
	res := &loadResult{byCode: map[codes.Code]int{}, sample: map[codes.Code]string{}}
	var created atomic.Int64
	var wg sync.WaitGroup
	// fail counts a failed call and waits before the next try: after an
	// overload refusal as the client library would (refused is the
	// number of refusals in a row so far), else 100 ms. It is false once
	// the phase is over.
	fail := func(err error, refused *int) bool {
		if lctx.Err() != nil {
			return false // the phase is over: the call was cut short
		}
		code := status.Code(err)
		res.mu.Lock()
		res.byCode[code]++
		if _, ok := res.sample[code]; !ok {
			res.sample[code] = status.Convert(err).Message()
		}
		res.mu.Unlock()
		d := 100 * time.Millisecond
		if hint, ok := apierrors.RetryAfter(err); ok {
			d = client.OverloadDelay(hint, min(*refused, client.OverloadRetries))
			*refused++
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-lctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			api := apiv1.NewAPIClient(conns[i%len(conns)])
			name := fmt.Sprintf("%s-%d", prefix, i)
			pod, err := scheme.Pack(benchutil.Pod(namespace, name))
			if err != nil {
				panic(err)
			}
			zero := int64(0)
			refused := 0
			for lctx.Err() == nil {
				if _, err := api.Create(lctx, &apiv1.CreateRequest{Resource: "pods", Namespace: namespace, Object: pod}); err != nil && !apierrors.IsAlreadyExists(err) {
					if !fail(err, &refused) {
						return
					}
					continue
				} else if err == nil {
					created.Add(1)
				}
				refused = 0
				for lctx.Err() == nil {
					_, err := api.Delete(lctx, &apiv1.DeleteRequest{Resource: "pods", Namespace: namespace, Name: name, GracePeriodSeconds: &zero})
					if err == nil || apierrors.IsNotFound(err) || !fail(err, &refused) {
						break
					}
				}
				refused = 0
			}
		}()
	}
	wg.Wait()
	cancel()
	res.rate = float64(created.Load()) / time.Since(start).Seconds()
	return res
}

// probeResult is what the probe saw.
type probeResult struct {
	latencies   benchutil.Durations
	failed      int
	statuses    []string
	notServing  bool
	readyzPolls int
	readyzBad   int
	readyzMax   time.Duration
}

// probe, until ctx ends: every 100 ms a health check and a get of the
// probe node's Node, timed together; a health watch recording every
// status; a poll of /readyz every 250 ms.
func probe(ctx context.Context, conn *grpc.ClientConn, healthURL string) probeResult {
	var res probeResult
	var mu sync.Mutex
	health := healthpb.NewHealthClient(conn)
	api := apiv1.NewAPIClient(conn)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		w, err := health.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return
		}
		for {
			resp, err := w.Recv()
			if err != nil {
				return
			}
			mu.Lock()
			res.statuses = append(res.statuses, resp.GetStatus().String())
			res.notServing = res.notServing || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		hc := &http.Client{Timeout: 10 * time.Second}
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			start := time.Now()
			resp, err := hc.Get(healthURL + "/readyz")
			d := time.Since(start)
			mu.Lock()
			res.readyzPolls++
			res.readyzMax = max(res.readyzMax, d)
			if err != nil || resp.StatusCode != 200 {
				res.readyzBad++
			}
			mu.Unlock()
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return res
		case <-t.C:
		}
		start := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := health.Check(cctx, &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			err = errors.New(resp.GetStatus().String())
		}
		if err == nil {
			_, err = api.Get(cctx, &apiv1.GetRequest{Resource: "nodes", Name: probeNode})
		}
		cancel()
		if ctx.Err() != nil {
			continue
		}
		mu.Lock()
		res.latencies = append(res.latencies, time.Since(start))
		if err != nil {
			res.failed++
		}
		mu.Unlock()
	}
}

// serverView summarises the apiserver's metrics: its rejections
// (apiserver_flowcontrol_rejected_requests_total) by priority level and
// reason, the mean wait for a seat of the requests that then ran, and the
// mean create latency (the wait included).
func serverView(cp *benchutil.ControlPlane) string {
	families, err := cp.Metrics()
	if err != nil {
		return err.Error()
	}
	// mean of the histograms of family whose labels include want.
	mean := func(family string, want map[string]string) time.Duration {
		var sum float64
		var n uint64
	metrics:
		for _, m := range families[family].GetMetric() {
			l := benchutil.Labels(m)
			for k, v := range want {
				if l[k] != v {
					continue metrics
				}
			}
			sum += m.GetHistogram().GetSampleSum()
			n += m.GetHistogram().GetSampleCount()
		}
		if n == 0 {
			return 0
		}
		return time.Duration(sum / float64(n) * float64(time.Second))
	}
	return fmt.Sprintf("rejections by level/reason: %s; mean wait for a seat (global-default, dispatched): %s; mean create latency: %s",
		benchutil.Rejections(families),
		ms(mean("apiserver_flowcontrol_request_wait_duration_seconds", map[string]string{"priority_level": "global-default", "execute": "true"})),
		ms(mean("keel_apiserver_request_duration_seconds", map[string]string{"verb": "create", "resource": "pods"})))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
