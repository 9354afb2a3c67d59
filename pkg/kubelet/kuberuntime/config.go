// Package kuberuntime maps pods to CRI and back: the sandbox and container
// configurations the kubelet creates (PodSandboxConfig, ContainerConfig,
// with Kubernetes-style labels so that a restarted kubelet can tell whose
// they are), and the Observer, which reads the runtime's state of a pod as
// podsync.RuntimePod.
package kuberuntime

import (
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/kubelet/podsync"
)

// Labels and annotations on sandboxes and containers (Kubernetes' own, so
// tools that know them work).
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	// LabelRestartCount is the instance's restart count (also its CRI
	// metadata attempt).
	LabelRestartCount = "io.kubernetes.container.restartCount"
	// AnnotationHash is podsync.Hash of the container spec.
	AnnotationHash = "io.kubernetes.container.hash"
	// AnnotationGrace is the pod's termination grace period in seconds.
	AnnotationGrace = "io.kubernetes.pod.terminationGracePeriod"
	// AnnotationTerminationMessage is the host file mounted at the
	// container's terminationMessagePath.
	AnnotationTerminationMessage = "keel.dev/termination-message-host-path"
	// AnnotationTerminationMessagePolicy is the container's
	// terminationMessagePolicy.
	AnnotationTerminationMessagePolicy = "io.kubernetes.container.terminationMessagePolicy"
)

// CPU period of CFS quotas, as Kubernetes sets it.
const cpuPeriod = 100000

// SandboxOptions are the node-wide settings of sandboxes.
type SandboxOptions struct {
	// LogRoot holds each pod's log directory (LogDir).
	LogRoot string
	// ClusterDNS are the nameservers of ClusterFirst pods; ClusterDomain
	// their search domain ("cluster.local").
	ClusterDNS    []string
	ClusterDomain string
	// CgroupRoot, when not empty, puts each pod under the cgroup
	// CgroupRoot/pod<uid> (cgroupfs driver).
	CgroupRoot string
}

// LogDir is a pod's log directory: LogRoot/<namespace>_<name>_<uid>.
func LogDir(root string, pod *corev1.Pod) string {
	m := pod.GetMetadata()
	return filepath.Join(root, m.GetNamespace()+"_"+m.GetName()+"_"+m.GetUid())
}

// LogPath is a container instance's log file, relative to the pod's log
// directory: <container>/<restartCount>.log.
func LogPath(container string, attempt uint32) string {
	return fmt.Sprintf("%s/%d.log", container, attempt)
}

// PodCgroup is the cgroup parent of a pod ("" when root is empty).
func PodCgroup(root, uid string) string {
	if root == "" {
		return ""
	}
	return path.Join("/", root, "pod"+uid)
}

// PodLabels are the labels that tie a sandbox or container to its pod.
func PodLabels(pod *corev1.Pod) map[string]string {
	m := pod.GetMetadata()
	return map[string]string{LabelPodName: m.GetName(), LabelPodNamespace: m.GetNamespace(), LabelPodUID: m.GetUid()}
}

func sandboxHostname(pod *corev1.Pod) string {
	if pod.GetSpec().GetHostNetwork() {
		return ""
	}
	h := pod.GetSpec().GetHostname()
	if h == "" {
		h = pod.GetMetadata().GetName()
	}
	if len(h) > 63 {
		h = h[:63]
	}
	return strings.TrimRight(h, "-.")
}

