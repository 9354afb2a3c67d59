package validation

import (
	"fmt"
	"maps"
	"path"
	"slices"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
)

// The checks of the storage kinds: PersistentVolume and
// PersistentVolumeClaim (v1), StorageClass, CSIDriver, CSINode and
// VolumeAttachment (storage.k8s.io/v1), with Kubernetes' rules and field
// paths.

func PersistentVolume(pv *corev1.PersistentVolume) field.ErrorList {
	return validatePersistentVolumeSpec(pv.GetSpec(), field.NewPath("spec"))
}

// PersistentVolumeUpdate: the volume's source, mode and node affinity are
// fixed at creation; its capacity, class, claim and reclaim policy may
// change.
func PersistentVolumeUpdate(pv, old *corev1.PersistentVolume) field.ErrorList {
	p := field.NewPath("spec")
	spec, oldSpec := pv.GetSpec(), old.GetSpec()
	var allErrs field.ErrorList
	if !proto.Equal(volumeSource(spec), volumeSource(oldSpec)) {
		allErrs = append(allErrs, field.Forbidden(p.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
	}
	if spec.GetVolumeMode() != oldSpec.GetVolumeMode() {
		allErrs = append(allErrs, field.Invalid(p.Child("volumeMode"), spec.GetVolumeMode(), "field is immutable"))
	}
	if oldSpec.GetNodeAffinity() != nil && !proto.Equal(spec.GetNodeAffinity(), oldSpec.GetNodeAffinity()) {
		allErrs = append(allErrs, field.Invalid(p.Child("nodeAffinity"), "", "field is immutable"))
	}
	return allErrs
}

func PersistentVolumeStatus(pv, _ *corev1.PersistentVolume) field.ErrorList {
	s := pv.GetStatus()
	return validateEnum(s.GetPhase(), statusPath.Child("phase"), "",
		api.VolumePending, api.VolumeAvailable, api.VolumeBound, api.VolumeReleased, api.VolumeFailed)
}

// volumeSource is the spec's source fields alone, for comparison.
func volumeSource(s *corev1.PersistentVolumeSpec) *corev1.PersistentVolumeSpec {
	return &corev1.PersistentVolumeSpec{HostPath: s.GetHostPath(), Local: s.GetLocal(), Nfs: s.GetNfs(), Csi: s.GetCsi()}
}

var reclaimPolicies = []string{api.PersistentVolumeReclaimRetain, api.PersistentVolumeReclaimDelete, api.PersistentVolumeReclaimRecycle}

func validatePersistentVolumeSpec(spec *corev1.PersistentVolumeSpec, p *field.Path) field.ErrorList {
	if spec == nil {
		spec = &corev1.PersistentVolumeSpec{}
	}
	var allErrs field.ErrorList
	allErrs = append(allErrs, validateAccessModes(spec.GetAccessModes(), p.Child("accessModes"))...)

	cp := p.Child("capacity")
	capacity := spec.GetCapacity()
	storage, ok := capacity[api.ResourceStorage]
	switch {
	case len(capacity) == 0:
		allErrs = append(allErrs, field.Required(cp, ""))
	case !ok || len(capacity) > 1:
		allErrs = append(allErrs, field.NotSupported(cp, sortedKeys(capacity), []string{api.ResourceStorage}))
	}
	if ok {
		allErrs = append(allErrs, validatePositiveQuantity(storage, cp.Key(api.ResourceStorage))...)
	}

	rp := p.Child("persistentVolumeReclaimPolicy")
	switch policy := spec.GetPersistentVolumeReclaimPolicy(); policy {
	case api.PersistentVolumeReclaimRecycle:
		allErrs = append(allErrs, field.Invalid(rp, policy, "the Recycle reclaim policy is not supported (it is deprecated in Kubernetes): use Retain, or Delete with a dynamic provisioner"))
	default:
		allErrs = append(allErrs, validateEnum(policy, rp, reclaimPolicies...)...)
	}
	if sc := spec.GetStorageClassName(); sc != "" {
		allErrs = append(allErrs, DNS1123Subdomain(sc, p.Child("storageClassName"))...)
	}
	allErrs = append(allErrs, validateOptionalEnum(spec.VolumeMode, p.Child("volumeMode"), api.PersistentVolumeFilesystem, api.PersistentVolumeBlock)...)
	if ref := spec.GetClaimRef(); ref != nil && ref.GetName() == "" {
		allErrs = append(allErrs, field.Required(p.Child("claimRef", "name"), ""))
	}
	if na := spec.GetNodeAffinity(); na != nil {
		allErrs = append(allErrs, validateVolumeNodeAffinity(na, p.Child("nodeAffinity"))...)
	}

	// Exactly one source.
	var sources int
	one := func(name string) {
		sources++
		if sources > 1 {
			allErrs = append(allErrs, field.Forbidden(p.Child(name), "may not specify more than 1 volume type"))
		}
	}
	if hp := spec.GetHostPath(); hp != nil {
		one("hostPath")
		hpp := p.Child("hostPath")
		if hp.GetPath() == "" {
			allErrs = append(allErrs, field.Required(hpp.Child("path"), ""))
		} else if hasDotDotElement(hp.GetPath()) {
			allErrs = append(allErrs, field.Invalid(hpp.Child("path"), hp.GetPath(), "must not contain '..'"))
		}
		allErrs = append(allErrs, validateOptionalEnum(hp.Type, hpp.Child("type"), hostPathTypes...)...)
	}
	if l := spec.GetLocal(); l != nil {
		one("local")
		allErrs = append(allErrs, validateAbsolutePath(l.GetPath(), p.Child("local", "path"))...)
		if spec.GetNodeAffinity() == nil {
			allErrs = append(allErrs, field.Required(p.Child("nodeAffinity"), "Local volumes require node affinity"))
		}
	}
	if n := spec.GetNfs(); n != nil {
		one("nfs")
		np := p.Child("nfs")
		if n.GetServer() == "" {
			allErrs = append(allErrs, field.Required(np.Child("server"), ""))
		}
		allErrs = append(allErrs, validateAbsolutePath(n.GetPath(), np.Child("path"))...)
	}
	if c := spec.GetCsi(); c != nil {
		one("csi")
		allErrs = append(allErrs, validateCSIPersistentVolumeSource(c, p.Child("csi"))...)
	}
	if sources == 0 {
		allErrs = append(allErrs, field.Required(p, "must specify a volume type"))
	}
	if len(spec.GetMountOptions()) > 0 && (spec.GetHostPath() != nil || spec.GetLocal() != nil) {
		allErrs = append(allErrs, field.Forbidden(p.Child("mountOptions"), "may not specify mount options for this volume type"))
	}
	return allErrs
}

// validateAccessModes: at least one known mode, and ReadWriteOncePod
// alone.
func validateAccessModes(modes []string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(modes) == 0 {
		allErrs = append(allErrs, field.Required(p, "at least 1 access mode is required"))
	}
	for i, m := range modes {
		allErrs = append(allErrs, validateEnum(m, p.Index(i), api.AccessModes...)...)
	}
	if len(modes) > 1 && slices.Contains(modes, api.ReadWriteOncePod) {
		allErrs = append(allErrs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return allErrs
}

// validatePositiveQuantity: a quantity greater than zero.
func validatePositiveQuantity(q *metav1.Quantity, p *field.Path) field.ErrorList {
	v, err := resource.ParseQuantity(q.GetString_())
	if err != nil {
		return field.ErrorList{field.Invalid(p, q.GetString_(), err.Error())}
	}
	if v.Sign() <= 0 {
		return field.ErrorList{field.Invalid(p, q.GetString_(), "must be greater than zero")}
	}
	return nil
}

func validateAbsolutePath(pth string, p *field.Path) field.ErrorList {
	switch {
	case pth == "":
		return field.ErrorList{field.Required(p, "")}
	case !path.IsAbs(pth):
		return field.ErrorList{field.Invalid(p, pth, "must be an absolute path")}
	case hasDotDotElement(pth):
		return field.ErrorList{field.Invalid(p, pth, "must not contain '..'")}
	}
	return nil
}

func validateVolumeNodeAffinity(na *corev1.VolumeNodeAffinity, p *field.Path) field.ErrorList {
	rp := p.Child("required")
	if na.GetRequired() == nil {
		return field.ErrorList{field.Required(rp, "must specify required node constraints")}
	}
	tp := rp.Child("nodeSelectorTerms")
	terms := na.GetRequired().GetNodeSelectorTerms()
	if len(terms) == 0 {
		return field.ErrorList{field.Required(tp, "must have at least one node selector term")}
	}
	var allErrs field.ErrorList
	for i, t := range terms {
		allErrs = append(allErrs, validateNodeSelectorTerm(t, tp.Index(i))...)
	}
	return allErrs
}

// validateCSIDriverName: a DNS-1123 subdomain of at most 63 characters.
func validateCSIDriverName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if len(name) > 63 {
		return field.ErrorList{field.TooLong(p, name, 63)}
	}
	return DNS1123Subdomain(name, p)
}

func validateCSIPersistentVolumeSource(c *corev1.CSIPersistentVolumeSource, p *field.Path) field.ErrorList {
	allErrs := validateCSIDriverName(c.GetDriver(), p.Child("driver"))
	if c.GetVolumeHandle() == "" {
		allErrs = append(allErrs, field.Required(p.Child("volumeHandle"), ""))
	}
	refs := []struct {
		name string
		ref  *corev1.SecretReference
	}{
		{"controllerPublishSecretRef", c.GetControllerPublishSecretRef()}, {"nodeStageSecretRef", c.GetNodeStageSecretRef()},
		{"nodePublishSecretRef", c.GetNodePublishSecretRef()}, {"controllerExpandSecretRef", c.GetControllerExpandSecretRef()},
		{"nodeExpandSecretRef", c.GetNodeExpandSecretRef()},
	}
	for _, r := range refs {
		if r.ref == nil {
			continue
		}
		rp := p.Child(r.name)
		if r.ref.GetName() == "" {
			allErrs = append(allErrs, field.Required(rp.Child("name"), ""))
		} else {
			allErrs = append(allErrs, DNS1123Subdomain(r.ref.GetName(), rp.Child("name"))...)
		}
		if r.ref.GetNamespace() == "" {
			allErrs = append(allErrs, field.Required(rp.Child("namespace"), ""))
		} else {
			allErrs = append(allErrs, validateDNS1123Label(r.ref.GetNamespace(), rp.Child("namespace"))...)
		}
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// PersistentVolumeClaim

func PersistentVolumeClaim(pvc *corev1.PersistentVolumeClaim) field.ErrorList {
	return validatePersistentVolumeClaimSpec(pvc.GetSpec(), field.NewPath("spec"))
}

// PersistentVolumeClaimUpdate: the spec is fixed at creation but for an
// increase of resources.requests.storage, a volumeName set once (binding)
// and a storageClassName set once on an unbound claim that had none (a
// default class given afterwards), as Kubernetes allows.
func PersistentVolumeClaimUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	p := field.NewPath("spec")
	spec, oldSpec := pvc.GetSpec(), old.GetSpec()
	var allErrs field.ErrorList
	rp := p.Child("resources", "requests").Key(api.ResourceStorage)
	newSize, errNew := resource.ParseQuantity(spec.GetResources().GetRequests()[api.ResourceStorage].GetString_())
	oldSize, errOld := resource.ParseQuantity(oldSpec.GetResources().GetRequests()[api.ResourceStorage].GetString_())
	if errNew == nil && errOld == nil && newSize.Cmp(oldSize) < 0 {
		allErrs = append(allErrs, field.Forbidden(rp, "field can not be less than previous value"))
	}

	munged := proto.Clone(orEmptyClaimSpec(spec)).(*corev1.PersistentVolumeClaimSpec)
	oldMunged := proto.Clone(orEmptyClaimSpec(oldSpec)).(*corev1.PersistentVolumeClaimSpec)
	for _, s := range []*corev1.PersistentVolumeClaimSpec{munged, oldMunged} {
		if s.Resources != nil {
			delete(s.Resources.Requests, api.ResourceStorage)
		}
	}
	if oldMunged.GetVolumeName() == "" {
		oldMunged.VolumeName = munged.GetVolumeName()
	}
	if oldMunged.StorageClassName == nil && oldSpec.GetVolumeName() == "" {
		oldMunged.StorageClassName = munged.StorageClassName
	}
	if !proto.Equal(munged, oldMunged) {
		allErrs = append(allErrs, field.Forbidden(p, "spec is immutable after creation except resources.requests[storage] (which may only grow) and volumeName (which may be set once)"))
	}
	return allErrs
}

func orEmptyClaimSpec(s *corev1.PersistentVolumeClaimSpec) *corev1.PersistentVolumeClaimSpec {
	if s == nil {
		return &corev1.PersistentVolumeClaimSpec{}
	}
	return s
}

func PersistentVolumeClaimStatus(pvc, _ *corev1.PersistentVolumeClaim) field.ErrorList {
	s := pvc.GetStatus()
	allErrs := validateEnum(s.GetPhase(), statusPath.Child("phase"), "", api.ClaimPending, api.ClaimBound, api.ClaimLost)
	for i, m := range s.GetAccessModes() {
		allErrs = append(allErrs, validateEnum(m, statusPath.Child("accessModes").Index(i), api.AccessModes...)...)
	}
	for _, name := range sortedKeys(s.GetCapacity()) {
		allErrs = append(allErrs, validateQuantity(s.GetCapacity()[name], statusPath.Child("capacity").Key(name))...)
	}
	for i, c := range s.GetConditions() {
		cp := statusPath.Child("conditions").Index(i)
		if c.GetType() == "" {
			allErrs = append(allErrs, field.Required(cp.Child("type"), ""))
		}
		allErrs = append(allErrs, validateConditionStatus(c.GetStatus(), cp.Child("status"))...)
	}
	return allErrs
}

// validatePersistentVolumeClaimSpec checks a claim's spec, of a claim or
// of a StatefulSet's claim template.
func validatePersistentVolumeClaimSpec(spec *corev1.PersistentVolumeClaimSpec, p *field.Path) field.ErrorList {
	spec = orEmptyClaimSpec(spec)
	allErrs := validateAccessModes(spec.GetAccessModes(), p.Child("accessModes"))
	allErrs = append(allErrs, validateLabelSelector(spec.GetSelector(), p.Child("selector"))...)
	rp := p.Child("resources", "requests").Key(api.ResourceStorage)
	if storage, ok := spec.GetResources().GetRequests()[api.ResourceStorage]; !ok {
		allErrs = append(allErrs, field.Required(rp, ""))
	} else {
		allErrs = append(allErrs, validatePositiveQuantity(storage, rp)...)
	}
	if sc := spec.GetStorageClassName(); sc != "" {
		allErrs = append(allErrs, DNS1123Subdomain(sc, p.Child("storageClassName"))...)
	}
	return append(allErrs, validateOptionalEnum(spec.VolumeMode, p.Child("volumeMode"), api.PersistentVolumeFilesystem, api.PersistentVolumeBlock)...)
}

// ---------------------------------------------------------------------------
// StorageClass

func StorageClass(sc *storagev1.StorageClass) field.ErrorList {
	var allErrs field.ErrorList
	if sc.GetProvisioner() == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("provisioner"), ""))
	} else if len(sc.GetProvisioner()) > 255 {
		allErrs = append(allErrs, field.TooLong(field.NewPath("provisioner"), sc.GetProvisioner(), 255))
	} else {
		allErrs = append(allErrs, validateQualifiedName(sc.GetProvisioner(), field.NewPath("provisioner"))...)
	}
	for _, k := range sortedKeys(sc.GetParameters()) {
		if k == "" {
			allErrs = append(allErrs, field.Invalid(field.NewPath("parameters"), k, "key may not be empty"))
		}
	}
	allErrs = append(allErrs, validateOptionalEnum(sc.ReclaimPolicy, field.NewPath("reclaimPolicy"),
		api.PersistentVolumeReclaimDelete, api.PersistentVolumeReclaimRetain)...)
	allErrs = append(allErrs, validateOptionalEnum(sc.VolumeBindingMode, field.NewPath("volumeBindingMode"),
		api.VolumeBindingImmediate, api.VolumeBindingWaitForFirstConsumer)...)
	tp := field.NewPath("allowedTopologies")
	for i, t := range sc.GetAllowedTopologies() {
		ep := tp.Index(i).Child("matchLabelExpressions")
		if len(t.GetMatchLabelExpressions()) == 0 {
			allErrs = append(allErrs, field.Required(ep, "must have at least one label expression"))
		}
		for j, e := range t.GetMatchLabelExpressions() {
			allErrs = append(allErrs, validateQualifiedName(e.GetKey(), ep.Index(j).Child("key"))...)
			if len(e.GetValues()) == 0 {
				allErrs = append(allErrs, field.Required(ep.Index(j).Child("values"), "must specify as least one value"))
			}
			for k, v := range e.GetValues() {
				if slices.Index(e.GetValues(), v) < k {
					allErrs = append(allErrs, field.Duplicate(ep.Index(j).Child("values").Index(k), v))
				}
			}
		}
	}
	return allErrs
}

// StorageClassUpdate: parameters, provisioner, reclaimPolicy and
// volumeBindingMode are fixed at creation.
func StorageClassUpdate(sc, old *storagev1.StorageClass) field.ErrorList {
	var allErrs field.ErrorList
	if !maps.Equal(sc.GetParameters(), old.GetParameters()) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("parameters"), "updates to parameters are forbidden."))
	}
	if sc.GetProvisioner() != old.GetProvisioner() {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("provisioner"), "updates to provisioner are forbidden."))
	}
	if sc.GetReclaimPolicy() != old.GetReclaimPolicy() {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	if sc.GetVolumeBindingMode() != old.GetVolumeBindingMode() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("volumeBindingMode"), sc.GetVolumeBindingMode(), "field is immutable"))
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// CSIDriver, CSINode, VolumeAttachment

