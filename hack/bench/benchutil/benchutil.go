// Package benchutil starts the real daemons as processes and formats the
// figures `make bench` prints: min / median / max over runs, percentiles,
// and a process's peak memory.
package benchutil

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a daemon started for a benchmark.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	Log  string
	done chan struct{} // closed when the process has exited
}

// Start runs a command with its output in logDir/name.log.
func Start(logDir, name string, argv ...string) (*Process, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// Stop interrupts the process and waits for it, killing it after 10s.
func (p *Process) Stop() {
	if p == nil {
		return
	}
	_ = p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Memory reads VmRSS and VmHWM (peak RSS) of the process, in MiB.
func (p *Process) Memory() (rss, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// WaitHTTP polls url until it answers 200 or the deadline passes.
func WaitHTTP(ctx context.Context, url string, p *Process) error {
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if p.Exited() {
			return fmt.Errorf("%s exited; see %s", p.Name, p.Log)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready at %s: %w (see its log %s)", p.Name, url, ctx.Err(), p.Log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Durations summarises latencies.
type Durations []time.Duration

// Percentile returns the p-th percentile (0-100).
func (d Durations) Percentile(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append(Durations(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

// Spread formats min / median / max of repeated measurements.
func Spread(vals []float64, format string) string {
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	if len(s) == 0 {
		return "n/a"
	}
	f := func(v float64) string { return fmt.Sprintf(format, v) }
	return f(s[0]) + " / " + f(s[len(s)/2]) + " / " + f(s[len(s)-1])
}

// Machine describes where the figures were taken.
func Machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(line[strings.IndexByte(line, ':')+1:])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		fields := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		if len(fields) >= 2 {
			kb, _ := strconv.ParseFloat(fields[1], 64)
			mem = fmt.Sprintf(", %.0f GiB", kb/1024/1024)
		}
	}
	return fmt.Sprintf("%d CPUs (%s)%s, %s", runtime.NumCPU(), model, mem, runtime.Version())
}

// CPUTime is the process's user+system CPU time so far.
func (p *Process) CPUTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.Cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces) start after ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// MachineBusy returns the machine's busy CPU time so far (all CPUs).
func MachineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return time.Duration(busy) * time.Second / 100
}

// CPUMeter measures CPU use of processes and of the machine over a phase.
type CPUMeter struct {
	procs []*Process
	start []time.Duration
	mach  time.Duration
	t0    time.Time
}

// StartCPU begins measuring.
func StartCPU(procs ...*Process) *CPUMeter {
	m := &CPUMeter{mach: MachineBusy(), t0: time.Now()}
	for _, p := range procs {
		if p != nil {
			m.procs = append(m.procs, p)
			m.start = append(m.start, p.CPUTime())
		}
	}
	return m
}

// String reports cores used per process and by the whole machine.
func (m *CPUMeter) String() string {
	wall := time.Since(m.t0).Seconds()
	var parts []string
	for i, p := range m.procs {
		parts = append(parts, fmt.Sprintf("%s %.2f", p.Name, (p.CPUTime()-m.start[i]).Seconds()/wall))
	}
	parts = append(parts, fmt.Sprintf("machine %.2f of %d", (MachineBusy()-m.mach).Seconds()/wall, runtime.NumCPU()))
	return "cores used: " + strings.Join(parts, ", ")
}

// ControlPlane is Debian's etcd and keel-apiserver running as processes, the
// apiserver serving plain text on a loopback port.
type ControlPlane struct {
	Etcd, APIServer *Process
	EtcdURL         string // etcd's client URL
	APIAddr         string // the apiserver's loopback gRPC address
	HTTPURL         string // the apiserver's /metrics, /readyz, /debug/pprof
}

// StartControlPlane starts keel-apiserver and etcd (fsync on, as in
// production) in dir, and waits until both are ready. With etcdBin, etcd
// runs as a process of its own (Etcd), which the apiserver reaches over
// gRPC. With etcdBin empty the apiserver runs its embedded member, the
// single-machine default: Etcd is nil, and EtcdURL is the member's client
// URL.
func StartControlPlane(ctx context.Context, dir, etcdBin, apiserverBin string) (*ControlPlane, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	etcdPort, peerPort, apiPort, httpPort := FreePort(), FreePort(), FreePort(), FreePort()
	cp := &ControlPlane{
		EtcdURL: fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		APIAddr: fmt.Sprintf("127.0.0.1:%d", apiPort),
		HTTPURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
	}
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	name, args := "apiserver+etcd", []string{"--data-dir", filepath.Join(dir, "embedded-etcd"),
		"--embedded-etcd-client-url", cp.EtcdURL, "--embedded-etcd-peer-url", peer}
	if etcdBin != "" {
		var err error
		cp.Etcd, err = Start(dir, "etcd", etcdBin, "--data-dir", filepath.Join(dir, "etcd"),
			"--listen-client-urls", cp.EtcdURL, "--advertise-client-urls", cp.EtcdURL,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "default="+peer,
			"--quota-backend-bytes", fmt.Sprint(8<<30), "--max-request-bytes", fmt.Sprint(3<<20))
		if err != nil {
			return nil, err
		}
		if err := WaitHTTP(wctx, cp.EtcdURL+"/health", cp.Etcd); err != nil {
			cp.Stop()
			return nil, err
		}
		name, args = "apiserver", []string{"--etcd-servers", cp.EtcdURL}
	}
	var err error
	cp.APIServer, err = Start(dir, name, append(append([]string{apiserverBin}, args...),
		"--secure-address", "", "--insecure-address", cp.APIAddr,
		"--http-address", fmt.Sprintf("127.0.0.1:%d", httpPort), "--log-level", "warn")...)
	if err != nil {
		cp.Stop()
		return nil, err
	}
	if err := WaitHTTP(wctx, cp.HTTPURL+"/readyz", cp.APIServer); err != nil {
		cp.Stop()
		return nil, err
	}
	return cp, nil
}

// Stop stops the apiserver, then etcd.
func (cp *ControlPlane) Stop() {
	cp.APIServer.Stop()
	cp.Etcd.Stop()
}

// WriteKubeconfig writes dir/client.conf, a client configuration for the
// control plane's plain-text loopback listener, and returns its path.
func (cp *ControlPlane) WriteKubeconfig(dir string) (string, error) {
	path := filepath.Join(dir, "client.conf")
	conf := fmt.Sprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: bench\n  cluster:\n    servers: [\"http://%s\"]\ncontexts:\n- name: bench\n  context: {cluster: bench}\ncurrent-context: bench\n", cp.APIAddr)
	return path, os.WriteFile(path, []byte(conf), 0o600)
}
