package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	clientconfig "keel.dev/keel/pkg/client/config"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/scheduler/app"
	"keel.dev/keel/pkg/scheduler/config"
	"keel.dev/keel/pkg/scheduler/plugins"
)

// These tests run the real keel-scheduler binary, built once, against an
// in-process apiserver on embedded etcd, with TLS and RBAC.
var binary string

func TestMain(m *testing.M) { daemontest.Main(m, "keel-scheduler", &binary) }

type proc struct {
	*daemontest.Proc
	httpAddr string
}

func start(t *testing.T, httpAddr string, args ...string) *proc {
	t.Helper()
	return &proc{Proc: daemontest.Start(t, binary, args...), httpAddr: httpAddr}
}

func (p *proc) get(path string) (int, string) {
	resp, err := http.Get("http://" + p.httpAddr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds, the process exits, or the timeout.
func (p *proc) waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-p.Done():
			t.Fatalf("keel-scheduler exited (%v) while waiting for %s\n%s", p.Cmd.ProcessState, what, p.Out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\n%s", what, p.Out.String())
		}
		<-tick.C
	}
}

func (p *proc) leading() bool {
	code, body := p.get("/metrics")
	return code == 200 && strings.Contains(body, "\nkeel_scheduler_leader 1\n")
}

type env struct {
	dir, kubeconfig string
	c               *client.Client
	ctx             context.Context
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// The scheduler runs as itself (its certificate, its bootstrap role);
	// the test acts as the admin.
	api := testserver.StartSecure(t, nil, nil)
	api.FailOnForbidden()
	e := &env{dir: t.TempDir()}
	e.kubeconfig = api.Kubeconfig(pki.SchedulerName)
	c, err := client.New(client.Options{Servers: []string{api.Addr}, TLS: api.TLS(pki.AdminName)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e.c = c
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e.ctx = ctx
	return e
}

// configFile writes a scheduler config file with fast leader election.
func (e *env) configFile(t *testing.T, name, httpAddr, extra string) string {
	t.Helper()
	path := filepath.Join(e.dir, name)
	text := fmt.Sprintf("kubeconfig: %s\nhttp-address: %s\nleader-elect-lease-duration: 2s\nleader-elect-renew-deadline: 1200ms\nleader-elect-retry-period: 200ms\nlog-level: warn\n%s", e.kubeconfig, httpAddr, extra)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func (e *env) createNode(t *testing.T, name string) {
	t.Helper()
	res := map[string]*metav1.Quantity{"cpu": {String_: "4"}, "memory": {String_: "8Gi"}, "pods": {String_: "110"}}
	if _, err := e.c.Nodes().Create(e.ctx, &corev1.Node{
		Metadata: &metav1.ObjectMeta{Name: name},
		Status:   &corev1.NodeStatus{Allocatable: res, Capacity: res, Conditions: []*corev1.NodeCondition{{Type: "Ready", Status: "True"}}},
	}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) createPod(t *testing.T, name string) {
	t.Helper()
	if _, err := e.c.Pods("default").Create(e.ctx, &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox",
			Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"cpu": {String_: "100m"}}}}}},
	}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) bound(t *testing.T, name string) func() bool {
	return func() bool {
		p, err := e.c.Pods("default").Get(e.ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return p.GetSpec().GetNodeName() != ""
	}
}

func TestSchedulesWithConfigFile(t *testing.T) {
	e := newEnv(t)
	httpAddr := daemontest.FreePorts(t, 1)[0]
	p := start(t, httpAddr, "--config", e.configFile(t, "scheduler.yaml", httpAddr, ""))
	p.waitFor(t, 30*time.Second, func() bool { code, _ := p.get("/readyz"); return code == 200 }, "/readyz")
	p.waitFor(t, 30*time.Second, p.leading, "leadership")
	e.createNode(t, "n1")
	e.createPod(t, "p1")
	p.waitFor(t, 30*time.Second, e.bound(t, "p1"), "p1 to be bound")

	if code, body := p.get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz: %d %q", code, body)
	}
	p.waitFor(t, 10*time.Second, func() bool {
		_, body := p.get("/metrics")
		return strings.Contains(body, `keel_scheduler_schedule_attempts_total{result="scheduled"} 1`)
	}, "the scheduled attempt in /metrics")
	_, metrics := p.get("/metrics")
	for _, want := range []string{"keel_scheduler_e2e_scheduling_duration_seconds_count 1", `keel_scheduler_pending_pods{queue="active"} 0`,
		"keel_scheduler_preemption_victims_bucket", "keel_scheduler_scheduling_algorithm_duration_seconds_bucket"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// A clean stop releases the lease at once.
	p.Stop(t)
	if p.Cmd.ProcessState.ExitCode() != 0 {
		t.Errorf("exit code %d\n%s", p.Cmd.ProcessState.ExitCode(), p.Out.String())
	}
	lease, err := e.c.Leases("kube-system").Get(e.ctx, "keel-scheduler")
	if err != nil {
		t.Fatal(err)
	}
	if h := lease.GetSpec().GetHolderIdentity(); h != "" {
		t.Errorf("lease still held by %q after a clean stop", h)
	}
}

func TestStandbyTakesOver(t *testing.T) {
	e := newEnv(t)
	e.createNode(t, "n1")
	addrs := daemontest.FreePorts(t, 2)
	procs := []*proc{
		start(t, addrs[0], "--config", e.configFile(t, "a.yaml", addrs[0], "")),
		start(t, addrs[1], "--config", e.configFile(t, "b.yaml", addrs[1], "")),
	}
	var leader, standby *proc
	procs[0].waitFor(t, 30*time.Second, func() bool {
		for i, p := range procs {
			if p.leading() {
				leader, standby = p, procs[1-i]
				return true
			}
		}
		return false
	}, "a leader")
	if code, _ := standby.get("/readyz"); code != 200 {
		standby.waitFor(t, 30*time.Second, func() bool { code, _ := standby.get("/readyz"); return code == 200 }, "the standby's /readyz")
	}
	e.createPod(t, "before")
	leader.waitFor(t, 30*time.Second, e.bound(t, "before"), "the leader to bind")
	leader.Stop(t)
	standby.waitFor(t, 10*time.Second, standby.leading, "the standby to lead")
	e.createPod(t, "after")
	standby.waitFor(t, 30*time.Second, e.bound(t, "after"), "the new leader to bind")
}

func TestRefusesBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	daemontest.ExitsWith(t, binary, `unknown setting "scheduler-nme"`, "--config", write("bad.yaml", "scheduler-nme: x\n"))
	daemontest.ExitsWith(t, binary, "plugins.NodeAfinity: unknown plugin", "--plugin-config", write("plugins.yaml", "plugins:\n  NodeAfinity: {enabled: false}\n"))
	daemontest.ExitsWith(t, binary, "no bind plugin", "--plugin-config", write("nobind.yaml", "plugins:\n  DefaultBinder: {enabled: false}\n"))
	daemontest.ExitsWith(t, binary, "--percentage-of-nodes-to-score", "--percentage-of-nodes-to-score", "101")
	daemontest.ExitsWith(t, binary, "current-context", "--kubeconfig", write("empty.conf", "apiVersion: v1\nkind: Config\n"))
}

