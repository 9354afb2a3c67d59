package cri

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// FakeCall is one call a Fake received.
type FakeCall struct {
	Method string // e.g. "StartContainer"
	ID     string // the sandbox, container or image concerned; may be empty
}

// ExitDecision is what a Fake's OnStart hook decides a started container
// does: keep running, or exit at once with a code and reason.
type ExitDecision struct {
	Exit     bool
	ExitCode int32
	Reason   string // e.g. "Completed", "Error", "OOMKilled"; derived from ExitCode when empty
}

// Fake is an in-memory Runtime for unit tests (and hollow nodes). It keeps
// sandboxes, containers and images, moves them through the CRI states as
// containerd does (see Runtime's conventions), and records every call.
//
// Containers run until stopped, removed, their sandbox is stopped, or a test
// calls ExitContainer; the OnStart hook may make them exit at once instead.
//
// The hook fields may be set before the Fake is first used and not changed
// afterwards; they are called without the Fake's lock held, so they may call
// the Fake. All methods are safe for concurrent use. Results are copies:
// callers may keep and modify them.
type Fake struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// PodIP gives the IP of the n-th sandbox created (n from 1); when nil,
	// 10.88.0.0/16 addresses in order.
	PodIP func(n int) string
	// OnStart decides whether a started container exits at once.
	OnStart func(containerID string, config *runtimeapi.ContainerConfig) ExitDecision
	// OnExec answers ExecSync in a running container. When nil: "echo ARGS"
	// prints ARGS and a newline, "false" exits 1, anything else exits 0
	// with no output.
	OnExec func(containerID string, cmd []string) (*runtimeapi.ExecSyncResponse, error)
	// StreamURL is what Exec, Attach and PortForward return for a running
	// container or a ready sandbox, as the runtime's streaming server
	// would; empty: they fail with Unimplemented.
	StreamURL string
	// OnPull is called by PullImage; an error fails the pull.
	OnPull func(image string) error

	mu           sync.Mutex
	seq          int
	sandboxes    map[string]*fakeSandbox
	containers   map[string]*fakeContainer
	images       map[string]*runtimeapi.Image // by ID
	names        map[string]string            // reserved name → ID
	calls        []FakeCall
	usage        map[string]FakeUsage // by container ID
	injected     map[string][]error
	runtimeReady bool
	networkReady bool
}

type fakeSandbox struct {
	status *runtimeapi.PodSandboxStatus
	config *runtimeapi.PodSandboxConfig
	name   string // reserved name
}

type fakeContainer struct {
	status    *runtimeapi.ContainerStatus
	sandboxID string
	config    *runtimeapi.ContainerConfig
	name      string // reserved name
}

var _ Runtime = (*Fake)(nil)

// NewFake returns an empty Fake whose runtime and network are ready.
func NewFake() *Fake {
	return &Fake{
		sandboxes:    map[string]*fakeSandbox{},
		containers:   map[string]*fakeContainer{},
		images:       map[string]*runtimeapi.Image{},
		names:        map[string]string{},
		injected:     map[string][]error{},
		runtimeReady: true,
		networkReady: true,
	}
}

// ---- test controls ----

// Calls returns the calls received so far, in order.
func (f *Fake) Calls() []FakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// CallCount returns how many times method was called.
func (f *Fake) CallCount(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.Method == method {
			n++
		}
	}
	return n
}

// ResetCalls forgets the recorded calls.
func (f *Fake) ResetCalls() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// InjectError makes the next call of method (e.g. "StartContainer") fail
// with err without any effect. Several injections for one method are used
// in order.
func (f *Fake) InjectError(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injected[method] = append(f.injected[method], err)
}

// SetReady sets the RuntimeReady and NetworkReady conditions Status reports.
func (f *Fake) SetReady(runtime, network bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runtimeReady, f.networkReady = runtime, network
}

// AddImage makes an image present, as if pulled, and returns its ID.
func (f *Fake) AddImage(ref string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addImageLocked(ref)
}

