// Package cri is the kubelet's seam to its container runtime: the Runtime
// interface holds just the CRI calls the kubelet makes, Client implements it
// over k8s.io/cri-api's v1 gRPC services on a unix socket (containerd's),
// and Fake implements it in memory for unit tests and hollow nodes.
//
// Messages are the CRI's own (runtimeapi = k8s.io/cri-api/pkg/apis/runtime/v1);
// the interface only flattens requests into arguments and responses into
// results. Errors keep the runtime's gRPC status code (see Code and
// IsNotFound), wrapped with the call and the object it was about.
package cri

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Runtime is what the kubelet asks of a CRI runtime. Implementations are
// safe for concurrent use.
//
// Conventions, as containerd implements them and Fake copies:
//   - IDs may be given in full or as a unique prefix.
//   - StopPodSandbox, StopContainer, RemoveContainer and RemovePodSandbox
//     may be repeated. The Remove calls succeed for an ID that no longer
//     exists; the Stop calls (and the status calls) return a NotFound error
//     for it (IsNotFound).
//   - A container that exits very quickly may report a FinishedAt before
//     its StartedAt (containerd stamps the start after the task runs).
//   - StopPodSandbox stops the sandbox's containers and tears its network
//     down; RemovePodSandbox removes the sandbox and its containers,
//     stopping them first if needed.
//   - ImageStatus returns a response with a nil Image, not an error, for an
//     image that is not present.
//   - ExecSync returns the command's exit code in the response; only a
//     failure to run it is an error.
type Runtime interface {
	// Version reports the runtime's name and versions.
	Version(ctx context.Context) (*runtimeapi.VersionResponse, error)
	// Status reports the RuntimeReady and NetworkReady conditions.
	Status(ctx context.Context, verbose bool) (*runtimeapi.StatusResponse, error)

	// RunPodSandbox creates and starts a pod sandbox (pause process,
	// namespaces, network) and returns its ID.
	RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error)
	// StopPodSandbox stops a sandbox's containers and its pause process and
	// releases its network.
	StopPodSandbox(ctx context.Context, podSandboxID string) error
	// RemovePodSandbox removes a sandbox and every container in it.
	RemovePodSandbox(ctx context.Context, podSandboxID string) error
	// PodSandboxStatus reports a sandbox's state and IP; verbose adds the
	// runtime's own information (Info).
	PodSandboxStatus(ctx context.Context, podSandboxID string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error)
	// ListPodSandbox lists sandboxes matching filter (nil: all).
	ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error)

	// CreateContainer creates a container in a ready sandbox and returns its
	// ID. The image must already be present (PullImage).
	CreateContainer(ctx context.Context, podSandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error)
	// StartContainer starts a created container.
	StartContainer(ctx context.Context, containerID string) error
	// StopContainer sends the stop signal (SIGTERM unless the image says
	// otherwise) and SIGKILL after timeout; it returns once the container
	// has exited. The call's own deadline is timeout plus the client's.
	StopContainer(ctx context.Context, containerID string, timeout time.Duration) error
	// RemoveContainer removes a container, killing it first if it runs.
	RemoveContainer(ctx context.Context, containerID string) error
	// ContainerStatus reports a container's state, exit code and reason.
	ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error)
	// ListContainers lists containers matching filter (nil: all).
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	// ListContainerStats reports the CPU (cumulative) and memory usage of
	// the containers matching filter (nil: all the runtime has), each with
	// its attributes (ID, metadata, labels) and the time of measurement.
	ListContainerStats(ctx context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error)
	// ExecSync runs cmd in a running container and waits for it, at most
	// timeout (0: no limit of its own) and returns its output and exit code.
	ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (*runtimeapi.ExecSyncResponse, error)
	// Exec, Attach and PortForward prepare a streaming session on the
	// runtime's streaming server and return its URL, which speaks
	// Kubernetes' streaming protocols (SPDY, WebSocket channels) and
	// is valid for one use within a short time. They take the CRI
	// requests as they are: their options are the protocols'.
	Exec(ctx context.Context, req *runtimeapi.ExecRequest) (string, error)
	Attach(ctx context.Context, req *runtimeapi.AttachRequest) (string, error)
	PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (string, error)
	// ReopenContainerLog makes the runtime reopen a running container's log
	// file (after the kubelet rotated it).
	ReopenContainerLog(ctx context.Context, containerID string) error

	// PullImage pulls an image and returns its image reference (ID).
	PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error)
	// ImageStatus reports an image; its Image is nil if absent.
	ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec, verbose bool) (*runtimeapi.ImageStatusResponse, error)
	// ListImages lists the images present (filter nil: all).
	ListImages(ctx context.Context, filter *runtimeapi.ImageFilter) ([]*runtimeapi.Image, error)
	// RemoveImage removes an image; removing an absent one succeeds.
	RemoveImage(ctx context.Context, image *runtimeapi.ImageSpec) error
}

// Error is what Client and Fake return: the call, the object it concerned
// and the runtime's error, whose gRPC status code Code recovers.
type Error struct {
	Op  string // the CRI method, e.g. "StartContainer"
	ID  string // the sandbox, container or image the call was about; may be empty
	Err error
}

func (e *Error) Error() string {
	if e.ID == "" {
		return "cri " + e.Op + ": " + e.Err.Error()
	}
	return "cri " + e.Op + " " + e.ID + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// GRPCStatus makes status.FromError and status.Code see the runtime's code
// through the wrapping.
func (e *Error) GRPCStatus() *status.Status {
	if s, ok := status.FromError(e.Err); ok {
		return status.New(s.Code(), e.Error())
	}
	switch {
	case errors.Is(e.Err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, e.Error())
	case errors.Is(e.Err, context.Canceled):
		return status.New(codes.Canceled, e.Error())
	}
	return status.New(codes.Unknown, e.Error())
}

// Code returns the gRPC status code of an error from a Runtime: OK for nil,
// Unknown for an error that carries none.
func Code(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.GRPCStatus().Code()
	}
	return status.Code(err)
}

// IsNotFound tells whether err says the sandbox, container or image does not
// exist.
func IsNotFound(err error) bool { return Code(err) == codes.NotFound }

func wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, ID: id, Err: err}
}

// seconds rounds d up to whole seconds, the CRI's unit for timeouts.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// errorf builds a status error, as the runtime would send it.
func errorf(c codes.Code, format string, args ...any) error {
	return status.Error(c, fmt.Sprintf(format, args...))
}
