package scheme

import (
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
)

// kinds lists every kind the API serves. Adding a kind here (with its proto
// message) is all the scheme needs. Groups, resources and short names are
// Kubernetes' (as kubectl api-resources prints them).
func kinds() []*Kind {
	return []*Kind{
		// core ("v1")
		{Group: "", Version: "v1", Kind: "Namespace", Resource: "namespaces", ShortNames: []string{"ns"}, Namespaced: false, Message: (*corev1.Namespace)(nil)},
		{Group: "", Version: "v1", Kind: "Node", Resource: "nodes", ShortNames: []string{"no"}, Namespaced: false, Message: (*corev1.Node)(nil)},
		{Group: "", Version: "v1", Kind: "Pod", Resource: "pods", ShortNames: []string{"po"}, Namespaced: true, Message: (*corev1.Pod)(nil)},
		{Group: "", Version: "v1", Kind: "Service", Resource: "services", ShortNames: []string{"svc"}, Namespaced: true, Message: (*corev1.Service)(nil)},
		{Group: "", Version: "v1", Kind: "Endpoints", Resource: "endpoints", ShortNames: []string{"ep"}, Namespaced: true, Message: (*corev1.Endpoints)(nil)},
		{Group: "", Version: "v1", Kind: "ConfigMap", Resource: "configmaps", ShortNames: []string{"cm"}, Namespaced: true, Message: (*corev1.ConfigMap)(nil)},
		{Group: "", Version: "v1", Kind: "Secret", Resource: "secrets", Namespaced: true, Message: (*corev1.Secret)(nil)},
		{Group: "", Version: "v1", Kind: "Event", Resource: "events", ShortNames: []string{"ev"}, Namespaced: true, Message: (*corev1.Event)(nil)},
		// apps/v1
		{Group: "apps", Version: "v1", Kind: "ReplicaSet", Resource: "replicasets", ShortNames: []string{"rs"}, Namespaced: true, Message: (*appsv1.ReplicaSet)(nil)},
		{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments", ShortNames: []string{"deploy"}, Namespaced: true, Message: (*appsv1.Deployment)(nil)},
		// batch/v1
		{Group: "batch", Version: "v1", Kind: "Job", Resource: "jobs", Namespaced: true, Message: (*batchv1.Job)(nil)},
		// coordination.k8s.io/v1
		{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease", Resource: "leases", Namespaced: true, Message: (*coordinationv1.Lease)(nil)},
		// scheduling.k8s.io/v1
		{Group: "scheduling.k8s.io", Version: "v1", Kind: "PriorityClass", Resource: "priorityclasses", ShortNames: []string{"pc"}, Namespaced: false, Message: (*schedulingv1.PriorityClass)(nil)},
	}
}
