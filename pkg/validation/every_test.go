package validation_test

import (
	"keel.dev/keel/pkg/registry"
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// breakPodSpec introduces independent errors all over a pod spec, and
// returns their paths under prefix.
func breakPodSpec(s *corev1.PodSpec, prefix string) []string {
	c := s.Containers[0]
	c.Image = ""
	c.Ports[0].ContainerPort = 70000
	c.Ports[1].Protocol = "tcp"
	c.Resources.Limits["memory"] = &metav1.Quantity{String_: "lots"}
	c.Resources.Requests["cpu"] = &metav1.Quantity{String_: "-1"}
	c.Env[0].Name = "1BAD="
	c.VolumeMounts[0].MountPath = ""
	c.LivenessProbe.PeriodSeconds = -1
	s.InitContainers[0].Name = "Init_1"
	s.Volumes[1].HostPath.Path = ""
	s.Volumes[2].ConfigMap.Items[0].Path = "../conf"
	s.RestartPolicy = "Sometimes"
	s.DnsPolicy = "Nowhere"
	s.TerminationGracePeriodSeconds = proto.Int64(-5)
	s.Tolerations = []*corev1.Toleration{{Key: "k", Operator: "Maybe"}}
	var out []string
	for _, p := range []string{
		"containers[0].image",
		"containers[0].ports[0].containerPort",
		"containers[0].ports[1].protocol",
		"containers[0].resources.limits[memory]",
		"containers[0].resources.requests[cpu]",
		"containers[0].env[0].name",
		"containers[0].volumeMounts[0].mountPath",
		"containers[0].livenessProbe.periodSeconds",
		"initContainers[0].name",
		"volumes[1].hostPath.path",
		"volumes[2].configMap.items[0].path",
		"restartPolicy",
		"dnsPolicy",
		"terminationGracePeriodSeconds",
		"tolerations[0].operator",
	} {
		out = append(out, prefix+p)
	}
	return out
}

// TestEveryErrorListed: an object with many independent problems, in the
// metadata, the spec and the pod template, gets one error for each.
func TestEveryErrorListed(t *testing.T) {
	pod := validPod()
	pod.Metadata.Name = "Bad_Name"
	pod.Metadata.Labels["bad key"] = "v"
	podWant := append(breakPodSpec(pod.Spec, "spec."), "metadata.name", "metadata.labels[bad key]")
	checkPaths(t, "pod", registry.ValidateCreate(pod), podWant)

	svc := validService()
	svc.Metadata.Name = "web.v1"
	svc.Spec.Ports[0].Port = 0
	svc.Spec.Ports[1].Protocol = "ICMP"
	svc.Spec.Ports[1].TargetPort = api.IntOrStringFromInt(70000)
	svc.Spec.Ports = append(svc.Spec.Ports, &corev1.ServicePort{Name: "http", Port: 81, Protocol: "TCP", NodePort: 99})
	svc.Spec.ExternalIps = []string{"not-an-ip"}
	svc.Spec.ExternalTrafficPolicy = "Anywhere"
	svc.Spec.Selector["bad key"] = "x"
	checkPaths(t, "service", registry.ValidateCreate(svc), []string{
		"metadata.name",
		"spec.ports[0].port",
		"spec.ports[1].protocol",
		"spec.ports[1].targetPort",
		"spec.ports[2].name",
		"spec.ports[2].nodePort",
		"spec.externalIPs[0]",
		"spec.externalTrafficPolicy",
		"spec.selector[bad key]",
	})

	d := validDeployment()
	d.Metadata.Namespace = ""
	d.Spec.Replicas = proto.Int32(-1)
	d.Spec.MinReadySeconds = -1
	d.Spec.Strategy.RollingUpdate.MaxSurge = api.IntOrStringFromString("lots%")
	d.Spec.RevisionHistoryLimit = proto.Int32(-2)
	d.Spec.Template.Metadata.Labels["bad key"] = "x"
	dWant := append(breakPodSpec(d.Spec.Template.Spec, "spec.template.spec."),
		"metadata.namespace", "spec.replicas", "spec.minReadySeconds", "spec.strategy.rollingUpdate.maxSurge",
		"spec.revisionHistoryLimit", "spec.template.metadata.labels[bad key]")
	checkPaths(t, "deployment", registry.ValidateCreate(d), dWant)

	j := validJob()
	j.Metadata.Name = ""
	j.Spec.Parallelism = proto.Int32(-1)
	j.Spec.Completions = proto.Int32(-1)
	j.Spec.BackoffLimit = proto.Int32(-1)
	j.Spec.ActiveDeadlineSeconds = proto.Int64(0)
	j.Spec.CompletionMode = proto.String("Sometimes")
	jWant := append(breakPodSpec(j.Spec.Template.Spec, "spec.template.spec."),
		"metadata.name", "spec.parallelism", "spec.completions", "spec.backoffLimit", "spec.activeDeadlineSeconds", "spec.completionMode")
	checkPaths(t, "job", registry.ValidateCreate(j), jWant)
}
