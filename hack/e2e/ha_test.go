package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/testutil"
)

// TestHAControlPlaneSurvivesLosingAnApiserverAndTheLeaders runs an HA
// control plane as separate processes: one etcd, two apiservers, two
// schedulers and two controller-managers (leader-elected), and a hollow
// kubelet with three nodes, every client listing both apiservers. A
// Deployment rolls out; then one apiserver and the leading scheduler and
// controller-manager are killed (SIGKILL), and scaling the Deployment up
// still ends with every replica ready: clients fail over to the other
// apiserver and the standbys take over.
func TestHAControlPlaneSurvivesLosingAnApiserverAndTheLeaders(t *testing.T) {
	etcdBin := "/usr/bin/etcd"
	if _, err := os.Stat(etcdBin); err != nil {
		testutil.Missing(t, "needs Debian's etcd-server (hack/install-deps.sh)")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "./cmd/apiserver", "./cmd/scheduler", "./cmd/controller-manager", "./cmd/kubelet")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the daemons: %v\n%s", err, out)
	}
	dir := t.TempDir()
	p := daemontest.FreePorts(t, 12)
	port := func(i int) string { return p[i][strings.LastIndexByte(p[i], ':')+1:] }

	etcdURL := "http://" + p[0]
	daemontest.Start(t, etcdBin, "--data-dir", filepath.Join(dir, "etcd"), "--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://"+p[1], "--initial-advertise-peer-urls", "http://"+p[1], "--initial-cluster", "default=http://"+p[1])
	waitHTTP(t, etcdURL+"/health")

	var apis []*daemontest.Proc
	servers := []string{p[2], p[3]}
	for i, addr := range servers {
		http := p[4+i]
		apis = append(apis, daemontest.Start(t, filepath.Join(bin, "apiserver"), "--etcd-servers", etcdURL,
			"--secure-address", "", "--insecure-address", addr, "--http-address", http, "--log-level", "warn"))
		waitHTTP(t, "http://"+http+"/readyz")
	}
	kubeconfig := daemontest.Kubeconfig(t, servers...)
	election := []string{"--leader-elect-lease-duration", "2s", "--leader-elect-renew-deadline", "1200ms", "--leader-elect-retry-period", "200ms", "--log-level", "warn"}
	type daemon struct {
		proc    *daemontest.Proc
		metrics string
	}
	var scheds, cms []daemon
	for i := range 2 {
		a := p[6+i]
		scheds = append(scheds, daemon{daemontest.Start(t, filepath.Join(bin, "scheduler"), append([]string{"--kubeconfig", kubeconfig, "--http-address", a}, election...)...), a})
		b := p[8+i]
		cms = append(cms, daemon{daemontest.Start(t, filepath.Join(bin, "controller-manager"), append([]string{"--kubeconfig", kubeconfig, "--http-address", b}, election...)...), b})
	}
	daemontest.Start(t, filepath.Join(bin, "kubelet"), "--server", servers[0]+","+servers[1], "--insecure", "--runtime", "fake",
		"--hollow-nodes", "3", "--hollow-node-prefix", "hollow", "--node-ip", "127.0.0.1", "--healthz-address", p[10], "--port", port(11),
		"--root-dir", filepath.Join(dir, "kubelet"), "--log-level", "warn")

	c, err := client.New(client.Options{Servers: servers, Insecure: true, UserAgent: "ha-e2e"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	n := int32(6)
	d := &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &appsv1.DeploymentSpec{Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "registry.keel.test/pause:3.9"}}}}},
	}
	readyIs := func(want int32) {
		t.Helper()
		testutil.Eventually(t, 2*time.Minute, "deployment web ready", func() error {
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
			defer rcancel()
			cur, err := c.Deployments("default").Get(rctx, "web")
			if err != nil {
				return err
			}
			if st := cur.GetStatus(); st.GetReadyReplicas() != want || st.GetUpdatedReplicas() != want {
				return fmt.Errorf("deployment web: status %v, want %d ready", st, want)
			}
			return nil
		})
	}
	testutil.Eventually(t, 2*time.Minute, "the Deployment created", func() error {
		_, err := c.Deployments("default").Create(ctx, d, client.CreateOptions{})
		return err // the first create may race the default namespace's creation
	})
	readyIs(6)

	// Kill one apiserver and whichever scheduler and controller-manager lead.
	leader := func(ds []daemon, metric string) int {
		t.Helper()
		i := -1
		testutil.Eventually(t, 30*time.Second, "the leader elected", func() error {
			for j, d := range ds {
				if strings.Contains(get("http://"+d.metrics+"/metrics"), "\n"+metric+" 1\n") {
					i = j
					return nil
				}
			}
			return fmt.Errorf("no %s", metric)
		})
		return i
	}
	kill := func(p *daemontest.Proc) {
		_ = p.Cmd.Process.Kill()
		<-p.Done()
	}
	kill(apis[0])
	kill(scheds[leader(scheds, "keel_scheduler_leader")].proc)
	kill(cms[leader(cms, "keel_controller_manager_leader")].proc)

	testutil.Eventually(t, time.Minute, "the Deployment scaled through the other apiserver", func() error {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		defer rcancel()
		cur, err := c.Deployments("default").Get(rctx, "web")
		if err != nil {
			return err
		}
		nine := int32(9)
		cur.Spec.Replicas = &nine
		_, err = c.Deployments("default").Update(rctx, cur, client.UpdateOptions{})
		return err
	})
	readyIs(9)
}

func waitHTTP(t *testing.T, url string) {
	t.Helper()
	testutil.Eventually(t, time.Minute, "URL answering", func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	})
}

func get(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
