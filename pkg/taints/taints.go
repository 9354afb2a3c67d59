// Package taints matches node taints against pod tolerations, as the
// scheduler (NoSchedule, NoExecute) and the node lifecycle controller
// (NoExecute eviction) both need.
package taints

import (
	"google.golang.org/protobuf/proto"

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

// MergeTolerations merges extra into tolerations, as the RuntimeClass
// admission merges a class's tolerations into a pod's: a toleration that
// another one covers (tolerates every taint it does, for at least as
// long) is left out, so of two the broader one stays; of equal ones the
// first. The result is a new slice; the tolerations themselves are
// shared.
func MergeTolerations(tolerations, extra []*corev1.Toleration) []*corev1.Toleration {
	all := append(append([]*corev1.Toleration(nil), tolerations...), extra...)
	var out []*corev1.Toleration
next:
	for i, t := range all {
		for _, kept := range out {
			if covers(kept, t) {
				continue next
			}
		}
		for _, later := range all[i+1:] {
			if !proto.Equal(later, t) && covers(later, t) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

// covers: every taint b tolerates, a tolerates, at least as long.
func covers(a, b *corev1.Toleration) bool {
	if a.GetEffect() != "" && a.GetEffect() != b.GetEffect() {
		return false
	}
	if a.GetEffect() == api.TaintEffectNoExecute || a.GetEffect() == "" && b.GetEffect() == api.TaintEffectNoExecute {
		if a.TolerationSeconds != nil && (b.TolerationSeconds == nil || a.GetTolerationSeconds() < b.GetTolerationSeconds()) {
			return false
		}
	}
	exists := func(t *corev1.Toleration) bool { return t.GetOperator() == api.TolerationOpExists }
	switch {
	case exists(a) && a.GetKey() == "":
		return true
	case exists(a):
		return a.GetKey() == b.GetKey()
	default:
		return !exists(b) && a.GetKey() == b.GetKey() && a.GetValue() == b.GetValue()
	}
}
