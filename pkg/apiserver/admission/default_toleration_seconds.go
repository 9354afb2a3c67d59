package admission

import (
	"context"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// DefaultNotReadyTolerationSeconds is how long a pod stays on a node that
// is not ready, or unreachable, before the taint manager evicts it,
// unless the pod says otherwise (Kubernetes' 300 seconds).
const DefaultNotReadyTolerationSeconds int64 = 300

// DefaultTolerationSeconds gives every new pod NoExecute tolerations of
// node.kubernetes.io/not-ready and node.kubernetes.io/unreachable for
// DefaultNotReadyTolerationSeconds, each unless a toleration of the pod
// already covers that taint's NoExecute effect (same key or any key,
// NoExecute or any effect).
type DefaultTolerationSeconds struct{}

var _ Mutator = DefaultTolerationSeconds{}

// Name implements Mutator.
func (DefaultTolerationSeconds) Name() string { return "DefaultTolerationSeconds" }

// Admit implements Mutator.
func (DefaultTolerationSeconds) Admit(_ context.Context, a *Attributes, _ Objects) error {
	pod, ok := a.Object.(*corev1.Pod)
	if a.Operation != Create || !ok {
		return nil
	}
	if pod.Spec == nil {
		pod.Spec = &corev1.PodSpec{}
	}
	for _, key := range []string{api.TaintNodeNotReady, api.TaintNodeUnreachable} {
		if toleratesNoExecute(pod.Spec.Tolerations, key) {
			continue
		}
		secs := DefaultNotReadyTolerationSeconds
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, &corev1.Toleration{
			Key: key, Operator: "Exists", Effect: api.TaintEffectNoExecute, TolerationSeconds: &secs})
	}
	return nil
}

// toleratesNoExecute: one of ts names key (or no key) with effect
// NoExecute (or no effect).
func toleratesNoExecute(ts []*corev1.Toleration, key string) bool {
	for _, t := range ts {
		if (t.GetKey() == key || t.GetKey() == "") && (t.GetEffect() == api.TaintEffectNoExecute || t.GetEffect() == "") {
			return true
		}
	}
	return false
}
