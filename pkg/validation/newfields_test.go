package validation_test

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/registry"
)

// TestValidatePodFieldsOfKubernetes131: fields Kubernetes 1.31 serves on
// pods (AppArmor profiles, supplementalGroupsPolicy, nfs volumes,
// scheduling gates, container resize policies)
// are accepted when well formed and refused, by field path, when not.
func TestValidatePodFieldsOfKubernetes131(t *testing.T) {
	armor := func(typ string, localhost *string) *corev1.AppArmorProfile {
		return &corev1.AppArmorProfile{Type: typ, LocalhostProfile: localhost}
	}
	gates := func(names ...string) func(p *corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.NodeName = "" // a gated pod is not bound yet
			for _, n := range names {
				p.Spec.SchedulingGates = append(p.Spec.SchedulingGates, &corev1.PodSchedulingGate{Name: n})
			}
		}
	}
	resize := func(pairs ...string) []*corev1.ContainerResizePolicy {
		var out []*corev1.ContainerResizePolicy
		for i := 0; i+1 < len(pairs); i += 2 {
			out = append(out, &corev1.ContainerResizePolicy{ResourceName: pairs[i], RestartPolicy: pairs[i+1]})
		}
		return out
	}
	runCreateCases(t, []createCase{
		{"apparmor pod and container", podWith(func(p *corev1.Pod) {
			p.Spec.SecurityContext.AppArmorProfile = armor("RuntimeDefault", nil)
			c0(p).SecurityContext.AppArmorProfile = armor("Localhost", proto.String("k8s-deny-write"))
		}), nil},
		{"apparmor type", podWith(func(p *corev1.Pod) { p.Spec.SecurityContext.AppArmorProfile = armor("Strict", nil) }),
			[]string{"spec.securityContext.appArmorProfile.type"}},
		{"apparmor localhost needs a profile", podWith(func(p *corev1.Pod) { c0(p).SecurityContext.AppArmorProfile = armor("Localhost", nil) }),
			[]string{"spec.containers[0].securityContext.appArmorProfile.localhostProfile"}},
		{"apparmor profile only for localhost", podWith(func(p *corev1.Pod) { c0(p).SecurityContext.AppArmorProfile = armor("Unconfined", proto.String("x")) }),
			[]string{"spec.containers[0].securityContext.appArmorProfile.localhostProfile"}},
		{"supplementalGroupsPolicy", podWith(func(p *corev1.Pod) { p.Spec.SecurityContext.SupplementalGroupsPolicy = proto.String("Strict") }), nil},
		{"supplementalGroupsPolicy value", podWith(func(p *corev1.Pod) { p.Spec.SecurityContext.SupplementalGroupsPolicy = proto.String("Union") }),
			[]string{"spec.securityContext.supplementalGroupsPolicy"}},
		{"nfs volume", podWith(func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: "share", Nfs: &corev1.NFSVolumeSource{Server: "nfs.example.com", Path: "/exports"}})
		}), nil},
		{"nfs volume without server, relative path", podWith(func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes, &corev1.Volume{Name: "share", Nfs: &corev1.NFSVolumeSource{Path: "exports"}})
		}), []string{"spec.volumes[" + strconv.Itoa(len(validPod().Spec.Volumes)) + "].nfs.server", "spec.volumes[" + strconv.Itoa(len(validPod().Spec.Volumes)) + "].nfs.path"}},
		{"scheduling gates", podWith(gates("example.com/quota", "wait")), nil},
		{"scheduling gate name", podWith(gates("not a name")), []string{"spec.schedulingGates[0].name"}},
		{"scheduling gate twice", podWith(gates("a", "a")), []string{"spec.schedulingGates[1]"}},
		{"scheduling gates with nodeName", podWith(func(p *corev1.Pod) { gates("a")(p); p.Spec.NodeName = "node-1" }), []string{"spec.nodeName"}},
		{"resize policy", podWith(func(p *corev1.Pod) { c0(p).ResizePolicy = resize("cpu", "NotRequired", "memory", "RestartContainer") }), nil},
		{"resize policy resource", podWith(func(p *corev1.Pod) { c0(p).ResizePolicy = resize("gpu", "NotRequired") }),
			[]string{"spec.containers[0].resizePolicy[0].resourceName"}},
		{"resize policy twice", podWith(func(p *corev1.Pod) { c0(p).ResizePolicy = resize("cpu", "NotRequired", "cpu", "RestartContainer") }),
			[]string{"spec.containers[0].resizePolicy[1].resourceName"}},
		{"resize policy restart", podWith(func(p *corev1.Pod) { c0(p).ResizePolicy = resize("cpu", "Sometimes") }),
			[]string{"spec.containers[0].resizePolicy[0].restartPolicy"}},
		{"resize policy on an init container", podWith(func(p *corev1.Pod) { p.Spec.InitContainers[0].ResizePolicy = resize("cpu", "NotRequired") }),
			[]string{"spec.initContainers[0].resizePolicy"}},
	})
	// Gates can be removed from a pod, never added.
	gated := stored(podWith(gates("a", "b")))
	for _, c := range []updateCase{
		{"gate removed", gated, updated(gated, func(p *corev1.Pod) { p.Spec.SchedulingGates = p.Spec.SchedulingGates[1:] }), nil},
		{"every gate removed", gated, updated(gated, func(p *corev1.Pod) { p.Spec.SchedulingGates = nil }), nil},
		{"gate added", gated, updated(gated, gates("c")), []string{"spec.schedulingGates"}},
	} {
		checkPaths(t, c.name, registry.ValidateUpdate(c.obj, c.old), c.want)
	}
}

