package all_test

import (
	"strings"
	"testing"
	"time"

	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/scheme"
)

// TestEveryKindHasItsHooks walks the registry: every kind passes Check
// (identity, required hooks, field selectors, rows that fit the columns)
// and describes and prints an empty object of its kind without failing.
func TestEveryKindHasItsHooks(t *testing.T) {
	if len(registry.All()) != len(scheme.All()) || len(registry.All()) == 0 {
		t.Fatalf("registry has %d kinds, scheme %d", len(registry.All()), len(scheme.All()))
	}
	for _, s := range registry.All() {
		k := s.Info()
		if err := registry.Check(s); err != nil {
			t.Error(err)
		}
		obj := k.New()
		if k.CreateOnly {
			continue // never stored, listed or described
		}
		d := printers.Describe(registry.DescribeInput{Object: obj, Now: time.Unix(0, 0)})
		if !strings.HasPrefix(d, "Name:") && !k.Computed { // computed kinds are not described
			t.Errorf("%s: describe of an empty object starts %q, want Name:", k.Kind, d)
		}
		var want []string
		for _, c := range s.Columns() {
			if !c.Wide {
				want = append(want, c.Name)
			}
		}
		if rows := printers.Table(k, nil, printers.Options{}); strings.Join(rows[0], ",") != strings.Join(want, ",") {
			t.Errorf("%s: table header %v, want the kind's columns %v", k.Kind, rows[0], want)
		}
		s.Related(obj) // must not fail on an empty object
		if sc := s.Scale(); sc != nil {
			sc.SetReplicas(obj, 4)
			if got := sc.Replicas(obj); got == nil || *got != 4 {
				t.Errorf("%s: scale set 4, read %v", k.Kind, got)
			}
		}
	}
}

// TestAllCategory is kubectl's "all" in kubectl's order.
func TestAllCategory(t *testing.T) {
	var got []string
	for _, s := range registry.InCategory("all") {
		got = append(got, s.Info().Resource)
	}
	if strings.Join(got, ",") != "pods,replicationcontrollers,services,daemonsets,deployments,replicasets,statefulsets,cronjobs,jobs" {
		t.Errorf("all = %v", got)
	}
}
