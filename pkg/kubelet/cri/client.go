package cri

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	// DefaultTimeout bounds each call of a Client that has no Timeout set
	// (the kubelet's runtime-request-timeout in Kubernetes).
	DefaultTimeout = 2 * time.Minute
	// DefaultDialTimeout bounds how long Dial waits for the runtime to answer.
	DefaultDialTimeout = 30 * time.Second
	// maxMsgSize allows large List responses, as the Kubernetes kubelet does.
	maxMsgSize = 16 << 20
)

// Options tunes a Client.
type Options struct {
	// Timeout bounds every call, on top of the caller's context; for
	// StopContainer and ExecSync it is added to the call's own timeout.
	// DefaultTimeout when 0.
	Timeout time.Duration
	// PullTimeout bounds PullImage; 0 leaves pulls bounded only by the
	// caller's context (pulls of large images take long).
	PullTimeout time.Duration
	// DialTimeout bounds Dial's wait for the runtime to answer Version;
	// DefaultDialTimeout when 0.
	DialTimeout time.Duration
}

// Client is a Runtime over a CRI v1 endpoint. It is safe for concurrent use
// and keeps one gRPC connection, which reconnects by itself if the runtime
// restarts.
type Client struct {
	endpoint string
	opts     Options
	conn     *grpc.ClientConn
	rt       runtimeapi.RuntimeServiceClient
	img      runtimeapi.ImageServiceClient
}

var _ Runtime = (*Client)(nil)

// Dial connects to the CRI runtime listening on a unix socket, given as a
// path or as "unix:///path", and waits (at most Options.DialTimeout, and
// ctx) until it answers Version with the v1 API. Close the Client when done.
func Dial(ctx context.Context, endpoint string, opts Options) (*Client, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	path := strings.TrimPrefix(endpoint, "unix://")
	if path == "" || strings.Contains(path, "://") {
		return nil, fmt.Errorf("cri: endpoint %q: want a unix socket path or unix:///path", endpoint)
	}
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("cri: endpoint %q: %w", endpoint, err)
		}
		path = abs
	}
	conn, err := grpc.NewClient("unix://"+path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("cri: endpoint %q: %w", endpoint, err)
	}
	c := &Client{
		endpoint: path,
		opts:     opts,
		conn:     conn,
		rt:       runtimeapi.NewRuntimeServiceClient(conn),
		img:      runtimeapi.NewImageServiceClient(conn),
	}
	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	// An answer on the v1 service path is proof enough of CRI v1.
	_, err = c.rt.Version(dctx, &runtimeapi.VersionRequest{}, grpc.WaitForReady(true))
	if err != nil {
		conn.Close()
		if dctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("cri: no CRI runtime answered on %s within %v (is containerd running with this socket?): %w", path, opts.DialTimeout, err)
		}
		return nil, fmt.Errorf("cri: CRI runtime on %s: %w (does it serve the CRI v1 API?)", path, err)
	}
	return c, nil
}

// Endpoint returns the socket path the Client talks to.
func (c *Client) Endpoint() string { return c.endpoint }

// Close closes the connection. Calls in flight fail.
func (c *Client) Close() error { return c.conn.Close() }

// call runs fn with the client's timeout plus extra, and wraps its error.
func (c *Client) call(ctx context.Context, op, id string, extra time.Duration, fn func(ctx context.Context) error) error {
	timeout := c.opts.Timeout + extra
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := fn(cctx)
	if err == nil {
		return nil
	}
	if (cctx.Err() == context.DeadlineExceeded || status.Code(err) == codes.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("no answer from the runtime on %s within %v: %w", c.endpoint, timeout, err)
	}
	return wrap(op, id, err)
}

func (c *Client) Version(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	var resp *runtimeapi.VersionResponse
	err := c.call(ctx, "Version", "", 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.Version(ctx, &runtimeapi.VersionRequest{})
		return err
	})
	return resp, err
}

func (c *Client) Status(ctx context.Context, verbose bool) (*runtimeapi.StatusResponse, error) {
	var resp *runtimeapi.StatusResponse
	err := c.call(ctx, "Status", "", 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.Status(ctx, &runtimeapi.StatusRequest{Verbose: verbose})
		return err
	})
	return resp, err
}

func (c *Client) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error) {
	var resp *runtimeapi.RunPodSandboxResponse
	err := c.call(ctx, "RunPodSandbox", sandboxName(config), 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: config, RuntimeHandler: runtimeHandler})
		return err
	})
	if err != nil {
		return "", err
	}
	if resp.PodSandboxId == "" {
		return "", wrap("RunPodSandbox", sandboxName(config), errors.New("runtime returned an empty sandbox ID"))
	}
	return resp.PodSandboxId, nil
}

func (c *Client) StopPodSandbox(ctx context.Context, podSandboxID string) error {
	return c.call(ctx, "StopPodSandbox", podSandboxID, 0, func(ctx context.Context) error {
		_, err := c.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: podSandboxID})
		return err
	})
}

func (c *Client) RemovePodSandbox(ctx context.Context, podSandboxID string) error {
	return c.call(ctx, "RemovePodSandbox", podSandboxID, 0, func(ctx context.Context) error {
		_, err := c.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: podSandboxID})
		return err
	})
}

func (c *Client) PodSandboxStatus(ctx context.Context, podSandboxID string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	var resp *runtimeapi.PodSandboxStatusResponse
	err := c.call(ctx, "PodSandboxStatus", podSandboxID, 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: podSandboxID, Verbose: verbose})
		return err
	})
	if err == nil && resp.Status == nil {
		err = wrap("PodSandboxStatus", podSandboxID, errors.New("runtime returned no status"))
	}
	return resp, err
}