// ExitContainer makes a running container exit with exitCode, as if its
// process ended; reason is derived from the code when empty ("Completed"
// for 0, "Error" otherwise; pass "OOMKilled" for an OOM kill).
func (f *Fake) ExitContainer(containerID string, exitCode int32, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.containerLocked(containerID)
	if err != nil {
		return wrap("ExitContainer", containerID, err)
	}
	if c.status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return wrap("ExitContainer", containerID, errorf(codes.FailedPrecondition, "container is %s, not running", c.status.State))
	}
	f.exitLocked(c, exitCode, reason)
	return nil
}

// ---- internals ----

func (f *Fake) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// begin records a call and returns an injected error for it, if any.
func (f *Fake) begin(method, id string) error {
	f.calls = append(f.calls, FakeCall{Method: method, ID: id})
	if errs := f.injected[method]; len(errs) > 0 {
		f.injected[method] = errs[1:]
		return wrap(method, id, errs[0])
	}
	return nil
}

func (f *Fake) newID(kind string) string {
	f.seq++
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", kind, f.seq))
	return hex.EncodeToString(sum[:])
}

func (f *Fake) podIP(n int) string {
	if f.PodIP != nil {
		return f.PodIP(n)
	}
	return fmt.Sprintf("10.88.%d.%d", (n/254)%256, n%254+1)
}

func imageID(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (f *Fake) addImageLocked(ref string) string {
	id := imageID(ref)
	if _, ok := f.images[id]; !ok {
		f.images[id] = &runtimeapi.Image{Id: id, RepoTags: []string{ref}, Size: 1 << 20, Spec: &runtimeapi.ImageSpec{Image: ref}}
	}
	return id
}

func (f *Fake) imageLocked(ref string) *runtimeapi.Image {
	if img, ok := f.images[ref]; ok {
		return img
	}
	if img, ok := f.images[imageID(ref)]; ok {
		return img
	}
	return nil
}

// lookup resolves a full ID or a unique prefix.
func lookup[T any](m map[string]T, id string, kind string) (string, T, error) {
	var zero T
	if id == "" {
		return "", zero, errorf(codes.InvalidArgument, "%s ID must not be empty", kind)
	}
	if v, ok := m[id]; ok {
		return id, v, nil
	}
	found := ""
	for k := range m {
		if strings.HasPrefix(k, id) {
			if found != "" {
				return "", zero, errorf(codes.InvalidArgument, "%s ID prefix %q is ambiguous", kind, id)
			}
			found = k
		}
	}
	if found == "" {
		return "", zero, errorf(codes.NotFound, "an error occurred when try to find %s %q: not found", kind, id)
	}
	return found, m[found], nil
}

func (f *Fake) sandboxLocked(id string) (*fakeSandbox, error) {
	_, s, err := lookup(f.sandboxes, id, "sandbox")
	return s, err
}

func (f *Fake) containerLocked(id string) (*fakeContainer, error) {
	_, c, err := lookup(f.containers, id, "container")
	return c, err
}

func (f *Fake) exitLocked(c *fakeContainer, code int32, reason string) {
	if reason == "" {
		reason = "Completed"
		if code != 0 {
			reason = "Error"
		}
	}
	c.status.State = runtimeapi.ContainerState_CONTAINER_EXITED
	c.status.FinishedAt = f.now().UnixNano()
	c.status.ExitCode = code
	c.status.Reason = reason
}

// stopLocked stops a running container: it exits with 137 when killed at
// once (timeout 0), 143 after SIGTERM. Containers in other states are left
// as they are, as containerd does.
func (f *Fake) stopLocked(c *fakeContainer, timeout time.Duration) {
	if c.status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return
	}
	code := int32(143)
	if timeout <= 0 {
		code = 137
	}
	f.exitLocked(c, code, "Error")
}

func sandboxKey(m *runtimeapi.PodSandboxMetadata) string {
	return fmt.Sprintf("%s_%s_%s_%d", m.Name, m.Namespace, m.Uid, m.Attempt)
}

func matchLabels(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func clone[T proto.Message](m T) T { return proto.Clone(m).(T) }

// ---- Runtime ----

func (f *Fake) Version(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Version", ""); err != nil {
		return nil, err
	}
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "fake", RuntimeVersion: "0.1.0", RuntimeApiVersion: "v1"}, nil
}

