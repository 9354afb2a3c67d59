package printers

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// Keys of the related objects the descriptions read from
// registry.DescribeInput.Related (each kind's strategy asks for them).
const (
	RelatedPods        = "pods"
	RelatedReplicaSets = "replicasets"
	RelatedEndpoints   = "endpoints"
	RelatedLease       = "lease"
)

// RelatedPodsQuery asks for the pods of namespace ns that sel selects,
// under RelatedPods; none when sel selects nothing (a kind's RelatedFunc
// for the pods of its selector).
func RelatedPodsQuery(ns string, sel *metav1.LabelSelector) []registry.Query {
	s := FormatSelector(sel)
	if s == "<none>" {
		return nil
	}
	return []registry.Query{{Key: RelatedPods, Resource: "pods", Namespace: ns, LabelSelector: s}}
}

// Describe renders the object of in as kubectl describe does, with its
// kind's description (pkg/registry): aligned "Field:  value" lines in
// sections, ending with its events. Objects of unregistered kinds get the
// generic description.
func Describe(in registry.DescribeInput) string {
	if s, ok := registry.Of(in.Object); ok {
		return s.Describe(in)
	}
	return DescribeGeneric(in)
}

// DescribeGeneric renders any object: its metadata, then its manifest.
func DescribeGeneric(in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.generic(in.Object) })
}

// DescribePod renders a Pod as `describe` does.
func DescribePod(o *corev1.Pod, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.pod(o) })
}

// DescribeDeployment renders a Deployment as `describe` does.
func DescribeDeployment(o *appsv1.Deployment, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.deployment(o) })
}

// DescribeReplicaSet renders a ReplicaSet as `describe` does.
func DescribeReplicaSet(o *appsv1.ReplicaSet, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.replicaSet(o) })
}

// DescribeJob renders a Job as `describe` does.
func DescribeJob(o *batchv1.Job, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.job(o) })
}

// DescribeService renders a Service as `describe` does.
func DescribeService(o *corev1.Service, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.service(o) })
}

// DescribeNode renders a Node as `describe` does.
func DescribeNode(o *corev1.Node, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.node(o) })
}

// DescribeNamespace renders a Namespace as `describe` does.
func DescribeNamespace(o *corev1.Namespace, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.namespace(o) })
}

// DescribeConfigMap renders a ConfigMap as `describe` does.
func DescribeConfigMap(o *corev1.ConfigMap, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.configMap(o) })
}

// DescribeSecret renders a Secret as `describe` does.
func DescribeSecret(o *corev1.Secret, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.secret(o) })
}

// DescribeEndpoints renders a Endpoints as `describe` does.
func DescribeEndpoints(o *corev1.Endpoints, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.endpoints(o) })
}

// DescribeServiceAccount renders a ServiceAccount as `describe` does.
func DescribeServiceAccount(o *corev1.ServiceAccount, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.serviceAccount(o) })
}

// DescribeLease renders a Lease as `describe` does.
func DescribeLease(o *coordinationv1.Lease, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.lease(o) })
}

// DescribePriorityClass renders a PriorityClass as `describe` does.
func DescribePriorityClass(o *schedulingv1.PriorityClass, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.priorityClass(o) })
}

// DescribeEvent renders a Event as `describe` does.
func DescribeEvent(o *corev1.Event, in registry.DescribeInput) string {
	return render(in, func(w *dw) { w.event(o) })
}

// render runs one description over a tab writer.
func render(in registry.DescribeInput, describe func(w *dw)) string {
	var buf bytes.Buffer
	w := &dw{tw: tabwriter.NewWriter(&buf, 0, 8, 2, ' ', tabwriter.StripEscape), in: in}
	describe(w)
	w.tw.Flush()
	return buf.String()
}

