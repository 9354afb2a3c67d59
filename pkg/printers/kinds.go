package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/labelselector"
	"keel.dev/keel/pkg/registry"
)

// The columns of each kind follow kubectl's; each kind's strategy in
// pkg/registry names its columns and row function from here.

// PodColumns are the columns of `get pod`.
var PodColumns = []registry.Column{
	{Name: "NAME"}, {Name: "READY"}, {Name: "STATUS"}, {Name: "RESTARTS"}, {Name: "AGE"},
	{Name: "IP", Wide: true}, {Name: "NODE", Wide: true}, {Name: "NOMINATED NODE", Wide: true}, {Name: "READINESS GATES", Wide: true},
}

// PodRow returns the cells of a pod's row under PodColumns.
func PodRow(p *corev1.Pod, now time.Time) []string {
	s := SummarizePod(p, now)
	return []string{
		p.GetMetadata().GetName(), s.Ready, s.Status, s.Restarts, Age(p.GetMetadata().GetCreationTimestamp(), now),
		orNone(p.GetStatus().GetPodIp()), orNone(p.GetSpec().GetNodeName()), orNone(p.GetStatus().GetNominatedNodeName()), readinessGates(p),
	}
}

// DeploymentColumns are the columns of `get deployment`.
var DeploymentColumns = []registry.Column{
	{Name: "NAME"}, {Name: "READY"}, {Name: "UP-TO-DATE"}, {Name: "AVAILABLE"}, {Name: "AGE"},
	{Name: "CONTAINERS", Wide: true}, {Name: "IMAGES", Wide: true}, {Name: "SELECTOR", Wide: true},
}

// DeploymentRow returns the cells of a deployment's row under DeploymentColumns.
func DeploymentRow(d *appsv1.Deployment, now time.Time) []string {
	st := d.GetStatus()
	names, images := containerColumns(d.GetSpec().GetTemplate().GetSpec())
	return []string{
		d.GetMetadata().GetName(),
		fmt.Sprintf("%d/%d", st.GetReadyReplicas(), d.GetSpec().GetReplicas()),
		itoa(st.GetUpdatedReplicas()), itoa(st.GetAvailableReplicas()),
		Age(d.GetMetadata().GetCreationTimestamp(), now),
		names, images, FormatSelector(d.GetSpec().GetSelector()),
	}
}

// ReplicaSetColumns are the columns of `get replicaset`.
var ReplicaSetColumns = []registry.Column{
	{Name: "NAME"}, {Name: "DESIRED"}, {Name: "CURRENT"}, {Name: "READY"}, {Name: "AGE"},
	{Name: "CONTAINERS", Wide: true}, {Name: "IMAGES", Wide: true}, {Name: "SELECTOR", Wide: true},
}

// ReplicaSetRow returns the cells of a replicaset's row under ReplicaSetColumns.
func ReplicaSetRow(rs *appsv1.ReplicaSet, now time.Time) []string {
	names, images := containerColumns(rs.GetSpec().GetTemplate().GetSpec())
	return []string{
		rs.GetMetadata().GetName(),
		itoa(rs.GetSpec().GetReplicas()), itoa(rs.GetStatus().GetReplicas()), itoa(rs.GetStatus().GetReadyReplicas()),
		Age(rs.GetMetadata().GetCreationTimestamp(), now),
		names, images, FormatSelector(rs.GetSpec().GetSelector()),
	}
}

// JobColumns are the columns of `get job`.
var JobColumns = []registry.Column{
	{Name: "NAME"}, {Name: "STATUS"}, {Name: "COMPLETIONS"}, {Name: "DURATION"}, {Name: "AGE"},
	{Name: "CONTAINERS", Wide: true}, {Name: "IMAGES", Wide: true}, {Name: "SELECTOR", Wide: true},
}

// JobRow returns the cells of a job's row under JobColumns.
func JobRow(j *batchv1.Job, now time.Time) []string {
	names, images := containerColumns(j.GetSpec().GetTemplate().GetSpec())
	return []string{
		j.GetMetadata().GetName(), JobStatus(j), jobCompletions(j), jobDuration(j, now),
		Age(j.GetMetadata().GetCreationTimestamp(), now),
		names, images, FormatSelector(j.GetSpec().GetSelector()),
	}
}

// ServiceColumns are the columns of `get service`.
var ServiceColumns = []registry.Column{
	{Name: "NAME"}, {Name: "TYPE"}, {Name: "CLUSTER-IP"}, {Name: "EXTERNAL-IP"}, {Name: "PORT(S)"}, {Name: "AGE"},
	{Name: "SELECTOR", Wide: true},
}

