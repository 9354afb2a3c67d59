// Command proxy-bench measures keel-proxy's rule syncs and prints figures
// with their conditions, for N services of E ready endpoints each (every
// tenth also a NodePort):
//
//   - render: iptables.Render of the whole rule set (pure, no I/O), and the
//     payload's size;
//   - first sync: EnsureJumps and Restore into empty tables;
//   - change sync: one endpoint changed, the whole set rendered and
//     restored again (what every Service or Endpoints change costs);
//   - delete sync: a tenth of the services gone, their chains deleted in the
//     same restore.
//
// The kernel part runs the real Executor (iptables-restore, go-iptables) in
// a network namespace of its own, so it needs root and never touches the
// host's rules.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netns"

	"keel.dev/keel/hack/bench/benchutil"
	"keel.dev/keel/pkg/proxy/iptables"
)

var (
	serviceSteps = flag.String("services", "1000,5000", "service counts to measure")
	endpoints    = flag.Int("endpoints", 3, "ready endpoints per service")
	runs         = flag.Int("runs", 3, "repetitions of every measurement")
)

func main() {
	flag.Parse()
	cfg := iptables.Config{ClusterCIDR: "10.244.0.0/16", MasqueradeBit: iptables.DefaultMasqueradeBit}
	version, _ := exec.Command("iptables", "--version").Output()
	fmt.Printf("== keel-proxy rule syncs: %d endpoints per service, every 10th a NodePort; %s; %s\n",
		*endpoints, strings.TrimSpace(string(version)), benchutil.Machine())
	kernel := os.Geteuid() == 0
	if !kernel {
		fmt.Println("not root: render only (the kernel syncs need a network namespace)")
	}
	for _, field := range strings.Split(*serviceSteps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 10 {
			fmt.Fprintf(os.Stderr, "-services: %q is not a count of at least 10\n", field)
			os.Exit(2)
		}
		ports := servicePorts(n, *endpoints)
		var render []float64
		var payload []byte
		for range *runs {
			start := time.Now()
			payload = iptables.Render(cfg, ports)
			render = append(render, ms(time.Since(start)))
		}
		fmt.Printf("%d services, %d endpoints: render %s ms; payload %.1f MiB, %d lines\n", n, n**endpoints,
			benchutil.Spread(render, "%.0f"), float64(len(payload))/(1<<20), strings.Count(string(payload), "\n"))
		if !kernel {
			continue
		}
		var first, change, del []float64
		for range *runs {
			f, c, d, err := syncs(cfg, ports)
			if err != nil {
				fmt.Fprintln(os.Stderr, "kernel syncs:", err)
				os.Exit(1)
			}
			first, change, del = append(first, f), append(change, c), append(del, d)
		}
		fmt.Printf("%d services: first sync %s ms; change sync %s ms; delete-a-tenth sync %s ms (min / median / max of %d)\n",
			n, benchutil.Spread(first, "%.0f"), benchutil.Spread(change, "%.0f"), benchutil.Spread(del, "%.0f"), *runs)
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// servicePorts makes n single-port TCP services of e endpoints each.
func servicePorts(n, e int) []iptables.ServicePort {
	ports := make([]iptables.ServicePort, n)
	for i := range ports {
		sp := iptables.ServicePort{Namespace: "bench", Name: fmt.Sprintf("svc-%d", i), Protocol: "TCP",
			ClusterIP: fmt.Sprintf("10.96.%d.%d", i/250, i%250+1), Port: 80}
		if i%10 == 0 {
			sp.NodePort = int32(30000 + i/10)
		}
		for j := range e {
			k := i*e + j
			sp.Endpoints = append(sp.Endpoints, iptables.Endpoint{IP: fmt.Sprintf("10.244.%d.%d", k/250, k%250+1), Port: 8080})
		}
		ports[i] = sp
	}
	return ports
}

// syncs times the three kernel syncs in a new network namespace, from the
// real Executor. It runs on an OS thread of its own that joins the
// namespace and is never returned to the runtime, so nothing else runs
// there; the namespace goes with the thread.
func syncs(cfg iptables.Config, ports []iptables.ServicePort) (first, change, del float64, err error) {
	type result struct {
		first, change, del float64
		err                error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		var r result
		defer func() { done <- r }()
		ns, err := netns.New()
		if err != nil {
			r.err = err
			return
		}
		defer ns.Close()
		exec, err := iptables.New()
		if err != nil {
			r.err = err
			return
		}
		timed := func(ports []iptables.ServicePort) (float64, error) {
			start := time.Now()
			if err := exec.EnsureJumps(); err != nil {
				return 0, err
			}
			if err := exec.Restore(iptables.Render(cfg, ports), false); err != nil {
				return 0, err
			}
			return ms(time.Since(start)), nil
		}
		if r.first, r.err = timed(ports); r.err != nil {
			return
		}
		changed := append([]iptables.ServicePort(nil), ports...)
		changed[0].Endpoints = append([]iptables.Endpoint{{IP: "10.244.255.254", Port: 8080}}, changed[0].Endpoints[1:]...)
		if r.change, r.err = timed(changed); r.err != nil {
			return
		}
		r.del, r.err = timed(changed[len(changed)/10:])
	}()
	r := <-done
	return r.first, r.change, r.del, r.err
}
