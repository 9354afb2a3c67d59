package printers

import (
	"strconv"
	"strings"
	"time"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/registry"
)

// ControllerRevisionColumns are the columns of `get controllerrevision`.
var ControllerRevisionColumns = []registry.Column{
	{Name: "NAME"}, {Name: "CONTROLLER"}, {Name: "REVISION"}, {Name: "AGE"},
}

// ControllerRevisionRow returns the cells of a revision's row under
// ControllerRevisionColumns; CONTROLLER is kind.group/name of its
// controller ("daemonset.apps/fluentd"), or <none>.
func ControllerRevisionRow(cr *appsv1.ControllerRevision, now time.Time) []string {
	controller := "<none>"
	for _, o := range cr.GetMetadata().GetOwnerReferences() {
		if o.GetController() {
			kind := strings.ToLower(o.GetKind())
			if group, _, ok := strings.Cut(o.GetApiVersion(), "/"); ok {
				kind += "." + group
			}
			controller = kind + "/" + o.GetName()
			break
		}
	}
	return []string{
		cr.GetMetadata().GetName(), controller, strconv.FormatInt(cr.GetRevision(), 10),
		Age(cr.GetMetadata().GetCreationTimestamp(), now),
	}
}

// DescribeControllerRevision renders a ControllerRevision as `describe`
// does: its metadata, revision and data.
func DescribeControllerRevision(o *appsv1.ControllerRevision, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.generic(o) })
}
