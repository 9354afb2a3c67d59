package persistentvolume

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

var t0 = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

type pvOpt func(*corev1.PersistentVolume)

// pv is an Available, Retain, ReadWriteOnce volume of class "fast".
func pv(name, size string, opts ...pvOpt) *corev1.PersistentVolume {
	v := &corev1.PersistentVolume{Metadata: &metav1.ObjectMeta{Name: name, ResourceVersion: "5"},
		Spec: &corev1.PersistentVolumeSpec{Capacity: map[string]*metav1.Quantity{"storage": {String_: size}},
			AccessModes: []string{"ReadWriteOnce"}, StorageClassName: "fast", PersistentVolumeReclaimPolicy: api.PersistentVolumeReclaimRetain},
		Status: &corev1.PersistentVolumeStatus{Phase: api.VolumeAvailable}}
	for _, o := range opts {
		o(v)
	}
	return v
}

func modes(m ...string) pvOpt { return func(v *corev1.PersistentVolume) { v.Spec.AccessModes = m } }
func pvClass(c string) pvOpt  { return func(v *corev1.PersistentVolume) { v.Spec.StorageClassName = c } }
func pvPhase(ph string) pvOpt { return func(v *corev1.PersistentVolume) { v.Status.Phase = ph } }
func pvPolicy(p string) pvOpt {
	return func(v *corev1.PersistentVolume) { v.Spec.PersistentVolumeReclaimPolicy = p }
}
func pvBlock() pvOpt { return func(v *corev1.PersistentVolume) { v.Spec.VolumeMode = ptr("Block") } }
func pvLabels(l map[string]string) pvOpt {
	return func(v *corev1.PersistentVolume) { v.Metadata.Labels = l }
}
func pvAnn(k, val string) pvOpt {
	return func(v *corev1.PersistentVolume) { setAnnotation(v.Metadata, k, val) }
}
func pvDeleting() pvOpt {
	return func(v *corev1.PersistentVolume) { v.Metadata.DeletionTimestamp = timestamppb.New(t0) }
}

// ref reserves the volume for claim name in "default" (uid "" leaves it
// to any claim of that name).
func ref(name, uid string) pvOpt {
	return func(v *corev1.PersistentVolume) {
		v.Spec.ClaimRef = &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: name, Uid: uid}
	}
}

func onNode(node string) pvOpt {
	return func(v *corev1.PersistentVolume) {
		v.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
			MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: "In", Values: []string{node}}}}}}}
	}
}

type pvcOpt func(*corev1.PersistentVolumeClaim)

// pvc is a Pending ReadWriteOnce claim in "default" of class "fast"
// asking for size.
func pvc(name, size string, opts ...pvcOpt) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default", Uid: "uid-" + name, ResourceVersion: "7"},
		Spec: &corev1.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"}, StorageClassName: ptr("fast"),
			Resources: &corev1.ResourceRequirements{Requests: map[string]*metav1.Quantity{"storage": {String_: size}}}},
		Status: &corev1.PersistentVolumeClaimStatus{Phase: api.ClaimPending}}
	for _, o := range opts {
		o(c)
	}
	return c
}

func wants(m ...string) pvcOpt {
	return func(c *corev1.PersistentVolumeClaim) { c.Spec.AccessModes = m }
}
func class(name string) pvcOpt {
	return func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = ptr(name) }
}
func noClass() pvcOpt         { return func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = nil } }
func volName(n string) pvcOpt { return func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = n } }
func block() pvcOpt {
	return func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeMode = ptr("Block") }
}
func selector(l map[string]string) pvcOpt {
	return func(c *corev1.PersistentVolumeClaim) { c.Spec.Selector = &metav1.LabelSelector{MatchLabels: l} }
}
func ann(k, v string) pvcOpt {
	return func(c *corev1.PersistentVolumeClaim) { setAnnotation(c.Metadata, k, v) }
}
func phase(ph string) pvcOpt { return func(c *corev1.PersistentVolumeClaim) { c.Status.Phase = ph } }

