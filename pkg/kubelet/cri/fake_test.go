package cri

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func sandboxConfig(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: "uid-" + name},
		Labels:       map[string]string{"app": name, "keel.dev/pod": name},
		LogDirectory: "/var/log/pods/" + name,
	}
}

func containerConfig(name, image string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: image},
		Command:  []string{"sleep", "3600"},
		Labels:   map[string]string{"container": name},
		LogPath:  name + "/0.log",
	}
}

func wantCode(t *testing.T, err error, code codes.Code) {
	t.Helper()
	if got := Code(err); got != code {
		t.Fatalf("error %v has code %v, want %v", err, got, code)
	}
}

func containerState(t *testing.T, f *Fake, id string) *runtimeapi.ContainerStatus {
	t.Helper()
	resp, err := f.ContainerStatus(context.Background(), id, false)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status
}

func TestFakeLifecycle(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	clock := time.Unix(1000, 0)
	f.Now = func() time.Time { return clock }

	sb, err := f.RunPodSandbox(ctx, sandboxConfig("web"), "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.PodSandboxStatus(ctx, sb, false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY || st.Status.Network.GetIp() != "10.88.0.2" || st.Status.CreatedAt != clock.UnixNano() {
		t.Fatalf("sandbox status %v", st.Status)
	}
	// The same pod (name, namespace, uid, attempt) cannot run twice.
	if _, err := f.RunPodSandbox(ctx, sandboxConfig("web"), ""); err == nil {
		t.Fatal("second RunPodSandbox with the same metadata succeeded")
	}

	// The image must be pulled first.
	_, err = f.CreateContainer(ctx, sb, containerConfig("app", "busybox"), sandboxConfig("web"))
	wantCode(t, err, codes.NotFound)
	imgRef, err := f.PullImage(ctx, &runtimeapi.ImageSpec{Image: "busybox"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	is, err := f.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "busybox"}, false)
	if err != nil || is.Image.GetId() != imgRef {
		t.Fatalf("ImageStatus = %v, %v; want id %s", is, err, imgRef)
	}

	c, err := f.CreateContainer(ctx, sb, containerConfig("app", "busybox"), sandboxConfig("web"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.CreateContainer(ctx, sb, containerConfig("app", "busybox"), sandboxConfig("web")); err == nil {
		t.Fatal("second container with the same name and attempt was created")
	}
	s := containerState(t, f, c)
	if s.State != runtimeapi.ContainerState_CONTAINER_CREATED || s.ImageRef != imgRef || s.LogPath != "/var/log/pods/web/app/0.log" {
		t.Fatalf("created container status %v", s)
	}
	if _, err := f.ExecSync(ctx, c, []string{"echo", "hi"}, time.Second); Code(err) != codes.FailedPrecondition {
		t.Fatalf("ExecSync in a created container: %v", err)
	}

	clock = clock.Add(time.Second)
	if err := f.StartContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.StartContainer(ctx, c), codes.FailedPrecondition)
	s = containerState(t, f, c)
	if s.State != runtimeapi.ContainerState_CONTAINER_RUNNING || s.StartedAt != clock.UnixNano() {
		t.Fatalf("started container status %v", s)
	}
	res, err := f.ExecSync(ctx, c, []string{"echo", "hi"}, time.Second)
	if err != nil || string(res.Stdout) != "hi\n" || res.ExitCode != 0 {
		t.Fatalf("ExecSync echo hi = %v, %v", res, err)
	}
	res, err = f.ExecSync(ctx, c, []string{"false"}, time.Second)
	if err != nil || res.ExitCode != 1 {
		t.Fatalf("ExecSync false = %v, %v", res, err)
	}
	if err := f.ReopenContainerLog(ctx, c); err != nil {
		t.Fatal(err)
	}

	// A unique prefix names the container too.
	if err := f.StopContainer(ctx, c[:12], 30*time.Second); err != nil {
		t.Fatal(err)
	}
	s = containerState(t, f, c)
	if s.State != runtimeapi.ContainerState_CONTAINER_EXITED || s.ExitCode != 143 || s.Reason != "Error" {
		t.Fatalf("stopped container status %v", s)
	}
	if err := f.StopContainer(ctx, c, 0); err != nil {
		t.Fatalf("stopping an exited container: %v", err)
	}
	if err := f.RemoveContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	_, err = f.ContainerStatus(ctx, c, false)
	wantCode(t, err, codes.NotFound)
	if !IsNotFound(err) {
		t.Errorf("IsNotFound(%v) = false", err)
	}
	if err := f.RemoveContainer(ctx, c); err != nil {
		t.Errorf("removing a removed container: %v", err)
	}
	wantCode(t, f.StopContainer(ctx, c, 0), codes.NotFound)

	if err := f.StopPodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if err := f.RemovePodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if err := f.RemovePodSandbox(ctx, sb); err != nil {
		t.Errorf("removing a removed sandbox: %v", err)
	}
	wantCode(t, f.StopPodSandbox(ctx, sb), codes.NotFound)
	// Its name is free again.
	if _, err := f.RunPodSandbox(ctx, sandboxConfig("web"), ""); err != nil {
		t.Fatal(err)
	}
}

func TestFakeContainerExits(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	f.OnStart = func(id string, config *runtimeapi.ContainerConfig) ExitDecision {
		if config.Command[0] == "true" {
			return ExitDecision{Exit: true}
		}
		if config.Command[0] == "false" {
			return ExitDecision{Exit: true, ExitCode: 1}
		}
		return ExitDecision{}
	}
	f.AddImage("busybox")
	sb, err := f.RunPodSandbox(ctx, sandboxConfig("job"), "")
	if err != nil {
		t.Fatal(err)
	}
	run := func(name string, cmd ...string) string {
		cfg := containerConfig(name, "busybox")
		cfg.Command = cmd
		id, err := f.CreateContainer(ctx, sb, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	for _, tt := range []struct {
		cmd    string
		code   int32
		reason string
	}{{"true", 0, "Completed"}, {"false", 1, "Error"}} {
		s := containerState(t, f, run(tt.cmd, tt.cmd))
		if s.State != runtimeapi.ContainerState_CONTAINER_EXITED || s.ExitCode != tt.code || s.Reason != tt.reason {
			t.Errorf("%s: status %v", tt.cmd, s)
		}
	}

	oom := run("oom", "sleep", "1")
	if err := f.ExitContainer(oom, 137, "OOMKilled"); err != nil {
		t.Fatal(err)
	}
	if s := containerState(t, f, oom); s.ExitCode != 137 || s.Reason != "OOMKilled" {
		t.Errorf("oom: status %v", s)
	}
	wantCode(t, f.ExitContainer(oom, 0, ""), codes.FailedPrecondition)

	// Stopping the sandbox kills what still runs, and no container can be
	// created in it any more.
	long := run("long", "sleep", "3600")
	if err := f.StopPodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if s := containerState(t, f, long); s.State != runtimeapi.ContainerState_CONTAINER_EXITED || s.ExitCode != 137 {
		t.Errorf("after StopPodSandbox: %v", s)
	}
	_, err = f.CreateContainer(ctx, sb, containerConfig("late", "busybox"), nil)
	wantCode(t, err, codes.FailedPrecondition)

	// Removing the sandbox removes its containers.
	if err := f.RemovePodSandbox(ctx, sb); err != nil {
		t.Fatal(err)
	}
	if cs, _ := f.ListContainers(ctx, nil); len(cs) != 0 {
		t.Errorf("%d containers left after RemovePodSandbox", len(cs))
	}
}

func TestFakeListFilters(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	f.AddImage("busybox")
	a, _ := f.RunPodSandbox(ctx, sandboxConfig("a"), "")
	b, _ := f.RunPodSandbox(ctx, sandboxConfig("b"), "")
	ca, _ := f.CreateContainer(ctx, a, containerConfig("one", "busybox"), nil)
	cb, _ := f.CreateContainer(ctx, b, containerConfig("one", "busybox"), nil)
	if err := f.StartContainer(ctx, cb); err != nil {
		t.Fatal(err)
	}
	if err := f.StopPodSandbox(ctx, a); err != nil {
		t.Fatal(err)
	}

	ids := func(items []*runtimeapi.PodSandbox) []string {
		var out []string
		for _, i := range items {
			out = append(out, i.Id)
		}
		return out
	}
	ready := &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}}
	if got, _ := f.ListPodSandbox(ctx, ready); fmt.Sprint(ids(got)) != fmt.Sprint([]string{b}) {
		t.Errorf("ready sandboxes %v, want [%s]", ids(got), b)
	}
	if got, _ := f.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"app": "a"}}); fmt.Sprint(ids(got)) != fmt.Sprint([]string{a}) {
		t.Errorf("app=a sandboxes %v", ids(got))
	}
	if got, _ := f.ListPodSandbox(ctx, nil); len(got) != 2 {
		t.Errorf("all sandboxes: %d", len(got))
	}

	running := &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}
	if got, _ := f.ListContainers(ctx, running); len(got) != 1 || got[0].Id != cb || got[0].PodSandboxId != b {
		t.Errorf("running containers %v", got)
	}
	if got, _ := f.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: a}); len(got) != 1 || got[0].Id != ca {
		t.Errorf("containers of %s: %v", a, got)
	}
	if got, _ := f.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"container": "nope"}}); len(got) != 0 {
		t.Errorf("label filter matched %v", got)
	}

	// Results are copies.
	got, _ := f.ListPodSandbox(ctx, nil)
	got[0].Labels["app"] = "changed"
	if again, _ := f.ListPodSandbox(ctx, nil); again[0].Labels["app"] == "changed" {
		t.Error("ListPodSandbox result aliases the fake's state")
	}
}

