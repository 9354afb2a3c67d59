package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

// docBlock is a shell block of docs/install.md marked to run on machines.
type docBlock struct {
	line     int      // of the block's opening fence
	machines []string // where it runs, in this order
	sets     []string // variables the test assigns (see docs/install.md)
	script   string
}

var runMark = regexp.MustCompile(`^<!-- run: ([a-z0-9 ]+?)(?:; sets: ([a-z_ ]+?))? -->$`)

// docBlocks returns the blocks of the Markdown md marked
// `<!-- run: MACHINE... [; sets: VAR...] -->` on the line before a ```sh
// fence, in order.
func docBlocks(md string) ([]docBlock, error) {
	lines := strings.Split(md, "\n")
	var out []docBlock
	for i := 0; i < len(lines); i++ {
		m := runMark.FindStringSubmatch(lines[i])
		if m == nil {
			if strings.HasPrefix(lines[i], "<!-- run") {
				return nil, fmt.Errorf("line %d: malformed run mark %q", i+1, lines[i])
			}
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "```sh" {
			return nil, fmt.Errorf("line %d: a run mark not followed by a ```sh block", i+1)
		}
		b := docBlock{line: i + 2, machines: strings.Fields(m[1]), sets: strings.Fields(m[2])}
		j := i + 2
		for ; j < len(lines) && lines[j] != "```"; j++ {
		}
		if j == len(lines) {
			return nil, fmt.Errorf("line %d: unterminated block", i+2)
		}
		b.script = strings.Join(lines[i+2:j], "\n") + "\n"
		out = append(out, b)
		i = j
	}
	return out, nil
}

// assign replaces each VAR=… line of script with VAR=value from vars.
func assign(script string, names []string, vars map[string]string) (string, error) {
	for _, name := range names {
		re := regexp.MustCompile(`(?m)^` + name + `=.*$`)
		v, ok := vars[name]
		if !ok || !re.MatchString(script) {
			return "", fmt.Errorf("variable %s: no value (%v) or no %s=… line", name, ok, name)
		}
		script = re.ReplaceAllLiteralString(script, name+"="+v)
	}
	return script, nil
}

// installMachine is one machine of docs/install.md: network, UTS and mount
// namespaces held by a process, with its own overlays of the system's
// directories.
type installMachine struct {
	name, ip string
	dir      string // its overlays' upper and work directories, and the stand-ins' state
	holder   *exec.Cmd
}

func (m *installMachine) state() string { return filepath.Join(m.dir, "s") }

// The machines of docs/install.md, with its addresses, and the test's
// names for the host's side of their network.
const (
	instPrefix = "kinst"
	instBridge = "10.0.0.1"
)

var instMachines = []struct{ name, ip, podCIDR string }{
	{"cp1", "10.0.0.11", ""}, {"cp2", "10.0.0.12", ""}, {"cp3", "10.0.0.13", ""},
	{"worker1", "10.0.0.21", "10.244.1.0/24"}, {"worker2", "10.0.0.22", "10.244.2.0/24"},
}

// TestInstallDoc follows docs/install.md on five machines made of
// namespaces on this host (see the document's last section): every block
// marked for a machine runs there in order, the daemons started from the
// units `make install` put in place. Then: every Keel daemon runs on its
// machines; both workers are Ready; the Deployment of the last step has a
// running pod on each worker; the Service answers on both workers'
// NodePorts from both pods; and a killed apiserver is restarted by its
// unit's Restart= and serves again.
func TestInstallDoc(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.Missing(t, "needs root (namespaces, mounts, containerd)")
	}
	for _, tool := range []string{"etcd", "etcdctl", "nsenter", "unshare", "curl", "busybox", "ip", "pgrep", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			testutil.Missing(t, "needs "+tool+" (hack/install-deps.sh)")
		}
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(repo, "docs/install.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := docBlocks(string(md))
	if err != nil {
		t.Fatalf("docs/install.md: %v", err)
	}
	base, err := os.MkdirTemp("", "kinst")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(base) })

	// The stand-ins: this test binary under the names systemctl and scp.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	shims := filepath.Join(base, "bin")
	if err := os.MkdirAll(shims, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"systemctl", "scp"} {
		if err := os.Symlink(self, filepath.Join(shims, name)); err != nil {
			t.Fatal(err)
		}
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}

	machines := map[string]*installMachine{}
	var order []*installMachine
	// What a killed earlier run left: its namespaces, their processes, links.
	var stale []*installMachine
	for _, spec := range instMachines {
		stale = append(stale, &installMachine{name: spec.name})
	}
	teardownMachines(t, stale, repo)
	t.Cleanup(func() { teardownMachines(t, order, repo) })
	if out, err := exec.Command("sh", "-c", fmt.Sprintf(
		"ip link add %[1]s-br type bridge && ip addr add %[2]s/24 dev %[1]s-br && ip link set %[1]s-br up", instPrefix, instBridge)).CombinedOutput(); err != nil {
		t.Fatalf("host bridge: %v\n%s", err, out)
	}
	for i, spec := range instMachines {
		m := &installMachine{name: spec.name, ip: spec.ip, dir: filepath.Join(base, spec.name)}
		machines[m.name], order = m, append(order, m)
		ns, veth := instPrefix+"-"+m.name, fmt.Sprintf("%s-v%d", instPrefix, i)
		net := fmt.Sprintf(`set -e
ip netns add %[1]s
ip link add %[2]s type veth peer name eth0 netns %[1]s
ip link set %[2]s master %[3]s-br up
ip -n %[1]s link set lo up
ip -n %[1]s addr add %[4]s/24 dev eth0
ip -n %[1]s link set eth0 up
ip -n %[1]s route add default via %[5]s
`, ns, veth, instPrefix, m.ip, instBridge)
		if out, err := exec.Command("sh", "-c", net).CombinedOutput(); err != nil {
			t.Fatalf("network of %s: %v\n%s", m.name, err, out)
		}
		var mounts strings.Builder
		for _, d := range []string{"etc", "var", "run", "usr/local", "root"} {
			up, work := filepath.Join(m.dir, "u", d), filepath.Join(m.dir, "w", d)
			fmt.Fprintf(&mounts, "mkdir -p %[1]s %[2]s && mount -t overlay overlay -o lowerdir=/%[3]s,upperdir=%[1]s,workdir=%[2]s /%[3]s\n", up, work, d)
		}
		m.holder = exec.Command("nsenter", "--net=/run/netns/"+ns, "unshare", "--mount", "--uts", "--propagation", "private", "--",
			"sh", "-c", "set -e\nhostname "+m.name+"\n"+mounts.String()+"echo ready\nexec sleep infinity")
		out, err := m.holder.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		m.holder.Stderr = &stderr
		if err := m.holder.Start(); err != nil {
			t.Fatal(err)
		}
		if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
			_ = m.holder.Wait()
			t.Fatalf("the namespaces of %s: %q %s", m.name, line, stderr.String())
		}
	}
	var list []string
	for _, m := range order {
		list = append(list, fmt.Sprintf("%s=%d", m.name, m.holder.Process.Pid))
	}

	// run runs script on m, from the repository's root, as root with a
	// login's PATH (and Go's, for make install), and the stand-ins first.
	run := func(m *installMachine, script string, timeout time.Duration) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "nsenter", "-t", strconv.Itoa(m.holder.Process.Pid), "--mount", "--uts", "--net", "--",
			"bash", "-euo", "pipefail", "-c", "cd "+repo+"\n"+script)
		cmd.Env = []string{"HOME=/root", "LANG=C.UTF-8",
			"PATH=" + shims + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:" + filepath.Dir(goBin),
			"GOFLAGS=" + os.Getenv("GOFLAGS"), "GOCACHE=" + goEnv(t, "GOCACHE"), "GOMODCACHE=" + goEnv(t, "GOMODCACHE"),
			envState + "=" + m.state(), envMachines + "=" + strings.Join(list, " "), envRepo + "=" + repo}
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, m := range order {
				logs, _ := filepath.Glob(filepath.Join(m.state(), "logs", "*.log"))
				for _, l := range logs {
					t.Logf("--- %s: %s", m.name, lastLinesOf(l, 25))
				}
			}
		}
	})

	// The document, block by block.
	vars := map[string]map[string]string{}
	for _, m := range instMachines {
		vars[m.name] = map[string]string{"pod_cidr": m.podCIDR}
	}
	join := regexp.MustCompile(`--token (\S+) --ca-cert-hash (\S+)`)
	for _, b := range blocks {
		for _, name := range b.machines {
			m := machines[name]
			if m == nil {
				t.Fatalf("docs/install.md:%d: no machine %q", b.line, name)
			}
			script, err := assign(b.script, b.sets, vars[name])
			if err != nil {
				t.Fatalf("docs/install.md:%d on %s: %v", b.line, name, err)
			}
			start := time.Now()
			out, err := run(m, script, 5*time.Minute)
			t.Logf("docs/install.md:%d on %s (%v):\n%s", b.line, name, time.Since(start).Round(100*time.Millisecond), lastLines(out, 12))
			if err != nil {
				t.Fatalf("docs/install.md:%d on %s: %v\n%s", b.line, name, err, out)
			}
			if j := join.FindStringSubmatch(out); j != nil {
				for _, v := range vars {
					v["token"], v["ca_cert_hash"] = j[1], j[2]
				}
			}
		}
	}

	// Every unit the document starts runs.
	for _, m := range order {
		units := []string{"keel-kubelet", "keel-proxy"}
		if strings.HasPrefix(m.name, "cp") {
			units = []string{"etcd", "keel-apiserver", "keel-scheduler", "keel-controller-manager"}
		}
		for _, u := range units {
			if out, err := run(m, "systemctl is-active "+u, time.Minute); err != nil {
				t.Errorf("%s on %s: %v %s", u, m.name, err, out)
			}
		}
	}

	// The cluster, seen from the host as the admin: the bridge reaches
	// every machine, and the apiservers' certificate names their addresses.
	cp1PKI := filepath.Join(machines["cp1"].dir, "u/etc/keel/pki")
	tlsConf, err := pki.ClientTLSConfig(pki.CertPath(cp1PKI, pki.CAName), pki.CertPath(cp1PKI, pki.AdminName), pki.KeyPath(cp1PKI, pki.AdminName), "")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Options{Servers: []string{"10.0.0.11:6443", "10.0.0.12:6443", "10.0.0.13:6443"}, TLS: tlsConf, UserAgent: "install-e2e"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, w := range []string{"worker1", "worker2"} {
		n, err := c.Nodes().Get(ctx, w)
		if err != nil || !api.IsNodeReady(n) {
			t.Errorf("node %s: %v, Ready %v", w, err, err == nil && api.IsNodeReady(n))
		}
	}
	pods, err := c.Pods("default").List(ctx, client.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	podOn := map[string]string{}
	for _, p := range pods.Items {
		if p.GetStatus().GetPhase() == api.PodRunning {
			podOn[p.GetSpec().GetNodeName()] = p.GetMetadata().GetName()
		}
	}
	if podOn["worker1"] == "" || podOn["worker2"] == "" {
		t.Fatalf("web pods running by node: %v, want one on each worker", podOn)
	}
	svc, err := c.Services("default").Get(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}
	nodePort := svc.GetSpec().GetPorts()[0].GetNodePort()
	hc := &http.Client{Timeout: 5 * time.Second}
	for _, w := range []string{"10.0.0.21", "10.0.0.22"} {
		seen := map[string]bool{}
		url := fmt.Sprintf("http://%s:%d/", w, nodePort)
		testutil.Eventually(t, time.Minute, "both pods answering on "+url, func() error {
			body := get(hc, url)
			seen[strings.TrimSpace(body)] = true
			if seen[podOn["worker1"]] && seen[podOn["worker2"]] {
				return nil
			}
			return fmt.Errorf("answers so far %v, want %v", seen, podOn)
		})
	}

	// A killed apiserver comes back: its unit says Restart=always.
	cp1 := machines["cp1"]
	// pidOf is the pid of the apiserver the unit's supervisor runs (the
	// machines share the host's pid namespace: the three apiservers'
	// command lines are the same).
	pidOf := func() (int, error) {
		sup, err := os.ReadFile(pidFile(cp1.state(), "keel-apiserver.service"))
		if err != nil {
			return 0, err
		}
		out, err := exec.Command("pgrep", "-P", strings.TrimSpace(string(sup)), "-x", "keel-apiserver").Output()
		if err != nil {
			return 0, fmt.Errorf("pgrep: %v: %s", err, out)
		}
		return strconv.Atoi(strings.TrimSpace(string(out)))
	}
	old, err := pidOf()
	if err != nil {
		t.Fatalf("the apiserver's pid on cp1: %v", err)
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "cp1's apiserver restarted and ready", func() error {
		if pid, err := pidOf(); err != nil || pid == old {
			return fmt.Errorf("apiserver pid %d (killed %d): %v", pid, old, err)
		}
		// The health port is on cp1's loopback: ask from there.
		if out, err := run(cp1, "curl -fsS http://127.0.0.1:6444/readyz", 10*time.Second); err != nil || strings.TrimSpace(out) != "ok" {
			return fmt.Errorf("readyz: %v %s", err, out)
		}
		return nil
	})
}

// goEnv is `go env NAME`.
func goEnv(t *testing.T, name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// lastLinesOf names path and gives its last n lines.
func lastLinesOf(path string, n int) string {
	b, _ := os.ReadFile(path)
	return filepath.Base(path) + "\n" + lastLines(string(b), n)
}

// teardownMachines stops every unit the stand-ins started on the
// machines (containerd last, removing its pods), then kills what is left in
// their network namespaces, ends them and removes the host's links.
func teardownMachines(t *testing.T, ms []*installMachine, repo string) {
	for _, m := range ms {
		if m.holder == nil || m.holder.Process == nil {
			continue
		}
		pidfiles, _ := filepath.Glob(filepath.Join(m.state(), "run", "*.pid"))
		var sup []int
		for _, p := range pidfiles {
			if b, err := os.ReadFile(p); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && syscall.Kill(pid, syscall.SIGTERM) == nil {
					sup = append(sup, pid)
				}
			}
		}
		waitStopped(t, sup)
		if _, err := os.Stat(filepath.Join(m.state(), "containerd")); err == nil {
			cmd := exec.Command("nsenter", "-t", strconv.Itoa(m.holder.Process.Pid), "--mount", "--uts", "--net", "--",
				filepath.Join(repo, "hack/containerd.sh"), "stop", filepath.Join(m.state(), "containerd"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("stopping the containerd of %s: %v\n%s", m.name, err, out)
			}
		}
	}
	for i, m := range ms {
		ns, holder := instPrefix+"-"+m.name, 0
		if m.holder != nil && m.holder.Process != nil {
			holder = m.holder.Process.Pid
		}
		if out, _ := exec.Command("ip", "netns", "pids", ns).Output(); len(strings.TrimSpace(string(out))) > 0 {
			for _, p := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(p); err == nil && pid != holder {
					t.Logf("killing pid %d left in %s", pid, ns)
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
		if holder != 0 {
			_ = m.holder.Process.Kill()
			_ = m.holder.Wait()
		}
		_ = exec.Command("ip", "netns", "del", ns).Run()
		_ = exec.Command("ip", "link", "del", fmt.Sprintf("%s-v%d", instPrefix, i)).Run()
	}
	_ = exec.Command("ip", "link", "del", instPrefix+"-br").Run()
}