// ServiceRow returns the cells of a service's row under ServiceColumns.
func ServiceRow(s *corev1.Service, now time.Time) []string {
	return []string{
		s.GetMetadata().GetName(), s.GetSpec().GetType(), orNone(s.GetSpec().GetClusterIp()),
		serviceExternalIP(s), servicePorts(s.GetSpec().GetPorts()),
		Age(s.GetMetadata().GetCreationTimestamp(), now),
		FormatLabels(s.GetSpec().GetSelector()),
	}
}

// NodeColumns are the columns of `get node`.
var NodeColumns = []registry.Column{
	{Name: "NAME"}, {Name: "STATUS"}, {Name: "ROLES"}, {Name: "AGE"}, {Name: "VERSION"},
	{Name: "INTERNAL-IP", Wide: true}, {Name: "EXTERNAL-IP", Wide: true}, {Name: "OS-IMAGE", Wide: true},
	{Name: "KERNEL-VERSION", Wide: true}, {Name: "CONTAINER-RUNTIME", Wide: true},
}

// NodeRow returns the cells of a node's row under NodeColumns.
func NodeRow(n *corev1.Node, now time.Time) []string {
	info := n.GetStatus().GetNodeInfo()
	return []string{
		n.GetMetadata().GetName(), NodeStatus(n), NodeRoles(n), Age(n.GetMetadata().GetCreationTimestamp(), now),
		info.GetKubeletVersion(),
		orNone(api.NodeAddress(n, api.NodeInternalIP)), orNone(api.NodeAddress(n, api.NodeExternalIP)),
		orUnknown(info.GetOsImage()), orUnknown(info.GetKernelVersion()), orUnknown(info.GetContainerRuntimeVersion()),
	}
}

// NamespaceColumns are the columns of `get namespace`.
var NamespaceColumns = []registry.Column{{Name: "NAME"}, {Name: "STATUS"}, {Name: "AGE"}}

// NamespaceRow returns the cells of a namespace's row under NamespaceColumns.
func NamespaceRow(ns *corev1.Namespace, now time.Time) []string {
	return []string{ns.GetMetadata().GetName(), ns.GetStatus().GetPhase(), Age(ns.GetMetadata().GetCreationTimestamp(), now)}
}

// ConfigMapColumns are the columns of `get configmap`.
var ConfigMapColumns = []registry.Column{{Name: "NAME"}, {Name: "DATA"}, {Name: "AGE"}}

// ConfigMapRow returns the cells of a configmap's row under ConfigMapColumns.
func ConfigMapRow(cm *corev1.ConfigMap, now time.Time) []string {
	return []string{cm.GetMetadata().GetName(), itoa(len(cm.GetData()) + len(cm.GetBinaryData())), Age(cm.GetMetadata().GetCreationTimestamp(), now)}
}

// SecretColumns are the columns of `get secret`.
var SecretColumns = []registry.Column{{Name: "NAME"}, {Name: "TYPE"}, {Name: "DATA"}, {Name: "AGE"}}

// SecretRow returns the cells of a secret's row under SecretColumns.
func SecretRow(s *corev1.Secret, now time.Time) []string {
	return []string{s.GetMetadata().GetName(), s.GetType(), itoa(len(s.GetData())), Age(s.GetMetadata().GetCreationTimestamp(), now)}
}

// ServiceAccountColumns are the columns of `get serviceaccount`.
var ServiceAccountColumns = []registry.Column{{Name: "NAME"}, {Name: "SECRETS"}, {Name: "AGE"}}

// ServiceAccountRow returns the cells of a service account's row under
// ServiceAccountColumns.
func ServiceAccountRow(sa *corev1.ServiceAccount, now time.Time) []string {
	return []string{sa.GetMetadata().GetName(), itoa(len(sa.GetSecrets())), Age(sa.GetMetadata().GetCreationTimestamp(), now)}
}

// EndpointsColumns are the columns of `get endpoints`.
var EndpointsColumns = []registry.Column{{Name: "NAME"}, {Name: "ENDPOINTS"}, {Name: "AGE"}}

// EndpointsRow returns the cells of a endpoints's row under EndpointsColumns.
func EndpointsRow(e *corev1.Endpoints, now time.Time) []string {
	return []string{e.GetMetadata().GetName(), FormatEndpoints(e, 3), Age(e.GetMetadata().GetCreationTimestamp(), now)}
}

// EventColumns are the columns of `get event`.
var EventColumns = []registry.Column{
	{Name: "LAST SEEN"}, {Name: "TYPE"}, {Name: "REASON"}, {Name: "OBJECT"},
	{Name: "SUBOBJECT", Wide: true}, {Name: "SOURCE", Wide: true},
	{Name: "MESSAGE"},
	{Name: "FIRST SEEN", Wide: true}, {Name: "COUNT", Wide: true}, {Name: "NAME", Wide: true},
}

