package admission_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/apiserver/admission"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/scheme"
)

// objects is a fake admission.Objects over a fixed set.
type objects map[string]proto.Message // "resource/namespace/name"

func (o objects) Get(_ context.Context, resource, namespace, name string) (proto.Message, error) {
	if m, ok := o[resource+"/"+namespace+"/"+name]; ok {
		return m, nil
	}
	return nil, apierrors.NotFound(resource, name)
}

func (o objects) List(_ context.Context, resource string) ([]proto.Message, error) {
	var out []proto.Message
	for k, m := range o {
		if strings.HasPrefix(k, resource+"/") {
			out = append(out, m)
		}
	}
	return out, nil
}

func kind(t *testing.T, resource string) *scheme.Kind {
	k, ok := scheme.ByResource(resource)
	if !ok {
		t.Fatalf("no kind %s", resource)
	}
	return k
}

func TestNamespaceLifecycle(t *testing.T) {
	cluster := objects{
		"namespaces//active": &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "active"}, Status: &corev1.NamespaceStatus{Phase: api.NamespaceActive}},
		"namespaces//going": &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "going", DeletionTimestamp: timestamppb.New(time.Unix(1, 0))},
			Status: &corev1.NamespaceStatus{Phase: api.NamespaceTerminating}},
	}
	for _, c := range []struct {
		name string
		a    admission.Attributes
		want string // "" to admit; else a part of the error
		code func(error) bool
	}{
		{"create in an active namespace", admission.Attributes{Operation: admission.Create, Kind: kind(t, "pods"), Namespace: "active", Name: "p"}, "", nil},
		{"create in a terminating namespace", admission.Attributes{Operation: admission.Create, Kind: kind(t, "pods"), Namespace: "going", Name: "p"},
			"unable to create new content in namespace going because it is being terminated", apierrors.IsForbidden},
		{"create in a missing namespace", admission.Attributes{Operation: admission.Create, Kind: kind(t, "configmaps"), Namespace: "nowhere", Name: "c"},
			"nowhere", apierrors.IsNotFound},
		{"update in a terminating namespace", admission.Attributes{Operation: admission.Update, Kind: kind(t, "pods"), Namespace: "going", Name: "p"}, "", nil},
		{"cluster-scoped create", admission.Attributes{Operation: admission.Create, Kind: kind(t, "nodes"), Name: "n"}, "", nil},
		{"delete an ordinary namespace", admission.Attributes{Operation: admission.Delete, Kind: kind(t, "namespaces"), Name: "active"}, "", nil},
		{"delete kube-system", admission.Attributes{Operation: admission.Delete, Kind: kind(t, "namespaces"), Name: "kube-system"},
			`namespaces "kube-system" is forbidden: this namespace may not be deleted`, apierrors.IsForbidden},
		{"delete default", admission.Attributes{Operation: admission.Delete, Kind: kind(t, "namespaces"), Name: "default"}, "may not be deleted", apierrors.IsForbidden},
		{"delete a pod called default", admission.Attributes{Operation: admission.Delete, Kind: kind(t, "pods"), Namespace: "active", Name: "default"}, "", nil},
	} {
		err := admission.NamespaceLifecycle{}.Admit(context.Background(), &c.a, cluster)
		if err == nil {
			err = admission.NamespaceLifecycle{}.Validate(context.Background(), &c.a, cluster)
		}
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !c.code(err)):
			t.Errorf("%s: got %v, want an error with %q of the right code", c.name, err, c.want)
		}
	}
}

func TestPriority(t *testing.T) {
	high := &schedulingv1.PriorityClass{Metadata: &metav1.ObjectMeta{Name: "high"}, Value: 1000, PreemptionPolicy: proto.String("Never")}
	def := &schedulingv1.PriorityClass{Metadata: &metav1.ObjectMeta{Name: "normal"}, Value: 10, GlobalDefault: true}
	withClass := func(name string, prio *int32) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Spec: &corev1.PodSpec{PriorityClassName: name, Priority: prio}}
	}
	for _, c := range []struct {
		name       string
		cluster    objects
		pod        *corev1.Pod
		priority   int32
		preemption string
		refused    string
	}{
		{"named class", objects{"priorityclasses//high": high}, withClass("high", nil), 1000, "Never", ""},
		{"global default", objects{"priorityclasses//high": high, "priorityclasses//normal": def}, withClass("", nil), 10, "", ""},
		{"no class, no default", objects{"priorityclasses//high": high}, withClass("", nil), 0, "", ""},
		{"missing class", objects{}, withClass("gold", nil), 0, "", "no PriorityClass with name gold was found"},
		{"priority that contradicts the class", objects{"priorityclasses//high": high}, withClass("high", proto.Int32(5)), 0, "",
			"the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000"},
	} {
		a := &admission.Attributes{Operation: admission.Create, Kind: kind(t, "pods"), Namespace: "default", Name: "p", Object: c.pod}
		err := admission.Priority{}.Admit(context.Background(), a, c.cluster)
		if c.refused != "" {
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), c.refused) {
				t.Errorf("%s: got %v, want Forbidden: %s", c.name, err, c.refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if c.pod.GetSpec().GetPriority() != c.priority || c.pod.GetSpec().GetPreemptionPolicy() != c.preemption {
			t.Errorf("%s: priority %d preemption %q, want %d %q", c.name, c.pod.GetSpec().GetPriority(), c.pod.GetSpec().GetPreemptionPolicy(), c.priority, c.preemption)
		}
	}
}

