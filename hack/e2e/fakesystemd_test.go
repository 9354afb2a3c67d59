package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets this test binary stand in for the commands TestInstallDoc's
// machines lack (see docs/install.md, "How this document is tested"): run
// as systemctl or scp (through a link of that name) it is that command,
// and as keel-unit-supervisor it supervises one unit's process.
func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case "systemctl":
		os.Exit(fakeSystemctl(os.Args[1:]))
	case "scp":
		os.Exit(fakeScp(os.Args[1:]))
	case unitSupervisor:
		os.Exit(superviseUnit(os.Args[1]))
	}
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// The stand-ins' environment, set by TestInstallDoc for each machine.
const (
	// envState is the machine's directory for the stand-ins: run/UNIT.pid
	// (the unit's supervisor), logs/UNIT.log (its output).
	envState = "KEEL_INSTALL_STATE"
	// envMachines lists NAME=PID for every machine, PID a process in its
	// namespaces (for scp).
	envMachines = "KEEL_INSTALL_MACHINES"
	// envRepo is the repository's root (for hack/containerd.sh).
	envRepo = "KEEL_INSTALL_REPO"

	unitSupervisor = "keel-unit-supervisor"
)

// unitPath is where systemd looks for units, highest priority first.
var unitPath = []string{"/etc/systemd/system", "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"}

// fakeSystemctl does what systemctl does with the units it is given, for
// daemon-reload, enable [--now], start, stop, restart and is-active; other
// options (--no-block, -q) change nothing: starting never waits for a
// Type=notify unit's readiness. containerd.service is the tests' own
// containerd (hack/containerd.sh), its socket linked at
// /run/containerd/containerd.sock.
func fakeSystemctl(args []string) int {
	var verb string
	var units []string
	now := false
	for _, a := range args {
		switch {
		case a == "--now":
			now = true
		case strings.HasPrefix(a, "-"):
		case verb == "":
			verb = a
		default:
			if !strings.Contains(a, ".") {
				a += ".service"
			}
			units = append(units, a)
		}
	}
	state := os.Getenv(envState)
	for _, d := range []string{"run", "logs"} {
		if err := os.MkdirAll(filepath.Join(state, d), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "systemctl:", err)
			return 1
		}
	}
	var err error
	for _, u := range units {
		switch verb {
		case "enable":
			if now {
				err = startUnit(state, u)
			}
		case "start":
			err = startUnit(state, u)
		case "restart":
			if err = stopUnit(state, u); err == nil {
				err = startUnit(state, u)
			}
		case "stop":
			err = stopUnit(state, u)
		case "is-active":
			if !unitRunning(state, u) {
				fmt.Println("inactive")
				return 3
			}
			fmt.Println("active")
		default:
			err = fmt.Errorf("%s: not supported by this stand-in", verb)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "systemctl %s %s: %v\n", verb, u, err)
			return 1
		}
	}
	if verb == "" {
		fmt.Fprintln(os.Stderr, "systemctl: no command")
		return 1
	}
	return 0
}

func pidFile(state, unit string) string { return filepath.Join(state, "run", unit+".pid") }

// unitRunning reports whether unit's supervisor (or containerd) runs.
func unitRunning(state, unit string) bool {
	if unit == "containerd.service" {
		return exec.Command(filepath.Join(os.Getenv(envRepo), "hack/containerd.sh"), "status", filepath.Join(state, "containerd")).Run() == nil
	}
	b, err := os.ReadFile(pidFile(state, unit))
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && syscall.Kill(pid, 0) == nil && !zombie(pid)
}

