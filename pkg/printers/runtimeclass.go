package printers

import (
	"time"

	nodev1 "keel.dev/keel/pkg/apis/node/v1"
	"keel.dev/keel/pkg/registry"
)

// RuntimeClassColumns are the columns of `get runtimeclass`.
var RuntimeClassColumns = []registry.Column{{Name: "NAME"}, {Name: "HANDLER"}, {Name: "AGE"}}

// RuntimeClassRow returns the cells of a class's row.
func RuntimeClassRow(rc *nodev1.RuntimeClass, now time.Time) []string {
	return []string{rc.GetMetadata().GetName(), rc.GetHandler(), Age(rc.GetMetadata().GetCreationTimestamp(), now)}
}

// DescribeRuntimeClass renders a RuntimeClass: its handler, the overhead
// its pods are charged and where they may run.
func DescribeRuntimeClass(rc *nodev1.RuntimeClass, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m := rc.GetMetadata()
		w.head(m, false)
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Handler:\t%s", rc.GetHandler())
		if o := rc.GetOverhead(); o != nil {
			w.line(0, "Overhead:")
			w.resourceList(1, "Pod Fixed", o.GetPodFixed())
		}
		if s := rc.GetScheduling(); s != nil {
			w.line(0, "Scheduling:")
			w.labels(1, "Node Selector", s.GetNodeSelector())
			w.tolerations(1, s.GetTolerations())
		}
		w.events()
	})
}
