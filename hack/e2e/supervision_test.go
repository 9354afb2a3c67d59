package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/testutil"
)

// outage is how long the apiserver stays down.
const outage = 30 * time.Second

// TestLocalUpSupervision: hack/local-up.sh supervises its daemons, so the
// cluster comes back by itself after the apiserver was down for 30s.
//
// The outage is a crash followed by a slow restart: the test pauses the
// apiserver's supervisor (SIGSTOP), kills the apiserver (SIGKILL), and
// resumes the supervisor 30s later, which then restarts the apiserver as
// it restarts any daemon that exits. Meanwhile the scheduler and the
// controller-manager lose their leader leases and exit, as Kubernetes'
// do, and their supervisors restart them; the kubelet and the proxy keep
// running and reconnect. Within 30s of the apiserver's return a new
// Deployment's pods run.
func TestLocalUpSupervision(t *testing.T) {
	lc := localUp(t)
	daemonPid := func(name string) int {
		t.Helper()
		sup := pids(filepath.Join(lc.dir, "run", name+".pid"))
		if len(sup) != 1 {
			t.Fatalf("no pidfile for %s", name)
		}
		var child int
		testutil.Eventually(t, 30*time.Second, name+" running under its supervisor", func() error {
			if child = childOf(sup[0]); child == 0 {
				return fmt.Errorf("supervisor %d of %s has no child", sup[0], name)
			}
			return nil
		})
		return child
	}
	restarts := func(name string) int {
		b, _ := os.ReadFile(filepath.Join(lc.dir, "logs", name+".log"))
		return strings.Count(string(b), "supervise: "+name+" exited")
	}
	kubelet, proxy := daemonPid("kubelet"), daemonPid("proxy")
	supervisor := pids(filepath.Join(lc.dir, "run", "apiserver.pid"))[0]
	apiserver := daemonPid("apiserver")

	if err := syscall.Kill(supervisor, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(supervisor, syscall.SIGCONT); err != nil {
				t.Errorf("resuming the apiserver's supervisor: %v", err)
			}
		}
	}
	defer resume()
	if err := syscall.Kill(apiserver, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	// Leader leases last 15s: both leaders lose theirs within the outage.
	testutil.Eventually(t, outage, "the scheduler and the controller-manager exited on lost leadership", func() error {
		for _, name := range []string{"scheduler", "controller-manager"} {
			if restarts(name) == 0 {
				return fmt.Errorf("%s has not exited", name)
			}
		}
		return nil
	})
	for _, name := range []string{"scheduler", "controller-manager"} {
		if b, _ := os.ReadFile(filepath.Join(lc.dir, "logs", name+".log")); !strings.Contains(string(b), "leader election lost") {
			t.Errorf("%s exited, but not on lost leadership:\n%s", name, tailLogs(lc.dir, "logs/"+name+".log"))
		}
	}
	// The outage itself is the stimulus: the rest of the 30s.
	time.Sleep(time.Until(down.Add(outage)))
	for name, pid := range map[string]int{"kubelet": kubelet, "proxy": proxy} {
		if syscall.Kill(pid, 0) != nil || restarts(name) != 0 {
			t.Errorf("the %s exited while the apiserver was down:\n%s", name, tailLogs(lc.dir, "logs/"+name+".log"))
		}
	}
	resume()
	// "Started again" is when the supervisor has restarted it.
	testutil.Eventually(t, 30*time.Second, "the apiserver restarted by its supervisor", func() error {
		if pid := childOf(supervisor); pid == 0 || pid == apiserver || processName(pid) != "keel-apiserver" {
			return fmt.Errorf("no new apiserver process yet")
		}
		return nil
	})
	back := time.Now()

	manifest := filepath.Join(lc.dir, "after-outage.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: after-outage
spec:
  replicas: 2
  selector:
    matchLabels: {app: after-outage}
  template:
    metadata:
      labels: {app: after-outage}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: sleep
        image: registry.keel.test/busybox:1.35
        command: ["sleep", "3600"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	applied := false
	testutil.Eventually(t, outage, "a new Deployment's pods running after the apiserver came back", func() error {
		if !applied {
			if out, err := lc.keelctl("apply", "-f", manifest); err != nil {
				return fmt.Errorf("keelctl apply: %v\n%s", err, out)
			}
			applied = true
			t.Logf("the Deployment applied %s after the apiserver's restart", time.Since(back).Round(100*time.Millisecond))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		l, err := lc.client.Pods("default").List(ctx, client.ListOptions{LabelSelector: "app=after-outage"})
		if err != nil {
			return err
		}
		running, states := 0, []string{}
		for _, p := range l.Items {
			if p.GetStatus().GetPhase() == api.PodRunning {
				running++
			}
			states = append(states, fmt.Sprintf("%s on %q: %s %v", p.GetMetadata().GetName(), p.GetSpec().GetNodeName(), p.GetStatus().GetPhase(), p.GetStatus().GetConditions()))
		}
		if running != 2 {
			return fmt.Errorf("%d pods, %d running: %s", len(l.Items), running, strings.Join(states, "; "))
		}
		return nil
	})
	t.Logf("the Deployment's pods ran %s after the apiserver's restart", time.Since(back).Round(100*time.Millisecond))
	for _, name := range []string{"scheduler", "controller-manager"} {
		if at, ok := lastLogTime(filepath.Join(lc.dir, "logs", name+".log"), `"msg":"became leader"`); ok {
			t.Logf("the %s became leader %s after the apiserver's restart", name, at.Sub(back).Round(100*time.Millisecond))
		}
	}
	if restarts("apiserver") != 1 {
		t.Errorf("the apiserver restarted %d times, want once", restarts("apiserver"))
	}
	for name, pid := range map[string]int{"kubelet": kubelet, "proxy": proxy} {
		if syscall.Kill(pid, 0) != nil {
			t.Errorf("the %s (pid %d) is gone", name, pid)
		}
	}
}

// lastLogTime is the time of the last line of the zap JSON log at path
// that contains substr.
func lastLogTime(path, substr string) (time.Time, bool) {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.Contains(lines[i], substr) {
			continue
		}
		var l struct {
			TS string `json:"ts"`
		}
		if json.Unmarshal([]byte(lines[i]), &l) != nil {
			return time.Time{}, false
		}
		at, err := time.Parse(time.RFC3339Nano, l.TS)
		return at, err == nil
	}
	return time.Time{}, false
}

// processName is the command name of pid ("" if it is gone).
func processName(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// childOf is a child process of pid (0 if none).
func childOf(pid int) int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, stat := range stats {
		b, err := os.ReadFile(stat)
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) && fields[0] != "Z" {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
			return child
		}
	}
	return 0
}
