package printers

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/registry"
)

// Tables and descriptions of the storage kinds, with kubectl's columns.

// PersistentVolumeColumns are the columns of `get pv`.
var PersistentVolumeColumns = []registry.Column{{Name: "NAME"}, {Name: "CAPACITY"}, {Name: "ACCESS MODES"},
	{Name: "RECLAIM POLICY"}, {Name: "STATUS"}, {Name: "CLAIM"}, {Name: "STORAGECLASS"}, {Name: "VOLUMEATTRIBUTESCLASS"},
	{Name: "REASON"}, {Name: "AGE"}, {Name: "VOLUMEMODE", Wide: true}}

// PersistentVolumeRow returns the cells of a volume's row: CLAIM is
// namespace/name of the claim it is bound to, STATUS Terminating once it
// is being deleted.
func PersistentVolumeRow(pv *corev1.PersistentVolume, now time.Time) []string {
	m, spec := pv.GetMetadata(), orEmptyPVSpec(pv.GetSpec())
	claim := ""
	if ref := spec.GetClaimRef(); ref != nil {
		claim = ref.GetNamespace() + "/" + ref.GetName()
	}
	return []string{m.GetName(), storageSize(spec.GetCapacity()), AccessModes(spec.GetAccessModes()),
		spec.GetPersistentVolumeReclaimPolicy(), phaseOrTerminating(pv.GetStatus().GetPhase(), m.GetDeletionTimestamp() != nil),
		claim, spec.GetStorageClassName(), "<unset>", pv.GetStatus().GetReason(), Age(m.GetCreationTimestamp(), now),
		volumeMode(spec.VolumeMode)}
}

// PersistentVolumeClaimColumns are the columns of `get pvc`.
var PersistentVolumeClaimColumns = []registry.Column{{Name: "NAME"}, {Name: "STATUS"}, {Name: "VOLUME"}, {Name: "CAPACITY"},
	{Name: "ACCESS MODES"}, {Name: "STORAGECLASS"}, {Name: "VOLUMEATTRIBUTESCLASS"}, {Name: "AGE"}, {Name: "VOLUMEMODE", Wide: true}}

// PersistentVolumeClaimRow returns the cells of a claim's row: CAPACITY
// and ACCESS MODES are those of the bound volume (the claim's status).
func PersistentVolumeClaimRow(pvc *corev1.PersistentVolumeClaim, now time.Time) []string {
	m, spec, st := pvc.GetMetadata(), orEmptyClaimSpec(pvc.GetSpec()), pvc.GetStatus()
	return []string{m.GetName(), phaseOrTerminating(st.GetPhase(), m.GetDeletionTimestamp() != nil), spec.GetVolumeName(),
		storageSize(st.GetCapacity()), AccessModes(st.GetAccessModes()), spec.GetStorageClassName(), "<unset>",
		Age(m.GetCreationTimestamp(), now), volumeMode(spec.VolumeMode)}
}

// StorageClassColumns are the columns of `get sc`.
var StorageClassColumns = []registry.Column{{Name: "NAME"}, {Name: "PROVISIONER"}, {Name: "RECLAIMPOLICY"},
	{Name: "VOLUMEBINDINGMODE"}, {Name: "ALLOWVOLUMEEXPANSION"}, {Name: "AGE"}}

// StorageClassRow returns the cells of a class's row; the default class's
// name is followed by " (default)".
func StorageClassRow(sc *storagev1.StorageClass, now time.Time) []string {
	name := sc.GetMetadata().GetName()
	if api.IsDefaultStorageClass(sc) {
		name += " (default)"
	}
	return []string{name, sc.GetProvisioner(), reclaimPolicy(sc), bindingMode(sc),
		fmt.Sprint(sc.GetAllowVolumeExpansion()), Age(sc.GetMetadata().GetCreationTimestamp(), now)}
}

func reclaimPolicy(sc *storagev1.StorageClass) string {
	if sc.ReclaimPolicy == nil {
		return api.PersistentVolumeReclaimDelete
	}
	return sc.GetReclaimPolicy()
}

