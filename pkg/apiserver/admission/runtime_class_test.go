package admission_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	nodev1 "keel.dev/keel/pkg/apis/node/v1"
	"keel.dev/keel/pkg/apiserver/admission"
)

// TestRuntimeClass: a pod naming a RuntimeClass gets its overhead and its
// scheduling constraints (node selector merged, tolerations added), as in
// Kubernetes; an unknown class, a conflicting node selector or a
// different overhead is refused, and so is an overhead without a class
// overhead; pods naming no class and updates are left alone.
func TestRuntimeClass(t *testing.T) {
	cluster := objects{
		"runtimeclasses//gvisor": &nodev1.RuntimeClass{Metadata: &metav1.ObjectMeta{Name: "gvisor"}, Handler: "runsc",
			Overhead: &nodev1.Overhead{PodFixed: map[string]*metav1.Quantity{"cpu": {String_: "250m"}, "memory": {String_: "120Mi"}}},
			Scheduling: &nodev1.Scheduling{NodeSelector: map[string]string{"sandbox": "gvisor"},
				Tolerations: []*corev1.Toleration{{Key: "sandbox", Operator: "Equal", Value: "gvisor", Effect: "NoSchedule"}, {Key: "dedicated", Operator: "Exists"}}}},
		"runtimeclasses//kata": &nodev1.RuntimeClass{Metadata: &metav1.ObjectMeta{Name: "kata"}, Handler: "kata"},
	}
	pod := func(class string, mod func(s *corev1.PodSpec)) *corev1.Pod {
		s := &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "busybox"}}}
		if class != "" {
			s.RuntimeClassName = proto.String(class)
		}
		if mod != nil {
			mod(s)
		}
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "team"}, Spec: s}
	}
	run := func(p *corev1.Pod, op admission.Operation) error {
		a := &admission.Attributes{Operation: op, Kind: kind(t, "pods"), Namespace: "team", Name: "web", Object: p}
		if err := (admission.RuntimeClass{}).Admit(context.Background(), a, cluster); err != nil {
			return err
		}
		return (admission.RuntimeClass{}).Validate(context.Background(), a, cluster)
	}

	p := pod("gvisor", func(s *corev1.PodSpec) {
		s.NodeSelector = map[string]string{"disk": "ssd"}
		s.Tolerations = []*corev1.Toleration{{Key: "dedicated", Operator: "Exists", Effect: "NoSchedule"}}
	})
	if err := run(p, admission.Create); err != nil {
		t.Fatal(err)
	}
	s := p.GetSpec()
	if s.GetOverhead()["cpu"].GetString_() != "250m" || s.GetOverhead()["memory"].GetString_() != "120Mi" || len(s.GetOverhead()) != 2 {
		t.Errorf("overhead %v", s.GetOverhead())
	}
	if s.GetNodeSelector()["disk"] != "ssd" || s.GetNodeSelector()["sandbox"] != "gvisor" {
		t.Errorf("nodeSelector %v", s.GetNodeSelector())
	}
	var keys []string
	for _, tol := range s.GetTolerations() {
		keys = append(keys, tol.GetKey()+"/"+tol.GetEffect())
	}
	// The class's dedicated (every effect) covers the pod's own
	// dedicated:NoSchedule, which goes, as in Kubernetes.
	if want := []string{"sandbox/NoSchedule", "dedicated/"}; !slices.Equal(keys, want) {
		t.Errorf("tolerations %v, want %v", keys, want)
	}

	same := pod("gvisor", func(s *corev1.PodSpec) {
		s.Overhead = map[string]*metav1.Quantity{"cpu": {String_: "0.25"}, "memory": {String_: "120Mi"}}
	})
	if err := run(same, admission.Create); err != nil {
		t.Errorf("the class's overhead, written otherwise: %v", err)
	}
	if err := run(pod("", nil), admission.Create); err != nil {
		t.Errorf("no class: %v", err)
	}
	if err := run(pod("kata", nil), admission.Create); err != nil {
		t.Errorf("class without overhead or scheduling: %v", err)
	}
	if err := run(pod("missing", nil), admission.Update); err != nil {
		t.Errorf("update: %v", err)
	}
	for _, c := range []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"unknown class", pod("missing", nil), `pods "web" is forbidden: pod rejected: RuntimeClass "missing" not found`},
		{"other overhead", pod("gvisor", func(s *corev1.PodSpec) { s.Overhead = map[string]*metav1.Quantity{"cpu": {String_: "1"}} }),
			`pods "web" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead`},
		{"overhead without class overhead", pod("kata", func(s *corev1.PodSpec) { s.Overhead = map[string]*metav1.Quantity{"cpu": {String_: "1"}} }),
			`pods "web" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead`},
		{"node selector conflict", pod("gvisor", func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"sandbox": "runc"} }),
			`pods "web" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = gvisor; pod.spec.nodeSelector[sandbox] = runc`},
	} {
		if err := run(c.pod, admission.Create); !apierrors.IsForbidden(err) || err.Error() != c.want {
			t.Errorf("%s: %v, want Forbidden %q", c.name, err, c.want)
		}
	}
}
