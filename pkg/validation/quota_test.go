package validation

import (
	"strings"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func qty(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }

func TestLimitRange(t *testing.T) {
	for _, tc := range []struct {
		name string
		item *corev1.LimitRangeItem
		want []string // substrings of the errors, in order; none for valid
	}{
		{"valid", &corev1.LimitRangeItem{Type: "Container", Min: map[string]*metav1.Quantity{"cpu": qty("100m")},
			Max: map[string]*metav1.Quantity{"cpu": qty("1")}, Default: map[string]*metav1.Quantity{"cpu": qty("500m")},
			DefaultRequest: map[string]*metav1.Quantity{"cpu": qty("200m")}, MaxLimitRequestRatio: map[string]*metav1.Quantity{"cpu": qty("4")}}, nil},
		{"min above max", &corev1.LimitRangeItem{Type: "Container", Min: map[string]*metav1.Quantity{"cpu": qty("2")}, Max: map[string]*metav1.Quantity{"cpu": qty("1")}},
			[]string{"spec.limits[0].min[cpu]: Invalid value: \"2\": min value 2 is greater than max value 1"}},
		{"default above max", &corev1.LimitRangeItem{Type: "Container", Max: map[string]*metav1.Quantity{"memory": qty("1Gi")}, Default: map[string]*metav1.Quantity{"memory": qty("2Gi")}},
			[]string{"spec.limits[0].default[memory]", "default value 2Gi is greater than max value 1Gi"}},
		{"request above limit", &corev1.LimitRangeItem{Type: "Container", Default: map[string]*metav1.Quantity{"cpu": qty("1")}, DefaultRequest: map[string]*metav1.Quantity{"cpu": qty("2")}},
			[]string{"spec.limits[0].defaultRequest[cpu]", "default request value 2 is greater than default limit value 1"}},
		{"ratio below one", &corev1.LimitRangeItem{Type: "Container", MaxLimitRequestRatio: map[string]*metav1.Quantity{"cpu": qty("500m")}},
			[]string{"spec.limits[0].maxLimitRequestRatio[cpu]", "ratio 500m is less than 1"}},
		{"pod defaults", &corev1.LimitRangeItem{Type: "Pod", Default: map[string]*metav1.Quantity{"cpu": qty("1")}},
			[]string{"spec.limits[0].default: Forbidden: may not be specified when `type` is 'Pod'"}},
		{"bad type", &corev1.LimitRangeItem{Type: "Node"}, []string{"spec.limits[0].type: Unsupported value: \"Node\""}},
		{"bad quantity", &corev1.LimitRangeItem{Type: "Container", Max: map[string]*metav1.Quantity{"cpu": qty("lots")}}, []string{"spec.limits[0].max[cpu]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := LimitRange(&corev1.LimitRange{Spec: &corev1.LimitRangeSpec{Limits: []*corev1.LimitRangeItem{tc.item}}})
			if len(errs) != min(len(tc.want), 1) {
				t.Fatalf("errors %v, want %q", errs, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0].Error(), w) {
					t.Errorf("error %q, want it to contain %q", errs[0].Error(), w)
				}
			}
		})
	}
}

func TestResourceQuota(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec *corev1.ResourceQuotaSpec
		want string // substring of the one error; "" for valid
	}{
		{"valid", &corev1.ResourceQuotaSpec{Hard: map[string]*metav1.Quantity{"pods": qty("10"), "requests.cpu": qty("2"), "count/deployments.apps": qty("3")}}, ""},
		{"scoped", &corev1.ResourceQuotaSpec{Hard: map[string]*metav1.Quantity{"pods": qty("1")}, Scopes: []string{"BestEffort"},
			ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []*corev1.ScopedResourceSelectorRequirement{{ScopeName: "PriorityClass", Operator: "In", Values: []string{"high"}}}}}, ""},
		{"negative", &corev1.ResourceQuotaSpec{Hard: map[string]*metav1.Quantity{"pods": qty("-1")}}, "spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0"},
		{"unknown resource", &corev1.ResourceQuotaSpec{Hard: map[string]*metav1.Quantity{"widgets": qty("1")}}, "spec.hard[widgets]: Invalid value: \"widgets\": must be a standard resource for quota"},
		{"unknown scope", &corev1.ResourceQuotaSpec{Scopes: []string{"Sometimes"}}, "spec.scopes[0]: Unsupported value: \"Sometimes\""},
		{"conflicting scopes", &corev1.ResourceQuotaSpec{Scopes: []string{"Terminating", "NotTerminating"}}, "conflicting scopes: Terminating and NotTerminating"},
		{"scope on objects", &corev1.ResourceQuotaSpec{Hard: map[string]*metav1.Quantity{"secrets": qty("1")}, Scopes: []string{"BestEffort"}}, "spec.hard[secrets]: Invalid value: \"secrets\": unsupported scope applied to resource"},
		{"selector without values", &corev1.ResourceQuotaSpec{ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []*corev1.ScopedResourceSelectorRequirement{{ScopeName: "PriorityClass", Operator: "In"}}}},
			"spec.scopeSelector.matchExpressions[0].values: Required value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := ResourceQuota(&corev1.ResourceQuota{Spec: tc.spec})
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Fatalf("errors %v, want none", errs)
			case tc.want != "" && (len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want)):
				t.Fatalf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}
}