// related returns the related objects under key, as T.
func related[T proto.Message](in registry.DescribeInput, key string) []T {
	var out []T
	for _, o := range in.Related[key] {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// dw writes describe output: lines indented by two spaces per level, with
// tabs separating the cells that the tab writer aligns.
type dw struct {
	tw *tabwriter.Writer
	in registry.DescribeInput
}

func (w *dw) line(level int, format string, args ...any) {
	fmt.Fprint(w.tw, strings.Repeat("  ", level))
	fmt.Fprintf(w.tw, format, args...)
	fmt.Fprint(w.tw, "\n")
}

func (w *dw) age(t *timestamppb.Timestamp) string { return Age(t, w.in.Now) }

func (w *dw) time(t *timestamppb.Timestamp) string { return formatTime(t, w.in.Location) }

// multi prints title with values one per line, aligned, or <none>.
func (w *dw) multi(level int, title string, values []string) {
	if len(values) == 0 {
		w.line(level, "%s:\t<none>", title)
		return
	}
	w.line(level, "%s:\t%s", title, values[0])
	for _, v := range values[1:] {
		w.line(level, "\t%s", v)
	}
}

func (w *dw) labels(level int, title string, m map[string]string) {
	var vals []string
	for _, k := range sortedKeys(m) {
		vals = append(vals, k+"="+m[k])
	}
	w.multi(level, title, vals)
}

func (w *dw) annotations(level int, m map[string]string) {
	var vals []string
	for _, k := range sortedKeys(m) {
		if k == api.LastAppliedConfigAnnotation {
			continue
		}
		vals = append(vals, k+": "+m[k])
	}
	w.multi(level, "Annotations", vals)
}

// objectMeta prints the usual head: Name, Namespace (namespaced kinds),
// then what the caller's fields list, in the caller's order.
func (w *dw) head(m *metav1.ObjectMeta, namespaced bool) {
	w.line(0, "Name:\t%s", m.GetName())
	if namespaced {
		w.line(0, "Namespace:\t%s", m.GetNamespace())
	}
}

func (w *dw) controlledBy(m *metav1.ObjectMeta) {
	for _, o := range m.GetOwnerReferences() {
		if o.GetController() {
			w.line(0, "Controlled By:\t%s/%s", o.GetKind(), o.GetName())
			return
		}
	}
}

func (w *dw) events() {
	evs := append([]*corev1.Event(nil), w.in.Events...)
	if len(evs) == 0 {
		w.line(0, "Events:\t<none>")
		return
	}
	SortEvents(evs)
	w.line(0, "Events:")
	w.line(1, "Type\tReason\tAge\tFrom\tMessage")
	w.line(1, "----\t------\t----\t----\t-------")
	for _, e := range evs {
		first, last, count := eventTimes(e, w.in.Now)
		age := first
		if count > 1 {
			age = fmt.Sprintf("%s (x%d over %s)", last, count, first)
		}
		from := e.GetSource().GetComponent()
		if from == "" {
			from = e.GetReportingComponent()
		}
		w.line(1, "%s\t%s\t%s\t%s\t%s", e.GetType(), e.GetReason(), age, from, strings.TrimSpace(e.GetMessage()))
	}
}

// ---------------------------------------------------------------------------
// Pods and pod templates

func (w *dw) pod(p *corev1.Pod) {
	m, spec, st := p.GetMetadata(), p.GetSpec(), p.GetStatus()
	if spec == nil {
		spec = &corev1.PodSpec{}
	}
	w.head(m, true)
	if spec.Priority != nil {
		w.line(0, "Priority:\t%d", spec.GetPriority())
	}
	if spec.GetPriorityClassName() != "" {
		w.line(0, "Priority Class Name:\t%s", spec.GetPriorityClassName())
	}
	w.line(0, "Service Account:\t%s", spec.GetServiceAccountName())
	node := "<none>"
	if spec.GetNodeName() != "" {
		node = spec.GetNodeName()
		if st.GetHostIp() != "" {
			node += "/" + st.GetHostIp()
		}
	}
	w.line(0, "Node:\t%s", node)
	if isSet(st.GetStartTime()) {
		w.line(0, "Start Time:\t%s", w.time(st.GetStartTime()))
	}
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	if m.GetDeletionTimestamp() != nil {
		w.line(0, "Status:\tTerminating (lasts %s)", HumanDuration(m.GetDeletionTimestamp().AsTime().Sub(w.in.Now)))
		w.line(0, "Termination Grace Period:\t%ds", m.GetDeletionGracePeriodSeconds())
	} else {
		w.line(0, "Status:\t%s", st.GetPhase())
	}
	if st.GetReason() != "" {
		w.line(0, "Reason:\t%s", st.GetReason())
	}
	if st.GetMessage() != "" {
		w.line(0, "Message:\t%s", strings.TrimSpace(st.GetMessage()))
	}
	w.line(0, "IP:\t%s", st.GetPodIp())
	if len(st.GetPodIps()) == 0 {
		w.line(0, "IPs:\t<none>")
	} else {
		w.line(0, "IPs:")
		for _, ip := range st.GetPodIps() {
			w.line(1, "IP:\t%s", ip.GetIp())
		}
	}
	if st.GetNominatedNodeName() != "" {
		w.line(0, "NominatedNodeName:\t%s", st.GetNominatedNodeName())
	}
	w.controlledBy(m)
	if len(spec.GetInitContainers()) > 0 {
		w.line(0, "Init Containers:")
		w.containers(1, spec.GetInitContainers(), st.GetInitContainerStatuses(), true)
	}
	w.line(0, "Containers:")
	w.containers(1, spec.GetContainers(), st.GetContainerStatuses(), true)
	if len(st.GetConditions()) > 0 {
		w.line(0, "Conditions:")
		w.line(1, "Type\tStatus")
		for _, c := range st.GetConditions() {
			w.line(1, "%s\t%s", c.GetType(), c.GetStatus())
		}
	}
	w.volumes(0, spec.GetVolumes())
	if st.GetQosClass() != "" {
		w.line(0, "QoS Class:\t%s", st.GetQosClass())
	}
	w.labels(0, "Node-Selectors", spec.GetNodeSelector())
	w.tolerations(0, spec.GetTolerations())
	w.events()
}

// podTemplate prints a workload's pod template.
func (w *dw) podTemplate(t *corev1.PodTemplateSpec) {
	w.line(0, "Pod Template:")
	w.labels(1, "Labels", t.GetMetadata().GetLabels())
	if a := t.GetMetadata().GetAnnotations(); len(a) > 0 {
		w.annotations(1, a)
	}
	spec := t.GetSpec()
	if spec.GetServiceAccountName() != "" {
		w.line(1, "Service Account:\t%s", spec.GetServiceAccountName())
	}
	if len(spec.GetInitContainers()) > 0 {
		w.line(1, "Init Containers:")
		w.containers(2, spec.GetInitContainers(), nil, false)
	}
	w.line(1, "Containers:")
	w.containers(2, spec.GetContainers(), nil, false)
	w.volumes(1, spec.GetVolumes())
	w.labels(1, "Node-Selectors", spec.GetNodeSelector())
	w.tolerations(1, spec.GetTolerations())
}

func (w *dw) containers(level int, cs []*corev1.Container, statuses []*corev1.ContainerStatus, withStatus bool) {
	byName := map[string]*corev1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.GetName()] = s
	}
	for _, c := range cs {
		w.line(level, "%s:", c.GetName())
		l := level + 1
		st, hasStatus := byName[c.GetName()]
		if withStatus {
			w.line(l, "Container ID:\t%s", st.GetContainerId())
		}
		w.line(l, "Image:\t%s", c.GetImage())
		if withStatus {
			w.line(l, "Image ID:\t%s", st.GetImageId())
		}
		w.ports(l, c.GetPorts())
		w.list(l, "Command", c.GetCommand())
		w.list(l, "Args", c.GetArgs())
		if c.GetWorkingDir() != "" {
			w.line(l, "Working Dir:\t%s", c.GetWorkingDir())
		}
		if withStatus {
			if hasStatus {
				w.state(l, "State", st.GetState())
				if ls := st.GetLastState(); ls.GetRunning() != nil || ls.GetWaiting() != nil || ls.GetTerminated() != nil {
					w.state(l, "Last State", ls)
				}
				w.line(l, "Ready:\t%s", titleBool(st.GetReady()))
				w.line(l, "Restart Count:\t%d", st.GetRestartCount())
			} else {
				w.line(l, "State:\tWaiting")
				w.line(l, "Ready:\tFalse")
				w.line(l, "Restart Count:\t0")
			}
		}
		w.resources(l, "Limits", c.GetResources().GetLimits())
		w.resources(l, "Requests", c.GetResources().GetRequests())
		if p := c.GetLivenessProbe(); p != nil {
			w.line(l, "Liveness:\t%s", formatProbe(p))
		}
		if p := c.GetReadinessProbe(); p != nil {
			w.line(l, "Readiness:\t%s", formatProbe(p))
		}
		if p := c.GetStartupProbe(); p != nil {
			w.line(l, "Startup:\t%s", formatProbe(p))
		}
		if len(c.GetEnvFrom()) > 0 {
			w.line(l, "Environment Variables from:")
			for _, e := range c.GetEnvFrom() {
				switch {
				case e.GetConfigMapRef() != nil:
					w.line(l+1, "%s\tConfigMap\tPrefix: %s\tOptional: %t", e.GetConfigMapRef().GetName(), e.GetPrefix(), e.GetConfigMapRef().GetOptional())
				case e.GetSecretRef() != nil:
					w.line(l+1, "%s\tSecret\tPrefix: %s\tOptional: %t", e.GetSecretRef().GetName(), e.GetPrefix(), e.GetSecretRef().GetOptional())
				}
			}
		}
		if len(c.GetEnv()) == 0 {
			w.line(l, "Environment:\t<none>")
		} else {
			w.line(l, "Environment:")
			for _, e := range c.GetEnv() {
				w.line(l+1, "%s:\t%s", e.GetName(), envValue(e))
			}
		}
		if len(c.GetVolumeMounts()) == 0 {
			w.line(l, "Mounts:\t<none>")
		} else {
			w.line(l, "Mounts:")
			for _, vm := range c.GetVolumeMounts() {
				flags := []string{"rw"}
				if vm.GetReadOnly() {
					flags[0] = "ro"
				}
				if vm.GetSubPath() != "" {
					flags = append(flags, fmt.Sprintf("path=%q", vm.GetSubPath()))
				}
				w.line(l+1, "%s from %s (%s)", vm.GetMountPath(), vm.GetName(), strings.Join(flags, ","))
			}
		}
	}
}