func TestShippedConfigAndUnit(t *testing.T) {
	cmd := app.NewCommand()
	daemontest.ShippedConfig(t, cmd.Flags(), "../../manifests/systemd/scheduler.yaml",
		map[string]string{"kubeconfig": "/etc/keel/scheduler.conf", "leader-elect": "true", "scheduler-name": "default-scheduler"})
	// The example plugin file spells out the defaults.
	pc, err := config.Load("../../manifests/systemd/scheduler-plugins.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pc.Resolve(plugins.DefaultPlugins(), plugins.OptionalPlugins())
	if err != nil {
		t.Fatal(err)
	}
	defaults := plugins.DefaultPlugins()
	if len(got) != len(defaults) {
		t.Fatalf("the example plugin config enables %d plugins, the defaults %d", len(got), len(defaults))
	}
	for i := range got {
		if got[i].Name != defaults[i].Name || max(got[i].Weight, 1) != max(defaults[i].Weight, 1) {
			t.Errorf("plugin %d: %s weight %d, default %s weight %d", i, got[i].Name, got[i].Weight, defaults[i].Name, defaults[i].Weight)
		}
	}
	if _, err := clientconfig.Load("../../manifests/systemd/scheduler.conf"); err != nil {
		t.Errorf("the example client configuration: %v", err)
	}

	daemontest.VerifyUnit(t, "../../manifests/systemd/keel-scheduler.service", binary)
}