func CSIDriver(d *storagev1.CSIDriver) field.ErrorList {
	p := field.NewPath("spec")
	spec := d.GetSpec()
	allErrs := validateCSIDriverName(d.GetMetadata().GetName(), field.NewPath("metadata", "name"))
	for i, m := range spec.GetVolumeLifecycleModes() {
		allErrs = append(allErrs, validateEnum(m, p.Child("volumeLifecycleModes").Index(i), api.VolumeLifecyclePersistent, api.VolumeLifecycleEphemeral)...)
	}
	allErrs = append(allErrs, validateOptionalEnum(spec.FsGroupPolicy, p.Child("fsGroupPolicy"),
		api.ReadWriteOnceWithFSTypeFSGroupPolicy, api.FileFSGroupPolicy, api.NoneFSGroupPolicy)...)
	var audiences []string
	for i, t := range spec.GetTokenRequests() {
		tp := p.Child("tokenRequests").Index(i)
		if slices.Contains(audiences, t.GetAudience()) {
			allErrs = append(allErrs, field.Duplicate(tp.Child("audience"), t.GetAudience()))
		}
		audiences = append(audiences, t.GetAudience())
		if t.ExpirationSeconds != nil && (t.GetExpirationSeconds() < 600 || t.GetExpirationSeconds() >= 1<<32) {
			allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), t.GetExpirationSeconds(), "may not be less than 10 minutes or longer than 4294967296 seconds"))
		}
	}
	return allErrs
}

