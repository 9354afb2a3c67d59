// Package taints matches node taints against pod tolerations, as the
// scheduler (NoSchedule, NoExecute) and the node lifecycle controller
// (NoExecute eviction) both need.
package taints

import (
	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// Tolerates reports whether toleration t tolerates taint.
func Tolerates(t *corev1.Toleration, taint *corev1.Taint) bool {
	if t.GetEffect() != "" && t.GetEffect() != taint.GetEffect() {
		return false
	}
	if t.GetKey() != "" && t.GetKey() != taint.GetKey() {
		return false
	}
	switch t.GetOperator() {
	case api.TolerationOpExists:
		return true
	case "", api.TolerationOpEqual:
		return t.GetValue() == taint.GetValue()
	}
	return false
}

// TaintTolerated reports whether any of tolerations tolerates taint.
func TaintTolerated(tolerations []*corev1.Toleration, taint *corev1.Taint) bool {
	for _, t := range tolerations {
		if Tolerates(t, taint) {
			return true
		}
	}
	return false
}

// FirstUntoleratedTaint returns the first of taints with an effect in
// effects that no toleration tolerates (nil if none).
func FirstUntoleratedTaint(taints []*corev1.Taint, tolerations []*corev1.Toleration, effects ...string) *corev1.Taint {
	for _, taint := range taints {
		match := false
		for _, e := range effects {
			if taint.GetEffect() == e {
				match = true
				break
			}
		}
		if match && !TaintTolerated(tolerations, taint) {
			return taint
		}
	}
	return nil
}
