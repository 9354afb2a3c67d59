// Package pod is the strategy of the Pod kind (v1): graceful deletion of
// bound pods, field selectors for the scheduler and kubelets, and the
// checks, defaults and printing of pkg/validation, pkg/defaults and
// pkg/printers.
package pod

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the Pod kind's strategy.
var Strategy = &registry.Kind[*corev1.Pod]{
	Identity:           scheme.Kind{Version: "v1", Kind: "Pod", Resource: "pods", ShortNames: []string{"po"}, Namespaced: true},
	GenerationTracked:  true,
	DefaultFunc:        defaults.Pod,
	ValidateFunc:       validation.Pod,
	ValidateUpdateFunc: validation.PodUpdate,
	ValidateStatusFunc: validation.PodStatus,
	GracePeriodFunc:    GracePeriod,
	PrepareForCreateFunc: func(_ context.Context, p *corev1.Pod) {
		MarkSchedulingGated(p)
	},
	Fields: []string{"spec.nodeName", "spec.schedulerName", "spec.restartPolicy",
		"status.phase", "status.podIP", "status.nominatedNodeName"},
	TableColumns:  printers.PodColumns,
	RowFunc:       printers.PodRow,
	DescribeFunc:  printers.DescribePod,
	CategoryNames: []string{"all"},
	Watchers:      registry.Watchers{GarbageCollected: true},
	ExposeFunc: func(p *corev1.Pod) *registry.Exposure {
		return registry.PodTemplateExposure(&metav1.LabelSelector{MatchLabels: p.GetMetadata().GetLabels()}, p.GetSpec())
	},
}

// MarkSchedulingGated gives a pod created with scheduling gates the
// condition PodScheduled=False, reason SchedulingGated, as Kubernetes
// does (kubectl shows the reason as the pod's status).
func MarkSchedulingGated(p *corev1.Pod) {
	if len(p.GetSpec().GetSchedulingGates()) == 0 {
		return
	}
	if p.Status == nil {
		p.Status = &corev1.PodStatus{}
	}
	for _, c := range p.Status.Conditions {
		if c.GetType() == api.PodScheduled {
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, &corev1.PodCondition{Type: api.PodScheduled, Status: api.ConditionFalse,
		Reason: api.PodReasonSchedulingGated, Message: "Scheduling is blocked due to non-empty scheduling gates", LastTransitionTime: timestamppb.Now()})
}

// GracePeriod is how long deleting a pod waits for its kubelet to stop it:
// none for a pod bound to no node or already finished; else the caller's
// grace period, the pod's terminationGracePeriodSeconds, or 30 seconds.
func GracePeriod(pod *corev1.Pod, requested *int64) int64 {
	if pod.GetSpec().GetNodeName() == "" {
		return 0
	}
	if api.IsPodTerminal(pod) {
		return 0
	}
	if requested != nil {
		return *requested
	}
	if g := pod.GetSpec().TerminationGracePeriodSeconds; g != nil {
		return *g
	}
	return api.DefaultTerminationGracePeriodSeconds
}
