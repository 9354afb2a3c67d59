package volume

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/csi"
)

// fakeNode is a CSI Node service that records its calls ("Stage vol
// path", …); it mounts nothing.
type fakeNode struct {
	csipb.NodeClient
	mu    sync.Mutex
	calls []string
	stage bool
	fail  error
}

func (f *fakeNode) record(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return f.fail
}

func (f *fakeNode) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeNode) NodeGetCapabilities(context.Context, *csipb.NodeGetCapabilitiesRequest, ...grpc.CallOption) (*csipb.NodeGetCapabilitiesResponse, error) {
	rpc := func(t csipb.NodeServiceCapability_RPC_Type) *csipb.NodeServiceCapability {
		return &csipb.NodeServiceCapability{Type: &csipb.NodeServiceCapability_Rpc{Rpc: &csipb.NodeServiceCapability_RPC{Type: t}}}
	}
	caps := []*csipb.NodeServiceCapability{rpc(csipb.NodeServiceCapability_RPC_GET_VOLUME_STATS)}
	if f.stage {
		caps = append(caps, rpc(csipb.NodeServiceCapability_RPC_STAGE_UNSTAGE_VOLUME))
	}
	return &csipb.NodeGetCapabilitiesResponse{Capabilities: caps}, nil
}

func (f *fakeNode) NodeStageVolume(_ context.Context, r *csipb.NodeStageVolumeRequest, _ ...grpc.CallOption) (*csipb.NodeStageVolumeResponse, error) {
	return &csipb.NodeStageVolumeResponse{}, f.record("Stage " + r.GetVolumeId() + " " + r.GetPublishContext()["k"])
}

func (f *fakeNode) NodeUnstageVolume(_ context.Context, r *csipb.NodeUnstageVolumeRequest, _ ...grpc.CallOption) (*csipb.NodeUnstageVolumeResponse, error) {
	return &csipb.NodeUnstageVolumeResponse{}, f.record("Unstage " + r.GetVolumeId())
}

func (f *fakeNode) NodePublishVolume(_ context.Context, r *csipb.NodePublishVolumeRequest, _ ...grpc.CallOption) (*csipb.NodePublishVolumeResponse, error) {
	ro := ""
	if r.GetReadonly() {
		ro = " ro"
	}
	return &csipb.NodePublishVolumeResponse{}, f.record("Publish " + r.GetVolumeId() + " " + filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(r.GetTargetPath()))))) + ro)
}

func (f *fakeNode) NodeUnpublishVolume(_ context.Context, r *csipb.NodeUnpublishVolumeRequest, _ ...grpc.CallOption) (*csipb.NodeUnpublishVolumeResponse, error) {
	return &csipb.NodeUnpublishVolumeResponse{}, f.record("Unpublish " + r.GetVolumeId() + " " + filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(r.GetTargetPath()))))))
}

func (f *fakeNode) NodeGetVolumeStats(_ context.Context, r *csipb.NodeGetVolumeStatsRequest, _ ...grpc.CallOption) (*csipb.NodeGetVolumeStatsResponse, error) {
	return &csipb.NodeGetVolumeStatsResponse{Usage: []*csipb.VolumeUsage{
		{Unit: csipb.VolumeUsage_BYTES, Total: 1000, Available: 600, Used: 400},
		{Unit: csipb.VolumeUsage_INODES, Total: 10, Available: 7, Used: 3},
	}}, f.record("Stats " + r.GetVolumeId())
}

// fakeCSIHost serves one registered driver "d.csi" and its objects.
type fakeCSIHost struct {
	node        *fakeNode
	registered  bool
	driver      *storagev1.CSIDriver
	attachments map[string]*storagev1.VolumeAttachment
}

func (h *fakeCSIHost) NodeClient(driver string) (csipb.NodeClient, error) {
	if !h.registered || driver != "d.csi" {
		return nil, errors.New("driver name " + driver + " not found in the list of registered CSI drivers")
	}
	return h.node, nil
}

