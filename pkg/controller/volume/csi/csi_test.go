package csi

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	csipb "github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/csi"
)

func claim(modes ...string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: "data", Uid: "u1"},
		Spec: &corev1.PersistentVolumeClaimSpec{AccessModes: modes,
			Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}}}}
}

func class(params map[string]string) *storagev1.StorageClass {
	return &storagev1.StorageClass{Metadata: &metav1.ObjectMeta{Name: "fast"}, Provisioner: "d.csi", Parameters: params, MountOptions: []string{"noatime"}}
}

func TestCreateVolumeRequest(t *testing.T) {
	node := &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1", Labels: map[string]string{"kubernetes.io/hostname": "n1", "zone": "a"}}}
	csiNode := &storagev1.CSINode{Spec: &storagev1.CSINodeSpec{Drivers: []*storagev1.CSINodeDriver{
		{Name: "other", NodeId: "x", TopologyKeys: []string{"rack"}},
		{Name: "d.csi", NodeId: "n1", TopologyKeys: []string{"kubernetes.io/hostname", "zone"}}}}}
	req, err := CreateVolumeRequest("d.csi", claim("ReadWriteOnce"), class(map[string]string{"type": "ssd", "csi.storage.k8s.io/fstype": "ext4"}), node, csiNode)
	if err != nil {
		t.Fatal(err)
	}
	seg := &csipb.Topology{Segments: map[string]string{"kubernetes.io/hostname": "n1", "zone": "a"}}
	want := &csipb.CreateVolumeRequest{
		Name:          "pvc-u1",
		CapacityRange: &csipb.CapacityRange{RequiredBytes: 1 << 30},
		VolumeCapabilities: []*csipb.VolumeCapability{{
			AccessType: &csipb.VolumeCapability_Mount{Mount: &csipb.VolumeCapability_MountVolume{FsType: "ext4", MountFlags: []string{"noatime"}}},
			AccessMode: &csipb.VolumeCapability_AccessMode{Mode: csipb.VolumeCapability_AccessMode_SINGLE_NODE_WRITER}}},
		Parameters:                map[string]string{"type": "ssd"},
		AccessibilityRequirements: &csipb.TopologyRequirement{Requisite: []*csipb.Topology{seg}, Preferred: []*csipb.Topology{seg}},
	}
	if !proto.Equal(req, want) {
		t.Errorf("request\n%v\nwant\n%v", req, want)
	}
	// Immediate binding (no node): no topology; RWX maps to multi-writer.
	req, err = CreateVolumeRequest("d.csi", claim("ReadWriteMany"), class(nil), nil, nil)
	if err != nil || req.AccessibilityRequirements != nil ||
		req.GetVolumeCapabilities()[0].GetAccessMode().GetMode() != csipb.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER {
		t.Errorf("immediate: %v %v", req, err)
	}
	for _, tc := range []struct {
		name   string
		claim  *corev1.PersistentVolumeClaim
		class  *storagev1.StorageClass
		node   *corev1.Node
		errSub string
	}{
		{"secret parameters", claim("ReadWriteOnce"), class(map[string]string{"csi.storage.k8s.io/provisioner-secret-name": "s"}), nil, `parameter "csi.storage.k8s.io/provisioner-secret-name"`},
		{"no request", &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Uid: "u"}, Spec: &corev1.PersistentVolumeClaimSpec{}}, class(nil), nil, "no spec.resources.requests[storage]"},
		{"block", func() *corev1.PersistentVolumeClaim {
			c := claim("ReadWriteOnce")
			b := "Block"
			c.Spec.VolumeMode = &b
			return c
		}(), class(nil), nil, "volumeMode Block"},
		{"node without the topology label", claim("ReadWriteOnce"), class(nil), &corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n1"}}, "node n1 has no label kubernetes.io/hostname"},
	} {
		if _, err := CreateVolumeRequest("d.csi", tc.claim, tc.class, tc.node, csiNode); err == nil || !strings.Contains(err.Error(), tc.errSub) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.errSub)
		}
	}
}

