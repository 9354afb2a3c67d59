package scheme_test

import (
	"strings"
	"testing"

	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	"keel.dev/keel/pkg/scheme"
)

func dynamicKinds(group string, versions ...string) []*scheme.Kind {
	var out []*scheme.Kind
	for _, v := range versions {
		k := &scheme.Kind{Group: group, Version: v, Kind: "Gizmo", Resource: "gizmos", ShortNames: []string{"gz"},
			Namespaced: true, Message: &apiextv1.CustomResource{}, Dynamic: true}
		if len(out) > 0 {
			k.Storage = out[0]
		}
		out = append(out, k)
	}
	return out
}

// TestSetDynamic: dynamic kinds are found by resource (bare or qualified),
// by apiVersion and kind, by message and by type URL, until removed;
// conflicts are refused and change nothing.
func TestSetDynamic(t *testing.T) {
	ks := dynamicKinds("gizmos.test", "v1", "v2alpha1")
	if err := scheme.SetDynamic("gizmos.gizmos.test", ks); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = scheme.SetDynamic("gizmos.gizmos.test", nil) })
	gen := scheme.DynamicGeneration()
	for _, name := range []string{"gizmos", "gz", "gizmo", "gizmos.gizmos.test", "GIZMOS"} {
		if k, ok := scheme.ByResource(name); !ok || k != ks[0] {
			t.Errorf("ByResource(%q) = %v, %v; want the storage version", name, k, ok)
		}
	}
	if k, ok := scheme.ByGVK("gizmos.test/v2alpha1", "Gizmo"); !ok || k != ks[1] || k.StorageKind() != ks[0] {
		t.Errorf("ByGVK = %v, %v", k, ok)
	}
	m := ks[1].New()
	if k, ok := scheme.ByMessage(m); !ok || k != ks[1] {
		t.Errorf("ByMessage(%v) = %v, %v", m, k, ok)
	}
	a, err := scheme.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(a.TypeUrl, "/gizmos.test/v2alpha1/Gizmo/keel.apiextensions.v1.CustomResource") {
		t.Errorf("type URL %s", a.TypeUrl)
	}
	if _, k, err := scheme.Unpack(a); err != nil || k != ks[1] {
		t.Errorf("Unpack: %v, %v", k, err)
	}
	if k, ok := scheme.ByResource("deployments.apps"); !ok || k.Kind != "Deployment" {
		t.Errorf("a static kind qualified by its group: %v, %v", k, ok)
	}

	// Conflicts: a static kind's resource in its group, another owner's kind.
	clash := dynamicKinds("apps", "v1")
	clash[0].Resource, clash[0].Kind = "deployments", "Deployment"
	if err := scheme.SetDynamic("deployments.apps", clash); err == nil {
		t.Error("a definition of apps/v1 Deployment was accepted")
	}
	if err := scheme.SetDynamic("other", dynamicKinds("gizmos.test", "v1")); err == nil {
		t.Error("a second definition of gizmos.test/v1 Gizmo was accepted")
	}
	if scheme.DynamicGeneration() != gen {
		t.Error("a refused change changed the generation")
	}

	if err := scheme.SetDynamic("gizmos.gizmos.test", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := scheme.ByResource("gizmos"); ok {
		t.Error("removed kinds are still found")
	}
	if _, ok := scheme.ByMessage(m); ok {
		t.Error("a removed kind's message is still found")
	}
}