// TestValidateJobSuccessPolicy: a success policy needs an Indexed Job,
// rules naming indexes below completions or a count no larger than
// completions or than the indexes named; it cannot change.
func TestValidateJobSuccessPolicy(t *testing.T) {
	rule := func(indexes *string, count *int32) *batchv1.SuccessPolicyRule {
		return &batchv1.SuccessPolicyRule{SucceededIndexes: indexes, SucceededCount: count}
	}
	withPolicy := func(mode string, rules ...*batchv1.SuccessPolicyRule) *batchv1.Job {
		return jobWith(func(j *batchv1.Job) {
			j.Spec.CompletionMode = proto.String(mode)
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: rules}
		})
	}
	runCreateCases(t, []createCase{
		{"indexes", withPolicy("Indexed", rule(proto.String("0,2-3"), nil)), nil},
		{"indexes and count", withPolicy("Indexed", rule(proto.String("1-3"), proto.Int32(2))), nil},
		{"count", withPolicy("Indexed", rule(nil, proto.Int32(4))), nil},
		{"needs Indexed", withPolicy("NonIndexed", rule(nil, proto.Int32(1))), []string{"spec.successPolicy"}},
		{"no rules", withPolicy("Indexed"), []string{"spec.successPolicy.rules"}},
		{"empty rule", withPolicy("Indexed", rule(nil, nil)), []string{"spec.successPolicy.rules[0]"}},
		{"index beyond completions", withPolicy("Indexed", rule(proto.String("1,4"), nil)), []string{"spec.successPolicy.rules[0].succeededIndexes"}},
		{"malformed indexes", withPolicy("Indexed", rule(proto.String("3-1"), nil)), []string{"spec.successPolicy.rules[0].succeededIndexes"}},
		{"count beyond completions", withPolicy("Indexed", rule(nil, proto.Int32(5))), []string{"spec.successPolicy.rules[0].succeededCount"}},
		{"count beyond the indexes", withPolicy("Indexed", rule(proto.String("0-1"), proto.Int32(3))), []string{"spec.successPolicy.rules[0].succeededCount"}},
	})
	job := stored(withPolicy("Indexed", rule(nil, proto.Int32(2))))
	checkPaths(t, "successPolicy immutable", registry.ValidateUpdate(updated(job, func(j *batchv1.Job) {
		j.Spec.SuccessPolicy.Rules[0].SucceededCount = proto.Int32(3)
	}), job), []string{"spec.successPolicy"})
}