func startUnit(state, unit string) error {
	if unitRunning(state, unit) {
		return nil
	}
	if unit == "containerd.service" {
		dir := filepath.Join(state, "containerd")
		out, err := exec.Command(filepath.Join(os.Getenv(envRepo), "hack/containerd.sh"), "start", dir, "--cni-conf-dir", "/etc/cni/net.d").CombinedOutput()
		if err != nil {
			return fmt.Errorf("hack/containerd.sh: %v\n%s", err, out)
		}
		if err := os.MkdirAll("/run/containerd", 0o711); err != nil {
			return err
		}
		_ = os.Remove("/run/containerd/containerd.sock")
		return os.Symlink(filepath.Join(dir, "containerd.sock"), "/run/containerd/containerd.sock")
	}
	if _, _, err := loadUnit(unit); err != nil { // refused now rather than in the supervisor
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(state, "logs", unit+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(self, unit)
	cmd.Args[0] = unitSupervisor
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer cmd.Process.Release()
	return os.WriteFile(pidFile(state, unit), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

// stopUnit signals unit's supervisor, which stops the unit's process, and
// waits up to 40s for it to exit.
func stopUnit(state, unit string) error {
	if unit == "containerd.service" {
		out, err := exec.Command(filepath.Join(os.Getenv(envRepo), "hack/containerd.sh"), "stop", filepath.Join(state, "containerd")).CombinedOutput()
		if err != nil {
			return fmt.Errorf("hack/containerd.sh: %v\n%s", err, out)
		}
		return nil
	}
	if !unitRunning(state, unit) {
		return nil
	}
	b, _ := os.ReadFile(pidFile(state, unit))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for range 400 {
		if !unitRunning(state, unit) {
			return os.Remove(pidFile(state, unit))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pid %d still running 40s after SIGTERM", pid)
}

// superviseUnit runs unit's ExecStart as systemd would run the service:
// as its User=, its environment from Environment= and EnvironmentFile=, its
// StateDirectory= and LogsDirectory= made, and again RestartSec= after it
// exits, if Restart= says so. SIGTERM stops it (the process is sent
// SIGTERM, then SIGKILL after TimeoutStopSec=) and ends the supervisor.
func superviseUnit(unit string) int {
	argv, u, err := loadUnit(unit)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", unit, err)
		return 1
	}
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	env = append(env, u.env...)
	restart, restartSec := u.last("Restart"), parseSeconds(u.last("RestartSec"), 100*time.Millisecond)
	stopTimeout := parseSeconds(u.last("TimeoutStopSec"), 90*time.Second)
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	cred, err := u.credential()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", unit, err)
		return 1
	}
	for {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		fmt.Printf("fake systemd: starting %s: %s\n", unit, strings.Join(argv, " "))
		if err := cmd.Start(); err != nil {
			fmt.Printf("fake systemd: %s: %v\n", unit, err)
			return 1
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-term:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(stopTimeout):
				_ = cmd.Process.Kill()
				<-done
			}
			fmt.Printf("fake systemd: stopped %s\n", unit)
			return 0
		case err := <-done:
			fmt.Printf("fake systemd: %s exited: %v\n", unit, err)
			if restart != "always" && (restart != "on-failure" || err == nil) {
				return 0
			}
		}
		select {
		case <-term:
			return 0
		case <-time.After(restartSec):
		}
	}
}

// parseSeconds reads a systemd time span of whole seconds ("2", "2s"), or
// def.
func parseSeconds(s string, def time.Duration) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSuffix(s, "s")); err == nil {
		return time.Duration(n) * time.Second
	}
	return def
}

// unitFile is a unit's [Service] settings, its environment resolved.
type unitFile struct {
	settings map[string][]string
	env      []string
}

func (u unitFile) last(key string) string {
	v := u.settings[key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// credential is the User= (and Group=, else the user's group) the unit
// runs as; nil for root.
func (u unitFile) credential() (*syscall.Credential, error) {
	name := u.last("User")
	if name == "" || name == "root" {
		return nil, nil
	}
	usr, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	gid := usr.Gid
	if g := u.last("Group"); g != "" {
		grp, err := user.LookupGroup(g)
		if err != nil {
			return nil, err
		}
		gid = grp.Gid
	}
	uid, _ := strconv.Atoi(usr.Uid)
	g, _ := strconv.Atoi(gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(g)}, nil
}

// loadUnit finds unit in the unit path and returns its ExecStart, split
// into words at spaces (quotes and escapes are refused) with $VAR and
// ${VAR} replaced from its environment, after making its StateDirectory=
// and LogsDirectory=.
func loadUnit(unit string) ([]string, unitFile, error) {
	var u unitFile
	var path string
	for _, dir := range unitPath {
		if _, err := os.Stat(filepath.Join(dir, unit)); err == nil {
			path = filepath.Join(dir, unit)
			break
		}
	}
	if path == "" {
		return nil, u, fmt.Errorf("unit %s not found", unit)
	}
	host, _ := os.Hostname()
	spec := strings.NewReplacer("%%", "%", "%H", host, "%p", strings.TrimSuffix(unit, ".service"),
		"%N", strings.TrimSuffix(unit, ".service"), "%n", unit)
	f, err := os.Open(path)
	if err != nil {
		return nil, u, err
	}
	defer f.Close()
	u.settings = map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if section != "[Service]" || !ok || strings.HasPrefix(line, "#") {
			continue
		}
		u.settings[k] = append(u.settings[k], spec.Replace(v))
	}
	if err := sc.Err(); err != nil {
		return nil, u, err
	}
	vars := map[string]string{}
	set := func(kv string) {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
			u.env = append(u.env, k+"="+v)
		}
	}
	for _, e := range u.settings["Environment"] {
		for _, w := range strings.Fields(e) {
			set(w)
		}
	}
	for _, ef := range u.settings["EnvironmentFile"] {
		optional := strings.HasPrefix(ef, "-")
		b, err := os.ReadFile(strings.TrimPrefix(ef, "-"))
		if err != nil {
			if optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, u, err
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, _ := strings.Cut(line, "=")
			set(k + "=" + strings.Trim(v, `"'`))
		}
	}
	start := u.settings["ExecStart"]
	if len(start) != 1 {
		return nil, u, fmt.Errorf("%s: want one ExecStart, have %d", path, len(start))
	}
	for _, e := range append(start, u.settings["Environment"]...) {
		if strings.ContainsAny(e, `"'\`) {
			return nil, u, fmt.Errorf("%s: %q: quotes and escapes are not supported by this stand-in", path, e)
		}
	}
	var argv []string
	for _, w := range strings.Fields(strings.TrimLeft(start[0], "-@+!:")) {
		switch {
		case strings.HasPrefix(w, "${") && strings.HasSuffix(w, "}"):
			argv = append(argv, vars[w[2:len(w)-1]])
		case strings.HasPrefix(w, "$"):
			argv = append(argv, strings.Fields(vars[w[1:]])...)
		default:
			argv = append(argv, w)
		}
	}
	for key, base := range map[string]string{"StateDirectory": "/var/lib", "LogsDirectory": "/var/log", "RuntimeDirectory": "/run"} {
		for _, v := range u.settings[key] {
			for _, d := range strings.Fields(v) {
				if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
					return nil, u, err
				}
			}
		}
	}
	return argv, u, nil
}

// fakeScp copies local files and directories into a directory of another
// machine (scp [-r] [-p] SRC... [USER@]MACHINE:DIR/): tar here, tar there,
// entering that machine's mount namespace.
func fakeScp(args []string) int {
	var paths []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			paths = append(paths, a)
		}
	}
	if len(paths) < 2 {
		fmt.Fprintln(os.Stderr, "scp: want SRC... MACHINE:DIR")
		return 1
	}
	dest := paths[len(paths)-1]
	host, dir, ok := strings.Cut(dest, ":")
	if _, h, found := strings.Cut(host, "@"); found {
		host = h
	}
	var pid string
	for _, m := range strings.Fields(os.Getenv(envMachines)) {
		if name, p, _ := strings.Cut(m, "="); name == host {
			pid = p
		}
	}
	if !ok || pid == "" {
		fmt.Fprintf(os.Stderr, "scp: %s: not a MACHINE:DIR of %s\n", dest, os.Getenv(envMachines))
		return 1
	}
	for _, src := range paths[:len(paths)-1] {
		abs, err := filepath.Abs(src)
		if err != nil {
			fmt.Fprintln(os.Stderr, "scp:", err)
			return 1
		}
		script := fmt.Sprintf("tar -C %q -cf - %q | nsenter -t %s --mount -- tar -C %q -xpf -", filepath.Dir(abs), filepath.Base(abs), pid, dir)
		if out, err := exec.Command("bash", "-o", "pipefail", "-c", script).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "scp %s %s: %v\n%s", src, dest, err, out)
			return 1
		}
	}
	return 0
}
