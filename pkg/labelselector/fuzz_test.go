package labelselector

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/labels"

	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// FuzzParse builds a selector from strings (one matchLabels entry, one
// requirement whose values are comma-separated) and checks it against a
// label set of two entries. Parse must not panic; Matches must agree with
// the parsed selector; and a selector that parses must print as a string
// that labels.Parse reads back to an equivalent selector, the way the
// apiserver receives it from a client (?labelSelector=).
func FuzzParse(f *testing.F) {
	f.Add("app", "web", "tier", "In", "fe,be", "tier", "fe")
	f.Add("", "", "app.kubernetes.io/name", "DoesNotExist", "", "app", "x")
	f.Add("k", "v", "k", "Exists", "", "k", "v")
	f.Fuzz(func(t *testing.T, matchKey, matchValue, exprKey, op, values, labelKey, labelValue string) {
		s := &metav1.LabelSelector{}
		if matchKey != "" {
			s.MatchLabels = map[string]string{matchKey: matchValue}
		}
		if exprKey != "" || op != "" {
			r := &metav1.LabelSelectorRequirement{Key: exprKey, Operator: op}
			if values != "" {
				r.Values = strings.Split(values, ",")
			}
			s.MatchExpressions = append(s.MatchExpressions, r)
		}
		checkSelector(t, s, labels.Set{matchKey: matchValue, labelKey: labelValue})
	})
}

// FuzzParseMessage decodes arbitrary bytes as a LabelSelector message, as
// stored objects carry it, and checks it as FuzzParse does.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []*metav1.LabelSelector{
		{MatchLabels: map[string]string{"app": "nginx"}},
		{MatchLabels: map[string]string{"app": "web"}, MatchExpressions: []*metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: "NotIn", Values: []string{"db", "cache"}},
			{Key: "example.com/canary", Operator: "Exists"},
		}},
	} {
		b, err := proto.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "app", "web")
	}
	f.Fuzz(func(t *testing.T, data []byte, labelKey, labelValue string) {
		s := &metav1.LabelSelector{}
		if err := proto.Unmarshal(data, s); err != nil {
			return
		}
		set := labels.Set{labelKey: labelValue}
		for k, v := range s.GetMatchLabels() {
			set[k] = v
			break
		}
		checkSelector(t, s, set)
	})
}

func checkSelector(t *testing.T, s *metav1.LabelSelector, set labels.Set) {
	t.Helper()
	if k := ToK8s(s); len(k.MatchLabels) != len(s.GetMatchLabels()) || len(k.MatchExpressions) != len(s.GetMatchExpressions()) {
		t.Fatalf("ToK8s(%v) = %v", s, k)
	}
	_ = IsEmpty(s)
	sel, err := Parse(s)
	if err != nil {
		if Matches(s, set) {
			t.Fatalf("selector %v fails to parse (%v) but matches %v", s, err, set)
		}
		return
	}
	want := sel.Matches(set)
	if got := Matches(s, set); got != want {
		t.Fatalf("Matches(%v, %v) = %v, the parsed selector says %v", s, set, got, want)
	}
	str := sel.String()
	back, err := labels.Parse(str)
	if err != nil {
		t.Fatalf("selector %v prints as %q, which does not parse: %v", s, str, err)
	}
	// Printed again it is stable (the first print may repeat values,
	// "a in (x,x)", which parsing merges).
	if back.Matches(set) != want || back.String() != mustParse(t, back.String()).String() {
		t.Fatalf("selector %v prints as %q, which parses as %q", s, str, back.String())
	}
}

func mustParse(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	if err != nil {
		t.Fatalf("%q does not parse: %v", s, err)
	}
	return sel
}
