// Package benchutil starts the real daemons as processes and formats the
// figures `make bench` prints: min / median / max over runs, percentiles,
// and a process's peak memory.
package benchutil

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	keelapi "keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/etcdserver"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheme"
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

// LastLine returns the last non-empty line of the process's log, for an
// error that says why it ended.
func (p *Process) LastLine() string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
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
			return fmt.Errorf("%s exited (%s); see %s", p.Name, p.LastLine(), p.Log)
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

// Median is the median of vals (the upper one of an even count), the
// figure Spread prints in the middle.
func Median(vals []float64) float64 {
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	return s[len(s)/2]
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

// BenchUser is the user the benchmarks' clients create and read
// objects as: no cluster admin, but bound (ClusterRoleBinding BenchUser)
// to the ClusterRole BenchUser, which allows what the workloads do (pods,
// nodes, namespaces; reading node leases), so that its calls pay for authorization as any
// user's do.
const BenchUser = "keel-bench"

// monitorUser scrapes the apiserver's /metrics (group system:monitoring).
const monitorUser = "keel-bench-monitor"

// AuthzModes are the --authorization-mode settings the benchmarks compare,
// from $BENCH_AUTHZ (space-separated settings, e.g. "Node,RBAC
// AlwaysAllow"); def when it is unset.
func AuthzModes(def string) []string {
	if v := strings.TrimSpace(os.Getenv("BENCH_AUTHZ")); v != "" {
		return strings.Fields(v)
	}
	return strings.Fields(def)
}

// ControlPlane is Debian's etcd and keel-apiserver running as processes, the
// apiserver serving TLS only, as clusters run it: every caller authenticated
// by its certificate and authorized with Authz.
type ControlPlane struct {
	Etcd, APIServer *Process
	EtcdURL         string      // etcd's client URL
	EtcdTLS         *tls.Config // for EtcdURL: the embedded member's is https:// and wants the apiserver-etcd-client certificate; nil for a separate etcd
	APIAddr         string      // the apiserver's secure port: gRPC and HTTPS (/metrics, /debug/pprof/)
	HealthURL       string      // the apiserver's plain /healthz, /readyz
	PKIDir          string      // the cluster's key pairs (pki.Init): the daemons', the admin's, BenchUser's, each node's
	Authz           string      // --authorization-mode
}

// StartControlPlane starts keel-apiserver and etcd (fsync on, as in
// production) in dir with --authorization-mode=authz, and waits until both
// are ready; nodes get kubelet certificates (PKIDir/kubelet-NODE-client.crt).
// With etcdBin, etcd runs as a process of its own (Etcd), which the
// apiserver reaches over gRPC. With etcdBin empty the apiserver runs its
// embedded member, the single-machine default: Etcd is nil, and EtcdURL is
// the member's client URL (https://, reached with EtcdTLS).
func StartControlPlane(ctx context.Context, dir, etcdBin, apiserverBin, authz string, nodes ...string) (*ControlPlane, error) {
	return StartControlPlaneWith(ctx, dir, etcdBin, apiserverBin, authz, nil, nodes...)
}

// StartControlPlaneWith is StartControlPlane with more keel-apiserver
// flags (extra), as a benchmark comparing settings needs. A start that
// loses one of its FreePort ports to another process before binding it
// ("address already in use") is tried again, afresh in dir, with new ports.
func StartControlPlaneWith(ctx context.Context, dir, etcdBin, apiserverBin, authz string, extra []string, nodes ...string) (*ControlPlane, error) {
	for attempt := 1; ; attempt++ {
		cp, err := startControlPlane(ctx, dir, etcdBin, apiserverBin, authz, extra, nodes)
		if err == nil || attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return cp, err
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	}
}

func startControlPlane(ctx context.Context, dir, etcdBin, apiserverBin, authz string, extra []string, nodes []string) (*ControlPlane, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	etcdPort, peerPort, apiPort, httpPort := FreePort(), FreePort(), FreePort(), FreePort()
	cp := &ControlPlane{
		EtcdURL:   fmt.Sprintf("http://127.0.0.1:%d", etcdPort),
		APIAddr:   fmt.Sprintf("127.0.0.1:%d", apiPort),
		HealthURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		PKIDir:    filepath.Join(dir, "pki"),
		Authz:     authz,
	}
	opts := pki.InitOptions{Dir: cp.PKIDir, Hostname: "localhost"}
	for _, n := range nodes {
		opts.Nodes = append(opts.Nodes, pki.Node{Name: n})
	}
	if _, err := pki.Init(opts); err != nil {
		return nil, err
	}
	for name, spec := range map[string]pki.CertSpec{
		BenchUser:   {CommonName: BenchUser, Client: true},
		monitorUser: {CommonName: monitorUser, Organization: []string{"system:monitoring"}, Client: true},
	} {
		if _, err := pki.IssueInDir(cp.PKIDir, name, spec); err != nil {
			return nil, err
		}
	}
	peer := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var name string
	var args []string
	if etcdBin == "" {
		cp.EtcdURL = fmt.Sprintf("https://127.0.0.1:%d", etcdPort)
		serving := etcdserver.ServingFiles(cp.PKIDir)
		name, args = "apiserver+etcd", []string{"--data-dir", filepath.Join(dir, "embedded-etcd"), "--embedded-etcd-client-url", cp.EtcdURL,
			"--embedded-etcd-cert-file", serving.CertFile, "--embedded-etcd-key-file", serving.KeyFile, "--embedded-etcd-trusted-ca-file", serving.TrustedCAFile}
		var err error
		if cp.EtcdTLS, err = pki.ClientTLSConfig(serving.TrustedCAFile,
			pki.CertPath(cp.PKIDir, pki.APIServerEtcdClientName), pki.KeyPath(cp.PKIDir, pki.APIServerEtcdClientName), ""); err != nil {
			return nil, err
		}
	} else {
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
	args = append(args, extra...)
	cp.APIServer, err = Start(dir, name, append(append([]string{apiserverBin}, args...),
		"--secure-address", cp.APIAddr, "--authorization-mode", authz,
		"--tls-cert-file", pki.CertPath(cp.PKIDir, pki.APIServerName), "--tls-private-key-file", pki.KeyPath(cp.PKIDir, pki.APIServerName),
		"--client-ca-file", pki.CertPath(cp.PKIDir, pki.CAName),
		"--http-address", fmt.Sprintf("127.0.0.1:%d", httpPort), "--log-level", "warn")...)
	if err != nil {
		cp.Stop()
		return nil, err
	}
	if err := WaitHTTP(wctx, cp.HealthURL+"/readyz", cp.APIServer); err != nil {
		cp.Stop()
		return nil, err
	}
	if err := cp.bindBenchUser(wctx); err != nil {
		cp.Stop()
		return nil, err
	}
	return cp, nil
}

// bindBenchUser creates the ClusterRole and ClusterRoleBinding BenchUser.
func (cp *ControlPlane) bindBenchUser(ctx context.Context) error {
	admin, err := cp.Client(pki.AdminName, "bench-setup")
	if err != nil {
		return err
	}
	defer admin.Close()
	rules := []*rbacv1.PolicyRule{
		{Verbs: []string{"create", "get", "list", "watch", "update", "delete"}, ApiGroups: []string{""}, Resources: []string{"pods", "nodes", "nodes/status", "namespaces", "serviceaccounts"}},
		{Verbs: []string{"create", "get", "list", "watch", "update", "delete"}, ApiGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets", "daemonsets"}},
		{Verbs: []string{"get", "list", "watch"}, ApiGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}},
		{Verbs: []string{"create", "get", "list", "watch"}, ApiGroups: []string{"apps"}, Resources: []string{"statefulsets"}},
	}
	if _, err := client.For[*rbacv1.ClusterRole](admin, "").Create(ctx, &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: BenchUser}, Rules: rules}, client.CreateOptions{}); err != nil {
		return fmt.Errorf("ClusterRole %s: %w", BenchUser, err)
	}
	_, err = client.For[*rbacv1.ClusterRoleBinding](admin, "").Create(ctx, &rbacv1.ClusterRoleBinding{Metadata: &metav1.ObjectMeta{Name: BenchUser},
		RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: BenchUser},
		Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: BenchUser}}}, client.CreateOptions{})
	if err != nil {
		return fmt.Errorf("ClusterRoleBinding %s: %w", BenchUser, err)
	}
	// The binding works once the apiserver's RBAC cache has it.
	c, err := cp.Client(BenchUser, "bench-setup")
	if err != nil {
		return err
	}
	defer c.Close()
	for {
		if _, err := c.Namespaces().List(ctx, client.ListOptions{ResourceVersion: "0"}); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("%s cannot list namespaces: %w", BenchUser, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TLS is the client TLS configuration of the key pair name of PKIDir
// (pki.AdminName, pki.SchedulerName, BenchUser…).
func (cp *ControlPlane) TLS(name string) (*tls.Config, error) {
	return pki.ClientTLSConfig(pki.CertPath(cp.PKIDir, pki.CAName), pki.CertPath(cp.PKIDir, name), pki.KeyPath(cp.PKIDir, name), "localhost")
}

// Client connects to the apiserver as the key pair name.
func (cp *ControlPlane) Client(name, userAgent string) (*client.Client, error) {
	tc, err := cp.TLS(name)
	if err != nil {
		return nil, err
	}
	return client.New(client.Options{Servers: []string{cp.APIAddr}, TLS: tc, UserAgent: userAgent})
}

// GetHTTPS GETs path from the apiserver's secure port: /metrics as a
// member of system:monitoring, anything else (/debug/pprof/…) as the
// admin.
func (cp *ControlPlane) GetHTTPS(path string) (*http.Response, error) {
	name := pki.AdminName
	if path == "/metrics" {
		name = monitorUser
	}
	tc, err := cp.TLS(name)
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
	return c.Get("https://" + cp.APIAddr + path)
}

// Profile records the apiserver's CPU profile and its allocations over
// the next 8 seconds, as dir/<phase>.pprof and dir/<phase>.allocs.pprof
// (read them with `go tool pprof`); nothing when dir is "". The returned
// function waits for both to be saved; a profile that cannot be fetched
// is left out.
func (cp *ControlPlane) Profile(dir, phase string) func() {
	if dir == "" {
		return func() {}
	}
	var wg sync.WaitGroup
	for path, file := range map[string]string{"profile": phase + ".pprof", "allocs": phase + ".allocs.pprof"} {
		wg.Go(func() {
			resp, err := cp.GetHTTPS("/debug/pprof/" + path + "?seconds=8")
			if err != nil {
				return
			}
			defer resp.Body.Close()
			f, err := os.Create(filepath.Join(dir, file))
			if err != nil {
				return
			}
			defer f.Close()
			_, _ = io.Copy(f, resp.Body)
		})
	}
	return wg.Wait
}

// Metrics reads the apiserver's /metrics, by family name.
func (cp *ControlPlane) Metrics() (map[string]*dto.MetricFamily, error) {
	resp, err := cp.GetHTTPS("/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// Labels are a metric's labels, by name.
func Labels(m *dto.Metric) map[string]string {
	l := map[string]string{}
	for _, p := range m.GetLabel() {
		l[p.GetName()] = p.GetValue()
	}
	return l
}

// Rejections lists the requests the apiserver's flow control refused
// (apiserver_flowcontrol_rejected_requests_total), as "level/reason N"
// summed over flow schemas, sorted; "none" when it refused none.
func Rejections(families map[string]*dto.MetricFamily) string {
	counts := map[string]float64{} // by level/reason, over flow schemas
	for _, m := range families["apiserver_flowcontrol_rejected_requests_total"].GetMetric() {
		l := Labels(m)
		counts[l["priority_level"]+"/"+l["reason"]] += m.GetCounter().GetValue()
	}
	var out []string
	for k, v := range counts {
		if v > 0 {
			out = append(out, fmt.Sprintf("%s %.0f", k, v))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Stop stops the apiserver, then etcd.
func (cp *ControlPlane) Stop() {
	cp.APIServer.Stop()
	cp.Etcd.Stop()
}

// WriteKubeconfig writes dir/NAME.conf, a client configuration for the
// apiserver's secure port as the key pair name, and returns its path.
func (cp *ControlPlane) WriteKubeconfig(dir, name string) (string, error) {
	path := filepath.Join(dir, name+".conf")
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster: {servers: [%q], certificate-authority: %q}
users:
- name: %s
  user: {client-certificate: %q, client-key: %q}
contexts:
- name: bench
  context: {cluster: bench, user: %s}
current-context: bench
`, cp.APIAddr, pki.CertPath(cp.PKIDir, pki.CAName), name, pki.CertPath(cp.PKIDir, name), pki.KeyPath(cp.PKIDir, name), name)
	return path, os.WriteFile(path, []byte(conf), 0o600)
}

// CreateNamespace creates the namespace name and its default
// ServiceAccount (DefaultServiceAccount).
func CreateNamespace(ctx context.Context, api apiv1.APIClient, name string) error {
	ns, err := scheme.Pack(&corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}})
	if err != nil {
		return err
	}
	if _, err := api.Create(ctx, &apiv1.CreateRequest{Resource: "namespaces", Object: ns}); err != nil {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return DefaultServiceAccount(ctx, api, name)
}

// DefaultServiceAccount creates the ServiceAccount "default" of namespace,
// as the controller-manager's serviceaccount controller would: the
// ServiceAccount admission plugin refuses pods until it exists, and a
// benchmark measures its workload, not the wait for that controller. An
// existing one (the controller was first) is fine.
func DefaultServiceAccount(ctx context.Context, api apiv1.APIClient, namespace string) error {
	sa, err := scheme.Pack(&corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: keelapi.DefaultServiceAccountName, Namespace: namespace}})
	if err != nil {
		return err
	}
	if _, err := api.Create(ctx, &apiv1.CreateRequest{Resource: "serviceaccounts", Namespace: namespace, Object: sa}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("service account %s/default: %w", namespace, err)
	}
	return nil
}

// Pod is the pod the benchmarks create: one container with requests of
// 100m CPU and 128Mi, label app=bench, nothing that runs it.
func Pod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app": "bench"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{
			Name: "c", Image: "registry.local/pause:3.9",
			Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{
				"cpu": {String_: "100m"}, "memory": {String_: "128Mi"}}},
		}}},
	}
}

// WorkDir is a benchmark's working directory: dir (its -dir flag) when
// set, kept afterwards; else a new temporary one named after prefix, which
// cleanup removes.
func WorkDir(dir, prefix string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// WaitFor polls cond every 20ms until it holds, or fails once timeout has
// passed, with cond's last error.
func WaitFor(timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not done after %s (last error: %v)", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// PodTimes records, from a watch of pods, when the last pod was first seen
// and when the last was first seen bound to a node. It is safe for
// concurrent use.
type PodTimes struct {
	mu                     sync.Mutex
	seen, onNode           map[string]bool
	lastCreated, lastBound time.Time
}

// Observe records an event about the pod name; bound says whether its
// spec.nodeName is set.
func (t *PodTimes) Observe(name string, bound bool) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen == nil {
		t.seen, t.onNode = map[string]bool{}, map[string]bool{}
	}
	if !t.seen[name] {
		t.seen[name], t.lastCreated = true, now
	}
	if bound && !t.onNode[name] {
		t.onNode[name], t.lastBound = true, now
	}
}

// Since returns the seconds from start to the last pod created and the
// last bound, once n pods were seen created and bound; else an error
// saying how many were.
func (t *PodTimes) Since(start time.Time, n int) (created, bound float64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.seen) != n || len(t.onNode) != n {
		return 0, 0, fmt.Errorf("the watch saw %d pods created and %d bound of %d", len(t.seen), len(t.onNode), n)
	}
	return t.lastCreated.Sub(start).Seconds(), t.lastBound.Sub(start).Seconds(), nil
}
