// Package defaults sets Kubernetes' default values on Keel objects, in place.
// The apiserver applies it (through each kind's strategy in pkg/registry)
// before validation on create and update, after it has set metadata.name
// and metadata.uid (the Job selector is generated from the uid). Nothing
// else defaults objects.
//
// Every function is idempotent: applying it twice gives the same object as once. It
// never overwrites a value the user set. It is safe for concurrent use on
// distinct objects.
package defaults

import (
	"maps"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
)

// Default values, as in Kubernetes.
const (
	DefaultSchedulerName                 = api.DefaultSchedulerName
	DefaultTerminationGracePeriodSeconds = api.DefaultTerminationGracePeriodSeconds
	DefaultTerminationMessagePath        = api.DefaultTerminationMessagePath
	DefaultVolumeMode                    = 0o644
	DefaultRevisionHistoryLimit          = 10
	DefaultProgressDeadlineSeconds       = 600
	DefaultBackoffLimit                  = 6
	DefaultClientIPTimeoutSeconds        = 10800
	// NamespaceFinalizer is the finalizer the namespace controller removes
	// once a terminating namespace is empty.
	NamespaceFinalizer = api.NamespaceFinalizer
	// NamespaceNameLabel is the label every namespace carries with its name.
	NamespaceNameLabel = api.LabelNamespaceName
	// Job labels set on the pod template when the selector is generated.
	JobControllerUIDLabel       = api.JobControllerUIDLabel
	JobNameLabel                = api.JobNameLabel
	LegacyJobControllerUIDLabel = api.LegacyJobControllerUIDLabel
	LegacyJobNameLabel          = api.LegacyJobNameLabel
)

// Each kind's strategy (pkg/registry/<group>/<kind>) calls its kind's
// function here: X sets the defaults of an X in place.

// ---------------------------------------------------------------------------
// Pods

// Pod sets a pod's defaults.
func Pod(pod *corev1.Pod) {
	if pod.Spec == nil {
		pod.Spec = &corev1.PodSpec{}
	}
	spec := pod.Spec
	applyPodSpec(spec)
	// As in Kubernetes, these two apply to Pods only, not to pod templates
	// (so a template, and the pod-template-hash derived from it, stays as
	// written).
	for _, c := range append(append([]*corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		defaultRequestsFromLimits(c)
	}
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = proto.Bool(true)
	}
	if pod.Status == nil {
		pod.Status = &corev1.PodStatus{}
	}
	if pod.Status.Phase == "" {
		pod.Status.Phase = api.PodPending
	}
	if pod.Status.QosClass == "" {
		pod.Status.QosClass = api.QOSClass(spec)
	}
}

// defaultRequestsFromLimits copies each limit without a request into requests.
func defaultRequestsFromLimits(c *corev1.Container) {
	r := c.GetResources()
	if len(r.GetLimits()) == 0 {
		return
	}
	if r.Requests == nil {
		r.Requests = map[string]*metav1.Quantity{}
	}
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = proto.Clone(q).(*metav1.Quantity)
		}
	}
}

func applyPodTemplate(t *corev1.PodTemplateSpec) {
	if t == nil {
		return
	}
	if t.Spec == nil {
		t.Spec = &corev1.PodSpec{}
	}
	applyPodSpec(t.Spec)
}

func applyPodSpec(spec *corev1.PodSpec) {
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = api.RestartPolicyAlways
	}
	if spec.DnsPolicy == "" {
		spec.DnsPolicy = api.DNSClusterFirst
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = proto.Int64(DefaultTerminationGracePeriodSeconds)
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = DefaultSchedulerName
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	// serviceAccount is the deprecated alias of serviceAccountName.
	if spec.ServiceAccountName == "" {
		spec.ServiceAccountName = spec.ServiceAccount
	}
	if spec.ServiceAccount == "" {
		spec.ServiceAccount = spec.ServiceAccountName
	}
	for _, v := range spec.Volumes {
		applyVolume(v)
	}
	for _, c := range spec.InitContainers {
		applyContainer(c, spec.HostNetwork)
	}
	for _, c := range spec.Containers {
		applyContainer(c, spec.HostNetwork)
	}
}