func TestServiceAccount(t *testing.T) {
	sa := func(name string, automount *bool) *corev1.ServiceAccount {
		return &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "team"}, AutomountServiceAccountToken: automount}
	}
	cluster := objects{
		"serviceaccounts/team/default": sa("default", nil),
		"serviceaccounts/team/builder": sa("builder", nil),
		"serviceaccounts/team/quiet":   sa("quiet", proto.Bool(false)),
	}
	mirror := &metav1.ObjectMeta{Name: "p", Annotations: map[string]string{admission.MirrorPodAnnotation: "x"}}
	for _, c := range []struct {
		name       string
		meta       *metav1.ObjectMeta
		spec       *corev1.PodSpec
		op         admission.Operation
		mountToken bool
		wantName   string
		wantToken  bool
		refused    string
	}{
		{"none named", nil, &corev1.PodSpec{}, admission.Create, false, "default", false, ""},
		{"no spec", nil, nil, admission.Create, false, "default", false, ""},
		{"named", nil, &corev1.PodSpec{ServiceAccountName: "builder"}, admission.Create, false, "builder", false, ""},
		{"deprecated alias", nil, &corev1.PodSpec{ServiceAccount: "builder"}, admission.Create, false, "builder", false, ""},
		{"update left alone", nil, &corev1.PodSpec{}, admission.Update, true, "", false, ""},
		{"missing service account", nil, &corev1.PodSpec{ServiceAccountName: "ghost"}, admission.Create, true, "", false,
			`pods "p" is forbidden: error looking up service account team/ghost: serviceaccount "ghost" not found`},
		{"mirror pod of a missing service account", mirror, &corev1.PodSpec{ServiceAccountName: "ghost"}, admission.Create, true, "ghost", false, ""},
		{"token", nil, &corev1.PodSpec{}, admission.Create, true, "default", true, ""},
		{"token refused by the pod", nil, &corev1.PodSpec{AutomountServiceAccountToken: proto.Bool(false)}, admission.Create, true, "default", false, ""},
		{"token refused by the service account", nil, &corev1.PodSpec{ServiceAccountName: "quiet"}, admission.Create, true, "quiet", false, ""},
		{"the pod wins over the service account", nil, &corev1.PodSpec{ServiceAccountName: "quiet", AutomountServiceAccountToken: proto.Bool(true)}, admission.Create, true, "quiet", true, ""},
	} {
		meta := c.meta
		if meta == nil {
			meta = &metav1.ObjectMeta{Name: "p"}
		}
		if c.spec != nil {
			c.spec.InitContainers = []*corev1.Container{{Name: "init"}}
			c.spec.Containers = []*corev1.Container{{Name: "a"}, {Name: "b"}}
		}
		pod := &corev1.Pod{Metadata: meta, Spec: c.spec}
		a := &admission.Attributes{Operation: c.op, Kind: kind(t, "pods"), Namespace: "team", Name: "p", Object: pod}
		err := admission.ServiceAccount{MountToken: c.mountToken}.Admit(context.Background(), a, cluster)
		if c.refused != "" {
			if !apierrors.IsForbidden(err) || err.Error() != c.refused {
				t.Errorf("%s: got %v, want Forbidden: %s", c.name, err, c.refused)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := pod.GetSpec().GetServiceAccountName(); got != c.wantName {
			t.Errorf("%s: serviceAccountName %q, want %q", c.name, got, c.wantName)
		}
		if c.wantName != "" && pod.GetSpec().GetServiceAccount() != c.wantName {
			t.Errorf("%s: serviceAccount %q, want the alias set too", c.name, pod.GetSpec().GetServiceAccount())
		}
		vols := pod.GetSpec().GetVolumes()
		if !c.wantToken {
			if len(vols) != 0 {
				t.Errorf("%s: volumes %v, want none", c.name, vols)
			}
			continue
		}
		checkTokenVolume(t, c.name, pod)
	}
}

// checkTokenVolume checks pod has exactly Kubernetes' kube-api-access
// volume, mounted read-only in every container.
func checkTokenVolume(t *testing.T, name string, pod *corev1.Pod) {
	t.Helper()
	vols := pod.GetSpec().GetVolumes()
	if len(vols) != 1 {
		t.Fatalf("%s: volumes %v, want one", name, vols)
	}
	v := vols[0]
	if !regexp.MustCompile(`^kube-api-access-[a-z0-9]{5}$`).MatchString(v.GetName()) {
		t.Errorf("%s: volume name %q", name, v.GetName())
	}
	want := &corev1.ProjectedVolumeSource{
		DefaultMode: proto.Int32(0o644),
		Sources: []*corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: proto.Int64(3607), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{Name: "kube-root-ca.crt", Items: []*corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardApi: &corev1.DownwardAPIProjection{Items: []*corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}
	if !proto.Equal(v.GetProjected(), want) {
		t.Errorf("%s: volume %v, want %v", name, v.GetProjected(), want)
	}
	for _, c := range append(pod.GetSpec().GetInitContainers(), pod.GetSpec().GetContainers()...) {
		want := &corev1.VolumeMount{Name: v.GetName(), ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}
		if len(c.GetVolumeMounts()) != 1 || !proto.Equal(c.GetVolumeMounts()[0], want) {
			t.Errorf("%s: container %s mounts %v, want %v", name, c.GetName(), c.GetVolumeMounts(), want)
		}
	}
}

// TestServiceAccountOwnMount: a container that mounts something at the
// token path keeps it, and gets no token; the others do.
func TestServiceAccountOwnMount(t *testing.T) {
	cluster := objects{"serviceaccounts/team/default": &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: "default", Namespace: "team"}}}
	own := &corev1.VolumeMount{Name: "mine", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Spec: &corev1.PodSpec{
		Volumes:    []*corev1.Volume{{Name: "mine", EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		Containers: []*corev1.Container{{Name: "a", VolumeMounts: []*corev1.VolumeMount{own}}, {Name: "b"}}}}
	a := &admission.Attributes{Operation: admission.Create, Kind: kind(t, "pods"), Namespace: "team", Name: "p", Object: pod}
	if err := (admission.ServiceAccount{MountToken: true}).Admit(context.Background(), a, cluster); err != nil {
		t.Fatal(err)
	}
	vols := pod.GetSpec().GetVolumes()
	if len(vols) != 2 || !strings.HasPrefix(vols[1].GetName(), "kube-api-access-") {
		t.Fatalf("volumes %v", vols)
	}
	if m := pod.Spec.Containers[0].GetVolumeMounts(); len(m) != 1 || m[0] != own {
		t.Errorf("container a mounts %v, want only its own", m)
	}
	if m := pod.Spec.Containers[1].GetVolumeMounts(); len(m) != 1 || m[0].GetName() != vols[1].GetName() || !m[0].GetReadOnly() {
		t.Errorf("container b mounts %v", m)
	}

	// Every container mounts its own: no token volume.
	pod.Spec.Containers = pod.Spec.Containers[:1]
	pod.Spec.Volumes = pod.Spec.Volumes[:1]
	if err := (admission.ServiceAccount{MountToken: true}).Admit(context.Background(), a, cluster); err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.Volumes) != 1 || len(pod.Spec.Containers[0].VolumeMounts) != 1 {
		t.Errorf("volumes %v, mounts %v: want them untouched", pod.Spec.Volumes, pod.Spec.Containers[0].VolumeMounts)
	}
}

// TestChainOrder: mutating plugins run in order before validating ones,
// and the first refusal stops the chain.
func TestChainOrder(t *testing.T) {
	var ran []string
	c := &admission.Chain{
		Mutating:   []admission.Mutator{recorder{"m1", &ran, nil}, recorder{"m2", &ran, nil}},
		Validating: []admission.Validator{recorder{"v1", &ran, apierrors.Forbidden("pods", "p", "no")}, recorder{"v2", &ran, nil}},
	}
	a := &admission.Attributes{Operation: admission.Create, Kind: kind(t, "pods")}
	if err := c.Admit(context.Background(), a, objects{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(context.Background(), a, objects{}); !apierrors.IsForbidden(err) {
		t.Fatalf("validate: %v", err)
	}
	if got := strings.Join(ran, ","); got != "m1,m2,v1" {
		t.Errorf("ran %s", got)
	}
	if got := strings.Join(admission.Default(true).Names(), ","); got != "NamespaceLifecycle,LimitRanger,ServiceAccount,Priority,DefaultTolerationSeconds,DefaultStorageClass,StorageObjectInUseProtection,RuntimeClass,DefaultIngressClass,NodeRestriction,CertificateSubjectRestriction" {
		t.Errorf("default chain %s", got)
	}
}

type recorder struct {
	name string
	ran  *[]string
	err  error
}

func (r recorder) Name() string { return r.name }
func (r recorder) Admit(context.Context, *admission.Attributes, admission.Objects) error {
	*r.ran = append(*r.ran, r.name)
	return r.err
}
func (r recorder) Validate(context.Context, *admission.Attributes, admission.Objects) error {
	*r.ran = append(*r.ran, r.name)
	return r.err
}
