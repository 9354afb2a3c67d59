package api

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func q(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }

func podWithPhase(phase string) *corev1.Pod {
	return &corev1.Pod{Status: &corev1.PodStatus{Phase: phase}}
}

func TestIsPodTerminal(t *testing.T) {
	cases := []struct {
		pod  *corev1.Pod
		want bool
	}{
		{podWithPhase("Succeeded"), true},
		{podWithPhase("Failed"), true},
		{podWithPhase("Running"), false},
		{podWithPhase("Pending"), false},
		{podWithPhase("Unknown"), false},
		{podWithPhase(""), false},
		{&corev1.Pod{}, false},
		{nil, false},
	}
	for _, c := range cases {
		if got := IsPodTerminal(c.pod); got != c.want {
			t.Errorf("IsPodTerminal(phase %q) = %v, want %v", c.pod.GetStatus().GetPhase(), got, c.want)
		}
	}
}

func readyPod(status string, since time.Time) *corev1.Pod {
	return &corev1.Pod{Status: &corev1.PodStatus{Conditions: []*corev1.PodCondition{
		{Type: "PodScheduled", Status: "True"},
		{Type: "Ready", Status: status, LastTransitionTime: timestamppb.New(since)},
	}}}
}

func TestGetPodCondition(t *testing.T) {
	st := readyPod("True", time.Unix(100, 0)).GetStatus()
	cases := []struct {
		status   *corev1.PodStatus
		condType string
		want     string // the status of the condition found, "" for nil
	}{
		{st, "Ready", "True"},
		{st, "PodScheduled", "True"},
		{st, "Initialized", ""},
		{nil, "Ready", ""},
	}
	for _, c := range cases {
		got := GetPodCondition(c.status, c.condType)
		if (got == nil) != (c.want == "") || got.GetStatus() != c.want || (got != nil && got.GetType() != c.condType) {
			t.Errorf("GetPodCondition(%s) = %v, want status %q", c.condType, got, c.want)
		}
	}
}