func bindingMode(sc *storagev1.StorageClass) string {
	if sc.VolumeBindingMode == nil {
		return api.VolumeBindingImmediate
	}
	return sc.GetVolumeBindingMode()
}

// CSIDriverColumns are the columns of `get csidrivers`.
var CSIDriverColumns = []registry.Column{{Name: "NAME"}, {Name: "ATTACHREQUIRED"}, {Name: "PODINFOONMOUNT"},
	{Name: "STORAGECAPACITY"}, {Name: "TOKENREQUESTS"}, {Name: "REQUIRESREPUBLISH"}, {Name: "MODES"}, {Name: "AGE"}}

// CSIDriverRow returns the cells of a driver's row.
func CSIDriverRow(d *storagev1.CSIDriver, now time.Time) []string {
	s := d.GetSpec()
	var audiences []string
	for _, t := range s.GetTokenRequests() {
		audiences = append(audiences, t.GetAudience())
	}
	return []string{d.GetMetadata().GetName(), fmt.Sprint(s.GetAttachRequired()), fmt.Sprint(s.GetPodInfoOnMount()),
		fmt.Sprint(s.GetStorageCapacity()), orNone(strings.Join(audiences, ",")), fmt.Sprint(s.GetRequiresRepublish()),
		orNone(strings.Join(s.GetVolumeLifecycleModes(), ",")), Age(d.GetMetadata().GetCreationTimestamp(), now)}
}

// CSINodeColumns are the columns of `get csinodes`.
var CSINodeColumns = []registry.Column{{Name: "NAME"}, {Name: "DRIVERS"}, {Name: "AGE"}}

// CSINodeRow returns the cells of a CSINode's row: how many drivers the
// node has registered.
func CSINodeRow(n *storagev1.CSINode, now time.Time) []string {
	return []string{n.GetMetadata().GetName(), itoa(len(n.GetSpec().GetDrivers())), Age(n.GetMetadata().GetCreationTimestamp(), now)}
}

// VolumeAttachmentColumns are the columns of `get volumeattachments`.
var VolumeAttachmentColumns = []registry.Column{{Name: "NAME"}, {Name: "ATTACHER"}, {Name: "PV"}, {Name: "NODE"},
	{Name: "ATTACHED"}, {Name: "AGE"}}

// VolumeAttachmentRow returns the cells of an attachment's row.
func VolumeAttachmentRow(va *storagev1.VolumeAttachment, now time.Time) []string {
	s := va.GetSpec()
	return []string{va.GetMetadata().GetName(), s.GetAttacher(), s.GetSource().GetPersistentVolumeName(), s.GetNodeName(),
		fmt.Sprint(va.GetStatus().GetAttached()), Age(va.GetMetadata().GetCreationTimestamp(), now)}
}

// AccessModes is kubectl's short form of a list of access modes
// ("RWO,ROX"), each once, in Kubernetes' order.
func AccessModes(modes []string) string {
	var out []string
	for _, m := range api.AccessModes {
		if slices.Contains(modes, m) {
			out = append(out, api.AccessModeAbbreviation(m))
		}
	}
	return strings.Join(out, ",")
}

// storageSize is the "storage" quantity of a capacity, "" when unset.
func storageSize(capacity map[string]*metav1.Quantity) string {
	if q, ok := capacity[api.ResourceStorage]; ok {
		return q.GetString_()
	}
	return ""
}

func orEmptyPVSpec(s *corev1.PersistentVolumeSpec) *corev1.PersistentVolumeSpec {
	if s == nil {
		return &corev1.PersistentVolumeSpec{}
	}
	return s
}

func orEmptyClaimSpec(s *corev1.PersistentVolumeClaimSpec) *corev1.PersistentVolumeClaimSpec {
	if s == nil {
		return &corev1.PersistentVolumeClaimSpec{}
	}
	return s
}

func phaseOrTerminating(phase string, deleting bool) string {
	if deleting {
		return "Terminating"
	}
	return phase
}

