package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
)

// The checks of each kind, as its strategy calls them: X validates an
// object's kind-specific fields, XUpdate what may not change from old, and
// XStatus a status update (obj carries old's spec and the new status).

var statusPath = field.NewPath("status")

func Namespace(ns *corev1.Namespace) field.ErrorList { return validateNamespace(ns) }
func NamespaceStatus(ns, _ *corev1.Namespace) field.ErrorList {
	return validateNamespaceStatus(ns.GetStatus(), statusPath)
}

func Node(n *corev1.Node) field.ErrorList            { return validateNode(n) }
func NodeUpdate(n, old *corev1.Node) field.ErrorList { return validateNodeUpdate(n, old) }
func NodeStatus(n, _ *corev1.Node) field.ErrorList {
	return validateNodeStatus(n.GetStatus(), statusPath)
}

func Pod(p *corev1.Pod) field.ErrorList            { return validatePod(p) }
func PodUpdate(p, old *corev1.Pod) field.ErrorList { return validatePodUpdate(p, old) }
func PodStatus(p, old *corev1.Pod) field.ErrorList {
	errs := validatePodStatus(p.GetStatus(), statusPath)
	return append(errs, validatePodStatusTransition(p.GetStatus(), old.GetStatus(), statusPath)...)
}

func Service(s *corev1.Service) field.ErrorList            { return validateService(s) }
func ServiceUpdate(s, old *corev1.Service) field.ErrorList { return validateServiceUpdate(s, old) }
func ServiceStatus(s, _ *corev1.Service) field.ErrorList {
	return validateServiceStatus(s.GetStatus(), statusPath)
}

func Endpoints(e *corev1.Endpoints) field.ErrorList { return validateEndpoints(e) }

func ConfigMap(c *corev1.ConfigMap) field.ErrorList { return validateConfigMap(c) }
func ConfigMapUpdate(c, old *corev1.ConfigMap) field.ErrorList {
	return validateConfigMapUpdate(c, old)
}

func Secret(s *corev1.Secret) field.ErrorList            { return validateSecret(s) }
func SecretUpdate(s, old *corev1.Secret) field.ErrorList { return validateSecretUpdate(s, old) }

func Event(e *corev1.Event) field.ErrorList { return validateEvent(e) }

func Deployment(d *appsv1.Deployment) field.ErrorList { return validateDeployment(d) }
func DeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	return validateSelectorImmutable(d.GetSpec().GetSelector(), old.GetSpec().GetSelector())
}
func DeploymentStatus(d, _ *appsv1.Deployment) field.ErrorList {
	return validateDeploymentStatus(d.GetStatus(), statusPath)
}

func ReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList { return validateReplicaSet(rs) }
func ReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	return validateSelectorImmutable(rs.GetSpec().GetSelector(), old.GetSpec().GetSelector())
}
func ReplicaSetStatus(rs, _ *appsv1.ReplicaSet) field.ErrorList {
	return validateReplicaSetStatus(rs.GetStatus(), statusPath)
}

func Job(j *batchv1.Job) field.ErrorList            { return validateJob(j) }
func JobUpdate(j, old *batchv1.Job) field.ErrorList { return validateJobUpdate(j, old) }
func JobStatus(j, _ *batchv1.Job) field.ErrorList {
	errs := validateJobStatus(j.GetStatus(), statusPath)
	return append(errs, validateJobCompletedIndexes(j, statusPath)...)
}

func CronJob(cj *batchv1.CronJob) field.ErrorList { return validateCronJob(cj) }
func CronJobStatus(cj, _ *batchv1.CronJob) field.ErrorList {
	return validateCronJobStatus(cj.GetStatus(), statusPath)
}

func Lease(l *coordinationv1.Lease) field.ErrorList { return validateLease(l) }

func PriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList { return validatePriorityClass(pc) }
func PriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	return validatePriorityClassUpdate(pc, old)
}

func ResourceQuota(q *corev1.ResourceQuota) field.ErrorList { return validateResourceQuota(q) }
func ResourceQuotaStatus(q, _ *corev1.ResourceQuota) field.ErrorList {
	return validateResourceQuotaStatus(q.GetStatus(), statusPath)
}

func LimitRange(lr *corev1.LimitRange) field.ErrorList { return validateLimitRange(lr) }

func ReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	return validateReplicationController(rc)
}
func ReplicationControllerStatus(rc, _ *corev1.ReplicationController) field.ErrorList {
	return validateReplicationControllerStatus(rc.GetStatus(), statusPath)
}
