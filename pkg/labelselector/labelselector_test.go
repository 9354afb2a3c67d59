package labelselector

import (
	"testing"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func TestMatches(t *testing.T) {
	web := map[string]string{"app": "web", "tier": "fe"}
	cases := []struct {
		name string
		sel  *metav1.LabelSelector
		set  map[string]string
		want bool
	}{
		{"nil matches nothing", nil, web, false},
		{"empty matches everything", &metav1.LabelSelector{}, web, true},
		{"matchLabels", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, web, true},
		{"matchLabels miss", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, web, false},
		{"In", &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"fe", "be"}}}}, web, true},
		{"NotIn", &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "tier", Operator: "NotIn", Values: []string{"fe"}}}}, web, false},
		{"Exists", &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "Exists"}}}, web, true},
		{"DoesNotExist", &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "DoesNotExist"}}}, web, false},
		{"both ANDed", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "tier", Operator: "In", Values: []string{"be"}}}}, web, false},
		{"bad operator", &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "Near"}}}, web, false},
	}
	for _, c := range cases {
		if got := Matches(c.sel, c.set); got != c.want {
			t.Errorf("%s: Matches = %v, want %v", c.name, got, c.want)
		}
	}
	if _, err := Parse(&metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "a", Operator: "In"}}}); err == nil {
		t.Error("Parse of In without values succeeded")
	}
	if !IsEmpty(nil) || !IsEmpty(&metav1.LabelSelector{}) || IsEmpty(&metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}) {
		t.Error("IsEmpty wrong")
	}
}
