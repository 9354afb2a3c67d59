package deployment

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func intOr(s string) *metav1.IntOrString {
	if s == "" {
		return nil
	}
	if s[len(s)-1] == '%' {
		return &metav1.IntOrString{Type: 1, StrVal: s}
	}
	n := int32(0)
	for _, c := range s {
		n = n*10 + c - '0'
	}
	return &metav1.IntOrString{IntVal: n}
}

func dep(n int32, surge, unavailable string) *appsv1.Deployment {
	return &appsv1.Deployment{Spec: &appsv1.DeploymentSpec{Replicas: &n,
		Strategy: &appsv1.DeploymentStrategy{Type: api.RollingUpdateDeploymentStrategyType,
			RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: intOr(surge), MaxUnavailable: intOr(unavailable)}}}}
}

func rs(name string, rev string, spec, available int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Name: name, Annotations: map[string]string{api.DeploymentRevisionAnnotation: rev}},
		Spec:   &appsv1.ReplicaSetSpec{Replicas: &spec},
		Status: &appsv1.ReplicaSetStatus{Replicas: spec, AvailableReplicas: available}}
}

// byName maps the scaled ReplicaSets' names to their new replicas.
func byName(scales []Scale) map[string]int32 {
	out := map[string]int32{}
	for _, s := range scales {
		out[s.RS.GetMetadata().GetName()] = s.Replicas
	}
	return out
}

func TestFenceposts(t *testing.T) {
	for _, c := range []struct {
		n                  int32
		surge, unavailable string
		wantS, wantU       int32
	}{
		{10, "", "", 3, 2},     // 25% up, 25% down
		{3, "", "", 1, 0},      // rounding
		{4, "0", "0", 0, 1},    // both zero would stall
		{10, "50%", "1", 5, 1}, // mixed
		{1, "", "", 1, 0},
	} {
		s, u := fenceposts(dep(c.n, c.surge, c.unavailable))
		if s != c.wantS || u != c.wantU {
			t.Errorf("%d replicas, surge %q unavailable %q: %d/%d, want %d/%d", c.n, c.surge, c.unavailable, s, u, c.wantS, c.wantU)
		}
	}
}

func TestRollingScaleUpRespectsSurge(t *testing.T) {
	d := dep(10, "3", "2")
	old := rs("old", "1", 10, 10)
	if n := rollingScaleUp(d, rs("new", "2", 0, 0), []*appsv1.ReplicaSet{rs("new", "2", 0, 0), old}); n != 3 {
		t.Errorf("first step: new to %d, want 3 (10 + surge 3 − 10)", n)
	}
	old7 := rs("old", "1", 7, 7)
	if n := rollingScaleUp(d, rs("new", "2", 3, 0), []*appsv1.ReplicaSet{rs("new", "2", 3, 0), old7}); n != 6 {
		t.Errorf("after old went to 7: new to %d, want 6", n)
	}
	if n := rollingScaleUp(d, rs("new", "2", 10, 10), []*appsv1.ReplicaSet{rs("new", "2", 10, 10)}); n != 10 {
		t.Errorf("done: %d, want 10", n)
	}
}

func TestRollingScaleDownKeepsMinimumAvailable(t *testing.T) {
	d := dep(10, "3", "2") // at least 8 available
	// New 3 (none available yet), old 10 available: 2 may go.
	newRS := rs("new", "3", 3, 0)
	old := rs("old", "2", 10, 10)
	got := byName(rollingScaleDown(d, newRS, []*appsv1.ReplicaSet{old}))
	if got["old"] != 8 {
		t.Errorf("old to %v, want 8", got)
	}
	// Unavailable old pods go first, oldest revision first, and do not
	// count against availability.
	older := rs("older", "1", 2, 0)
	old = rs("old", "2", 8, 8)
	scales := rollingScaleDown(d, rs("new", "3", 5, 5), []*appsv1.ReplicaSet{old, older})
	if len(scales) != 2 || scales[0].RS != older || scales[0].Replicas != 0 || scales[1].RS != old || scales[1].Replicas != 3 {
		t.Errorf("scale-down %v, want older 0 then old 3 (13 available − 8 minimum)", byName(scales))
	}
	// Nothing available beyond the minimum: nothing moves.
	got = byName(rollingScaleDown(d, rs("new", "3", 3, 0), []*appsv1.ReplicaSet{rs("old", "2", 8, 8)}))
	if len(got) != 0 {
		t.Errorf("scale-down %v below the minimum", got)
	}
}

func TestTemplateHashAndSameTemplate(t *testing.T) {
	tmpl := &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox:1"}}}}
	h := TemplateHash(tmpl, 0)
	if h != TemplateHash(tmpl, 0) || h == "" {
		t.Fatalf("hash not stable: %q", h)
	}
	if TemplateHash(tmpl, 1) == h {
		t.Error("the collision count does not change the hash")
	}
	other := &corev1.PodTemplateSpec{Metadata: tmpl.Metadata, Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox:2"}}}}
	if TemplateHash(other, 0) == h {
		t.Error("another image, same hash")
	}
	n := int32(2)
	d := &appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: &appsv1.DeploymentSpec{Replicas: &n, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, Template: tmpl}}
	made := newReplicaSet(d, h, 1, 2)
	if made.GetMetadata().GetName() != "web-"+h || made.GetSpec().GetTemplate().GetMetadata().GetLabels()[api.DeploymentHashLabel] != h ||
		made.GetSpec().GetSelector().GetMatchLabels()[api.DeploymentHashLabel] != h || tmpl.GetMetadata().GetLabels()[api.DeploymentHashLabel] != "" {
		t.Errorf("new ReplicaSet %v (or the Deployment's template changed)", made)
	}
	if !sameTemplate(made, tmpl) || sameTemplate(made, other) {
		t.Error("sameTemplate does not ignore only the hash label")
	}
	// A template written back by a typed Kubernetes client carries empty
	// structs (resources: {}); it is the same template.
	typed := proto.Clone(tmpl).(*corev1.PodTemplateSpec)
	typed.Spec.Containers[0].Resources = &corev1.ResourceRequirements{}
	typed.Spec.SecurityContext = &corev1.PodSecurityContext{}
	if !sameTemplate(made, typed) {
		t.Error("sameTemplate tells empty structs from unset ones")
	}
	if typed.Spec.Containers[0].Resources == nil {
		t.Error("sameTemplate changed its argument")
	}
}