// DNSConfig is the resolv.conf of a pod per its dnsPolicy; nil means the
// node's own (the runtime copies it).
func DNSConfig(pod *corev1.Pod, opts SandboxOptions) *runtimeapi.DNSConfig {
	spec := pod.GetSpec()
	policy := spec.GetDnsPolicy()
	if policy == "" {
		policy = api.DNSClusterFirst
	}
	if policy == api.DNSClusterFirst && spec.GetHostNetwork() {
		policy = api.DNSDefault
	}
	if (policy == api.DNSClusterFirst || policy == api.DNSClusterFirstWithHostNet) && len(opts.ClusterDNS) == 0 {
		policy = api.DNSDefault // no cluster DNS configured, as Kubernetes falls back
	}
	var cfg *runtimeapi.DNSConfig
	switch policy {
	case api.DNSClusterFirst, api.DNSClusterFirstWithHostNet:
		domain := opts.ClusterDomain
		if domain == "" {
			domain = "cluster.local"
		}
		ns := pod.GetMetadata().GetNamespace()
		cfg = &runtimeapi.DNSConfig{
			Servers:  append([]string(nil), opts.ClusterDNS...),
			Searches: []string{ns + ".svc." + domain, "svc." + domain, domain},
			Options:  []string{"ndots:5"},
		}
	case api.DNSNone:
		cfg = &runtimeapi.DNSConfig{}
	}
	if dc := spec.GetDnsConfig(); dc != nil {
		if cfg == nil {
			// Default with a dnsConfig: Kubernetes merges it into the
			// node's resolv.conf; without that file at hand, use it alone.
			cfg = &runtimeapi.DNSConfig{}
		}
		cfg.Servers = appendNew(cfg.Servers, dc.GetNameservers()...)
		cfg.Searches = appendNew(cfg.Searches, dc.GetSearches()...)
		for _, o := range dc.GetOptions() {
			opt := o.GetName()
			if o.Value != nil {
				opt += ":" + o.GetValue()
			}
			cfg.Options = appendNew(cfg.Options, opt)
		}
	}
	return cfg
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		found := false
		for _, have := range list {
			if have == it {
				found = true
				break
			}
		}
		if !found {
			list = append(list, it)
		}
	}
	return list
}

func protocol(p string) runtimeapi.Protocol {
	switch strings.ToUpper(p) {
	case api.ProtocolUDP:
		return runtimeapi.Protocol_UDP
	case api.ProtocolSCTP:
		return runtimeapi.Protocol_SCTP
	}
	return runtimeapi.Protocol_TCP
}

func namespaceOptions(spec *corev1.PodSpec) *runtimeapi.NamespaceOption {
	ns := &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_POD, Pid: runtimeapi.NamespaceMode_CONTAINER, Ipc: runtimeapi.NamespaceMode_POD}
	if spec.GetHostNetwork() {
		ns.Network = runtimeapi.NamespaceMode_NODE
	}
	if spec.GetHostIpc() {
		ns.Ipc = runtimeapi.NamespaceMode_NODE
	}
	if spec.GetShareProcessNamespace() {
		ns.Pid = runtimeapi.NamespaceMode_POD
	}
	if spec.GetHostPid() {
		ns.Pid = runtimeapi.NamespaceMode_NODE
	}
	return ns
}

// SandboxConfig is the CRI configuration of a pod's sandbox.
func SandboxConfig(pod *corev1.Pod, attempt uint32, opts SandboxOptions) *runtimeapi.PodSandboxConfig {
	m := pod.GetMetadata()
	spec := pod.GetSpec()
	labels := map[string]string{}
	for k, v := range m.GetLabels() {
		labels[k] = v
	}
	for k, v := range PodLabels(pod) {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range m.GetAnnotations() {
		annotations[k] = v
	}
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: m.GetName(), Namespace: m.GetNamespace(), Uid: m.GetUid(), Attempt: attempt},
		Hostname:     sandboxHostname(pod),
		LogDirectory: LogDir(opts.LogRoot, pod),
		DnsConfig:    DNSConfig(pod, opts),
		Labels:       labels,
		Annotations:  annotations,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: PodCgroup(opts.CgroupRoot, m.GetUid()),
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: namespaceOptions(spec),
			},
		},
	}
	if sc := spec.GetSecurityContext(); sc != nil {
		if len(sc.GetSysctls()) > 0 {
			cfg.Linux.Sysctls = map[string]string{}
			for _, s := range sc.GetSysctls() {
				cfg.Linux.Sysctls[s.GetName()] = s.GetValue()
			}
		}
		if sc.RunAsUser != nil {
			cfg.Linux.SecurityContext.RunAsUser = &runtimeapi.Int64Value{Value: sc.GetRunAsUser()}
		}
		if sc.RunAsGroup != nil {
			cfg.Linux.SecurityContext.RunAsGroup = &runtimeapi.Int64Value{Value: sc.GetRunAsGroup()}
		}
		cfg.Linux.SecurityContext.SupplementalGroups = append([]int64(nil), sc.GetSupplementalGroups()...)
	}
	for _, c := range spec.GetContainers() {
		for _, p := range c.GetPorts() {
			if p.GetHostPort() <= 0 {
				continue
			}
			cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{
				Protocol: protocol(p.GetProtocol()), ContainerPort: p.GetContainerPort(), HostPort: p.GetHostPort(), HostIp: p.GetHostIp(),
			})
		}
	}
	return cfg
}

