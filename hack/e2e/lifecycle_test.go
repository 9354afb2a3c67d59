package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/testutil"
)

// TestLifecycleHooks runs on a real node (hack/local-up.sh, containerd):
//   - hooks: a postStart exec hook has run by the time the container is
//     Running; a preStop exec hook runs when the pod is deleted (it writes
//     to a hostPath the test reads after the pod is gone); a preStop hook
//     that hangs is cut short by terminationGracePeriodSeconds.
//   - zero downtime: a client sends requests through a Service's ClusterIP
//     without pause while `keelctl rollout restart` replaces the 3 pods of
//     a Deployment whose pods have a readiness probe and `preStop: sleep 5`:
//     a terminating pod leaves the endpoints at once, the proxy stops
//     sending it new connections while it still serves, and no request
//     fails. The server exits at once on SIGTERM, as most do: without the
//     preStop hook about one request in ten failed here (connection
//     refused), sent to a pod that had stopped before the proxy dropped it.
func TestLifecycleHooks(t *testing.T) {
	lc := localUp(t)
	dir, keelctl, c := lc.dir, lc.keelctl, lc.client
	apply := func(name, manifest string) {
		t.Helper()
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := keelctl("apply", "-f", path); err != nil {
			t.Fatalf("keelctl apply %s: %v\n%s\n%s", name, err, out, lc.logs())
		}
	}
	gone := func(name string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		testutil.Eventually(t, within, "pod "+name+" gone", func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := c.Pods("default").Get(ctx, name); !apierrors.IsNotFound(err) {
				return fmt.Errorf("pod %s: %v", name, err)
			}
			return nil
		})
		return time.Since(start)
	}

	t.Run("exec hooks", func(t *testing.T) {
		hookDir := filepath.Join(dir, "hooklog")
		if err := os.MkdirAll(hookDir, 0o777); err != nil {
			t.Fatal(err)
		}
		apply("hooks", `apiVersion: v1
kind: Pod
metadata:
  name: hooks
spec:
  terminationGracePeriodSeconds: 10
  volumes:
  - name: log
    hostPath: {path: `+hookDir+`}
  containers:
  - name: app
    image: registry.keel.test/busybox:1.35
    command: ["sleep", "3600"]
    volumeMounts: [{name: log, mountPath: /hooklog}]
    lifecycle:
      postStart:
        exec: {command: ["sh", "-c", "echo started > /tmp/poststart"]}
      preStop:
        exec: {command: ["sh", "-c", "echo stopping >> /hooklog/prestop"]}
`)
		testutil.Eventually(t, 2*time.Minute, "pod hooks running", func() error {
			out, err := keelctl("get", "pod", "hooks")
			if err != nil || !strings.Contains(out, "Running") {
				return fmt.Errorf("%v\n%s", err, out)
			}
			return nil
		})
		if out, err := keelctl("exec", "hooks", "--", "cat", "/tmp/poststart"); err != nil || out != "started\n" {
			t.Errorf("the postStart hook's file: %v %q", err, out)
		}
		if out, err := keelctl("delete", "pod", "hooks"); err != nil {
			t.Fatalf("keelctl delete: %v\n%s", err, out)
		}
		gone("hooks", time.Minute)
		if b, err := os.ReadFile(filepath.Join(hookDir, "prestop")); err != nil || string(b) != "stopping\n" {
			t.Errorf("the preStop hook's file: %v %q", err, b)
		}
	})

	t.Run("a hanging preStop is bounded by the grace period", func(t *testing.T) {
		apply("hang", `apiVersion: v1
kind: Pod
metadata:
  name: hang
spec:
  terminationGracePeriodSeconds: 3
  containers:
  - name: app
    image: registry.keel.test/busybox:1.35
    command: ["sleep", "3600"]
    lifecycle:
      preStop:
        exec: {command: ["sleep", "3600"]}
`)
		testutil.Eventually(t, 2*time.Minute, "pod hang running", func() error {
			out, err := keelctl("get", "pod", "hang")
			if err != nil || !strings.Contains(out, "Running") {
				return fmt.Errorf("%v\n%s", err, out)
			}
			return nil
		})
		if out, err := keelctl("delete", "pod", "hang", "--wait=false"); err != nil {
			t.Fatalf("keelctl delete: %v\n%s", err, out)
		}
		// 3s for the hook, at least 2s more between SIGTERM and SIGKILL
		// (sleep ignores SIGTERM as PID 1), then the cleanup.
		if took := gone("hang", time.Minute); took > 20*time.Second {
			t.Errorf("the pod took %v to go with terminationGracePeriodSeconds 3", took)
		}
	})

	t.Run("zero failed requests during a rollout restart", func(t *testing.T) {
		apply("web", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 15
      containers:
      - name: httpd
        image: registry.keel.test/busybox:1.35
        # Exits at once on SIGTERM, as most servers do.
        command: ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /var/www & wait"]
        ports: [{name: http, containerPort: 8080}]
        readinessProbe:
          httpGet: {path: /, port: http}
          periodSeconds: 1
        lifecycle:
          preStop:
            sleep: {seconds: 5}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
`)
		if out, err := keelctl("rollout", "status", "deployment/web", "--timeout", "3m"); err != nil {
			t.Fatalf("keelctl rollout status: %v\n%s\n%s", err, out, lc.logs())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		svc, err := c.Services("default").Get(ctx, "web")
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + svc.GetSpec().GetClusterIp() + ":80/"
		// A new connection per request, as new clients make them.
		hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
		get := func() error {
			resp, err := hc.Get(url)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "keel busybox test image") {
				return fmt.Errorf("%s %q", resp.Status, b)
			}
			return nil
		}
		testutil.Eventually(t, time.Minute, "the Service serving on its ClusterIP", get)

		var sent, failed atomic.Int64
		var mu sync.Mutex
		var failures []string
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				if err := get(); err != nil {
					failed.Add(1)
					mu.Lock()
					failures = append(failures, time.Now().Format("15:04:05.000")+" "+err.Error())
					mu.Unlock()
				}
			}
		}()
		old := podNames(t, lc, "app=web")
		if out, err := keelctl("rollout", "restart", "deployment/web"); err != nil {
			close(stop)
			wg.Wait()
			t.Fatalf("keelctl rollout restart: %v\n%s", err, out)
		}
		out, err := keelctl("rollout", "status", "deployment/web", "--timeout", "3m")
		if err == nil {
			// Keep sending until the old pods are gone: their preStop
			// hooks and SIGTERM come after the rollout is complete.
			testutil.Eventually(t, 2*time.Minute, "the old pods gone", func() error {
				for name := range podNames(t, lc, "app=web") {
					if old[name] {
						return fmt.Errorf("old pod %s still there", name)
					}
				}
				return nil
			})
		}
		close(stop)
		wg.Wait()
		if err != nil {
			t.Fatalf("keelctl rollout status: %v\n%s\n%s", err, out, lc.logs())
		}
		t.Logf("%d requests through the Service during the rollout, %d failed", sent.Load(), failed.Load())
		if sent.Load() < 100 {
			t.Errorf("only %d requests sent", sent.Load())
		}
		if failed.Load() != 0 {
			t.Errorf("%d of %d requests failed:\n%s", failed.Load(), sent.Load(), strings.Join(failures[:min(len(failures), 20)], "\n"))
		}
	})
}

// podNames is the set of the names of the pods matching selector.
func podNames(t *testing.T, lc *localCluster, selector string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := lc.client.Pods("default").List(ctx, client.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range l.Items {
		out[p.GetMetadata().GetName()] = true
	}
	return out
}
