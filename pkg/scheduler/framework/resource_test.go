package framework_test

import (
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheduler/framework"
)

// TestPodRequestsScoring: the requests a pod reserves, and the scoring requests
// where a container's missing CPU or memory counts as the defaults (a
// request written as zero is not missing).
func TestPodRequestsScoring(t *testing.T) {
	ctr := func(req map[string]string) *corev1.Container {
		r := map[string]*metav1.Quantity{}
		for k, v := range req {
			r[k] = &metav1.Quantity{String_: v}
		}
		return &corev1.Container{Name: "c", Resources: &corev1.ResourceRequirements{Requests: r}}
	}
	const mi = 1024 * 1024
	for _, c := range []struct {
		name                   string
		spec                   *corev1.PodSpec
		cpu, mem, nzCPU, nzMem int64
	}{
		{"both given", &corev1.PodSpec{Containers: []*corev1.Container{ctr(map[string]string{"cpu": "250m", "memory": "64Mi"})}}, 250, 64 * mi, 250, 64 * mi},
		{"memory left out", &corev1.PodSpec{Containers: []*corev1.Container{ctr(map[string]string{"cpu": "250m"})}}, 250, 0, 250, framework.DefaultMemoryRequest},
		{"nothing given", &corev1.PodSpec{Containers: []*corev1.Container{ctr(nil), ctr(nil)}}, 0, 0, 2 * framework.DefaultMilliCPURequest, 2 * framework.DefaultMemoryRequest},
		{"zero written", &corev1.PodSpec{Containers: []*corev1.Container{ctr(map[string]string{"cpu": "0", "memory": "0"})}}, 0, 0, 0, 0},
		{"an init container leaves CPU out", &corev1.PodSpec{
			Containers:     []*corev1.Container{ctr(map[string]string{"cpu": "50m", "memory": "64Mi"})},
			InitContainers: []*corev1.Container{ctr(map[string]string{"memory": "32Mi"})}}, 50, 64 * mi, framework.DefaultMilliCPURequest, 64 * mi},
	} {
		req, nz, err := framework.PodRequests(c.spec)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if req.MilliCPU != c.cpu || req.Memory != c.mem || nz.MilliCPU != c.nzCPU || nz.Memory != c.nzMem {
			t.Errorf("%s: requests %d/%d scoring %d/%d, want %d/%d and %d/%d", c.name,
				req.MilliCPU, req.Memory, nz.MilliCPU, nz.Memory, c.cpu, c.mem, c.nzCPU, c.nzMem)
		}
		if req.AllowedPodNumber != 1 || nz.AllowedPodNumber != 1 {
			t.Errorf("%s: a pod counts 1, got %d and %d", c.name, req.AllowedPodNumber, nz.AllowedPodNumber)
		}
	}
}