func applyVolume(v *corev1.Volume) {
	if !hasVolumeSource(v) {
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if v.HostPath != nil && v.HostPath.Type == nil {
		v.HostPath.Type = proto.String("")
	}
	if v.Secret != nil && v.Secret.DefaultMode == nil {
		v.Secret.DefaultMode = proto.Int32(DefaultVolumeMode)
	}
	if v.ConfigMap != nil && v.ConfigMap.DefaultMode == nil {
		v.ConfigMap.DefaultMode = proto.Int32(DefaultVolumeMode)
	}
	if v.Projected != nil && v.Projected.DefaultMode == nil {
		v.Projected.DefaultMode = proto.Int32(DefaultVolumeMode)
	}
	if v.DownwardApi != nil && v.DownwardApi.DefaultMode == nil {
		v.DownwardApi.DefaultMode = proto.Int32(DefaultVolumeMode)
	}
}

func applyContainer(c *corev1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = api.DefaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = DefaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = "File"
	}
	for _, p := range c.Ports {
		if p.Protocol == "" {
			p.Protocol = api.ProtocolTCP
		}
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for _, e := range c.Env {
		if fr := e.GetValueFrom().GetFieldRef(); fr != nil && fr.ApiVersion == "" {
			fr.ApiVersion = "v1"
		}
	}
	applyProbe(c.LivenessProbe)
	applyProbe(c.ReadinessProbe)
	applyProbe(c.StartupProbe)
	if lc := c.Lifecycle; lc != nil {
		applyHTTPGet(lc.GetPostStart().GetHttpGet())
		applyHTTPGet(lc.GetPreStop().GetHttpGet())
	}
}

func applyProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	applyHTTPGet(p.HttpGet)
}

func applyHTTPGet(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = "HTTP"
	}
}

// ---------------------------------------------------------------------------
// Workloads

// Deployment sets a deployment's defaults.
func Deployment(d *appsv1.Deployment) {
	if d.Spec == nil {
		d.Spec = &appsv1.DeploymentSpec{}
	}
	s := d.Spec
	if s.Replicas == nil {
		s.Replicas = proto.Int32(1)
	}
	if s.Strategy == nil {
		s.Strategy = &appsv1.DeploymentStrategy{}
	}
	if s.Strategy.Type == "" {
		s.Strategy.Type = api.RollingUpdateDeploymentStrategyType
	}
	if s.Strategy.Type == api.RollingUpdateDeploymentStrategyType {
		if s.Strategy.RollingUpdate == nil {
			s.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		ru := s.Strategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = api.IntOrStringFromString("25%")
		}
		if ru.MaxSurge == nil {
			ru.MaxSurge = api.IntOrStringFromString("25%")
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = proto.Int32(DefaultRevisionHistoryLimit)
	}
	if s.ProgressDeadlineSeconds == nil {
		s.ProgressDeadlineSeconds = proto.Int32(DefaultProgressDeadlineSeconds)
	}
	applyPodTemplate(s.Template)
}

// ReplicaSet sets a replica set's defaults.
func ReplicaSet(rs *appsv1.ReplicaSet) {
	if rs.Spec == nil {
		rs.Spec = &appsv1.ReplicaSetSpec{}
	}
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = proto.Int32(1)
	}
	applyPodTemplate(rs.Spec.Template)
}

