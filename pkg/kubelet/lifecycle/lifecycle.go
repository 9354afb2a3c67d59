// Package lifecycle runs containers' postStart and preStop hooks the way the
// Kubernetes kubelet does, and stops containers with their preStop hook
// first.
//
// Ordering (the kubelet's executor relies on it):
//   - postStart runs right after the container started; the start is not
//     done (the container is not reported started, nothing else of the pod
//     proceeds) until the hook returns. A failing hook is the caller's to
//     act on: Kubernetes kills the container (event FailedPostStartHook)
//     and its restart policy applies.
//   - Stop runs the preStop hook, when there is one and the grace period is
//     positive, bounded by the grace period; then the runtime's
//     StopContainer (SIGTERM, SIGKILL when it runs out) with what is left of
//     the grace period, never less than MinStopGrace. A preStop hook that
//     fails or outlives the grace period does not hold the termination up.
//
// Handlers: exec runs the command in the container (CRI ExecSync); httpGet
// sends one GET (host defaulting to the pod IP, port by number or by name)
// and, as in Kubernetes, only a failure to get an answer fails the hook,
// whatever the status code; sleep waits its seconds (or until the context
// ends). tcpSocket is accepted by the API for compatibility but, as in
// Kubernetes, cannot run as a hook: it fails.
package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/kubelet/prober"
)

// Event reasons of failed hooks, as Kubernetes reports them (Warning).
const (
	ReasonFailedPostStartHook = "FailedPostStartHook"
	ReasonFailedPreStopHook   = "FailedPreStopHook"
)

// ReasonPostStartHookError is the start error recorded for a container
// whose postStart hook failed (Kubernetes' PostStartHookError).
const ReasonPostStartHookError = "PostStartHookError"

// MinStopGrace is the least time a container is given between SIGTERM and
// SIGKILL after its preStop hook ran (Kubernetes' minimum grace period).
const MinStopGrace = 2 * time.Second

// UserAgent is sent with httpGet hooks that do not set their own.
const UserAgent = "keel-lifecycle/1.0"

// Runtime is the slice of the container runtime the hooks use (cri.Runtime
// implements it).
type Runtime interface {
	ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (*runtimeapi.ExecSyncResponse, error)
	StopContainer(ctx context.Context, containerID string, timeout time.Duration) error
}

// Runner runs hooks. Runtime and Clock must be set; it is safe for
// concurrent use.
type Runner struct {
	Runtime Runtime
	Clock   clock.Clock
	// Transport carries httpGet hooks; nil means prober.NewTransport.
	Transport http.RoundTripper
}

// Run runs handler h of container c (instance containerID) of a pod whose IP
// is podIP, until it returns or ctx ends (an exec hook is also given the
// time left of ctx as its own timeout). The error says why the hook failed.
func (r *Runner) Run(ctx context.Context, c *corev1.Container, containerID, podIP string, h *corev1.LifecycleHandler) error {
	switch {
	case h.GetExec() != nil:
		return r.runExec(ctx, containerID, h.GetExec().GetCommand())
	case h.GetHttpGet() != nil:
		return r.runHTTP(ctx, c, h.GetHttpGet(), podIP)
	case h.GetSleep() != nil:
		return r.sleep(ctx, time.Duration(h.GetSleep().GetSeconds())*time.Second)
	case h.GetTcpSocket() != nil:
		return errors.New("tcpSocket is not supported as a lifecycle hook")
	}
	return errors.New("the hook has no handler (exec, httpGet or sleep)")
}

func (r *Runner) runExec(ctx context.Context, containerID string, cmd []string) error {
	if len(cmd) == 0 {
		return errors.New("exec hook: empty command")
	}
	var timeout time.Duration
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Second)
	}
	resp, err := r.Runtime.ExecSync(ctx, containerID, cmd, timeout)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("command %q did not complete: %w", cmd, ctx.Err())
		}
		return fmt.Errorf("command %q: %w", cmd, err)
	}
	if resp.GetExitCode() != 0 {
		msg := fmt.Sprintf("command %q exited with %d", cmd, resp.GetExitCode())
		if out := string(resp.GetStdout()) + string(resp.GetStderr()); out != "" {
			msg += ": " + truncate(out)
		}
		return errors.New(msg)
	}
	return nil
}

func (r *Runner) runHTTP(ctx context.Context, c *corev1.Container, a *corev1.HTTPGetAction, podIP string) error {
	req, err := prober.NewHTTPGetRequest(ctx, c, a, podIP, UserAgent)
	if err != nil {
		return fmt.Errorf("http hook: %w", err)
	}
	tr := r.Transport
	if tr == nil {
		tr = prober.NewTransport(&net.Dialer{})
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("http hook: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	return resp.Body.Close()
}

func (r *Runner) sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := r.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("sleep %v interrupted: %w", d, ctx.Err())
	}
}

// StopGrace is the grace period StopContainer is given after a preStop hook
// that took took of grace: what is left, but at least MinStopGrace.
func StopGrace(grace, took time.Duration) time.Duration {
	return max(grace-took, MinStopGrace)
}

// RunsPreStop tells whether stopping container c with grace runs its
// preStop hook first: it has one and the grace period is positive.
func RunsPreStop(c *corev1.Container, grace time.Duration) bool {
	return c.GetLifecycle().GetPreStop() != nil && grace > 0
}

// Stop stops container containerID (c is its spec, nil when unknown):
// its preStop hook first, bounded by grace and hookCtx, then the runtime's
// StopContainer with the grace left (see the package doc). A failed hook
// is passed to hookFailed and the stop goes on; a hook cancelled through
// hookCtx is not a failure, and the stop then has MinStopGrace. The error
// is StopContainer's.
func (r *Runner) Stop(ctx, hookCtx context.Context, c *corev1.Container, containerID, podIP string, grace time.Duration, hookFailed func(error)) error {
	if RunsPreStop(c, grace) {
		start := r.Clock.Now()
		if err := r.runBounded(hookCtx, c, containerID, podIP, c.GetLifecycle().GetPreStop(), grace); err != nil && hookCtx.Err() == nil {
			hookFailed(err)
		}
		grace = StopGrace(grace, r.Clock.Since(start))
		if hookCtx.Err() != nil {
			grace = MinStopGrace
		}
	}
	return r.Runtime.StopContainer(ctx, containerID, grace)
}

// runBounded runs h for at most limit (measured on r.Clock), then cancels
// it and waits for it to return.
func (r *Runner) runBounded(ctx context.Context, c *corev1.Container, containerID, podIP string, h *corev1.LifecycleHandler, limit time.Duration) error {
	hctx, cancel := context.WithTimeout(ctx, limit) // also the exec's own timeout
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(hctx, c, containerID, podIP, h) }()
	t := r.Clock.NewTimer(limit)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C():
		cancel()
		<-done
		return fmt.Errorf("the hook did not complete within the grace period of %v", limit)
	}
}

func truncate(s string) string {
	const max = 1024
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
