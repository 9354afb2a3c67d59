package replicaset

import (
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
)

// NewReplicationController registers the ReplicationController
// controller's handlers on f's ReplicationController and Pod informers: a
// ReplicationController is reconciled as the ReplicaSet whose selector
// matches its label map. rec may be nil (no events); log may be nil.
func NewReplicationController(c *client.Client, f *informer.Factory, rec record.EventRecorder, log *zap.Logger) *Controller[*corev1.ReplicationController] {
	return newController(c, f, rec, log, "replicationcontroller", replicationControllerKind)
}

var replicationControllerKind = Kind[*corev1.ReplicationController]{
	Name:         "ReplicationController",
	AsReplicaSet: rcAsReplicaSet,
	WithStatus: func(rc *corev1.ReplicationController, st *appsv1.ReplicaSetStatus) *corev1.ReplicationController {
		next := proto.Clone(rc).(*corev1.ReplicationController)
		next.Status = &corev1.ReplicationControllerStatus{Replicas: st.GetReplicas(), FullyLabeledReplicas: st.GetFullyLabeledReplicas(),
			ObservedGeneration: st.GetObservedGeneration(), ReadyReplicas: st.GetReadyReplicas(), AvailableReplicas: st.GetAvailableReplicas()}
		for _, c := range st.GetConditions() {
			next.Status.Conditions = append(next.Status.Conditions, &corev1.ReplicationControllerCondition{Type: c.GetType(), Status: c.GetStatus(),
				LastTransitionTime: c.GetLastTransitionTime(), Reason: c.GetReason(), Message: c.GetMessage()})
		}
		return next
	},
}

// rcAsReplicaSet is rc as a ReplicaSet: its selector as matchLabels.
func rcAsReplicaSet(rc *corev1.ReplicationController) *appsv1.ReplicaSet {
	spec := rc.GetSpec()
	return &appsv1.ReplicaSet{Metadata: rc.GetMetadata(),
		Spec: &appsv1.ReplicaSetSpec{Replicas: spec.Replicas, MinReadySeconds: spec.GetMinReadySeconds(),
			Selector: &metav1.LabelSelector{MatchLabels: spec.GetSelector()}, Template: spec.GetTemplate()},
		Status: api.ReplicationControllerStatusAsReplicaSet(rc.GetStatus())}
}