// Job sets a job's defaults.
func Job(j *batchv1.Job) {
	if j.Spec == nil {
		j.Spec = &batchv1.JobSpec{}
	}
	s := j.Spec
	if s.Completions == nil && s.Parallelism == nil {
		s.Completions = proto.Int32(1)
	}
	if s.Parallelism == nil {
		s.Parallelism = proto.Int32(1)
	}
	if s.BackoffLimit == nil {
		if s.BackoffLimitPerIndex != nil {
			s.BackoffLimit = proto.Int32(1<<31 - 1)
		} else {
			s.BackoffLimit = proto.Int32(DefaultBackoffLimit)
		}
	}
	if s.CompletionMode == nil {
		s.CompletionMode = proto.String(api.NonIndexedCompletion)
	}
	if s.Suspend == nil {
		s.Suspend = proto.Bool(false)
	}
	if s.PodReplacementPolicy == nil {
		s.PodReplacementPolicy = proto.String(api.PodReplacementPolicyTerminatingOrFailed)
	}
	// A Job without labels takes its template's (before the generated
	// selector labels are added to the template).
	if tl := s.GetTemplate().GetMetadata().GetLabels(); len(tl) > 0 && len(j.GetMetadata().GetLabels()) == 0 {
		if j.Metadata == nil {
			j.Metadata = &metav1.ObjectMeta{}
		}
		j.Metadata.Labels = make(map[string]string, len(tl))
		for k, v := range tl {
			j.Metadata.Labels[k] = v
		}
	}
	generateJobSelector(j)
	applyPodTemplate(s.Template)
}

// CronJob history limits kept by default, as in Kubernetes.
const (
	DefaultSuccessfulJobsHistoryLimit = 3
	DefaultFailedJobsHistoryLimit     = 1
)

// CronJob sets a CronJob's defaults: concurrencyPolicy Allow, suspend
// false, history limits 3 and 1, and its job template's pod template
// defaults (the Job's own defaults apply to each Job it creates).
func CronJob(cj *batchv1.CronJob) {
	if cj.Spec == nil {
		cj.Spec = &batchv1.CronJobSpec{}
	}
	s := cj.Spec
	if s.ConcurrencyPolicy == nil {
		s.ConcurrencyPolicy = proto.String(api.ConcurrencyAllow)
	}
	if s.Suspend == nil {
		s.Suspend = proto.Bool(false)
	}
	if s.SuccessfulJobsHistoryLimit == nil {
		s.SuccessfulJobsHistoryLimit = proto.Int32(DefaultSuccessfulJobsHistoryLimit)
	}
	if s.FailedJobsHistoryLimit == nil {
		s.FailedJobsHistoryLimit = proto.Int32(DefaultFailedJobsHistoryLimit)
	}
	applyPodTemplate(s.GetJobTemplate().GetSpec().GetTemplate())
}

// generateJobSelector gives a Job without manualSelector the selector
// Kubernetes generates: its uid, with the matching labels (and the job name)
// on the pod template. It needs metadata.uid; without it nothing is done.
func generateJobSelector(j *batchv1.Job) {
	s := j.Spec
	uid := j.GetMetadata().GetUid()
	if s.GetManualSelector() || uid == "" || s.Selector != nil {
		return
	}
	if s.Template == nil {
		s.Template = &corev1.PodTemplateSpec{}
	}
	if s.Template.Metadata == nil {
		s.Template.Metadata = &metav1.ObjectMeta{}
	}
	if s.Template.Metadata.Labels == nil {
		s.Template.Metadata.Labels = map[string]string{}
	}
	l := s.Template.Metadata.Labels
	name := j.GetMetadata().GetName()
	for k, v := range map[string]string{
		JobControllerUIDLabel: uid, LegacyJobControllerUIDLabel: uid,
		JobNameLabel: name, LegacyJobNameLabel: name,
	} {
		if _, ok := l[k]; !ok && v != "" {
			l[k] = v
		}
	}
	s.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{JobControllerUIDLabel: uid}}
}

// ---------------------------------------------------------------------------
// Services and endpoints

