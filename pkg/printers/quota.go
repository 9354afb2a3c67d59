package printers

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/registry"
)

// ResourceQuotaColumns are the columns of `get resourcequota`.
var ResourceQuotaColumns = []registry.Column{{Name: "NAME"}, {Name: "AGE"}, {Name: "REQUEST"}, {Name: "LIMIT"}}

// ResourceQuotaRow returns the cells of a quota's row: REQUEST lists
// "resource: used/hard" for every enforced resource but the limits.*
// ones, which LIMIT lists, as kubectl does.
func ResourceQuotaRow(q *corev1.ResourceQuota, now time.Time) []string {
	var request, limit []string
	st := q.GetStatus()
	for _, name := range sortedKeys(q.GetSpec().GetHard()) {
		cell := fmt.Sprintf("%s: %s/%s", name, quantity(st.GetUsed()[name]), quantity(st.GetHard()[name]))
		if strings.HasPrefix(name, "limits.") {
			limit = append(limit, cell)
		} else {
			request = append(request, cell)
		}
	}
	return []string{q.GetMetadata().GetName(), Age(q.GetMetadata().GetCreationTimestamp(), now),
		strings.Join(request, ", "), strings.Join(limit, ", ")}
}

// quantity is q in canonical form ("0" when unset); an unparsable one as
// written.
func quantity(q *metav1.Quantity) string {
	if q == nil {
		return "0"
	}
	v, err := resource.ParseQuantity(q.GetString_())
	if err != nil {
		return q.GetString_()
	}
	return v.String()
}

// LimitRangeColumns are the columns of `get limitrange`.
var LimitRangeColumns = []registry.Column{{Name: "NAME"}, {Name: "CREATED AT"}}

// LimitRangeRow returns the cells of a limit range's row.
func LimitRangeRow(lr *corev1.LimitRange, _ time.Time) []string {
	return []string{lr.GetMetadata().GetName(), createdAt(lr.GetMetadata().GetCreationTimestamp())}
}

// ReplicationControllerColumns are the columns of `get replicationcontroller`.
var ReplicationControllerColumns = ReplicaSetColumns

// ReplicationControllerRow returns the cells of a replication
// controller's row under ReplicationControllerColumns.
func ReplicationControllerRow(rc *corev1.ReplicationController, now time.Time) []string {
	names, images := containerColumns(rc.GetSpec().GetTemplate().GetSpec())
	return []string{
		rc.GetMetadata().GetName(),
		itoa(rc.GetSpec().GetReplicas()), itoa(rc.GetStatus().GetReplicas()), itoa(rc.GetStatus().GetReadyReplicas()),
		Age(rc.GetMetadata().GetCreationTimestamp(), now),
		names, images, formatMapSelector(rc.GetSpec().GetSelector()),
	}
}

// formatMapSelector renders an equality selector as k=v,k2=v2.
func formatMapSelector(sel map[string]string) string {
	if len(sel) == 0 {
		return "<none>"
	}
	parts := make([]string, 0, len(sel))
	for _, k := range sortedKeys(sel) {
		parts = append(parts, k+"="+sel[k])
	}
	return strings.Join(parts, ",")
}

// DescribeResourceQuota renders a ResourceQuota as `describe` does.
func DescribeResourceQuota(q *corev1.ResourceQuota, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		w.head(q.GetMetadata(), true)
		if scopes := quotaScopes(q.GetSpec()); len(scopes) > 0 {
			w.line(0, "Scopes:\t%s", strings.Join(scopes, ", "))
		}
		w.line(0, "Resource\tUsed\tHard")
		w.line(0, "--------\t----\t----")
		st := q.GetStatus()
		for _, name := range sortedKeys(q.GetSpec().GetHard()) {
			w.line(0, "%s\t%s\t%s", name, quantity(st.GetUsed()[name]), quantity(st.GetHard()[name]))
		}
	})
}

// quotaScopes are spec.scopes then the scopeSelector's scope names.
func quotaScopes(spec *corev1.ResourceQuotaSpec) []string {
	scopes := append([]string(nil), spec.GetScopes()...)
	for _, e := range spec.GetScopeSelector().GetMatchExpressions() {
		scopes = append(scopes, e.GetScopeName())
	}
	return scopes
}

// DescribeLimitRange renders a LimitRange as `describe` does: one row per
// item and resource.
func DescribeLimitRange(lr *corev1.LimitRange, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		w.head(lr.GetMetadata(), true)
		w.line(0, "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio")
		w.line(0, "----\t--------\t---\t---\t---------------\t-------------\t-----------------------")
		for _, item := range lr.GetSpec().GetLimits() {
			lists := []map[string]*metav1.Quantity{item.GetMin(), item.GetMax(), item.GetDefaultRequest(), item.GetDefault(), item.GetMaxLimitRequestRatio()}
			names := map[string]bool{}
			for _, l := range lists {
				for n := range l {
					names[n] = true
				}
			}
			for _, n := range sortedKeys(names) {
				cells := []any{item.GetType(), n}
				for _, l := range lists {
					if q, ok := l[n]; ok {
						cells = append(cells, quantity(q))
					} else {
						cells = append(cells, "-")
					}
				}
				w.line(0, "%s\t%s\t%s\t%s\t%s\t%s\t%s", cells...)
			}
		}
	})
}

// DescribeReplicationController renders a ReplicationController as
// `describe` does.
func DescribeReplicationController(rc *corev1.ReplicationController, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, spec, st := rc.GetMetadata(), rc.GetSpec(), rc.GetStatus()
		w.head(m, true)
		w.line(0, "Selector:\t%s", formatMapSelector(spec.GetSelector()))
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Replicas:\t%d current / %d desired", st.GetReplicas(), spec.GetReplicas())
		w.podsStatus(m.GetUid())
		w.podTemplate(spec.GetTemplate())
		w.events()
	})
}
