package admission

import (
	"context"
	"fmt"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
)

// Priority resolves a new pod's spec.priorityClassName (or the global
// default class) into spec.priority and spec.preemptionPolicy; a pod
// naming a class that does not exist, or giving a priority that differs
// from its class's, is refused.
type Priority struct{}

var _ Mutator = Priority{}

// Name implements Mutator.
func (Priority) Name() string { return "Priority" }

// Admit implements Mutator.
func (Priority) Admit(ctx context.Context, a *Attributes, o Objects) error {
	pod, ok := a.Object.(*corev1.Pod)
	if a.Operation != Create || !ok || pod.GetSpec() == nil {
		return nil
	}
	spec := pod.GetSpec()
	class, err := priorityClass(ctx, spec.GetPriorityClassName(), o)
	if apierrors.IsNotFound(err) {
		return apierrors.Forbidden("pods", pod.GetMetadata().GetName(), fmt.Sprintf("no PriorityClass with name %s was found", spec.GetPriorityClassName()))
	}
	if err != nil {
		return err
	}
	if class == nil {
		if spec.Priority == nil {
			zero := int32(0)
			spec.Priority = &zero
		}
		return nil
	}
	if spec.Priority != nil && *spec.Priority != class.GetValue() {
		return apierrors.Forbidden("pods", pod.GetMetadata().GetName(),
			fmt.Sprintf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *spec.Priority, class.GetValue()))
	}
	v := class.GetValue()
	spec.Priority = &v
	if spec.PreemptionPolicy == nil && class.PreemptionPolicy != nil {
		p := class.GetPreemptionPolicy()
		spec.PreemptionPolicy = &p
	}
	return nil
}

// priorityClass is the class named (NotFound if missing), or with no name
// the global default class (nil if there is none).
func priorityClass(ctx context.Context, name string, o Objects) (*schedulingv1.PriorityClass, error) {
	if name != "" {
		m, err := o.Get(ctx, "priorityclasses", "", name)
		if err != nil {
			return nil, err
		}
		return m.(*schedulingv1.PriorityClass), nil
	}
	all, err := o.List(ctx, "priorityclasses")
	if err != nil {
		return nil, err
	}
	for _, m := range all {
		if pc := m.(*schedulingv1.PriorityClass); pc.GetGlobalDefault() {
			return pc, nil
		}
	}
	return nil, nil
}