func quantity(q *metav1.Quantity) (resource.Quantity, bool) {
	if q == nil {
		return resource.Quantity{}, false
	}
	v, err := resource.ParseQuantity(q.GetString_())
	if err != nil {
		return resource.Quantity{}, false
	}
	return v, true
}

// Resources is the cgroup configuration of a container: CPU shares from the
// request (2 without one), a CFS quota from the limit, the memory limit, and
// the OOM score adjustment of its pod's QoS class (memoryCapacity is the
// node's memory, for Burstable pods).
func Resources(pod *corev1.Pod, c *corev1.Container, memoryCapacity int64) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{CpuShares: 2}
	req, lim := c.GetResources().GetRequests(), c.GetResources().GetLimits()
	cpuReq, hasReq := quantity(req[api.ResourceCPU])
	cpuLim, hasLim := quantity(lim[api.ResourceCPU])
	if !hasReq && hasLim {
		cpuReq, hasReq = cpuLim, true
	}
	if hasReq {
		shares := cpuReq.MilliValue() * 1024 / 1000
		if shares < 2 {
			shares = 2
		}
		r.CpuShares = shares
	}
	if hasLim {
		quota := cpuLim.MilliValue() * cpuPeriod / 1000
		if quota < 1000 {
			quota = 1000
		}
		r.CpuPeriod, r.CpuQuota = cpuPeriod, quota
	}
	if m, ok := quantity(lim[api.ResourceMemory]); ok {
		r.MemoryLimitInBytes = m.Value()
	}
	switch api.QOSClass(pod.GetSpec()) {
	case api.QOSGuaranteed:
		r.OomScoreAdj = -997
	case api.QOSBestEffort:
		r.OomScoreAdj = 1000
	default:
		adj := int64(999)
		if m, ok := quantity(req[api.ResourceMemory]); ok && memoryCapacity > 0 {
			adj = 1000 - 1000*m.Value()/memoryCapacity
		}
		if adj < 2 {
			adj = 2
		}
		if adj > 999 {
			adj = 999
		}
		r.OomScoreAdj = adj
	}
	return r
}

// ContainerOptions are what a container's configuration needs beyond its
// spec.
type ContainerOptions struct {
	Envs   []*runtimeapi.KeyValue
	Mounts []*runtimeapi.Mount
	// TerminationMessageHostPath, when set, is mounted at the container's
	// terminationMessagePath.
	TerminationMessageHostPath string
	MemoryCapacity             int64
}

