package defaults_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/defaults"
)

func TestDaemonSetDefaults(t *testing.T) {
	ds := &appsv1.DaemonSet{}
	defaults.DaemonSet(ds)
	us := ds.GetSpec().GetUpdateStrategy()
	if us.GetType() != api.RollingUpdateDaemonSetStrategyType || us.GetRollingUpdate().GetMaxUnavailable().GetIntVal() != 1 ||
		api.IsIntOrStringString(us.GetRollingUpdate().GetMaxUnavailable()) || us.GetRollingUpdate().GetMaxSurge() == nil ||
		us.GetRollingUpdate().GetMaxSurge().GetIntVal() != 0 || ds.GetSpec().GetRevisionHistoryLimit() != 10 {
		t.Errorf("defaults: %v", ds.GetSpec())
	}
	onDelete := &appsv1.DaemonSet{Spec: &appsv1.DaemonSetSpec{UpdateStrategy: &appsv1.DaemonSetUpdateStrategy{Type: api.OnDeleteDaemonSetStrategyType}, RevisionHistoryLimit: proto.Int32(2)}}
	defaults.DaemonSet(onDelete)
	if onDelete.GetSpec().GetUpdateStrategy().GetRollingUpdate() != nil || onDelete.GetSpec().GetRevisionHistoryLimit() != 2 {
		t.Errorf("OnDelete defaults: %v", onDelete.GetSpec())
	}
}
