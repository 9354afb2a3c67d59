// Package e2e tests the README's quick start as a user runs it:
// hack/local-up.sh brings up a single-machine cluster that keelctl drives.
package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/testutil"
)

// TestLocalUp starts the cluster with hack/local-up.sh on ports of its own
// (so it runs beside other tests), then checks what the quick start
// promises: the node registers Ready; a pod applied with keelctl is
// scheduled, runs on containerd and serves on its pod IP from the host;
// keelctl logs, exec and delete work; a Deployment gets its pods running,
// rolls them to a new template (keelctl rollout status follows it) and back
// (rollout undo), and deleting it deletes them; a NodePort Service over it
// gets their IPs as Endpoints and, through keel-proxy's iptables rules,
// serves on its ClusterIP and its NodePort from the host, and on its DNS
// name from a pod; a Job runs to completion; the apiserver (RBAC) refuses
// none of the daemons, each running as itself; and --down stops every
// daemon and removes the proxy's rules.
func TestLocalUp(t *testing.T) {
	lc := localUp(t)
	dir, keelctl, logs, c := lc.dir, lc.keelctl, lc.logs, lc.client
	var err error

	manifest := filepath.Join(dir, "web.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: httpd
    image: registry.keel.test/busybox:1.35
    command: ["sh", "-c", "echo serving; exec httpd -f -p 8080 -h /var/www"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := keelctl("apply", "-f", manifest); err != nil || !strings.Contains(out, "pod/web created") {
		t.Fatalf("keelctl apply: %v\n%s", err, out)
	}

	var pod *corev1.Pod
	testutil.Eventually(t, 2*time.Minute, "pod web running", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if pod, err = c.Pods("default").Get(ctx, "web"); err != nil {
			return err
		}
		if pod.GetStatus().GetPhase() != api.PodRunning || pod.GetStatus().GetPodIp() == "" {
			return fmt.Errorf("pod web: phase %q, IP %q", pod.GetStatus().GetPhase(), pod.GetStatus().GetPodIp())
		}
		return nil
	})
	if !strings.HasPrefix(pod.GetStatus().GetPodIp(), "10.244.78.") {
		t.Errorf("pod IP %s outside the pod CIDR 10.244.78.0/24", pod.GetStatus().GetPodIp())
	}

	// No keep-alives: every attempt is a new connection, which the rules
	// see afresh (a connection made before they were in place never is).
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	testutil.Eventually(t, time.Minute, "the pod serving on its IP", func() error {
		resp, err := hc.Get("http://" + pod.GetStatus().GetPodIp() + ":8080/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), "keel busybox test image") {
			return fmt.Errorf("GET the pod: %s %q", resp.Status, b)
		}
		return nil
	})
	if out, err := keelctl("exec", "web", "--", "cat", "/var/www/index.html"); err != nil || out != "keel busybox test image\n" {
		t.Errorf("keelctl exec: %v %q", err, out)
	}
	if out, err := keelctl("logs", "web"); err != nil || out != "serving\n" {
		t.Errorf("keelctl logs: %v %q", err, out)
	}

	// A Deployment: applied, rolled out to a changed template, deleted.
	deploy := func(version string) {
		t.Helper()
		manifest := filepath.Join(dir, "echo.yaml")
		if err := os.WriteFile(manifest, []byte(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 2
  selector:
    matchLabels: {app: echo}
  template:
    metadata:
      labels: {app: echo}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: registry.keel.test/busybox:1.35
        command: ["httpd", "-f", "-p", "8080", "-h", "/var/www"]
        env: [{name: VERSION, value: "`+version+`"}]
`), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := keelctl("apply", "-f", manifest); err != nil {
			t.Fatalf("keelctl apply: %v\n%s", err, out)
		}
	}
	// echoPods lists the Deployment's pods.
	echoPods := func() ([]*corev1.Pod, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l, err := c.Pods("default").List(ctx, client.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			return nil, err
		}
		return l.Items, nil
	}
	// runs waits until exactly the Deployment's 2 pods run, all of version.
	runs := func(version string) {
		t.Helper()
		testutil.Eventually(t, 2*time.Minute, "Deployment echo at the version", func() error {
			pods, err := echoPods()
			if err != nil {
				return err
			}
			running := 0
			for _, p := range pods {
				env := p.GetSpec().GetContainers()[0].GetEnv()
				if p.GetStatus().GetPhase() == api.PodRunning && len(env) == 1 && env[0].GetValue() == version {
					running++
				}
			}
			if len(pods) != 2 || running != 2 {
				return fmt.Errorf("Deployment echo: %d pods, %d running version %s", len(pods), running, version)
			}
			return nil
		})
	}
	deploy("1")
	runs("1")
	deploy("2")
	if out, err := keelctl("rollout", "status", "deployment/echo", "--timeout", "2m"); err != nil || !strings.Contains(out, `deployment "echo" successfully rolled out`) {
		t.Fatalf("keelctl rollout status: %v\n%s\n%s", err, out, logs())
	}
	runs("2")
	if out, err := keelctl("rollout", "undo", "deployment/echo"); err != nil {
		t.Fatalf("keelctl rollout undo: %v\n%s", err, out)
	}
	runs("1")

	// A Service over the Deployment gets Endpoints: its pods' IPs.
	svcManifest := filepath.Join(dir, "svc.yaml")
	if err := os.WriteFile(svcManifest, []byte(`apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  type: NodePort
  selector: {app: echo}
  ports:
  - {name: http, port: 80, targetPort: 8080}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := keelctl("apply", "-f", svcManifest); err != nil {
		t.Fatalf("keelctl apply: %v\n%s", err, out)
	}
	testutil.Eventually(t, time.Minute, "Endpoints of Service echo", func() error {
		pods, err := echoPods()
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, p := range pods {
			want[p.GetStatus().GetPodIp()] = true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ep, err := c.Endpoints("default").Get(ctx, "echo")
		if err != nil {
			return err
		}
		got := map[string]bool{}
		for _, s := range ep.GetSubsets() {
			for _, a := range s.GetAddresses() {
				got[a.GetIp()] = true
			}
			if len(s.GetPorts()) != 1 || s.GetPorts()[0].GetPort() != 8080 {
				return fmt.Errorf("endpoint ports %v", s.GetPorts())
			}
		}
		if len(got) != 2 || !maps.Equal(got, want) {
			return fmt.Errorf("endpoints %v, pods %v", got, want)
		}
		return nil
	})

	// keel-proxy: the Service answers on its ClusterIP and on its NodePort
	// at the node's addresses (the node's InternalIP unless that is
	// loopback, and the pod bridge's gateway), from the host.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	svc, err := c.Services("default").Get(ctx, "echo")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	clusterIP, nodePort := svc.GetSpec().GetClusterIp(), svc.GetSpec().GetPorts()[0].GetNodePort()
	serves := func(what, url string) {
		t.Helper()
		testutil.Eventually(t, time.Minute, what, func() error {
			resp, err := hc.Get(url)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(b), "keel busybox test image") {
				return fmt.Errorf("GET %s: %s %q", url, resp.Status, b)
			}
			return nil
		})
	}
	serves("the Service on its ClusterIP", "http://"+clusterIP+":80/")
	nodeAddrs := []string{"10.244.78.1"}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	node, err := c.Nodes().Get(ctx, pod.GetSpec().GetNodeName())
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range node.GetStatus().GetAddresses() {
		if ip := net.ParseIP(a.GetAddress()); a.GetType() == "InternalIP" && ip != nil && !ip.IsLoopback() {
			nodeAddrs = append(nodeAddrs, a.GetAddress())
		}
	}
	for _, a := range nodeAddrs {
		serves("the Service on its NodePort at "+a, fmt.Sprintf("http://%s:%d/", a, nodePort))
	}
	// From a pod, through the node-local DNS: the name resolves to the
	// ClusterIP, and the Service answers on it. (The URL names its port and
	// wget gets no -T: busybox-static's wget crashes looking up the "http"
	// service, and with a timeout.)
	testutil.Eventually(t, time.Minute, "the Service's name resolved in a pod", func() error {
		out, err := keelctl("exec", "web", "--", "nslookup", "echo.default.svc.cluster.local")
		if err != nil || !strings.Contains(out, clusterIP) {
			return fmt.Errorf("nslookup in pod web: %v\n%s", err, out)
		}
		return nil
	})
	testutil.Eventually(t, time.Minute, "the Service reached by name from a pod", func() error {
		out, err := keelctl("exec", "web", "--", "wget", "-q", "-O", "-", "http://echo.default.svc.cluster.local:80/")
		if err != nil || !strings.Contains(out, "keel busybox test image") {
			return fmt.Errorf("wget in pod web: %v\n%s", err, out)
		}
		return nil
	})

	if out, err := keelctl("delete", "deployment", "echo"); err != nil {
		t.Fatalf("keelctl delete deployment: %v\n%s", err, out)
	}
	testutil.Eventually(t, 2*time.Minute, "the Deployment's pods gone", func() error {
		pods, err := echoPods()
		if err != nil {
			return err
		}
		if len(pods) != 0 {
			return fmt.Errorf("%d pods of the deleted Deployment echo left", len(pods))
		}
		return nil
	})

	// A Job runs to completion on the node.
	jobManifest := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(jobManifest, []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: hello
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: hello
        image: registry.keel.test/busybox:1.35
        command: ["sh", "-c", "echo hello from a job"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := keelctl("apply", "-f", jobManifest); err != nil {
		t.Fatalf("keelctl apply: %v\n%s", err, out)
	}
	testutil.Eventually(t, 2*time.Minute, "Job hello complete", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		j, err := c.Jobs("default").Get(ctx, "hello")
		if err != nil {
			return err
		}
		for _, cond := range j.GetStatus().GetConditions() {
			if cond.GetType() == "Complete" && cond.GetStatus() == "True" && j.GetStatus().GetSucceeded() == 2 {
				return nil
			}
		}
		return fmt.Errorf("job hello: %v", j.GetStatus())
	})

	if out, err := keelctl("delete", "pod", "web"); err != nil {
		t.Fatalf("keelctl delete: %v\n%s", err, out)
	}
	testutil.Eventually(t, time.Minute, "pod web gone", func() error {
		out, err := keelctl("get", "pod", "web")
		if err == nil || !strings.Contains(out, "NotFound") && !strings.Contains(out, "not found") {
			return fmt.Errorf("pod web still there: %v\n%s", err, out)
		}
		return nil
	})
}

// localCluster is a cluster hack/local-up.sh started for one test.
type localCluster struct {
	dir     string // KEEL_LOCAL_DIR
	run     func(timeout time.Duration, name string, args ...string) (string, error)
	keelctl func(args ...string) (string, error)
	// logs has the end of every daemon's log.
	logs   func() string
	client *client.Client
	// env is the scripts' environment (KEEL_* ports among it).
	env []string
}

// localUp starts a cluster with hack/local-up.sh on ports of its own (so
// it runs beside other tests), waits until it is ready for pods, and stops
// it with --down when the test ends,
// checking that every daemon stopped and that the proxy's and kubelet's
// rules are gone.
func localUp(t *testing.T) *localCluster { return localUpEnv(t) }

// localUpEnv is localUp with more environment for hack/local-up.sh.
func localUpEnv(t *testing.T, extraEnv ...string) *localCluster {
	if os.Geteuid() != 0 {
		testutil.Missing(t, "hack/local-up.sh runs containerd and a kubelet: needs root")
	}
	dir := t.TempDir()
	// HOME is the test's own, so that local-up's ~/.keel/config lands there;
	// Go's caches stay where they are.
	goEnv, err := exec.Command("go", "env", "GOPATH", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	g := strings.Split(strings.TrimSpace(string(goEnv)), "\n")
	env := append([]string{"GOPATH=" + g[0], "GOMODCACHE=" + g[1], "GOCACHE=" + g[2],
		"KEEL_LOCAL_DIR=" + dir, "HOME=" + filepath.Join(dir, "home"), "KEELCONFIG=" + filepath.Join(dir, "config"),
		"KEEL_DNS_ADDRESS=10.96.78.10", "KEEL_DNS_INTERFACE=keelup-dns",
		"KEEL_POD_CIDR=10.244.78.0/24", "KEEL_CNI_BRIDGE=keelup0"}, extraEnv...)
	sc := newScript(t, []string{"KEEL_API_PORT", "KEEL_API_HTTP_PORT",
		"KEEL_SCHEDULER_HTTP_PORT", "KEEL_KUBELET_PORT", "KEEL_KUBELET_HEALTHZ_PORT", "KEEL_CONTROLLER_MANAGER_HTTP_PORT", "KEEL_PROXY_HTTP_PORT"},
		env...)
	lc := &localCluster{dir: dir, run: sc.run, env: sc.env}
	lc.keelctl = func(args ...string) (string, error) { return sc.run(time.Minute, "bin/keelctl", args...) }
	lc.logs = func() string {
		return tailLogs(dir, "logs/apiserver.log", "logs/scheduler.log", "logs/controller-manager.log", "logs/kubelet.log", "logs/proxy.log")
	}

	t.Cleanup(func() {
		running := pids(filepath.Join(dir, "run", "*.pid"))
		if out, err := sc.run(2*time.Minute, "hack/local-up.sh", "--down"); err != nil {
			t.Errorf("local-up.sh --down: %v\n%s", err, out)
		}
		waitStopped(t, running)
		if out, err := exec.Command("iptables-save").Output(); err != nil || strings.Contains(string(out), "KEEL-") || strings.Contains(string(out), "10.244.78.0/24") {
			t.Errorf("the proxy's or the kubelet's rules left after --down: %v\n%s", err, out)
		}
		if _, err := net.InterfaceByName("keelup-dns"); err == nil {
			t.Error("the proxy's DNS interface keelup-dns left after --down")
		}
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(lc.logs())
		}
	})
	if out, err := sc.run(10*time.Minute, "hack/local-up.sh"); err != nil {
		t.Fatalf("hack/local-up.sh: %v\n%s\n%s", err, out, lc.logs())
	}
	failOnForbidden(t, filepath.Join(dir, "logs", "apiserver.log"))
	if lc.client, err = client.FromConfig(filepath.Join(dir, "config"), "", "keel-e2e"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lc.client.Close() })
	lc.ready(t)
	return lc
}

// ready waits until the node is Ready and the default ServiceAccount
// exists: pods need their namespace's default ServiceAccount, which the
// controller-manager creates (the ServiceAccount admission plugin refuses
// them until then).
func (lc *localCluster) ready(t *testing.T) {
	t.Helper()
	testutil.Eventually(t, 2*time.Minute, "the node Ready", func() error {
		out, err := lc.keelctl("get", "nodes")
		if err != nil || !strings.Contains(out, " Ready") {
			return fmt.Errorf("keelctl get nodes: %v\n%s", err, out)
		}
		return nil
	})
	testutil.Eventually(t, time.Minute, "the default ServiceAccount created", func() error {
		_, err := lc.keelctl("get", "serviceaccount", "default")
		return err
	})
}