func (w *dw) ports(level int, ports []*corev1.ContainerPort) {
	if len(ports) == 0 {
		w.line(level, "Port:\t<none>")
		w.line(level, "Host Port:\t<none>")
		return
	}
	var p, hp []string
	for _, port := range ports {
		p = append(p, fmt.Sprintf("%d/%s", port.GetContainerPort(), port.GetProtocol()))
		hp = append(hp, fmt.Sprintf("%d/%s", port.GetHostPort(), port.GetProtocol()))
	}
	if len(ports) == 1 {
		w.line(level, "Port:\t%s", p[0])
		w.line(level, "Host Port:\t%s", hp[0])
		return
	}
	w.line(level, "Ports:\t%s", strings.Join(p, ", "))
	w.line(level, "Host Ports:\t%s", strings.Join(hp, ", "))
}

func (w *dw) list(level int, title string, items []string) {
	if len(items) == 0 {
		return
	}
	w.line(level, "%s:", title)
	for _, it := range items {
		w.line(level+1, "%s", it)
	}
}

func (w *dw) state(level int, title string, s *corev1.ContainerState) {
	switch {
	case s.GetRunning() != nil:
		w.line(level, "%s:\tRunning", title)
		w.line(level+1, "Started:\t%s", w.time(s.GetRunning().GetStartedAt()))
	case s.GetWaiting() != nil:
		w.line(level, "%s:\tWaiting", title)
		if r := s.GetWaiting().GetReason(); r != "" {
			w.line(level+1, "Reason:\t%s", r)
		}
		if m := s.GetWaiting().GetMessage(); m != "" {
			w.line(level+1, "Message:\t%s", m)
		}
	case s.GetTerminated() != nil:
		t := s.GetTerminated()
		w.line(level, "%s:\tTerminated", title)
		if t.GetReason() != "" {
			w.line(level+1, "Reason:\t%s", t.GetReason())
		}
		if t.GetMessage() != "" {
			w.line(level+1, "Message:\t%s", t.GetMessage())
		}
		w.line(level+1, "Exit Code:\t%d", t.GetExitCode())
		if t.GetSignal() != 0 {
			w.line(level+1, "Signal:\t%d", t.GetSignal())
		}
		w.line(level+1, "Started:\t%s", w.time(t.GetStartedAt()))
		w.line(level+1, "Finished:\t%s", w.time(t.GetFinishedAt()))
	default:
		w.line(level, "%s:\tWaiting", title)
	}
}

func (w *dw) resources(level int, title string, m map[string]*metav1.Quantity) {
	if len(m) == 0 {
		return
	}
	w.line(level, "%s:", title)
	for _, k := range sortedKeys(m) {
		w.line(level+1, "%s:\t%s", k, m[k].GetString_())
	}
}

// escapeTabs protects the tabs of verbatim text (config map values) from
// being taken as cell boundaries.
func escapeTabs(s string) string { return strings.ReplaceAll(s, "\t", "\xff\t\xff") }

func titleBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// formatProbe renders a probe as "exec [cat /tmp/healthy] delay=5s
// timeout=1s period=5s #success=1 #failure=3".
func formatProbe(p *corev1.Probe) string {
	attrs := fmt.Sprintf("delay=%ds timeout=%ds period=%ds #success=%d #failure=%d",
		p.GetInitialDelaySeconds(), p.GetTimeoutSeconds(), p.GetPeriodSeconds(), p.GetSuccessThreshold(), p.GetFailureThreshold())
	switch {
	case p.GetExec() != nil:
		return fmt.Sprintf("exec [%s] %s", strings.Join(p.GetExec().GetCommand(), " "), attrs)
	case p.GetHttpGet() != nil:
		h := p.GetHttpGet()
		u := url.URL{Scheme: strings.ToLower(h.GetScheme()), Host: h.GetHost(), Path: h.GetPath()}
		if u.Scheme == "" {
			u.Scheme = "http"
		}
		if port := intOrString(h.GetPort()); port != "" {
			u.Host = net.JoinHostPort(h.GetHost(), port)
		}
		return fmt.Sprintf("http-get %s %s", u.String(), attrs)
	case p.GetTcpSocket() != nil:
		t := p.GetTcpSocket()
		return fmt.Sprintf("tcp-socket %s:%s %s", t.GetHost(), intOrString(t.GetPort()), attrs)
	case p.GetGrpc() != nil:
		return fmt.Sprintf("grpc <pod>:%d %s %s", p.GetGrpc().GetPort(), p.GetGrpc().GetService(), attrs)
	}
	return "unknown " + attrs
}

