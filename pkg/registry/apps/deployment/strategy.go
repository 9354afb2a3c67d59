// Package deployment is the strategy of the Deployment kind (apps/v1).
package deployment

import (
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Deployment kind's strategy.
var Strategy = &registry.Kind[*appsv1.Deployment]{
	Identity:           scheme.Kind{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", ShortNames: []string{"deploy"}, Namespaced: true},
	GenerationTracked:  true,
	DefaultFunc:        defaults.Deployment,
	ValidateFunc:       validation.Deployment,
	ValidateUpdateFunc: validation.DeploymentUpdate,
	ValidateStatusFunc: validation.DeploymentStatus,
	TableColumns:       printers.DeploymentColumns,
	RowFunc:            printers.DeploymentRow,
	RelatedFunc:        related,
	DescribeFunc:       printers.DescribeDeployment,
	CategoryNames:      []string{"all"},
	ScaleReplicas:      func(d *appsv1.Deployment) *int32 { return d.GetSpec().Replicas },
	SetReplicas: func(d *appsv1.Deployment, n int32) {
		if d.Spec == nil {
			d.Spec = &appsv1.DeploymentSpec{}
		}
		d.Spec.Replicas = &n
	},
	Watchers: registry.Watchers{GarbageCollected: true},
	ExposeFunc: func(d *appsv1.Deployment) *registry.Exposure {
		return registry.PodTemplateExposure(d.GetSpec().GetSelector(), d.GetSpec().GetTemplate().GetSpec())
	},
}

// related: a Deployment's description shows the ReplicaSets it controls,
// found among its namespace's.
func related(d *appsv1.Deployment) []registry.Query {
	return []registry.Query{{Key: printers.RelatedReplicaSets, Resource: "replicasets", Namespace: d.GetMetadata().GetNamespace()}}
}
