package admission

import (
	"context"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// DefaultServiceAccount is the service account a pod that names none runs
// as; the serviceaccount controller keeps one in every namespace.
const DefaultServiceAccount = "default"

// ServiceAccount makes a new pod that names no service account run as
// "default" (spec.serviceAccountName, and its deprecated alias
// spec.serviceAccount).
//
// Not yet done (issue 11): refusing a pod whose service account does not
// exist, and mounting its API token.
type ServiceAccount struct{}

var _ Mutator = ServiceAccount{}

// Name implements Mutator.
func (ServiceAccount) Name() string { return "ServiceAccount" }

// Admit implements Mutator.
func (ServiceAccount) Admit(_ context.Context, a *Attributes, _ Objects) error {
	pod, ok := a.Object.(*corev1.Pod)
	if a.Operation != Create || !ok {
		return nil
	}
	if pod.Spec == nil {
		pod.Spec = &corev1.PodSpec{}
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = pod.Spec.ServiceAccount
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccount
	}
	if pod.Spec.ServiceAccount == "" {
		pod.Spec.ServiceAccount = pod.Spec.ServiceAccountName
	}
	return nil
}
