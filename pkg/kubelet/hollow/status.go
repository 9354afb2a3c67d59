package hollow

import (
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// PodStatus is the status of a pod on a hollow node: Running and Ready,
// init containers completed, app containers running since the pod's start.
// It keeps what the pod's status already has (start time, transition
// times), so computing it again for an unchanged pod gives the same
// status. Pure.
func PodStatus(pod *corev1.Pod, podIP, hostIP string, now time.Time) *corev1.PodStatus {
	old := pod.GetStatus()
	start := old.GetStartTime()
	if start == nil {
		start = timestamppb.New(now)
	}
	st := &corev1.PodStatus{
		Phase:             api.PodRunning,
		HostIp:            hostIP,
		HostIps:           []*corev1.HostIP{{Ip: hostIP}},
		PodIp:             podIP,
		PodIps:            []*corev1.PodIP{{Ip: podIP}},
		StartTime:         start,
		QosClass:          old.GetQosClass(),
		NominatedNodeName: old.GetNominatedNodeName(),
	}
	if st.QosClass == "" {
		st.QosClass = api.QOSClass(pod.GetSpec())
	}
	uid := pod.GetMetadata().GetUid()
	started := true
	for _, c := range pod.GetSpec().GetInitContainers() {
		st.InitContainerStatuses = append(st.InitContainerStatuses, &corev1.ContainerStatus{
			Name: c.GetName(), Image: c.GetImage(), ImageId: "fake://" + c.GetImage(), ContainerId: "fake://" + uid + "/" + c.GetName(),
			Ready: true, Started: proto.Bool(false),
			State: &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				Reason: "Completed", StartedAt: start, FinishedAt: start, ContainerId: "fake://" + uid + "/" + c.GetName()}},
		})
	}
	for _, c := range pod.GetSpec().GetContainers() {
		st.ContainerStatuses = append(st.ContainerStatuses, &corev1.ContainerStatus{
			Name: c.GetName(), Image: c.GetImage(), ImageId: "fake://" + c.GetImage(), ContainerId: "fake://" + uid + "/" + c.GetName(),
			Ready: true, Started: &started,
			State: &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: start}},
		})
	}
	prev := map[string]*corev1.PodCondition{}
	for _, c := range old.GetConditions() {
		prev[c.GetType()] = c
	}
	cond := func(typ string) *corev1.PodCondition {
		if p := prev[typ]; p != nil && p.GetStatus() == api.ConditionTrue {
			return proto.Clone(p).(*corev1.PodCondition)
		}
		return &corev1.PodCondition{Type: typ, Status: api.ConditionTrue, LastTransitionTime: timestamppb.New(now)}
	}
	st.Conditions = []*corev1.PodCondition{cond(api.PodScheduled), cond(api.PodInitialized), cond(api.ContainersReady), cond(api.PodReady)}
	for _, c := range old.GetConditions() {
		switch c.GetType() {
		case api.PodScheduled, api.PodInitialized, api.ContainersReady, api.PodReady:
		default:
			st.Conditions = append(st.Conditions, proto.Clone(c).(*corev1.PodCondition))
		}
	}
	return st
}
