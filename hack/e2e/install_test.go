package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/testutil"
)

// The units `make install` puts in place, one per daemon keelctl aside.
var installedUnits = []string{"keel-apiserver.service", "keel-scheduler.service",
	"keel-controller-manager.service", "keel-kubelet.service", "keel-proxy.service"}

// TestMakeInstallUnitsVerify installs with `make install DESTDIR=…` (the
// default PREFIX, then PREFIX=/opt/keel) and checks what an operator
// relies on: the binaries, units and example configurations land where
// the Makefile says; every unit passes `systemd-analyze verify` against
// the installed tree (its ExecStart binary there, no unknown or
// malformed setting) and names that PREFIX's binaries; every daemon is
// restarted when it fails; the kubelet starts after containerd and keeps
// its pods when stopped; the scheduler, controller-manager and apiserver
// run sandboxed (`systemd-analyze security` rates them OK); and installing
// again replaces the binaries and units but keeps an edited configuration.
func TestMakeInstallUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		testutil.Missing(t, "needs systemd-analyze (package systemd, hack/install-deps.sh)")
	}
	sc := newScript(t, nil)
	for _, tc := range []struct{ prefix, unitDir string }{
		{"", "/usr/local/lib/systemd/system"},
		{"/opt/keel", "/etc/systemd/system"},
	} {
		root := t.TempDir()
		args := []string{"install", "DESTDIR=" + root}
		bin := "/usr/local/bin"
		if tc.prefix != "" {
			args, bin = append(args, "PREFIX="+tc.prefix), tc.prefix+"/bin"
		}
		if out, err := sc.run(5*time.Minute, "make", args...); err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		for _, b := range []string{"keel-apiserver", "keel-scheduler", "keel-controller-manager", "keel-kubelet", "keel-proxy", "keelctl"} {
			if fi, err := os.Stat(filepath.Join(root, bin, b)); err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf("%s not installed as an executable in %s: %v", b, bin, err)
			}
		}
		for _, c := range []string{"apiserver.yaml", "scheduler.yaml", "scheduler.conf", "scheduler-plugins.yaml",
			"controller-manager.yaml", "controller-manager.conf", "kubelet.yaml", "proxy.yaml", "proxy.conf"} {
			if _, err := os.Stat(filepath.Join(root, "etc/keel", c)); err != nil {
				t.Errorf("example configuration %s not installed: %v", c, err)
			}
		}

		// systemd-analyze verify --root needs the system's own units
		// (sysinit.target, containerd.service…) under the root too.
		sys := filepath.Join(root, "lib/systemd")
		if err := os.MkdirAll(sys, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", "/lib/systemd/system", sys).CombinedOutput(); err != nil {
			t.Fatalf("copying the system's units: %v\n%s", err, out)
		}
		verify := exec.Command("systemd-analyze", append([]string{"verify", "--root=" + root}, installedUnits...)...)
		if out, err := verify.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify (PREFIX %q): %v\n%s", tc.prefix, err, out)
		}

		units := map[string]map[string][]string{}
		for _, u := range installedUnits {
			units[u] = readUnit(t, filepath.Join(root, tc.unitDir, u))
			s := units[u]
			name := strings.TrimSuffix(u, ".service")
			if got := first(s["Service.ExecStart"]); !strings.HasPrefix(got, bin+"/"+name+" --config /etc/keel/") {
				t.Errorf("%s: ExecStart=%s, want %s/%s --config /etc/keel/…", u, got, bin, name)
			}
			if first(s["Service.Restart"]) != "always" {
				t.Errorf("%s: Restart=%s, want always", u, first(s["Service.Restart"]))
			}
			if sec, err := strconv.Atoi(first(s["Service.RestartSec"])); err != nil || sec < 1 {
				t.Errorf("%s: RestartSec=%s, want a pause of at least 1s between restarts", u, first(s["Service.RestartSec"]))
			}
			if first(s["Service.LimitNOFILE"]) == "" {
				t.Errorf("%s: no LimitNOFILE", u)
			}
		}
		kubelet := units["keel-kubelet.service"]
		for _, key := range []string{"Unit.After", "Unit.Wants"} {
			if !strings.Contains(" "+strings.Join(kubelet[key], " ")+" ", " containerd.service ") {
				t.Errorf("keel-kubelet.service: %s=%v, want containerd.service", key, kubelet[key])
			}
		}
		if first(kubelet["Service.KillMode"]) != "process" || first(kubelet["Service.TasksMax"]) != "infinity" {
			t.Errorf("keel-kubelet.service: KillMode=%v TasksMax=%v, want process (pods outlive a kubelet restart) and infinity",
				kubelet["Service.KillMode"], kubelet["Service.TasksMax"])
		}
		for _, u := range []string{"keel-apiserver.service", "keel-scheduler.service", "keel-controller-manager.service"} {
			sec := exec.Command("systemd-analyze", "security", "--offline=true", "--root="+root, "--threshold=30", u)
			if out, err := sec.CombinedOutput(); err != nil {
				t.Errorf("%s: systemd-analyze security rates it above 3.0 (OK): %v\n%s", u, err, lastLines(string(out), 3))
			}
		}

		// Installing again keeps an edited configuration, replaces the rest.
		edited := filepath.Join(root, "etc/keel/scheduler.yaml")
		if err := os.WriteFile(edited, []byte("log-level: debug\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := sc.run(5*time.Minute, "make", args...); err != nil {
			t.Fatalf("make %s again: %v\n%s", strings.Join(args, " "), err, out)
		}
		if b, err := os.ReadFile(edited); err != nil || string(b) != "log-level: debug\n" {
			t.Errorf("make install overwrote the edited %s: %q, %v", edited, b, err)
		}
	}
}

// readUnit parses a systemd unit file into SECTION.KEY → values, one per
// line setting the key (comments and continuation lines aside).
func readUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[section+"."+k] = append(out[section+"."+k], v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// first is vs[0], or "" when vs is empty.
func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
