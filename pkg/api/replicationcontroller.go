package api

import (
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// ReplicationControllerStatusAsReplicaSet is a ReplicationController's
// status as a ReplicaSet's (without terminatingReplicas, which a
// ReplicationController does not report); nil stays nil. The conditions
// share their timestamps with st.
func ReplicationControllerStatusAsReplicaSet(st *corev1.ReplicationControllerStatus) *appsv1.ReplicaSetStatus {
	if st == nil {
		return nil
	}
	out := &appsv1.ReplicaSetStatus{Replicas: st.GetReplicas(), FullyLabeledReplicas: st.GetFullyLabeledReplicas(),
		ReadyReplicas: st.GetReadyReplicas(), AvailableReplicas: st.GetAvailableReplicas(), ObservedGeneration: st.GetObservedGeneration()}
	for _, c := range st.GetConditions() {
		out.Conditions = append(out.Conditions, &appsv1.ReplicaSetCondition{Type: c.GetType(), Status: c.GetStatus(),
			LastTransitionTime: c.GetLastTransitionTime(), Reason: c.GetReason(), Message: c.GetMessage()})
	}
	return out
}
