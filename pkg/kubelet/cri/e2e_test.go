package cri_test

// End-to-end tests of the CRI client against a real, private containerd
// (pkg/containerdtest) with real CNI bridge networking and a real image pull
// from a local registry. They need root, containerd, runc, the CNI plugins,
// busybox-static and docker-registry (hack/install-deps.sh), and skip with
// the reason otherwise.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	"keel.dev/keel/pkg/containerdtest"
	"keel.dev/keel/pkg/kubelet/cni"
	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
	"keel.dev/keel/pkg/kubelet/stats"
	"keel.dev/keel/pkg/registrytest"
	"keel.dev/keel/pkg/testimages"
	"keel.dev/keel/pkg/testutil"
)

const (
	// The pod network of these tests: a bridge and a range of their own,
	// so they disturb nothing else on the machine.
	e2ePodCIDR = "10.244.7.0/24"
	e2eBridge  = "keel-cri-e2e"
	e2eNetwork = "keel-cri-e2e"
)

// poll calls cond until it returns true or an error, or the deadline passes.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			t.Fatalf("%s: not done after %v (last error: %v)", what, timeout, lastErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dial(t *testing.T, socket string) *cri.Client {
	t.Helper()
	client, err := cri.Dial(context.Background(), socket, cri.Options{Timeout: time.Minute, DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// deleteBridge removes this test's bridge if it exists (left by a crashed
// earlier run, or by this one).
func deleteBridge(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/sys/class/net/" + e2eBridge); err != nil {
		return
	}
	if out, err := exec.Command("ip", "link", "delete", e2eBridge).CombinedOutput(); err != nil {
		t.Errorf("deleting bridge %s: %v: %s", e2eBridge, err, out)
	}
}

// natRulesFor returns the iptables nat rules that mention prefix (an
// address of the podCIDR).
func natRulesFor(t *testing.T, prefix string) []string {
	t.Helper()
	out, err := exec.Command("iptables-save", "-t", "nat").Output()
	if err != nil {
		t.Logf("iptables-save: %v (not checking rules)", err)
		return nil
	}
	var rules []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "-A") && strings.Contains(line, prefix) {
			rules = append(rules, line)
		}
	}
	return rules
}

func sandboxConfig(name, logDir string, hostNetwork bool) *runtimeapi.PodSandboxConfig {
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{
			Name: name, Namespace: "e2e", Uid: fmt.Sprintf("%s-%d", name, time.Now().UnixNano()),
		},
		Hostname:     name,
		LogDirectory: logDir,
		Labels:       map[string]string{"keel.dev/test": name},
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
	if hostNetwork {
		// The node's UTS namespace too: no hostname of its own.
		cfg.Hostname = ""
		cfg.Linux.SecurityContext = &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}
	}
	return cfg
}

// netnsPath digs the sandbox's network namespace path out of the verbose
// status containerd returns (info → runtimeSpec → linux.namespaces).
func netnsPath(t *testing.T, resp *runtimeapi.PodSandboxStatusResponse) string {
	t.Helper()
	var info struct {
		RuntimeSpec struct {
			Linux struct {
				Namespaces []struct {
					Type string `json:"type"`
					Path string `json:"path"`
				} `json:"namespaces"`
			} `json:"linux"`
		} `json:"runtimeSpec"`
	}
	if err := json.Unmarshal([]byte(resp.Info["info"]), &info); err != nil {
		t.Fatalf("sandbox info: %v", err)
	}
	for _, ns := range info.RuntimeSpec.Linux.Namespaces {
		if ns.Type == "network" {
			return ns.Path
		}
	}
	return ""
}

func waitNetworkReady(t *testing.T, client *cri.Client) {
	t.Helper()
	poll(t, 30*time.Second, "CRI NetworkReady", func() (bool, error) {
		st, err := client.Status(context.Background(), false)
		if err != nil {
			return false, err
		}
		for _, c := range st.Status.Conditions {
			if c.Type == runtimeapi.NetworkReady {
				return c.Status, errors.New(c.Message)
			}
		}
		return false, errors.New("no NetworkReady condition")
	})
}

