package admission_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
	"keel.dev/keel/pkg/apiserver/admission"
)

func ingressClass(name string, isDefault string) *networkingv1.IngressClass {
	m := &metav1.ObjectMeta{Name: name}
	if isDefault != "" {
		m.Annotations = map[string]string{"ingressclass.kubernetes.io/is-default-class": isDefault}
	}
	return &networkingv1.IngressClass{Metadata: m, Spec: &networkingv1.IngressClassSpec{Controller: "example.com/ingress"}}
}

// TestDefaultIngressClass: a new Ingress that names no class, by field or
// by the deprecated annotation, gets the default class; a class named is
// kept; no default, no class; several defaults refuse the create, as in
// Kubernetes; updates are untouched.
func TestDefaultIngressClass(t *testing.T) {
	for _, c := range []struct {
		name       string
		classes    []*networkingv1.IngressClass
		set        *string
		annotation string
		op         admission.Operation
		want       *string
		forbidden  bool
	}{
		{name: "one default", classes: []*networkingv1.IngressClass{ingressClass("other", ""), ingressClass("nginx", "true")}, op: admission.Create, want: proto.String("nginx")},
		{name: "no default", classes: []*networkingv1.IngressClass{ingressClass("nginx", ""), ingressClass("haproxy", "false")}, op: admission.Create},
		{name: "class named", classes: []*networkingv1.IngressClass{ingressClass("nginx", "true")}, set: proto.String("haproxy"), op: admission.Create, want: proto.String("haproxy")},
		{name: "annotation names a class", classes: []*networkingv1.IngressClass{ingressClass("nginx", "true")}, annotation: "haproxy", op: admission.Create},
		{name: "two defaults", classes: []*networkingv1.IngressClass{ingressClass("a", "true"), ingressClass("b", "true")}, op: admission.Create, forbidden: true},
		{name: "update untouched", classes: []*networkingv1.IngressClass{ingressClass("nginx", "true")}, op: admission.Update},
	} {
		t.Run(c.name, func(t *testing.T) {
			cluster := objects{}
			for _, ic := range c.classes {
				cluster["ingressclasses//"+ic.Metadata.Name] = ic
			}
			ing := &networkingv1.Ingress{Metadata: &metav1.ObjectMeta{Name: "web", Namespace: "team"},
				Spec: &networkingv1.IngressSpec{IngressClassName: c.set}}
			if c.annotation != "" {
				ing.Metadata.Annotations = map[string]string{"kubernetes.io/ingress.class": c.annotation}
			}
			a := &admission.Attributes{Operation: c.op, Kind: kind(t, "ingresses"), Namespace: "team", Name: "web", Object: ing}
			err := (admission.DefaultIngressClass{}).Admit(context.Background(), a, cluster)
			if c.forbidden {
				if !apierrors.IsForbidden(err) || err.Error() != `ingresses "web" is forbidden: 2 default IngressClasses were found, only 1 allowed` {
					t.Fatalf("got %v, want Forbidden: 2 default IngressClasses were found", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ing.GetSpec().IngressClassName; (got == nil) != (c.want == nil) || got != nil && *got != *c.want {
				t.Errorf("ingressClassName %v, want %v", got, c.want)
			}
		})
	}
}
