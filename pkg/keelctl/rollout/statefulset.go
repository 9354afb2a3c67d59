package rollout

import (
	"fmt"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
)

// statefulSetRolloutStatus reads a StatefulSet's rollout as kubectl does:
// the spec observed, every replica ready, a partitioned rollout's pods
// updated, then the update revision current.
func statefulSetRolloutStatus(s *appsv1.StatefulSet) (msg string, done bool, err error) {
	strategy := s.GetSpec().GetUpdateStrategy()
	if strategy.GetType() != api.RollingUpdateStatefulSetStrategyType {
		return "", true, fmt.Errorf("rollout status is only available for %s strategy type", api.RollingUpdateStatefulSetStrategyType)
	}
	st := s.GetStatus()
	if st.GetObservedGeneration() == 0 || s.GetMetadata().GetGeneration() > st.GetObservedGeneration() {
		return "Waiting for statefulset spec update to be observed...", false, nil
	}
	replicas := s.GetSpec().GetReplicas()
	if st.GetReadyReplicas() < replicas {
		return fmt.Sprintf("Waiting for %d pods to be ready...", replicas-st.GetReadyReplicas()), false, nil
	}
	if p := strategy.GetRollingUpdate().GetPartition(); p > 0 {
		if want := replicas - p; st.GetUpdatedReplicas() < want {
			return fmt.Sprintf("Waiting for partitioned roll out to finish: %d out of %d new pods have been updated...", st.GetUpdatedReplicas(), want), false, nil
		}
		return fmt.Sprintf("partitioned roll out complete: %d new pods have been updated...", st.GetUpdatedReplicas()), true, nil
	}
	if st.GetUpdateRevision() != st.GetCurrentRevision() {
		return fmt.Sprintf("waiting for statefulset rolling update to complete %d pods at revision %s...", st.GetUpdatedReplicas(), st.GetUpdateRevision()), false, nil
	}
	return fmt.Sprintf("statefulset rolling update complete %d pods at revision %s...", st.GetCurrentReplicas(), st.GetCurrentRevision()), true, nil
}
