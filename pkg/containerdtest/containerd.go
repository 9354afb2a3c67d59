// Package containerdtest runs private containerd instances for end-to-end
// tests and hack/ scripts: each with its own generated config, root, state
// and socket under one directory, so several run side by side (one per
// simulated node) next to any system containerd.
//
// Start writes the config (RenderConfig), starts `containerd --config`,
// waits until its CRI service answers, and can load image tarballs (from
// pkg/testimages) into the k8s.io namespace that CRI uses. Stop removes
// every CRI pod sandbox still there (which tears down their networks),
// stops containerd and unmounts what it left under its directory. New does
// all of that around a test, skipping it when the machine cannot.
package containerdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/testimages"
	"keel.dev/keel/pkg/testutil"
)

const (
	// Namespace is the containerd namespace the CRI plugin uses.
	Namespace = "k8s.io"
	// DefaultCNIBinDir is where Debian's containernetworking-plugins are.
	DefaultCNIBinDir = "/usr/lib/cni"
)

// Options configures Start.
type Options struct {
	// Dir holds everything of the instance: config.toml, root/, state/,
	// containerd.sock, net.d/ (CNI config), certs.d/ (registry hosts),
	// containerd.log. Required; keep it short, the socket path must fit in
	// 107 bytes.
	Dir string
	// Binary is the containerd executable; "containerd" on PATH when empty.
	Binary string
	// SandboxImage is the pod sandbox image; testimages.PauseRef when empty.
	SandboxImage string
	// Snapshotter is "overlayfs" or "native"; when empty, overlayfs if an
	// overlay mount works in Dir, else native.
	Snapshotter string
	// CNIBinDir is where the CNI plugins are; DefaultCNIBinDir when empty.
	CNIBinDir string
	// CNIConfDir is where the node's CNI config goes; Dir/net.d when empty.
	CNIConfDir string
	// Registries maps a registry host as named in image references
	// ("registry.keel.test", "127.0.0.1:5000") to the endpoint containerd
	// pulls from ("http://127.0.0.1:5000": plain HTTP).
	Registries map[string]string
	// Images are tarballs (docker-archive or OCI) loaded into the k8s.io
	// namespace once containerd is up.
	Images []string
	// Log receives containerd's output; Dir/containerd.log when nil.
	Log io.Writer
	// StartTimeout bounds the wait for containerd to serve CRI; 30s when 0.
	StartTimeout time.Duration
}

// Containerd is a running private containerd.
type Containerd struct {
	// Dir is the instance's directory (Options.Dir).
	Dir string
	// Socket is the gRPC socket, for CRI (cri.Dial) and the containerd API.
	Socket string
	// ConfigPath is the generated config file.
	ConfigPath string
	// CNIConfDir is the CRI plugin's CNI conf_dir.
	CNIConfDir string
	// RegistryConfigDir is the directory of <host>/hosts.toml files.
	RegistryConfigDir string
	// Snapshotter is the snapshotter in use.
	Snapshotter string
	// LogPath is the log file, if Options.Log was nil.
	LogPath string

	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	logFile  *os.File
	stopOnce sync.Once
	stopErr  error
}

// Available returns nil when this machine can run containerd with CRI
// sandboxes: root, containerd and runc installed. Otherwise the error says
// what is missing.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("containerd needs root (run the tests as root)")
	}
	for _, bin := range []string{"containerd", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is not installed (apt-get install containerd runc, or hack/install-deps.sh)", bin)
		}
	}
	return nil
}

