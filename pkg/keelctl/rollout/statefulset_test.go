package rollout

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

func TestStatefulSetRolloutStatus(t *testing.T) {
	set := func(partition int32, st *appsv1.StatefulSetStatus) *appsv1.StatefulSet {
		return &appsv1.StatefulSet{Metadata: &metav1.ObjectMeta{Name: "web", Generation: 2},
			Spec: &appsv1.StatefulSetSpec{Replicas: proto.Int32(3), UpdateStrategy: &appsv1.StatefulSetUpdateStrategy{
				Type: api.RollingUpdateStatefulSetStrategyType, RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &partition}}},
			Status: st}
	}
	for _, tc := range []struct {
		set  *appsv1.StatefulSet
		msg  string
		done bool
	}{
		{set(0, &appsv1.StatefulSetStatus{ObservedGeneration: 1}), "Waiting for statefulset spec update to be observed...", false},
		{set(0, &appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 1}), "Waiting for 2 pods to be ready...", false},
		{set(2, &appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3}), "Waiting for partitioned roll out to finish: 0 out of 1 new pods have been updated...", false},
		{set(2, &appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, UpdatedReplicas: 1}), "partitioned roll out complete: 1 new pods have been updated...", true},
		{set(0, &appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, UpdatedReplicas: 2, CurrentRevision: "web-a", UpdateRevision: "web-b"}),
			"waiting for statefulset rolling update to complete 2 pods at revision web-b...", false},
		{set(0, &appsv1.StatefulSetStatus{ObservedGeneration: 2, ReadyReplicas: 3, CurrentReplicas: 3, CurrentRevision: "web-b", UpdateRevision: "web-b"}),
			"statefulset rolling update complete 3 pods at revision web-b...", true},
	} {
		msg, done, err := statefulSetRolloutStatus(tc.set)
		if err != nil || msg != tc.msg || done != tc.done {
			t.Errorf("got %q %v %v, want %q %v", msg, done, err, tc.msg, tc.done)
		}
	}
	onDelete := set(0, nil)
	onDelete.Spec.UpdateStrategy = &appsv1.StatefulSetUpdateStrategy{Type: api.OnDeleteStatefulSetStrategyType}
	if _, _, err := statefulSetRolloutStatus(onDelete); err == nil {
		t.Error("OnDelete: no error")
	}
}
