package admission

import (
	"context"
	"keel.dev/keel/pkg/api"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

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
		pod.Spec.ServiceAccountName = api.DefaultServiceAccountName
	}
	if pod.Spec.ServiceAccount == "" {
		pod.Spec.ServiceAccount = pod.Spec.ServiceAccountName
	}
	return nil
}