// Start generates the config and starts containerd, returning once its CRI
// service answers and Options.Images are loaded. On error nothing is left
// running.
func Start(ctx context.Context, opts Options) (*Containerd, error) {
	if opts.Dir == "" {
		return nil, errors.New("containerdtest: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	bin := opts.Binary
	if bin == "" {
		if bin, err = exec.LookPath("containerd"); err != nil {
			return nil, errors.New("containerdtest: containerd is not installed (apt-get install containerd, or hack/install-deps.sh)")
		}
	}
	c := &Containerd{
		Dir:               dir,
		Socket:            filepath.Join(dir, "containerd.sock"),
		ConfigPath:        filepath.Join(dir, "config.toml"),
		CNIConfDir:        opts.CNIConfDir,
		RegistryConfigDir: filepath.Join(dir, "certs.d"),
		Snapshotter:       opts.Snapshotter,
		done:              make(chan struct{}),
	}
	if c.CNIConfDir == "" {
		c.CNIConfDir = filepath.Join(dir, "net.d")
	}
	root, state := filepath.Join(dir, "root"), filepath.Join(dir, "state")
	for _, d := range []string{root, state, c.CNIConfDir, c.RegistryConfigDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("containerdtest: %w", err)
		}
	}
	if c.Snapshotter == "" {
		c.Snapshotter = "overlayfs"
		if err := OverlaySupported(root); err != nil {
			c.Snapshotter = "native"
		}
	}
	for host, endpoint := range opts.Registries {
		if err := WriteRegistryHost(c.RegistryConfigDir, host, endpoint); err != nil {
			return nil, err
		}
	}
	sandbox := opts.SandboxImage
	if sandbox == "" {
		sandbox = testimages.PauseRef
	}
	cniBin := opts.CNIBinDir
	if cniBin == "" {
		cniBin = DefaultCNIBinDir
	}
	cfg, err := RenderConfig(Config{
		Root: root, State: state, Socket: c.Socket,
		SandboxImage: sandbox, Snapshotter: c.Snapshotter,
		CNIBinDir: cniBin, CNIConfDir: c.CNIConfDir,
		RegistryConfigDir: c.RegistryConfigDir,
	})
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(c.ConfigPath, cfg, 0o644); err != nil {
		return nil, err
	}
	// A socket left by an instance that died would make us talk to nobody.
	_ = os.Remove(c.Socket)
	_ = os.Remove(c.Socket + ".ttrpc")

	logw := opts.Log
	if logw == nil {
		c.LogPath = filepath.Join(dir, "containerd.log")
		if c.logFile, err = os.OpenFile(c.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, err
		}
		logw = c.logFile
	}
	c.cmd = exec.Command(bin, "--config", c.ConfigPath)
	c.cmd.Stdout, c.cmd.Stderr = logw, logw
	// Its own process group, and it dies with the process that started it.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		c.closeLog()
		return nil, fmt.Errorf("containerdtest: starting %s: %w", bin, err)
	}
	go func() {
		c.waitErr = c.cmd.Wait()
		close(c.done)
	}()
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if err := c.waitServing(ctx, timeout); err != nil {
		c.Stop()
		return nil, fmt.Errorf("containerdtest: %w%s", err, c.logHint())
	}
	if len(opts.Images) > 0 {
		if _, err := c.LoadImages(ctx, opts.Images...); err != nil {
			c.Stop()
			return nil, err
		}
	}
	return c, nil
}

func (c *Containerd) logHint() string {
	if c.LogPath != "" {
		return " (log in " + c.LogPath + ")"
	}
	return ""
}

func (c *Containerd) closeLog() {
	if c.logFile != nil {
		c.logFile.Close()
	}
}

// waitServing polls until the CRI service answers Version, containerd
// exits, or the time is up.
func (c *Containerd) waitServing(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if _, err := os.Stat(c.Socket); err == nil {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			client, err := cri.Dial(cctx, c.Socket, cri.Options{DialTimeout: time.Second})
			cancel()
			if err == nil {
				client.Close()
				return nil
			}
			last = err
		} else {
			last = err
		}
		select {
		case <-c.done:
			return fmt.Errorf("containerd exited while starting: %v", c.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd not serving CRI on %s after %v: %v", c.Socket, timeout, last)
		}
	}
}

// LoadImages imports image tarballs into the k8s.io namespace and unpacks
// them into the snapshotter, as `ctr -n k8s.io images import` does. It
// returns the names of the images created or updated.
func (c *Containerd) LoadImages(ctx context.Context, tarballs ...string) ([]string, error) {
	client, err := containerd.New(c.Socket, containerd.WithDefaultNamespace(Namespace))
	if err != nil {
		return nil, fmt.Errorf("containerdtest: containerd client: %w", err)
	}
	defer client.Close()
	var names []string
	for _, path := range tarballs {
		got, err := importTarball(ctx, client, path, c.Snapshotter)
		if err != nil {
			return names, fmt.Errorf("containerdtest: loading %s: %w", path, err)
		}
		names = append(names, got...)
	}
	return names, nil
}