func (f *Fake) Status(ctx context.Context, verbose bool) (*runtimeapi.StatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("Status", ""); err != nil {
		return nil, err
	}
	cond := func(typ string, ok bool) *runtimeapi.RuntimeCondition {
		c := &runtimeapi.RuntimeCondition{Type: typ, Status: ok}
		if !ok {
			c.Reason, c.Message = "FakeNotReady", typ+" is false (Fake.SetReady)"
		}
		return c
	}
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		cond(runtimeapi.RuntimeReady, f.runtimeReady),
		cond(runtimeapi.NetworkReady, f.networkReady),
	}}}, nil
}

func (f *Fake) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig, runtimeHandler string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("RunPodSandbox", sandboxName(config)); err != nil {
		return "", err
	}
	m := config.GetMetadata()
	if m == nil || m.Name == "" || m.Namespace == "" || m.Uid == "" {
		return "", wrap("RunPodSandbox", "", errorf(codes.InvalidArgument, "sandbox metadata needs name, namespace and uid"))
	}
	name := sandboxKey(m)
	if other, ok := f.names[name]; ok {
		return "", wrap("RunPodSandbox", sandboxName(config), errorf(codes.Unknown, "failed to reserve sandbox name %q: name is reserved for %q", name, other))
	}
	id := f.newID("sandbox")
	var ns *runtimeapi.NamespaceOption
	if config.GetLinux().GetSecurityContext().GetNamespaceOptions() != nil {
		ns = clone(config.Linux.SecurityContext.NamespaceOptions)
	}
	st := &runtimeapi.PodSandboxStatus{
		Id:             id,
		Metadata:       clone(m),
		State:          runtimeapi.PodSandboxState_SANDBOX_READY,
		CreatedAt:      f.now().UnixNano(),
		Linux:          &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: ns}},
		Labels:         maps.Clone(config.Labels),
		Annotations:    maps.Clone(config.Annotations),
		RuntimeHandler: runtimeHandler,
	}
	if ns.GetNetwork() != runtimeapi.NamespaceMode_NODE {
		st.Network = &runtimeapi.PodSandboxNetworkStatus{Ip: f.podIP(len(f.sandboxes) + 1)}
	}
	f.sandboxes[id] = &fakeSandbox{status: st, config: clone(config), name: name}
	f.names[name] = id
	return id, nil
}

func (f *Fake) StopPodSandbox(ctx context.Context, podSandboxID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("StopPodSandbox", podSandboxID); err != nil {
		return err
	}
	s, err := f.sandboxLocked(podSandboxID)
	if err != nil {
		return wrap("StopPodSandbox", podSandboxID, err)
	}
	for _, c := range f.containers {
		if c.sandboxID == s.status.Id {
			f.stopLocked(c, 0)
		}
	}
	s.status.State = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	return nil
}

func (f *Fake) RemovePodSandbox(ctx context.Context, podSandboxID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("RemovePodSandbox", podSandboxID); err != nil {
		return err
	}
	s, err := f.sandboxLocked(podSandboxID)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap("RemovePodSandbox", podSandboxID, err)
	}
	for id, c := range f.containers {
		if c.sandboxID == s.status.Id {
			delete(f.names, c.name)
			delete(f.containers, id)
		}
	}
	delete(f.names, s.name)
	delete(f.sandboxes, s.status.Id)
	return nil
}

func (f *Fake) PodSandboxStatus(ctx context.Context, podSandboxID string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("PodSandboxStatus", podSandboxID); err != nil {
		return nil, err
	}
	s, err := f.sandboxLocked(podSandboxID)
	if err != nil {
		return nil, wrap("PodSandboxStatus", podSandboxID, err)
	}
	resp := &runtimeapi.PodSandboxStatusResponse{Status: clone(s.status)}
	if verbose {
		resp.Info = map[string]string{"info": `{"runtime":"fake"}`}
	}
	return resp, nil
}

func (f *Fake) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ListPodSandbox", ""); err != nil {
		return nil, err
	}
	var out []*runtimeapi.PodSandbox
	for id, s := range f.sandboxes {
		if filter != nil {
			if filter.Id != "" && !strings.HasPrefix(id, filter.Id) {
				continue
			}
			if filter.State != nil && filter.State.State != s.status.State {
				continue
			}
			if !matchLabels(s.status.Labels, filter.LabelSelector) {
				continue
			}
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id:             id,
			Metadata:       clone(s.status.Metadata),
			State:          s.status.State,
			CreatedAt:      s.status.CreatedAt,
			Labels:         maps.Clone(s.status.Labels),
			Annotations:    maps.Clone(s.status.Annotations),
			RuntimeHandler: s.status.RuntimeHandler,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].Id < out[j].Id
	})
	return out, nil
}

