package validation_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/kubelet/kuberuntime"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/scheduler/framework"
)

// FuzzQuantity puts two arbitrary strings where Keel reads resource
// quantities (a container's requests and limits, an init container's
// requests, the pod's overhead, a hugepages resource name) and runs every
// place that parses them: the manifest decoder, defaulting (the QoS class
// compares quantities), validation, the scheduler's resource accounting,
// the kubelet's cgroup settings and the printers' request/limit sums.
// Nothing may panic; the decoder keeps every quantity as written and
// validation accepts exactly the quantities apimachinery parses (and
// refuses negative ones);
// and the scheduler must account every pod that validates.
func FuzzQuantity(f *testing.F) {
	for _, q := range [][2]string{{"250m", "500m"}, {"64Mi", "128Mi"}, {"1", "1000m"}, {"0.5", "1e3"}, {"-1", "2Gi"}} {
		f.Add(q[0], q[1])
	}
	f.Fuzz(func(t *testing.T, request, limit string) {
		parsed, reqErr := resource.ParseQuantity(request)

		// The manifest decoder keeps any quantity string as written, for
		// validation to judge with the object's other problems.
		doc, err := json.Marshal(map[string]any{"requests": map[string]string{"cpu": request}})
		if err != nil {
			t.Fatal(err)
		}
		var rr corev1.ResourceRequirements
		if err := manifest.DecodeInto(doc, &rr); err != nil || utf8.ValidString(request) && rr.GetRequests()["cpu"].GetString_() != request {
			t.Fatalf("decoding quantity %q: %v, got %q", request, err, rr.GetRequests()["cpu"].GetString_())
		}

		list := func(q string) map[string]*metav1.Quantity {
			return map[string]*metav1.Quantity{"cpu": {String_: q}, "memory": {String_: q}, "example.com/gpu": {String_: q}}
		}
		c := &corev1.Container{Name: "c", Image: "busybox",
			Resources: &corev1.ResourceRequirements{Requests: list(request), Limits: list(limit)}}
		c.Resources.Limits["hugepages-"+request] = &metav1.Quantity{String_: "2Mi"}
		pod := &corev1.Pod{
			Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "default"},
			Spec: &corev1.PodSpec{
				Containers:     []*corev1.Container{c},
				InitContainers: []*corev1.Container{{Name: "init", Image: "busybox", Resources: &corev1.ResourceRequirements{Requests: list(limit)}}},
				Overhead:       map[string]*metav1.Quantity{"cpu": {String_: request}},
			},
		}
		registry.Default(pod)
		errs := registry.ValidateCreate(pod)
		const path = "spec.containers[0].resources.requests[cpu]"
		refused := false
		for _, e := range errs {
			// (A request above its limit is another error at that path.)
			refused = refused || e.Field == path && !strings.Contains(e.Detail, " limit of ")
		}
		if ok := reqErr == nil && parsed.Sign() >= 0; ok == refused {
			t.Fatalf("quantity %q: apimachinery parses it as %v (%v); validation refused it: %v", request, parsed.String(), reqErr, refused)
		}
		if _, _, err := framework.PodRequests(pod.GetSpec()); err != nil && errs == nil {
			t.Fatalf("a valid pod (requests %q, limits %q) cannot be scheduled: %v", request, limit, err)
		}
		kuberuntime.Resources(pod, c, 8<<30)
		printers.PodRequestsAndLimits(pod)
	})
}