// Service sets a service's defaults.
func Service(svc *corev1.Service) {
	if svc.Spec == nil {
		svc.Spec = &corev1.ServiceSpec{}
	}
	s := svc.Spec
	if s.Type == "" {
		s.Type = api.ServiceTypeClusterIP
	}
	if s.SessionAffinity == "" {
		s.SessionAffinity = api.ServiceAffinityNone
	}
	if s.SessionAffinity == api.ServiceAffinityClientIP {
		if s.SessionAffinityConfig == nil {
			s.SessionAffinityConfig = &corev1.SessionAffinityConfig{}
		}
		if s.SessionAffinityConfig.ClientIp == nil {
			s.SessionAffinityConfig.ClientIp = &corev1.ClientIPConfig{}
		}
		if s.SessionAffinityConfig.ClientIp.TimeoutSeconds == nil {
			s.SessionAffinityConfig.ClientIp.TimeoutSeconds = proto.Int32(DefaultClientIPTimeoutSeconds)
		}
	}
	for _, p := range s.Ports {
		if p.Protocol == "" {
			p.Protocol = api.ProtocolTCP
		}
		if tp := p.TargetPort; tp == nil || (tp.Type == api.IntOrStringTypeInt && tp.IntVal == 0) || (tp.Type == api.IntOrStringTypeString && tp.StrVal == "") {
			p.TargetPort = api.IntOrStringFromInt(p.Port)
		}
	}
	if s.Type != api.ServiceTypeExternalName && s.InternalTrafficPolicy == nil {
		s.InternalTrafficPolicy = proto.String(api.ServiceTrafficPolicyCluster)
	}
	if (s.Type == api.ServiceTypeNodePort || s.Type == api.ServiceTypeLoadBalancer) && s.ExternalTrafficPolicy == "" {
		s.ExternalTrafficPolicy = api.ServiceTrafficPolicyCluster
	}
	if s.Type == api.ServiceTypeLoadBalancer && s.AllocateLoadBalancerNodePorts == nil {
		s.AllocateLoadBalancerNodePorts = proto.Bool(true)
	}
}