func intOrString(v *metav1.IntOrString) string {
	if v == nil {
		return ""
	}
	x := api.ToIntstr(v)
	return x.String()
}

// envValue renders where an environment variable's value comes from.
func envValue(e *corev1.EnvVar) string {
	src := e.GetValueFrom()
	switch {
	case src == nil:
		return e.GetValue()
	case src.GetFieldRef() != nil:
		f := src.GetFieldRef()
		return fmt.Sprintf(" (%s:%s)", f.GetApiVersion(), f.GetFieldPath())
	case src.GetResourceFieldRef() != nil:
		r := src.GetResourceFieldRef()
		s := r.GetResource()
		if r.GetContainerName() != "" {
			s = r.GetContainerName() + ":" + s
		}
		return fmt.Sprintf(" (%s)", s)
	case src.GetConfigMapKeyRef() != nil:
		r := src.GetConfigMapKeyRef()
		return fmt.Sprintf("<set to the key '%s' of config map '%s'>\tOptional: %t", r.GetKey(), r.GetName(), r.GetOptional())
	case src.GetSecretKeyRef() != nil:
		r := src.GetSecretKeyRef()
		return fmt.Sprintf("<set to the key '%s' in secret '%s'>\tOptional: %t", r.GetKey(), r.GetName(), r.GetOptional())
	}
	return ""
}

func (w *dw) volumes(level int, vols []*corev1.Volume) {
	if len(vols) == 0 {
		w.line(level, "Volumes:\t<none>")
		return
	}
	w.line(level, "Volumes:")
	for _, v := range vols {
		w.line(level+1, "%s:", v.GetName())
		l := level + 2
		switch {
		case v.GetConfigMap() != nil:
			s := v.GetConfigMap()
			w.line(l, "Type:\tConfigMap (a volume populated by a ConfigMap)")
			w.line(l, "Name:\t%s", s.GetName())
			w.line(l, "Optional:\t%t", s.GetOptional())
		case v.GetSecret() != nil:
			s := v.GetSecret()
			w.line(l, "Type:\tSecret (a volume populated by a Secret)")
			w.line(l, "SecretName:\t%s", s.GetSecretName())
			w.line(l, "Optional:\t%t", s.GetOptional())
		case v.GetHostPath() != nil:
			s := v.GetHostPath()
			w.line(l, "Type:\tHostPath (bare host directory volume)")
			w.line(l, "Path:\t%s", s.GetPath())
			w.line(l, "HostPathType:\t%s", s.GetType())
		case v.GetEmptyDir() != nil:
			s := v.GetEmptyDir()
			w.line(l, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)")
			w.line(l, "Medium:\t%s", s.GetMedium())
			limit := "<unset>"
			if s.GetSizeLimit() != nil {
				limit = s.GetSizeLimit().GetString_()
			}
			w.line(l, "SizeLimit:\t%s", limit)
		case v.GetPersistentVolumeClaim() != nil:
			s := v.GetPersistentVolumeClaim()
			w.line(l, "Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)")
			w.line(l, "ClaimName:\t%s", s.GetClaimName())
			w.line(l, "ReadOnly:\t%t", s.GetReadOnly())
		case v.GetProjected() != nil:
			w.line(l, "Type:\tProjected (a volume that contains injected data from multiple sources)")
			for _, src := range v.GetProjected().GetSources() {
				switch {
				case src.GetServiceAccountToken() != nil:
					w.line(l, "TokenExpirationSeconds:\t%d", src.GetServiceAccountToken().GetExpirationSeconds())
				case src.GetConfigMap() != nil:
					w.line(l, "ConfigMapName:\t%s", src.GetConfigMap().GetName())
					w.line(l, "ConfigMapOptional:\t%t", src.GetConfigMap().GetOptional())
				case src.GetSecret() != nil:
					w.line(l, "SecretName:\t%s", src.GetSecret().GetName())
					w.line(l, "SecretOptional:\t%t", src.GetSecret().GetOptional())
				case src.GetDownwardApi() != nil:
					w.line(l, "DownwardAPI:\ttrue")
				}
			}
		case v.GetNfs() != nil:
			s := v.GetNfs()
			w.line(l, "Type:\tNFS (an NFS mount that lasts the lifetime of a pod)")
			w.line(l, "Server:\t%s", s.GetServer())
			w.line(l, "Path:\t%s", s.GetPath())
			w.line(l, "ReadOnly:\t%t", s.GetReadOnly())
		default:
			w.line(l, "Type:\t<unknown>")
		}
	}
}

func (w *dw) tolerations(level int, ts []*corev1.Toleration) {
	var vals []string
	for _, t := range ts {
		s := t.GetKey()
		if t.GetValue() != "" {
			s += "=" + t.GetValue()
		}
		if t.GetEffect() != "" {
			s += ":" + t.GetEffect()
		}
		if t.GetOperator() == api.TolerationOpExists && t.GetValue() == "" {
			if s == "" {
				s = "op=Exists"
			} else {
				s += " op=Exists"
			}
		}
		if t.TolerationSeconds != nil {
			s += fmt.Sprintf(" for %ds", t.GetTolerationSeconds())
		}
		vals = append(vals, s)
	}
	w.multi(level, "Tolerations", vals)
}

// ---------------------------------------------------------------------------
// Workloads

