// Package labelselector converts Keel's structured label selector
// (keel.meta.v1.LabelSelector) to k8s.io/apimachinery's types, so selector
// parsing, matching and validation are apimachinery's, never re-implemented.
package labelselector

import (
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// ToK8s returns the apimachinery form of s (nil for nil). The result shares
// no memory with s.
func ToK8s(s *metav1.LabelSelector) *k8smetav1.LabelSelector {
	if s == nil {
		return nil
	}
	out := &k8smetav1.LabelSelector{}
	if len(s.GetMatchLabels()) > 0 {
		out.MatchLabels = make(map[string]string, len(s.GetMatchLabels()))
		for k, v := range s.GetMatchLabels() {
			out.MatchLabels[k] = v
		}
	}
	for _, r := range s.GetMatchExpressions() {
		out.MatchExpressions = append(out.MatchExpressions, k8smetav1.LabelSelectorRequirement{
			Key:      r.GetKey(),
			Operator: k8smetav1.LabelSelectorOperator(r.GetOperator()),
			Values:   append([]string(nil), r.GetValues()...),
		})
	}
	return out
}

// Parse converts s to a labels.Selector with Kubernetes' semantics: a nil
// selector matches nothing, an empty one matches everything. It fails on an
// unknown operator or invalid keys/values.
func Parse(s *metav1.LabelSelector) (labels.Selector, error) {
	return k8smetav1.LabelSelectorAsSelector(ToK8s(s))
}

// IsEmpty reports whether s has neither matchLabels nor matchExpressions
// (nil counts as empty).
func IsEmpty(s *metav1.LabelSelector) bool {
	return len(s.GetMatchLabels()) == 0 && len(s.GetMatchExpressions()) == 0
}

// Matches reports whether the label set matches s. A selector that fails to
// parse matches nothing.
func Matches(s *metav1.LabelSelector, set map[string]string) bool {
	sel, err := Parse(s)
	if err != nil {
		return false
	}
	return sel.Matches(labels.Set(set))
}
