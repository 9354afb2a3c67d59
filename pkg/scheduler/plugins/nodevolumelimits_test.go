package plugins_test

import (
	"context"
	"testing"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/scheduler/framework"
	"keel.dev/keel/pkg/scheduler/plugins"
)

const csiDriver = "csi.example.com"

func csiVolume(name, handle string) *corev1.PersistentVolume {
	v := volume(name, "csi", "")
	v.Spec.Csi = &corev1.CSIPersistentVolumeSource{Driver: csiDriver, VolumeHandle: handle}
	return v
}

func csiNode(node string, count *int32) *storagev1.CSINode {
	d := &storagev1.CSINodeDriver{Name: csiDriver, NodeId: node}
	if count != nil {
		d.Allocatable = &storagev1.VolumeNodeResources{Count: count}
	}
	return &storagev1.CSINode{Metadata: &metav1.ObjectMeta{Name: node}, Spec: &storagev1.CSINodeSpec{Drivers: []*storagev1.CSINodeDriver{d}}}
}

// TestNodeVolumeLimits: n1 attaches at most 2 volumes of the driver and
// has a pod using two (one of them twice); n2 declares no limit.
func TestNodeVolumeLimits(t *testing.T) {
	claims := []*corev1.PersistentVolumeClaim{
		claim("c1", "csi", boundTo("v1")), claim("c2", "csi", boundTo("v2")), claim("c3", "csi", boundTo("v3")),
		claim("host", "local", boundTo("hostpath")), claim("new", "csi-dyn"),
	}
	vols := []*corev1.PersistentVolume{csiVolume("v1", "h1"), csiVolume("v2", "h2"), csiVolume("v3", "h3"), volume("hostpath", "local", "")}
	classes := append([]*storagev1.StorageClass{class("csi-dyn", csiDriver, api.VolumeBindingWaitForFirstConsumer)}, storageClasses...)
	placed := podWithClaims("c1", "c2")
	placed.Metadata.Name, placed.Metadata.Uid, placed.Spec.NodeName = "placed", "placed-uid", "n1"
	placed2 := podWithClaims("c1")
	placed2.Metadata.Name, placed2.Metadata.Uid, placed2.Spec.NodeName = "placed2", "placed2-uid", "n1"
	const exceeded = "node(s) exceed max volume count"
	for _, tc := range []struct {
		name   string
		limit  *int32
		claims []string
		want   map[string]string
	}{
		{name: "a third volume", limit: ptrTo[int32](2), claims: []string{"c3"}, want: map[string]string{"n1": exceeded, "n2": ""}},
		{name: "a volume attached already", limit: ptrTo[int32](2), claims: []string{"c1", "c2"}, want: map[string]string{"n1": "", "n2": ""}},
		{name: "an unbound claim of the driver's class", limit: ptrTo[int32](2), claims: []string{"new"}, want: map[string]string{"n1": exceeded, "n2": ""}},
		{name: "room for one more", limit: ptrTo[int32](3), claims: []string{"c3"}, want: map[string]string{"n1": "", "n2": ""}},
		{name: "no count declared", claims: []string{"c3"}, want: map[string]string{"n1": "", "n2": ""}},
		{name: "not a CSI volume", limit: ptrTo[int32](2), claims: []string{"host"}, want: map[string]string{"n1": "", "n2": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &plugins.StaticStorage{PersistentVolumeClaims: claims, PersistentVolumes: vols, StorageClasses: classes,
				CSINodes: []*storagev1.CSINode{csiNode("n1", tc.limit)}}
			fwk, err := framework.New(framework.Options{
				Registry: plugins.NewRegistry(plugins.Deps{Bind: func(context.Context, *framework.PodInfo, string) error { return nil }, Storage: st}),
				Snapshot: framework.NewStaticSnapshot([]*corev1.Node{volNode("n1", "a"), volNode("n2", "b")}, []*corev1.Pod{placed, placed2}),
				Plugins:  []framework.PluginConfig{{Name: plugins.NodeVolumeLimitsName}, {Name: plugins.DefaultBinderName}}})
			if err != nil {
				t.Fatal(err)
			}
			p := fwk.Plugin(plugins.NodeVolumeLimitsName)
			pi := framework.NewPodInfo(podWithClaims(tc.claims...))
			state := framework.NewCycleState()
			pst := p.(framework.PreFilterPlugin).PreFilter(context.Background(), state, pi)
			for _, ni := range fwk.Snapshot().NodeInfos() {
				got := ""
				if !pst.IsSkip() {
					got = p.(framework.FilterPlugin).Filter(context.Background(), state, pi, ni).Message()
				}
				if got != tc.want[ni.Name] {
					t.Errorf("%s: %q, want %q", ni.Name, got, tc.want[ni.Name])
				}
			}
		})
	}
}
