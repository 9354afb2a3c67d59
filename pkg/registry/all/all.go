// Package all registers every kind Keel serves, one line per kind. A
// program (or test) that looks kinds up — through pkg/scheme or
// pkg/registry — imports it, usually for its side effect:
//
//	import _ "keel.dev/keel/pkg/registry/all"
//
// The order is kubectl's for the "all" category: pods,
// replicationcontrollers, services, daemonsets, deployments, replicasets,
// statefulsets, cronjobs, jobs.
package all

import (
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/registry/apiextensions/customresourcedefinition"
	"keel.dev/keel/pkg/registry/apps/controllerrevision"
	"keel.dev/keel/pkg/registry/apps/daemonset"
	"keel.dev/keel/pkg/registry/apps/deployment"
	"keel.dev/keel/pkg/registry/apps/replicaset"
	"keel.dev/keel/pkg/registry/apps/statefulset"
	"keel.dev/keel/pkg/registry/authentication/selfsubjectreview"
	"keel.dev/keel/pkg/registry/authentication/tokenrequest"
	"keel.dev/keel/pkg/registry/authorization/localsubjectaccessreview"
	"keel.dev/keel/pkg/registry/authorization/selfsubjectaccessreview"
	"keel.dev/keel/pkg/registry/authorization/selfsubjectrulesreview"
	"keel.dev/keel/pkg/registry/authorization/subjectaccessreview"
	"keel.dev/keel/pkg/registry/batch/cronjob"
	"keel.dev/keel/pkg/registry/batch/job"
	"keel.dev/keel/pkg/registry/certificates/certificatesigningrequest"
	"keel.dev/keel/pkg/registry/coordination/lease"
	"keel.dev/keel/pkg/registry/core/configmap"
	"keel.dev/keel/pkg/registry/core/endpoints"
	"keel.dev/keel/pkg/registry/core/event"
	"keel.dev/keel/pkg/registry/core/limitrange"
	"keel.dev/keel/pkg/registry/core/namespace"
	"keel.dev/keel/pkg/registry/core/node"
	"keel.dev/keel/pkg/registry/core/pod"
	"keel.dev/keel/pkg/registry/core/podtemplate"
	"keel.dev/keel/pkg/registry/core/replicationcontroller"
	"keel.dev/keel/pkg/registry/core/resourcequota"
	"keel.dev/keel/pkg/registry/core/secret"
	"keel.dev/keel/pkg/registry/core/service"
	"keel.dev/keel/pkg/registry/core/serviceaccount"
	"keel.dev/keel/pkg/registry/discovery/endpointslice"
	"keel.dev/keel/pkg/registry/policy/eviction"
	"keel.dev/keel/pkg/registry/policy/poddisruptionbudget"
	"keel.dev/keel/pkg/registry/rbac/clusterrole"
	"keel.dev/keel/pkg/registry/rbac/clusterrolebinding"
	"keel.dev/keel/pkg/registry/rbac/role"
	"keel.dev/keel/pkg/registry/rbac/rolebinding"
	"keel.dev/keel/pkg/registry/scheduling/priorityclass"

	"keel.dev/keel/pkg/registry/core/persistentvolume"
	"keel.dev/keel/pkg/registry/core/persistentvolumeclaim"
	"keel.dev/keel/pkg/registry/storage/csidriver"
	"keel.dev/keel/pkg/registry/storage/csinode"
	"keel.dev/keel/pkg/registry/storage/storageclass"
	"keel.dev/keel/pkg/registry/storage/volumeattachment"

	"keel.dev/keel/pkg/registry/networking/ingress"
	"keel.dev/keel/pkg/registry/networking/ingressclass"
	"keel.dev/keel/pkg/registry/networking/networkpolicy"
	"keel.dev/keel/pkg/registry/node/runtimeclass"

	"keel.dev/keel/pkg/registry/metrics/nodemetrics"
	"keel.dev/keel/pkg/registry/metrics/podmetrics"
)

func init() {
	registry.Register(pod.Strategy)
	registry.Register(replicationcontroller.Strategy)
	registry.Register(service.Strategy)
	registry.Register(daemonset.Strategy)
	registry.Register(deployment.Strategy)
	registry.Register(replicaset.Strategy)
	registry.Register(statefulset.Strategy)
	registry.Register(cronjob.Strategy)
	registry.Register(job.Strategy)
	registry.Register(namespace.Strategy)
	registry.Register(node.Strategy)
	registry.Register(endpoints.Strategy)
	registry.Register(configmap.Strategy)
	registry.Register(secret.Strategy)
	registry.Register(serviceaccount.Strategy)
	registry.Register(event.Strategy)
	registry.Register(lease.Strategy)
	registry.Register(priorityclass.Strategy)
	registry.Register(role.Strategy)
	registry.Register(clusterrole.Strategy)
	registry.Register(rolebinding.Strategy)
	registry.Register(clusterrolebinding.Strategy)
	registry.Register(selfsubjectaccessreview.Strategy)
	registry.Register(selfsubjectrulesreview.Strategy)
	registry.Register(subjectaccessreview.Strategy)
	registry.Register(localsubjectaccessreview.Strategy)
	registry.Register(selfsubjectreview.Strategy)
	registry.Register(tokenrequest.Strategy)
	registry.Register(certificatesigningrequest.Strategy)
	registry.Register(controllerrevision.Strategy)
	registry.Register(endpointslice.Strategy)
	registry.Register(resourcequota.Strategy)
	registry.Register(limitrange.Strategy)
	registry.Register(poddisruptionbudget.Strategy)
	registry.Register(eviction.Strategy)

	registry.Register(persistentvolume.Strategy)
	registry.Register(persistentvolumeclaim.Strategy)
	registry.Register(storageclass.Strategy)
	registry.Register(csidriver.Strategy)
	registry.Register(csinode.Strategy)
	registry.Register(volumeattachment.Strategy)
	registry.Register(customresourcedefinition.Strategy)

	registry.Register(ingress.Strategy)
	registry.Register(ingressclass.Strategy)
	registry.Register(networkpolicy.Strategy)
	registry.Register(runtimeclass.Strategy)
	registry.Register(podtemplate.Strategy)

	registry.Register(nodemetrics.Strategy)
	registry.Register(podmetrics.Strategy)
}
