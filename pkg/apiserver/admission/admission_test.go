package admission_test

import (
	"context"
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
		err := admission.NamespaceLifecycle{}.Validate(context.Background(), &c.a, cluster)
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
	for _, c := range []struct {
		name     string
		spec     *corev1.PodSpec
		op       admission.Operation
		wantName string
	}{
		{"none named", &corev1.PodSpec{}, admission.Create, "default"},
		{"no spec", nil, admission.Create, "default"},
		{"named", &corev1.PodSpec{ServiceAccountName: "builder"}, admission.Create, "builder"},
		{"deprecated alias", &corev1.PodSpec{ServiceAccount: "builder"}, admission.Create, "builder"},
		{"update left alone", &corev1.PodSpec{}, admission.Update, ""},
	} {
		pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p"}, Spec: c.spec}
		a := &admission.Attributes{Operation: c.op, Kind: kind(t, "pods"), Namespace: "team", Name: "p", Object: pod}
		if err := (admission.ServiceAccount{}).Admit(context.Background(), a, objects{}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := pod.GetSpec().GetServiceAccountName(); got != c.wantName {
			t.Errorf("%s: serviceAccountName %q, want %q", c.name, got, c.wantName)
		}
		if c.wantName != "" && pod.GetSpec().GetServiceAccount() != c.wantName {
			t.Errorf("%s: serviceAccount %q, want the alias set too", c.name, pod.GetSpec().GetServiceAccount())
		}
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
	if got := strings.Join(admission.Default().Names(), ","); got != "ServiceAccount,Priority,DefaultTolerationSeconds,NamespaceLifecycle,NodeRestriction,CertificateSubjectRestriction" {
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