func (w *dw) deployment(d *appsv1.Deployment) {
	m, spec, st := d.GetMetadata(), d.GetSpec(), d.GetStatus()
	w.head(m, true)
	w.line(0, "CreationTimestamp:\t%s", w.time(m.GetCreationTimestamp()))
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "Selector:\t%s", FormatSelector(spec.GetSelector()))
	w.line(0, "Replicas:\t%d desired | %d updated | %d total | %d available | %d unavailable",
		spec.GetReplicas(), st.GetUpdatedReplicas(), st.GetReplicas(), st.GetAvailableReplicas(), st.GetUnavailableReplicas())
	w.line(0, "StrategyType:\t%s", spec.GetStrategy().GetType())
	w.line(0, "MinReadySeconds:\t%d", spec.GetMinReadySeconds())
	if ru := spec.GetStrategy().GetRollingUpdate(); ru != nil {
		w.line(0, "RollingUpdateStrategy:\t%s max unavailable, %s max surge", intOrString(ru.GetMaxUnavailable()), intOrString(ru.GetMaxSurge()))
	}
	if spec.GetPaused() {
		w.line(0, "Paused:\ttrue")
	}
	w.podTemplate(spec.GetTemplate())
	if len(st.GetConditions()) > 0 {
		w.line(0, "Conditions:")
		w.line(1, "Type\tStatus\tReason")
		w.line(1, "----\t------\t------")
		for _, c := range st.GetConditions() {
			w.line(1, "%s\t%s\t%s", c.GetType(), c.GetStatus(), c.GetReason())
		}
	}
	var newRS *appsv1.ReplicaSet
	var old []string
	for _, rs := range related[*appsv1.ReplicaSet](w.in, RelatedReplicaSets) {
		if api.ControllerRef(rs.GetMetadata()).GetUid() != m.GetUid() || m.GetUid() == "" {
			continue
		}
		if newRS == nil && sameTemplate(rs.GetSpec().GetTemplate(), spec.GetTemplate()) {
			newRS = rs
			continue
		}
		if rs.GetSpec().GetReplicas() > 0 {
			old = append(old, rsSummary(rs))
		}
	}
	if len(old) == 0 {
		w.line(0, "OldReplicaSets:\t<none>")
	} else {
		w.line(0, "OldReplicaSets:\t%s", strings.Join(old, ", "))
	}
	if newRS == nil {
		w.line(0, "NewReplicaSet:\t<none>")
	} else {
		w.line(0, "NewReplicaSet:\t%s", rsSummary(newRS))
	}
	w.events()
}

func rsSummary(rs *appsv1.ReplicaSet) string {
	return fmt.Sprintf("%s (%d/%d replicas created)", rs.GetMetadata().GetName(), rs.GetStatus().GetReplicas(), rs.GetSpec().GetReplicas())
}

// sameTemplate compares a replica set's template with its deployment's,
// ignoring the pod-template-hash label the deployment controller adds.
func sameTemplate(rsT, dT *corev1.PodTemplateSpec) bool {
	a := proto.Clone(rsT).(*corev1.PodTemplateSpec)
	if a == nil {
		return dT == nil
	}
	if l := a.GetMetadata().GetLabels(); l != nil {
		delete(l, api.DeploymentHashLabel)
		if len(l) == 0 {
			a.Metadata.Labels = nil
		}
	}
	b := proto.Clone(dT).(*corev1.PodTemplateSpec)
	if b != nil && b.GetMetadata() != nil && len(b.GetMetadata().GetLabels()) == 0 {
		b.Metadata.Labels = nil
	}
	return proto.Equal(a, b)
}

func (w *dw) replicaSet(rs *appsv1.ReplicaSet) {
	m, spec, st := rs.GetMetadata(), rs.GetSpec(), rs.GetStatus()
	w.head(m, true)
	w.line(0, "Selector:\t%s", FormatSelector(spec.GetSelector()))
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.controlledBy(m)
	w.line(0, "Replicas:\t%d current / %d desired", st.GetReplicas(), spec.GetReplicas())
	w.podsStatus(m.GetUid())
	w.podTemplate(spec.GetTemplate())
	if len(st.GetConditions()) > 0 {
		w.line(0, "Conditions:")
		w.line(1, "Type\tStatus\tReason")
		w.line(1, "----\t------\t------")
		for _, c := range st.GetConditions() {
			w.line(1, "%s\t%s\t%s", c.GetType(), c.GetStatus(), c.GetReason())
		}
	}
	w.events()
}

// podsStatus is the "Pods Status" line of a controller: the phases of
// the related pods it controls (uid).
func (w *dw) podsStatus(uid string) {
	var running, waiting, succeeded, failed int
	for _, p := range related[*corev1.Pod](w.in, RelatedPods) {
		if ref := api.ControllerRef(p.GetMetadata()).GetUid(); ref == "" || ref != uid {
			continue
		}
		switch p.GetStatus().GetPhase() {
		case api.PodRunning:
			running++
		case api.PodPending:
			waiting++
		case api.PodSucceeded:
			succeeded++
		case api.PodFailed:
			failed++
		}
	}
	w.line(0, "Pods Status:\t%d Running / %d Waiting / %d Succeeded / %d Failed", running, waiting, succeeded, failed)
}

func (w *dw) job(j *batchv1.Job) {
	m, spec, st := j.GetMetadata(), j.GetSpec(), j.GetStatus()
	if spec == nil {
		spec = &batchv1.JobSpec{}
	}
	w.head(m, true)
	w.line(0, "Selector:\t%s", FormatSelector(spec.GetSelector()))
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.controlledBy(m)
	w.line(0, "Parallelism:\t%d", spec.GetParallelism())
	if spec.Completions != nil {
		w.line(0, "Completions:\t%d", spec.GetCompletions())
	} else {
		w.line(0, "Completions:\t<unset>")
	}
	if spec.CompletionMode != nil {
		w.line(0, "Completion Mode:\t%s", spec.GetCompletionMode())
	}
	w.line(0, "Suspend:\t%t", spec.GetSuspend())
	if spec.BackoffLimit != nil {
		w.line(0, "Backoff Limit:\t%d", spec.GetBackoffLimit())
	}
	if spec.TtlSecondsAfterFinished != nil {
		w.line(0, "TTL Seconds After Finished:\t%d", spec.GetTtlSecondsAfterFinished())
	}
	if isSet(st.GetStartTime()) {
		w.line(0, "Start Time:\t%s", w.time(st.GetStartTime()))
	}
	if isSet(st.GetCompletionTime()) {
		w.line(0, "Completed At:\t%s", w.time(st.GetCompletionTime()))
	}
	if d := jobDuration(j, w.in.Now); d != "" {
		w.line(0, "Duration:\t%s", d)
	}
	if spec.ActiveDeadlineSeconds != nil {
		w.line(0, "Active Deadline Seconds:\t%ds", spec.GetActiveDeadlineSeconds())
	}
	w.line(0, "Pods Statuses:\t%d Active (%d Ready) / %d Succeeded / %d Failed", st.GetActive(), st.GetReady(), st.GetSucceeded(), st.GetFailed())
	w.podTemplate(spec.GetTemplate())
	if len(st.GetConditions()) > 0 {
		w.line(0, "Conditions:")
		w.line(1, "Type\tStatus\tReason")
		w.line(1, "----\t------\t------")
		for _, c := range st.GetConditions() {
			w.line(1, "%s\t%s\t%s", c.GetType(), c.GetStatus(), c.GetReason())
		}
	}
	w.events()
}