// ContainerConfig is the CRI configuration of instance attempt of c.
func ContainerConfig(pod *corev1.Pod, c *corev1.Container, attempt uint32, opts ContainerOptions) *runtimeapi.ContainerConfig {
	labels := PodLabels(pod)
	labels[LabelContainerName] = c.GetName()
	labels[LabelRestartCount] = strconv.FormatUint(uint64(attempt), 10)
	grace := int64(api.DefaultTerminationGracePeriodSeconds)
	if g := pod.GetSpec().TerminationGracePeriodSeconds; g != nil {
		grace = *g
	}
	annotations := map[string]string{
		AnnotationHash:                     podsync.Hash(c),
		AnnotationGrace:                    strconv.FormatInt(grace, 10),
		AnnotationTerminationMessagePolicy: c.GetTerminationMessagePolicy(),
	}
	mounts := append([]*runtimeapi.Mount(nil), opts.Mounts...)
	if opts.TerminationMessageHostPath != "" {
		annotations[AnnotationTerminationMessage] = opts.TerminationMessageHostPath
		target := c.GetTerminationMessagePath()
		if target == "" {
			target = api.DefaultTerminationMessagePath
		}
		mounts = append(mounts, &runtimeapi.Mount{ContainerPath: target, HostPath: opts.TerminationMessageHostPath})
	}
	sort.SliceStable(mounts, func(i, j int) bool { return mounts[i].ContainerPath < mounts[j].ContainerPath })
	cfg := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.GetName(), Attempt: attempt},
		Image:       &runtimeapi.ImageSpec{Image: c.GetImage()},
		Command:     append([]string(nil), c.GetCommand()...),
		Args:        append([]string(nil), c.GetArgs()...),
		WorkingDir:  c.GetWorkingDir(),
		Envs:        opts.Envs,
		Mounts:      mounts,
		Labels:      labels,
		Annotations: annotations,
		LogPath:     LogPath(c.GetName(), attempt),
		Stdin:       c.GetStdin(),
		StdinOnce:   c.GetStdinOnce(),
		Tty:         c.GetTty(),
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources:       Resources(pod, c, opts.MemoryCapacity),
			SecurityContext: containerSecurity(pod.GetSpec(), c),
		},
	}
	return cfg
}

func containerSecurity(spec *corev1.PodSpec, c *corev1.Container) *runtimeapi.LinuxContainerSecurityContext {
	out := &runtimeapi.LinuxContainerSecurityContext{NamespaceOptions: namespaceOptions(spec)}
	psc := spec.GetSecurityContext()
	sc := c.GetSecurityContext()
	if sc != nil && sc.RunAsUser != nil {
		out.RunAsUser = &runtimeapi.Int64Value{Value: sc.GetRunAsUser()}
	} else if psc != nil && psc.RunAsUser != nil {
		out.RunAsUser = &runtimeapi.Int64Value{Value: psc.GetRunAsUser()}
	}
	if sc != nil && sc.RunAsGroup != nil {
		out.RunAsGroup = &runtimeapi.Int64Value{Value: sc.GetRunAsGroup()}
	} else if psc != nil && psc.RunAsGroup != nil {
		out.RunAsGroup = &runtimeapi.Int64Value{Value: psc.GetRunAsGroup()}
	}
	if psc != nil {
		out.SupplementalGroups = append([]int64(nil), psc.GetSupplementalGroups()...)
		if psc.FsGroup != nil {
			out.SupplementalGroups = append(out.SupplementalGroups, psc.GetFsGroup())
		}
	}
	if sc != nil {
		out.Privileged = sc.GetPrivileged()
		out.ReadonlyRootfs = sc.GetReadOnlyRootFilesystem()
		if sc.AllowPrivilegeEscalation != nil {
			out.NoNewPrivs = !sc.GetAllowPrivilegeEscalation()
		}
		if caps := sc.GetCapabilities(); caps != nil {
			out.Capabilities = &runtimeapi.Capability{AddCapabilities: capNames(caps.GetAdd()), DropCapabilities: capNames(caps.GetDrop())}
		}
	}
	return out
}

// capNames upper-cases capability names and strips a "CAP_" prefix: CRI
// names them without it (NET_ADMIN), as Kubernetes does.
func capNames(in []string) []string {
	var out []string
	for _, c := range in {
		out = append(out, strings.TrimPrefix(strings.ToUpper(c), "CAP_"))
	}
	return out
}