func TestFakeInjectErrorAndCalls(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	boom := errors.New("boom")
	f.InjectError("PullImage", boom)
	if _, err := f.PullImage(ctx, &runtimeapi.ImageSpec{Image: "x"}, nil, nil); !errors.Is(err, boom) {
		t.Fatalf("PullImage error %v, want boom", err)
	}
	if st, _ := f.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "x"}, false); st.Image != nil {
		t.Fatal("failed pull left an image")
	}
	if _, err := f.PullImage(ctx, &runtimeapi.ImageSpec{Image: "x"}, nil, nil); err != nil {
		t.Fatalf("second pull: %v", err)
	}
	f.OnPull = func(image string) error { return fmt.Errorf("no such registry for %s", image) }
	if _, err := f.PullImage(ctx, &runtimeapi.ImageSpec{Image: "y"}, nil, nil); err == nil {
		t.Fatal("OnPull error ignored")
	}
	want := []FakeCall{{"PullImage", "x"}, {"ImageStatus", "x"}, {"PullImage", "x"}, {"PullImage", "y"}}
	if got := f.Calls(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Calls() = %v, want %v", got, want)
	}
	if n := f.CallCount("PullImage"); n != 3 {
		t.Errorf("CallCount(PullImage) = %d", n)
	}
	f.ResetCalls()
	if len(f.Calls()) != 0 {
		t.Error("ResetCalls kept calls")
	}

	f.SetReady(true, false)
	st, err := f.Status(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range st.Status.Conditions {
		if c.Type == runtimeapi.NetworkReady && c.Status {
			t.Error("NetworkReady still true")
		}
	}
	if err := f.RemoveImage(ctx, &runtimeapi.ImageSpec{Image: "x"}); err != nil {
		t.Fatal(err)
	}
	if imgs, _ := f.ListImages(ctx, nil); len(imgs) != 0 {
		t.Errorf("images left: %v", imgs)
	}
}

