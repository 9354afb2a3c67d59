package hostpath_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keel.dev/keel/pkg/csi"
	"keel.dev/keel/pkg/csi/hostpath"
	"keel.dev/keel/pkg/testutil"
)

// TestDriver drives the test driver through its sockets as the
// controller-manager and the kubelet do: create, publish to the node,
// stage, publish for a pod (what the pod writes lands in the volume's
// directory), stats, then the reverse, and delete.
func TestDriver(t *testing.T) {
	if os.Geteuid() != 0 {
		testutil.Missing(t, "the driver bind-mounts: needs root")
	}
	dir, err := os.MkdirTemp("", "hp")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	d := &hostpath.Driver{Name: "hostpath.csi.keel.dev", Root: filepath.Join(dir, "vols"), NodeID: "n1"}
	cl, err := hostpath.Listen(filepath.Join(dir, "c.sock"))
	if err != nil {
		t.Fatal(err)
	}
	nl, err := hostpath.Listen(filepath.Join(dir, "n.sock"))
	if err != nil {
		t.Fatal(err)
	}
	srv := hostpath.Serve(d, cl, nl, nil, nil)
	t.Cleanup(srv.Stop)
	cc, err := csi.Dial("unix://" + filepath.Join(dir, "c.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	nc, err := csi.Dial(filepath.Join(dir, "n.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctl, node, id := csipb.NewControllerClient(cc), csipb.NewNodeClient(nc), csipb.NewIdentityClient(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if info, err := id.GetPluginInfo(ctx, &csipb.GetPluginInfoRequest{}); err != nil || info.GetName() != d.Name {
		t.Fatalf("GetPluginInfo: %v %v", info, err)
	}
	capability, _ := csi.MountCapability([]string{"ReadWriteOnce"}, "", "", nil)
	topo := &csipb.Topology{Segments: map[string]string{hostpath.TopologyKey: "n1"}}
	vol, err := ctl.CreateVolume(ctx, &csipb.CreateVolumeRequest{Name: "pvc-1", CapacityRange: &csipb.CapacityRange{RequiredBytes: 1 << 20},
		VolumeCapabilities: []*csipb.VolumeCapability{capability}, AccessibilityRequirements: &csipb.TopologyRequirement{Preferred: []*csipb.Topology{topo}}})
	if err != nil || vol.GetVolume().GetVolumeId() != "pvc-1" || vol.GetVolume().GetCapacityBytes() != 1<<20 ||
		len(vol.GetVolume().GetAccessibleTopology()) != 1 || vol.GetVolume().GetAccessibleTopology()[0].GetSegments()[hostpath.TopologyKey] != "n1" {
		t.Fatalf("CreateVolume: %v %v", vol, err)
	}
	if _, err := ctl.CreateVolume(ctx, &csipb.CreateVolumeRequest{Name: "../x", VolumeCapabilities: []*csipb.VolumeCapability{capability}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a volume name leaving the root: %v", err)
	}
	pub, err := ctl.ControllerPublishVolume(ctx, &csipb.ControllerPublishVolumeRequest{VolumeId: "pvc-1", NodeId: "n1", VolumeCapability: capability})
	if err != nil || pub.GetPublishContext()[hostpath.PublishContextKey] != "n1" {
		t.Fatalf("ControllerPublishVolume: %v %v", pub, err)
	}
	if _, err := ctl.ControllerPublishVolume(ctx, &csipb.ControllerPublishVolumeRequest{VolumeId: "nope", NodeId: "n1", VolumeCapability: capability}); status.Code(err) != codes.NotFound {
		t.Errorf("publishing a missing volume: %v", err)
	}
	staging, target := filepath.Join(dir, "staging", "globalmount"), filepath.Join(dir, "pod", "mount")
	for i := 0; i < 2; i++ { // idempotent
		if _, err := node.NodeStageVolume(ctx, &csipb.NodeStageVolumeRequest{VolumeId: "pvc-1", StagingTargetPath: staging, VolumeCapability: capability}); err != nil {
			t.Fatal(err)
		}
		if _, err := node.NodePublishVolume(ctx, &csipb.NodePublishVolumeRequest{VolumeId: "pvc-1", StagingTargetPath: staging, TargetPath: target, VolumeCapability: capability}); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(target, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(d.Root, "pvc-1", "f")); err != nil || string(b) != "data" {
		t.Errorf("the volume's directory: %q %v", b, err)
	}
	st, err := node.NodeGetVolumeStats(ctx, &csipb.NodeGetVolumeStatsRequest{VolumeId: "pvc-1", VolumePath: target})
	if err != nil || len(st.GetUsage()) != 2 || st.GetUsage()[0].GetUsed() <= 0 || st.GetUsage()[1].GetUsed() != 2 {
		t.Errorf("NodeGetVolumeStats: %v %v", st, err)
	}
	for i := 0; i < 2; i++ { // idempotent
		if _, err := node.NodeUnpublishVolume(ctx, &csipb.NodeUnpublishVolumeRequest{VolumeId: "pvc-1", TargetPath: target}); err != nil {
			t.Fatal(err)
		}
		if _, err := node.NodeUnstageVolume(ctx, &csipb.NodeUnstageVolumeRequest{VolumeId: "pvc-1", StagingTargetPath: staging}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{target, staging} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after unpublish and unstage: %v", p, err)
		}
	}
	if _, err := ctl.ControllerUnpublishVolume(ctx, &csipb.ControllerUnpublishVolumeRequest{VolumeId: "pvc-1", NodeId: "n1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.DeleteVolume(ctx, &csipb.DeleteVolumeRequest{VolumeId: "pvc-1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.Root, "pvc-1")); !os.IsNotExist(err) {
		t.Errorf("the deleted volume's directory: %v", err)
	}
	if _, err := ctl.DeleteVolume(ctx, &csipb.DeleteVolumeRequest{VolumeId: "pvc-1"}); err != nil {
		t.Errorf("deleting a deleted volume: %v", err)
	}
}