// TestE2EPodServesHTTP runs a busybox httpd in a pod on a CNI bridge and
// reaches it from the host, execs in it, and tears everything down.
func TestE2EPodServesHTTP(t *testing.T) {
	c := containerdtest.New(t, containerdtest.Options{}, true)
	ctx := context.Background()

	deleteBridge(t)
	t.Cleanup(func() { deleteBridge(t) })
	ipamDir := filepath.Join(c.Dir, "ipam")
	if _, err := cni.WriteConflist(c.CNIConfDir, cni.Config{
		PodCIDR: e2ePodCIDR, BridgeName: e2eBridge, NetworkName: e2eNetwork, IPAMDataDir: ipamDir,
	}); err != nil {
		t.Fatal(err)
	}
	client := dial(t, c.Socket)
	v, err := client.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("runtime %s %s, CRI %s, snapshotter %s", v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion, c.Snapshotter)
	waitNetworkReady(t, client)

	logDir := filepath.Join(c.Dir, "pods", "web")
	sbConfig := sandboxConfig("web", logDir, false)
	start := time.Now()
	sb, err := client.RunPodSandbox(ctx, sbConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	sandboxDone := time.Since(start)
	ctrConfig := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "httpd"},
		Image:    &runtimeapi.ImageSpec{Image: testimages.BusyboxRef},
		// sh as PID 1 ends on SIGTERM (httpd alone would ignore it as PID 1).
		Command: []string{"sh", "-c", `trap "exit 0" TERM; echo serving; httpd -f -p 8080 -h /var/www & wait`},
		LogPath: "httpd/0.log",
		Labels:  map[string]string{"keel.dev/container": "httpd"},
	}
	ctr, err := client.CreateContainer(ctx, sb, ctrConfig, sbConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.StartContainer(ctx, ctr); err != nil {
		t.Fatal(err)
	}
	t.Logf("sandbox ready in %v; sandbox + container started in %v", sandboxDone.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	st, err := client.PodSandboxStatus(ctx, sb, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("sandbox state %v", st.Status.State)
	}
	ip, err := netip.ParseAddr(st.Status.GetNetwork().GetIp())
	if err != nil || !netip.MustParsePrefix(e2ePodCIDR).Contains(ip) {
		t.Fatalf("pod IP %q (%v) not in %s", st.Status.GetNetwork().GetIp(), err, e2ePodCIDR)
	}
	netns := netnsPath(t, st)
	if netns == "" {
		t.Fatal("no network namespace in the sandbox's verbose status")
	}
	// The bridge does not masquerade its pods (pod addresses must reach
	// other nodes' pods unchanged; the kubelet's rule masquerades only
	// traffic leaving the cluster CIDR).
	if rules := natRulesFor(t, ip.String()); len(rules) > 0 {
		t.Errorf("nat rules for pod %s: %v (the bridge's ipMasq must be off)", ip, rules)
	}

	// HTTP from the host to the pod IP, through the bridge.
	httpClient := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	url := "http://" + netip.AddrPortFrom(ip, 8080).String() + "/"
	var body string
	poll(t, 30*time.Second, "HTTP from the host to "+url, func() (bool, error) {
		resp, err := httpClient.Get(url)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return false, err
		}
		body = string(b)
		return resp.StatusCode == http.StatusOK, fmt.Errorf("status %s", resp.Status)
	})
	if !strings.Contains(body, "keel busybox test image") {
		t.Errorf("GET %s = %q", url, body)
	}
	t.Logf("pod %s answered HTTP %v after RunPodSandbox", ip, time.Since(start).Round(time.Millisecond))

	// Exec.
	res, err := client.ExecSync(ctx, ctr, []string{"echo", "hi"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != "hi" || res.ExitCode != 0 {
		t.Errorf("ExecSync echo hi = %q, exit %d, stderr %q", got, res.ExitCode, res.Stderr)
	}
	res, err = client.ExecSync(ctx, ctr, []string{"sh", "-c", "echo oops >&2; exit 3"}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || strings.TrimSpace(string(res.Stderr)) != "oops" {
		t.Errorf("ExecSync exit 3 = exit %d, stderr %q", res.ExitCode, res.Stderr)
	}

	// Status and listing by label.
	cs, err := client.ContainerStatus(ctx, ctr, false)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING || cs.Status.LogPath != filepath.Join(logDir, "httpd/0.log") {
		t.Errorf("container status %v", cs.Status)
	}
	list, err := client.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"keel.dev/container": "httpd"}})
	if err != nil || len(list) != 1 || list[0].Id != ctr || list[0].PodSandboxId != sb {
		t.Errorf("ListContainers by label = %v, %v", list, err)
	}
	if err := client.ReopenContainerLog(ctx, ctr); err != nil {
		t.Errorf("ReopenContainerLog: %v", err)
	}

	// A graceful stop: SIGTERM ends it at once with exit 0.
	stopStart := time.Now()
	if err := client.StopContainer(ctx, ctr, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(stopStart); d > 10*time.Second {
		t.Errorf("StopContainer took %v: SIGTERM not honoured", d)
	}
	cs, err = client.ContainerStatus(ctx, ctr, false)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Status.State != runtimeapi.ContainerState_CONTAINER_EXITED || cs.Status.ExitCode != 0 {
		t.Errorf("stopped container: state %v exit %d reason %q", cs.Status.State, cs.Status.ExitCode, cs.Status.Reason)
	}
	// The CRI log format: "<RFC3339Nano time> stdout F serving".
	if b, err := os.ReadFile(cs.Status.LogPath); err != nil || !strings.Contains(string(b), " stdout F serving\n") {
		t.Errorf("container log %s = %q, %v; want a CRI-format line with \"serving\"", cs.Status.LogPath, b, err)
	}
	if err := client.RemoveContainer(ctx, ctr); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ContainerStatus(ctx, ctr, false); !cri.IsNotFound(err) {
		t.Errorf("ContainerStatus of a removed container: %v, want NotFound", err)
	}

	// The sandbox: its pause process exits on SIGTERM, so stopping is quick.
	stopStart = time.Now()
	if err := client.StopPodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(stopStart); d > 10*time.Second {
		t.Errorf("StopPodSandbox took %v: the pause process did not exit on SIGTERM", d)
	}
	if err := client.RemovePodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if err := client.RemovePodSandbox(ctx, sb); err != nil {
		t.Errorf("RemovePodSandbox again: %v", err)
	}
	if sbs, err := client.ListPodSandbox(ctx, nil); err != nil || len(sbs) != 0 {
		t.Errorf("sandboxes left: %v, %v", sbs, err)
	}
	if _, err := os.Stat(netns); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("network namespace %s still there: %v", netns, err)
	}
	if leases, _ := filepath.Glob(filepath.Join(ipamDir, e2eNetwork, "10.244.7.*")); len(leases) > 0 {
		t.Errorf("host-local leases left: %v", leases)
	}
}