func importTarball(ctx context.Context, client *containerd.Client, path, snapshotter string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	imgs, err := client.Import(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(imgs) == 0 {
		return nil, errors.New("the tarball names no image (docker-archive without RepoTags?)")
	}
	var names []string
	for _, img := range imgs {
		if err := containerd.NewImage(client, img).Unpack(ctx, snapshotter); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	return names, nil
}

// RemoveAllPods stops and removes every CRI pod sandbox (and so every
// container, and their networks). Errors are collected, not fatal.
func (c *Containerd) RemoveAllPods(ctx context.Context) error {
	client, err := cri.Dial(ctx, c.Socket, cri.Options{DialTimeout: 5 * time.Second, Timeout: time.Minute})
	if err != nil {
		return err
	}
	defer client.Close()
	sandboxes, err := client.ListPodSandbox(ctx, nil)
	if err != nil {
		return err
	}
	var errs []error
	for _, sb := range sandboxes {
		if err := client.StopPodSandbox(ctx, sb.Id); err != nil && !cri.IsNotFound(err) {
			errs = append(errs, err)
		}
		if err := client.RemovePodSandbox(ctx, sb.Id); err != nil {
			errs = append(errs, err)
		}
	}
	// Containers outside any sandbox should not exist; remove them too.
	containers, err := client.ListContainers(ctx, &runtimeapi.ContainerFilter{})
	if err != nil {
		errs = append(errs, err)
	}
	for _, ctr := range containers {
		if err := client.RemoveContainer(ctx, ctr.Id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Stop removes every pod (RemoveAllPods), terminates containerd (SIGTERM,
// SIGKILL after 10s), ends any shim it left, and unmounts whatever is still
// mounted under Dir, so that Dir can be deleted. It does not delete Dir.
// Calling Stop again returns the first result.
func (c *Containerd) Stop() error {
	c.stopOnce.Do(func() { c.stopErr = c.stop() })
	return c.stopErr
}

func (c *Containerd) stop() error {
	defer c.closeLog()
	var errs []error
	select {
	case <-c.done:
	default:
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := c.RemoveAllPods(ctx); err != nil {
			errs = append(errs, fmt.Errorf("removing pods: %w", err))
		}
		cancel()
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
			errs = append(errs, errors.New("containerd ignored SIGTERM for 10s; killed"))
		}
	}
	if n := c.killShims(); n > 0 {
		errs = append(errs, fmt.Errorf("%d shim processes were left running; killed", n))
	}
	mounts, err := mountsUnder(c.Dir)
	if err != nil {
		errs = append(errs, err)
	}
	for _, m := range mounts {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("containerdtest: stopping containerd in %s: %w", c.Dir, errors.Join(errs...))
	}
	return nil
}

// killShims kills the containerd-shim processes serving this instance (their
// command line names its socket) and returns how many there were.
func (c *Containerd) killShims() int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte("containerd-shim")) {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		for i, a := range args {
			if a == "-address" && i+1 < len(args) && args[i+1] == c.Socket {
				if syscall.Kill(pid, syscall.SIGKILL) == nil {
					n++
				}
				break
			}
		}
	}
	return n
}

// New starts a private containerd for a test, in a fresh temporary
// directory (opts.Dir is ignored), and stops it and removes the directory
// when the test ends; if the test failed, containerd's log is printed. With
// loadTestImages it first builds the test images (busybox, pause, see
// pkg/testimages) into Dir/images and loads them. It skips the test, saying
// why, when the machine cannot run containerd (see Available) or lacks
// busybox-static for the images.
func New(t testing.TB, opts Options, loadTestImages bool) *Containerd {
	t.Helper()
	if err := Available(); err != nil {
		testutil.Missing(t, "containerdtest: "+err.Error())
	}
	if _, err := os.Stat(testimages.DefaultBusyboxPath); loadTestImages && err != nil {
		testutil.Missing(t, "containerdtest: busybox-static is not installed (hack/install-deps.sh): no test images")
	}
	// Not t.TempDir(): its path grows with the test name, and the socket
	// path must stay short.
	dir, err := os.MkdirTemp("", "keel-ctd-")
	if err != nil {
		t.Fatal(err)
	}
	opts.Dir = dir
	var log bytes.Buffer
	var logMu sync.Mutex
	if opts.Log == nil {
		opts.Log = &lockedWriter{w: &log, mu: &logMu}
	}
	var c *Containerd
	t.Cleanup(func() {
		if c != nil {
			if err := c.Stop(); err != nil {
				t.Error(err)
			}
		}
		if t.Failed() {
			logMu.Lock()
			t.Logf("containerd log (%s):\n%s", dir, log.String())
			logMu.Unlock()
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
	})
	ctx := context.Background()
	if loadTestImages {
		tbs, err := testimages.WriteAll(ctx, filepath.Join(dir, "images"), testimages.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range tbs {
			opts.Images = append(opts.Images, tb.Path)
		}
	}
	c, err = Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
