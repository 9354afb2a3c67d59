package metrics

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/kubelet/cri"
)

// Instrument wraps a runtime so that every call is timed in
// RuntimeOperationDuration (and counted in RuntimeOperationErrors when it
// fails), by CRI method name.
func Instrument(rt cri.Runtime) cri.Runtime { return instrumented{rt} }

type instrumented struct{ rt cri.Runtime }

var _ cri.Runtime = instrumented{}

func (i instrumented) Version(ctx context.Context) (r *runtimeapi.VersionResponse, err error) {
	defer func(t time.Time) { ObserveCRI("Version", t, err) }(time.Now())
	return i.rt.Version(ctx)
}

func (i instrumented) Status(ctx context.Context, verbose bool) (r *runtimeapi.StatusResponse, err error) {
	defer func(t time.Time) { ObserveCRI("Status", t, err) }(time.Now())
	return i.rt.Status(ctx, verbose)
}

func (i instrumented) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, handler string) (id string, err error) {
	defer func(t time.Time) { ObserveCRI("RunPodSandbox", t, err) }(time.Now())
	return i.rt.RunPodSandbox(ctx, config, handler)
}

func (i instrumented) StopPodSandbox(ctx context.Context, id string) (err error) {
	defer func(t time.Time) { ObserveCRI("StopPodSandbox", t, err) }(time.Now())
	return i.rt.StopPodSandbox(ctx, id)
}

func (i instrumented) RemovePodSandbox(ctx context.Context, id string) (err error) {
	defer func(t time.Time) { ObserveCRI("RemovePodSandbox", t, err) }(time.Now())
	return i.rt.RemovePodSandbox(ctx, id)
}

func (i instrumented) PodSandboxStatus(ctx context.Context, id string, verbose bool) (r *runtimeapi.PodSandboxStatusResponse, err error) {
	defer func(t time.Time) { ObserveCRI("PodSandboxStatus", t, err) }(time.Now())
	return i.rt.PodSandboxStatus(ctx, id, verbose)
}

func (i instrumented) ListPodSandbox(ctx context.Context, f *runtimeapi.PodSandboxFilter) (r []*runtimeapi.PodSandbox, err error) {
	defer func(t time.Time) { ObserveCRI("ListPodSandbox", t, err) }(time.Now())
	return i.rt.ListPodSandbox(ctx, f)
}

func (i instrumented) CreateContainer(ctx context.Context, sb string, c *runtimeapi.ContainerConfig, s *runtimeapi.PodSandboxConfig) (id string, err error) {
	defer func(t time.Time) { ObserveCRI("CreateContainer", t, err) }(time.Now())
	return i.rt.CreateContainer(ctx, sb, c, s)
}

func (i instrumented) StartContainer(ctx context.Context, id string) (err error) {
	defer func(t time.Time) { ObserveCRI("StartContainer", t, err) }(time.Now())
	return i.rt.StartContainer(ctx, id)
}

func (i instrumented) StopContainer(ctx context.Context, id string, timeout time.Duration) (err error) {
	defer func(t time.Time) { ObserveCRI("StopContainer", t, err) }(time.Now())
	return i.rt.StopContainer(ctx, id, timeout)
}

func (i instrumented) RemoveContainer(ctx context.Context, id string) (err error) {
	defer func(t time.Time) { ObserveCRI("RemoveContainer", t, err) }(time.Now())
	return i.rt.RemoveContainer(ctx, id)
}

func (i instrumented) ContainerStatus(ctx context.Context, id string, verbose bool) (r *runtimeapi.ContainerStatusResponse, err error) {
	defer func(t time.Time) { ObserveCRI("ContainerStatus", t, err) }(time.Now())
	return i.rt.ContainerStatus(ctx, id, verbose)
}

func (i instrumented) ListContainerStats(ctx context.Context, f *runtimeapi.ContainerStatsFilter) (r []*runtimeapi.ContainerStats, err error) {
	defer func(t time.Time) { ObserveCRI("ListContainerStats", t, err) }(time.Now())
	return i.rt.ListContainerStats(ctx, f)
}

func (i instrumented) ListContainers(ctx context.Context, f *runtimeapi.ContainerFilter) (r []*runtimeapi.Container, err error) {
	defer func(t time.Time) { ObserveCRI("ListContainers", t, err) }(time.Now())
	return i.rt.ListContainers(ctx, f)
}

func (i instrumented) ExecSync(ctx context.Context, id string, cmd []string, timeout time.Duration) (r *runtimeapi.ExecSyncResponse, err error) {
	defer func(t time.Time) { ObserveCRI("ExecSync", t, err) }(time.Now())
	return i.rt.ExecSync(ctx, id, cmd, timeout)
}

func (i instrumented) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (url string, err error) {
	defer func(t time.Time) { ObserveCRI("Exec", t, err) }(time.Now())
	return i.rt.Exec(ctx, req)
}

func (i instrumented) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (url string, err error) {
	defer func(t time.Time) { ObserveCRI("Attach", t, err) }(time.Now())
	return i.rt.Attach(ctx, req)
}

func (i instrumented) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (url string, err error) {
	defer func(t time.Time) { ObserveCRI("PortForward", t, err) }(time.Now())
	return i.rt.PortForward(ctx, req)
}

func (i instrumented) ReopenContainerLog(ctx context.Context, id string) (err error) {
	defer func(t time.Time) { ObserveCRI("ReopenContainerLog", t, err) }(time.Now())
	return i.rt.ReopenContainerLog(ctx, id)
}

func (i instrumented) PullImage(ctx context.Context, img *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, s *runtimeapi.PodSandboxConfig) (ref string, err error) {
	defer func(t time.Time) { ObserveCRI("PullImage", t, err) }(time.Now())
	return i.rt.PullImage(ctx, img, auth, s)
}

func (i instrumented) ImageStatus(ctx context.Context, img *runtimeapi.ImageSpec, verbose bool) (r *runtimeapi.ImageStatusResponse, err error) {
	defer func(t time.Time) { ObserveCRI("ImageStatus", t, err) }(time.Now())
	return i.rt.ImageStatus(ctx, img, verbose)
}

func (i instrumented) ListImages(ctx context.Context, f *runtimeapi.ImageFilter) (r []*runtimeapi.Image, err error) {
	defer func(t time.Time) { ObserveCRI("ListImages", t, err) }(time.Now())
	return i.rt.ListImages(ctx, f)
}

func (i instrumented) RemoveImage(ctx context.Context, img *runtimeapi.ImageSpec) (err error) {
	defer func(t time.Time) { ObserveCRI("RemoveImage", t, err) }(time.Now())
	return i.rt.RemoveImage(ctx, img)
}