// TestE2EPullFromRegistry pulls busybox from a local registry through
// containerd (plain HTTP via hosts.toml) and runs containers from it that
// exit, checking their exit codes.
func TestE2EPullFromRegistry(t *testing.T) {
	if err := containerdtest.Available(); err != nil {
		testutil.Missing(t, err.Error())
	}
	if _, err := os.Stat(testimages.DefaultBusyboxPath); err != nil {
		testutil.Missing(t, "busybox-static is not installed (hack/install-deps.sh)")
	}
	ctx := context.Background()
	reg := registrytest.New(t)
	busybox, err := testimages.Busybox("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Push(ctx, busybox); err != nil {
		t.Fatal(err)
	}
	wantDigest, err := busybox.Digest()
	if err != nil {
		t.Fatal(err)
	}

	// Only the pause image is loaded; busybox must come from the registry.
	imgDir := t.TempDir()
	pauseBin := filepath.Join(imgDir, "pause")
	if err := testimages.BuildPauseBinary(ctx, pauseBin); err != nil {
		t.Fatal(err)
	}
	pause, err := testimages.Pause(pauseBin)
	if err != nil {
		t.Fatal(err)
	}
	pauseTar := filepath.Join(imgDir, "pause.tar")
	if err := testimages.WriteTarball(pauseTar, pause); err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + reg.Addr
	c := containerdtest.New(t, containerdtest.Options{
		Images: []string{pauseTar},
		Registries: map[string]string{
			testimages.Registry: endpoint, // registry.keel.test/... comes from it
			reg.Addr:            endpoint, // and so does 127.0.0.1:PORT/...
		},
	}, false)
	client := dial(t, c.Socket)

	spec := &runtimeapi.ImageSpec{Image: testimages.BusyboxRef}
	if st, err := client.ImageStatus(ctx, spec, false); err != nil || st.Image != nil {
		t.Fatalf("busybox present before the pull: %v, %v", st.GetImage(), err)
	}
	start := time.Now()
	ref, err := client.PullImage(ctx, spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("pulled %s as %s in %v", testimages.BusyboxRef, ref, time.Since(start).Round(time.Millisecond))
	st, err := client.ImageStatus(ctx, spec, false)
	if err != nil || st.Image == nil {
		t.Fatalf("ImageStatus after pull: %v, %v", st.GetImage(), err)
	}
	if want := testimages.Registry + "/busybox@" + wantDigest; !contains(st.Image.RepoDigests, want) {
		t.Errorf("repo digests %v, want %s (the pushed manifest)", st.Image.RepoDigests, want)
	}
	// The registry's own address works as a registry name too.
	byAddr := reg.Addr + "/busybox:1.35"
	if _, err := client.PullImage(ctx, &runtimeapi.ImageSpec{Image: byAddr}, nil, nil); err != nil {
		t.Fatal(err)
	}
	// An image the registry does not have fails clearly.
	if _, err := client.PullImage(ctx, &runtimeapi.ImageSpec{Image: testimages.Registry + "/nope:1"}, nil, nil); err == nil {
		t.Error("pulling a missing image succeeded")
	}
	images, err := client.ListImages(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d images after the pulls", len(images))

	// Containers from the pulled image, in a host-network pod (no CNI).
	sbConfig := sandboxConfig("jobs", filepath.Join(c.Dir, "pods", "jobs"), true)
	sb, err := client.RunPodSandbox(ctx, sbConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		image  string
		script string
		code   int32
		reason string
	}{
		{"ok", testimages.BusyboxRef, "test -x /bin/httpd && echo done", 0, "Completed"},
		{"fail", byAddr, "exit 3", 3, "Error"},
	} {
		id, err := client.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: tt.name},
			Image:    &runtimeapi.ImageSpec{Image: tt.image},
			Command:  []string{"sh", "-c", tt.script},
			LogPath:  tt.name + ".log",
		}, sbConfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := client.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
		var status *runtimeapi.ContainerStatus
		poll(t, 30*time.Second, "container "+tt.name+" exits", func() (bool, error) {
			resp, err := client.ContainerStatus(ctx, id, false)
			if err != nil {
				return false, err
			}
			status = resp.Status
			return status.State == runtimeapi.ContainerState_CONTAINER_EXITED, nil
		})
		// containerd may record a fast exit as finishing before the start
		// it stamps once the task runs: only check both are set.
		if status.ExitCode != tt.code || status.Reason != tt.reason || status.StartedAt == 0 || status.FinishedAt == 0 {
			t.Errorf("%s: exit %d reason %q started %d finished %d, want %d %q", tt.name,
				status.ExitCode, status.Reason, status.StartedAt, status.FinishedAt, tt.code, tt.reason)
		}
		t.Logf("%s: exit %d %q, started→finished %v", tt.name, status.ExitCode, status.Reason, time.Duration(status.FinishedAt-status.StartedAt))
	}
	if err := client.StopPodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if err := client.RemovePodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if cs, err := client.ListContainers(ctx, nil); err != nil || len(cs) != 0 {
		t.Errorf("containers left: %v, %v", cs, err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestE2EContainerStats: ListContainerStats reports a running container's
// cumulative CPU time and its memory working set (what kubectl top shows),
// here a shell holding a 4 MiB string.
func TestE2EContainerStats(t *testing.T) {
	c := containerdtest.New(t, containerdtest.Options{}, true)
	ctx := context.Background()
	deleteBridge(t)
	t.Cleanup(func() { deleteBridge(t) })
	if _, err := cni.WriteConflist(c.CNIConfDir, cni.Config{
		PodCIDR: e2ePodCIDR, BridgeName: e2eBridge, NetworkName: e2eNetwork, IPAMDataDir: filepath.Join(c.Dir, "ipam"),
	}); err != nil {
		t.Fatal(err)
	}
	client := dial(t, c.Socket)
	waitNetworkReady(t, client)
	sbConfig := sandboxConfig("stats", filepath.Join(c.Dir, "pods", "stats"), false)
	sb, err := client.RunPodSandbox(ctx, sbConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	ctr, err := client.CreateContainer(ctx, sb, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "hog"},
		Image:    &runtimeapi.ImageSpec{Image: testimages.BusyboxRef},
		// The shell keeps the string: it waits for sleep rather than exec it.
		Command: []string{"sh", "-c", `trap "exit 0" TERM; s=a; i=0; while [ $i -lt 22 ]; do s=$s$s; i=$((i+1)); done; sleep 3600 & wait`},
		LogPath: "hog/0.log",
		Labels: map[string]string{kuberuntime.LabelPodNamespace: "default", kuberuntime.LabelPodName: "stats",
			kuberuntime.LabelPodUID: "u1", kuberuntime.LabelContainerName: "hog"},
	}, sbConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.StartContainer(ctx, ctr); err != nil {
		t.Fatal(err)
	}
	var last *runtimeapi.ContainerStats
	poll(t, 30*time.Second, "the container's stats showing its 4 MiB", func() (bool, error) {
		stats, err := client.ListContainerStats(ctx, &runtimeapi.ContainerStatsFilter{Id: ctr})
		if err != nil {
			return false, err
		}
		if len(stats) != 1 {
			return false, fmt.Errorf("%d stats for one container", len(stats))
		}
		last = stats[0]
		ws := last.GetMemory().GetWorkingSetBytes().GetValue()
		return ws >= 4<<20 && last.GetCpu().GetUsageCoreNanoSeconds().GetValue() > 0, fmt.Errorf("stats %v", last)
	})
	if last.GetAttributes().GetId() != ctr || last.GetCpu().GetTimestamp() == 0 {
		t.Errorf("stats %v", last)
	}
	t.Logf("container stats: cpu %d ns, working set %d bytes", last.GetCpu().GetUsageCoreNanoSeconds().GetValue(), last.GetMemory().GetWorkingSetBytes().GetValue())

	// The kubelet's summary of them: the pod, its container, a CPU rate
	// from the second sample on.
	col := &stats.Collector{NodeName: "n", Runtime: client, MinWindow: 100 * time.Millisecond,
		OnError: func(what string, err error) { t.Errorf("reading %s: %v", what, err) }}
	col.Summary(ctx)
	var pod *kubeletv1.PodStats
	poll(t, 10*time.Second, "a summary with the container's CPU rate", func() (bool, error) {
		sum := col.Summary(ctx)
		if len(sum.GetPods()) != 1 {
			return false, fmt.Errorf("pods %v", sum.GetPods())
		}
		pod = sum.GetPods()[0]
		return pod.GetCpu().UsageNanoCores != nil, fmt.Errorf("pod %v", pod)
	})
	if pod.GetNamespace() != "default" || pod.GetName() != "stats" || pod.GetUid() != "u1" || len(pod.GetContainers()) != 1 ||
		pod.GetContainers()[0].GetName() != "hog" || pod.GetContainers()[0].GetMemory().GetWorkingSetBytes() < 4<<20 {
		t.Errorf("the pod's stats: %v", pod)
	}
}