// CSIDriverUpdate: attachRequired and volumeLifecycleModes are fixed at
// creation.
func CSIDriverUpdate(d, old *storagev1.CSIDriver) field.ErrorList {
	var allErrs field.ErrorList
	p := field.NewPath("spec")
	if d.GetSpec().GetAttachRequired() != old.GetSpec().GetAttachRequired() {
		allErrs = append(allErrs, field.Invalid(p.Child("attachRequired"), d.GetSpec().GetAttachRequired(), "field is immutable"))
	}
	if !slices.Equal(d.GetSpec().GetVolumeLifecycleModes(), old.GetSpec().GetVolumeLifecycleModes()) {
		allErrs = append(allErrs, field.Invalid(p.Child("volumeLifecycleModes"), d.GetSpec().GetVolumeLifecycleModes(), "field is immutable"))
	}
	return allErrs
}

func CSINode(n *storagev1.CSINode) field.ErrorList {
	p := field.NewPath("spec", "drivers")
	var allErrs field.ErrorList
	var names []string
	for i, d := range n.GetSpec().GetDrivers() {
		dp := p.Index(i)
		allErrs = append(allErrs, validateCSIDriverName(d.GetName(), dp.Child("name"))...)
		if slices.Contains(names, d.GetName()) {
			allErrs = append(allErrs, field.Duplicate(dp.Child("name"), d.GetName()))
		}
		names = append(names, d.GetName())
		switch {
		case d.GetNodeId() == "":
			allErrs = append(allErrs, field.Required(dp.Child("nodeID"), ""))
		case len(d.GetNodeId()) > 192:
			allErrs = append(allErrs, field.TooLong(dp.Child("nodeID"), d.GetNodeId(), 192))
		}
		for j, k := range d.GetTopologyKeys() {
			kp := dp.Child("topologyKeys").Index(j)
			if slices.Index(d.GetTopologyKeys(), k) < j {
				allErrs = append(allErrs, field.Duplicate(kp, k))
			}
			allErrs = append(allErrs, validateQualifiedName(k, kp)...)
		}
		if a := d.GetAllocatable(); a != nil && a.Count != nil {
			allErrs = append(allErrs, validateNonnegative(int64(a.GetCount()), dp.Child("allocatable", "count"))...)
		}
	}
	return allErrs
}

