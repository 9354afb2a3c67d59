package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/testutil"
)

// TestKubectlStreaming drives the installed kubectl's streaming commands
// against a local-up cluster with a real node: logs (--tail, -c,
// deploy/NAME, -f), cp into a pod and out of it (tar in the container),
// exec with stdin (-i) and its exit code, with a TTY (-it), attach, and
// port-forward with an HTTP GET through the tunnel, and top (node, pod,
// --containers, -A) with the figures the kubelet reads from containerd.
// kubectl speaks WebSocket (v5.channel.k8s.io, SPDY tunnelled in
// WebSocket for port-forward) to the apiserver, which opens SPDY sessions
// on the kubelet, which proxies them to containerd's streaming server.
func TestKubectlStreaming(t *testing.T) {
	kubectl := kubectlPath(t)
	lc := localUp(t)
	env := append(os.Environ(), "KUBECONFIG="+filepath.Join(lc.dir, "config"), "HOME="+filepath.Join(lc.dir, "home"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	command := func(ctx context.Context, stdin string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, kubectl, args...)
		cmd.Env = env
		cmd.Stdin = strings.NewReader(stdin)
		return cmd
	}
	run := func(stdin string, args ...string) (string, error) {
		out, err := command(ctx, stdin, args...).CombinedOutput()
		return string(out), err
	}

	manifest := filepath.Join(lc.dir, "streaming.yaml")
	if err := os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata: {name: shell}
spec:
  containers:
  - name: app
    image: registry.keel.test/busybox:1.35
    command: ["sleep", "3600"]
---
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  containers:
  - name: app
    image: registry.keel.test/busybox:1.35
    command: ["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: app
    image: registry.keel.test/busybox:1.35
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 80 -h /www"]
---
apiVersion: v1
kind: Pod
metadata: {name: memory}
spec:
  containers:
  - name: app
    image: registry.keel.test/busybox:1.35
    # The shell keeps a 4 MiB string (it waits for sleep rather than
    # exec it): kubectl top shows at least 4Mi.
    command: ["sh", "-c", "trap 'exit 0' TERM; s=a; i=0; while [ $i -lt 22 ]; do s=$s$s; i=$((i+1)); done; sleep 3600 & wait"]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo}
spec:
  replicas: 1
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
      - name: app
        image: registry.keel.test/busybox:1.35
        command: ["sh", "-c", "echo from-deployment; exec sleep 3600"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run("", "apply", "-f", manifest); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
	testutil.Eventually(t, 2*time.Minute, "the pods running", func() error {
		out, err := run("", "get", "pods", "shell", "talker", "web", "memory", "-o", "jsonpath={.items[*].status.phase}")
		if err != nil || out != "Running Running Running Running" {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	if out, err := run("", "rollout", "status", "deployment/echo", "--timeout", "2m"); err != nil {
		t.Fatalf("kubectl rollout status deployment/echo: %v\n%s", err, out)
	}

	t.Run("logs", func(t *testing.T) {
		ticks := func(out string) []string {
			var ts []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if !strings.HasPrefix(l, "tick ") {
					t.Errorf("kubectl logs printed %q", l)
				}
				ts = append(ts, l)
			}
			return ts
		}
		testutil.Eventually(t, time.Minute, "talker's first ticks logged", func() error {
			out, err := run("", "logs", "talker", "--tail", "2")
			if err != nil || len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
				return fmt.Errorf("kubectl logs talker --tail 2: %v %q", err, out)
			}
			ticks(out)
			return nil
		})
		if out, err := run("", "logs", "talker", "-c", "app", "--tail", "1"); err != nil || len(ticks(out)) != 1 {
			t.Errorf("kubectl logs talker -c app --tail 1: %v %q", err, out)
		}
		if out, err := run("", "logs", "talker", "-c", "nope"); err == nil || !strings.Contains(out, "nope") {
			t.Errorf("kubectl logs of an unknown container: %v %q", err, out)
		}
		if out, err := run("", "logs", "deploy/echo"); err != nil || out != "from-deployment\n" {
			t.Errorf("kubectl logs deploy/echo: %v %q", err, out)
		}
		// -f follows: new ticks keep coming, in order.
		fctx, fcancel := context.WithTimeout(ctx, time.Minute)
		defer fcancel()
		cmd := command(fctx, "", "logs", "-f", "talker", "--tail", "1")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { fcancel(); cmd.Wait() }()
		sc := bufio.NewScanner(stdout)
		var nums []int
		for len(nums) < 4 && sc.Scan() {
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "tick %d", &n); err != nil {
				t.Errorf("kubectl logs -f printed %q", sc.Text())
				continue
			}
			nums = append(nums, n)
		}
		if len(nums) < 4 {
			t.Fatalf("kubectl logs -f talker: %v (%v)", nums, sc.Err())
		}
		for i := 1; i < len(nums); i++ {
			if nums[i] != nums[i-1]+1 {
				t.Errorf("kubectl logs -f talker: ticks %v, want consecutive", nums)
			}
		}
	})

	t.Run("cp", func(t *testing.T) {
		// A directory into the pod (kubectl runs tar in the container),
		// and back out.
		src := filepath.Join(lc.dir, "cp-src")
		if err := os.MkdirAll(filepath.Join(src, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string]string{"a.txt": "alpha\n", "sub/b.txt": "beta\n"}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(src, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if out, err := run("", "cp", src, "shell:/tmp/copied"); err != nil {
			t.Fatalf("kubectl cp into the pod: %v\n%s", err, out)
		}
		if out, err := run("", "exec", "shell", "--", "cat", "/tmp/copied/a.txt", "/tmp/copied/sub/b.txt"); err != nil || out != "alpha\nbeta\n" {
			t.Errorf("the files copied into the pod: %v %q", err, out)
		}
		if out, err := run("", "exec", "shell", "--", "sh", "-c", "echo gamma > /tmp/copied/sub/c.txt"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		dst := filepath.Join(lc.dir, "cp-dst")
		if out, err := run("", "cp", "shell:/tmp/copied", dst); err != nil {
			t.Fatalf("kubectl cp out of the pod: %v\n%s", err, out)
		}
		files["sub/c.txt"] = "gamma\n"
		for name, data := range files {
			if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(b) != data {
				t.Errorf("%s copied out of the pod: %v %q, want %q", name, err, b, data)
			}
		}
	})

	t.Run("exec -i", func(t *testing.T) {
		out, err := run("line one\nline two\n", "exec", "-i", "shell", "--", "cat")
		if err != nil || out != "line one\nline two\n" {
			t.Errorf("kubectl exec -i shell -- cat: %v %q\n%s", err, out, lc.logs())
		}
	})

	t.Run("exec -it", func(t *testing.T) {
		script, err := exec.LookPath("script")
		if err != nil {
			testutil.Missing(t, "script (util-linux, which hack/install-deps.sh installs) is not installed: no terminal to give kubectl")
		}
		// script gives kubectl a terminal, so that it asks for a TTY.
		cmd := exec.CommandContext(ctx, script, "-qec", kubectl+" exec -it shell -- sh -c 'tty; echo tty-done'", "/dev/null")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "/dev/pts/") || !strings.Contains(string(out), "tty-done") {
			t.Errorf("kubectl exec -it shell -- tty: %v %q", err, out)
		}
	})

	t.Run("exit code", func(t *testing.T) {
		out, err := run("", "exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(out, "out\n") || !strings.Contains(out, "err\n") {
			t.Errorf("kubectl exec ... exit 3: %v %q, want exit code 3", err, out)
		}
	})

	t.Run("unknown container", func(t *testing.T) {
		out, err := run("", "exec", "shell", "-c", "nope", "--", "true")
		if err == nil || !strings.Contains(out, "nope") {
			t.Errorf("kubectl exec in an unknown container: %v %q", err, out)
		}
	})

	t.Run("attach", func(t *testing.T) {
		actx, acancel := context.WithTimeout(ctx, time.Minute)
		defer acancel()
		cmd := command(actx, "", "attach", "talker")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { acancel(); cmd.Wait() }()
		sc := bufio.NewScanner(stdout)
		var seen []string
		for len(seen) < 3 && sc.Scan() {
			if strings.HasPrefix(sc.Text(), "tick ") {
				seen = append(seen, sc.Text())
			}
		}
		if len(seen) < 3 {
			t.Errorf("kubectl attach talker: saw %q (%v)", seen, sc.Err())
		}
	})

	t.Run("port-forward", func(t *testing.T) {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
		defer pcancel()
		local := strings.Split(daemontest.FreePorts(t, 1)[0], ":")[1]
		cmd := command(pctx, "", "port-forward", "pod/web", local+":80")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { pcancel(); cmd.Wait() }()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() && !strings.HasPrefix(sc.Text(), "Forwarding from") {
		}
		go io.Copy(io.Discard, stdout)
		for i := range 2 { // two connections through one session
			resp, err := http.Get("http://127.0.0.1:" + local + "/index.html")
			if err != nil {
				t.Fatalf("GET %d through the port-forward: %v\n%s", i, err, stderr.String())
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(b) != "hello-from-web\n" {
				t.Errorf("GET %d through the port-forward: %s %q", i, resp.Status, b)
			}
		}
	})

	// kubectl spoke WebSocket, not the SPDY it falls back to.
	b, err := os.ReadFile(filepath.Join(lc.dir, "logs", "apiserver.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"websocket v5.channel.k8s.io", "spdy tunnelled in websocket"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the apiserver logged no session with protocol %q", want)
		}
	}

	t.Run("top", func(t *testing.T) {
		// metrics.k8s.io is computed from the kubelet's stats; the first
		// CPU rate needs two samples, taken about ten seconds apart.
		var out string
		testutil.Eventually(t, 2*time.Minute, "kubectl top node showing the node", func() error {
			var err error
			out, err = run("", "top", "node")
			if err != nil {
				return fmt.Errorf("kubectl top node: %v\n%s", err, out)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) < 2 || strings.Join(strings.Fields(lines[0]), " ") != "NAME CPU(cores) CPU(%) MEMORY(bytes) MEMORY(%)" {
				return fmt.Errorf("kubectl top node printed %q", out)
			}
			f := strings.Fields(lines[1])
			if len(f) != 5 || f[1] == "<unknown>" || !strings.HasSuffix(f[1], "m") || !strings.HasSuffix(f[2], "%") || mebibytes(f[3]) <= 0 {
				return fmt.Errorf("kubectl top node: no figures for the node in %q", out)
			}
			return nil
		})
		t.Logf("kubectl top node:\n%s", out)
		testutil.Eventually(t, time.Minute, "kubectl top pod showing memory's usage", func() error {
			var err error
			out, err = run("", "top", "pod")
			if err != nil {
				return fmt.Errorf("kubectl top pod: %v\n%s", err, out)
			}
			for _, l := range strings.Split(out, "\n") {
				if f := strings.Fields(l); len(f) == 3 && f[0] == "memory" {
					if !strings.HasSuffix(f[1], "m") || mebibytes(f[2]) < 4 {
						raw, _ := run("", "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/memory")
						return fmt.Errorf("kubectl top pod: memory uses %s CPU and %s of memory, want at least 4Mi; its metrics: %s", f[1], f[2], raw)
					}
					return nil
				}
			}
			return fmt.Errorf("kubectl top pod: no row for the pod memory in %q", out)
		})
		t.Logf("kubectl top pod:\n%s", out)
		out, err := run("", "top", "pod", "memory", "--containers", "--no-headers")
		if f := strings.Fields(out); err != nil || len(f) != 4 || f[0] != "memory" || f[1] != "app" || mebibytes(f[3]) < 4 {
			t.Errorf("kubectl top pod memory --containers: %v %q", err, out)
		}
		out, err = run("", "top", "pod", "-A")
		if err != nil || !strings.Contains(out, "NAMESPACE") || !strings.Contains(out, "talker") {
			t.Errorf("kubectl top pod -A: %v %q", err, out)
		}
		// The echo pods may not have been sampled twice yet ("metrics not
		// available yet").
		testutil.Eventually(t, time.Minute, "kubectl top pod -l app=echo", func() error {
			if out, err := run("", "top", "pod", "-l", "app=echo", "--no-headers"); err != nil || !strings.HasPrefix(out, "echo-") {
				return fmt.Errorf("%v %q", err, out)
			}
			return nil
		})
		if out, err := run("", "top", "pod", "nope"); err == nil || !strings.Contains(out, "nope") {
			t.Errorf("kubectl top pod of a pod that does not exist: %v %q", err, out)
		}
		// keelctl's top, over gRPC, prints the same columns.
		out, err = lc.keelctl("top", "pod", "memory", "--no-headers")
		if f := strings.Fields(out); err != nil || len(f) != 3 || f[0] != "memory" || mebibytes(f[2]) < 4 {
			t.Errorf("keelctl top pod memory: %v %q", err, out)
		}
		out, err = lc.keelctl("top", "node")
		if lines := strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || !strings.Contains(lines[1], "%") {
			t.Errorf("keelctl top node: %v %q", err, out)
		}
	})
}

// mebibytes reads kubectl top's memory column ("12Mi"), -1 if it is not
// one.
func mebibytes(s string) int {
	n, err := strconv.Atoi(strings.TrimSuffix(s, "Mi"))
	if err != nil || !strings.HasSuffix(s, "Mi") {
		return -1
	}
	return n
}
