package api

import (
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func TestPodLimits(t *testing.T) {
	always := ContainerRestartPolicyAlways
	lim := func(kv ...string) *corev1.ResourceRequirements {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return resources(nil, m)
	}
	cases := []struct {
		name    string
		spec    *corev1.PodSpec
		want    map[string]string
		wantErr string
	}{
		{name: "nothing", spec: &corev1.PodSpec{Containers: []*corev1.Container{{}}}, want: map[string]string{}},
		{name: "nil spec", spec: nil, want: map[string]string{}},
		{name: "requests are not limits", spec: &corev1.PodSpec{Containers: []*corev1.Container{
			{Resources: resources(map[string]string{"cpu": "1"}, nil)}}}, want: map[string]string{}},
		{name: "sum of containers", spec: &corev1.PodSpec{Containers: []*corev1.Container{
			{Resources: lim("cpu", "100m", "memory", "64Mi")}, {Resources: lim("cpu", "200m")}}},
			want: map[string]string{"cpu": "300m", "memory": "64Mi"}},
		{name: "init container larger wins", spec: &corev1.PodSpec{
			Containers:     []*corev1.Container{{Resources: lim("cpu", "100m", "memory", "64Mi")}},
			InitContainers: []*corev1.Container{{Resources: lim("cpu", "1")}, {Resources: lim("memory", "32Mi")}}},
			want: map[string]string{"cpu": "1", "memory": "64Mi"}},
		{name: "sidecars add, and run beside later init containers", spec: &corev1.PodSpec{
			Containers: []*corev1.Container{{Resources: lim("cpu", "300m")}},
			InitContainers: []*corev1.Container{
				{RestartPolicy: &always, Resources: lim("cpu", "50m", "memory", "16Mi")},
				{Resources: lim("cpu", "1")}}},
			// containers 300m + sidecar 50m = 350m; init 1 + sidecar
			// 50m = 1050m wins. Memory: the sidecar's 16Mi.
			want: map[string]string{"cpu": "1050m", "memory": "16Mi"}},
		{name: "overhead adds only to what has a limit", spec: &corev1.PodSpec{
			Containers: []*corev1.Container{{Resources: lim("memory", "1Gi")}},
			Overhead:   map[string]*metav1.Quantity{"memory": q("100Mi"), "cpu": q("250m")}},
			want: map[string]string{"memory": "1124Mi"}},
		{name: "overhead without limits", spec: &corev1.PodSpec{
			Containers: []*corev1.Container{{}},
			Overhead:   map[string]*metav1.Quantity{"cpu": q("250m")}},
			want: map[string]string{}},
		{name: "bad quantity", spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Resources: lim("cpu", "lots")}}},
			wantErr: `container app: cpu: "lots"`},
		{name: "bad init quantity", spec: &corev1.PodSpec{InitContainers: []*corev1.Container{{Name: "setup", Resources: lim("memory", "x")}}},
			wantErr: `init container setup: memory: "x"`},
		{name: "bad overhead", spec: &corev1.PodSpec{Overhead: map[string]*metav1.Quantity{"cpu": q("?")}},
			wantErr: `overhead: cpu: "?"`},
	}
	for _, c := range cases {
		got, err := PodLimits(c.spec)
		checkResources(t, c.name, got, err, c.want, c.wantErr)
	}
}