// CSINodeUpdate: drivers may come and go, but a driver's nodeID,
// topologyKeys and allocatable stay as they were registered.
func CSINodeUpdate(n, old *storagev1.CSINode) field.ErrorList {
	var allErrs field.ErrorList
	p := field.NewPath("spec", "drivers")
	for i, d := range n.GetSpec().GetDrivers() {
		for _, od := range old.GetSpec().GetDrivers() {
			if od.GetName() != d.GetName() {
				continue
			}
			dp := p.Index(i)
			if d.GetNodeId() != od.GetNodeId() {
				allErrs = append(allErrs, field.Invalid(dp.Child("nodeID"), d.GetNodeId(), "field is immutable"))
			}
			if !slices.Equal(d.GetTopologyKeys(), od.GetTopologyKeys()) {
				allErrs = append(allErrs, field.Invalid(dp.Child("topologyKeys"), d.GetTopologyKeys(), "field is immutable"))
			}
			if !proto.Equal(d.GetAllocatable(), od.GetAllocatable()) {
				allErrs = append(allErrs, field.Invalid(dp.Child("allocatable"), fmt.Sprint(d.GetAllocatable().GetCount()), "field is immutable"))
			}
		}
	}
	return allErrs
}

func VolumeAttachment(va *storagev1.VolumeAttachment) field.ErrorList {
	p := field.NewPath("spec")
	spec := va.GetSpec()
	allErrs := validateCSIDriverName(spec.GetAttacher(), p.Child("attacher"))
	if spec.GetNodeName() == "" {
		allErrs = append(allErrs, field.Required(p.Child("nodeName"), ""))
	} else {
		allErrs = append(allErrs, DNS1123Subdomain(spec.GetNodeName(), p.Child("nodeName"))...)
	}
	sp := p.Child("source")
	if spec.GetSource() == nil || spec.GetSource().PersistentVolumeName == nil {
		allErrs = append(allErrs, field.Required(sp, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
	} else if name := spec.GetSource().GetPersistentVolumeName(); name == "" {
		allErrs = append(allErrs, field.Required(sp.Child("persistentVolumeName"), "must specify non empty persistentVolumeName"))
	} else {
		allErrs = append(allErrs, DNS1123Subdomain(name, sp.Child("persistentVolumeName"))...)
	}
	return allErrs
}

// VolumeAttachmentUpdate: the spec is fixed at creation.
func VolumeAttachmentUpdate(va, old *storagev1.VolumeAttachment) field.ErrorList {
	if !proto.Equal(va.GetSpec(), old.GetSpec()) {
		return field.ErrorList{field.Invalid(field.NewPath("spec"), "", "field is immutable")}
	}
	return nil
}

func VolumeAttachmentStatus(va, _ *storagev1.VolumeAttachment) field.ErrorList {
	var allErrs field.ErrorList
	for _, k := range sortedKeys(va.GetStatus().GetAttachmentMetadata()) {
		if k == "" {
			allErrs = append(allErrs, field.Invalid(statusPath.Child("attachmentMetadata"), k, "key may not be empty"))
		}
	}
	return allErrs
}