// ---------------------------------------------------------------------------
// Services and Endpoints

func (w *dw) service(s *corev1.Service) {
	m, spec := s.GetMetadata(), s.GetSpec()
	if spec == nil {
		spec = &corev1.ServiceSpec{}
	}
	w.head(m, true)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "Selector:\t%s", strings.ReplaceAll(FormatLabels(spec.GetSelector()), "<none>", ""))
	w.line(0, "Type:\t%s", spec.GetType())
	if spec.IpFamilyPolicy != nil {
		w.line(0, "IP Family Policy:\t%s", spec.GetIpFamilyPolicy())
	}
	if len(spec.GetIpFamilies()) > 0 {
		w.line(0, "IP Families:\t%s", strings.Join(spec.GetIpFamilies(), ","))
	}
	w.line(0, "IP:\t%s", spec.GetClusterIp())
	if len(spec.GetClusterIps()) > 0 {
		w.line(0, "IPs:\t%s", strings.Join(spec.GetClusterIps(), ","))
	}
	if len(spec.GetExternalIps()) > 0 {
		w.line(0, "External IPs:\t%s", strings.Join(spec.GetExternalIps(), ","))
	}
	if spec.GetExternalName() != "" {
		w.line(0, "External Name:\t%s", spec.GetExternalName())
	}
	for _, p := range spec.GetPorts() {
		name := p.GetName()
		if name == "" {
			name = "<unset>"
		}
		w.line(0, "Port:\t%s\t%d/%s", name, p.GetPort(), p.GetProtocol())
		if tp := intOrString(p.GetTargetPort()); tp != "" {
			w.line(0, "TargetPort:\t%s/%s", tp, p.GetProtocol())
		}
		if p.GetNodePort() != 0 {
			w.line(0, "NodePort:\t%s\t%d/%s", name, p.GetNodePort(), p.GetProtocol())
		}
		eps := "<none>"
		if e := related[*corev1.Endpoints](w.in, RelatedEndpoints); len(e) > 0 {
			eps = formatEndpoints(e[0], 1<<30, func(n string) bool { return n == p.GetName() })
		}
		w.line(0, "Endpoints:\t%s", eps)
	}
	w.line(0, "Session Affinity:\t%s", spec.GetSessionAffinity())
	if spec.GetExternalTrafficPolicy() != "" {
		w.line(0, "External Traffic Policy:\t%s", spec.GetExternalTrafficPolicy())
	}
	if spec.InternalTrafficPolicy != nil {
		w.line(0, "Internal Traffic Policy:\t%s", spec.GetInternalTrafficPolicy())
	}
	w.events()
}

func (w *dw) endpoints(e *corev1.Endpoints) {
	m := e.GetMetadata()
	w.head(m, true)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "Subsets:")
	for _, ss := range e.GetSubsets() {
		var ready, notReady []string
		for _, a := range ss.GetAddresses() {
			ready = append(ready, a.GetIp())
		}
		for _, a := range ss.GetNotReadyAddresses() {
			notReady = append(notReady, a.GetIp())
		}
		w.line(1, "Addresses:\t%s", orNone(strings.Join(ready, ",")))
		w.line(1, "NotReadyAddresses:\t%s", orNone(strings.Join(notReady, ",")))
		if len(ss.GetPorts()) == 0 {
			w.line(1, "Ports:\t<none>")
			continue
		}
		w.line(1, "Ports:")
		w.line(2, "Name\tPort\tProtocol")
		w.line(2, "----\t----\t--------")
		for _, p := range ss.GetPorts() {
			name := p.GetName()
			if name == "" {
				name = "<unset>"
			}
			w.line(2, "%s\t%d\t%s", name, p.GetPort(), p.GetProtocol())
		}
	}
	w.line(0, "")
	w.events()
}

// formatEndpoints renders up to max "ip:port" pairs for the ports keep
// accepts (by name), then " + N more...", or "<none>".
func formatEndpoints(e *corev1.Endpoints, max int, keep func(portName string) bool) string {
	var list []string
	count := 0
	for _, ss := range e.GetSubsets() {
		for _, p := range ss.GetPorts() {
			if !keep(p.GetName()) {
				continue
			}
			for _, a := range ss.GetAddresses() {
				if len(list) < max {
					list = append(list, net.JoinHostPort(a.GetIp(), strconv.Itoa(int(p.GetPort()))))
				}
				count++
			}
		}
	}
	s := strings.Join(list, ",")
	switch {
	case count > len(list):
		return fmt.Sprintf("%s + %d more...", s, count-len(list))
	case s == "":
		return "<none>"
	}
	return s
}

// ---------------------------------------------------------------------------
// Nodes

