package defaults

import (
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
)

// StatefulSet sets a stateful set's defaults: one replica, OrderedReady,
// RollingUpdate from partition 0, ten revisions kept, claims retained, and
// Filesystem claims.
func StatefulSet(ss *appsv1.StatefulSet) {
	if ss.Spec == nil {
		ss.Spec = &appsv1.StatefulSetSpec{}
	}
	s := ss.Spec
	if s.Replicas == nil {
		s.Replicas = proto.Int32(1)
	}
	if s.PodManagementPolicy == "" {
		s.PodManagementPolicy = api.OrderedReadyPodManagement
	}
	if s.UpdateStrategy == nil {
		s.UpdateStrategy = &appsv1.StatefulSetUpdateStrategy{}
	}
	if s.UpdateStrategy.Type == "" {
		s.UpdateStrategy.Type = api.RollingUpdateStatefulSetStrategyType
	}
	if s.UpdateStrategy.Type == api.RollingUpdateStatefulSetStrategyType {
		if s.UpdateStrategy.RollingUpdate == nil {
			s.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
		if s.UpdateStrategy.RollingUpdate.Partition == nil {
			s.UpdateStrategy.RollingUpdate.Partition = proto.Int32(0)
		}
	}
	if s.RevisionHistoryLimit == nil {
		s.RevisionHistoryLimit = proto.Int32(DefaultRevisionHistoryLimit)
	}
	if s.PersistentVolumeClaimRetentionPolicy == nil {
		s.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	rp := s.PersistentVolumeClaimRetentionPolicy
	if rp.WhenDeleted == "" {
		rp.WhenDeleted = api.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if rp.WhenScaled == "" {
		rp.WhenScaled = api.RetainPersistentVolumeClaimRetentionPolicyType
	}
	for _, t := range s.VolumeClaimTemplates {
		if t.Spec != nil {
			applyClaimSpec(t.Spec)
		}
	}
	applyPodTemplate(s.Template)
}