// Endpoints sets an endpoints object's defaults.
func Endpoints(ep *corev1.Endpoints) {
	for _, ss := range ep.Subsets {
		for _, p := range ss.Ports {
			if p.Protocol == "" {
				p.Protocol = api.ProtocolTCP
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Cluster objects

// Namespace sets a namespace's defaults.
func Namespace(ns *corev1.Namespace) {
	if ns.Metadata == nil {
		ns.Metadata = &metav1.ObjectMeta{}
	}
	if name := ns.Metadata.Name; name != "" {
		if ns.Metadata.Labels == nil {
			ns.Metadata.Labels = map[string]string{}
		}
		ns.Metadata.Labels[NamespaceNameLabel] = name
	}
	if ns.Spec == nil {
		ns.Spec = &corev1.NamespaceSpec{}
	}
	// The finalizer is added on create only (no resourceVersion yet): on an
	// update, an empty list means the namespace controller removed it.
	if len(ns.Spec.Finalizers) == 0 && ns.Metadata.ResourceVersion == "" && ns.Metadata.DeletionTimestamp == nil {
		ns.Spec.Finalizers = []string{NamespaceFinalizer}
	}
	if ns.Status == nil {
		ns.Status = &corev1.NamespaceStatus{}
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = api.NamespaceActive
	}
}

// Node sets a node's defaults.
func Node(n *corev1.Node) {
	if s := n.Status; s != nil && len(s.Capacity) > 0 && len(s.Allocatable) == 0 {
		s.Allocatable = make(map[string]*metav1.Quantity, len(s.Capacity))
		for k, q := range s.Capacity {
			s.Allocatable[k] = proto.Clone(q).(*metav1.Quantity)
		}
	}
}

// Secret sets a secret's defaults.
func Secret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = api.SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = make(map[string][]byte, len(s.StringData))
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
		s.StringData = nil
	}
}

// PriorityClass sets a priority class's defaults.
func PriorityClass(pc *schedulingv1.PriorityClass) {
	if pc.PreemptionPolicy == nil {
		pc.PreemptionPolicy = proto.String(api.PreemptLowerPriority)
	}
}

// DaemonSet sets a daemon set's defaults: the RollingUpdate strategy
// (maxUnavailable 1, maxSurge 0), a history of 10 revisions, and its
// template's.
func DaemonSet(ds *appsv1.DaemonSet) {
	if ds.Spec == nil {
		ds.Spec = &appsv1.DaemonSetSpec{}
	}
	s := ds.Spec
	if s.UpdateStrategy == nil {
		s.UpdateStrategy = &appsv1.DaemonSetUpdateStrategy{}
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = api.RollingUpdateDaemonSetStrategyType
	}
	if s.UpdateStrategy.Type == api.RollingUpdateDaemonSetStrategyType {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		ru := s.UpdateStrategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = &metav1.IntOrString{IntVal: 1}
		}
		if ru.MaxSurge == nil {
			ru.MaxSurge = &metav1.IntOrString{IntVal: 0}
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = proto.Int32(DefaultRevisionHistoryLimit)
	}
	applyPodTemplate(s.Template)
}

// ReplicationController sets a replication controller's defaults: one
// replica, and a selector of the template's labels when it has none.
func ReplicationController(rc *corev1.ReplicationController) {
	if rc.Spec == nil {
		rc.Spec = &corev1.ReplicationControllerSpec{}
	}
	if rc.Spec.Replicas == nil {
		rc.Spec.Replicas = proto.Int32(1)
	}
	if labels := rc.Spec.GetTemplate().GetMetadata().GetLabels(); len(rc.Spec.Selector) == 0 && len(labels) > 0 {
		rc.Spec.Selector = maps.Clone(labels)
	}
	applyPodTemplate(rc.Spec.Template)
}

// LimitRange sets a limit range's defaults, as Kubernetes does for
// Container items: a resource with a max and no default defaults to the
// max, and a resource with a default (else a min) and no defaultRequest
// defaults its request to it.
func LimitRange(lr *corev1.LimitRange) {
	for _, item := range lr.GetSpec().GetLimits() {
		if item.GetType() != api.LimitTypeContainer {
			continue
		}
		item.Default = fillMissing(item.Default, item.GetMax())
		item.DefaultRequest = fillMissing(item.DefaultRequest, item.GetDefault())
		item.DefaultRequest = fillMissing(item.DefaultRequest, item.GetMin())
	}
}

// fillMissing adds to dst a copy of each entry of src it lacks.
func fillMissing(dst, src map[string]*metav1.Quantity) map[string]*metav1.Quantity {
	for k, v := range src {
		if _, ok := dst[k]; ok {
			continue
		}
		if dst == nil {
			dst = map[string]*metav1.Quantity{}
		}
		dst[k] = proto.Clone(v).(*metav1.Quantity)
	}
	return dst
}

// ---------------------------------------------------------------------------
// RBAC

// RoleBinding sets its subjects' defaults (see subjects).
func RoleBinding(rb *rbacv1.RoleBinding) { subjects(rb.GetSubjects()) }

// ClusterRoleBinding sets its subjects' defaults (see subjects).
func ClusterRoleBinding(crb *rbacv1.ClusterRoleBinding) { subjects(crb.GetSubjects()) }

// subjects gives a User or Group subject without an apiGroup the RBAC
// group, as Kubernetes' rbac/v1 defaults do (a ServiceAccount's stays "").
func subjects(subs []*rbacv1.Subject) {
	for _, s := range subs {
		if s.GetApiGroup() == "" && (s.GetKind() == api.SubjectKindUser || s.GetKind() == api.SubjectKindGroup) {
			s.ApiGroup = api.GroupRBAC
		}
	}
}

// hasVolumeSource reports whether any field of v but its name is set:
// a volume that names no source is an emptyDir, as in Kubernetes.
func hasVolumeSource(v *corev1.Volume) bool {
	set := false
	v.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		set = fd.Name() != "name"
		return !set
	})
	return set
}
