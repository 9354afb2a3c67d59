package api

import (
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
)

// GroupNetworking is the API group of Ingress, IngressClass and
// NetworkPolicy.
const GroupNetworking = "networking.k8s.io"

// Ingress and IngressClass names, as in Kubernetes.
const (
	// IsDefaultIngressClassAnnotation marks the IngressClass given to new
	// Ingresses that name none (the newest such class when several carry
	// it).
	IsDefaultIngressClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
	// IngressClassAnnotation is the deprecated way an Ingress named its
	// class; it must equal spec.ingressClassName when both are set.
	IngressClassAnnotation = "kubernetes.io/ingress.class"

	// Path types of an Ingress path.
	PathTypeExact                  = "Exact"
	PathTypePrefix                 = "Prefix"
	PathTypeImplementationSpecific = "ImplementationSpecific"

	// Scopes of an IngressClass's parameters.
	IngressClassParametersScopeCluster   = "Cluster"
	IngressClassParametersScopeNamespace = "Namespace"
)

// NetworkPolicy policy types.
const (
	PolicyTypeIngress = "Ingress"
	PolicyTypeEgress  = "Egress"
)

// IsDefaultIngressClass: the class is annotated as the default one.
func IsDefaultIngressClass(ic *networkingv1.IngressClass) bool {
	return ic.GetMetadata().GetAnnotations()[IsDefaultIngressClassAnnotation] == "true"
}

// DefaultIngressClasses are the classes annotated as the default, in
// the order given. The DefaultIngressClass admission gives new Ingresses
// that name no class the one default class, and refuses them when there
// are several (as Kubernetes does).
func DefaultIngressClasses(classes []*networkingv1.IngressClass) []*networkingv1.IngressClass {
	var defaults []*networkingv1.IngressClass
	for _, ic := range classes {
		if IsDefaultIngressClass(ic) {
			defaults = append(defaults, ic)
		}
	}
	return defaults
}