// EventRow returns the cells of a event's row under EventColumns.
func EventRow(e *corev1.Event, now time.Time) []string {
	first, last, count := eventTimes(e, now)
	io := e.GetInvolvedObject()
	target := strings.ToLower(io.GetKind())
	if io.GetName() != "" {
		target += "/" + io.GetName()
	}
	return []string{
		last, e.GetType(), e.GetReason(), target,
		io.GetFieldPath(), eventSource(e),
		strings.TrimSpace(e.GetMessage()),
		first, itoa(count), e.GetMetadata().GetName(),
	}
}

// LeaseColumns are the columns of `get lease`.
var LeaseColumns = []registry.Column{{Name: "NAME"}, {Name: "HOLDER"}, {Name: "AGE"}}

// LeaseRow returns the cells of a lease's row under LeaseColumns.
func LeaseRow(l *coordinationv1.Lease, now time.Time) []string {
	return []string{l.GetMetadata().GetName(), l.GetSpec().GetHolderIdentity(), Age(l.GetMetadata().GetCreationTimestamp(), now)}
}

// PriorityClassColumns are the columns of `get priorityclass`.
var PriorityClassColumns = []registry.Column{{Name: "NAME"}, {Name: "VALUE"}, {Name: "GLOBAL-DEFAULT"}, {Name: "AGE"}}