func (f *Fake) CreateContainer(ctx context.Context, podSandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	op := "CreateContainer"
	opID := podSandboxID + "/" + config.GetMetadata().GetName()
	if err := f.begin(op, opID); err != nil {
		return "", err
	}
	s, err := f.sandboxLocked(podSandboxID)
	if err != nil {
		return "", wrap(op, opID, err)
	}
	if s.status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		return "", wrap(op, opID, errorf(codes.FailedPrecondition, "sandbox container %q is not running", s.status.Id))
	}
	m := config.GetMetadata()
	if m == nil || m.Name == "" {
		return "", wrap(op, opID, errorf(codes.InvalidArgument, "container config must include metadata with a name"))
	}
	img := f.imageLocked(config.GetImage().GetImage())
	if img == nil {
		return "", wrap(op, opID, errorf(codes.NotFound, "failed to get image %q: not found", config.GetImage().GetImage()))
	}
	sm := s.status.Metadata
	name := fmt.Sprintf("%s_%s_%s_%s_%d", m.Name, sm.Name, sm.Namespace, sm.Uid, m.Attempt)
	if other, ok := f.names[name]; ok {
		return "", wrap(op, opID, errorf(codes.Unknown, "failed to reserve container name %q: name is reserved for %q", name, other))
	}
	id := f.newID("container")
	logPath := ""
	if s.config.GetLogDirectory() != "" && config.LogPath != "" {
		logPath = strings.TrimSuffix(s.config.LogDirectory, "/") + "/" + config.LogPath
	}
	f.containers[id] = &fakeContainer{
		sandboxID: s.status.Id,
		config:    clone(config),
		name:      name,
		status: &runtimeapi.ContainerStatus{
			Id:          id,
			Metadata:    clone(m),
			State:       runtimeapi.ContainerState_CONTAINER_CREATED,
			CreatedAt:   f.now().UnixNano(),
			Image:       clone(config.Image),
			ImageRef:    img.Id,
			Labels:      maps.Clone(config.Labels),
			Annotations: maps.Clone(config.Annotations),
			Mounts:      cloneMounts(config.Mounts),
			LogPath:     logPath,
		},
	}
	f.names[name] = id
	return id, nil
}

func (f *Fake) StartContainer(ctx context.Context, containerID string) error {
	f.mu.Lock()
	if err := f.begin("StartContainer", containerID); err != nil {
		f.mu.Unlock()
		return err
	}
	c, err := f.containerLocked(containerID)
	if err == nil && c.status.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		err = errorf(codes.FailedPrecondition, "container %q is in %s state, not created", c.status.Id, c.status.State)
	}
	if err == nil {
		if s := f.sandboxes[c.sandboxID]; s == nil || s.status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			err = errorf(codes.FailedPrecondition, "sandbox container %q is not running", c.sandboxID)
		}
	}
	if err != nil {
		f.mu.Unlock()
		return wrap("StartContainer", containerID, err)
	}
	c.status.State = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.status.StartedAt = f.now().UnixNano()
	id, config := c.status.Id, clone(c.config)
	f.mu.Unlock()

	if f.OnStart == nil {
		return nil
	}
	d := f.OnStart(id, config)
	if !d.Exit {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// The container may have been stopped or removed meanwhile.
	if c, ok := f.containers[id]; ok && c.status.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
		f.exitLocked(c, d.ExitCode, d.Reason)
	}
	return nil
}

func (f *Fake) StopContainer(ctx context.Context, containerID string, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("StopContainer", containerID); err != nil {
		return err
	}
	c, err := f.containerLocked(containerID)
	if err != nil {
		return wrap("StopContainer", containerID, err)
	}
	f.stopLocked(c, timeout)
	return nil
}

func (f *Fake) RemoveContainer(ctx context.Context, containerID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("RemoveContainer", containerID); err != nil {
		return err
	}
	c, err := f.containerLocked(containerID)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap("RemoveContainer", containerID, err)
	}
	delete(f.names, c.name)
	delete(f.containers, c.status.Id)
	return nil
}