func TestVolumeFromResponse(t *testing.T) {
	resp := &csipb.CreateVolumeResponse{Volume: &csipb.Volume{VolumeId: "vol-1", CapacityBytes: 2 << 30, VolumeContext: map[string]string{"path": "/x"},
		AccessibleTopology: []*csipb.Topology{{Segments: map[string]string{"zone": "a", "kubernetes.io/hostname": "n1"}}}}}
	pv, err := VolumeFromResponse("d.csi", resp, claim("ReadWriteOnce"), class(map[string]string{"csi.storage.k8s.io/fstype": "xfs"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.PersistentVolumeSpec{
		Capacity: map[string]*metav1.Quantity{"storage": {String_: "2Gi"}},
		Csi:      &corev1.CSIPersistentVolumeSource{Driver: "d.csi", VolumeHandle: "vol-1", FsType: "xfs", VolumeAttributes: map[string]string{"path": "/x"}},
		NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{MatchExpressions: []*corev1.NodeSelectorRequirement{
			{Key: "kubernetes.io/hostname", Operator: "In", Values: []string{"n1"}}, {Key: "zone", Operator: "In", Values: []string{"a"}}}}}}},
	}
	if !proto.Equal(pv.GetSpec(), want) {
		t.Errorf("spec\n%v\nwant\n%v", pv.GetSpec(), want)
	}
	// No capacity reported: the request; no topology: no affinity.
	pv, err = VolumeFromResponse("d.csi", &csipb.CreateVolumeResponse{Volume: &csipb.Volume{VolumeId: "v"}}, claim("ReadWriteOnce"), class(nil))
	if err != nil || pv.GetSpec().GetCapacity()["storage"].GetString_() != "1Gi" || pv.GetSpec().GetNodeAffinity() != nil {
		t.Errorf("bare answer: %v %v", pv, err)
	}
	if _, err := VolumeFromResponse("d.csi", &csipb.CreateVolumeResponse{}, claim(), class(nil)); err == nil {
		t.Error("an answer without volume id was taken")
	}
}

// fakeController is a CSI controller service recording its calls.
type fakeController struct {
	csipb.ControllerClient
	calls   []string
	publish bool
}

func (f *fakeController) CreateVolume(_ context.Context, r *csipb.CreateVolumeRequest, _ ...grpc.CallOption) (*csipb.CreateVolumeResponse, error) {
	f.calls = append(f.calls, "CreateVolume "+r.GetName())
	return &csipb.CreateVolumeResponse{Volume: &csipb.Volume{VolumeId: "id-" + r.GetName()}}, nil
}

func (f *fakeController) DeleteVolume(_ context.Context, r *csipb.DeleteVolumeRequest, _ ...grpc.CallOption) (*csipb.DeleteVolumeResponse, error) {
	f.calls = append(f.calls, "DeleteVolume "+r.GetVolumeId())
	return &csipb.DeleteVolumeResponse{}, nil
}

func TestProvisioner(t *testing.T) {
	f := &fakeController{}
	p := &Provisioner{Driver: "d.csi", Controller: f}
	pv, err := p.Provision(context.Background(), claim("ReadWriteOnce"), class(nil), nil)
	if err != nil || pv.GetSpec().GetCsi().GetVolumeHandle() != "id-pvc-u1" {
		t.Fatalf("Provision: %v %v", pv, err)
	}
	if err := p.Delete(context.Background(), pv); err != nil {
		t.Fatal(err)
	}
	other := &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: "x"}, Spec: &corev1.PersistentVolumeSpec{Csi: &corev1.CSIPersistentVolumeSource{Driver: "e.csi", VolumeHandle: "h"}}}
	if err := p.Delete(context.Background(), other); err == nil {
		t.Error("deleted another driver's volume")
	}
	if want := []string{"CreateVolume pvc-u1", "DeleteVolume id-pvc-u1"}; !reflect.DeepEqual(f.calls, want) {
		t.Errorf("calls %v, want %v", f.calls, want)
	}
}

func csiVolume(name, driver, handle string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: name}, Spec: &corev1.PersistentVolumeSpec{
		AccessModes: []string{"ReadWriteOnce"}, Csi: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: handle}}}
}

