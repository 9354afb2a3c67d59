package admission

import (
	"context"
	"fmt"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
)

// DefaultIngressClass gives a new Ingress that sets no
// spec.ingressClassName, nor the deprecated kubernetes.io/ingress.class
// annotation, the default IngressClass: the one annotated
// ingressclass.kubernetes.io/is-default-class="true". With no default
// class the Ingress is left without one; with several, it is refused
// (Forbidden), as Kubernetes does.
type DefaultIngressClass struct{}

var _ Mutator = DefaultIngressClass{}

// Name implements Mutator.
func (DefaultIngressClass) Name() string { return "DefaultIngressClass" }

// Admit implements Mutator.
func (DefaultIngressClass) Admit(ctx context.Context, a *Attributes, o Objects) error {
	ing, ok := a.Object.(*networkingv1.Ingress)
	if a.Operation != Create || !ok || a.Subresource != "" || (ing.GetSpec() != nil && ing.GetSpec().IngressClassName != nil) {
		return nil
	}
	if _, ok := ing.GetMetadata().GetAnnotations()[api.IngressClassAnnotation]; ok {
		return nil
	}
	all, err := o.List(ctx, "ingressclasses")
	if err != nil {
		return err
	}
	classes := make([]*networkingv1.IngressClass, 0, len(all))
	for _, m := range all {
		classes = append(classes, m.(*networkingv1.IngressClass))
	}
	defaults := api.DefaultIngressClasses(classes)
	switch len(defaults) {
	case 0:
		return nil
	case 1:
		if ing.Spec == nil {
			ing.Spec = &networkingv1.IngressSpec{}
		}
		name := defaults[0].GetMetadata().GetName()
		ing.Spec.IngressClassName = &name
		return nil
	default:
		return apierrors.Forbidden("ingresses", ing.GetMetadata().GetName(),
			fmt.Sprintf("%d default IngressClasses were found, only 1 allowed", len(defaults)))
	}
}
