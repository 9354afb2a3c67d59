package apiserver_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/scheme"
)

// TestOfferedAnswerIsTheStoredObject: the object a write offers its
// in-process caller (scheme.Answer, which the REST API encodes and caches
// as JSON instead of decoding its answer) equals what the answer's Any
// decodes to, for creates (with defaults, generated names and a
// Service's allocated ClusterIP) and updates; a dry run offers nothing.
func TestOfferedAnswerIsTheStoredObject(t *testing.T) {
	c := start(t, nil)
	admin := auth.WithUser(c.ctx, auth.User{Name: "admin", Groups: []string{"system:masters", auth.GroupAuthenticated}})
	check := func(what string, slot *scheme.Answer, a *anypb.Any) proto.Message {
		t.Helper()
		got := slot.Object(a)
		want, err := unpack[proto.Message](a)
		if err != nil {
			t.Fatal(err)
		}
		if got == nil || !proto.Equal(got, want) {
			t.Fatalf("%s: offered %v, want the answer's object %v", what, got, want)
		}
		return want
	}
	objects := []proto.Message{
		&corev1.Pod{Metadata: &metav1.ObjectMeta{GenerateName: "web-", Namespace: "default", Labels: map[string]string{"app": "web"}},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox", Ports: []*corev1.ContainerPort{{ContainerPort: 80}}}}}},
		&corev1.Service{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: &corev1.ServiceSpec{Type: "NodePort", Selector: map[string]string{"app": "web"}, Ports: []*corev1.ServicePort{{Port: 80}}}},
		&appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: &appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
				Template: &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
					Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}}}},
	}
	for _, obj := range objects {
		k, _ := scheme.ByMessage(obj)
		req := pack(t, obj)
		req.Resource = k.Resource
		var slot scheme.Answer
		a, err := c.srv.Server.Create(scheme.WithAnswer(admin, &slot), req)
		if err != nil {
			t.Fatalf("create %s: %v", k.Kind, err)
		}
		stored := check("create "+k.Kind, &slot, a)

		scheme.Meta(stored).Labels = map[string]string{"changed": "yes"}
		up, err := scheme.Pack(stored)
		if err != nil {
			t.Fatal(err)
		}
		slot = scheme.Answer{}
		a, err = c.srv.Server.Update(scheme.WithAnswer(admin, &slot), &apiv1.UpdateRequest{Resource: k.Resource, Object: up})
		if err != nil {
			t.Fatalf("update %s: %v", k.Kind, err)
		}
		check("update "+k.Kind, &slot, a)

	}
	var slot scheme.Answer
	req := pack(t, &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "dry", Namespace: "default"}})
	req.Resource, req.DryRun = "configmaps", true
	a, err := c.srv.Server.Create(scheme.WithAnswer(admin, &slot), req)
	if err != nil {
		t.Fatal(err)
	}
	if o := slot.Object(a); o != nil {
		t.Errorf("a dry run offered %v", o)
	}
}
