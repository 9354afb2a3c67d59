package scheme_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/testutil"
)

func TestAllKinds(t *testing.T) {
	want := map[string]struct {
		apiVersion string
		resource   string
		namespaced bool
	}{
		"Namespace":             {"v1", "namespaces", false},
		"Node":                  {"v1", "nodes", false},
		"Pod":                   {"v1", "pods", true},
		"Service":               {"v1", "services", true},
		"Endpoints":             {"v1", "endpoints", true},
		"ConfigMap":             {"v1", "configmaps", true},
		"Secret":                {"v1", "secrets", true},
		"ServiceAccount":        {"v1", "serviceaccounts", true},
		"Event":                 {"v1", "events", true},
		"ResourceQuota":         {"v1", "resourcequotas", true},
		"LimitRange":            {"v1", "limitranges", true},
		"ReplicationController": {"v1", "replicationcontrollers", true},
		"ReplicaSet":            {"apps/v1", "replicasets", true},
		"Deployment":            {"apps/v1", "deployments", true},
		"DaemonSet":             {"apps/v1", "daemonsets", true},
		"ControllerRevision":    {"apps/v1", "controllerrevisions", true},
		"Job":                   {"batch/v1", "jobs", true},
		"CronJob":               {"batch/v1", "cronjobs", true},
		"Lease":                 {"coordination.k8s.io/v1", "leases", true},
		"Role":                  {"rbac.authorization.k8s.io/v1", "roles", true},
		"ClusterRole":           {"rbac.authorization.k8s.io/v1", "clusterroles", false},
		"RoleBinding":           {"rbac.authorization.k8s.io/v1", "rolebindings", true},
		"ClusterRoleBinding":    {"rbac.authorization.k8s.io/v1", "clusterrolebindings", false},
		"PriorityClass":         {"scheduling.k8s.io/v1", "priorityclasses", false},
		"StatefulSet":           {"apps/v1", "statefulsets", true},

		"SubjectAccessReview":      {"authorization.k8s.io/v1", "subjectaccessreviews", false},
		"LocalSubjectAccessReview": {"authorization.k8s.io/v1", "localsubjectaccessreviews", true},
		"SelfSubjectAccessReview":  {"authorization.k8s.io/v1", "selfsubjectaccessreviews", false},
		"SelfSubjectRulesReview":   {"authorization.k8s.io/v1", "selfsubjectrulesreviews", false},
		"SelfSubjectReview":        {"authentication.k8s.io/v1", "selfsubjectreviews", false},
		"TokenRequest":             {"authentication.k8s.io/v1", "tokenrequests", true},

		"CertificateSigningRequest": {"certificates.k8s.io/v1", "certificatesigningrequests", false},

		"EndpointSlice": {"discovery.k8s.io/v1", "endpointslices", true},

		"PodDisruptionBudget": {"policy/v1", "poddisruptionbudgets", true},
		"Eviction":            {"policy/v1", "evictions", true},

		"PersistentVolume":      {"v1", "persistentvolumes", false},
		"PersistentVolumeClaim": {"v1", "persistentvolumeclaims", true},
		"StorageClass":          {"storage.k8s.io/v1", "storageclasses", false},
		"CSIDriver":             {"storage.k8s.io/v1", "csidrivers", false},
		"CSINode":               {"storage.k8s.io/v1", "csinodes", false},
		"VolumeAttachment":      {"storage.k8s.io/v1", "volumeattachments", false},

		"CustomResourceDefinition": {"apiextensions.k8s.io/v1", "customresourcedefinitions", false},

		"Ingress":       {"networking.k8s.io/v1", "ingresses", true},
		"IngressClass":  {"networking.k8s.io/v1", "ingressclasses", false},
		"NetworkPolicy": {"networking.k8s.io/v1", "networkpolicies", true},
		"RuntimeClass":  {"node.k8s.io/v1", "runtimeclasses", false},
		"PodTemplate":   {"v1", "podtemplates", true},

		"NodeMetrics": {"metrics.k8s.io/v1beta1", "nodes", false},
		"PodMetrics":  {"metrics.k8s.io/v1beta1", "pods", true},
	}
	if got := len(scheme.All()); got != len(want) {
		t.Fatalf("All() has %d kinds, want %d", got, len(want))
	}
	for i, k := range scheme.All() {
		if prev := scheme.All()[max(i-1, 0)]; i > 0 && (prev.Resource > k.Resource || prev.Resource == k.Resource && prev.Group >= k.Group) {
			t.Errorf("All() not sorted by resource and group at %d: %q >= %q", i, prev.QualifiedResource(), k.QualifiedResource())
		}
		w, ok := want[k.Kind]
		if !ok {
			t.Errorf("unexpected kind %q", k.Kind)
			continue
		}
		if k.APIVersion() != w.apiVersion || k.Resource != w.resource || k.Namespaced != w.namespaced {
			t.Errorf("%s: got %s %s namespaced=%v, want %s %s namespaced=%v", k.Kind,
				k.APIVersion(), k.Resource, k.Namespaced, w.apiVersion, w.resource, w.namespaced)
		}
		// Every kind's message has metadata as field 1, and scheme.Meta works on it.
		m := k.New()
		md := m.ProtoReflect().Descriptor().Fields().ByNumber(1)
		if md == nil || md.Name() != "metadata" {
			t.Errorf("%s: field 1 is not metadata", k.Kind)
		}
		scheme.Meta(m).Name = "x"
		if _, ok := m.(scheme.Object); !ok {
			t.Errorf("%s: message does not implement Object", k.Kind)
		}
		if got, _ := scheme.ByMessage(m); got != k {
			t.Errorf("%s: ByMessage returned %v", k.Kind, got)
		}
		// No apiVersion/kind fields: the scheme supplies them.
		for _, n := range []string{"api_version", "kind"} {
			if m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(n)) != nil {
				t.Errorf("%s: message has a %s field", k.Kind, n)
			}
		}
	}
}

