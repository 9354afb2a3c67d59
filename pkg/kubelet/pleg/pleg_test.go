package pleg

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	testclock "k8s.io/utils/clock/testing"

	"keel.dev/keel/pkg/kubelet/cri"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
)

type recorder struct {
	changed []string
	seen    map[string]bool
}

func (r *recorder) PodChanged(uid string)         { r.changed = append(r.changed, uid) }
func (r *recorder) Relisted(uids map[string]bool) { r.seen = uids }

func (r *recorder) take() string {
	sort.Strings(r.changed)
	s := strings.Join(r.changed, ",")
	r.changed = nil
	return s
}

func sandbox(t *testing.T, f *cri.Fake, uid string) string {
	t.Helper()
	cfg := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: "p" + uid, Namespace: "default", Uid: uid}}
	if uid != "" {
		cfg.Labels = map[string]string{kuberuntime.LabelPodUID: uid}
	} else {
		cfg.Metadata.Uid = "someone-else"
	}
	id, err := f.RunPodSandbox(context.Background(), cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRelist(t *testing.T) {
	ctx := context.Background()
	f := cri.NewFake()
	f.AddImage("img")
	clk := testclock.NewFakeClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	r := &recorder{}
	p := New(f, time.Second, clk, r, nil)
	if ok, _ := p.Healthy(time.Minute); ok {
		t.Error("healthy before any relist")
	}
	sbA := sandbox(t, f, "a")
	sandbox(t, f, "b")
	sandbox(t, f, "") // not the kubelet's: ignored
	p.Relist(ctx)
	if got := r.take(); got != "a,b" {
		t.Errorf("first relist changed %q", got)
	}
	if len(r.seen) != 2 || !r.seen["a"] || !r.seen["b"] {
		t.Errorf("seen %v", r.seen)
	}
	p.Relist(ctx)
	if got := r.take(); got != "" {
		t.Errorf("nothing happened, changed %q", got)
	}
	// A container starts in a, then exits; b's sandbox goes away.
	cfg := &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "img"},
		Labels: map[string]string{kuberuntime.LabelPodUID: "a"}}
	id, err := f.CreateContainer(ctx, sbA, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Relist(ctx)
	if got := r.take(); got != "a" {
		t.Errorf("created: changed %q", got)
	}
	if err := f.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	p.Relist(ctx)
	if got := r.take(); got != "a" {
		t.Errorf("started: changed %q", got)
	}
	if err := f.ExitContainer(id, 0, ""); err != nil {
		t.Fatal(err)
	}
	sbs, _ := f.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{kuberuntime.LabelPodUID: "b"}})
	if err := f.RemovePodSandbox(ctx, sbs[0].Id); err != nil {
		t.Fatal(err)
	}
	p.Relist(ctx)
	if got := r.take(); got != "a,b" {
		t.Errorf("exit and removal: changed %q", got)
	}
	if ok, err := p.Healthy(time.Minute); !ok {
		t.Errorf("not healthy: %v", err)
	}
	// The runtime fails: the PLEG becomes unhealthy once the threshold passes.
	f.InjectError("ListPodSandbox", errors.New("runtime down"))
	done := p.Relisted()
	p.Relist(ctx)
	<-done
	if ok, _ := p.Healthy(time.Minute); !ok {
		t.Error("unhealthy at once")
	}
	clk.Step(2 * time.Minute)
	if ok, err := p.Healthy(time.Minute); ok || err == nil || !strings.Contains(err.Error(), "runtime down") {
		t.Errorf("healthy %v, %v", ok, err)
	}
}