func volumeMode(m *string) string {
	if m == nil {
		return "<unset>"
	}
	return *m
}

// ---------------------------------------------------------------------------
// Descriptions

// RelatedPodsOfNamespace asks for every pod of namespace ns under
// RelatedPods (a claim's description picks those that mount it).
func RelatedPodsOfNamespace(ns string) []registry.Query {
	return []registry.Query{{Key: RelatedPods, Resource: "pods", Namespace: ns}}
}

// DescribePersistentVolume renders a PersistentVolume as `describe` does.
func DescribePersistentVolume(pv *corev1.PersistentVolume, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, spec, st := pv.GetMetadata(), orEmptyPVSpec(pv.GetSpec()), pv.GetStatus()
		w.head(m, false)
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Finalizers:\t[%s]", strings.Join(m.GetFinalizers(), " "))
		w.line(0, "StorageClass:\t%s", spec.GetStorageClassName())
		w.line(0, "Status:\t%s", phaseOrTerminating(st.GetPhase(), m.GetDeletionTimestamp() != nil))
		claim := ""
		if ref := spec.GetClaimRef(); ref != nil {
			claim = ref.GetNamespace() + "/" + ref.GetName()
		}
		w.line(0, "Claim:\t%s", claim)
		w.line(0, "Reclaim Policy:\t%s", spec.GetPersistentVolumeReclaimPolicy())
		w.line(0, "Access Modes:\t%s", AccessModes(spec.GetAccessModes()))
		w.line(0, "VolumeMode:\t%s", volumeMode(spec.VolumeMode))
		w.line(0, "Capacity:\t%s", storageSize(spec.GetCapacity()))
		w.volumeNodeAffinity(spec.GetNodeAffinity())
		w.line(0, "Message:\t%s", st.GetMessage())
		w.line(0, "Source:")
		w.persistentVolumeSource(spec)
		w.events()
	})
}

func (w *dw) volumeNodeAffinity(na *corev1.VolumeNodeAffinity) {
	if na == nil {
		w.line(0, "Node Affinity:\t<none>")
		return
	}
	w.line(0, "Node Affinity:")
	w.line(1, "Required Terms:")
	terms := na.GetRequired().GetNodeSelectorTerms()
	if len(terms) == 0 {
		w.line(2, "<none>")
	}
	for i, t := range terms {
		var reqs []string
		for _, r := range t.GetMatchExpressions() {
			reqs = append(reqs, nodeSelectorRequirement(r))
		}
		for _, r := range t.GetMatchFields() {
			reqs = append(reqs, nodeSelectorRequirement(r))
		}
		w.multi(2, fmt.Sprintf("Term %d", i), reqs)
	}
}

// nodeSelectorRequirement is kubectl's "key in [a, b]".
func nodeSelectorRequirement(r *corev1.NodeSelectorRequirement) string {
	op := strings.ToLower(r.GetOperator())
	switch op {
	case "exists", "doesnotexist":
		return r.GetKey() + " " + op
	}
	return fmt.Sprintf("%s %s [%s]", r.GetKey(), op, strings.Join(r.GetValues(), ", "))
}

func (w *dw) persistentVolumeSource(spec *corev1.PersistentVolumeSpec) {
	switch {
	case spec.GetHostPath() != nil:
		s := spec.GetHostPath()
		w.line(1, "Type:\tHostPath (bare host directory volume)")
		w.line(1, "Path:\t%s", s.GetPath())
		w.line(1, "HostPathType:\t%s", s.GetType())
	case spec.GetLocal() != nil:
		w.line(1, "Type:\tLocalVolume (a persistent volume backed by local storage on a node)")
		w.line(1, "Path:\t%s", spec.GetLocal().GetPath())
	case spec.GetNfs() != nil:
		s := spec.GetNfs()
		w.line(1, "Type:\tNFS (an NFS mount that lasts the lifetime of a pod)")
		w.line(1, "Server:\t%s", s.GetServer())
		w.line(1, "Path:\t%s", s.GetPath())
		w.line(1, "ReadOnly:\t%t", s.GetReadOnly())
	case spec.GetCsi() != nil:
		s := spec.GetCsi()
		w.line(1, "Type:\tCSI (a Container Storage Interface (CSI) volume source)")
		w.line(1, "Driver:\t%s", s.GetDriver())
		w.line(1, "FSType:\t%s", s.GetFsType())
		w.line(1, "VolumeHandle:\t%s", s.GetVolumeHandle())
		w.line(1, "ReadOnly:\t%t", s.GetReadOnly())
		w.line(1, "VolumeAttributes:")
		for _, k := range sortedKeys(s.GetVolumeAttributes()) {
			w.line(3, "%s=%s", k, s.GetVolumeAttributes()[k])
		}
	default:
		w.line(1, "Type:\t<unknown>")
	}
}