func TestByResource(t *testing.T) {
	cases := []struct {
		name string
		kind string
	}{
		{"pods", "Pod"}, {"pod", "Pod"}, {"po", "Pod"}, {"Pod", "Pod"}, {"PODS", "Pod"},
		{"svc", "Service"}, {"services", "Service"},
		{"ns", "Namespace"}, {"namespace", "Namespace"},
		{"no", "Node"}, {"nodes", "Node"},
		{"cm", "ConfigMap"}, {"configmap", "ConfigMap"},
		{"ep", "Endpoints"}, {"endpoints", "Endpoints"},
		{"ev", "Event"}, {"events", "Event"},
		{"rs", "ReplicaSet"}, {"replicaset", "ReplicaSet"},
		{"deploy", "Deployment"}, {"deployments", "Deployment"}, {"deployment", "Deployment"},
		{"pc", "PriorityClass"}, {"priorityclasses", "PriorityClass"},
		{"lease", "Lease"}, {"leases", "Lease"},
		{"secret", "Secret"}, {"secrets", "Secret"},
		{"job", "Job"}, {"jobs", "Job"}, {"cj", "CronJob"}, {"cronjobs", "CronJob"},
		{"pv", "PersistentVolume"}, {"pvc", "PersistentVolumeClaim"}, {"sc", "StorageClass"}, {"storageclasses", "StorageClass"},
		// A name two groups share is the core group's; the other is named
		// with its group.
		{"pods.metrics.k8s.io", "PodMetrics"}, {"nodes.metrics.k8s.io", "NodeMetrics"}, {"podmetrics", "PodMetrics"},
	}
	for _, c := range cases {
		k, ok := scheme.ByResource(c.name)
		if !ok || k.Kind != c.kind {
			t.Errorf("ByResource(%q) = %v, %v; want %s", c.name, k, ok, c.kind)
		}
	}
	for _, bad := range []string{"", "widgets", "d", "p"} {
		if k, ok := scheme.ByResource(bad); ok {
			t.Errorf("ByResource(%q) = %s, want not found", bad, k.Kind)
		}
	}
}

func TestByGVK(t *testing.T) {
	cases := []struct {
		apiVersion, kind, resource string
		ok                         bool
	}{
		{"v1", "Pod", "pods", true},
		{"apps/v1", "Deployment", "deployments", true},
		{"apps/v1", "ReplicaSet", "replicasets", true},
		{"batch/v1", "Job", "jobs", true},
		{"coordination.k8s.io/v1", "Lease", "leases", true},
		{"scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", true},
		{"v1", "Deployment", "", false},
		{"apps/v1", "Pod", "", false},
		{"extensions/v1beta1", "Deployment", "", false},
		{"v1", "pod", "", false},
	}
	for _, c := range cases {
		k, ok := scheme.ByGVK(c.apiVersion, c.kind)
		if ok != c.ok || (ok && k.Resource != c.resource) {
			t.Errorf("ByGVK(%q, %q) = %v, %v; want %q, %v", c.apiVersion, c.kind, k, ok, c.resource, c.ok)
		}
	}
}

func TestByTypeURL(t *testing.T) {
	cases := []struct {
		url  string
		kind string
	}{
		{"type.googleapis.com/keel.core.v1.Pod", "Pod"},
		{"type.googleapis.com/keel.apps.v1.Deployment", "Deployment"},
		{"keel.batch.v1.Job", "Job"},
		{"type.googleapis.com/keel.coordination.v1.Lease", "Lease"},
		{"type.googleapis.com/keel.scheduling.v1.PriorityClass", "PriorityClass"},
	}
	for _, c := range cases {
		k, ok := scheme.ByTypeURL(c.url)
		if !ok || k.Kind != c.kind {
			t.Errorf("ByTypeURL(%q) = %v, %v; want %s", c.url, k, ok, c.kind)
		}
	}
	for _, bad := range []string{"", "type.googleapis.com/keel.core.v1.PodSpec", "type.googleapis.com/google.protobuf.Empty"} {
		if _, ok := scheme.ByTypeURL(bad); ok {
			t.Errorf("ByTypeURL(%q) found a kind", bad)
		}
	}
	k, _ := scheme.ByResource("pods")
	if got := k.TypeURL(); got != "type.googleapis.com/keel.core.v1.Pod" {
		t.Errorf("TypeURL = %q", got)
	}
}