func (w *dw) node(n *corev1.Node) {
	m, spec, st := n.GetMetadata(), n.GetSpec(), n.GetStatus()
	w.line(0, "Name:\t%s", m.GetName())
	w.line(0, "Roles:\t%s", NodeRoles(n))
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "CreationTimestamp:\t%s", w.time(m.GetCreationTimestamp()))
	var taints []string
	for _, t := range spec.GetTaints() {
		s := t.GetKey()
		if t.GetValue() != "" {
			s += "=" + t.GetValue()
		}
		taints = append(taints, s+":"+t.GetEffect())
	}
	w.multi(0, "Taints", taints)
	w.line(0, "Unschedulable:\t%t", spec.GetUnschedulable())
	if ls := related[*coordinationv1.Lease](w.in, RelatedLease); len(ls) > 0 {
		l := ls[0]
		w.line(0, "Lease:")
		w.line(1, "HolderIdentity:\t%s", orUnset(l.GetSpec().GetHolderIdentity()))
		w.line(1, "AcquireTime:\t%s", w.time(l.GetSpec().GetAcquireTime()))
		w.line(1, "RenewTime:\t%s", w.time(l.GetSpec().GetRenewTime()))
	}
	if len(st.GetConditions()) == 0 {
		w.line(0, "Conditions:\t<none>")
	} else {
		w.line(0, "Conditions:")
		w.line(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage")
		w.line(1, "----\t------\t-----------------\t------------------\t------\t-------")
		for _, c := range st.GetConditions() {
			w.line(1, "%s\t%s\t%s\t%s\t%s\t%s", c.GetType(), c.GetStatus(), w.time(c.GetLastHeartbeatTime()),
				w.time(c.GetLastTransitionTime()), c.GetReason(), c.GetMessage())
		}
	}
	if len(st.GetAddresses()) == 0 {
		w.line(0, "Addresses:\t<none>")
	} else {
		w.line(0, "Addresses:")
		for _, a := range st.GetAddresses() {
			w.line(1, "%s:\t%s", a.GetType(), a.GetAddress())
		}
	}
	w.resourceList(0, "Capacity", st.GetCapacity())
	w.resourceList(0, "Allocatable", st.GetAllocatable())
	if info := st.GetNodeInfo(); info != nil {
		w.line(0, "System Info:")
		w.line(1, "Machine ID:\t%s", info.GetMachineId())
		w.line(1, "System UUID:\t%s", info.GetSystemUuid())
		w.line(1, "Boot ID:\t%s", info.GetBootId())
		w.line(1, "Kernel Version:\t%s", info.GetKernelVersion())
		w.line(1, "OS Image:\t%s", info.GetOsImage())
		w.line(1, "Operating System:\t%s", info.GetOperatingSystem())
		w.line(1, "Architecture:\t%s", info.GetArchitecture())
		w.line(1, "Container Runtime Version:\t%s", info.GetContainerRuntimeVersion())
		w.line(1, "Kubelet Version:\t%s", info.GetKubeletVersion())
		w.line(1, "Kube-Proxy Version:\t%s", info.GetKubeProxyVersion())
	}
	if spec.GetPodCidr() != "" {
		w.line(0, "PodCIDR:\t%s", spec.GetPodCidr())
		w.line(0, "PodCIDRs:\t%s", strings.Join(spec.GetPodCidrs(), ","))
	}
	if spec.GetProviderId() != "" {
		w.line(0, "ProviderID:\t%s", spec.GetProviderId())
	}
	w.nodePods(n)
	w.events()
}

func orUnset(s string) string {
	if s == "" {
		return "<unset>"
	}
	return s
}

func (w *dw) resourceList(level int, title string, m map[string]*metav1.Quantity) {
	if len(m) == 0 {
		return
	}
	w.line(level, "%s:", title)
	for _, k := range sortedKeys(m) {
		w.line(level+1, "%s:\t%s", k, m[k].GetString_())
	}
}

// nodePods prints the pods running on the node with their requests and
// limits, and the totals against the node's allocatable resources.
func (w *dw) nodePods(n *corev1.Node) {
	var pods []*corev1.Pod
	for _, p := range related[*corev1.Pod](w.in, RelatedPods) {
		if p.GetSpec().GetNodeName() != n.GetMetadata().GetName() {
			continue
		}
		if api.IsPodTerminal(p) {
			continue
		}
		pods = append(pods, p)
	}
	sort.Slice(pods, func(i, j int) bool {
		a, b := pods[i].GetMetadata(), pods[j].GetMetadata()
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
	alloc := map[string]resource.Quantity{}
	for k, q := range n.GetStatus().GetAllocatable() {
		if v, err := resource.ParseQuantity(q.GetString_()); err == nil {
			alloc[k] = v
		}
	}
	pct := func(name string, q resource.Quantity) string {
		a, ok := alloc[name]
		if !ok || a.IsZero() {
			return q.String()
		}
		var frac float64
		if name == api.ResourceCPU {
			frac = float64(q.MilliValue()) / float64(a.MilliValue())
		} else {
			frac = float64(q.Value()) / float64(a.Value())
		}
		return fmt.Sprintf("%s (%d%%)", q.String(), int64(frac*100))
	}
	w.line(0, "Non-terminated Pods:\t(%d in total)", len(pods))
	totalReq, totalLim := map[string]resource.Quantity{}, map[string]resource.Quantity{}
	if len(pods) > 0 {
		w.line(1, "Namespace\tName\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge")
		w.line(1, "---------\t----\t------------\t----------\t---------------\t-------------\t---")
	}
	for _, p := range pods {
		req, lim := PodRequestsAndLimits(p)
		for k, v := range req {
			t := totalReq[k]
			t.Add(v)
			totalReq[k] = t
		}
		for k, v := range lim {
			t := totalLim[k]
			t.Add(v)
			totalLim[k] = t
		}
		w.line(1, "%s\t%s\t%s\t%s\t%s\t%s\t%s", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(),
			pct(api.ResourceCPU, req[api.ResourceCPU]), pct(api.ResourceCPU, lim[api.ResourceCPU]),
			pct(api.ResourceMemory, req[api.ResourceMemory]), pct(api.ResourceMemory, lim[api.ResourceMemory]),
			w.age(p.GetMetadata().GetCreationTimestamp()))
	}
	w.line(0, "Allocated resources:")
	w.line(1, "(Total limits may be over 100 percent, i.e., overcommitted.)")
	w.line(1, "Resource\tRequests\tLimits")
	w.line(1, "--------\t--------\t------")
	for _, name := range []string{api.ResourceCPU, api.ResourceMemory} {
		w.line(1, "%s\t%s\t%s", name, pct(name, totalReq[name]), pct(name, totalLim[name]))
	}
}

// PodRequestsAndLimits is what a pod takes of its node as kubectl
// describe node totals it: api.PodRequests (what the scheduler reserves)
// and api.PodLimits. A pod with an unparsable quantity, which validation
// rejects, counts for nothing.
func PodRequestsAndLimits(p *corev1.Pod) (reqs, limits map[string]resource.Quantity) {
	reqs, err := api.PodRequests(p.GetSpec(), api.PodRequestsOptions{})
	if err != nil {
		reqs = nil
	}
	limits, err = api.PodLimits(p.GetSpec())
	if err != nil {
		limits = nil
	}
	return reqs, limits
}

// ---------------------------------------------------------------------------
// Everything else

func (w *dw) namespace(ns *corev1.Namespace) {
	m := ns.GetMetadata()
	w.line(0, "Name:\t%s", m.GetName())
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "Status:\t%s", ns.GetStatus().GetPhase())
	w.events()
}

func (w *dw) configMap(cm *corev1.ConfigMap) {
	m := cm.GetMetadata()
	w.head(m, true)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "")
	w.line(0, "Data")
	w.line(0, "====")
	for _, k := range sortedKeys(cm.GetData()) {
		w.line(0, "%s:", k)
		w.line(0, "----")
		for _, l := range strings.Split(strings.TrimSuffix(cm.GetData()[k], "\n"), "\n") {
			w.line(0, "%s", escapeTabs(l))
		}
		w.line(0, "")
	}
	w.line(0, "")
	w.line(0, "BinaryData")
	w.line(0, "====")
	for _, k := range sortedKeys(cm.GetBinaryData()) {
		w.line(0, "%s:\t%d bytes", k, len(cm.GetBinaryData()[k]))
	}
	w.line(0, "")
	w.events()
}

