package validation_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/validation"
)

// TestPodDisruptionBudget: each bad budget is refused naming its field;
// the good ones pass.
func TestPodDisruptionBudget(t *testing.T) {
	pdb := func(f func(s *policyv1.PodDisruptionBudgetSpec)) *policyv1.PodDisruptionBudget {
		s := &policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}
		f(s)
		return &policyv1.PodDisruptionBudget{Metadata: meta("web"), Spec: s}
	}
	for _, tc := range []struct {
		name string
		spec func(s *policyv1.PodDisruptionBudgetSpec)
		want string // the one field refused; "" when valid
	}{
		{"minAvailable", func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable = api.IntOrStringFromInt(2) }, ""},
		{"maxUnavailable percent", func(s *policyv1.PodDisruptionBudgetSpec) { s.MaxUnavailable = api.IntOrStringFromString("25%") }, ""},
		{"neither", func(s *policyv1.PodDisruptionBudgetSpec) {}, ""},
		{"AlwaysAllow", func(s *policyv1.PodDisruptionBudgetSpec) {
			s.MinAvailable = api.IntOrStringFromInt(1)
			s.UnhealthyPodEvictionPolicy = proto.String(api.AlwaysAllowPolicy)
		}, ""},
		{"both", func(s *policyv1.PodDisruptionBudgetSpec) {
			s.MinAvailable = api.IntOrStringFromInt(1)
			s.MaxUnavailable = api.IntOrStringFromInt(1)
		}, "spec"},
		{"negative", func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable = api.IntOrStringFromInt(-1) }, "spec.minAvailable"},
		{"over 100%", func(s *policyv1.PodDisruptionBudgetSpec) { s.MaxUnavailable = api.IntOrStringFromString("150%") }, "spec.maxUnavailable"},
		{"not a percent", func(s *policyv1.PodDisruptionBudgetSpec) { s.MinAvailable = api.IntOrStringFromString("half") }, "spec.minAvailable"},
		{"bad policy", func(s *policyv1.PodDisruptionBudgetSpec) { s.UnhealthyPodEvictionPolicy = proto.String("Sometimes") }, "spec.unhealthyPodEvictionPolicy"},
		{"bad selector", func(s *policyv1.PodDisruptionBudgetSpec) {
			s.Selector.MatchExpressions = []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}
		}, "spec.selector.matchExpressions[0].operator"},
	} {
		errs := validation.PodDisruptionBudget(pdb(tc.spec))
		switch {
		case tc.want == "" && len(errs) > 0:
			t.Errorf("%s: %v", tc.name, errs)
		case tc.want != "" && (len(errs) != 1 || errs[0].Field != tc.want):
			t.Errorf("%s: errors %v, want one at %s", tc.name, errs, tc.want)
		}
	}
	errs := validation.PodDisruptionBudget(pdb(func(s *policyv1.PodDisruptionBudgetSpec) {
		s.MinAvailable, s.MaxUnavailable = api.IntOrStringFromInt(1), api.IntOrStringFromInt(1)
	}))
	if len(errs) != 1 || errs[0].Error() != "spec: Invalid value: minAvailable and maxUnavailable cannot be both set" {
		t.Errorf("both set: %v", errs)
	}
}
