// Command client-bench measures the client library's informer against the
// real keel-apiserver and etcd processes (issue 3's benchmark):
//
//   - sync: a pod informer over 10,000 pods, from start to synced with every
//     pod delivered to its handler, and the heap it then holds;
//   - delivery: pods created at full speed by 32 goroutines while a synced
//     informer watches; events delivered per second and the lag from a
//     create's reply to its handler call.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"

	"keel.dev/keel/hack/bench/benchutil"
)

var (
	apiserverBin = flag.String("apiserver", "bin/keel-apiserver", "keel-apiserver binary")
	etcdBin      = flag.String("etcd", "/usr/bin/etcd", "etcd binary (Debian's etcd-server)")
	runs         = flag.Int("runs", 3, "repetitions of each measurement")
	pods         = flag.Int("pods", 10000, "pods the informer syncs")
	events       = flag.Int("events", 3000, "pods created while an informer watches")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "client-bench:", err)
		os.Exit(1)
	}
}

// createPods creates n pods named prefix-i with 32 goroutines; done, if not
// nil, is called with each pod's name once its create returned.
func createPods(ctx context.Context, c *client.Client, ns, prefix string, n int, done func(name string)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				name := fmt.Sprintf("%s-%05d", prefix, i)
				if _, err := c.Pods(ns).Create(ctx, benchutil.Pod(ns, name), client.CreateOptions{}); err != nil {
					errs <- err
					return
				}
				if done != nil {
					done(name)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func heapMiB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

func run() error {
	dir, err := os.MkdirTemp("", "keel-client-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	cp, err := benchutil.StartControlPlane(ctx, dir, *etcdBin, *apiserverBin, benchutil.AuthzModes("Node,RBAC")[0])
	if err != nil {
		return err
	}
	defer cp.Stop()
	c, err := cp.Client(benchutil.BenchUser, "client-bench")
	if err != nil {
		return err
	}
	defer c.Close()
	if err := benchutil.CreateNamespace(ctx, c.API(), "bench"); err != nil {
		return err
	}
	if err := createPods(ctx, c, "bench", "pod", *pods, nil); err != nil {
		return err
	}
	fmt.Printf("# client library benchmarks\nmachine: %s\nsetup: etcd 3.4 and keel-apiserver as separate processes, the informer in this process over one connection; %d runs, min / median / max\n\n", benchutil.Machine(), *runs)

	var secs, mem []float64
	for range *runs {
		base := heapMiB()
		f := informer.NewFactory(c, 0)
		inf := f.Pods()
		var added atomic.Int64
		all := make(chan struct{})
		inf.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{AddFunc: func(*corev1.Pod) {
			if added.Add(1) == int64(*pods) {
				close(all)
			}
		}})
		rctx, stop := context.WithCancel(ctx)
		start := time.Now()
		f.Start(rctx)
		select {
		case <-all:
		case <-time.After(5 * time.Minute):
			stop()
			return fmt.Errorf("informer delivered %d of %d pods in 5 minutes", added.Load(), *pods)
		}
		if !f.WaitForCacheSync(rctx) {
			stop()
			return fmt.Errorf("informer never synced")
		}
		secs = append(secs, time.Since(start).Seconds()*1000)
		mem = append(mem, heapMiB()-base)
		if n := inf.Store().Len(); n != *pods {
			stop()
			return fmt.Errorf("store holds %d pods, want %d", n, *pods)
		}
		stop()
		f.Shutdown()
	}
	fmt.Printf("## informer sync over %d pods\n- start to synced with every pod handled: %s ms\n- heap held by the informer: %s MiB (%.1f KiB per pod at the median)\n\n",
		*pods, benchutil.Spread(secs, "%.0f"), benchutil.Spread(mem, "%.1f"), benchutil.Median(mem)*1024/float64(*pods))

	var rates, p50s, p99s, writeRates []float64
	for r := range *runs {
		f := informer.NewFactory(c, 0)
		inf := f.Pods()
		var mu sync.Mutex
		replied := map[string]time.Time{}
		var lags benchutil.Durations
		prefix := fmt.Sprintf("ev%d", r)
		var got atomic.Int64
		all := make(chan struct{})
		var last time.Time
		inf.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{AddFunc: func(p *corev1.Pod) {
			now := time.Now()
			mu.Lock()
			if t, ok := replied[p.GetMetadata().GetName()]; ok {
				lags = append(lags, now.Sub(t))
			}
			mu.Unlock()
			if len(p.GetMetadata().GetName()) > len(prefix) && p.GetMetadata().GetName()[:len(prefix)] == prefix {
				if got.Add(1) == int64(*events) {
					last = now
					close(all)
				}
			}
		}})
		rctx, stop := context.WithCancel(ctx)
		f.Start(rctx)
		if !f.WaitForCacheSync(rctx) {
			stop()
			return fmt.Errorf("informer never synced")
		}
		start := time.Now()
		err := createPods(ctx, c, "bench", prefix, *events, func(name string) {
			mu.Lock()
			replied[name] = time.Now()
			mu.Unlock()
		})
		written := time.Since(start)
		if err != nil {
			stop()
			return err
		}
		select {
		case <-all:
		case <-time.After(2 * time.Minute):
			stop()
			return fmt.Errorf("informer delivered %d of %d events", got.Load(), *events)
		}
		rates = append(rates, float64(*events)/last.Sub(start).Seconds())
		writeRates = append(writeRates, float64(*events)/written.Seconds())
		mu.Lock()
		p50s = append(p50s, lags.Percentile(50).Seconds()*1000)
		p99s = append(p99s, lags.Percentile(99).Seconds()*1000)
		mu.Unlock()
		stop()
		f.Shutdown()
	}
	fmt.Printf("## event delivery: %d pods created by 32 goroutines while a synced informer watches\n- events delivered: %s events/s, while the writes completed at %s/s (the delivery rate is bounded by the write rate)\n- lag from a create's reply to its handler call: p50 %s ms, p99 %s ms\n",
		*events, benchutil.Spread(rates, "%.0f"), benchutil.Spread(writeRates, "%.0f"), benchutil.Spread(p50s, "%.1f"), benchutil.Spread(p99s, "%.1f"))
	return nil
}