// PriorityClassRow returns the cells of a priorityclass's row under PriorityClassColumns.
func PriorityClassRow(pc *schedulingv1.PriorityClass, now time.Time) []string {
	return []string{pc.GetMetadata().GetName(), itoa(pc.GetValue()), strconv.FormatBool(pc.GetGlobalDefault()), Age(pc.GetMetadata().GetCreationTimestamp(), now)}
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// containerColumns returns the CONTAINERS and IMAGES cells of a pod
// template: names and images, comma-separated.
func containerColumns(spec *corev1.PodSpec) (names, images string) {
	var n, i []string
	for _, c := range spec.GetContainers() {
		n = append(n, c.GetName())
		i = append(i, c.GetImage())
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// FormatSelector renders a structured label selector as kubectl does
// ("app=web,tier in (a,b)"), "<none>" for an empty or missing one.
func FormatSelector(s *metav1.LabelSelector) string {
	if labelselector.IsEmpty(s) {
		return "<none>"
	}
	return k8smetav1.FormatLabelSelector(labelselector.ToK8s(s))
}

// JobStatus is the STATUS cell of a job: Complete, Failed, Terminating,
// Suspended, FailureTarget, SuccessCriteriaMet or Running.
func JobStatus(j *batchv1.Job) string {
	has := func(t string) bool {
		for _, c := range j.GetStatus().GetConditions() {
			if c.GetType() == t && c.GetStatus() == api.ConditionTrue {
				return true
			}
		}
		return false
	}
	switch {
	case has(api.JobComplete):
		return api.JobComplete
	case has(api.JobFailed):
		return api.JobFailed
	case j.GetMetadata().GetDeletionTimestamp() != nil:
		return "Terminating" // kubectl's STATUS column wording
	case has(api.JobSuspended):
		return api.JobSuspended
	case has(api.JobFailureTarget):
		return api.JobFailureTarget
	case has(api.JobSuccessCriteriaMet):
		return api.JobSuccessCriteriaMet
	}
	return "Running"
}

// jobCompletions is "succeeded/completions", or for a job without
// completions "succeeded/1", with " of P" when more than one pod runs at
// once.
func jobCompletions(j *batchv1.Job) string {
	succeeded := j.GetStatus().GetSucceeded()
	if j.GetSpec() != nil && j.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", succeeded, j.GetSpec().GetCompletions())
	}
	if p := j.GetSpec().GetParallelism(); p > 1 {
		return fmt.Sprintf("%d/1 of %d", succeeded, p)
	}
	return fmt.Sprintf("%d/1", succeeded)
}

// jobDuration is how long the job ran (until now if not finished), empty
// before it started.
func jobDuration(j *batchv1.Job, now time.Time) string {
	st := j.GetStatus()
	if !isSet(st.GetStartTime()) {
		return ""
	}
	end := now
	if isSet(st.GetCompletionTime()) {
		end = st.GetCompletionTime().AsTime()
	}
	return HumanDuration(end.Sub(st.GetStartTime().AsTime()))
}

// serviceExternalIP is the EXTERNAL-IP cell: the external IPs (and for
// load balancers their ingress addresses, "<pending>" until there is one),
// the external name of an ExternalName service, else "<none>".
func serviceExternalIP(s *corev1.Service) string {
	spec := s.GetSpec()
	switch spec.GetType() {
	case api.ServiceTypeExternalName:
		return spec.GetExternalName()
	case api.ServiceTypeLoadBalancer:
		ips := append([]string(nil), spec.GetExternalIps()...)
		for _, in := range s.GetStatus().GetLoadBalancer().GetIngress() {
			switch {
			case in.GetIp() != "":
				ips = append(ips, in.GetIp())
			case in.GetHostname() != "":
				ips = append(ips, in.GetHostname())
			}
		}
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	}
	if len(spec.GetExternalIps()) > 0 {
		return strings.Join(spec.GetExternalIps(), ",")
	}
	return "<none>"
}

// servicePorts is the PORT(S) cell: "80/TCP,443:30443/TCP" or "<none>".
func servicePorts(ports []*corev1.ServicePort) string {
	if len(ports) == 0 {
		return "<none>"
	}
	parts := make([]string, len(ports))
	for i, p := range ports {
		if p.GetNodePort() > 0 {
			parts[i] = fmt.Sprintf("%d:%d/%s", p.GetPort(), p.GetNodePort(), p.GetProtocol())
		} else {
			parts[i] = fmt.Sprintf("%d/%s", p.GetPort(), p.GetProtocol())
		}
	}
	return strings.Join(parts, ",")
}

// NodeStatus is the STATUS cell of a node: Ready, NotReady or Unknown, with
// ",SchedulingDisabled" when cordoned.
func NodeStatus(n *corev1.Node) string {
	status := "Unknown"
	if c := api.GetNodeCondition(n.GetStatus(), api.NodeReady); c != nil {
		if c.GetStatus() == api.ConditionTrue {
			status = "Ready"
		} else {
			status = "NotReady"
		}
	}
	if n.GetSpec().GetUnschedulable() {
		status += ",SchedulingDisabled"
	}
	return status
}

// NodeRoles lists the roles from node-role.kubernetes.io/<role> labels and
// the kubernetes.io/role label, sorted, or "<none>".
func NodeRoles(n *corev1.Node) string {
	set := map[string]bool{}
	for k, v := range n.GetMetadata().GetLabels() {
		switch {
		case strings.HasPrefix(k, api.LabelNodeRolePrefix):
			if r := strings.TrimPrefix(k, api.LabelNodeRolePrefix); r != "" {
				set[r] = true
			}
		case k == api.LabelNodeRole && v != "":
			set[v] = true
		}
	}
	if len(set) == 0 {
		return "<none>"
	}
	return strings.Join(sortedKeys(set), ",")
}

// FormatEndpoints renders up to max "ip:port" pairs of an Endpoints object
// (ready addresses only), then " + N more...", or "<none>".
func FormatEndpoints(e *corev1.Endpoints, max int) string {
	var list []string
	count := 0
	add := func(s string) {
		if len(list) < max {
			list = append(list, s)
		}
		count++
	}
	for _, ss := range e.GetSubsets() {
		if len(ss.GetPorts()) == 0 {
			for _, a := range ss.GetAddresses() {
				add(a.GetIp())
			}
			continue
		}
		for _, p := range ss.GetPorts() {
			for _, a := range ss.GetAddresses() {
				add(net.JoinHostPort(a.GetIp(), strconv.Itoa(int(p.GetPort()))))
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

// eventTimes returns an event's FIRST SEEN and LAST SEEN ages and its
// count (series events report their series').
func eventTimes(e *corev1.Event, now time.Time) (first, last string, count int32) {
	firstT := e.GetFirstTimestamp()
	if !isSet(firstT) {
		firstT = e.GetEventTime()
	}
	lastT := e.GetLastTimestamp()
	if !isSet(lastT) {
		lastT = firstT
	}
	count = e.GetCount()
	if s := e.GetSeries(); s != nil {
		lastT = s.GetLastObservedTime()
		count = s.GetCount()
	} else if count == 0 {
		count = 1
	}
	return Age(firstT, now), Age(lastT, now), count
}

// eventLastTime is the time an event was last seen, for sorting.
func eventLastTime(e *corev1.Event) time.Time {
	t := e.GetLastTimestamp()
	if s := e.GetSeries(); s != nil && isSet(s.GetLastObservedTime()) {
		t = s.GetLastObservedTime()
	}
	if !isSet(t) {
		t = latest(e.GetFirstTimestamp(), e.GetEventTime())
	}
	if !isSet(t) {
		return time.Time{}
	}
	return t.AsTime()
}

// eventSource is "component, host", or the reporting component and
// instance of newer events.
func eventSource(e *corev1.Event) string {
	comp, host := e.GetSource().GetComponent(), e.GetSource().GetHost()
	if comp == "" {
		comp, host = e.GetReportingComponent(), e.GetReportingInstance()
	}
	if host == "" {
		return comp
	}
	return comp + ", " + host
}

// SortEvents orders events by when they were last seen, oldest first.
func SortEvents(events []*corev1.Event) {
	sort.SliceStable(events, func(i, j int) bool {
		return eventLastTime(events[i]).Before(eventLastTime(events[j]))
	})
}
