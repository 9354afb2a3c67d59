// Package deployment is the strategy of the Deployment kind (apps/v1).
package deployment

import (
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Deployment kind's strategy.
var Strategy = registry.Replicated(&registry.Kind[*appsv1.Deployment]{
	Identity:           scheme.Kind{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", ShortNames: []string{"deploy"}, Namespaced: true},
	DefaultFunc:        defaults.Deployment,
	ValidateFunc:       validation.Deployment,
	ValidateUpdateFunc: validation.DeploymentUpdate,
	ValidateStatusFunc: validation.DeploymentStatus,
	TableColumns:       printers.DeploymentColumns,
	RowFunc:            printers.DeploymentRow,
	RelatedFunc:        related,
	DescribeFunc:       printers.DescribeDeployment,
}, func(d *appsv1.Deployment) *metav1.LabelSelector { return d.GetSpec().GetSelector() },
	func(d *appsv1.Deployment) *corev1.PodTemplateSpec { return d.GetSpec().GetTemplate() })

// related: a Deployment's description shows the ReplicaSets it controls,
// found among its namespace's.
func related(d *appsv1.Deployment) []registry.Query {
	return []registry.Query{{Key: printers.RelatedReplicaSets, Resource: "replicasets", Namespace: d.GetMetadata().GetNamespace()}}
}
