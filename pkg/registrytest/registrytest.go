// Package registrytest runs a local image registry for tests and hack/
// scripts: Debian's docker-registry (the CNCF distribution registry, package
// docker-registry) on a loopback port, storing its blobs in a directory of
// the caller's choosing, with no authentication and plain HTTP.
package registrytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"keel.dev/keel/pkg/testimages"
	"keel.dev/keel/pkg/testutil"
)

// DefaultBinary is where Debian's docker-registry package installs it.
const DefaultBinary = "/usr/bin/docker-registry"

// Options configures Start.
type Options struct {
	// Dir holds the config file, the log and the storage. Required.
	Dir string
	// Binary is the registry executable; DefaultBinary, or docker-registry
	// on PATH, when empty.
	Binary string
	// Addr is the listen address; a free 127.0.0.1 port when empty.
	Addr string
	// Log receives the registry's output; Dir/registry.log when nil.
	Log io.Writer
	// StartTimeout bounds the wait for the registry to answer; 30s when 0.
	StartTimeout time.Duration
}

// Registry is a running registry process.
type Registry struct {
	// Addr is "127.0.0.1:PORT", the host part of image references pushed
	// to it.
	Addr string
	// Dir is the directory of its config and storage.
	Dir string

	cmd      *exec.Cmd
	done     chan struct{}
	waitErr  error
	logFile  *os.File
	stopOnce sync.Once
	stopErr  error
}

// Config renders the registry's configuration YAML: storage under
// storageDir, listening on addr, deletes allowed, no auth, quiet logs.
func Config(storageDir, addr string) []byte {
	return fmt.Appendf(nil, `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %q
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: false
`, storageDir, addr)
}

// FindBinary returns the registry executable to run: explicit, else
// DefaultBinary, else docker-registry or registry on PATH.
func FindBinary(explicit string) (string, error) {
	if explicit != "" {
		return explicit, nil
	}
	if _, err := os.Stat(DefaultBinary); err == nil {
		return DefaultBinary, nil
	}
	for _, name := range []string{"docker-registry", "registry"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("registrytest: docker-registry not installed (apt-get install docker-registry, or hack/install-deps.sh)")
}

// Start writes the config and starts the registry, returning once it
// answers GET /v2/. Stop it with Stop.
func Start(ctx context.Context, opts Options) (*Registry, error) {
	if opts.Dir == "" {
		return nil, errors.New("registrytest: Options.Dir is required")
	}
	bin, err := FindBinary(opts.Binary)
	if err != nil {
		return nil, err
	}
	addr := opts.Addr
	if addr == "" {
		if addr, err = freeLoopbackAddr(); err != nil {
			return nil, err
		}
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	storage := filepath.Join(opts.Dir, "storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(opts.Dir, "config.yml")
	if err := os.WriteFile(cfgPath, Config(storage, addr), 0o644); err != nil {
		return nil, err
	}
	r := &Registry{Addr: addr, Dir: opts.Dir, done: make(chan struct{})}
	logw := opts.Log
	if logw == nil {
		if r.logFile, err = os.Create(filepath.Join(opts.Dir, "registry.log")); err != nil {
			return nil, err
		}
		logw = r.logFile
	}
	r.cmd = exec.Command(bin, "serve", cfgPath)
	r.cmd.Stdout, r.cmd.Stderr = logw, logw
	// Never outlive the process that started it.
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		r.closeLog()
		return nil, fmt.Errorf("registrytest: starting %s: %w", bin, err)
	}
	go func() {
		r.waitErr = r.cmd.Wait()
		close(r.done)
	}()
	if err := r.waitReady(ctx, timeout); err != nil {
		r.Stop()
		return nil, fmt.Errorf("registrytest: %w (log in %s)", err, r.logPath())
	}
	return r, nil
}

func (r *Registry) logPath() string {
	if r.logFile != nil {
		return r.logFile.Name()
	}
	return "the Log writer"
}

func (r *Registry) closeLog() {
	if r.logFile != nil {
		r.logFile.Close()
	}
}

// waitReady polls GET /v2/ until it answers 200, the process exits, or the
// deadline passes.
func (r *Registry) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	url := "http://" + r.Addr + "/v2/"
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		select {
		case <-r.done:
			return fmt.Errorf("registry exited before answering: %v", r.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("registry on %s not answering after %v: %v", r.Addr, timeout, err)
		}
	}
}

// Stop terminates the registry (SIGTERM, SIGKILL after 10s) and waits for
// it. The storage directory is left in place. Calling Stop again returns the
// first result.
func (r *Registry) Stop() error {
	r.stopOnce.Do(func() {
		defer r.closeLog()
		select {
		case <-r.done:
			return
		default:
		}
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.done
			r.stopErr = errors.New("registrytest: registry ignored SIGTERM for 10s; killed")
		}
	})
	return r.stopErr
}

// Push uploads img to this registry and returns the reference it has there
// ("127.0.0.1:PORT/busybox:1.35").
func (r *Registry) Push(ctx context.Context, img testimages.Image) (string, error) {
	return testimages.Push(ctx, r.Addr, img)
}

// HasManifest tells whether repo:tag is in the registry (HEAD on its
// manifest).
func (r *Registry) HasManifest(ctx context.Context, repo, tag string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "http://"+r.Addr+"/v2/"+repo+"/manifests/"+tag, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

// New starts a registry for a test in a temporary directory and stops it
// when the test ends. It skips the test, saying why, when docker-registry is
// not installed.
func New(t testing.TB) *Registry {
	t.Helper()
	if _, err := FindBinary(""); err != nil {
		testutil.Missing(t, err.Error())
	}
	var log bytes.Buffer
	var mu sync.Mutex
	r, err := Start(context.Background(), Options{Dir: t.TempDir(), Log: &lockedWriter{w: &log, mu: &mu}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("registry log:\n%s", log.String())
			mu.Unlock()
		}
	})
	return r
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

// freeLoopbackAddr returns a 127.0.0.1 port that was free a moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("registrytest: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}
