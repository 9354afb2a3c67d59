// Package widget is the strategy of Widget (testing.keel.dev/v1), a
// test-only kind. It is the worked example of docs/architecture.md's "How
// to add a kind": everything Keel needs to serve, print and describe the
// kind is in this package, and a test registers it in one line. It is
// never registered by pkg/registry/all.
package widget

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	testingv1 "keel.dev/keel/pkg/apis/testing/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// Phases of a Widget.
const (
	PhasePending = "Pending"
	PhaseReady   = "Ready"
)

var colors = []string{"red", "green", "blue"}

// Strategy is the Widget kind's strategy.
var Strategy = &registry.Kind[*testingv1.Widget]{
	Identity: scheme.Kind{Group: "testing.keel.dev", Version: "v1", Kind: "Widget", Resource: "widgets",
		ShortNames: []string{"wd"}, Namespaced: true},
	GenerationTracked:  true,
	DefaultFunc:        setDefaults,
	ValidateFunc:       validate,
	ValidateUpdateFunc: validateUpdate,
	ValidateStatusFunc: validateStatus,
	Fields:             []string{"spec.color", "status.phase"},
	TableColumns:       []registry.Column{{Name: "NAME"}, {Name: "COLOR"}, {Name: "SIZE"}, {Name: "PHASE"}, {Name: "AGE"}},
	RowFunc:            row,
	DescribeFunc:       describe,
	CategoryNames:      []string{"all"},
	ScaleReplicas:      func(w *testingv1.Widget) *int32 { return w.GetSpec().Size },
	SetReplicas: func(w *testingv1.Widget, n int32) {
		if w.Spec == nil {
			w.Spec = &testingv1.WidgetSpec{}
		}
		w.Spec.Size = &n
	},
	Watchers: registry.Watchers{GarbageCollected: true},
}

func setDefaults(w *testingv1.Widget) {
	if w.Spec == nil {
		w.Spec = &testingv1.WidgetSpec{}
	}
	if w.Spec.Size == nil {
		one := int32(1)
		w.Spec.Size = &one
	}
}

func validate(w *testingv1.Widget) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if c := w.GetSpec().GetColor(); c == "" {
		errs = append(errs, field.Required(spec.Child("color"), ""))
	} else if !slices.Contains(colors, c) {
		errs = append(errs, field.NotSupported(spec.Child("color"), c, colors))
	}
	if s := w.GetSpec().Size; s != nil && *s < 1 {
		errs = append(errs, field.Invalid(spec.Child("size"), *s, "must be greater than or equal to 1"))
	}
	return errs
}

func validateUpdate(w, old *testingv1.Widget) field.ErrorList {
	if w.GetSpec().GetColor() != old.GetSpec().GetColor() {
		return field.ErrorList{field.Invalid(field.NewPath("spec", "color"), w.GetSpec().GetColor(), "field is immutable")}
	}
	return nil
}

func validateStatus(w, _ *testingv1.Widget) field.ErrorList {
	phases := []string{"", PhasePending, PhaseReady}
	if p := w.GetStatus().GetPhase(); !slices.Contains(phases, p) {
		return field.ErrorList{field.NotSupported(field.NewPath("status", "phase"), p, phases[1:])}
	}
	return nil
}

func row(w *testingv1.Widget, now time.Time) []string {
	return []string{w.GetMetadata().GetName(), w.GetSpec().GetColor(), fmt.Sprint(w.GetSpec().GetSize()),
		orNone(w.GetStatus().GetPhase()), printers.Age(w.GetMetadata().GetCreationTimestamp(), now)}
}

func describe(w *testingv1.Widget, in registry.DescribeInput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Name:       %s\n", w.GetMetadata().GetName())
	fmt.Fprintf(&b, "Namespace:  %s\n", w.GetMetadata().GetNamespace())
	fmt.Fprintf(&b, "Color:      %s\n", w.GetSpec().GetColor())
	fmt.Fprintf(&b, "Size:       %d\n", w.GetSpec().GetSize())
	fmt.Fprintf(&b, "Phase:      %s\n", orNone(w.GetStatus().GetPhase()))
	fmt.Fprintf(&b, "Events:     %d\n", len(in.Events))
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}