// TestFakeConcurrent drives many pods at once; run with -race.
func TestFakeConcurrent(t *testing.T) {
	ctx := context.Background()
	f := NewFake()
	f.AddImage("busybox")
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("pod-%d", i)
			sb, err := f.RunPodSandbox(ctx, sandboxConfig(name), "")
			if err != nil {
				errs <- err
				return
			}
			c, err := f.CreateContainer(ctx, sb, containerConfig("c", "busybox"), nil)
			if err == nil {
				err = f.StartContainer(ctx, c)
			}
			if err == nil {
				_, err = f.ListContainers(ctx, &runtimeapi.ContainerFilter{PodSandboxId: sb})
			}
			if err == nil {
				err = f.StopPodSandbox(ctx, sb)
			}
			if err == nil {
				err = f.RemovePodSandbox(ctx, sb)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if sbs, _ := f.ListPodSandbox(ctx, nil); len(sbs) != 0 {
		t.Errorf("%d sandboxes left", len(sbs))
	}
}

func TestErrorWrapping(t *testing.T) {
	err := wrap("StartContainer", "abc", errorf(codes.NotFound, "gone"))
	if got := err.Error(); got != "cri StartContainer abc: rpc error: code = NotFound desc = gone" {
		t.Errorf("Error() = %q", got)
	}
	if !IsNotFound(fmt.Errorf("outer: %w", err)) {
		t.Error("IsNotFound lost the code through wrapping")
	}
	if Code(wrap("Version", "", context.DeadlineExceeded)) != codes.DeadlineExceeded {
		t.Error("deadline not mapped")
	}
	if Code(nil) != codes.OK || Code(errors.New("x")) != codes.Unknown {
		t.Error("Code of nil / plain error")
	}
	if seconds(1500*time.Millisecond) != 2 || seconds(0) != 0 || seconds(time.Second) != 1 {
		t.Error("seconds rounding")
	}
}