func (c *Client) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	var resp *runtimeapi.ListPodSandboxResponse
	err := c.call(ctx, "ListPodSandbox", "", 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: filter})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.Items, nil
}

func (c *Client) CreateContainer(ctx context.Context, podSandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	id := podSandboxID
	if config.GetMetadata() != nil {
		id = podSandboxID + "/" + config.Metadata.Name
	}
	var resp *runtimeapi.CreateContainerResponse
	err := c.call(ctx, "CreateContainer", id, 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
			PodSandboxId: podSandboxID, Config: config, SandboxConfig: sandboxConfig,
		})
		return err
	})
	if err != nil {
		return "", err
	}
	if resp.ContainerId == "" {
		return "", wrap("CreateContainer", id, errors.New("runtime returned an empty container ID"))
	}
	return resp.ContainerId, nil
}

func (c *Client) StartContainer(ctx context.Context, containerID string) error {
	return c.call(ctx, "StartContainer", containerID, 0, func(ctx context.Context) error {
		_, err := c.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: containerID})
		return err
	})
}

func (c *Client) StopContainer(ctx context.Context, containerID string, timeout time.Duration) error {
	secs := seconds(timeout)
	return c.call(ctx, "StopContainer", containerID, time.Duration(secs)*time.Second, func(ctx context.Context) error {
		_, err := c.rt.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: containerID, Timeout: secs})
		return err
	})
}

func (c *Client) RemoveContainer(ctx context.Context, containerID string) error {
	return c.call(ctx, "RemoveContainer", containerID, 0, func(ctx context.Context) error {
		_, err := c.rt.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: containerID})
		return err
	})
}

func (c *Client) ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	var resp *runtimeapi.ContainerStatusResponse
	err := c.call(ctx, "ContainerStatus", containerID, 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: containerID, Verbose: verbose})
		return err
	})
	if err == nil && resp.Status == nil {
		err = wrap("ContainerStatus", containerID, errors.New("runtime returned no status"))
	}
	return resp, err
}

func (c *Client) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	var resp *runtimeapi.ListContainersResponse
	err := c.call(ctx, "ListContainers", "", 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: filter})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.Containers, nil
}

func (c *Client) ListContainerStats(ctx context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	var resp *runtimeapi.ListContainerStatsResponse
	err := c.call(ctx, "ListContainerStats", "", 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: filter})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.Stats, nil
}

func (c *Client) ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (*runtimeapi.ExecSyncResponse, error) {
	secs := seconds(timeout)
	var resp *runtimeapi.ExecSyncResponse
	err := c.call(ctx, "ExecSync", containerID, time.Duration(secs)*time.Second, func(ctx context.Context) (err error) {
		resp, err = c.rt.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: containerID, Cmd: cmd, Timeout: secs})
		return err
	})
	return resp, err
}

func (c *Client) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (string, error) {
	var resp *runtimeapi.ExecResponse
	err := c.call(ctx, "Exec", req.GetContainerId(), 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.Exec(ctx, req)
		return err
	})
	return resp.GetUrl(), err
}

func (c *Client) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (string, error) {
	var resp *runtimeapi.AttachResponse
	err := c.call(ctx, "Attach", req.GetContainerId(), 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.Attach(ctx, req)
		return err
	})
	return resp.GetUrl(), err
}

func (c *Client) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (string, error) {
	var resp *runtimeapi.PortForwardResponse
	err := c.call(ctx, "PortForward", req.GetPodSandboxId(), 0, func(ctx context.Context) (err error) {
		resp, err = c.rt.PortForward(ctx, req)
		return err
	})
	return resp.GetUrl(), err
}

func (c *Client) ReopenContainerLog(ctx context.Context, containerID string) error {
	return c.call(ctx, "ReopenContainerLog", containerID, 0, func(ctx context.Context) error {
		_, err := c.rt.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: containerID})
		return err
	})
}

func (c *Client) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	// A pull is bounded by PullTimeout alone (or only by ctx), not by the
	// per-call Timeout.
	pctx := ctx
	if c.opts.PullTimeout > 0 {
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(ctx, c.opts.PullTimeout)
		defer cancel()
	}
	resp, err := c.img.PullImage(pctx, &runtimeapi.PullImageRequest{Image: image, Auth: auth, SandboxConfig: sandboxConfig})
	if err != nil {
		if pctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			err = fmt.Errorf("pull not done within %v: %w", c.opts.PullTimeout, err)
		}
		return "", wrap("PullImage", image.GetImage(), err)
	}
	return resp.ImageRef, nil
}

func (c *Client) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec, verbose bool) (*runtimeapi.ImageStatusResponse, error) {
	var resp *runtimeapi.ImageStatusResponse
	err := c.call(ctx, "ImageStatus", image.GetImage(), 0, func(ctx context.Context) (err error) {
		resp, err = c.img.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: image, Verbose: verbose})
		return err
	})
	return resp, err
}

func (c *Client) ListImages(ctx context.Context, filter *runtimeapi.ImageFilter) ([]*runtimeapi.Image, error) {
	var resp *runtimeapi.ListImagesResponse
	err := c.call(ctx, "ListImages", "", 0, func(ctx context.Context) (err error) {
		resp, err = c.img.ListImages(ctx, &runtimeapi.ListImagesRequest{Filter: filter})
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp.Images, nil
}

func (c *Client) RemoveImage(ctx context.Context, image *runtimeapi.ImageSpec) error {
	return c.call(ctx, "RemoveImage", image.GetImage(), 0, func(ctx context.Context) error {
		_, err := c.img.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: image})
		return err
	})
}

// sandboxName names a sandbox in errors before it has an ID.
func sandboxName(config *runtimeapi.PodSandboxConfig) string {
	m := config.GetMetadata()
	if m == nil {
		return ""
	}
	return m.Namespace + "/" + m.Name
}
