package namespace_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller/namespace"
	"keel.dev/keel/pkg/scheme"
)

func TestDecide(t *testing.T) {
	podKind, ok := scheme.ByResource("pods")
	if !ok {
		t.Fatal("pods not registered")
	}
	ns := func(deleting bool, finalizers ...string) *corev1.Namespace {
		n := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "doomed"}, Spec: &corev1.NamespaceSpec{Finalizers: finalizers}}
		if deleting {
			n.Metadata.DeletionTimestamp = timestamppb.Now()
		}
		return n
	}
	obj := func(name string, deleting bool) namespace.Object {
		m := &metav1.ObjectMeta{Name: name, Namespace: "doomed", Uid: "uid-" + name}
		if deleting {
			m.DeletionTimestamp = timestamppb.Now()
		}
		return namespace.Object{Kind: podKind, Meta: m}
	}
	cases := []struct {
		name    string
		ns      *corev1.Namespace
		content []namespace.Object
		want    string
	}{
		{name: "an active namespace is left alone", ns: ns(false, api.NamespaceFinalizer),
			content: []namespace.Object{obj("p", false)}, want: "delete [] recheck false finalize false"},
		{name: "a namespace without the finalizer is left alone", ns: ns(true, "example.com/other"),
			content: []namespace.Object{obj("p", false)}, want: "delete [] recheck false finalize false"},
		{name: "content is deleted, then looked at again", ns: ns(true, api.NamespaceFinalizer),
			content: []namespace.Object{obj("a", false), obj("b", false)}, want: "delete [a b] recheck true finalize false"},
		{name: "content already going is waited for, not deleted again", ns: ns(true, api.NamespaceFinalizer),
			content: []namespace.Object{obj("a", true), obj("b", false)}, want: "delete [b] recheck true finalize false"},
		{name: "only content already going: wait", ns: ns(true, api.NamespaceFinalizer),
			content: []namespace.Object{obj("a", true)}, want: "delete [] recheck true finalize false"},
		{name: "empty: the finalizer goes, others stay", ns: ns(true, "example.com/other", api.NamespaceFinalizer),
			want: "delete [] recheck false finalize true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := namespace.Decide(tc.ns, tc.content)
			var deleted []string
			for _, o := range p.Delete {
				deleted = append(deleted, o.Meta.GetName())
			}
			got := fmt.Sprintf("delete %v recheck %v finalize %v", deleted, p.Recheck, p.Finalize != nil)
			if got != tc.want {
				t.Errorf("%s, want %s", got, tc.want)
			}
			if p.Finalize != nil {
				if f := p.Finalize.GetSpec().GetFinalizers(); len(f) != 1 || f[0] != "example.com/other" {
					t.Errorf("finalizers after: %v", f)
				}
				if len(tc.ns.GetSpec().GetFinalizers()) != 2 {
					t.Errorf("Decide modified its input")
				}
			}
		})
	}
}