// DescribePersistentVolumeClaim renders a PersistentVolumeClaim as
// `describe` does, with "Used By:" the pods whose volumes name it (from
// the namespace's pods, RelatedPodsOfNamespace).
func DescribePersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, spec, st := pvc.GetMetadata(), orEmptyClaimSpec(pvc.GetSpec()), pvc.GetStatus()
		w.head(m, true)
		w.line(0, "StorageClass:\t%s", spec.GetStorageClassName())
		w.line(0, "Status:\t%s", phaseOrTerminating(st.GetPhase(), m.GetDeletionTimestamp() != nil))
		w.line(0, "Volume:\t%s", spec.GetVolumeName())
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Finalizers:\t[%s]", strings.Join(m.GetFinalizers(), " "))
		w.line(0, "Capacity:\t%s", storageSize(st.GetCapacity()))
		w.line(0, "Access Modes:\t%s", AccessModes(st.GetAccessModes()))
		w.line(0, "VolumeMode:\t%s", volumeMode(spec.VolumeMode))
		w.controlledBy(m)
		w.multi(0, "Used By", PodsUsingClaim(related[*corev1.Pod](in, RelatedPods), m.GetName()))
		if cs := st.GetConditions(); len(cs) > 0 {
			w.line(0, "Conditions:")
			w.line(1, "Type\tStatus\tLastProbeTime\tLastTransitionTime\tReason\tMessage")
			w.line(1, "----\t------\t-----------------\t------------------\t------\t-------")
			for _, c := range cs {
				w.line(1, "%s\t%s\t%s\t%s\t%s\t%s", c.GetType(), c.GetStatus(), w.time(c.GetLastProbeTime()),
					w.time(c.GetLastTransitionTime()), c.GetReason(), c.GetMessage())
			}
		}
		w.events()
	})
}