func (w *dw) secret(s *corev1.Secret) {
	m := s.GetMetadata()
	w.head(m, true)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "")
	w.line(0, "Type:\t%s", s.GetType())
	w.line(0, "")
	w.line(0, "Data")
	w.line(0, "====")
	for _, k := range sortedKeys(s.GetData()) {
		w.line(0, "%s:\t%d bytes", k, len(s.GetData()[k]))
	}
}

func (w *dw) serviceAccount(sa *corev1.ServiceAccount) {
	m := sa.GetMetadata()
	w.head(m, true)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	var pull, mountable []string
	for _, r := range sa.GetImagePullSecrets() {
		pull = append(pull, r.GetName())
	}
	for _, r := range sa.GetSecrets() {
		mountable = append(mountable, r.GetName())
	}
	w.multi(0, "Image pull secrets", pull)
	w.multi(0, "Mountable secrets", mountable)
	w.line(0, "Tokens:\t<none>")
	w.events()
}

func (w *dw) lease(l *coordinationv1.Lease) {
	m, spec := l.GetMetadata(), l.GetSpec()
	if spec == nil {
		spec = &coordinationv1.LeaseSpec{}
	}
	w.head(m, true)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	w.line(0, "Holder Identity:\t%s", orUnset(spec.GetHolderIdentity()))
	if spec.LeaseDurationSeconds != nil {
		w.line(0, "Lease Duration Seconds:\t%d", spec.GetLeaseDurationSeconds())
	}
	w.line(0, "Acquire Time:\t%s", w.time(spec.GetAcquireTime()))
	w.line(0, "Renew Time:\t%s", w.time(spec.GetRenewTime()))
	if spec.LeaseTransitions != nil {
		w.line(0, "Lease Transitions:\t%d", spec.GetLeaseTransitions())
	}
	w.events()
}

func (w *dw) priorityClass(pc *schedulingv1.PriorityClass) {
	m := pc.GetMetadata()
	w.line(0, "Name:\t%s", m.GetName())
	w.line(0, "Value:\t%d", pc.GetValue())
	w.line(0, "GlobalDefault:\t%t", pc.GetGlobalDefault())
	w.line(0, "PreemptionPolicy:\t%s", pc.GetPreemptionPolicy())
	w.line(0, "Description:\t%s", pc.GetDescription())
	w.annotations(0, m.GetAnnotations())
	w.events()
}

func (w *dw) event(e *corev1.Event) {
	m := e.GetMetadata()
	w.head(m, true)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	io := e.GetInvolvedObject()
	w.line(0, "Involved Object:")
	w.line(1, "API Version:\t%s", io.GetApiVersion())
	w.line(1, "Kind:\t%s", io.GetKind())
	w.line(1, "Name:\t%s", io.GetName())
	if io.GetNamespace() != "" {
		w.line(1, "Namespace:\t%s", io.GetNamespace())
	}
	if io.GetFieldPath() != "" {
		w.line(1, "Field Path:\t%s", io.GetFieldPath())
	}
	w.line(1, "UID:\t%s", io.GetUid())
	w.line(0, "Type:\t%s", e.GetType())
	w.line(0, "Reason:\t%s", e.GetReason())
	w.line(0, "Message:\t%s", strings.TrimSpace(e.GetMessage()))
	w.line(0, "Source:\t%s", eventSource(e))
	first, last, count := eventTimes(e, w.in.Now)
	w.line(0, "First Seen:\t%s ago", first)
	w.line(0, "Last Seen:\t%s ago", last)
	w.line(0, "Count:\t%d", count)
}

// generic describes any other object: its metadata, then its manifest.
func (w *dw) generic(obj proto.Message) {
	m := meta(obj)
	k, _ := scheme.ByMessage(obj)
	w.head(m, k != nil && k.Namespaced)
	w.labels(0, "Labels", m.GetLabels())
	w.annotations(0, m.GetAnnotations())
	full, err := manifest.ToMap(obj)
	if err == nil {
		delete(full, "metadata")
		delete(full, "apiVersion")
		delete(full, "kind")
		if b, err := yaml.Marshal(full); err == nil && len(full) > 0 {
			for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
				w.line(0, "%s", escapeTabs(l))
			}
		}
	}
	w.events()
}