// bound is a claim the controller bound to vol.
func bound(vol string) pvcOpt {
	return func(c *corev1.PersistentVolumeClaim) {
		c.Spec.VolumeName = vol
		setAnnotation(c.Metadata, AnnBindCompleted, "yes")
		setAnnotation(c.Metadata, AnnBoundByController, "yes")
		c.Status = &corev1.PersistentVolumeClaimStatus{Phase: api.ClaimBound, AccessModes: []string{"ReadWriteOnce"},
			Capacity: map[string]*metav1.Quantity{"storage": {String_: "10Gi"}}}
	}
}

func sc(name, provisioner, mode string) *storagev1.StorageClass {
	return &storagev1.StorageClass{Metadata: &metav1.ObjectMeta{Name: name}, Provisioner: provisioner, VolumeBindingMode: ptr(mode)}
}

func node(name string) *corev1.Node {
	return &corev1.Node{Metadata: &metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
}

func ours(name string) bool { return name == "keel.dev/local-path" }

// summary renders a claim plan for comparison: the writes and the events.
func summary(p ClaimPlan) string {
	var parts []string
	if p.Volume != nil {
		r := p.Volume.GetSpec().GetClaimRef()
		parts = append(parts, "volume "+p.Volume.GetMetadata().GetName()+" claimRef="+r.GetNamespace()+"/"+r.GetName()+"/"+r.GetUid()+
			" byController="+p.Volume.GetMetadata().GetAnnotations()[AnnBoundByController])
	}
	if p.VolumeStatus != nil {
		parts = append(parts, "volume "+p.VolumeStatus.GetPhase())
	}
	if p.Claim != nil {
		a := p.Claim.GetMetadata().GetAnnotations()
		parts = append(parts, "claim volumeName="+p.Claim.GetSpec().GetVolumeName()+" completed="+a[AnnBindCompleted]+
			" byController="+a[AnnBoundByController]+" provisioner="+a[AnnStorageProvisioner])
	}
	if p.ClaimStatus != nil {
		s := "claim " + p.ClaimStatus.GetPhase()
		if q := p.ClaimStatus.GetCapacity()["storage"]; q != nil {
			s += " " + q.GetString_() + " " + strings.Join(p.ClaimStatus.GetAccessModes(), ",")
		}
		parts = append(parts, s)
	}
	if p.Provision != nil {
		s := "provision " + p.Provision.Class.GetMetadata().GetName()
		if p.Provision.Node != nil {
			s += " on " + p.Provision.Node.GetMetadata().GetName()
		}
		parts = append(parts, s)
	}
	for _, e := range p.Events {
		parts = append(parts, e.Type+" "+e.Reason+": "+e.Message)
	}
	return strings.Join(parts, "; ")
}

func TestDecideClaim(t *testing.T) {
	fast := sc("fast", "keel.dev/local-path", api.VolumeBindingImmediate)
	wait := sc("fast", "keel.dev/local-path", api.VolumeBindingWaitForFirstConsumer)
	for _, tc := range []struct {
		name     string
		claim    *corev1.PersistentVolumeClaim
		volumes  []*corev1.PersistentVolume
		class    *storagev1.StorageClass
		selected *corev1.Node
		want     string
	}{
		{name: "the smallest volume that fits",
			claim: pvc("data", "5Gi"), class: fast,
			volumes: []*corev1.PersistentVolume{pv("big", "100Gi"), pv("small", "1Gi"), pv("fits", "8Gi"), pv("fits-too", "10Gi")},
			want:    "volume fits claimRef=default/data/uid-data byController=yes; volume Bound; claim volumeName=fits completed=yes byController=yes provisioner=; claim Bound 8Gi ReadWriteOnce"},
		{name: "fewer access modes before a smaller size",
			claim: pvc("data", "1Gi"), class: fast,
			volumes: []*corev1.PersistentVolume{pv("many", "1Gi", modes("ReadWriteOnce", "ReadOnlyMany")), pv("one", "2Gi")},
			want:    "volume one claimRef=default/data/uid-data byController=yes; volume Bound; claim volumeName=one completed=yes byController=yes provisioner=; claim Bound 2Gi ReadWriteOnce"},
		{name: "class, access modes, volume mode, phase, selector and deletion filter",
			claim: pvc("data", "1Gi", wants("ReadWriteMany"), selector(map[string]string{"tier": "db"})), class: fast,
			volumes: []*corev1.PersistentVolume{
				pv("other-class", "1Gi", pvClass("slow"), modes("ReadWriteMany"), pvLabels(map[string]string{"tier": "db"})),
				pv("rwo", "1Gi", pvLabels(map[string]string{"tier": "db"})),
				pv("block", "1Gi", pvBlock(), modes("ReadWriteMany"), pvLabels(map[string]string{"tier": "db"})),
				pv("released", "1Gi", pvPhase(api.VolumeReleased), modes("ReadWriteMany"), pvLabels(map[string]string{"tier": "db"})),
				pv("unlabeled", "1Gi", modes("ReadWriteMany")),
				pv("deleting", "1Gi", pvDeleting(), modes("ReadWriteMany"), pvLabels(map[string]string{"tier": "db"})),
				pv("taken", "1Gi", ref("other", "uid-other"), modes("ReadWriteMany"), pvLabels(map[string]string{"tier": "db"})),
				pv("right", "1Gi", modes("ReadWriteMany"), pvLabels(map[string]string{"tier": "db"})),
			},
			want: "volume right claimRef=default/data/uid-data byController=yes; volume Bound; claim volumeName=right completed=yes byController=yes provisioner=; claim Bound 1Gi ReadWriteMany"},
		{name: "a reservation wins, and is not marked as the controller's",
			claim: pvc("data", "1Gi"), class: fast,
			volumes: []*corev1.PersistentVolume{pv("small", "1Gi"), pv("reserved", "5Gi", ref("data", ""))},
			want:    "volume reserved claimRef=default/data/uid-data byController=; volume Bound; claim volumeName=reserved completed=yes byController=yes provisioner=; claim Bound 5Gi ReadWriteOnce"},
		{name: "a block claim takes a block volume",
			claim: pvc("data", "1Gi", block()), class: fast,
			volumes: []*corev1.PersistentVolume{pv("fs", "1Gi"), pv("blk", "1Gi", pvBlock())},
			want:    "volume blk claimRef=default/data/uid-data byController=yes; volume Bound; claim volumeName=blk completed=yes byController=yes provisioner=; claim Bound 1Gi ReadWriteOnce"},
		{name: "no class: volumes without one only, never provisioned",
			claim: pvc("data", "1Gi", class("")), volumes: []*corev1.PersistentVolume{pv("classy", "1Gi")},
			want: "Normal FailedBinding: no persistent volumes available for this claim and no storage class is set"},
		{name: "unset class matches volumes of no class",
			claim: pvc("data", "1Gi", noClass()), volumes: []*corev1.PersistentVolume{pv("plain", "1Gi", pvClass(""))},
			want: "volume plain claimRef=default/data/uid-data byController=yes; volume Bound; claim volumeName=plain completed=yes byController=yes provisioner=; claim Bound 1Gi ReadWriteOnce"},
		{name: "a missing class keeps the claim Pending and names it",
			claim: pvc("data", "1Gi", class("x"), phase("")),
			want:  `claim Pending; Warning ProvisioningFailed: storageclass.storage.k8s.io "x" not found`},
		{name: "provisioned through the class",
			claim: pvc("data", "1Gi"), class: fast,
			want: "claim volumeName= completed= byController= provisioner=keel.dev/local-path; provision fast"},
		{name: "already asked: provisioned again without rewriting the claim",
			claim: pvc("data", "1Gi", ann(AnnStorageProvisioner, "keel.dev/local-path")), class: fast,
			want: "provision fast"},
		{name: "an external provisioner is waited for",
			claim: pvc("data", "1Gi"), class: sc("fast", "csi.example.com", api.VolumeBindingImmediate),
			want: `claim volumeName= completed= byController= provisioner=csi.example.com; Normal ExternalProvisioning: waiting for a volume to be created by the external provisioner "csi.example.com" or by the system administrator`},
		{name: "no-provisioner class",
			claim: pvc("data", "1Gi"), class: sc("fast", api.NoProvisioner, api.VolumeBindingImmediate),
			want: `Normal FailedBinding: no persistent volumes available for this claim and storage class "fast" provisions none`},
		{name: "a selector is not provisioned for",
			claim: pvc("data", "1Gi", selector(map[string]string{"a": "b"})), class: fast,
			want: `Warning ProvisioningFailed: Failed to provision volume with StorageClass "fast": claim Selector is not supported`},
		{name: "WaitForFirstConsumer waits for the selected node",
			claim: pvc("data", "1Gi"), class: wait, volumes: []*corev1.PersistentVolume{pv("free", "1Gi")},
			want: "Normal WaitForFirstConsumer: waiting for first consumer to be created before binding"},
		{name: "WaitForFirstConsumer still binds a reservation",
			claim: pvc("data", "1Gi"), class: wait, volumes: []*corev1.PersistentVolume{pv("free", "1Gi"), pv("mine", "1Gi", ref("data", "uid-data"))},
			want: "volume Bound; claim volumeName=mine completed=yes byController=yes provisioner=; claim Bound 1Gi ReadWriteOnce"},
		{name: "WaitForFirstConsumer binds a volume of the selected node",
			claim: pvc("data", "1Gi", ann(api.AnnSelectedNode, "n2")), class: wait, selected: node("n2"),
			volumes: []*corev1.PersistentVolume{pv("on-n1", "1Gi", onNode("n1")), pv("on-n2", "1Gi", onNode("n2"))},
			want:    "volume on-n2 claimRef=default/data/uid-data byController=yes; volume Bound; claim volumeName=on-n2 completed=yes byController=yes provisioner=; claim Bound 1Gi ReadWriteOnce"},
		{name: "WaitForFirstConsumer provisions on the selected node",
			claim: pvc("data", "1Gi", ann(api.AnnSelectedNode, "n2")), class: wait, selected: node("n2"),
			volumes: []*corev1.PersistentVolume{pv("on-n1", "1Gi", onNode("n1"))},
			want:    "claim volumeName= completed= byController= provisioner=keel.dev/local-path; provision fast on n2"},
		{name: "the selected node is gone",
			claim: pvc("data", "1Gi", ann(api.AnnSelectedNode, "n9"), ann(AnnStorageProvisioner, "keel.dev/local-path")), class: wait,
			want: `Warning ProvisioningFailed: Failed to provision volume with StorageClass "fast": failed to get target node: node "n9" not found`},
		{name: "a named volume is bound when it fits",
			claim: pvc("data", "1Gi", volName("named")), class: fast,
			volumes: []*corev1.PersistentVolume{pv("smaller-but-free", "1Gi"), pv("named", "3Gi")},
			want:    "volume named claimRef=default/data/uid-data byController=yes; volume Bound; claim volumeName=named completed=yes byController= provisioner=; claim Bound 3Gi ReadWriteOnce"},
		{name: "a named volume too small is a mismatch",
			claim: pvc("data", "5Gi", volName("named")), volumes: []*corev1.PersistentVolume{pv("named", "1Gi")},
			want: `Warning VolumeMismatch: Cannot bind to requested volume "named": requested PV is too small`},
		{name: "a named volume of another class is a mismatch",
			claim: pvc("data", "1Gi", volName("named")), volumes: []*corev1.PersistentVolume{pv("named", "1Gi", pvClass("slow"))},
			want: `Warning VolumeMismatch: Cannot bind to requested volume "named": storageClassName does not match`},
		{name: "a named volume lacking an access mode is a mismatch",
			claim: pvc("data", "1Gi", volName("named"), wants("ReadWriteMany")), volumes: []*corev1.PersistentVolume{pv("named", "1Gi")},
			want: `Warning VolumeMismatch: Cannot bind to requested volume "named": incompatible accessMode`},
		{name: "a named volume bound elsewhere",
			claim: pvc("data", "1Gi", volName("named")), volumes: []*corev1.PersistentVolume{pv("named", "1Gi", ref("other", "uid-other"))},
			want: `Warning FailedBinding: volume "named" already bound to a different claim.`},
		{name: "a named volume not there yet",
			claim: pvc("data", "1Gi", volName("later"), phase("")),
			want:  "claim Pending"},
		{name: "bound and consistent: nothing to do",
			claim: pvc("data", "1Gi", bound("vol")), volumes: []*corev1.PersistentVolume{pv("vol", "10Gi", ref("data", "uid-data"), pvPhase(api.VolumeBound))},
			want: ""},
		{name: "a bound claim's volume finished binding after a failure",
			claim: pvc("data", "1Gi", bound("vol")), volumes: []*corev1.PersistentVolume{pv("vol", "10Gi", ref("data", "uid-data"))},
			want: "volume Bound"},
		{name: "a bound claim's volume gone: Lost",
			claim: pvc("data", "1Gi", bound("vol")),
			want:  "claim Lost 10Gi ReadWriteOnce; Warning ClaimLost: Bound claim has lost its PersistentVolume. Data on the volume is lost!"},
		{name: "a bound claim's volume bound elsewhere: Lost",
			claim: pvc("data", "1Gi", bound("vol")), volumes: []*corev1.PersistentVolume{pv("vol", "10Gi", ref("other", "uid-other"), pvPhase(api.VolumeBound))},
			want: "claim Lost 10Gi ReadWriteOnce; Warning ClaimMisbound: Two claims are bound to the same volume, this one is bound incorrectly"},
		{name: "a Lost claim is not reported again",
			claim: pvc("data", "1Gi", bound("vol"), phase(api.ClaimLost)),
			want:  ""},
		{name: "a bad request is reported",
			claim: pvc("data", "lots"), class: fast,
			want: `Warning FailedBinding: spec.resources.requests[storage]: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(tc.claim)
			got := summary(DecideClaim(ClaimInput{Claim: tc.claim, Volumes: tc.volumes, Class: tc.class, SelectedNode: tc.selected,
				HasProvisioner: ours, Now: t0}))
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !proto.Equal(before, tc.claim) {
				t.Error("DecideClaim modified its input")
			}
		})
	}
}

func TestDecideVolume(t *testing.T) {
	fromLocalPath := pvAnn(api.AnnProvisionedBy, "keel.dev/local-path")
	for _, tc := range []struct {
		name  string
		vol   *corev1.PersistentVolume
		claim *corev1.PersistentVolumeClaim
		want  string
	}{
		{name: "new volume: Available", vol: pv("v", "1Gi", pvPhase(api.VolumePending)), want: "status Available"},
		{name: "reserved for a claim by name: Available", vol: pv("v", "1Gi", ref("data", ""), pvPhase("")), want: "status Available"},
		{name: "bound to its claim: Bound", vol: pv("v", "1Gi", ref("data", "uid-data")), claim: pvc("data", "1Gi", bound("v")), want: "status Bound"},
		{name: "the claim has not written its half", vol: pv("v", "1Gi", ref("data", "uid-data")), claim: pvc("data", "1Gi"), want: "sync claim"},
		{name: "claim gone, Retain: Released", vol: pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeBound)), want: "status Released"},
		{name: "claim made again under the same name: Released", vol: pv("v", "1Gi", ref("data", "uid-old"), pvPhase(api.VolumeBound)),
			claim: pvc("data", "1Gi"), want: "status Released"},
		{name: "Released stays", vol: pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeReleased)), want: ""},
		{name: "claim gone, Delete, ours: deleted",
			vol:  pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeBound), pvPolicy(api.PersistentVolumeReclaimDelete), fromLocalPath),
			want: "status Released; delete"},
		{name: "Delete retried while Released", vol: pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeReleased), pvPolicy(api.PersistentVolumeReclaimDelete), fromLocalPath),
			want: "delete"},
		{name: "Delete not repeated while the object is being deleted",
			vol:  pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeReleased), pvPolicy(api.PersistentVolumeReclaimDelete), fromLocalPath, pvDeleting()),
			want: ""},
		{name: "claim gone, Delete, external provisioner: left to it",
			vol:  pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeBound), pvPolicy(api.PersistentVolumeReclaimDelete), pvAnn(api.AnnProvisionedBy, "csi.example.com")),
			want: "status Released"},
		{name: "claim gone, Delete, made by hand: Failed",
			vol:  pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeBound), pvPolicy(api.PersistentVolumeReclaimDelete)),
			want: `status Failed; Warning VolumeFailedDelete: error getting deleter volume plugin for volume "v": no provisioner made it (no pv.kubernetes.io/provisioned-by annotation)`},
		{name: "Failed is not reported again",
			vol: pv("v", "1Gi", ref("data", "uid-data"), pvPolicy(api.PersistentVolumeReclaimDelete), func(v *corev1.PersistentVolume) {
				v.Status = &corev1.PersistentVolumeStatus{Phase: api.VolumeFailed, Message: `error getting deleter volume plugin for volume "v": no provisioner made it (no pv.kubernetes.io/provisioned-by annotation)`}
			}),
			want: ""},
		{name: "the controller's binding to a claim bound elsewhere is undone",
			vol:   pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeBound), pvAnn(AnnBoundByController, "yes")),
			claim: pvc("data", "1Gi", bound("other")), want: "volume claimRef=<nil> byController=; status Available"},
		{name: "a volume provisioned for a claim bound elsewhere is reclaimed",
			vol:   pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeBound), pvAnn(AnnBoundByController, "yes"), pvPolicy(api.PersistentVolumeReclaimDelete), fromLocalPath),
			claim: pvc("data", "1Gi", bound("other")), want: "status Released; delete"},
		{name: "a user's binding to a claim bound elsewhere stays",
			vol:   pv("v", "1Gi", ref("data", "uid-data"), pvPhase(api.VolumeBound)),
			claim: pvc("data", "1Gi", bound("other")), want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(tc.vol)
			p := DecideVolume(VolumeInput{Volume: tc.vol, Claim: tc.claim, HasProvisioner: ours, Now: t0})
			var parts []string
			if p.Volume != nil {
				r := "<nil>"
				if cr := p.Volume.GetSpec().GetClaimRef(); cr != nil {
					r = cr.GetName()
				}
				parts = append(parts, "volume claimRef="+r+" byController="+p.Volume.GetMetadata().GetAnnotations()[AnnBoundByController])
			}
			if p.Status != nil {
				parts = append(parts, "status "+p.Status.GetPhase())
				if p.Status.GetPhase() != tc.vol.GetStatus().GetPhase() && !p.Status.GetLastPhaseTransitionTime().AsTime().Equal(t0) {
					t.Error("a phase change is not stamped")
				}
			}
			if p.Delete {
				parts = append(parts, "delete")
			}
			if p.SyncClaim {
				parts = append(parts, "sync claim")
			}
			for _, e := range p.Events {
				parts = append(parts, e.Type+" "+e.Reason+": "+e.Message)
			}
			if got := strings.Join(parts, "; "); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !proto.Equal(before, tc.vol) {
				t.Error("DecideVolume modified its input")
			}
		})
	}
}

func TestProvisionedVolume(t *testing.T) {
	claim := pvc("data", "1Gi", wants("ReadWriteOnce", "ReadOnlyMany"), block())
	cls := sc("fast", "keel.dev/local-path", api.VolumeBindingImmediate)
	cls.MountOptions = []string{"noatime"}
	v := ProvisionedVolume(&corev1.PersistentVolume{Spec: &corev1.PersistentVolumeSpec{
		Capacity: map[string]*metav1.Quantity{"storage": {String_: "1Gi"}}}}, claim, cls)
	if v.Metadata.Name != "pvc-uid-data" || v.Metadata.Annotations[api.AnnProvisionedBy] != "keel.dev/local-path" ||
		v.Metadata.Annotations[AnnBoundByController] != "yes" {
		t.Errorf("metadata = %v", v.Metadata)
	}
	s := v.Spec
	if s.ClaimRef.GetUid() != "uid-data" || s.ClaimRef.GetName() != "data" || s.ClaimRef.GetNamespace() != "default" ||
		s.StorageClassName != "fast" || s.PersistentVolumeReclaimPolicy != api.PersistentVolumeReclaimDelete || strings.Join(s.MountOptions, ",") != "noatime" ||
		strings.Join(s.AccessModes, ",") != "ReadWriteOnce,ReadOnlyMany" || s.GetVolumeMode() != "Block" {
		t.Errorf("spec = %v", s)
	}
	cls.ReclaimPolicy = ptr(api.PersistentVolumeReclaimRetain)
	if got := ProvisionedVolume(&corev1.PersistentVolume{}, claim, cls).Spec.PersistentVolumeReclaimPolicy; got != api.PersistentVolumeReclaimRetain {
		t.Errorf("reclaim policy = %q, want the class's Retain", got)
	}
}