// PodsUsingClaim returns the names, sorted, of the pods among pods with a
// volume naming the claim (pods of the claim's namespace).
func PodsUsingClaim(pods []*corev1.Pod, claim string) []string {
	var out []string
	for _, p := range pods {
		for _, v := range p.GetSpec().GetVolumes() {
			if v.GetPersistentVolumeClaim().GetClaimName() == claim {
				out = append(out, p.GetMetadata().GetName())
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// DescribeStorageClass renders a StorageClass as `describe` does.
func DescribeStorageClass(sc *storagev1.StorageClass, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m := sc.GetMetadata()
		w.line(0, "Name:\t%s", m.GetName())
		w.line(0, "IsDefaultClass:\t%s", map[bool]string{true: "Yes", false: "No"}[api.IsDefaultStorageClass(sc)])
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Provisioner:\t%s", sc.GetProvisioner())
		var params []string
		for _, k := range sortedKeys(sc.GetParameters()) {
			params = append(params, k+"="+sc.GetParameters()[k])
		}
		w.line(0, "Parameters:\t%s", orNone(strings.Join(params, ",")))
		expansion := "<unset>"
		if sc.AllowVolumeExpansion != nil {
			expansion = fmt.Sprint(sc.GetAllowVolumeExpansion())
		}
		w.line(0, "AllowVolumeExpansion:\t%s", expansion)
		w.line(0, "MountOptions:\t%s", orNone(strings.Join(sc.GetMountOptions(), ", ")))
		w.line(0, "ReclaimPolicy:\t%s", reclaimPolicy(sc))
		w.line(0, "VolumeBindingMode:\t%s", bindingMode(sc))
		if ts := sc.GetAllowedTopologies(); len(ts) > 0 {
			w.line(0, "AllowedTopologies:")
			for i, t := range ts {
				var reqs []string
				for _, e := range t.GetMatchLabelExpressions() {
					reqs = append(reqs, fmt.Sprintf("%s in [%s]", e.GetKey(), strings.Join(e.GetValues(), ", ")))
				}
				w.multi(1, fmt.Sprintf("Term %d", i), reqs)
			}
		}
		w.events()
	})
}

// DescribeCSIDriver renders a CSIDriver: its spec's settings.
func DescribeCSIDriver(d *storagev1.CSIDriver, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, s := d.GetMetadata(), d.GetSpec()
		w.head(m, false)
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Spec:")
		w.line(1, "Attach Required:\t%t", s.GetAttachRequired())
		w.line(1, "Pod Info On Mount:\t%t", s.GetPodInfoOnMount())
		w.line(1, "Storage Capacity:\t%t", s.GetStorageCapacity())
		w.line(1, "Requires Republish:\t%t", s.GetRequiresRepublish())
		w.line(1, "Fs Group Policy:\t%s", s.GetFsGroupPolicy())
		w.multi(1, "Volume Lifecycle Modes", s.GetVolumeLifecycleModes())
		var tokens []string
		for _, t := range s.GetTokenRequests() {
			tokens = append(tokens, fmt.Sprintf("%s (%ds)", t.GetAudience(), t.GetExpirationSeconds()))
		}
		w.multi(1, "Token Requests", tokens)
		w.events()
	})
}

// DescribeCSINode renders a CSINode: each registered driver with its node
// ID, allocatable count and topology keys.
func DescribeCSINode(n *storagev1.CSINode, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m := n.GetMetadata()
		w.head(m, false)
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "CreationTimestamp:\t%s", w.time(m.GetCreationTimestamp()))
		w.line(0, "Spec:")
		if len(n.GetSpec().GetDrivers()) == 0 {
			w.line(1, "Drivers:\t<none>")
		} else {
			w.line(1, "Drivers:")
		}
		for _, d := range n.GetSpec().GetDrivers() {
			w.line(2, "%s:", d.GetName())
			w.line(3, "Node ID:\t%s", d.GetNodeId())
			if a := d.GetAllocatable(); a != nil && a.Count != nil {
				w.line(3, "Allocatables:")
				w.line(4, "Count:\t%d", a.GetCount())
			}
			w.multi(3, "Topology Keys", d.GetTopologyKeys())
		}
		w.events()
	})
}

// DescribeVolumeAttachment renders a VolumeAttachment: what is attached
// where, and the attacher's answer.
func DescribeVolumeAttachment(va *storagev1.VolumeAttachment, in registry.DescribeInput) string {
	return render(in, func(w *dw) {
		m, s, st := va.GetMetadata(), va.GetSpec(), va.GetStatus()
		w.head(m, false)
		w.labels(0, "Labels", m.GetLabels())
		w.annotations(0, m.GetAnnotations())
		w.line(0, "Attacher:\t%s", s.GetAttacher())
		w.line(0, "Node:\t%s", s.GetNodeName())
		w.line(0, "Persistent Volume:\t%s", s.GetSource().GetPersistentVolumeName())
		w.line(0, "Attached:\t%t", st.GetAttached())
		if e := st.GetAttachError(); e != nil {
			w.line(0, "Attach Error:\t%s (%s)", e.GetMessage(), w.time(e.GetTime()))
		}
		if e := st.GetDetachError(); e != nil {
			w.line(0, "Detach Error:\t%s (%s)", e.GetMessage(), w.time(e.GetTime()))
		}
		w.events()
	})
}
