package printers

import (
	"time"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/registry"
)

// PodTemplateColumns are the columns of `get podtemplates` (kubectl's:
// no AGE).
var PodTemplateColumns = []registry.Column{{Name: "NAME"}, {Name: "CONTAINERS"}, {Name: "IMAGES"}, {Name: "POD LABELS"}}

// PodTemplateRow returns the cells of a template's row: its containers'
// names and images, and the labels of the pods it describes.
func PodTemplateRow(pt *corev1.PodTemplate, _ time.Time) []string {
	names, images := containerColumns(pt.GetTemplate().GetSpec())
	return []string{pt.GetMetadata().GetName(), names, images, FormatLabels(pt.GetTemplate().GetMetadata().GetLabels())}
}

// DescribePodTemplate renders a PodTemplate as `describe` does: its
// metadata, then the pod template.
func DescribePodTemplate(pt *corev1.PodTemplate, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m := pt.GetMetadata()
		w.head(m, true)
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.podTemplate(pt.GetTemplate())
		w.events()
	})
}