func TestIsPodReadyAndAvailable(t *testing.T) {
	now := time.Unix(1000, 0)
	cases := []struct {
		name          string
		pod           *corev1.Pod
		minReady      int32
		wantReady     bool
		wantAvailable bool
	}{
		{"no conditions", &corev1.Pod{}, 0, false, false},
		{"nil pod", nil, 0, false, false},
		{"not ready", readyPod("False", now.Add(-time.Hour)), 0, false, false},
		{"unknown", readyPod("Unknown", now.Add(-time.Hour)), 0, false, false},
		{"ready, no minReadySeconds", readyPod("True", now), 0, true, true},
		{"ready long enough", readyPod("True", now.Add(-10*time.Second)), 10, true, true},
		{"ready not long enough", readyPod("True", now.Add(-9*time.Second)), 10, true, false},
		{"ready without transition time", &corev1.Pod{Status: &corev1.PodStatus{Conditions: []*corev1.PodCondition{{Type: "Ready", Status: "True"}}}}, 5, true, false},
	}
	for _, c := range cases {
		if got := IsPodReady(c.pod); got != c.wantReady {
			t.Errorf("%s: IsPodReady = %v, want %v", c.name, got, c.wantReady)
		}
		if got := IsPodAvailable(c.pod, c.minReady, now); got != c.wantAvailable {
			t.Errorf("%s: IsPodAvailable = %v, want %v", c.name, got, c.wantAvailable)
		}
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	cases := map[string]string{
		"busybox":                            "Always",
		"busybox:latest":                     "Always",
		"busybox:1.36":                       "IfNotPresent",
		"registry.local:5000/busybox":        "Always",
		"registry.local:5000/busybox:1.0":    "IfNotPresent",
		"registry.local:5000/busybox:latest": "Always",
		"busybox@sha256:0123":                "IfNotPresent",
		"busybox:1.36@sha256:0123":           "IfNotPresent",
		"docker.io/library/nginx:1.25":       "IfNotPresent",
	}
	for image, want := range cases {
		if got := DefaultPullPolicy(image); got != want {
			t.Errorf("DefaultPullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
}

func resources(req, lim map[string]string) *corev1.ResourceRequirements {
	r := &corev1.ResourceRequirements{}
	if req != nil {
		r.Requests = map[string]*metav1.Quantity{}
		for k, v := range req {
			r.Requests[k] = q(v)
		}
	}
	if lim != nil {
		r.Limits = map[string]*metav1.Quantity{}
		for k, v := range lim {
			r.Limits[k] = q(v)
		}
	}
	return r
}

func TestQOSClass(t *testing.T) {
	res := func(req, lim map[string]string) *corev1.Container {
		return &corev1.Container{Resources: resources(req, lim)}
	}
	full := map[string]string{"cpu": "1", "memory": "1Gi"}
	cases := []struct {
		name string
		init []*corev1.Container
		cs   []*corev1.Container
		want string
	}{
		{"none", nil, []*corev1.Container{{}}, "BestEffort"},
		{"guaranteed", nil, []*corev1.Container{res(full, full)}, "Guaranteed"},
		{"limits only (requests default to them)", nil, []*corev1.Container{res(nil, full)}, "Guaranteed"},
		{"guaranteed equal values", nil, []*corev1.Container{res(map[string]string{"cpu": "1000m", "memory": "1024Mi"}, full)}, "Guaranteed"},
		{"requests only", nil, []*corev1.Container{res(map[string]string{"cpu": "1"}, nil)}, "Burstable"},
		{"cpu only limits", nil, []*corev1.Container{res(map[string]string{"cpu": "1"}, map[string]string{"cpu": "1"})}, "Burstable"},
		{"one container best effort", nil, []*corev1.Container{res(full, full), {}}, "Burstable"},
		{"requests below limits", nil, []*corev1.Container{res(map[string]string{"cpu": "500m", "memory": "1Gi"}, full)}, "Burstable"},
		{"init container counts", []*corev1.Container{res(map[string]string{"cpu": "1"}, nil)}, []*corev1.Container{res(full, full)}, "Burstable"},
		{"init container alone", []*corev1.Container{res(full, full)}, []*corev1.Container{{}}, "Burstable"},
	}
	for _, c := range cases {
		if got := QOSClass(&corev1.PodSpec{InitContainers: c.init, Containers: c.cs}); got != c.want {
			t.Errorf("%s: QOSClass = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestPodRequests(t *testing.T) {
	always := "Always"
	req := func(kv ...string) *corev1.ResourceRequirements {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return resources(m, nil)
	}
	scoring := PodRequestsOptions{NonMissingContainerRequests: map[string]resource.Quantity{
		"cpu": resource.MustParse("100m"), "memory": resource.MustParse("200Mi")}}
	cases := []struct {
		name    string
		spec    *corev1.PodSpec
		opts    PodRequestsOptions
		want    map[string]string
		wantErr string
	}{
		{name: "nothing", spec: &corev1.PodSpec{Containers: []*corev1.Container{{}}}, want: map[string]string{}},
		{name: "nil spec", spec: nil, want: map[string]string{}},
		{name: "sum of containers", spec: &corev1.PodSpec{Containers: []*corev1.Container{
			{Resources: req("cpu", "100m", "memory", "64Mi")}, {Resources: req("cpu", "200m", "example.com/gpu", "1")}}},
			want: map[string]string{"cpu": "300m", "memory": "64Mi", "example.com/gpu": "1"}},
		{name: "init container larger wins", spec: &corev1.PodSpec{
			Containers:     []*corev1.Container{{Resources: req("cpu", "100m", "memory", "64Mi")}},
			InitContainers: []*corev1.Container{{Resources: req("cpu", "1")}, {Resources: req("cpu", "500m", "memory", "32Mi")}}},
			want: map[string]string{"cpu": "1", "memory": "64Mi"}},
		{name: "init container smaller loses", spec: &corev1.PodSpec{
			Containers:     []*corev1.Container{{Resources: req("cpu", "2")}},
			InitContainers: []*corev1.Container{{Resources: req("cpu", "1")}}},
			want: map[string]string{"cpu": "2"}},
		{name: "sidecars add, and run beside later init containers", spec: &corev1.PodSpec{
			Containers: []*corev1.Container{{Resources: req("cpu", "100m", "memory", "64Mi")}, {Resources: req("cpu", "200m")}},
			InitContainers: []*corev1.Container{
				{RestartPolicy: &always, Resources: req("cpu", "50m")},
				{Resources: req("cpu", "1", "memory", "32Mi")}},
			Overhead: map[string]*metav1.Quantity{"cpu": q("10m")}},
			// containers 300m + sidecar 50m = 350m; init 1 + sidecar 50m
			// = 1050m wins; plus 10m overhead. Memory: 64Mi vs 32Mi.
			want: map[string]string{"cpu": "1060m", "memory": "64Mi"}},
		{name: "overhead adds", spec: &corev1.PodSpec{Containers: []*corev1.Container{{Resources: req("memory", "1Gi")}},
			Overhead: map[string]*metav1.Quantity{"memory": q("100Mi"), "cpu": q("250m")}},
			want: map[string]string{"memory": "1124Mi", "cpu": "250m"}},
		{name: "defaults stand in for missing requests", opts: scoring, spec: &corev1.PodSpec{
			Containers:     []*corev1.Container{{Resources: req("memory", "64Mi")}, {}},
			InitContainers: []*corev1.Container{{RestartPolicy: &always}}},
			// memory 64Mi + 200Mi + sidecar 200Mi; cpu 3 x 100m.
			want: map[string]string{"cpu": "300m", "memory": "464Mi"}},
		{name: "an explicit zero is not missing", opts: scoring, spec: &corev1.PodSpec{
			Containers: []*corev1.Container{{Resources: req("cpu", "0", "memory", "0")}}},
			want: map[string]string{"cpu": "0", "memory": "0"}},
		{name: "bad quantity", spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Resources: req("cpu", "lots")}}},
			wantErr: `container app: cpu: "lots"`},
		{name: "bad init quantity", spec: &corev1.PodSpec{InitContainers: []*corev1.Container{{Name: "setup", Resources: req("memory", "x")}}},
			wantErr: `init container setup: memory: "x"`},
		{name: "bad overhead", spec: &corev1.PodSpec{Overhead: map[string]*metav1.Quantity{"cpu": q("?")}},
			wantErr: `overhead: cpu: "?"`},
	}
	for _, c := range cases {
		got, err := PodRequests(c.spec, c.opts)
		checkResources(t, c.name, got, err, c.want, c.wantErr)
	}
}

// PodRequests must not change the defaults it was given.
func TestPodRequestsKeepsOptions(t *testing.T) {
	opts := PodRequestsOptions{NonMissingContainerRequests: map[string]resource.Quantity{"cpu": resource.MustParse("100m")}}
	spec := &corev1.PodSpec{Containers: []*corev1.Container{{}, {}}}
	if _, err := PodRequests(spec, opts); err != nil {
		t.Fatal(err)
	}
	if got := opts.NonMissingContainerRequests["cpu"]; got.String() != "100m" {
		t.Errorf("options changed: cpu default now %s", got.String())
	}
}

// checkResources compares a computed resource list (or its error) with
// want (quantities compared by value) or wantErr (a part of the error).
func checkResources(t *testing.T, name string, got map[string]resource.Quantity, err error, want map[string]string, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: error %v, want %q", name, err, wantErr)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %v, want %v", name, got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g.Cmp(resource.MustParse(v)) != 0 {
			t.Errorf("%s: %s = %s, want %s", name, k, g.String(), v)
		}
	}
}