func (f *Fake) ContainerStatus(ctx context.Context, containerID string, verbose bool) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ContainerStatus", containerID); err != nil {
		return nil, err
	}
	c, err := f.containerLocked(containerID)
	if err != nil {
		return nil, wrap("ContainerStatus", containerID, err)
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: clone(c.status)}
	if verbose {
		resp.Info = map[string]string{"info": fmt.Sprintf(`{"sandboxID":%q}`, c.sandboxID)}
	}
	return resp, nil
}

func (f *Fake) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ListContainers", ""); err != nil {
		return nil, err
	}
	var out []*runtimeapi.Container
	for id, c := range f.containers {
		if filter != nil {
			if filter.Id != "" && !strings.HasPrefix(id, filter.Id) {
				continue
			}
			if filter.State != nil && filter.State.State != c.status.State {
				continue
			}
			if filter.PodSandboxId != "" && !strings.HasPrefix(c.sandboxID, filter.PodSandboxId) {
				continue
			}
			if !matchLabels(c.status.Labels, filter.LabelSelector) {
				continue
			}
		}
		out = append(out, &runtimeapi.Container{
			Id:           id,
			PodSandboxId: c.sandboxID,
			Metadata:     clone(c.status.Metadata),
			Image:        clone(c.status.Image),
			ImageRef:     c.status.ImageRef,
			ImageId:      c.status.ImageRef,
			State:        c.status.State,
			CreatedAt:    c.status.CreatedAt,
			Labels:       maps.Clone(c.status.Labels),
			Annotations:  maps.Clone(c.status.Annotations),
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].Id < out[j].Id
	})
	return out, nil
}

// ListContainerStats implements Runtime: the running containers (those
// matching filter), using no CPU and no memory unless SetContainerUsage
// said otherwise, measured now.
func (f *Fake) ListContainerStats(ctx context.Context, filter *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ListContainerStats", ""); err != nil {
		return nil, err
	}
	now := f.now().UnixNano()
	var out []*runtimeapi.ContainerStats
	for id, c := range f.containers {
		if c.status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if filter != nil {
			if filter.Id != "" && !strings.HasPrefix(id, filter.Id) {
				continue
			}
			if filter.PodSandboxId != "" && !strings.HasPrefix(c.sandboxID, filter.PodSandboxId) {
				continue
			}
			if !matchLabels(c.status.Labels, filter.LabelSelector) {
				continue
			}
		}
		u := f.usage[id]
		out = append(out, &runtimeapi.ContainerStats{
			Attributes: &runtimeapi.ContainerAttributes{Id: id, Metadata: clone(c.status.Metadata),
				Labels: maps.Clone(c.status.Labels), Annotations: maps.Clone(c.status.Annotations)},
			Cpu: &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: u.CPUNanos}},
			Memory: &runtimeapi.MemoryUsage{Timestamp: now, WorkingSetBytes: &runtimeapi.UInt64Value{Value: u.WorkingSetBytes},
				UsageBytes: &runtimeapi.UInt64Value{Value: u.WorkingSetBytes}},
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attributes.Id < out[j].Attributes.Id })
	return out, nil
}

// FakeUsage is what the fake reports a container uses (SetContainerUsage).
type FakeUsage struct {
	// CPUNanos is the cumulative CPU time, WorkingSetBytes the memory.
	CPUNanos, WorkingSetBytes uint64
}

// SetContainerUsage sets what ListContainerStats reports container id
// uses from now on.
func (f *Fake) SetContainerUsage(id string, u FakeUsage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.usage == nil {
		f.usage = map[string]FakeUsage{}
	}
	f.usage[id] = u
}

