package printers

import (
	"fmt"
	"strings"
	"time"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/registry"
)

// StatefulSetColumns are the columns of `get statefulset`.
var StatefulSetColumns = []registry.Column{
	{Name: "NAME"}, {Name: "READY"}, {Name: "AGE"},
	{Name: "CONTAINERS", Wide: true}, {Name: "IMAGES", Wide: true},
}

// StatefulSetRow returns the cells of a statefulset's row under
// StatefulSetColumns.
func StatefulSetRow(ss *appsv1.StatefulSet, now time.Time) []string {
	names, images := containerColumns(ss.GetSpec().GetTemplate().GetSpec())
	return []string{
		ss.GetMetadata().GetName(),
		fmt.Sprintf("%d/%d", ss.GetStatus().GetReadyReplicas(), ss.GetSpec().GetReplicas()),
		Age(ss.GetMetadata().GetCreationTimestamp(), now),
		names, images,
	}
}

// DescribeStatefulSet renders a StatefulSet as `describe` does.
func DescribeStatefulSet(o *appsv1.StatefulSet, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.statefulSet(o) })
}

func (w *dw) statefulSet(ss *appsv1.StatefulSet) {
	m, spec, st := ss.GetMetadata(), ss.GetSpec(), ss.GetStatus()
	w.head(m, true)
	w.line(0, "CreationTimestamp:\t%s", w.time(m.GetCreationTimestamp()))
	w.line(0, "Selector:\t%s", FormatSelector(spec.GetSelector()))
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "Replicas:\t%d desired | %d total", spec.GetReplicas(), st.GetReplicas())
	w.line(0, "Update Strategy:\t%s", spec.GetUpdateStrategy().GetType())
	if ru := spec.GetUpdateStrategy().GetRollingUpdate(); ru != nil {
		w.line(1, "Partition:\t%d", ru.GetPartition())
		if ru.GetMaxUnavailable() != nil {
			w.line(1, "MaxUnavailable:\t%s", intOrString(ru.GetMaxUnavailable()))
		}
	}
	w.podsStatus(m.GetUid())
	w.podTemplate(spec.GetTemplate())
	if len(spec.GetVolumeClaimTemplates()) == 0 {
		w.line(0, "Volume Claims:\t<none>")
	} else {
		w.line(0, "Volume Claims:")
		for _, t := range spec.GetVolumeClaimTemplates() {
			w.line(1, "Name:\t%s", t.GetMetadata().GetName())
			w.line(1, "StorageClass:\t%s", t.GetSpec().GetStorageClassName())
			w.labels(1, "Labels", t.GetMetadata().GetLabels())
			w.annotations(1, t.GetMetadata().GetAnnotations())
			w.line(1, "Capacity:\t%s", t.GetSpec().GetResources().GetRequests()["storage"].GetString_())
			w.line(1, "Access Modes:\t[%s]", strings.Join(t.GetSpec().GetAccessModes(), " "))
		}
	}
	w.events()
}
