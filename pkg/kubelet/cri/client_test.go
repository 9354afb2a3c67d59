package cri

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// stubRuntime is a CRI server for testing the client's plumbing.
type stubRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	stopTimeout chan int64
}

func (s *stubRuntime) Version(ctx context.Context, req *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{RuntimeName: "stub", RuntimeApiVersion: "v1"}, nil
}

func (s *stubRuntime) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	return nil, errorf(codes.NotFound, "container %q not found", req.ContainerId)
}

func (s *stubRuntime) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	<-ctx.Done() // hangs until the client gives up
	return nil, ctx.Err()
}

func (s *stubRuntime) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	s.stopTimeout <- req.Timeout
	return &runtimeapi.StopContainerResponse{}, nil
}

func serveStub(t *testing.T) (string, *stubRuntime) {
	t.Helper()
	dir, err := os.MkdirTemp("", "cri-stub-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "cri.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stub := &stubRuntime{stopTimeout: make(chan int64, 1)}
	srv := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(srv, stub)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return sock, stub
}

func TestClientAgainstStub(t *testing.T) {
	sock, stub := serveStub(t)
	ctx := context.Background()
	c, err := Dial(ctx, "unix://"+sock, Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Endpoint() != sock {
		t.Errorf("Endpoint() = %s", c.Endpoint())
	}
	v, err := c.Version(ctx)
	if err != nil || v.RuntimeName != "stub" {
		t.Fatalf("Version = %v, %v", v, err)
	}

	_, err = c.ContainerStatus(ctx, "abc", false)
	if !IsNotFound(err) || !strings.Contains(err.Error(), "cri ContainerStatus abc:") {
		t.Errorf("ContainerStatus error = %v, want a NotFound naming the call", err)
	}

	start := time.Now()
	err = c.StartContainer(ctx, "slow")
	if Code(err) != codes.DeadlineExceeded || !strings.Contains(err.Error(), "no answer from the runtime") {
		t.Errorf("hanging StartContainer: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}

	// The grace period travels in whole seconds, rounded up.
	if err := c.StopContainer(ctx, "x", 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got := <-stub.stopTimeout; got != 2 {
		t.Errorf("StopContainer sent timeout %d, want 2", got)
	}

	// Methods the server lacks come back as Unimplemented.
	if _, err := c.ListContainers(ctx, nil); Code(err) != codes.Unimplemented {
		t.Errorf("ListContainers against the stub: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "none.sock")
	_, err := Dial(ctx, missing, Options{DialTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "no CRI runtime answered") {
		t.Errorf("Dial to a missing socket: %v", err)
	}
	if _, err := Dial(ctx, "tcp://127.0.0.1:1", Options{}); err == nil {
		t.Error("Dial accepted a tcp endpoint")
	}
}