func (h *fakeCSIHost) CSIDriver(name string) (*storagev1.CSIDriver, error) {
	if h.driver == nil {
		return nil, apierrors.NotFound("csidrivers", name)
	}
	return h.driver, nil
}

func (h *fakeCSIHost) VolumeAttachment(name string) (*storagev1.VolumeAttachment, error) {
	if va, ok := h.attachments[name]; ok {
		return va, nil
	}
	return nil, apierrors.NotFound("volumeattachments", name)
}

func (h *fakeCSIHost) NodeName() string { return "n1" }

func csiPV(name, handle string, ro bool) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.PersistentVolumeSpec{
		AccessModes: []string{"ReadWriteOnce"},
		Csi:         &corev1.CSIPersistentVolumeSource{Driver: "d.csi", VolumeHandle: handle, ReadOnly: ro, VolumeAttributes: map[string]string{"a": "b"}},
	}}
}

func TestPlanCSIMount(t *testing.T) {
	attached := &storagev1.VolumeAttachment{Status: &storagev1.VolumeAttachmentStatus{Attached: true, AttachmentMetadata: map[string]string{"k": "v"}}}
	noAttach := &storagev1.CSIDriver{Spec: &storagev1.CSIDriverSpec{AttachRequired: new(bool)}}
	podInfo := &storagev1.CSIDriver{Spec: &storagev1.CSIDriverSpec{AttachRequired: new(bool), PodInfoOnMount: &[]bool{true}[0]}}
	pod := &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "ns", Uid: "u"}, Spec: &corev1.PodSpec{ServiceAccountName: "sa"}}
	base := csiMountInput{PV: csiPV("pv1", "h1", false), Pod: pod, Node: "n1", TargetDir: "/r/pods/u/volumes/kubernetes.io~csi/pv1", StagingRoot: "/r/plugins/kubernetes.io/csi/d.csi"}
	with := func(f func(*csiMountInput)) csiMountInput { in := base; f(&in); return in }
	for _, tc := range []struct {
		name    string
		in      csiMountInput
		pending bool
		err     string
		check   func(*csiMount) string
	}{
		{name: "no CSIDriver: attaching is required, and nothing is attached", in: base, pending: true, err: "waiting for VolumeAttachment " + csi.AttachmentName("h1", "d.csi", "n1")},
		{name: "attachment not attached yet", in: with(func(in *csiMountInput) { in.Attachment = &storagev1.VolumeAttachment{} }), pending: true, err: "is not attached yet"},
		{name: "attachment failed", in: with(func(in *csiMountInput) {
			in.Attachment = &storagev1.VolumeAttachment{Status: &storagev1.VolumeAttachmentStatus{AttachError: &storagev1.VolumeError{Message: "boom"}}}
		}), pending: true, err: "attaching failed: boom"},
		{name: "attached: publish context, staged under the handle's hash", in: with(func(in *csiMountInput) { in.Attachment = attached; in.Stage = true }),
			check: func(m *csiMount) string {
				if m.PublishContext["k"] != "v" || m.Volume.StagingPath != "/r/plugins/kubernetes.io/csi/d.csi/"+csi.VolumeHandleDir("h1")+"/globalmount" ||
					m.Volume.TargetPath != base.TargetDir+"/mount" || m.ReadOnly || m.VolumeContext["a"] != "b" ||
					m.Capability.GetAccessMode().GetMode() != csipb.VolumeCapability_AccessMode_SINGLE_NODE_WRITER || m.Capability.GetMount() == nil {
					return "wrong plan"
				}
				return ""
			}},
		{name: "attachRequired false, no staging, read-only claim", in: with(func(in *csiMountInput) { in.Driver = noAttach; in.ReadOnly = true }),
			check: func(m *csiMount) string {
				if m.Volume.StagingPath != "" || !m.ReadOnly || m.PublishContext != nil {
					return "wrong plan"
				}
				return ""
			}},
		{name: "read-only PV", in: with(func(in *csiMountInput) { in.Driver = noAttach; in.PV = csiPV("pv1", "h1", true) }),
			check: func(m *csiMount) string {
				if !m.ReadOnly {
					return "not read-only"
				}
				return ""
			}},
		{name: "podInfoOnMount", in: with(func(in *csiMountInput) { in.Driver = podInfo }),
			check: func(m *csiMount) string {
				want := map[string]string{"a": "b", "csi.storage.k8s.io/pod.name": "p", "csi.storage.k8s.io/pod.namespace": "ns", "csi.storage.k8s.io/pod.uid": "u",
					"csi.storage.k8s.io/serviceAccount.name": "sa", "csi.storage.k8s.io/ephemeral": "false"}
				if !reflect.DeepEqual(m.VolumeContext, want) {
					return "volume context " + strings.Join(sortedKeysOf(m.VolumeContext), ",")
				}
				return ""
			}},
		{name: "block volumes are refused", in: with(func(in *csiMountInput) {
			in.Driver = noAttach
			in.PV = csiPV("pv1", "h1", false)
			block := "Block"
			in.PV.Spec.VolumeMode = &block
		}), err: "volumeMode Block is not supported"},
	} {
		m, err := planCSIMount(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) || errors.Is(err, errAttachPending) != tc.pending {
				t.Errorf("%s: %v, want %q (pending %v)", tc.name, err, tc.err, tc.pending)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		default:
			if msg := tc.check(m); msg != "" {
				t.Errorf("%s: %s: %+v", tc.name, msg, m)
			}
		}
	}
}

func sortedKeysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestCSIVolumeLifecycle: a CSI claim is staged once per node and
// published per pod; tearing down a pod unpublishes its volume and
// unstages it only when no other pod on the node has it; a kubelet
// restarted in between (a new manager) knows from vol_data.json.
// TestCSIFSGroup: the pod's fsGroup applies to a CSI volume as the
// CSIDriver's fsGroupPolicy says, as in Kubernetes, and never to a
// read-only mount.
func TestCSIFSGroup(t *testing.T) {
	policy := func(p string) *storagev1.CSIDriver {
		return &storagev1.CSIDriver{Spec: &storagev1.CSIDriverSpec{FsGroupPolicy: &p}}
	}
	pv := func(fsType string, modes ...string) *corev1.PersistentVolume {
		v := csiPV("pv1", "h1", false)
		v.Spec.Csi.FsType, v.Spec.AccessModes = fsType, modes
		return v
	}
	for _, tc := range []struct {
		name   string
		driver *storagev1.CSIDriver
		pv     *corev1.PersistentVolume
		want   bool
	}{
		{"File: always", policy("File"), pv("", "ReadWriteMany"), true},
		{"None: never", policy("None"), pv("ext4", "ReadWriteOnce"), false},
		{"default with fsType and ReadWriteOnce", policy("ReadWriteOnceWithFSType"), pv("ext4", "ReadOnlyMany", "ReadWriteOnce"), true},
		{"default without fsType", nil, pv("", "ReadWriteOnce"), false},
		{"default without ReadWriteOnce", nil, pv("ext4", "ReadWriteMany"), false},
		{"no CSIDriver: the default", nil, pv("xfs", "ReadWriteOnce"), true},
	} {
		if got := csiFSGroup(tc.driver, tc.pv); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	in := csiMountInput{PV: pv("", "ReadWriteOnce"), Pod: &corev1.Pod{}, Driver: &storagev1.CSIDriver{Spec: &storagev1.CSIDriverSpec{AttachRequired: new(bool), FsGroupPolicy: &[]string{"File"}[0]}}, ReadOnly: true}
	if m, err := planCSIMount(in); err != nil || m.FSGroup {
		t.Errorf("a read-only mount: %+v %v, want no fsGroup", m, err)
	}
}

func TestCSIVolumeLifecycle(t *testing.T) {
	m, g, root := newTestManager(t, false)
	node := &fakeNode{stage: true}
	host := &fakeCSIHost{node: node, attachments: map[string]*storagev1.VolumeAttachment{}}
	m.CSI = host
	g.pvcs["ns/data"] = boundClaim("ns", "data", "c1", "pv1")
	g.pvs["pv1"] = csiPV("pv1", "h1", false)
	g.pvs["pv1"].Spec.ClaimRef = &corev1.ObjectReference{Uid: "c1"}
	vol := &corev1.Volume{Name: "data", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}
	p1, p2 := podWith("u1", vol), podWith("u2", vol)

	// Not registered, then not attached: the pod waits.
	if _, err := m.Setup(context.Background(), p1); !IsPending(err) || !strings.Contains(err.Error(), "not found in the list of registered CSI drivers") {
		t.Fatalf("unregistered driver: %v", err)
	}
	host.registered = true
	if _, err := m.Setup(context.Background(), p1); !IsPending(err) || !strings.Contains(err.Error(), "waiting for VolumeAttachment") {
		t.Fatalf("unattached volume: %v", err)
	}
	if c := node.take(); len(c) != 0 {
		t.Fatalf("calls before the attachment: %v", c)
	}
	host.attachments[csi.AttachmentName("h1", "d.csi", "n1")] = &storagev1.VolumeAttachment{Status: &storagev1.VolumeAttachmentStatus{Attached: true, AttachmentMetadata: map[string]string{"k": "v"}}}
	paths, err := m.Setup(context.Background(), p1)
	target := filepath.Join(root, "pods", "u1", "volumes", KindCSI, "pv1", "mount")
	if err != nil || paths["data"] != target {
		t.Fatalf("Setup: %v %v, want %s", paths, err, target)
	}
	if got, want := node.take(), []string{"Stage h1 v", "Publish h1 u1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("calls %v, want %v", got, want)
	}
	if _, err := m.Setup(context.Background(), p1); err != nil {
		t.Fatal(err)
	}
	if c := node.take(); len(c) != 0 {
		t.Errorf("a second Setup of the pod called %v", c)
	}
	if _, err := m.Setup(context.Background(), p2); err != nil {
		t.Fatal(err)
	}
	if got, want := node.take(), []string{"Stage h1 v", "Publish h1 u2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("second pod: calls %v, want %v", got, want)
	}
	stats := m.Stats(p1)
	if len(stats) != 1 || stats[0].UsedBytes != 400 || stats[0].CapacityBytes != 1000 || stats[0].InodesUsed != 3 || stats[0].Claim != "data" {
		t.Errorf("stats %+v", stats)
	}
	node.take()

	// A restarted kubelet: the state is on disk.
	m2 := NewManager(root, g, nil)
	m2.DisableTmpfs, m2.CSI = true, host
	node.fail = errors.New("driver down")
	if err := m2.Teardown("u1"); err == nil || !strings.Contains(err.Error(), "driver down") {
		t.Errorf("Teardown with a failing driver: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "pods", "u1", "volumes", KindCSI, "pv1", csiDataFile)); err != nil {
		t.Errorf("a failed teardown removed the volume's record: %v", err)
	}
	node.fail = nil
	node.take()
	if err := m2.Teardown("u1"); err != nil {
		t.Fatal(err)
	}
	if got, want := node.take(), []string{"Unpublish h1 u1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("first teardown: calls %v, want %v (u2 still uses the volume)", got, want)
	}
	if err := m2.Teardown("u2"); err != nil {
		t.Fatal(err)
	}
	if got, want := node.take(), []string{"Unpublish h1 u2", "Unstage h1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("last teardown: calls %v, want %v", got, want)
	}
	if _, err := os.Stat(filepath.Join(root, "pods", "u2")); !os.IsNotExist(err) {
		t.Errorf("the pod's directory: %v", err)
	}
}