func (f *Fake) ExecSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (*runtimeapi.ExecSyncResponse, error) {
	f.mu.Lock()
	if err := f.begin("ExecSync", containerID); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	c, err := f.containerLocked(containerID)
	if err == nil && c.status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		err = errorf(codes.FailedPrecondition, "container %q is in %s state, not running", c.status.Id, c.status.State)
	}
	if err == nil && len(cmd) == 0 {
		err = errorf(codes.InvalidArgument, "exec command must not be empty")
	}
	if err != nil {
		f.mu.Unlock()
		return nil, wrap("ExecSync", containerID, err)
	}
	id := c.status.Id
	f.mu.Unlock()

	if f.OnExec != nil {
		resp, err := f.OnExec(id, slices.Clone(cmd))
		return resp, wrap("ExecSync", containerID, err)
	}
	switch cmd[0] {
	case "echo":
		return &runtimeapi.ExecSyncResponse{Stdout: []byte(strings.Join(cmd[1:], " ") + "\n")}, nil
	case "false":
		return &runtimeapi.ExecSyncResponse{ExitCode: 1}, nil
	}
	return &runtimeapi.ExecSyncResponse{}, nil
}

func (f *Fake) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (string, error) {
	if len(req.GetCmd()) == 0 {
		return "", wrap("Exec", req.GetContainerId(), errorf(codes.InvalidArgument, "exec command must not be empty"))
	}
	return f.streamContainer("Exec", req.GetContainerId())
}

func (f *Fake) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (string, error) {
	return f.streamContainer("Attach", req.GetContainerId())
}

// streamContainer answers a streaming call about a container: StreamURL
// if it runs.
func (f *Fake) streamContainer(method, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin(method, id); err != nil {
		return "", err
	}
	c, err := f.containerLocked(id)
	if err == nil && c.status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		err = errorf(codes.FailedPrecondition, "container %q is in %s state, not running", c.status.Id, c.status.State)
	}
	if err == nil && f.StreamURL == "" {
		err = errorf(codes.Unimplemented, "the fake runtime has no streaming server")
	}
	if err != nil {
		return "", wrap(method, id, err)
	}
	return f.StreamURL, nil
}

func (f *Fake) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (string, error) {
	id := req.GetPodSandboxId()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("PortForward", id); err != nil {
		return "", err
	}
	s, err := f.sandboxLocked(id)
	if err == nil && s.status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		err = errorf(codes.FailedPrecondition, "sandbox %q is not ready", id)
	}
	if err == nil && f.StreamURL == "" {
		err = errorf(codes.Unimplemented, "the fake runtime has no streaming server")
	}
	if err != nil {
		return "", wrap("PortForward", id, err)
	}
	return f.StreamURL, nil
}

func (f *Fake) ReopenContainerLog(ctx context.Context, containerID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ReopenContainerLog", containerID); err != nil {
		return err
	}
	c, err := f.containerLocked(containerID)
	if err == nil && c.status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		err = errorf(codes.FailedPrecondition, "container is not running")
	}
	return wrap("ReopenContainerLog", containerID, err)
}

func (f *Fake) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	ref := image.GetImage()
	f.mu.Lock()
	err := f.begin("PullImage", ref)
	f.mu.Unlock()
	if err != nil {
		return "", err
	}
	if ref == "" {
		return "", wrap("PullImage", ref, errorf(codes.InvalidArgument, "image must not be empty"))
	}
	if f.OnPull != nil {
		if err := f.OnPull(ref); err != nil {
			return "", wrap("PullImage", ref, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addImageLocked(ref), nil
}

func (f *Fake) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec, verbose bool) (*runtimeapi.ImageStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ImageStatus", image.GetImage()); err != nil {
		return nil, err
	}
	img := f.imageLocked(image.GetImage())
	if img == nil {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: clone(img)}, nil
}

func (f *Fake) ListImages(ctx context.Context, filter *runtimeapi.ImageFilter) ([]*runtimeapi.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("ListImages", ""); err != nil {
		return nil, err
	}
	var out []*runtimeapi.Image
	if ref := filter.GetImage().GetImage(); ref != "" {
		if img := f.imageLocked(ref); img != nil {
			out = append(out, clone(img))
		}
		return out, nil
	}
	for _, img := range f.images {
		out = append(out, clone(img))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, nil
}

func (f *Fake) RemoveImage(ctx context.Context, image *runtimeapi.ImageSpec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.begin("RemoveImage", image.GetImage()); err != nil {
		return err
	}
	if img := f.imageLocked(image.GetImage()); img != nil {
		delete(f.images, img.Id)
	}
	return nil
}

func cloneMounts(ms []*runtimeapi.Mount) []*runtimeapi.Mount {
	var out []*runtimeapi.Mount
	for _, m := range ms {
		out = append(out, clone(m))
	}
	return out
}
