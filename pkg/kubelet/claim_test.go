package kubelet_test

import (
	"strings"
	"testing"
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/kubelet"
)

// TestPodWaitsForItsClaim: a pod whose persistentVolumeClaim volume cannot
// be resolved waits as in Kubernetes: no sandbox, its containers
// ContainerCreating, a FailedMount event naming the claim, retried.
func TestPodWaitsForItsClaim(t *testing.T) {
	e := newEnv(t)
	rec := &events{}
	e.startKubelet(t, func(c *kubelet.Config) { c.Events = rec })
	p := testPod("db", "Always", "app")
	p.Spec.Volumes = []*corev1.Volume{{Name: "data", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-db"}}}
	p.Spec.Containers[0].VolumeMounts = []*corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	e.create(t, p)
	e.waitPod(t, "db", "waiting ContainerCreating", func(p *corev1.Pod) bool {
		cs := p.GetStatus().GetContainerStatuses()
		return p.GetStatus().GetPhase() == "Pending" && len(cs) == 1 && cs[0].GetState().GetWaiting().GetReason() == "ContainerCreating"
	})
	const want = `volume "data": error processing PVC default/data-db: failed to fetch PVC from API server`
	waitFor(t, 10*time.Second, "two FailedMount events (a retry)", func() (bool, string) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := 0
		for _, ev := range rec.all {
			if strings.HasPrefix(ev, "Warning FailedMount: ") && strings.Contains(ev, want) {
				n++
			}
		}
		return n >= 2, strings.Join(rec.all, "\n")
	})
	if n := e.fake.CallCount("RunPodSandbox"); n != 0 {
		t.Errorf("%d sandboxes created for a pod whose claim is not there", n)
	}
}