func TestPackUnpack(t *testing.T) {
	replicas := int32(3)
	in := &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: &appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: &corev1.PodTemplateSpec{
				Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "nginx", Image: "nginx:1.25"}}},
			},
		},
	}
	a, err := scheme.Pack(in)
	if err != nil {
		t.Fatal(err)
	}
	if a.GetTypeUrl() != "type.googleapis.com/keel.apps.v1.Deployment" {
		t.Errorf("type URL %q", a.GetTypeUrl())
	}
	out, k, err := scheme.Unpack(a)
	if err != nil {
		t.Fatal(err)
	}
	if k.Kind != "Deployment" {
		t.Errorf("kind %q", k.Kind)
	}
	if !proto.Equal(in, out) {
		t.Errorf("round trip changed the object:\n in: %v\nout: %v", in, out)
	}

	if _, err := scheme.Pack(&corev1.PodSpec{}); err == nil {
		t.Error("Pack of a non-kind message succeeded")
	}
	if _, _, err := scheme.Unpack(nil); err == nil {
		t.Error("Unpack(nil) succeeded")
	}
	if _, _, err := scheme.Unpack(&anypb.Any{TypeUrl: "type.googleapis.com/keel.core.v1.Nope"}); err == nil {
		t.Error("Unpack of an unknown type succeeded")
	}
	if _, _, err := scheme.Unpack(&anypb.Any{TypeUrl: a.GetTypeUrl(), Value: []byte{0xff, 0xff}}); err == nil {
		t.Error("Unpack of garbage succeeded")
	}
}

func TestMetaFieldSetField(t *testing.T) {
	p := &corev1.Pod{}
	scheme.Meta(p).Name = "a"
	if p.GetMetadata().GetName() != "a" {
		t.Fatal("Meta did not write through")
	}
	if scheme.Field(p, "status") != nil {
		t.Error("Field of unset status is not nil")
	}
	if scheme.Field(&corev1.ConfigMap{}, "spec") != nil {
		t.Error("Field of a kind without spec is not nil")
	}
	src := &corev1.Pod{Status: &corev1.PodStatus{Phase: "Running"}}
	scheme.SetField(p, "status", src)
	if p.GetStatus().GetPhase() != "Running" {
		t.Error("SetField did not copy status")
	}
	scheme.SetField(p, "status", &corev1.Pod{})
	if p.GetStatus() != nil {
		t.Error("SetField did not clear status")
	}
}

// TestUnpackKnown: scheme.UnpackKnown drops unknown fields at every level (the
// object, its metadata, a container of its pod template, a list element in
// it), keeping every known field; scheme.Unpack keeps them.
func TestUnpackKnown(t *testing.T) {
	known := &appsv1.Deployment{
		Metadata: &metav1.ObjectMeta{Name: "web", Labels: map[string]string{"app": "web"}},
		Spec: &appsv1.DeploymentSpec{Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{
			Containers: []*corev1.Container{{Name: "c", Image: "nginx", Ports: []*corev1.ContainerPort{{ContainerPort: 80}}}},
		}}},
	}
	d := proto.Clone(known).(*appsv1.Deployment)
	c := d.Spec.Template.Spec.Containers[0]
	testutil.PlantUnknown(d, d.Metadata, c, c.Ports[0])
	b, err := proto.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	a := &anypb.Any{TypeUrl: "type.googleapis.com/keel.apps.v1.Deployment", Value: b}

	got, k, err := scheme.UnpackKnown(a)
	if err != nil || k.Kind != "Deployment" {
		t.Fatalf("UnpackKnown: %v, %v", k, err)
	}
	if p := testutil.UnknownFields(got); len(p) > 0 {
		t.Errorf("UnpackKnown kept unknown fields at %v", p)
	}
	if !proto.Equal(got, known) {
		t.Errorf("UnpackKnown = %v, want %v", got, known)
	}

	kept, _, err := scheme.Unpack(a)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", ".metadata", ".spec.template.spec.containers[0]", ".spec.template.spec.containers[0].ports[0]"}
	if p := testutil.UnknownFields(kept); fmt.Sprint(p) != fmt.Sprint(want) {
		t.Errorf("Unpack kept unknown fields at %q, want %q", p, want)
	}
}
