package main

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

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/daemon"
	"keel.dev/keel/pkg/daemon/daemontest"
	"keel.dev/keel/pkg/kubelet/app"
)

// These tests run the real keel-kubelet binary, built once (and keelctl,
// for the end-to-end tests' logs and exec, when it builds).
var (
	binary  string
	keelctl string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keel-kubelet-test")
	if err != nil {
		panic(err)
	}
	binary = daemontest.Build(dir, "keel-kubelet", "-race")
	ctl := filepath.Join(dir, "keelctl")
	build := exec.Command("go", "build", "-o", ctl, "../ctl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static: pods run it too
	if out, err := build.CombinedOutput(); err == nil {
		keelctl = ctl
	} else {
		fmt.Fprintf(os.Stderr, "keelctl does not build (logs and exec go through the API client instead): %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type proc struct{ *daemontest.Proc }

// start runs the binary; it is stopped (SIGTERM) at cleanup.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return &proc{daemontest.Start(t, binary, args...)}
}

// waitReady polls /readyz until it answers 200.
func (p *proc) waitReady(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	p.WaitReady(t, "http://"+addr+"/readyz?verbose", timeout)
}

func TestRefusesBadSettings(t *testing.T) {
	daemontest.ExitsWith(t, binary, `--runtime "docker": want cri or fake`, "--runtime", "docker", "--server", "127.0.0.1:1", "--insecure")
	daemontest.ExitsWith(t, binary, "--hollow-nodes needs --runtime=fake", "--hollow-nodes", "3", "--server", "127.0.0.1:1", "--insecure")
	daemontest.ExitsWith(t, binary, `--cluster-dns "ten" is not an IP address`, "--cluster-dns", "ten", "--server", "127.0.0.1:1", "--insecure")
	daemontest.ExitsWith(t, binary, "no apiserver: set --kubeconfig or --server", "--node-name", "x")
	daemontest.ExitsWith(t, binary, "--system-reserved", "--system-reserved", "cpu", "--server", "127.0.0.1:1", "--insecure")
	daemontest.ExitsWith(t, binary, "plain text is allowed only to loopback", "--server", "10.1.2.3:6443", "--insecure")
	cfg := filepath.Join(t.TempDir(), "k.yaml")
	if err := os.WriteFile(cfg, []byte("max-podz: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	daemontest.ExitsWith(t, binary, `unknown setting "max-podz"`, "--config", cfg)
}

func TestShippedConfigAndUnit(t *testing.T) {
	cmd := app.NewCommand()
	if err := daemon.ApplyConfigFile(cmd.Flags(), "../../manifests/systemd/kubelet.yaml"); err != nil {
		t.Fatalf("the example config is not accepted: %v", err)
	}
	if got := cmd.Flags().Lookup("container-runtime-endpoint").Value.String(); got != "unix:///run/containerd/containerd.sock" {
		t.Errorf("container-runtime-endpoint = %q after the example config", got)
	}
	daemontest.VerifyUnit(t, "../../manifests/systemd/keel-kubelet.service", binary)
}

// TestHollowNodesBinary runs keel-kubelet --runtime=fake --hollow-nodes 5
// against an apiserver, with a config file.
func TestHollowNodesBinary(t *testing.T) {
	_, api := testserver.StartAll(t, nil)
	health := daemontest.FreePorts(t, 1)[0]
	cfg := filepath.Join(t.TempDir(), "kubelet.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("runtime: fake\nhollow-nodes: 5\nhollow-node-prefix: hn\nserver: [%s]\ninsecure: true\nhealthz-address: %s\nnode-ip: 192.0.2.77\nnode-labels: [pool=hollow]\nfake-cpu: 16\nnode-status-update-frequency: 1s\n", api.Addr, health)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "--config", cfg, "--fake-memory", "64Gi")
	p.waitReady(t, health, 60*time.Second)
	c := client.NewForConn(api.Conn, "default")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nodes, err := c.Nodes().List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 5 {
		t.Fatalf("%d nodes", len(nodes.Items))
	}
	for _, n := range nodes.Items {
		st := n.GetStatus()
		if !strings.HasPrefix(n.GetMetadata().GetName(), "hn-") || st.GetCapacity()["cpu"].GetString_() != "16" || st.GetCapacity()["memory"].GetString_() != "64Gi" ||
			n.GetMetadata().GetLabels()["pool"] != "hollow" || st.GetAddresses()[0].GetAddress() != "192.0.2.77" {
			t.Errorf("node %v", n)
		}
	}
	for i := 0; i < 10; i++ {
		pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: fmt.Sprintf("p%d", i), Namespace: "default"},
			Spec: &corev1.PodSpec{NodeName: fmt.Sprintf("hn-%d", i%5), Containers: []*corev1.Container{{Name: "c", Image: "img"}}}}
		if _, err := c.Pods("default").Create(ctx, pod, client.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		l, err := c.Pods("default").List(ctx, client.ListOptions{FieldSelector: "status.phase=Running"})
		if err == nil && len(l.Items) == 10 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("pods not Running on the hollow nodes")
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get("http://" + health + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `keel_kubelet_node_updates_total{kind="lease",result="ok"}`) {
		t.Errorf("metrics lack the lease updates")
	}
}
