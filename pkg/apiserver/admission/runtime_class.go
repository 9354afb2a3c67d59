package admission

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	nodev1 "keel.dev/keel/pkg/apis/node/v1"
	"keel.dev/keel/pkg/taints"
)

// RuntimeClass applies a new pod's spec.runtimeClassName, as Kubernetes'
// RuntimeClass plugin: a pod naming a RuntimeClass that does not exist is
// refused; the class's overhead.podFixed becomes the pod's spec.overhead
// (a pod that sets a different overhead, or sets one with no class
// overhead, is refused); the class's scheduling.nodeSelector is merged
// into the pod's (a conflicting value is refused) and its tolerations
// added to the pod's. It mutates on create and validates the result;
// updates and subresources are left alone.
type RuntimeClass struct{}

var (
	_ Mutator   = RuntimeClass{}
	_ Validator = RuntimeClass{}
)

// Name implements Mutator and Validator.
func (RuntimeClass) Name() string { return "RuntimeClass" }

// Admit implements Mutator.
func (RuntimeClass) Admit(ctx context.Context, a *Attributes, o Objects) error {
	pod, rc, err := podRuntimeClass(ctx, a, o)
	if pod == nil || err != nil {
		return err
	}
	spec := pod.Spec
	if rc.GetOverhead() != nil {
		if spec.Overhead != nil && !sameResources(spec.GetOverhead(), rc.GetOverhead().GetPodFixed()) {
			return forbidPod(pod, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
		}
		spec.Overhead = cloneResources(rc.GetOverhead().GetPodFixed())
	}
	if s := rc.GetScheduling(); s != nil {
		for _, k := range slices.Sorted(maps.Keys(s.GetNodeSelector())) {
			v := s.GetNodeSelector()[k]
			if pv, ok := spec.GetNodeSelector()[k]; ok && pv != v {
				return forbidPod(pod, fmt.Sprintf("conflict: runtimeClass.scheduling.nodeSelector[%s] = %s; pod.spec.nodeSelector[%s] = %s", k, v, k, pv))
			}
			if spec.NodeSelector == nil {
				spec.NodeSelector = map[string]string{}
			}
			spec.NodeSelector[k] = v
		}
		spec.Tolerations = taints.MergeTolerations(spec.GetTolerations(), s.GetTolerations())
	}
	return nil
}

// Validate implements Validator: the pod's overhead is its class's.
func (RuntimeClass) Validate(ctx context.Context, a *Attributes, o Objects) error {
	pod, ok := a.Object.(*corev1.Pod)
	if a.Operation != Create || !ok || a.Subresource != "" {
		return nil
	}
	_, rc, err := podRuntimeClass(ctx, a, o)
	if err != nil {
		return err
	}
	switch {
	case rc.GetOverhead() != nil && !sameResources(pod.GetSpec().GetOverhead(), rc.GetOverhead().GetPodFixed()):
		return forbidPod(pod, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead")
	case rc.GetOverhead() == nil && pod.GetSpec().GetOverhead() != nil:
		return forbidPod(pod, "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead")
	}
	return nil
}

// podRuntimeClass returns the pod being created and the class it names
// (nil pod: nothing to do; nil class: the pod names none).
func podRuntimeClass(ctx context.Context, a *Attributes, o Objects) (*corev1.Pod, *nodev1.RuntimeClass, error) {
	pod, ok := a.Object.(*corev1.Pod)
	if a.Operation != Create || !ok || a.Subresource != "" || pod.GetSpec() == nil {
		return nil, nil, nil
	}
	name := pod.GetSpec().GetRuntimeClassName()
	if pod.GetSpec().RuntimeClassName == nil {
		return pod, nil, nil
	}
	m, err := o.Get(ctx, "runtimeclasses", "", name)
	if apierrors.IsNotFound(err) {
		return pod, nil, forbidPod(pod, fmt.Sprintf("pod rejected: RuntimeClass %q not found", name))
	}
	if err != nil {
		return pod, nil, err
	}
	return pod, m.(*nodev1.RuntimeClass), nil
}

func forbidPod(pod *corev1.Pod, why string) error {
	return apierrors.Forbidden("pods", pod.GetMetadata().GetName(), why)
}

// sameResources: the same resource names with equal quantities.
func sameResources(a, b map[string]*metav1.Quantity) bool {
	x, errA := api.ParseResourceList(a)
	y, errB := api.ParseResourceList(b)
	return errA == nil && errB == nil && maps.EqualFunc(x, y, func(p, q resource.Quantity) bool { return p.Cmp(q) == 0 })
}

func cloneResources(m map[string]*metav1.Quantity) map[string]*metav1.Quantity {
	out := make(map[string]*metav1.Quantity, len(m))
	for k, q := range m {
		out[k] = &metav1.Quantity{String_: q.GetString_()}
	}
	return out
}
