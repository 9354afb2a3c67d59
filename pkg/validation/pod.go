package validation

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/api/resource"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func validatePod(pod *corev1.Pod) field.ErrorList {
	allErrs := validatePodSpec(pod.GetSpec(), field.NewPath("spec"))
	if pod.GetSpec().GetNodeName() != "" && len(pod.GetSpec().GetSchedulingGates()) > 0 {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return allErrs
}

// validatePodTemplate checks a workload's template: labels/annotations and
// the pod spec at <p>.spec.
func validatePodTemplate(t *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	if t == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	allErrs := validateTemplateMeta(t.GetMetadata(), p.Child("metadata"))
	return append(allErrs, validatePodSpec(t.GetSpec(), p.Child("spec"))...)
}

// validatePodSpec checks everything about a pod spec that does not depend on
// other objects.
func validatePodSpec(spec *corev1.PodSpec, p *field.Path) field.ErrorList {
	if spec == nil {
		return field.ErrorList{field.Required(p, "")}
	}
	var allErrs field.ErrorList
	volumes, errs := validateVolumes(spec.GetVolumes(), p.Child("volumes"))
	allErrs = append(allErrs, errs...)

	if len(spec.GetContainers()) == 0 {
		allErrs = append(allErrs, field.Required(p.Child("containers"), "must have at least one container"))
	}
	// Container names are unique across init and app containers.
	names := map[string]bool{}
	for i, c := range spec.GetInitContainers() {
		cp := p.Child("initContainers").Index(i)
		allErrs = append(allErrs, validateContainer(c, volumes, spec.GetHostNetwork(), true, cp)...)
		allErrs = append(allErrs, checkDuplicateName(names, c.GetName(), cp.Child("name"))...)
	}
	for i, c := range spec.GetContainers() {
		cp := p.Child("containers").Index(i)
		allErrs = append(allErrs, validateContainer(c, volumes, spec.GetHostNetwork(), false, cp)...)
		allErrs = append(allErrs, checkDuplicateName(names, c.GetName(), cp.Child("name"))...)
	}

	allErrs = append(allErrs, validateEnum(spec.GetRestartPolicy(), p.Child("restartPolicy"), "", api.RestartPolicyAlways, api.RestartPolicyOnFailure, api.RestartPolicyNever)...)
	allErrs = append(allErrs, validateEnum(spec.GetDnsPolicy(), p.Child("dnsPolicy"), "", api.DNSClusterFirst, api.DNSClusterFirstWithHostNet, api.DNSDefault, api.DNSNone)...)
	allErrs = append(allErrs, validateDNSConfig(spec.GetDnsConfig(), spec.GetDnsPolicy(), p.Child("dnsConfig"))...)
	allErrs = append(allErrs, validateLabels(spec.GetNodeSelector(), p.Child("nodeSelector"))...)
	if spec.GetNodeName() != "" {
		allErrs = append(allErrs, DNS1123Subdomain(spec.GetNodeName(), p.Child("nodeName"))...)
	}
	if spec.GetServiceAccountName() != "" {
		allErrs = append(allErrs, DNS1123Subdomain(spec.GetServiceAccountName(), p.Child("serviceAccountName"))...)
	}
	if spec.GetSchedulerName() != "" {
		allErrs = append(allErrs, DNS1123Subdomain(spec.GetSchedulerName(), p.Child("schedulerName"))...)
	}
	if spec.GetPriorityClassName() != "" {
		allErrs = append(allErrs, DNS1123Subdomain(spec.GetPriorityClassName(), p.Child("priorityClassName"))...)
	}
	allErrs = append(allErrs, validateOptionalEnum(spec.PreemptionPolicy, p.Child("preemptionPolicy"), api.PreemptLowerPriority, api.PreemptNever)...)
	if spec.GetHostname() != "" {
		allErrs = append(allErrs, validateDNS1123Label(spec.GetHostname(), p.Child("hostname"))...)
	}
	if spec.GetSubdomain() != "" {
		allErrs = append(allErrs, validateDNS1123Label(spec.GetSubdomain(), p.Child("subdomain"))...)
	}
	if spec.TerminationGracePeriodSeconds != nil {
		allErrs = append(allErrs, validateNonnegative(spec.GetTerminationGracePeriodSeconds(), p.Child("terminationGracePeriodSeconds"))...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, validatePositive(spec.GetActiveDeadlineSeconds(), p.Child("activeDeadlineSeconds"))...)
	}
	allErrs = append(allErrs, validatePodSecurityContext(spec.GetSecurityContext(), p.Child("securityContext"))...)
	for i, s := range spec.GetImagePullSecrets() {
		if s.GetName() == "" {
			allErrs = append(allErrs, field.Required(p.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	allErrs = append(allErrs, validateAffinity(spec.GetAffinity(), p.Child("affinity"))...)
	allErrs = append(allErrs, validateTolerations(spec.GetTolerations(), p.Child("tolerations"))...)
	allErrs = append(allErrs, validateTopologySpreadConstraints(spec.GetTopologySpreadConstraints(), p.Child("topologySpreadConstraints"))...)
	for i, a := range spec.GetHostAliases() {
		ap := p.Child("hostAliases").Index(i)
		allErrs = append(allErrs, validateIP(a.GetIp(), ap.Child("ip"))...)
		for j, h := range a.GetHostnames() {
			allErrs = append(allErrs, DNS1123Subdomain(h, ap.Child("hostnames").Index(j))...)
		}
	}
	for i, g := range spec.GetReadinessGates() {
		allErrs = append(allErrs, validateQualifiedName(g.GetConditionType(), p.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	gates := map[string]bool{}
	for i, g := range spec.GetSchedulingGates() {
		gp := p.Child("schedulingGates").Index(i)
		allErrs = append(allErrs, validateQualifiedName(g.GetName(), gp.Child("name"))...)
		if gates[g.GetName()] {
			allErrs = append(allErrs, field.Duplicate(gp, g.GetName()))
		}
		gates[g.GetName()] = true
	}
	if spec.RuntimeClassName != nil {
		allErrs = append(allErrs, DNS1123Subdomain(spec.GetRuntimeClassName(), p.Child("runtimeClassName"))...)
	}
	allErrs = append(allErrs, validateResourceList(spec.GetOverhead(), p.Child("overhead"))...)
	if spec.GetOs() != nil {
		allErrs = append(allErrs, validateEnum(spec.GetOs().GetName(), p.Child("os", "name"), "linux", "windows")...)
	}
	return allErrs
}

func checkDuplicateName(seen map[string]bool, name string, p *field.Path) field.ErrorList {
	if name == "" {
		return nil
	}
	if seen[name] {
		return field.ErrorList{field.Duplicate(p, name)}
	}
	seen[name] = true
	return nil
}

// ---------------------------------------------------------------------------
// Volumes

var hostPathTypes = []string{"", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"}

// validateVolumes checks volumes and returns the set of valid volume names.
func validateVolumes(vols []*corev1.Volume, p *field.Path) (map[string]bool, field.ErrorList) {
	var allErrs field.ErrorList
	names := map[string]bool{}
	for i, v := range vols {
		vp := p.Index(i)
		if v.GetName() == "" {
			allErrs = append(allErrs, field.Required(vp.Child("name"), ""))
		} else if errs := validateDNS1123Label(v.GetName(), vp.Child("name")); len(errs) > 0 {
			allErrs = append(allErrs, errs...)
		} else if names[v.GetName()] {
			allErrs = append(allErrs, field.Duplicate(vp.Child("name"), v.GetName()))
		} else {
			names[v.GetName()] = true
		}

		var sources []string
		if hp := v.GetHostPath(); hp != nil {
			sources = append(sources, "hostPath")
			hpp := vp.Child("hostPath")
			if hp.GetPath() == "" {
				allErrs = append(allErrs, field.Required(hpp.Child("path"), ""))
			} else if strings.Contains(hp.GetPath(), "..") && hasDotDotElement(hp.GetPath()) {
				allErrs = append(allErrs, field.Invalid(hpp.Child("path"), hp.GetPath(), "must not contain '..'"))
			}
			allErrs = append(allErrs, validateOptionalEnum(hp.Type, hpp.Child("type"), hostPathTypes...)...)
		}
		if ed := v.GetEmptyDir(); ed != nil {
			sources = append(sources, "emptyDir")
			edp := vp.Child("emptyDir")
			allErrs = append(allErrs, validateEnum(ed.GetMedium(), edp.Child("medium"), "", "Memory")...)
			if ed.GetSizeLimit() != nil {
				allErrs = append(allErrs, validateQuantity(ed.GetSizeLimit(), edp.Child("sizeLimit"))...)
			}
		}
		if s := v.GetSecret(); s != nil {
			sources = append(sources, "secret")
			sp := vp.Child("secret")
			if s.GetSecretName() == "" {
				allErrs = append(allErrs, field.Required(sp.Child("secretName"), ""))
			} else {
				allErrs = append(allErrs, DNS1123Subdomain(s.GetSecretName(), sp.Child("secretName"))...)
			}
			allErrs = append(allErrs, validateKeyToPaths(s.GetItems(), s.DefaultMode, sp)...)
		}
		if c := v.GetConfigMap(); c != nil {
			sources = append(sources, "configMap")
			cp := vp.Child("configMap")
			if c.GetName() == "" {
				allErrs = append(allErrs, field.Required(cp.Child("name"), ""))
			} else {
				allErrs = append(allErrs, DNS1123Subdomain(c.GetName(), cp.Child("name"))...)
			}
			allErrs = append(allErrs, validateKeyToPaths(c.GetItems(), c.DefaultMode, cp)...)
		}
		if pr := v.GetProjected(); pr != nil {
			sources = append(sources, "projected")
			allErrs = append(allErrs, validateProjected(pr, vp.Child("projected"))...)
		}
		if pvc := v.GetPersistentVolumeClaim(); pvc != nil {
			sources = append(sources, "persistentVolumeClaim")
			if pvc.GetClaimName() == "" {
				allErrs = append(allErrs, field.Required(vp.Child("persistentVolumeClaim", "claimName"), ""))
			}
		}
		if n := v.GetNfs(); n != nil {
			sources = append(sources, "nfs")
			np := vp.Child("nfs")
			if n.GetServer() == "" {
				allErrs = append(allErrs, field.Required(np.Child("server"), ""))
			}
			allErrs = append(allErrs, validateAbsolutePath(n.GetPath(), np.Child("path"))...)
		}
		if d := v.GetDownwardApi(); d != nil {
			sources = append(sources, "downwardAPI")
			dp := vp.Child("downwardAPI")
			if d.DefaultMode != nil {
				allErrs = append(allErrs, validateFileMode(d.GetDefaultMode(), dp.Child("defaultMode"))...)
			}
			for j, f := range d.GetItems() {
				allErrs = append(allErrs, validateDownwardAPIFile(f, dp.Child("items").Index(j))...)
			}
		}
		switch {
		case len(sources) == 0:
			allErrs = append(allErrs, field.Required(vp, "must specify a volume type"))
		case len(sources) > 1:
			allErrs = append(allErrs, field.Forbidden(vp.Child(sources[1]), "may not specify more than 1 volume type"))
		}
	}
	return names, allErrs
}

// minTokenExpirationSeconds is the shortest lifetime a projected
// service account token may ask for, as in Kubernetes.
const minTokenExpirationSeconds = 600

// validateProjected checks a projected volume: each source sets exactly
// one kind, and no two sources write the same path.
func validateProjected(pr *corev1.ProjectedVolumeSource, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if pr.DefaultMode != nil {
		allErrs = append(allErrs, validateFileMode(pr.GetDefaultMode(), p.Child("defaultMode"))...)
	}
	paths := map[string]bool{}
	addPath := func(pth string, fp *field.Path) {
		if pth == "" {
			return
		}
		if paths[pth] {
			allErrs = append(allErrs, field.Invalid(fp, pth, "conflicting duplicate paths"))
		}
		paths[pth] = true
	}
	for i, src := range pr.GetSources() {
		sp := p.Child("sources").Index(i)
		var kinds []string
		if s := src.GetSecret(); s != nil {
			kinds = append(kinds, "secret")
			allErrs = append(allErrs, validateProjectedObject(s.GetName(), s.GetItems(), sp.Child("secret"))...)
			for j, it := range s.GetItems() {
				addPath(it.GetPath(), sp.Child("secret", "items").Index(j).Child("path"))
			}
		}
		if c := src.GetConfigMap(); c != nil {
			kinds = append(kinds, "configMap")
			allErrs = append(allErrs, validateProjectedObject(c.GetName(), c.GetItems(), sp.Child("configMap"))...)
			for j, it := range c.GetItems() {
				addPath(it.GetPath(), sp.Child("configMap", "items").Index(j).Child("path"))
			}
		}
		if d := src.GetDownwardApi(); d != nil {
			kinds = append(kinds, "downwardAPI")
			for j, f := range d.GetItems() {
				fp := sp.Child("downwardAPI", "items").Index(j)
				allErrs = append(allErrs, validateDownwardAPIFile(f, fp)...)
				addPath(f.GetPath(), fp.Child("path"))
			}
		}
		if t := src.GetServiceAccountToken(); t != nil {
			kinds = append(kinds, "serviceAccountToken")
			tp := sp.Child("serviceAccountToken")
			if t.ExpirationSeconds != nil && t.GetExpirationSeconds() < minTokenExpirationSeconds {
				allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), t.GetExpirationSeconds(),
					fmt.Sprintf("may not specify a duration less than %d seconds", minTokenExpirationSeconds)))
			}
			allErrs = append(allErrs, validateVolumeFilePath(t.GetPath(), tp.Child("path"))...)
			addPath(t.GetPath(), tp.Child("path"))
		}
		switch {
		case len(kinds) == 0:
			allErrs = append(allErrs, field.Required(sp, "must specify a source type"))
		case len(kinds) > 1:
			allErrs = append(allErrs, field.Forbidden(sp.Child(kinds[1]), "may not specify more than 1 volume type per source"))
		}
	}
	return allErrs
}

// validateProjectedObject checks the secret or configMap source of a
// projected volume.
func validateProjectedObject(name string, items []*corev1.KeyToPath, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if name == "" {
		allErrs = append(allErrs, field.Required(p.Child("name"), ""))
	} else {
		allErrs = append(allErrs, DNS1123Subdomain(name, p.Child("name"))...)
	}
	return append(allErrs, validateKeyToPaths(items, nil, p)...)
}

// downwardAPIVolumePaths are the pod fields a downward API file may hold
// (besides metadata.labels['k'] and metadata.annotations['k']).
var downwardAPIVolumePaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations",
}

func validateDownwardAPIFile(f *corev1.DownwardAPIVolumeFile, p *field.Path) field.ErrorList {
	allErrs := validateVolumeFilePath(f.GetPath(), p.Child("path"))
	if f.Mode != nil {
		allErrs = append(allErrs, validateFileMode(f.GetMode(), p.Child("mode"))...)
	}
	var sources []string
	if fr := f.GetFieldRef(); fr != nil {
		sources = append(sources, "fieldRef")
		fp := p.Child("fieldRef")
		allErrs = append(allErrs, validateEnum(fr.GetApiVersion(), fp.Child("apiVersion"), "", "v1")...)
		if fpth := fr.GetFieldPath(); strings.HasPrefix(fpth, "metadata.labels[") || strings.HasPrefix(fpth, "metadata.annotations[") {
			allErrs = append(allErrs, validateFieldRefPath(fpth, fp.Child("fieldPath"))...)
		} else {
			allErrs = append(allErrs, validateEnum(fpth, fp.Child("fieldPath"), downwardAPIVolumePaths...)...)
		}
	}
	if rf := f.GetResourceFieldRef(); rf != nil {
		sources = append(sources, "resourceFieldRef")
		allErrs = append(allErrs, validateResourceFieldRef(rf, true, p.Child("resourceFieldRef"))...)
	}
	switch {
	case len(sources) == 0:
		allErrs = append(allErrs, field.Required(p, "one of `fieldRef` and `resourceFieldRef` must be specified"))
	case len(sources) > 1:
		allErrs = append(allErrs, field.Invalid(p.Child(sources[1]), "", "may not have more than one field specified at a time"))
	}
	return allErrs
}

func validateKeyToPaths(items []*corev1.KeyToPath, defaultMode *int32, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if defaultMode != nil {
		allErrs = append(allErrs, validateFileMode(*defaultMode, p.Child("defaultMode"))...)
	}
	for i, it := range items {
		ip := p.Child("items").Index(i)
		if it.GetKey() == "" {
			allErrs = append(allErrs, field.Required(ip.Child("key"), ""))
		} else {
			for _, msg := range utilvalidation.IsConfigMapKey(it.GetKey()) {
				allErrs = append(allErrs, field.Invalid(ip.Child("key"), it.GetKey(), msg))
			}
		}
		allErrs = append(allErrs, validateVolumeFilePath(it.GetPath(), ip.Child("path"))...)
		if it.Mode != nil {
			allErrs = append(allErrs, validateFileMode(it.GetMode(), ip.Child("mode"))...)
		}
	}
	return allErrs
}

func validateFileMode(mode int32, p *field.Path) field.ErrorList {
	if mode < 0 || mode > 0o777 {
		return field.ErrorList{field.Invalid(p, mode, "must be a number between 0 and 0777 (octal), both inclusive")}
	}
	return nil
}

func hasDotDotElement(pth string) bool {
	for _, e := range strings.Split(pth, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// validateVolumeFilePath checks the path of a file a volume writes (an
// item of a configMap, secret or downward API volume, a token): required,
// below the volume, and not starting with "..", the names the kubelet's
// atomic writer keeps for itself.
func validateVolumeFilePath(pth string, p *field.Path) field.ErrorList {
	allErrs := validateLocalDescendingPath(pth, true, p)
	if strings.HasPrefix(pth, "..") && !hasDotDotElement(pth) {
		allErrs = append(allErrs, field.Invalid(p, pth, "must not start with '..'"))
	}
	return allErrs
}

// validateLocalDescendingPath checks a relative path that must stay below
// its base: not absolute, no ".." element.
func validateLocalDescendingPath(pth string, required bool, p *field.Path) field.ErrorList {
	if pth == "" {
		if required {
			return field.ErrorList{field.Required(p, "")}
		}
		return nil
	}
	var allErrs field.ErrorList
	if path.IsAbs(pth) {
		allErrs = append(allErrs, field.Invalid(p, pth, "must be a relative path"))
	}
	if hasDotDotElement(pth) {
		allErrs = append(allErrs, field.Invalid(p, pth, "must not contain '..'"))
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// Containers

func validateContainer(c *corev1.Container, volumes map[string]bool, hostNetwork, isInit bool, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if c.GetName() == "" {
		allErrs = append(allErrs, field.Required(p.Child("name"), ""))
	} else {
		allErrs = append(allErrs, validateDNS1123Label(c.GetName(), p.Child("name"))...)
	}
	if strings.TrimSpace(c.GetImage()) == "" {
		allErrs = append(allErrs, field.Required(p.Child("image"), ""))
	} else if c.GetImage() != strings.TrimSpace(c.GetImage()) {
		allErrs = append(allErrs, field.Invalid(p.Child("image"), c.GetImage(), "must not have leading or trailing whitespace"))
	}
	allErrs = append(allErrs, validateEnum(c.GetImagePullPolicy(), p.Child("imagePullPolicy"), "", api.PullAlways, api.PullIfNotPresent, api.PullNever)...)
	allErrs = append(allErrs, validateEnum(c.GetTerminationMessagePolicy(), p.Child("terminationMessagePolicy"), "", "File", "FallbackToLogsOnError")...)
	allErrs = append(allErrs, validateContainerPorts(c.GetPorts(), hostNetwork, p.Child("ports"))...)
	allErrs = append(allErrs, validateEnv(c.GetEnv(), p.Child("env"))...)
	allErrs = append(allErrs, validateEnvFrom(c.GetEnvFrom(), p.Child("envFrom"))...)
	allErrs = append(allErrs, validateResources(c.GetResources(), p.Child("resources"))...)
	allErrs = append(allErrs, validateVolumeMounts(c.GetVolumeMounts(), volumes, p.Child("volumeMounts"))...)
	allErrs = append(allErrs, validateSecurityContext(c.GetSecurityContext(), p.Child("securityContext"))...)
	allErrs = append(allErrs, validateResizePolicy(c.GetResizePolicy(), p.Child("resizePolicy"))...)

	sidecar := isInit && c.GetRestartPolicy() == api.ContainerRestartPolicyAlways
	if c.RestartPolicy != nil {
		switch {
		case !isInit:
			allErrs = append(allErrs, field.Forbidden(p.Child("restartPolicy"), "may not be set for non-init containers"))
		case c.GetRestartPolicy() != api.ContainerRestartPolicyAlways:
			allErrs = append(allErrs, field.NotSupported(p.Child("restartPolicy"), c.GetRestartPolicy(), []string{api.ContainerRestartPolicyAlways}))
		}
	}
	if isInit && !sidecar {
		// Plain init containers run to completion: no probes, no lifecycle.
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"livenessProbe", c.GetLivenessProbe() != nil}, {"readinessProbe", c.GetReadinessProbe() != nil},
			{"startupProbe", c.GetStartupProbe() != nil}, {"lifecycle", c.GetLifecycle() != nil},
			{"resizePolicy", len(c.GetResizePolicy()) > 0},
		} {
			if f.set {
				allErrs = append(allErrs, field.Forbidden(p.Child(f.name), "may not be set for init containers without restartPolicy=Always"))
			}
		}
	} else {
		allErrs = append(allErrs, validateProbe(c.GetLivenessProbe(), true, p.Child("livenessProbe"))...)
		allErrs = append(allErrs, validateProbe(c.GetReadinessProbe(), false, p.Child("readinessProbe"))...)
		allErrs = append(allErrs, validateProbe(c.GetStartupProbe(), true, p.Child("startupProbe"))...)
		if rp := c.GetReadinessProbe(); rp != nil && rp.TerminationGracePeriodSeconds != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("readinessProbe", "terminationGracePeriodSeconds"),
				c.GetReadinessProbe().GetTerminationGracePeriodSeconds(), "must not be set for readinessProbes"))
		}
		if lc := c.GetLifecycle(); lc != nil {
			allErrs = append(allErrs, validateLifecycleHandler(lc.GetPostStart(), p.Child("lifecycle", "postStart"))...)
			allErrs = append(allErrs, validateLifecycleHandler(lc.GetPreStop(), p.Child("lifecycle", "preStop"))...)
		}
	}
	return allErrs
}

func validateContainerPorts(ports []*corev1.ContainerPort, hostNetwork bool, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	names := map[string]bool{}
	for i, port := range ports {
		pp := p.Index(i)
		if port.GetName() != "" {
			for _, msg := range utilvalidation.IsValidPortName(port.GetName()) {
				allErrs = append(allErrs, field.Invalid(pp.Child("name"), port.GetName(), msg))
			}
			if names[port.GetName()] {
				allErrs = append(allErrs, field.Duplicate(pp.Child("name"), port.GetName()))
			}
			names[port.GetName()] = true
		}
		if port.GetContainerPort() == 0 {
			allErrs = append(allErrs, field.Required(pp.Child("containerPort"), ""))
		} else {
			allErrs = append(allErrs, validatePortNum(port.GetContainerPort(), pp.Child("containerPort"))...)
		}
		if port.GetHostPort() != 0 {
			allErrs = append(allErrs, validatePortNum(port.GetHostPort(), pp.Child("hostPort"))...)
			if hostNetwork && port.GetHostPort() != port.GetContainerPort() {
				allErrs = append(allErrs, field.Invalid(pp.Child("hostPort"), port.GetHostPort(), "must match `containerPort` when `hostNetwork` is true"))
			}
		}
		allErrs = append(allErrs, validateEnum(port.GetProtocol(), pp.Child("protocol"), "", api.ProtocolTCP, api.ProtocolUDP, api.ProtocolSCTP)...)
		if port.GetHostIp() != "" {
			allErrs = append(allErrs, validateIP(port.GetHostIp(), pp.Child("hostIP"))...)
		}
	}
	return allErrs
}

func validateEnvVarName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsEnvVarName(name) {
		allErrs = append(allErrs, field.Invalid(p, name, msg))
	}
	return allErrs
}

// fieldRefPaths are the pod fields an env var may reference (besides
// metadata.labels['k'] and metadata.annotations['k']).
var fieldRefPaths = []string{
	"metadata.name", "metadata.namespace", "metadata.uid",
	"spec.nodeName", "spec.serviceAccountName",
	"status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs",
}

var resourceFieldRefs = []string{
	"limits.cpu", "limits.memory", "limits.ephemeral-storage",
	"requests.cpu", "requests.memory", "requests.ephemeral-storage",
}

func validateEnv(env []*corev1.EnvVar, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, e := range env {
		ep := p.Index(i)
		allErrs = append(allErrs, validateEnvVarName(e.GetName(), ep.Child("name"))...)
		vf := e.GetValueFrom()
		if vf == nil {
			continue
		}
		vp := ep.Child("valueFrom")
		if e.GetValue() != "" {
			allErrs = append(allErrs, field.Invalid(vp, "", "may not be specified when `value` is not empty"))
		}
		var sources []string
		if fr := vf.GetFieldRef(); fr != nil {
			sources = append(sources, "fieldRef")
			fp := vp.Child("fieldRef")
			allErrs = append(allErrs, validateEnum(fr.GetApiVersion(), fp.Child("apiVersion"), "", "v1")...)
			allErrs = append(allErrs, validateFieldRefPath(fr.GetFieldPath(), fp.Child("fieldPath"))...)
		}
		if rf := vf.GetResourceFieldRef(); rf != nil {
			sources = append(sources, "resourceFieldRef")
			allErrs = append(allErrs, validateResourceFieldRef(rf, false, vp.Child("resourceFieldRef"))...)
		}
		if ref := vf.GetConfigMapKeyRef(); ref != nil {
			sources = append(sources, "configMapKeyRef")
			allErrs = append(allErrs, validateKeySelector(ref.GetName(), ref.GetKey(), vp.Child("configMapKeyRef"))...)
		}
		if ref := vf.GetSecretKeyRef(); ref != nil {
			sources = append(sources, "secretKeyRef")
			allErrs = append(allErrs, validateKeySelector(ref.GetName(), ref.GetKey(), vp.Child("secretKeyRef"))...)
		}
		switch {
		case len(sources) == 0:
			allErrs = append(allErrs, field.Invalid(vp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"))
		case len(sources) > 1:
			allErrs = append(allErrs, field.Invalid(vp.Child(sources[1]), "", "may not have more than one field specified at a time"))
		}
	}
	return allErrs
}

// Divisors a resourceFieldRef may use, by resource, as in Kubernetes.
var (
	cpuDivisors  = []string{"1m", "1"}
	sizeDivisors = []string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}
)

// validateResourceFieldRef checks a resourceFieldRef of an env var or (with
// containerRequired) of a downward API file: the resource is one of
// resourceFieldRefs, and the divisor one Kubernetes allows for it.
func validateResourceFieldRef(rf *corev1.ResourceFieldSelector, containerRequired bool, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case rf.GetContainerName() != "":
		allErrs = append(allErrs, validateDNS1123Label(rf.GetContainerName(), p.Child("containerName"))...)
	case containerRequired:
		allErrs = append(allErrs, field.Required(p.Child("containerName"), ""))
	}
	res := rf.GetResource()
	if res == "" {
		return append(allErrs, field.Required(p.Child("resource"), ""))
	}
	if errs := validateEnum(res, p.Child("resource"), resourceFieldRefs...); len(errs) > 0 {
		return append(allErrs, errs...)
	}
	d := rf.GetDivisor().GetString_()
	if d == "" {
		return allErrs
	}
	if errs := validateQuantity(rf.GetDivisor(), p.Child("divisor")); len(errs) > 0 {
		return append(allErrs, errs...)
	}
	q := resource.MustParse(d)
	if q.IsZero() {
		return allErrs // unset
	}
	if strings.HasSuffix(res, ".cpu") {
		if !slices.Contains(cpuDivisors, q.String()) {
			allErrs = append(allErrs, field.Invalid(p.Child("divisor"), res, "only divisor's values 1m and 1 are supported with the cpu resource"))
		}
	} else if !slices.Contains(sizeDivisors, q.String()) {
		kind := "memory"
		if strings.HasSuffix(res, ".ephemeral-storage") {
			kind = "local ephemeral storage"
		}
		allErrs = append(allErrs, field.Invalid(p.Child("divisor"), res,
			fmt.Sprintf("only divisor's values %s are supported with the %s resource", strings.Join(sizeDivisors, ", "), kind)))
	}
	return allErrs
}

func validateFieldRefPath(fp string, p *field.Path) field.ErrorList {
	if fp == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	for _, prefix := range []string{"metadata.labels", "metadata.annotations"} {
		if rest, ok := strings.CutPrefix(fp, prefix); ok {
			if !strings.HasPrefix(rest, "['") || !strings.HasSuffix(rest, "']") || len(rest) < 5 {
				return field.ErrorList{field.Invalid(p, fp, fmt.Sprintf("must be %s['<key>'] in an env var", prefix))}
			}
			return validateQualifiedName(strings.ToLower(rest[2:len(rest)-2]), p)
		}
	}
	return validateEnum(fp, p, fieldRefPaths...)
}

func validateKeySelector(name, key string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if name == "" {
		allErrs = append(allErrs, field.Required(p.Child("name"), ""))
	} else {
		allErrs = append(allErrs, DNS1123Subdomain(name, p.Child("name"))...)
	}
	if key == "" {
		allErrs = append(allErrs, field.Required(p.Child("key"), ""))
	} else {
		for _, msg := range utilvalidation.IsConfigMapKey(key) {
			allErrs = append(allErrs, field.Invalid(p.Child("key"), key, msg))
		}
	}
	return allErrs
}

func validateEnvFrom(from []*corev1.EnvFromSource, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, f := range from {
		fp := p.Index(i)
		if f.GetPrefix() != "" {
			for _, msg := range utilvalidation.IsEnvVarName(f.GetPrefix()) {
				allErrs = append(allErrs, field.Invalid(fp.Child("prefix"), f.GetPrefix(), msg))
			}
		}
		n := 0
		if r := f.GetConfigMapRef(); r != nil {
			n++
			if r.GetName() == "" {
				allErrs = append(allErrs, field.Required(fp.Child("configMapRef", "name"), ""))
			} else {
				allErrs = append(allErrs, DNS1123Subdomain(r.GetName(), fp.Child("configMapRef", "name"))...)
			}
		}
		if r := f.GetSecretRef(); r != nil {
			n++
			if r.GetName() == "" {
				allErrs = append(allErrs, field.Required(fp.Child("secretRef", "name"), ""))
			} else {
				allErrs = append(allErrs, DNS1123Subdomain(r.GetName(), fp.Child("secretRef", "name"))...)
			}
		}
		switch n {
		case 0:
			allErrs = append(allErrs, field.Invalid(fp, "", "must specify one of: `configMapRef` or `secretRef`"))
		case 2:
			allErrs = append(allErrs, field.Invalid(fp, "", "may not have more than one field specified at a time"))
		}
	}
	return allErrs
}

func validateVolumeMounts(mounts []*corev1.VolumeMount, volumes map[string]bool, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	paths := map[string]bool{}
	for i, m := range mounts {
		mp := p.Index(i)
		if m.GetName() == "" {
			allErrs = append(allErrs, field.Required(mp.Child("name"), ""))
		} else if !volumes[m.GetName()] {
			allErrs = append(allErrs, field.NotFound(mp.Child("name"), m.GetName()))
		}
		if m.GetMountPath() == "" {
			allErrs = append(allErrs, field.Required(mp.Child("mountPath"), ""))
		} else if paths[m.GetMountPath()] {
			allErrs = append(allErrs, field.Invalid(mp.Child("mountPath"), m.GetMountPath(), "must be unique"))
		} else {
			paths[m.GetMountPath()] = true
		}
		allErrs = append(allErrs, validateLocalDescendingPath(m.GetSubPath(), false, mp.Child("subPath"))...)
		allErrs = append(allErrs, validateLocalDescendingPath(m.GetSubPathExpr(), false, mp.Child("subPathExpr"))...)
		if m.GetSubPath() != "" && m.GetSubPathExpr() != "" {
			allErrs = append(allErrs, field.Invalid(mp.Child("subPathExpr"), m.GetSubPathExpr(), "subPathExpr and subPath are mutually exclusive"))
		}
		allErrs = append(allErrs, validateOptionalEnum(m.MountPropagation, mp.Child("mountPropagation"), api.MountPropagationNone, api.MountPropagationHostToContainer, api.MountPropagationBidirectional)...)
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// Resources

// validateQuantity checks that q parses and is not negative.
func validateQuantity(q *metav1.Quantity, p *field.Path) field.ErrorList {
	v, err := resource.ParseQuantity(q.GetString_())
	if err != nil {
		return field.ErrorList{field.Invalid(p, q.GetString_(), err.Error())}
	}
	if v.Sign() < 0 {
		return field.ErrorList{field.Invalid(p, q.GetString_(), "must be greater than or equal to 0")}
	}
	return nil
}

// validateResourceName accepts the standard container resources and
// domain-prefixed extended resources.
func validateResourceName(name string, p *field.Path) field.ErrorList {
	if strings.Contains(name, "/") {
		return validateQualifiedName(name, p)
	}
	switch {
	case name == api.ResourceCPU, name == api.ResourceMemory, name == api.ResourceEphemeralStorage, name == api.ResourcePods, name == api.ResourceStorage:
		return nil
	case strings.HasPrefix(name, "hugepages-"):
		if _, err := resource.ParseQuantity(strings.TrimPrefix(name, "hugepages-")); err == nil {
			return nil
		}
	}
	return field.ErrorList{field.Invalid(p, name, "must be a standard resource (cpu, memory, ephemeral-storage, hugepages-<size>) or a domain-prefixed extended resource")}
}

// validateResourceList checks each name and quantity, path <p>[name].
func validateResourceList(list map[string]*metav1.Quantity, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, name := range sortedKeys(list) {
		allErrs = append(allErrs, validateResourceName(name, p.Key(name))...)
		allErrs = append(allErrs, validateQuantity(list[name], p.Key(name))...)
	}
	return allErrs
}

func validateResources(r *corev1.ResourceRequirements, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	allErrs := validateResourceList(r.GetLimits(), p.Child("limits"))
	allErrs = append(allErrs, validateResourceList(r.GetRequests(), p.Child("requests"))...)
	for _, name := range sortedKeys(r.GetRequests()) {
		lim, ok := r.GetLimits()[name]
		if !ok {
			continue
		}
		rq, err1 := resource.ParseQuantity(r.GetRequests()[name].GetString_())
		lq, err2 := resource.ParseQuantity(lim.GetString_())
		if err1 != nil || err2 != nil {
			continue // reported above
		}
		if rq.Cmp(lq) > 0 {
			allErrs = append(allErrs, field.Invalid(p.Child("requests").Key(name), rq.String(),
				fmt.Sprintf("must be less than or equal to %s limit of %s", name, lq.String())))
		}
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// Probes and handlers

func validateProbe(pr *corev1.Probe, successMustBeOne bool, p *field.Path) field.ErrorList {
	if pr == nil {
		return nil
	}
	var allErrs field.ErrorList
	var handlers []string
	if pr.GetExec() != nil {
		handlers = append(handlers, "exec")
		allErrs = append(allErrs, validateExec(pr.GetExec(), p.Child("exec"))...)
	}
	if pr.GetHttpGet() != nil {
		handlers = append(handlers, "httpGet")
		allErrs = append(allErrs, validateHTTPGet(pr.GetHttpGet(), p.Child("httpGet"))...)
	}
	if pr.GetTcpSocket() != nil {
		handlers = append(handlers, "tcpSocket")
		allErrs = append(allErrs, validatePortNumOrName(pr.GetTcpSocket().GetPort(), p.Child("tcpSocket", "port"))...)
	}
	if pr.GetGrpc() != nil {
		handlers = append(handlers, "grpc")
		allErrs = append(allErrs, validatePortNum(pr.GetGrpc().GetPort(), p.Child("grpc", "port"))...)
	}
	allErrs = append(allErrs, handlerCount(handlers, p)...)
	allErrs = append(allErrs, validateNonnegative(int64(pr.GetInitialDelaySeconds()), p.Child("initialDelaySeconds"))...)
	allErrs = append(allErrs, validateNonnegative(int64(pr.GetTimeoutSeconds()), p.Child("timeoutSeconds"))...)
	allErrs = append(allErrs, validateNonnegative(int64(pr.GetPeriodSeconds()), p.Child("periodSeconds"))...)
	allErrs = append(allErrs, validateNonnegative(int64(pr.GetSuccessThreshold()), p.Child("successThreshold"))...)
	allErrs = append(allErrs, validateNonnegative(int64(pr.GetFailureThreshold()), p.Child("failureThreshold"))...)
	if successMustBeOne && pr.GetSuccessThreshold() > 1 {
		allErrs = append(allErrs, field.Invalid(p.Child("successThreshold"), pr.GetSuccessThreshold(), "must be 1"))
	}
	if pr.TerminationGracePeriodSeconds != nil {
		allErrs = append(allErrs, validatePositive(pr.GetTerminationGracePeriodSeconds(), p.Child("terminationGracePeriodSeconds"))...)
	}
	return allErrs
}

func handlerCount(handlers []string, p *field.Path) field.ErrorList {
	switch {
	case len(handlers) == 0:
		return field.ErrorList{field.Required(p, "must specify a handler type")}
	case len(handlers) > 1:
		return field.ErrorList{field.Forbidden(p.Child(handlers[1]), "may not specify more than 1 handler type")}
	}
	return nil
}

func validateExec(e *corev1.ExecAction, p *field.Path) field.ErrorList {
	if len(e.GetCommand()) == 0 {
		return field.ErrorList{field.Required(p.Child("command"), "")}
	}
	return nil
}

func validateHTTPGet(h *corev1.HTTPGetAction, p *field.Path) field.ErrorList {
	allErrs := validatePortNumOrName(h.GetPort(), p.Child("port"))
	allErrs = append(allErrs, validateEnum(h.GetScheme(), p.Child("scheme"), "", "HTTP", "HTTPS")...)
	for i, hd := range h.GetHttpHeaders() {
		for _, msg := range utilvalidation.IsHTTPHeaderName(hd.GetName()) {
			allErrs = append(allErrs, field.Invalid(p.Child("httpHeaders").Index(i).Child("name"), hd.GetName(), msg))
		}
	}
	return allErrs
}

func validateLifecycleHandler(h *corev1.LifecycleHandler, p *field.Path) field.ErrorList {
	if h == nil {
		return nil
	}
	var allErrs field.ErrorList
	var handlers []string
	if h.GetExec() != nil {
		handlers = append(handlers, "exec")
		allErrs = append(allErrs, validateExec(h.GetExec(), p.Child("exec"))...)
	}
	if h.GetHttpGet() != nil {
		handlers = append(handlers, "httpGet")
		allErrs = append(allErrs, validateHTTPGet(h.GetHttpGet(), p.Child("httpGet"))...)
	}
	if h.GetTcpSocket() != nil {
		handlers = append(handlers, "tcpSocket")
		allErrs = append(allErrs, validatePortNumOrName(h.GetTcpSocket().GetPort(), p.Child("tcpSocket", "port"))...)
	}
	if h.GetSleep() != nil {
		handlers = append(handlers, "sleep")
		allErrs = append(allErrs, validateNonnegative(h.GetSleep().GetSeconds(), p.Child("sleep", "seconds"))...)
	}
	return append(allErrs, handlerCount(handlers, p)...)
}

// ---------------------------------------------------------------------------
// Security contexts

func validateIDs(runAsUser, runAsGroup *int64, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if runAsUser != nil {
		for _, msg := range utilvalidation.IsValidUserID(*runAsUser) {
			allErrs = append(allErrs, field.Invalid(p.Child("runAsUser"), *runAsUser, msg))
		}
	}
	if runAsGroup != nil {
		for _, msg := range utilvalidation.IsValidGroupID(*runAsGroup) {
			allErrs = append(allErrs, field.Invalid(p.Child("runAsGroup"), *runAsGroup, msg))
		}
	}
	return allErrs
}

func validateSeccomp(s *corev1.SeccompProfile, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	return validateProfile("seccomp", s.GetType(), s.LocalhostProfile, p)
}

func validateAppArmor(a *corev1.AppArmorProfile, p *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	return validateProfile("AppArmor", a.GetType(), a.LocalhostProfile, p)
}

// validateProfile checks a seccomp or AppArmor profile (what names it in
// messages): its type, and a localhostProfile exactly for Localhost.
func validateProfile(what, typ string, localhost *string, p *field.Path) field.ErrorList {
	allErrs := validateEnum(typ, p.Child("type"), "RuntimeDefault", "Unconfined", "Localhost")
	if typ == "Localhost" && (localhost == nil || strings.TrimSpace(*localhost) == "") {
		allErrs = append(allErrs, field.Required(p.Child("localhostProfile"), "must be set when "+what+" type is Localhost"))
	}
	if typ != "Localhost" && localhost != nil {
		allErrs = append(allErrs, field.Invalid(p.Child("localhostProfile"), *localhost, "can only be set when "+what+" type is Localhost"))
	}
	return allErrs
}

// validateResizePolicy: one entry per resource (cpu or memory), each with
// a restartPolicy NotRequired or RestartContainer.
func validateResizePolicy(rps []*corev1.ContainerResizePolicy, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[string]bool{}
	for i, rp := range rps {
		ip := p.Index(i)
		switch name := rp.GetResourceName(); {
		case name == "cpu" || name == "memory":
			if seen[name] {
				allErrs = append(allErrs, field.Duplicate(ip.Child("resourceName"), name))
			}
			seen[name] = true
		default:
			allErrs = append(allErrs, field.NotSupported(ip.Child("resourceName"), name, []string{"cpu", "memory"}))
		}
		allErrs = append(allErrs, validateEnum(rp.GetRestartPolicy(), ip.Child("restartPolicy"), "NotRequired", "RestartContainer")...)
	}
	return allErrs
}

func validatePodSecurityContext(sc *corev1.PodSecurityContext, p *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	allErrs := validateIDs(sc.RunAsUser, sc.RunAsGroup, p)
	for i, g := range sc.GetSupplementalGroups() {
		for _, msg := range utilvalidation.IsValidGroupID(g) {
			allErrs = append(allErrs, field.Invalid(p.Child("supplementalGroups").Index(i), g, msg))
		}
	}
	if sc.FsGroup != nil {
		for _, msg := range utilvalidation.IsValidGroupID(sc.GetFsGroup()) {
			allErrs = append(allErrs, field.Invalid(p.Child("fsGroup"), sc.GetFsGroup(), msg))
		}
	}
	allErrs = append(allErrs, validateOptionalEnum(sc.FsGroupChangePolicy, p.Child("fsGroupChangePolicy"), "OnRootMismatch", "Always")...)
	allErrs = append(allErrs, validateOptionalEnum(sc.SupplementalGroupsPolicy, p.Child("supplementalGroupsPolicy"), "Merge", "Strict")...)
	for i, s := range sc.GetSysctls() {
		if s.GetName() == "" {
			allErrs = append(allErrs, field.Required(p.Child("sysctls").Index(i).Child("name"), ""))
		}
	}
	allErrs = append(allErrs, validateAppArmor(sc.GetAppArmorProfile(), p.Child("appArmorProfile"))...)
	return append(allErrs, validateSeccomp(sc.GetSeccompProfile(), p.Child("seccompProfile"))...)
}

func validateSecurityContext(sc *corev1.SecurityContext, p *field.Path) field.ErrorList {
	if sc == nil {
		return nil
	}
	allErrs := validateIDs(sc.RunAsUser, sc.RunAsGroup, p)
	if sc.GetPrivileged() && sc.AllowPrivilegeEscalation != nil && !sc.GetAllowPrivilegeEscalation() {
		allErrs = append(allErrs, field.Invalid(p.Child("allowPrivilegeEscalation"), false, "cannot set `allowPrivilegeEscalation` to false and `privileged` to true"))
	}
	allErrs = append(allErrs, validateOptionalEnum(sc.ProcMount, p.Child("procMount"), "Default", "Unmasked")...)
	allErrs = append(allErrs, validateAppArmor(sc.GetAppArmorProfile(), p.Child("appArmorProfile"))...)
	return append(allErrs, validateSeccomp(sc.GetSeccompProfile(), p.Child("seccompProfile"))...)
}

// ---------------------------------------------------------------------------
// DNS

func validateDNSConfig(c *corev1.PodDNSConfig, policy string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if policy == api.DNSNone {
		if c == nil {
			return field.ErrorList{field.Required(p, "must provide `dnsConfig` when `dnsPolicy` is None")}
		}
		if len(c.GetNameservers()) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("nameservers"), "must provide at least one DNS nameserver when `dnsPolicy` is None"))
		}
	}
	if c == nil {
		return allErrs
	}
	if len(c.GetNameservers()) > 3 {
		allErrs = append(allErrs, field.TooMany(p.Child("nameservers"), len(c.GetNameservers()), 3))
	}
	for i, ns := range c.GetNameservers() {
		allErrs = append(allErrs, validateIP(ns, p.Child("nameservers").Index(i))...)
	}
	if len(c.GetSearches()) > 32 {
		allErrs = append(allErrs, field.TooMany(p.Child("searches"), len(c.GetSearches()), 32))
	}
	for i, s := range c.GetSearches() {
		allErrs = append(allErrs, DNS1123Subdomain(strings.TrimSuffix(s, "."), p.Child("searches").Index(i))...)
	}
	for i, o := range c.GetOptions() {
		if o.GetName() == "" {
			allErrs = append(allErrs, field.Required(p.Child("options").Index(i).Child("name"), ""))
		}
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// Scheduling constraints

func validateTolerations(tols []*corev1.Toleration, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range tols {
		tp := p.Index(i)
		if t.GetKey() != "" {
			allErrs = append(allErrs, validateQualifiedName(t.GetKey(), tp.Child("key"))...)
		}
		switch t.GetOperator() {
		case "", api.TolerationOpEqual:
			if t.GetKey() == "" {
				allErrs = append(allErrs, field.Invalid(tp.Child("operator"), t.GetOperator(), "operator must be Exists when `key` is empty, which means \"match all values and all keys\""))
			}
			for _, msg := range utilvalidation.IsValidLabelValue(t.GetValue()) {
				allErrs = append(allErrs, field.Invalid(tp.Child("value"), t.GetValue(), msg))
			}
		case api.TolerationOpExists:
			if t.GetValue() != "" {
				allErrs = append(allErrs, field.Invalid(tp.Child("value"), t.GetValue(), "value must be empty when `operator` is 'Exists'"))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(tp.Child("operator"), t.GetOperator(), []string{api.TolerationOpEqual, api.TolerationOpExists}))
		}
		allErrs = append(allErrs, validateEnum(t.GetEffect(), tp.Child("effect"), "", api.TaintEffectNoSchedule, api.TaintEffectPreferNoSchedule, api.TaintEffectNoExecute)...)
		if t.TolerationSeconds != nil && t.GetEffect() != api.TaintEffectNoExecute {
			allErrs = append(allErrs, field.Invalid(tp.Child("effect"), t.GetEffect(), "effect must be 'NoExecute' when `tolerationSeconds` is set"))
		}
	}
	return allErrs
}

func validateAffinity(a *corev1.Affinity, p *field.Path) field.ErrorList {
	if a == nil {
		return nil
	}
	var allErrs field.ErrorList
	if na := a.GetNodeAffinity(); na != nil {
		np := p.Child("nodeAffinity")
		if req := na.GetRequiredDuringSchedulingIgnoredDuringExecution(); req != nil {
			rp := np.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
			if len(req.GetNodeSelectorTerms()) == 0 {
				allErrs = append(allErrs, field.Required(rp, "must have at least one node selector term"))
			}
			for i, t := range req.GetNodeSelectorTerms() {
				allErrs = append(allErrs, validateNodeSelectorTerm(t, rp.Index(i))...)
			}
		}
		for i, t := range na.GetPreferredDuringSchedulingIgnoredDuringExecution() {
			tp := np.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
			allErrs = append(allErrs, validateWeight(t.GetWeight(), tp.Child("weight"))...)
			if t.GetPreference() == nil {
				allErrs = append(allErrs, field.Required(tp.Child("preference"), ""))
			} else {
				allErrs = append(allErrs, validateNodeSelectorTerm(t.GetPreference(), tp.Child("preference"))...)
			}
		}
	}
	if pa := a.GetPodAffinity(); pa != nil {
		allErrs = append(allErrs, validatePodAffinityTerms(pa.GetRequiredDuringSchedulingIgnoredDuringExecution(),
			pa.GetPreferredDuringSchedulingIgnoredDuringExecution(), p.Child("podAffinity"))...)
	}
	if pa := a.GetPodAntiAffinity(); pa != nil {
		allErrs = append(allErrs, validatePodAffinityTerms(pa.GetRequiredDuringSchedulingIgnoredDuringExecution(),
			pa.GetPreferredDuringSchedulingIgnoredDuringExecution(), p.Child("podAntiAffinity"))...)
	}
	return allErrs
}

func validateWeight(w int32, p *field.Path) field.ErrorList {
	if w < 1 || w > 100 {
		return field.ErrorList{field.Invalid(p, w, "must be in the range 1-100")}
	}
	return nil
}

func validateNodeSelectorTerm(t *corev1.NodeSelectorTerm, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, r := range t.GetMatchExpressions() {
		rp := p.Child("matchExpressions").Index(i)
		allErrs = append(allErrs, validateQualifiedName(r.GetKey(), rp.Child("key"))...)
		allErrs = append(allErrs, validateNodeSelectorRequirement(r, rp)...)
	}
	for i, r := range t.GetMatchFields() {
		rp := p.Child("matchFields").Index(i)
		if r.GetKey() != "metadata.name" {
			allErrs = append(allErrs, field.NotSupported(rp.Child("key"), r.GetKey(), []string{"metadata.name"}))
		}
		switch r.GetOperator() {
		case api.NodeSelectorOpIn, api.NodeSelectorOpNotIn:
			if len(r.GetValues()) != 1 {
				allErrs = append(allErrs, field.Required(rp.Child("values"), "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"))
			}
		default:
			allErrs = append(allErrs, field.NotSupported(rp.Child("operator"), r.GetOperator(), []string{api.NodeSelectorOpIn, api.NodeSelectorOpNotIn}))
		}
	}
	return allErrs
}

func validateNodeSelectorRequirement(r *corev1.NodeSelectorRequirement, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch r.GetOperator() {
	case api.NodeSelectorOpIn, api.NodeSelectorOpNotIn:
		if len(r.GetValues()) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("values"), "must be specified when `operator` is 'In' or 'NotIn'"))
		}
		for j, v := range r.GetValues() {
			for _, msg := range utilvalidation.IsValidLabelValue(v) {
				allErrs = append(allErrs, field.Invalid(p.Child("values").Index(j), v, msg))
			}
		}
	case api.NodeSelectorOpExists, api.NodeSelectorOpDoesNotExist:
		if len(r.GetValues()) > 0 {
			allErrs = append(allErrs, field.Forbidden(p.Child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
		}
	case api.NodeSelectorOpGt, api.NodeSelectorOpLt:
		if len(r.GetValues()) != 1 {
			allErrs = append(allErrs, field.Required(p.Child("values"), "must be specified single value when `operator` is 'Lt' or 'Gt'"))
		} else if _, err := strconv.ParseInt(r.GetValues()[0], 10, 64); err != nil {
			allErrs = append(allErrs, field.Invalid(p.Child("values").Index(0), r.GetValues()[0], "must be an integer when `operator` is 'Lt' or 'Gt'"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(p.Child("operator"), r.GetOperator(), []string{api.NodeSelectorOpIn, api.NodeSelectorOpNotIn, api.NodeSelectorOpExists, api.NodeSelectorOpDoesNotExist, api.NodeSelectorOpGt, api.NodeSelectorOpLt}))
	}
	return allErrs
}

func validatePodAffinityTerms(req []*corev1.PodAffinityTerm, pref []*corev1.WeightedPodAffinityTerm, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range req {
		allErrs = append(allErrs, validatePodAffinityTerm(t, p.Child("requiredDuringSchedulingIgnoredDuringExecution").Index(i))...)
	}
	for i, w := range pref {
		wp := p.Child("preferredDuringSchedulingIgnoredDuringExecution").Index(i)
		allErrs = append(allErrs, validateWeight(w.GetWeight(), wp.Child("weight"))...)
		if w.GetPodAffinityTerm() == nil {
			allErrs = append(allErrs, field.Required(wp.Child("podAffinityTerm"), ""))
		} else {
			allErrs = append(allErrs, validatePodAffinityTerm(w.GetPodAffinityTerm(), wp.Child("podAffinityTerm"))...)
		}
	}
	return allErrs
}

func validatePodAffinityTerm(t *corev1.PodAffinityTerm, p *field.Path) field.ErrorList {
	allErrs := validateLabelSelector(t.GetLabelSelector(), p.Child("labelSelector"))
	allErrs = append(allErrs, validateLabelSelector(t.GetNamespaceSelector(), p.Child("namespaceSelector"))...)
	for i, ns := range t.GetNamespaces() {
		allErrs = append(allErrs, validateDNS1123Label(ns, p.Child("namespaces").Index(i))...)
	}
	if t.GetTopologyKey() == "" {
		allErrs = append(allErrs, field.Required(p.Child("topologyKey"), "can not be empty"))
	} else {
		allErrs = append(allErrs, validateQualifiedName(t.GetTopologyKey(), p.Child("topologyKey"))...)
	}
	for i, k := range t.GetMatchLabelKeys() {
		allErrs = append(allErrs, validateQualifiedName(k, p.Child("matchLabelKeys").Index(i))...)
	}
	for i, k := range t.GetMismatchLabelKeys() {
		allErrs = append(allErrs, validateQualifiedName(k, p.Child("mismatchLabelKeys").Index(i))...)
	}
	return allErrs
}

func validateTopologySpreadConstraints(cs []*corev1.TopologySpreadConstraint, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[[2]string]bool{}
	for i, c := range cs {
		cp := p.Index(i)
		if c.GetMaxSkew() <= 0 {
			allErrs = append(allErrs, field.Invalid(cp.Child("maxSkew"), c.GetMaxSkew(), "must be greater than zero"))
		}
		if c.GetTopologyKey() == "" {
			allErrs = append(allErrs, field.Required(cp.Child("topologyKey"), "can not be empty"))
		} else {
			allErrs = append(allErrs, validateQualifiedName(c.GetTopologyKey(), cp.Child("topologyKey"))...)
		}
		allErrs = append(allErrs, validateEnum(c.GetWhenUnsatisfiable(), cp.Child("whenUnsatisfiable"), "DoNotSchedule", "ScheduleAnyway")...)
		if c.MinDomains != nil {
			if c.GetMinDomains() <= 0 {
				allErrs = append(allErrs, field.Invalid(cp.Child("minDomains"), c.GetMinDomains(), "must be greater than zero"))
			} else if c.GetWhenUnsatisfiable() != "DoNotSchedule" {
				allErrs = append(allErrs, field.Invalid(cp.Child("minDomains"), c.GetMinDomains(), "can only use minDomains if whenUnsatisfiable=DoNotSchedule"))
			}
		}
		allErrs = append(allErrs, validateLabelSelector(c.GetLabelSelector(), cp.Child("labelSelector"))...)
		allErrs = append(allErrs, validateOptionalEnum(c.NodeAffinityPolicy, cp.Child("nodeAffinityPolicy"), api.NodeInclusionPolicyHonor, api.NodeInclusionPolicyIgnore)...)
		allErrs = append(allErrs, validateOptionalEnum(c.NodeTaintsPolicy, cp.Child("nodeTaintsPolicy"), api.NodeInclusionPolicyHonor, api.NodeInclusionPolicyIgnore)...)
		for j, k := range c.GetMatchLabelKeys() {
			allErrs = append(allErrs, validateQualifiedName(k, cp.Child("matchLabelKeys").Index(j))...)
		}
		pair := [2]string{c.GetTopologyKey(), c.GetWhenUnsatisfiable()}
		if seen[pair] {
			allErrs = append(allErrs, field.Duplicate(cp, fmt.Sprintf("{%v, %v}", pair[0], pair[1])))
		}
		seen[pair] = true
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// Update and status

// podUpdateForbidden lists what a pod update may change, as Kubernetes says it.
const podUpdateForbidden = "pod updates may not change fields other than `spec.containers[*].image`, " +
	"`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations)"

func validatePodUpdate(pod, old *corev1.Pod) field.ErrorList {
	var allErrs field.ErrorList
	sp := field.NewPath("spec")
	spec, oldSpec := orEmpty(pod.GetSpec()), orEmpty(old.GetSpec())

	// activeDeadlineSeconds may be added or lowered, never raised or removed.
	if oldSpec.ActiveDeadlineSeconds != nil {
		if spec.ActiveDeadlineSeconds == nil {
			allErrs = append(allErrs, field.Invalid(sp.Child("activeDeadlineSeconds"), nil, "must not be removed once set"))
		} else if spec.GetActiveDeadlineSeconds() > oldSpec.GetActiveDeadlineSeconds() {
			allErrs = append(allErrs, field.Invalid(sp.Child("activeDeadlineSeconds"), spec.GetActiveDeadlineSeconds(), "must be less than or equal to the previous value"))
		}
	}
	// Tolerations may only be added.
	for i, ot := range oldSpec.GetTolerations() {
		found := false
		for _, t := range spec.GetTolerations() {
			if proto.Equal(t, ot) {
				found = true
				break
			}
		}
		if !found {
			allErrs = append(allErrs, field.Forbidden(sp.Child("tolerations").Index(i), "existing toleration can not be modified or removed"))
		}
	}

	// Everything else must be unchanged: compare with the mutable fields
	// copied from old.
	mungedSpec := proto.Clone(spec).(*corev1.PodSpec)
	for i, c := range mungedSpec.GetContainers() {
		if i < len(oldSpec.GetContainers()) {
			c.Image = oldSpec.GetContainers()[i].GetImage()
		}
	}
	for i, c := range mungedSpec.GetInitContainers() {
		if i < len(oldSpec.GetInitContainers()) {
			c.Image = oldSpec.GetInitContainers()[i].GetImage()
		}
	}
	// Scheduling gates may only be removed.
	oldGates := map[string]bool{}
	for _, g := range oldSpec.GetSchedulingGates() {
		oldGates[g.GetName()] = true
	}
	for _, g := range spec.GetSchedulingGates() {
		if !oldGates[g.GetName()] {
			allErrs = append(allErrs, field.Forbidden(sp.Child("schedulingGates"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.GetName())))
		}
	}
	mungedSpec.ActiveDeadlineSeconds = oldSpec.ActiveDeadlineSeconds
	mungedSpec.Tolerations = oldSpec.GetTolerations()
	mungedSpec.SchedulingGates = oldSpec.GetSchedulingGates()
	if !proto.Equal(mungedSpec, oldSpec) {
		allErrs = append(allErrs, field.Forbidden(sp, podUpdateForbidden))
	}
	return allErrs
}

func orEmpty(s *corev1.PodSpec) *corev1.PodSpec {
	if s == nil {
		return &corev1.PodSpec{}
	}
	return s
}

var podPhases = []string{"", api.PodPending, api.PodRunning, api.PodSucceeded, api.PodFailed, api.PodUnknown}

func validatePodStatus(s *corev1.PodStatus, p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	allErrs := validateEnum(s.GetPhase(), p.Child("phase"), podPhases...)
	allErrs = append(allErrs, validateConditions(s.GetConditions(), p.Child("conditions"))...)
	if s.GetNominatedNodeName() != "" {
		allErrs = append(allErrs, DNS1123Subdomain(s.GetNominatedNodeName(), p.Child("nominatedNodeName"))...)
	}
	if s.GetHostIp() != "" {
		allErrs = append(allErrs, validateIP(s.GetHostIp(), p.Child("hostIP"))...)
	}
	for i, ip := range s.GetHostIps() {
		allErrs = append(allErrs, validateIP(ip.GetIp(), p.Child("hostIPs").Index(i).Child("ip"))...)
	}
	if len(s.GetHostIps()) > 0 && s.GetHostIp() != "" && s.GetHostIps()[0].GetIp() != s.GetHostIp() {
		allErrs = append(allErrs, field.Invalid(p.Child("hostIPs").Index(0).Child("ip"), s.GetHostIps()[0].GetIp(), "must be equal to `hostIP`"))
	}
	if s.GetPodIp() != "" {
		allErrs = append(allErrs, validateIP(s.GetPodIp(), p.Child("podIP"))...)
	}
	for i, ip := range s.GetPodIps() {
		allErrs = append(allErrs, validateIP(ip.GetIp(), p.Child("podIPs").Index(i).Child("ip"))...)
	}
	if len(s.GetPodIps()) > 0 && s.GetPodIp() != "" && s.GetPodIps()[0].GetIp() != s.GetPodIp() {
		allErrs = append(allErrs, field.Invalid(p.Child("podIPs").Index(0).Child("ip"), s.GetPodIps()[0].GetIp(), "must be equal to `podIP`"))
	}
	allErrs = append(allErrs, validateContainerStatuses(s.GetInitContainerStatuses(), p.Child("initContainerStatuses"))...)
	allErrs = append(allErrs, validateContainerStatuses(s.GetContainerStatuses(), p.Child("containerStatuses"))...)
	allErrs = append(allErrs, validateEnum(s.GetQosClass(), p.Child("qosClass"), "", api.QOSGuaranteed, api.QOSBurstable, api.QOSBestEffort)...)
	return allErrs
}

func validateContainerStatuses(statuses []*corev1.ContainerStatus, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, cs := range statuses {
		cp := p.Index(i)
		if cs.GetName() == "" {
			allErrs = append(allErrs, field.Required(cp.Child("name"), ""))
		}
		allErrs = append(allErrs, validateNonnegative(int64(cs.GetRestartCount()), cp.Child("restartCount"))...)
		allErrs = append(allErrs, validateContainerState(cs.GetState(), cp.Child("state"))...)
		allErrs = append(allErrs, validateContainerState(cs.GetLastState(), cp.Child("lastState"))...)
	}
	return allErrs
}

func validateContainerState(s *corev1.ContainerState, p *field.Path) field.ErrorList {
	var set []string
	if s.GetWaiting() != nil {
		set = append(set, "waiting")
	}
	if s.GetRunning() != nil {
		set = append(set, "running")
	}
	if s.GetTerminated() != nil {
		set = append(set, "terminated")
	}
	if len(set) > 1 {
		return field.ErrorList{field.Forbidden(p.Child(set[1]), "may not specify more than 1 container state")}
	}
	return nil
}

func validatePodStatusTransition(s, old *corev1.PodStatus, p *field.Path) field.ErrorList {
	op := old.GetPhase()
	if api.IsPhaseTerminal(op) && s.GetPhase() != op {
		return field.ErrorList{field.Forbidden(p.Child("phase"), fmt.Sprintf("cannot transition from terminal phase %q to %q", op, s.GetPhase()))}
	}
	return nil
}
