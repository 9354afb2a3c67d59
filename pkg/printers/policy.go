package printers

import (
	"time"

	"keel.dev/keel/pkg/api"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/registry"
)

// PodDisruptionBudgetColumns are the columns of `get pdb`.
var PodDisruptionBudgetColumns = []registry.Column{{Name: "NAME"}, {Name: "MIN AVAILABLE"}, {Name: "MAX UNAVAILABLE"},
	{Name: "ALLOWED DISRUPTIONS"}, {Name: "AGE"}}

// PodDisruptionBudgetRow returns the cells of a budget's row under
// PodDisruptionBudgetColumns ("N/A" for the bound it does not set).
func PodDisruptionBudgetRow(pdb *policyv1.PodDisruptionBudget, now time.Time) []string {
	return []string{pdb.GetMetadata().GetName(), budgetValue(pdb.GetSpec().GetMinAvailable(), "N/A"),
		budgetValue(pdb.GetSpec().GetMaxUnavailable(), "N/A"), itoa(pdb.GetStatus().GetDisruptionsAllowed()),
		Age(pdb.GetMetadata().GetCreationTimestamp(), now)}
}

// budgetValue is an integer or percentage as written, unset when nil.
func budgetValue(v *metav1.IntOrString, unset string) string {
	if v == nil {
		return unset
	}
	x := api.ToIntstr(v)
	return x.String()
}

// DescribePodDisruptionBudget renders a PodDisruptionBudget as `describe`
// does: its bound, selector and the counts of its status.
func DescribePodDisruptionBudget(pdb *policyv1.PodDisruptionBudget, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, spec, st := pdb.GetMetadata(), pdb.GetSpec(), pdb.GetStatus()
		w.head(m, true)
		switch {
		case spec.GetMinAvailable() != nil:
			w.line(0, "Min available:\t%s", budgetValue(spec.GetMinAvailable(), ""))
		case spec.GetMaxUnavailable() != nil:
			w.line(0, "Max unavailable:\t%s", budgetValue(spec.GetMaxUnavailable(), ""))
		}
		if spec.GetSelector() == nil {
			w.line(0, "Selector:\t<unset>")
		} else {
			w.line(0, "Selector:\t%s", FormatSelector(spec.GetSelector()))
		}
		if spec != nil && spec.UnhealthyPodEvictionPolicy != nil {
			w.line(0, "Unhealthy pod eviction policy:\t%s", spec.GetUnhealthyPodEvictionPolicy())
		}
		w.line(0, "Status:")
		w.line(2, "Allowed disruptions:\t%d", st.GetDisruptionsAllowed())
		w.line(2, "Current:\t%d", st.GetCurrentHealthy())
		w.line(2, "Desired:\t%d", st.GetDesiredHealthy())
		w.line(2, "Total:\t%d", st.GetExpectedPods())
		w.events()
	})
}
