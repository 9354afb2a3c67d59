package resourcequota

import (
	"time"

	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/quota"
)

// Decide returns the status q should have given objs, the objects of its
// namespace of the kinds quota.Kinds names for its spec.hard, at now:
// hard is spec.hard and used what objs use of it (package quota). It
// returns nil when q's status already says so (amounts compared by
// value).
func Decide(q *corev1.ResourceQuota, objs []proto.Message, now time.Time) (*corev1.ResourceQuotaStatus, error) {
	used, err := quota.Used(q, objs, now)
	if err != nil {
		return nil, err
	}
	hard := quota.Parse(q.GetSpec().GetHard())
	if quota.Equal(hard, quota.Parse(q.GetStatus().GetHard())) && quota.Equal(used, quota.Parse(q.GetStatus().GetUsed())) {
		return nil, nil
	}
	return &corev1.ResourceQuotaStatus{Hard: quota.ToAPI(hard), Used: quota.ToAPI(used)}, nil
}
