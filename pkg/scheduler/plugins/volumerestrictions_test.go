package plugins_test

import (
	"context"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/plugins"
)

func TestVolumeRestrictions(t *testing.T) {
	rwop := func(c *corev1.PersistentVolumeClaim) { c.Spec.AccessModes = []string{"ReadWriteOncePod"} }
	claims := []*corev1.PersistentVolumeClaim{claim("solo", "dyn", rwop), claim("shared", "dyn")}
	holder := podWithClaims("solo", "shared")
	holder.Metadata.Name, holder.Metadata.Uid, holder.Spec.NodeName = "holder", "holder-uid", "n1"
	elsewhere := podWithClaims("solo")
	elsewhere.Metadata.Name, elsewhere.Metadata.Namespace, elsewhere.Metadata.Uid, elsewhere.Spec.NodeName = "x", "other-team", "x-uid", "n2"
	const conflict = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"
	for _, tc := range []struct {
		name          string
		claims        []string
		removeHolder  bool // preemption's what-if: the holder is gone
		want          string
		wantPreFilter string
	}{
		{name: "a ReadWriteOncePod claim in use", claims: []string{"solo"}, want: conflict},
		{name: "a ReadWriteOnce claim in use", claims: []string{"shared"}, wantPreFilter: "Skip"},
		{name: "the holder evicted", claims: []string{"solo"}, removeHolder: true, want: ""},
		{name: "no claims", wantPreFilter: "Skip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := framework.NewStaticSnapshot([]*corev1.Node{volNode("n1", "a"), volNode("n2", "b")}, []*corev1.Pod{holder, elsewhere})
			fwk, err := framework.New(framework.Options{
				Registry: plugins.NewRegistry(plugins.Deps{Bind: func(context.Context, *framework.PodInfo, string) error { return nil },
					Storage: &plugins.StaticStorage{PersistentVolumeClaims: claims, StorageClasses: storageClasses}}),
				Snapshot: snap,
				Plugins:  []framework.PluginConfig{{Name: plugins.VolumeRestrictionsName}, {Name: plugins.DefaultBinderName}}})
			if err != nil {
				t.Fatal(err)
			}
			p := fwk.Plugin(plugins.VolumeRestrictionsName).(*plugins.VolumeRestrictions)
			pi := framework.NewPodInfo(podWithClaims(tc.claims...))
			state := framework.NewCycleState()
			st := p.PreFilter(context.Background(), state, pi)
			if tc.wantPreFilter != "" {
				if st.Code().String() != tc.wantPreFilter {
					t.Fatalf("PreFilter %v, want %s", st, tc.wantPreFilter)
				}
				return
			}
			if !st.IsSuccess() {
				t.Fatalf("PreFilter %v", st)
			}
			if tc.removeHolder {
				state = state.Clone()
				ni := snap.Get("n1")
				if st := p.RemovePod(context.Background(), state, pi, ni.Pods[0], ni); !st.IsSuccess() {
					t.Fatal(st)
				}
			}
			for _, ni := range snap.NodeInfos() {
				if got := p.Filter(context.Background(), state, pi, ni).Message(); got != tc.want {
					t.Errorf("%s: %q, want %q", ni.Name, got, tc.want)
				}
			}
		})
	}
}
