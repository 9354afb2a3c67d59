package printers

import (
	"time"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/registry"
)

// DaemonSetColumns are the columns of `get daemonset`.
var DaemonSetColumns = []registry.Column{
	{Name: "NAME"}, {Name: "DESIRED"}, {Name: "CURRENT"}, {Name: "READY"}, {Name: "UP-TO-DATE"},
	{Name: "AVAILABLE"}, {Name: "NODE SELECTOR"}, {Name: "AGE"},
	{Name: "CONTAINERS", Wide: true}, {Name: "IMAGES", Wide: true}, {Name: "SELECTOR", Wide: true},
}

// DaemonSetRow returns the cells of a daemon set's row under DaemonSetColumns.
func DaemonSetRow(ds *appsv1.DaemonSet, now time.Time) []string {
	st := ds.GetStatus()
	names, images := containerColumns(ds.GetSpec().GetTemplate().GetSpec())
	return []string{
		ds.GetMetadata().GetName(),
		itoa(st.GetDesiredNumberScheduled()), itoa(st.GetCurrentNumberScheduled()), itoa(st.GetNumberReady()),
		itoa(st.GetUpdatedNumberScheduled()), itoa(st.GetNumberAvailable()),
		FormatLabels(ds.GetSpec().GetTemplate().GetSpec().GetNodeSelector()),
		Age(ds.GetMetadata().GetCreationTimestamp(), now),
		names, images, FormatSelector(ds.GetSpec().GetSelector()),
	}
}

// DescribeDaemonSet renders a DaemonSet as `describe` does.
func DescribeDaemonSet(o *appsv1.DaemonSet, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, spec, st := o.GetMetadata(), o.GetSpec(), o.GetStatus()
		w.head(m, true)
		w.line(0, "Selector:\t%s", FormatSelector(spec.GetSelector()))
		w.line(0, "Node-Selector:\t%s", FormatLabels(spec.GetTemplate().GetSpec().GetNodeSelector()))
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Desired Number of Nodes Scheduled:\t%d", st.GetDesiredNumberScheduled())
		w.line(0, "Current Number of Nodes Scheduled:\t%d", st.GetCurrentNumberScheduled())
		w.line(0, "Number of Nodes Scheduled with Up-to-date Pods:\t%d", st.GetUpdatedNumberScheduled())
		w.line(0, "Number of Nodes Scheduled with Available Pods:\t%d", st.GetNumberAvailable())
		w.line(0, "Number of Nodes Misscheduled:\t%d", st.GetNumberMisscheduled())
		w.podsStatus(m.GetUid())
		w.podTemplate(spec.GetTemplate())
		w.events()
	})
}