func TestDecideAttachments(t *testing.T) {
	pod := func(name, phase string, claims ...string) *corev1.Pod {
		p := &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: &corev1.PodSpec{NodeName: "n1"}, Status: &corev1.PodStatus{Phase: phase}}
		for _, c := range claims {
			p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: c, PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: c}})
		}
		return p
	}
	claims := map[string]*corev1.PersistentVolumeClaim{
		"ns/a": {Spec: &corev1.PersistentVolumeClaimSpec{VolumeName: "pv-a"}}, // attach required (no CSIDriver)
		"ns/b": {Spec: &corev1.PersistentVolumeClaimSpec{VolumeName: "pv-b"}}, // driver without attaching
		"ns/c": {Spec: &corev1.PersistentVolumeClaimSpec{VolumeName: "pv-c"}}, // not CSI
		"ns/p": {Spec: &corev1.PersistentVolumeClaimSpec{}},                   // not bound
		"ns/d": {Spec: &corev1.PersistentVolumeClaimSpec{VolumeName: "pv-d"}}, // its pod finished
	}
	vols := map[string]*corev1.PersistentVolume{
		"pv-a": csiVolume("pv-a", "d.csi", "ha"), "pv-b": csiVolume("pv-b", "noattach.csi", "hb"), "pv-d": csiVolume("pv-d", "d.csi", "hd"),
		"pv-c": {Metadata: &metav1.ObjectMeta{Name: "pv-c"}, Spec: &corev1.PersistentVolumeSpec{HostPath: &corev1.HostPathVolumeSource{Path: "/x"}}},
	}
	no := false
	drivers := map[string]*storagev1.CSIDriver{"noattach.csi": {Spec: &storagev1.CSIDriverSpec{AttachRequired: &no}}}
	stale := &storagev1.VolumeAttachment{Metadata: &metav1.ObjectMeta{Name: csi.AttachmentName("hd", "d.csi", "n1")}}
	deleting := &storagev1.VolumeAttachment{Metadata: &metav1.ObjectMeta{Name: "csi-old", DeletionTimestamp: timestamppb.New(time.Unix(1, 0))}}
	in := AttachInput{Node: "n1",
		Pods:        []*corev1.Pod{pod("web", "Running", "a", "b", "c", "p"), pod("web2", "Pending", "a"), pod("done", "Succeeded", "d")},
		Claim:       func(ns, n string) (*corev1.PersistentVolumeClaim, bool) { c, ok := claims[ns+"/"+n]; return c, ok },
		Volume:      func(n string) (*corev1.PersistentVolume, bool) { v, ok := vols[n]; return v, ok },
		Driver:      func(n string) (*storagev1.CSIDriver, bool) { d, ok := drivers[n]; return d, ok },
		Attachments: []*storagev1.VolumeAttachment{stale, deleting},
	}
	plan := DecideAttachments(in)
	pvA := "pv-a"
	want := AttachPlan{
		Create: []*storagev1.VolumeAttachment{{Metadata: &metav1.ObjectMeta{Name: csi.AttachmentName("ha", "d.csi", "n1"), Labels: map[string]string{"keel.dev/attachment-node": "n1"}},
			Spec: &storagev1.VolumeAttachmentSpec{Attacher: "d.csi", NodeName: "n1", Source: &storagev1.VolumeAttachmentSource{PersistentVolumeName: &pvA}}}},
		Delete: []string{stale.GetMetadata().GetName()},
	}
	if len(plan.Create) != 1 || !proto.Equal(plan.Create[0], want.Create[0]) || !reflect.DeepEqual(plan.Delete, want.Delete) {
		t.Errorf("plan %v, want %v", plan, want)
	}
	// Existing and wanted: nothing to do.
	in.Attachments = []*storagev1.VolumeAttachment{want.Create[0]}
	in.Pods = in.Pods[:1]
	if plan := DecideAttachments(in); len(plan.Create)+len(plan.Delete) != 0 {
		t.Errorf("steady state: %v", plan)
	}
}

func TestDecideAttach(t *testing.T) {
	fin := csi.AttacherFinalizer("d.csi")
	pvName := "pv-a"
	va := func(attached, deleting bool, finalizers ...string) *storagev1.VolumeAttachment {
		v := &storagev1.VolumeAttachment{Metadata: &metav1.ObjectMeta{Name: "csi-1", Finalizers: finalizers},
			Spec:   &storagev1.VolumeAttachmentSpec{Attacher: "d.csi", NodeName: "n1", Source: &storagev1.VolumeAttachmentSource{PersistentVolumeName: &pvName}},
			Status: &storagev1.VolumeAttachmentStatus{Attached: attached}}
		if deleting {
			v.Metadata.DeletionTimestamp = timestamppb.New(time.Unix(1, 0))
		}
		return v
	}
	pv := csiVolume("pv-a", "d.csi", "ha")
	node := &storagev1.CSINode{Spec: &storagev1.CSINodeSpec{Drivers: []*storagev1.CSINodeDriver{{Name: "d.csi", NodeId: "id-n1"}}}}
	for _, tc := range []struct {
		name string
		va   *storagev1.VolumeAttachment
		pv   *corev1.PersistentVolume
		node *storagev1.CSINode
		want AttachDecision
	}{
		{"new: attach", va(false, false), pv, node, AttachDecision{Action: AttachPublish, Handle: "ha", NodeID: "id-n1"}},
		{"attached", va(true, false, fin), pv, node, AttachDecision{}},
		{"another attacher's", func() *storagev1.VolumeAttachment { v := va(false, false); v.Spec.Attacher = "e.csi"; return v }(), pv, node, AttachDecision{}},
		{"no volume yet", va(false, false), nil, node, AttachDecision{Wait: `persistentvolume "pv-a" not found`}},
		{"node without the driver", va(false, false), pv, &storagev1.CSINode{}, AttachDecision{Wait: "CSINode n1 does not contain driver d.csi"}},
		{"deleted: detach", va(true, true, fin), pv, node, AttachDecision{Action: AttachUnpublish, Handle: "ha", NodeID: "id-n1"}},
		{"deleted, volume gone", va(true, true, fin), nil, node, AttachDecision{Action: AttachForget}},
		{"deleted without our finalizer", va(true, true, "other"), pv, node, AttachDecision{}},
	} {
		if got := DecideAttach("d.csi", tc.va, tc.pv, tc.node); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
