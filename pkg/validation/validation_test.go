package validation_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// paths returns the distinct error paths, sorted.
func paths(errs field.ErrorList) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range errs {
		if !seen[e.Field] {
			seen[e.Field] = true
			out = append(out, e.Field)
		}
	}
	sort.Strings(out)
	return out
}

func checkPaths(t *testing.T, name string, errs field.ErrorList, want []string) {
	t.Helper()
	w := append([]string(nil), want...)
	sort.Strings(w)
	if got := paths(errs); strings.Join(got, "\n") != strings.Join(w, "\n") {
		t.Errorf("%s:\n got paths %q\nwant paths %q\nerrors: %v", name, got, w, errs.ToAggregate())
	}
}

func kindName(m proto.Message) string {
	k, _ := scheme.ByMessage(m)
	return k.Kind
}

func TestValidObjectsPass(t *testing.T) {
	for _, obj := range validObjects() {
		if errs := registry.ValidateCreate(obj); len(errs) != 0 {
			t.Errorf("%s: valid object rejected: %v", kindName(obj), errs.ToAggregate())
		}
		// Defaulting keeps a valid object valid.
		d := proto.Clone(obj)
		registry.Default(d)
		if errs := registry.ValidateCreate(d); len(errs) != 0 {
			t.Errorf("%s: defaulted valid object rejected: %v", kindName(obj), errs.ToAggregate())
		}
	}
}

// Minimal objects become valid once defaulted (defaults fill every value
// validation requires, except what Kubernetes also requires from the user).
func TestMinimalObjectsPassAfterDefaults(t *testing.T) {
	minimalSpec := func() *corev1.PodSpec {
		return &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox",
			Ports:          []*corev1.ContainerPort{{ContainerPort: 8080}},
			LivenessProbe:  &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Port: api.IntOrStringFromInt(8080)}},
			ReadinessProbe: &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: api.IntOrStringFromInt(8080)}},
		}}, Volumes: []*corev1.Volume{{Name: "scratch"}}}
	}
	labels := map[string]string{"app": "x"}
	tmpl := func(rp string) *corev1.PodTemplateSpec {
		s := minimalSpec()
		s.RestartPolicy = rp
		return &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: labels}, Spec: s}
	}
	job := &batchv1.Job{Metadata: &metav1.ObjectMeta{Name: "pi", Namespace: "default", Uid: "0f9e-11"},
		Spec: &batchv1.JobSpec{Template: tmpl("Never")}}
	objs := []proto.Message{
		&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: minimalSpec()},
		&appsv1.Deployment{Metadata: &metav1.ObjectMeta{Name: "d", Namespace: "default"},
			Spec: &appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl("")}},
		&appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Name: "r", Namespace: "default"},
			Spec: &appsv1.ReplicaSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl("")}},
		job,
		&corev1.Service{Metadata: &metav1.ObjectMeta{Name: "s", Namespace: "default"},
			Spec: &corev1.ServiceSpec{Selector: labels, Ports: []*corev1.ServicePort{{Port: 80}}}},
		&corev1.Secret{Metadata: &metav1.ObjectMeta{Name: "s", Namespace: "default"}, StringData: map[string]string{"k": "v"}},
		&corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "ns"}},
		&corev1.Node{Metadata: &metav1.ObjectMeta{Name: "n"}},
		&schedulingv1.PriorityClass{Metadata: &metav1.ObjectMeta{Name: "pc"}, Value: 10},
		&coordinationv1.Lease{Metadata: &metav1.ObjectMeta{Name: "l", Namespace: "kube-node-lease"}},
		&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{GenerateName: "cm-", Namespace: "default"}},
	}
	for _, obj := range objs {
		registry.Default(obj)
		if errs := registry.ValidateCreate(obj); len(errs) != 0 {
			t.Errorf("%s: minimal defaulted object rejected: %v", kindName(obj), errs.ToAggregate())
		}
	}
}

func TestUnregisteredKind(t *testing.T) {
	checkPaths(t, "PodSpec", registry.ValidateCreate(&corev1.PodSpec{}), []string{"kind"})
	checkPaths(t, "nil", registry.ValidateCreate(nil), []string{"kind"})
	checkPaths(t, "mixed kinds", registry.ValidateUpdate(validPod(), validService()), []string{"kind"})
}

type createCase struct {
	name string
	obj  proto.Message
	want []string
}

func podWith(f func(p *corev1.Pod)) *corev1.Pod {
	p := validPod()
	f(p)
	return p
}

func c0(p *corev1.Pod) *corev1.Container { return p.Spec.Containers[0] }

func TestValidateCreateMetadata(t *testing.T) {
	cases := []createCase{
		{"name required", podWith(func(p *corev1.Pod) { p.Metadata.Name = "" }), []string{"metadata.name"}},
		{"generateName alone ok", podWith(func(p *corev1.Pod) { p.Metadata.Name = ""; p.Metadata.GenerateName = "web-" }), nil},
		{"generateName invalid", podWith(func(p *corev1.Pod) { p.Metadata.Name = ""; p.Metadata.GenerateName = "Web_" }), []string{"metadata.generateName"}},
		{"name not subdomain", podWith(func(p *corev1.Pod) { p.Metadata.Name = "Web_0" }), []string{"metadata.name"}},
		{"dotted name ok for pod", podWith(func(p *corev1.Pod) { p.Metadata.Name = "web.0" }), nil},
		{"namespace required", podWith(func(p *corev1.Pod) { p.Metadata.Namespace = "" }), []string{"metadata.namespace"}},
		{"namespace invalid", podWith(func(p *corev1.Pod) { p.Metadata.Namespace = "Bad.NS" }), []string{"metadata.namespace"}},
		{"label key invalid", podWith(func(p *corev1.Pod) { p.Metadata.Labels["bad key"] = "x" }), []string{"metadata.labels[bad key]"}},
		{"label value invalid", podWith(func(p *corev1.Pod) { p.Metadata.Labels["app"] = "has space" }), []string{"metadata.labels[app]"}},
		{"label value too long", podWith(func(p *corev1.Pod) { p.Metadata.Labels["app"] = strings.Repeat("a", 64) }), []string{"metadata.labels[app]"}},
		{"annotation key invalid", podWith(func(p *corev1.Pod) { p.Metadata.Annotations["a/b/c"] = "x" }), []string{"metadata.annotations[a/b/c]"}},
		{"annotations too large", podWith(func(p *corev1.Pod) { p.Metadata.Annotations["big"] = strings.Repeat("x", 256*1024+1) }), []string{"metadata.annotations"}},
		{"finalizer unqualified", podWith(func(p *corev1.Pod) { p.Metadata.Finalizers = []string{"example.com/ok", "bad/fin/alizer"} }), []string{"metadata.finalizers"}},
		{"ownerReference fields", podWith(func(p *corev1.Pod) { p.Metadata.OwnerReferences = []*metav1.OwnerReference{{}} }),
			[]string{"metadata.ownerReferences[0].apiVersion", "metadata.ownerReferences[0].kind", "metadata.ownerReferences[0].name", "metadata.ownerReferences[0].uid"}},
		{"two controllers", podWith(func(p *corev1.Pod) {
			p.Metadata.OwnerReferences = []*metav1.OwnerReference{
				{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "a", Uid: "1", Controller: proto.Bool(true)},
				{ApiVersion: "apps/v1", Kind: "ReplicaSet", Name: "b", Uid: "2", Controller: proto.Bool(true)}}
		}), []string{"metadata.ownerReferences"}},
		{"cluster-scoped forbids namespace", func() proto.Message { n := validNode(); n.Metadata.Namespace = "default"; return n }(), []string{"metadata.namespace"}},
		{"namespace name is a label", func() proto.Message { n := validNamespace(); n.Metadata.Name = "a.b"; return n }(), []string{"metadata.name"}},
		{"service name is a label", func() proto.Message { s := validService(); s.Metadata.Name = "web.v1"; return s }(), []string{"metadata.name"}},
		{"all errors listed", podWith(func(p *corev1.Pod) {
			p.Metadata.Name = "Bad"
			p.Metadata.Namespace = ""
			c0(p).Image = ""
			c0(p).Ports[0].ContainerPort = 70000
		}), []string{"metadata.name", "metadata.namespace", "spec.containers[0].image", "spec.containers[0].ports[0].containerPort"}},
	}
	runCreateCases(t, cases)
}

func runCreateCases(t *testing.T, cases []createCase) {
	t.Helper()
	for _, c := range cases {
		checkPaths(t, c.name, registry.ValidateCreate(c.obj), c.want)
	}
}

func TestValidateCreatePod(t *testing.T) {
	cases := []createCase{
		// Containers.
		{"no containers", podWith(func(p *corev1.Pod) { p.Spec.Containers = nil }), []string{"spec.containers"}},
		{"spec required", podWith(func(p *corev1.Pod) { p.Spec = nil }), []string{"spec"}},
		{"container name required", podWith(func(p *corev1.Pod) { c0(p).Name = "" }), []string{"spec.containers[0].name"}},
		{"container name not a label", podWith(func(p *corev1.Pod) { c0(p).Name = "Web_1" }), []string{"spec.containers[0].name"}},
		{"duplicate container name", podWith(func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, &corev1.Container{Name: "web", Image: "x"})
		}), []string{"spec.containers[1].name"}},
		{"duplicate across init and app", podWith(func(p *corev1.Pod) { p.Spec.InitContainers[0].Name = "web" }), []string{"spec.containers[0].name"}},
		{"image required", podWith(func(p *corev1.Pod) { c0(p).Image = " " }), []string{"spec.containers[0].image"}},
		{"init image required", podWith(func(p *corev1.Pod) { p.Spec.InitContainers[0].Image = "" }), []string{"spec.initContainers[0].image"}},
		{"imagePullPolicy", podWith(func(p *corev1.Pod) { c0(p).ImagePullPolicy = "Sometimes" }), []string{"spec.containers[0].imagePullPolicy"}},
		{"terminationMessagePolicy", podWith(func(p *corev1.Pod) { c0(p).TerminationMessagePolicy = "Log" }), []string{"spec.containers[0].terminationMessagePolicy"}},
		// Ports.
		{"containerPort range", podWith(func(p *corev1.Pod) { c0(p).Ports[1].ContainerPort = 65536 }), []string{"spec.containers[0].ports[1].containerPort"}},
		{"containerPort required", podWith(func(p *corev1.Pod) { c0(p).Ports[0].ContainerPort = 0 }), []string{"spec.containers[0].ports[0].containerPort"}},
		{"hostPort range", podWith(func(p *corev1.Pod) { c0(p).Ports[1].HostPort = -1 }), []string{"spec.containers[0].ports[1].hostPort"}},
		{"protocol", podWith(func(p *corev1.Pod) { c0(p).Ports[0].Protocol = "tcp" }), []string{"spec.containers[0].ports[0].protocol"}},
		{"port name", podWith(func(p *corev1.Pod) { c0(p).Ports[0].Name = "http_port" }), []string{"spec.containers[0].ports[0].name"}},
		{"duplicate port name", podWith(func(p *corev1.Pod) { c0(p).Ports[1].Name = "http" }), []string{"spec.containers[0].ports[1].name"}},
		{"hostIP", podWith(func(p *corev1.Pod) { c0(p).Ports[1].HostIp = "localhost" }), []string{"spec.containers[0].ports[1].hostIP"}},
		{"hostNetwork hostPort must match", podWith(func(p *corev1.Pod) { p.Spec.HostNetwork = true; c0(p).Ports[1].HostPort = 9091 }), []string{"spec.containers[0].ports[1].hostPort"}},
		// Env.
		{"env name", podWith(func(p *corev1.Pod) { c0(p).Env[0].Name = "1BAD=" }), []string{"spec.containers[0].env[0].name"}},
		{"env name required", podWith(func(p *corev1.Pod) { c0(p).Env[0].Name = "" }), []string{"spec.containers[0].env[0].name"}},
		{"value and valueFrom", podWith(func(p *corev1.Pod) { c0(p).Env[1].Value = "x" }), []string{"spec.containers[0].env[1].valueFrom"}},
		{"valueFrom empty", podWith(func(p *corev1.Pod) { c0(p).Env[1].ValueFrom = &corev1.EnvVarSource{} }), []string{"spec.containers[0].env[1].valueFrom"}},
		{"valueFrom two sources", podWith(func(p *corev1.Pod) {
			c0(p).Env[1].ValueFrom.SecretKeyRef = &corev1.SecretKeySelector{Name: "s", Key: "k"}
		}), []string{"spec.containers[0].env[1].valueFrom.secretKeyRef"}},
		{"fieldRef path", podWith(func(p *corev1.Pod) { c0(p).Env[1].ValueFrom.FieldRef.FieldPath = "spec.containers" }), []string{"spec.containers[0].env[1].valueFrom.fieldRef.fieldPath"}},
		{"fieldRef label syntax", podWith(func(p *corev1.Pod) { c0(p).Env[2].ValueFrom.FieldRef.FieldPath = "metadata.labels" }), []string{"spec.containers[0].env[2].valueFrom.fieldRef.fieldPath"}},
		{"fieldRef apiVersion", podWith(func(p *corev1.Pod) { c0(p).Env[2].ValueFrom.FieldRef.ApiVersion = "v2" }), []string{"spec.containers[0].env[2].valueFrom.fieldRef.apiVersion"}},
		{"resourceFieldRef resource", podWith(func(p *corev1.Pod) { c0(p).Env[3].ValueFrom.ResourceFieldRef.Resource = "limits.gpu" }), []string{"spec.containers[0].env[3].valueFrom.resourceFieldRef.resource"}},
		{"resourceFieldRef divisor", podWith(func(p *corev1.Pod) { c0(p).Env[3].ValueFrom.ResourceFieldRef.Divisor = q("lots") }), []string{"spec.containers[0].env[3].valueFrom.resourceFieldRef.divisor"}},
		{"configMapKeyRef key", podWith(func(p *corev1.Pod) { c0(p).Env[4].ValueFrom.ConfigMapKeyRef.Key = "a/b" }), []string{"spec.containers[0].env[4].valueFrom.configMapKeyRef.key"}},
		{"configMapKeyRef name", podWith(func(p *corev1.Pod) { c0(p).Env[4].ValueFrom.ConfigMapKeyRef.Name = "" }), []string{"spec.containers[0].env[4].valueFrom.configMapKeyRef.name"}},
		{"secretKeyRef key required", podWith(func(p *corev1.Pod) { c0(p).Env[5].ValueFrom.SecretKeyRef.Key = "" }), []string{"spec.containers[0].env[5].valueFrom.secretKeyRef.key"}},
		{"envFrom no source", podWith(func(p *corev1.Pod) { c0(p).EnvFrom[0].ConfigMapRef = nil }), []string{"spec.containers[0].envFrom[0]"}},
		{"envFrom prefix", podWith(func(p *corev1.Pod) { c0(p).EnvFrom[0].Prefix = "1=" }), []string{"spec.containers[0].envFrom[0].prefix"}},
		{"envFrom secret name", podWith(func(p *corev1.Pod) { c0(p).EnvFrom[1].SecretRef.Name = "" }), []string{"spec.containers[0].envFrom[1].secretRef.name"}},
		// Resources.
		{"quantity parse", podWith(func(p *corev1.Pod) { c0(p).Resources.Requests["cpu"] = q("a lot") }), []string{"spec.containers[0].resources.requests[cpu]"}},
		{"quantity negative", podWith(func(p *corev1.Pod) {
			c0(p).Resources.Limits["memory"] = q("-1Gi")
			delete(c0(p).Resources.Requests, "memory")
		}),
			[]string{"spec.containers[0].resources.limits[memory]"}},
		{"requests exceed limits", podWith(func(p *corev1.Pod) { c0(p).Resources.Requests["cpu"] = q("1500m") }), []string{"spec.containers[0].resources.requests[cpu]"}},
		{"resource name", podWith(func(p *corev1.Pod) { c0(p).Resources.Limits["gpu"] = q("1") }), []string{"spec.containers[0].resources.limits[gpu]"}},
		{"overhead quantity", podWith(func(p *corev1.Pod) { p.Spec.Overhead = map[string]*metav1.Quantity{"cpu": q("x")} }), []string{"spec.overhead[cpu]"}},
		// Probes.
		{"probe no handler", podWith(func(p *corev1.Pod) { c0(p).LivenessProbe.HttpGet = nil }), []string{"spec.containers[0].livenessProbe"}},
		{"probe two handlers", podWith(func(p *corev1.Pod) { c0(p).LivenessProbe.Exec = &corev1.ExecAction{Command: []string{"x"}} }), []string{"spec.containers[0].livenessProbe.httpGet"}},
		{"probe negative numbers", podWith(func(p *corev1.Pod) {
			pr := c0(p).ReadinessProbe
			pr.InitialDelaySeconds, pr.TimeoutSeconds, pr.PeriodSeconds, pr.SuccessThreshold, pr.FailureThreshold = -1, -1, -1, -1, -1
		}), []string{
			"spec.containers[0].readinessProbe.failureThreshold", "spec.containers[0].readinessProbe.initialDelaySeconds",
			"spec.containers[0].readinessProbe.periodSeconds", "spec.containers[0].readinessProbe.successThreshold",
			"spec.containers[0].readinessProbe.timeoutSeconds"}},
		{"liveness successThreshold must be 1", podWith(func(p *corev1.Pod) { c0(p).LivenessProbe.SuccessThreshold = 2 }), []string{"spec.containers[0].livenessProbe.successThreshold"}},
		{"readiness terminationGracePeriodSeconds", podWith(func(p *corev1.Pod) { c0(p).ReadinessProbe.TerminationGracePeriodSeconds = proto.Int64(5) }),
			[]string{"spec.containers[0].readinessProbe.terminationGracePeriodSeconds"}},
		{"probe terminationGracePeriodSeconds positive", podWith(func(p *corev1.Pod) { c0(p).LivenessProbe.TerminationGracePeriodSeconds = proto.Int64(0) }),
			[]string{"spec.containers[0].livenessProbe.terminationGracePeriodSeconds"}},
		{"httpGet port", podWith(func(p *corev1.Pod) { c0(p).LivenessProbe.HttpGet.Port = api.IntOrStringFromInt(0) }), []string{"spec.containers[0].livenessProbe.httpGet.port"}},
		{"httpGet port name", podWith(func(p *corev1.Pod) { c0(p).LivenessProbe.HttpGet.Port = api.IntOrStringFromString("no_such-") }), []string{"spec.containers[0].livenessProbe.httpGet.port"}},
		{"httpGet port required", podWith(func(p *corev1.Pod) { c0(p).LivenessProbe.HttpGet.Port = nil }), []string{"spec.containers[0].livenessProbe.httpGet.port"}},
		{"httpGet scheme", podWith(func(p *corev1.Pod) { c0(p).LivenessProbe.HttpGet.Scheme = "FTP" }), []string{"spec.containers[0].livenessProbe.httpGet.scheme"}},
		{"httpGet header", podWith(func(p *corev1.Pod) { c0(p).LivenessProbe.HttpGet.HttpHeaders[0].Name = "Bad Header" }),
			[]string{"spec.containers[0].livenessProbe.httpGet.httpHeaders[0].name"}},
		{"tcpSocket port", podWith(func(p *corev1.Pod) { c0(p).ReadinessProbe.TcpSocket.Port = api.IntOrStringFromInt(99999) }), []string{"spec.containers[0].readinessProbe.tcpSocket.port"}},
		{"exec command", podWith(func(p *corev1.Pod) { c0(p).StartupProbe.Exec.Command = nil }), []string{"spec.containers[0].startupProbe.exec.command"}},
		{"lifecycle handler none", podWith(func(p *corev1.Pod) { c0(p).Lifecycle.PreStop = &corev1.LifecycleHandler{} }), []string{"spec.containers[0].lifecycle.preStop"}},
		{"lifecycle sleep negative", podWith(func(p *corev1.Pod) { c0(p).Lifecycle.PreStop.Sleep.Seconds = -1 }), []string{"spec.containers[0].lifecycle.preStop.sleep.seconds"}},
		{"init container probe", podWith(func(p *corev1.Pod) { p.Spec.InitContainers[0].ReadinessProbe = c0(p).ReadinessProbe }), []string{"spec.initContainers[0].readinessProbe"}},
		{"sidecar may have probes", podWith(func(p *corev1.Pod) {
			p.Spec.InitContainers[0].RestartPolicy = proto.String("Always")
			p.Spec.InitContainers[0].ReadinessProbe = c0(p).ReadinessProbe
		}), nil},
		{"init restartPolicy", podWith(func(p *corev1.Pod) { p.Spec.InitContainers[0].RestartPolicy = proto.String("Never") }), []string{"spec.initContainers[0].restartPolicy"}},
		{"app container restartPolicy", podWith(func(p *corev1.Pod) { c0(p).RestartPolicy = proto.String("Always") }), []string{"spec.containers[0].restartPolicy"}},
		// Volumes and mounts.
		{"volume name required", podWith(func(p *corev1.Pod) { p.Spec.Volumes[0].Name = ""; c0(p).VolumeMounts = c0(p).VolumeMounts[1:] }), []string{"spec.volumes[0].name"}},
		{"volume name not label", podWith(func(p *corev1.Pod) { p.Spec.Volumes[0].Name = "Cache"; c0(p).VolumeMounts = c0(p).VolumeMounts[1:] }), []string{"spec.volumes[0].name"}},
		{"duplicate volume", podWith(func(p *corev1.Pod) { p.Spec.Volumes[1].Name = "cache" }), []string{"spec.volumes[1].name"}},
		{"volume no source", podWith(func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir = nil }), []string{"spec.volumes[0]"}},
		{"volume two sources", podWith(func(p *corev1.Pod) { p.Spec.Volumes[1].EmptyDir = &corev1.EmptyDirVolumeSource{} }), []string{"spec.volumes[1].emptyDir"}},
		{"emptyDir medium", podWith(func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir.Medium = "Disk" }), []string{"spec.volumes[0].emptyDir.medium"}},
		{"emptyDir sizeLimit", podWith(func(p *corev1.Pod) { p.Spec.Volumes[0].EmptyDir.SizeLimit = q("-1") }), []string{"spec.volumes[0].emptyDir.sizeLimit"}},
		{"hostPath path", podWith(func(p *corev1.Pod) { p.Spec.Volumes[1].HostPath.Path = "" }), []string{"spec.volumes[1].hostPath.path"}},
		{"hostPath type", podWith(func(p *corev1.Pod) { p.Spec.Volumes[1].HostPath.Type = proto.String("Dir") }), []string{"spec.volumes[1].hostPath.type"}},
		{"configMap name", podWith(func(p *corev1.Pod) { p.Spec.Volumes[2].ConfigMap.Name = "" }), []string{"spec.volumes[2].configMap.name"}},
		{"configMap defaultMode", podWith(func(p *corev1.Pod) { p.Spec.Volumes[2].ConfigMap.DefaultMode = proto.Int32(0o1000) }), []string{"spec.volumes[2].configMap.defaultMode"}},
		{"item path escapes", podWith(func(p *corev1.Pod) { p.Spec.Volumes[2].ConfigMap.Items[0].Path = "../etc/passwd" }), []string{"spec.volumes[2].configMap.items[0].path"}},
		{"item path absolute", podWith(func(p *corev1.Pod) { p.Spec.Volumes[2].ConfigMap.Items[0].Path = "/etc" }), []string{"spec.volumes[2].configMap.items[0].path"}},
		{"item key", podWith(func(p *corev1.Pod) { p.Spec.Volumes[2].ConfigMap.Items[0].Key = "" }), []string{"spec.volumes[2].configMap.items[0].key"}},
		{"item mode", podWith(func(p *corev1.Pod) { p.Spec.Volumes[2].ConfigMap.Items[0].Mode = proto.Int32(-1) }), []string{"spec.volumes[2].configMap.items[0].mode"}},
		{"secret secretName", podWith(func(p *corev1.Pod) { p.Spec.Volumes[3].Secret.SecretName = "" }), []string{"spec.volumes[3].secret.secretName"}},
		{"projected defaultMode", podWith(func(p *corev1.Pod) { p.Spec.Volumes[4].Projected.DefaultMode = proto.Int32(0o1000) }), []string{"spec.volumes[4].projected.defaultMode"}},
		{"projected source empty", podWith(func(p *corev1.Pod) { p.Spec.Volumes[4].Projected.Sources[3].Secret = nil }), []string{"spec.volumes[4].projected.sources[3]"}},
		{"projected source two kinds", podWith(func(p *corev1.Pod) {
			p.Spec.Volumes[4].Projected.Sources[3].ConfigMap = &corev1.ConfigMapProjection{Name: "x"}
		}), []string{"spec.volumes[4].projected.sources[3].configMap"}},
		{"projected token short", podWith(func(p *corev1.Pod) {
			p.Spec.Volumes[4].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds = proto.Int64(599)
		}), []string{"spec.volumes[4].projected.sources[0].serviceAccountToken.expirationSeconds"}},
		{"projected token path", podWith(func(p *corev1.Pod) { p.Spec.Volumes[4].Projected.Sources[0].ServiceAccountToken.Path = "" }),
			[]string{"spec.volumes[4].projected.sources[0].serviceAccountToken.path"}},
		{"projected duplicate path", podWith(func(p *corev1.Pod) { p.Spec.Volumes[4].Projected.Sources[1].ConfigMap.Items[0].Path = "token" }),
			[]string{"spec.volumes[4].projected.sources[1].configMap.items[0].path"}},
		{"projected configMap name", podWith(func(p *corev1.Pod) { p.Spec.Volumes[4].Projected.Sources[1].ConfigMap.Name = "" }),
			[]string{"spec.volumes[4].projected.sources[1].configMap.name"}},
		{"projected downwardAPI fieldPath", podWith(func(p *corev1.Pod) {
			p.Spec.Volumes[4].Projected.Sources[2].DownwardApi.Items[0].FieldRef.FieldPath = "spec.nodeName"
		}), []string{"spec.volumes[4].projected.sources[2].downwardAPI.items[0].fieldRef.fieldPath"}},
		{"projected downwardAPI path escapes", podWith(func(p *corev1.Pod) { p.Spec.Volumes[4].Projected.Sources[2].DownwardApi.Items[0].Path = "../ns" }),
			[]string{"spec.volumes[4].projected.sources[2].downwardAPI.items[0].path"}},
		{"projected downwardAPI containerName", podWith(func(p *corev1.Pod) {
			p.Spec.Volumes[4].Projected.Sources[2].DownwardApi.Items[2].ResourceFieldRef.ContainerName = ""
		}), []string{"spec.volumes[4].projected.sources[2].downwardAPI.items[2].resourceFieldRef.containerName"}},
		{"projected downwardAPI no source", podWith(func(p *corev1.Pod) { p.Spec.Volumes[4].Projected.Sources[2].DownwardApi.Items[0].FieldRef = nil }),
			[]string{"spec.volumes[4].projected.sources[2].downwardAPI.items[0]"}},
		{"downwardAPI defaultMode", podWith(func(p *corev1.Pod) { p.Spec.Volumes[5].DownwardApi.DefaultMode = proto.Int32(0o1000) }), []string{"spec.volumes[5].downwardAPI.defaultMode"}},
		{"downwardAPI status field in a file", podWith(func(p *corev1.Pod) { p.Spec.Volumes[5].DownwardApi.Items[0].FieldRef.FieldPath = "status.podIP" }),
			[]string{"spec.volumes[5].downwardAPI.items[0].fieldRef.fieldPath"}},
		{"downwardAPI path absolute", podWith(func(p *corev1.Pod) { p.Spec.Volumes[5].DownwardApi.Items[0].Path = "/labels" }),
			[]string{"spec.volumes[5].downwardAPI.items[0].path"}},
		{"downwardAPI path '..' element", podWith(func(p *corev1.Pod) { p.Spec.Volumes[5].DownwardApi.Items[0].Path = "a/../../labels" }),
			[]string{"spec.volumes[5].downwardAPI.items[0].path"}},
		{"downwardAPI path reserved", podWith(func(p *corev1.Pod) { p.Spec.Volumes[5].DownwardApi.Items[0].Path = "..data" }),
			[]string{"spec.volumes[5].downwardAPI.items[0].path"}},
		{"downwardAPI resource", podWith(func(p *corev1.Pod) { p.Spec.Volumes[5].DownwardApi.Items[1].ResourceFieldRef.Resource = "limits.gpu" }),
			[]string{"spec.volumes[5].downwardAPI.items[1].resourceFieldRef.resource"}},
		{"downwardAPI cpu divisor", podWith(func(p *corev1.Pod) { p.Spec.Volumes[5].DownwardApi.Items[1].ResourceFieldRef.Divisor = q("2") }),
			[]string{"spec.volumes[5].downwardAPI.items[1].resourceFieldRef.divisor"}},
		{"downwardAPI memory divisor", podWith(func(p *corev1.Pod) {
			p.Spec.Volumes[5].DownwardApi.Items[1].ResourceFieldRef.Resource = "limits.memory"
			p.Spec.Volumes[5].DownwardApi.Items[1].ResourceFieldRef.Divisor = q("1m")
		}), []string{"spec.volumes[5].downwardAPI.items[1].resourceFieldRef.divisor"}},
		{"downwardAPI memory divisor Mi", podWith(func(p *corev1.Pod) {
			p.Spec.Volumes[5].DownwardApi.Items[1].ResourceFieldRef.Resource = "limits.memory"
			p.Spec.Volumes[5].DownwardApi.Items[1].ResourceFieldRef.Divisor = q("1Mi")
		}), nil},
		{"downwardAPI both refs", podWith(func(p *corev1.Pod) {
			p.Spec.Volumes[5].DownwardApi.Items[0].ResourceFieldRef = &corev1.ResourceFieldSelector{ContainerName: "web", Resource: "limits.cpu"}
		}), []string{"spec.volumes[5].downwardAPI.items[0].resourceFieldRef"}},
		{"downwardAPI and another source", podWith(func(p *corev1.Pod) { p.Spec.Volumes[5].EmptyDir = &corev1.EmptyDirVolumeSource{} }),
			[]string{"spec.volumes[5].downwardAPI"}},
		{"configMap item path reserved", podWith(func(p *corev1.Pod) { p.Spec.Volumes[2].ConfigMap.Items[0].Path = "..conf" }),
			[]string{"spec.volumes[2].configMap.items[0].path"}},
		{"pvc claimName", podWith(func(p *corev1.Pod) { p.Spec.Volumes[6].PersistentVolumeClaim.ClaimName = "" }),
			[]string{"spec.volumes[6].persistentVolumeClaim.claimName"}},
		{"env resourceFieldRef divisor", podWith(func(p *corev1.Pod) {
			c0(p).Env = append(c0(p).Env, &corev1.EnvVar{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: q("10m")}}})
		}), []string{"spec.containers[0].env[" + strconv.Itoa(len(validPodSpec().Containers[0].Env)) + "].valueFrom.resourceFieldRef.divisor"}},
		{"subPathExpr absolute", podWith(func(p *corev1.Pod) { c0(p).VolumeMounts[1].SubPathExpr = "/$(POD_NAME)" }),
			[]string{"spec.containers[0].volumeMounts[1].subPathExpr"}},
		{"subPath and subPathExpr", podWith(func(p *corev1.Pod) {
			c0(p).VolumeMounts[1].SubPath = "a"
			c0(p).VolumeMounts[1].SubPathExpr = "$(POD_NAME)"
		}),
			[]string{"spec.containers[0].volumeMounts[1].subPathExpr"}},
		{"mount unknown volume", podWith(func(p *corev1.Pod) { c0(p).VolumeMounts[0].Name = "nope" }), []string{"spec.containers[0].volumeMounts[0].name"}},
		{"mount path required", podWith(func(p *corev1.Pod) { c0(p).VolumeMounts[0].MountPath = "" }), []string{"spec.containers[0].volumeMounts[0].mountPath"}},
		{"mount path unique", podWith(func(p *corev1.Pod) { c0(p).VolumeMounts[1].MountPath = "/cache" }), []string{"spec.containers[0].volumeMounts[1].mountPath"}},
		{"subPath escapes", podWith(func(p *corev1.Pod) { c0(p).VolumeMounts[1].SubPath = "a/../../b" }), []string{"spec.containers[0].volumeMounts[1].subPath"}},
		{"mountPropagation", podWith(func(p *corev1.Pod) { c0(p).VolumeMounts[0].MountPropagation = proto.String("Shared") }), []string{"spec.containers[0].volumeMounts[0].mountPropagation"}},
		// validation.Pod-level fields.
		{"restartPolicy", podWith(func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }), []string{"spec.restartPolicy"}},
		{"dnsPolicy", podWith(func(p *corev1.Pod) { p.Spec.DnsPolicy = "Google" }), []string{"spec.dnsPolicy"}},
		{"dnsPolicy None needs nameservers", podWith(func(p *corev1.Pod) { p.Spec.DnsPolicy = "None"; p.Spec.DnsConfig.Nameservers = nil }), []string{"spec.dnsConfig.nameservers"}},
		{"dnsConfig nameserver", podWith(func(p *corev1.Pod) { p.Spec.DnsConfig.Nameservers = []string{"dns.local"} }), []string{"spec.dnsConfig.nameservers[0]"}},
		{"nodeSelector", podWith(func(p *corev1.Pod) { p.Spec.NodeSelector["disk"] = "fast ssd" }), []string{"spec.nodeSelector[disk]"}},
		{"nodeName", podWith(func(p *corev1.Pod) { p.Spec.NodeName = "Node_1" }), []string{"spec.nodeName"}},
		{"hostname", podWith(func(p *corev1.Pod) { p.Spec.Hostname = "web.0" }), []string{"spec.hostname"}},
		{"subdomain", podWith(func(p *corev1.Pod) { p.Spec.Subdomain = "-web" }), []string{"spec.subdomain"}},
		{"serviceAccountName", podWith(func(p *corev1.Pod) { p.Spec.ServiceAccountName = "Web" }), []string{"spec.serviceAccountName"}},
		{"schedulerName", podWith(func(p *corev1.Pod) { p.Spec.SchedulerName = "my scheduler" }), []string{"spec.schedulerName"}},
		{"priorityClassName", podWith(func(p *corev1.Pod) { p.Spec.PriorityClassName = "High!" }), []string{"spec.priorityClassName"}},
		{"preemptionPolicy", podWith(func(p *corev1.Pod) { p.Spec.PreemptionPolicy = proto.String("Always") }), []string{"spec.preemptionPolicy"}},
		{"terminationGracePeriodSeconds", podWith(func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = proto.Int64(-1) }), []string{"spec.terminationGracePeriodSeconds"}},
		{"activeDeadlineSeconds", podWith(func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = proto.Int64(0) }), []string{"spec.activeDeadlineSeconds"}},
		{"securityContext runAsUser", podWith(func(p *corev1.Pod) { c0(p).SecurityContext.RunAsUser = proto.Int64(-5) }), []string{"spec.containers[0].securityContext.runAsUser"}},
		{"privileged without escalation", podWith(func(p *corev1.Pod) { c0(p).SecurityContext.Privileged = proto.Bool(true) }),
			[]string{"spec.containers[0].securityContext.allowPrivilegeEscalation"}},
		{"pod fsGroup", podWith(func(p *corev1.Pod) { p.Spec.SecurityContext.FsGroup = proto.Int64(-1) }), []string{"spec.securityContext.fsGroup"}},
		{"seccomp localhost", podWith(func(p *corev1.Pod) { p.Spec.SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: "Localhost"} }),
			[]string{"spec.securityContext.seccompProfile.localhostProfile"}},
		{"hostAliases ip", podWith(func(p *corev1.Pod) { p.Spec.HostAliases[0].Ip = "x" }), []string{"spec.hostAliases[0].ip"}},
		{"imagePullSecrets name", podWith(func(p *corev1.Pod) { p.Spec.ImagePullSecrets = []*corev1.LocalObjectReference{{}} }), []string{"spec.imagePullSecrets[0].name"}},
		{"os name", podWith(func(p *corev1.Pod) { p.Spec.Os = &corev1.PodOS{Name: "plan9"} }), []string{"spec.os.name"}},
		// Tolerations.
		{"toleration operator", podWith(func(p *corev1.Pod) { p.Spec.Tolerations[0].Operator = "Matches" }), []string{"spec.tolerations[0].operator"}},
		{"toleration Exists with value", podWith(func(p *corev1.Pod) { p.Spec.Tolerations[1].Value = "x" }), []string{"spec.tolerations[1].value"}},
		{"toleration empty key needs Exists", podWith(func(p *corev1.Pod) { p.Spec.Tolerations[2].Operator = "Equal" }), []string{"spec.tolerations[2].operator"}},
		{"toleration effect", podWith(func(p *corev1.Pod) { p.Spec.Tolerations[0].Effect = "NoRun" }), []string{"spec.tolerations[0].effect"}},
		{"tolerationSeconds needs NoExecute", podWith(func(p *corev1.Pod) { p.Spec.Tolerations[0].TolerationSeconds = proto.Int64(5) }), []string{"spec.tolerations[0].effect"}},
		{"toleration key", podWith(func(p *corev1.Pod) { p.Spec.Tolerations[0].Key = "a b" }), []string{"spec.tolerations[0].key"}},
		// Affinity.
		{"nodeAffinity operator", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Operator = "Has"
		}), []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator"}},
		{"nodeAffinity In needs values", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values = nil
		}), []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].values"}},
		{"nodeAffinity Gt integer", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[1].Values = []string{"four"}
		}), []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].values[0]"}},
		{"nodeAffinity Exists no values", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[2].Values = []string{"x"}
		}), []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[2].values"}},
		{"nodeAffinity matchFields key", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Key = "spec.unschedulable"
		}), []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchFields[0].key"}},
		{"nodeAffinity no terms", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms = nil
		}), []string{"spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"}},
		{"preferred weight", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].Weight = 0
		}),
			[]string{"spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"}},
		{"podAffinity topologyKey", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey = ""
		}),
			[]string{"spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey"}},
		{"podAffinity namespaces", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].Namespaces = []string{"A"}
		}),
			[]string{"spec.affinity.podAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].namespaces[0]"}},
		{"podAntiAffinity selector operator", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.LabelSelector.MatchExpressions[0].Operator = "Gt"
		}), []string{"spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.labelSelector.matchExpressions[0].operator"}},
		{"podAntiAffinity weight", podWith(func(p *corev1.Pod) {
			p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].Weight = 101
		}),
			[]string{"spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight"}},
		// Topology spread.
		{"maxSkew", podWith(func(p *corev1.Pod) { p.Spec.TopologySpreadConstraints[0].MaxSkew = 0 }), []string{"spec.topologySpreadConstraints[0].maxSkew"}},
		{"whenUnsatisfiable", podWith(func(p *corev1.Pod) { p.Spec.TopologySpreadConstraints[0].WhenUnsatisfiable = "Never" }),
			[]string{"spec.topologySpreadConstraints[0].minDomains", "spec.topologySpreadConstraints[0].whenUnsatisfiable"}},
		{"spread topologyKey", podWith(func(p *corev1.Pod) { p.Spec.TopologySpreadConstraints[0].TopologyKey = "" }), []string{"spec.topologySpreadConstraints[0].topologyKey"}},
		{"minDomains", podWith(func(p *corev1.Pod) { p.Spec.TopologySpreadConstraints[0].MinDomains = proto.Int32(0) }), []string{"spec.topologySpreadConstraints[0].minDomains"}},
		{"duplicate constraint", podWith(func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, proto.Clone(p.Spec.TopologySpreadConstraints[0]).(*corev1.TopologySpreadConstraint))
		}), []string{"spec.topologySpreadConstraints[1]"}},
		{"readinessGates", podWith(func(p *corev1.Pod) { p.Spec.ReadinessGates = []*corev1.PodReadinessGate{{ConditionType: "a b"}} }), []string{"spec.readinessGates[0].conditionType"}},
	}
	runCreateCases(t, cases)
}

func deployWith(f func(d *appsv1.Deployment)) *appsv1.Deployment {
	d := validDeployment()
	f(d)
	return d
}

func rsWith(f func(r *appsv1.ReplicaSet)) *appsv1.ReplicaSet {
	r := validReplicaSet()
	f(r)
	return r
}

func jobWith(f func(j *batchv1.Job)) *batchv1.Job {
	j := validJob()
	f(j)
	return j
}

func TestValidateCreateWorkloads(t *testing.T) {
	cases := []createCase{
		// validation.Deployment.
		{"deploy spec required", deployWith(func(d *appsv1.Deployment) { d.Spec = nil }), []string{"spec"}},
		{"deploy replicas", deployWith(func(d *appsv1.Deployment) { d.Spec.Replicas = proto.Int32(-1) }), []string{"spec.replicas"}},
		{"deploy selector required", deployWith(func(d *appsv1.Deployment) { d.Spec.Selector = nil }), []string{"spec.selector"}},
		{"deploy selector empty", deployWith(func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} }), []string{"spec.selector"}},
		{"deploy selector mismatch", deployWith(func(d *appsv1.Deployment) { d.Spec.Selector.MatchLabels["app"] = "db" }), []string{"spec.template.metadata.labels"}},
		{"deploy selector expression mismatch", deployWith(func(d *appsv1.Deployment) { d.Spec.Selector.MatchExpressions[0].Operator = "NotIn" }), []string{"spec.template.metadata.labels"}},
		{"deploy selector invalid", deployWith(func(d *appsv1.Deployment) { d.Spec.Selector.MatchExpressions[0].Values = nil }), []string{"spec.selector.matchExpressions[0].values"}},
		{"deploy template required", deployWith(func(d *appsv1.Deployment) { d.Spec.Template = nil }), []string{"spec.template"}},
		{"deploy template label", deployWith(func(d *appsv1.Deployment) { d.Spec.Template.Metadata.Labels["x y"] = "1" }), []string{"spec.template.metadata.labels[x y]"}},
		{"deploy template annotation", deployWith(func(d *appsv1.Deployment) { d.Spec.Template.Metadata.Annotations = map[string]string{"-bad": ""} }),
			[]string{"spec.template.metadata.annotations[-bad]"}},
		{"deploy template restartPolicy", deployWith(func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = "OnFailure" }), []string{"spec.template.spec.restartPolicy"}},
		{"deploy template activeDeadlineSeconds", deployWith(func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = proto.Int64(5) }),
			[]string{"spec.template.spec.activeDeadlineSeconds"}},
		{"deploy template pod spec", deployWith(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort = 0 }),
			[]string{"spec.template.spec.containers[0].ports[0].containerPort"}},
		{"deploy strategy type", deployWith(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" }), []string{"spec.strategy.type"}},
		{"deploy Recreate with rollingUpdate", deployWith(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "Recreate" }), []string{"spec.strategy.rollingUpdate"}},
		{"deploy both zero", deployWith(func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = api.IntOrStringFromString("0%") }), []string{"spec.strategy.rollingUpdate.maxUnavailable"}},
		{"deploy bad percent", deployWith(func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = api.IntOrStringFromString("25") }), []string{"spec.strategy.rollingUpdate.maxSurge"}},
		{"deploy maxUnavailable over 100%", deployWith(func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = api.IntOrStringFromString("150%")
		}),
			[]string{"spec.strategy.rollingUpdate.maxUnavailable"}},
		{"deploy maxSurge negative", deployWith(func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxSurge = api.IntOrStringFromInt(-1) }), []string{"spec.strategy.rollingUpdate.maxSurge"}},
		{"deploy minReadySeconds", deployWith(func(d *appsv1.Deployment) { d.Spec.MinReadySeconds = -1 }), []string{"spec.minReadySeconds"}},
		{"deploy revisionHistoryLimit", deployWith(func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = proto.Int32(-1) }), []string{"spec.revisionHistoryLimit"}},
		{"deploy progressDeadlineSeconds", deployWith(func(d *appsv1.Deployment) { d.Spec.ProgressDeadlineSeconds = proto.Int32(5) }), []string{"spec.progressDeadlineSeconds"}},
		// validation.ReplicaSet.
		{"rs spec required", rsWith(func(r *appsv1.ReplicaSet) { r.Spec = nil }), []string{"spec"}},
		{"rs replicas", rsWith(func(r *appsv1.ReplicaSet) { r.Spec.Replicas = proto.Int32(-3) }), []string{"spec.replicas"}},
		{"rs selector", rsWith(func(r *appsv1.ReplicaSet) { r.Spec.Selector = nil }), []string{"spec.selector"}},
		{"rs selector mismatch", rsWith(func(r *appsv1.ReplicaSet) { r.Spec.Template.Metadata.Labels = map[string]string{"app": "other"} }), []string{"spec.template.metadata.labels"}},
		{"rs restartPolicy", rsWith(func(r *appsv1.ReplicaSet) { r.Spec.Template.Spec.RestartPolicy = "Never" }), []string{"spec.template.spec.restartPolicy"}},
		{"rs minReadySeconds", rsWith(func(r *appsv1.ReplicaSet) { r.Spec.MinReadySeconds = -1 }), []string{"spec.minReadySeconds"}},
		// validation.Job.
		{"job spec required", jobWith(func(j *batchv1.Job) { j.Spec = nil }), []string{"spec"}},
		{"job parallelism", jobWith(func(j *batchv1.Job) { j.Spec.Parallelism = proto.Int32(-1) }), []string{"spec.parallelism"}},
		{"job completions", jobWith(func(j *batchv1.Job) { j.Spec.Completions = proto.Int32(-1) }), []string{"spec.completions"}},
		{"job backoffLimit", jobWith(func(j *batchv1.Job) { j.Spec.BackoffLimit = proto.Int32(-1) }), []string{"spec.backoffLimit"}},
		{"job ttl", jobWith(func(j *batchv1.Job) { j.Spec.TtlSecondsAfterFinished = proto.Int32(-1) }), []string{"spec.ttlSecondsAfterFinished"}},
		{"job activeDeadlineSeconds", jobWith(func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = proto.Int64(0) }), []string{"spec.activeDeadlineSeconds"}},
		{"job completionMode", jobWith(func(j *batchv1.Job) { j.Spec.CompletionMode = proto.String("Ordered") }), []string{"spec.completionMode"}},
		{"job Indexed needs completions", jobWith(func(j *batchv1.Job) { j.Spec.CompletionMode = proto.String("Indexed"); j.Spec.Completions = nil }), []string{"spec.completions"}},
		{"job Indexed ok", jobWith(func(j *batchv1.Job) {
			j.Spec.CompletionMode = proto.String("Indexed")
			j.Spec.Completions = proto.Int32(100000)
		}), nil},
		{"job Indexed completions over 100000", jobWith(func(j *batchv1.Job) {
			j.Spec.CompletionMode = proto.String("Indexed")
			j.Spec.Completions = proto.Int32(100001)
		}), []string{"spec.completions"}},
		{"job NonIndexed completions over 100000 ok", jobWith(func(j *batchv1.Job) { j.Spec.Completions = proto.Int32(100001) }), nil},
		{"job completionMode empty", jobWith(func(j *batchv1.Job) { j.Spec.CompletionMode = proto.String("") }), []string{"spec.completionMode"}},
		{"job backoffLimitPerIndex needs Indexed", jobWith(func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = proto.Int32(1) }), []string{"spec.backoffLimitPerIndex"}},
		{"job podReplacementPolicy", jobWith(func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = proto.String("Always") }), []string{"spec.podReplacementPolicy"}},
		{"job selector required", jobWith(func(j *batchv1.Job) { j.Spec.Selector = nil }), []string{"spec.selector"}},
		{"job selector mismatch", jobWith(func(j *batchv1.Job) { j.Spec.Selector.MatchLabels = map[string]string{"job": "other"} }), []string{"spec.template.metadata.labels"}},
		{"job restartPolicy Always", jobWith(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "Always" }), []string{"spec.template.spec.restartPolicy"}},
		{"job restartPolicy required", jobWith(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = "" }), []string{"spec.template.spec.restartPolicy"}},
		{"job template required", jobWith(func(j *batchv1.Job) { j.Spec.Template = nil }), []string{"spec.template"}},
		{"job template pod spec", jobWith(func(j *batchv1.Job) { j.Spec.Template.Spec.Containers = nil }), []string{"spec.template.spec.containers"}},
	}
	runCreateCases(t, cases)
}

func svcWith(f func(s *corev1.Service)) *corev1.Service {
	s := validService()
	f(s)
	return s
}

func TestValidateCreateService(t *testing.T) {
	cases := []createCase{
		{"spec required", svcWith(func(s *corev1.Service) { s.Spec = nil }), []string{"spec"}},
		{"type", svcWith(func(s *corev1.Service) { s.Spec.Type = "Ingress" }), []string{"spec.type"}},
		{"ports required", svcWith(func(s *corev1.Service) { s.Spec.Ports = nil }), []string{"spec.ports"}},
		{"headless without ports ok", svcWith(func(s *corev1.Service) {
			s.Spec.Type = "ClusterIP"
			s.Spec.Ports = nil
			s.Spec.ClusterIp, s.Spec.ClusterIps, s.Spec.ExternalIps = "None", []string{"None"}, nil
			s.Spec.ExternalTrafficPolicy = ""
		}), nil},
		{"headless NodePort", svcWith(func(s *corev1.Service) { s.Spec.ClusterIp, s.Spec.ClusterIps = "None", nil }), []string{"spec.clusterIP"}},
		{"port name required with two ports", svcWith(func(s *corev1.Service) { s.Spec.Ports[1].Name = "" }), []string{"spec.ports[1].name"}},
		{"single port may be unnamed", svcWith(func(s *corev1.Service) { s.Spec.Ports = s.Spec.Ports[:1]; s.Spec.Ports[0].Name = "" }), nil},
		{"port name not label", svcWith(func(s *corev1.Service) { s.Spec.Ports[1].Name = "DNS" }), []string{"spec.ports[1].name"}},
		{"duplicate port name", svcWith(func(s *corev1.Service) { s.Spec.Ports[1].Name = "http" }), []string{"spec.ports[1].name"}},
		{"port range", svcWith(func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }), []string{"spec.ports[0].port"}},
		{"protocol", svcWith(func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }), []string{"spec.ports[0].protocol"}},
		{"duplicate port/protocol", svcWith(func(s *corev1.Service) { s.Spec.Ports[1].Port = 80; s.Spec.Ports[1].Protocol = "TCP" }), []string{"spec.ports[1]"}},
		{"targetPort", svcWith(func(s *corev1.Service) { s.Spec.Ports[1].TargetPort = api.IntOrStringFromInt(70000) }), []string{"spec.ports[1].targetPort"}},
		{"targetPort name", svcWith(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = api.IntOrStringFromString("http_") }), []string{"spec.ports[0].targetPort"}},
		{"nodePort range", svcWith(func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 8080 }), []string{"spec.ports[0].nodePort"}},
		{"nodePort on ClusterIP", svcWith(func(s *corev1.Service) { s.Spec.Type = "ClusterIP"; s.Spec.ExternalTrafficPolicy = "" }), []string{"spec.ports[0].nodePort"}},
		{"duplicate nodePort", svcWith(func(s *corev1.Service) { s.Spec.Ports[1].NodePort = 30080; s.Spec.Ports[1].Protocol = "TCP" }), []string{"spec.ports[1].nodePort"}},
		{"appProtocol", svcWith(func(s *corev1.Service) { s.Spec.Ports[0].AppProtocol = proto.String("h t t p") }), []string{"spec.ports[0].appProtocol"}},
		{"clusterIP", svcWith(func(s *corev1.Service) { s.Spec.ClusterIp = "10.96.0.300"; s.Spec.ClusterIps = nil }), []string{"spec.clusterIP"}},
		{"clusterIPs mismatch", svcWith(func(s *corev1.Service) { s.Spec.ClusterIps = []string{"10.96.0.21"} }), []string{"spec.clusterIPs[0]"}},
		{"externalIPs", svcWith(func(s *corev1.Service) { s.Spec.ExternalIps = []string{"a.b.c.d"} }), []string{"spec.externalIPs[0]"}},
		{"sessionAffinity", svcWith(func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie"; s.Spec.SessionAffinityConfig = nil }), []string{"spec.sessionAffinity"}},
		{"sessionAffinityConfig without ClientIP", svcWith(func(s *corev1.Service) { s.Spec.SessionAffinity = "None" }), []string{"spec.sessionAffinityConfig"}},
		{"sessionAffinity timeout", svcWith(func(s *corev1.Service) { s.Spec.SessionAffinityConfig.ClientIp.TimeoutSeconds = proto.Int32(0) }),
			[]string{"spec.sessionAffinityConfig.clientIP.timeoutSeconds"}},
		{"externalTrafficPolicy", svcWith(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = "Global" }), []string{"spec.externalTrafficPolicy"}},
		{"internalTrafficPolicy", svcWith(func(s *corev1.Service) { s.Spec.InternalTrafficPolicy = proto.String("Node") }), []string{"spec.internalTrafficPolicy"}},
		{"selector", svcWith(func(s *corev1.Service) { s.Spec.Selector["app"] = "a b" }), []string{"spec.selector[app]"}},
		{"ipFamilies", svcWith(func(s *corev1.Service) { s.Spec.IpFamilies = []string{"IPv4", "IPv4"} }), []string{"spec.ipFamilies[1]"}},
		{"ipFamilyPolicy", svcWith(func(s *corev1.Service) { s.Spec.IpFamilyPolicy = proto.String("DualStack") }), []string{"spec.ipFamilyPolicy"}},
		{"ExternalName needs name", svcWith(func(s *corev1.Service) {
			s.Spec = &corev1.ServiceSpec{Type: "ExternalName"}
		}), []string{"spec.externalName"}},
		{"ExternalName ok", svcWith(func(s *corev1.Service) {
			s.Spec = &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com"}
		}), nil},
		{"ExternalName with clusterIP", svcWith(func(s *corev1.Service) {
			s.Spec = &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com", ClusterIp: "10.96.0.1"}
		}), []string{"spec.clusterIP"}},
	}
	runCreateCases(t, cases)
}

func TestValidateCreateOtherKinds(t *testing.T) {
	ep := func(f func(e *corev1.Endpoints)) *corev1.Endpoints { e := validEndpoints(); f(e); return e }
	cm := func(f func(c *corev1.ConfigMap)) *corev1.ConfigMap { c := validConfigMap(); f(c); return c }
	sec := func(f func(s *corev1.Secret)) *corev1.Secret { s := validSecret(); f(s); return s }
	ev := func(f func(e *corev1.Event)) *corev1.Event { e := validEvent(); f(e); return e }
	ns := func(f func(n *corev1.Namespace)) *corev1.Namespace { n := validNamespace(); f(n); return n }
	node := func(f func(n *corev1.Node)) *corev1.Node { n := validNode(); f(n); return n }
	lease := func(f func(l *coordinationv1.Lease)) *coordinationv1.Lease { l := validLease(); f(l); return l }
	pc := func(f func(p *schedulingv1.PriorityClass)) *schedulingv1.PriorityClass {
		p := validPriorityClass()
		f(p)
		return p
	}
	big := strings.Repeat("x", validation.MaxDataSize/2+1)

	cases := []createCase{
		// validation.Endpoints.
		{"endpoints ip", ep(func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].Ip = "nope" }), []string{"subsets[0].addresses[0].ip"}},
		{"endpoints ip required", ep(func(e *corev1.Endpoints) { e.Subsets[0].NotReadyAddresses[0].Ip = "" }), []string{"subsets[0].notReadyAddresses[0].ip"}},
		{"endpoints nodeName", ep(func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].NodeName = proto.String("Node 1") }), []string{"subsets[0].addresses[0].nodeName"}},
		{"endpoints no addresses", ep(func(e *corev1.Endpoints) { e.Subsets[0].Addresses, e.Subsets[0].NotReadyAddresses = nil, nil }), []string{"subsets[0]"}},
		{"endpoints port", ep(func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Port = 0 }), []string{"subsets[0].ports[0].port"}},
		{"endpoints port name required", ep(func(e *corev1.Endpoints) { e.Subsets[0].Ports[1].Name = "" }), []string{"subsets[0].ports[1].name"}},
		{"endpoints protocol", ep(func(e *corev1.Endpoints) { e.Subsets[0].Ports[1].Protocol = "ICMP" }), []string{"subsets[0].ports[1].protocol"}},
		// validation.ConfigMap.
		{"configmap key", cm(func(c *corev1.ConfigMap) { c.Data["a/b"] = "x" }), []string{"data[a/b]"}},
		{"configmap binary key", cm(func(c *corev1.ConfigMap) { c.BinaryData["..x"] = nil }), []string{"binaryData[..x]"}},
		{"configmap duplicate key", cm(func(c *corev1.ConfigMap) { c.BinaryData["level"] = []byte("x") }), []string{"binaryData[level]"}},
		{"configmap too large", cm(func(c *corev1.ConfigMap) { c.Data["a"] = big; c.BinaryData["b"] = []byte(big) }), []string{"data"}},
		// validation.Secret.
		{"secret key", sec(func(s *corev1.Secret) { s.Data["bad key"] = nil }), []string{"data[bad key]"}},
		{"secret stringData key", sec(func(s *corev1.Secret) { s.StringData["-/x"] = "" }), []string{"stringData[-/x]"}},
		{"secret too large", sec(func(s *corev1.Secret) { s.Data["a"] = []byte(big); s.StringData["b"] = big }), []string{"data"}},
		{"secret tls keys", sec(func(s *corev1.Secret) { s.Type = "kubernetes.io/tls" }), []string{"data[tls.crt]", "data[tls.key]"}},
		{"secret basic-auth", sec(func(s *corev1.Secret) { s.Type = "kubernetes.io/basic-auth"; s.Data = nil; s.StringData = nil }), []string{"data"}},
		// validation.Event.
		{"event involvedObject", ev(func(e *corev1.Event) { e.InvolvedObject = nil }), []string{"involvedObject"}},
		{"event involvedObject fields", ev(func(e *corev1.Event) { e.InvolvedObject.Kind, e.InvolvedObject.Name = "", "" }),
			[]string{"involvedObject.kind", "involvedObject.name"}},
		{"event namespace mismatch", ev(func(e *corev1.Event) { e.InvolvedObject.Namespace = "other" }), []string{"involvedObject.namespace"}},
		{"event type", ev(func(e *corev1.Event) { e.Type = "Error" }), []string{"type"}},
		{"event count", ev(func(e *corev1.Event) { e.Count = -1 }), []string{"count"}},
		// validation.Namespace.
		{"namespace finalizer", ns(func(n *corev1.Namespace) { n.Spec.Finalizers = []string{"a b"} }), []string{"spec.finalizers[0]"}},
		{"namespace phase", ns(func(n *corev1.Namespace) { n.Status.Phase = "Gone" }), []string{"status.phase"}},
		// validation.Node.
		{"node podCIDR", node(func(n *corev1.Node) { n.Spec.PodCidr = "10.244.1.0"; n.Spec.PodCidrs = nil }), []string{"spec.podCIDR"}},
		{"node podCIDRs", node(func(n *corev1.Node) { n.Spec.PodCidrs[1] = "fd00::/129" }), []string{"spec.podCIDRs[1]"}},
		{"node podCIDRs mismatch", node(func(n *corev1.Node) { n.Spec.PodCidrs[0] = "10.244.2.0/24" }), []string{"spec.podCIDRs[0]"}},
		{"node taint effect", node(func(n *corev1.Node) { n.Spec.Taints[0].Effect = "NoRun" }), []string{"spec.taints[0].effect"}},
		{"node taint effect required", node(func(n *corev1.Node) { n.Spec.Taints[0].Effect = "" }), []string{"spec.taints[0].effect"}},
		{"node taint key", node(func(n *corev1.Node) { n.Spec.Taints[0].Key = "" }), []string{"spec.taints[0].key"}},
		{"node taint value", node(func(n *corev1.Node) { n.Spec.Taints[0].Value = "a b" }), []string{"spec.taints[0].value"}},
		{"node duplicate taint", node(func(n *corev1.Node) { n.Spec.Taints[1].Effect = "NoSchedule" }), []string{"spec.taints[1]"}},
		{"node capacity", node(func(n *corev1.Node) { n.Status.Capacity["cpu"] = q("four") }), []string{"status.capacity[cpu]"}},
		{"node address type", node(func(n *corev1.Node) { n.Status.Addresses[0].Type = "PodIP" }), []string{"status.addresses[0].type"}},
		{"node condition status", node(func(n *corev1.Node) { n.Status.Conditions[0].Status = "Yes" }), []string{"status.conditions[0].status"}},
		// validation.Lease.
		{"lease duration", lease(func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = proto.Int32(0) }), []string{"spec.leaseDurationSeconds"}},
		{"lease transitions", lease(func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = proto.Int32(-1) }), []string{"spec.leaseTransitions"}},
		{"lease namespace required", lease(func(l *coordinationv1.Lease) { l.Metadata.Namespace = "" }), []string{"metadata.namespace"}},
		// validation.PriorityClass.
		{"priority too high", pc(func(p *schedulingv1.PriorityClass) { p.Value = validation.HighestUserDefinablePriority + 1 }), []string{"value"}},
		{"system prefix reserved", pc(func(p *schedulingv1.PriorityClass) { p.Metadata.Name = "system-mine" }), []string{"metadata.name"}},
		{"system class value", pc(func(p *schedulingv1.PriorityClass) { p.Metadata.Name = "system-node-critical" }), []string{"value"}},
		{"system class ok", pc(func(p *schedulingv1.PriorityClass) { p.Metadata.Name = "system-node-critical"; p.Value = 2000001000 }), nil},
		{"preemptionPolicy", pc(func(p *schedulingv1.PriorityClass) { p.PreemptionPolicy = proto.String("Sometimes") }), []string{"preemptionPolicy"}},
	}
	runCreateCases(t, cases)
}

type updateCase struct {
	name     string
	old, obj proto.Message
	want     []string
}

// stored returns obj as the apiserver would have stored it: with uid,
// resourceVersion and creationTimestamp.
func stored[T proto.Message](obj T) T {
	m := scheme.Meta(obj)
	m.Uid, m.ResourceVersion, m.CreationTimestamp = "uid-1", "7", timestamppb.New(time.Now().Truncate(time.Second))
	return obj
}

// updated returns a copy of old with f applied.
func updated[T proto.Message](old T, f func(T)) T {
	n := proto.Clone(old).(T)
	f(n)
	return n
}

func TestValidateUpdate(t *testing.T) {
	pod := stored(validPod())
	deploy := stored(validDeployment())
	rs := stored(validReplicaSet())
	job := stored(validJob())
	svc := stored(validService())
	cm := stored(validConfigMap())
	cm.Immutable = proto.Bool(true)
	sec := stored(validSecret())
	sec.StringData = nil
	sec.Immutable = proto.Bool(true)
	node := stored(validNode())
	pc := stored(validPriorityClass())
	suspended := updated(job, func(j *batchv1.Job) { j.Spec.Suspend = proto.Bool(true) })

	cases := []updateCase{
		// Metadata (every kind).
		{"no change", pod, updated(pod, func(*corev1.Pod) {}), nil},
		{"labels may change", pod, updated(pod, func(p *corev1.Pod) { p.Metadata.Labels["new"] = "x" }), nil},
		{"name immutable", pod, updated(pod, func(p *corev1.Pod) { p.Metadata.Name = "other" }), []string{"metadata.name"}},
		{"namespace immutable", pod, updated(pod, func(p *corev1.Pod) { p.Metadata.Namespace = "other" }), []string{"metadata.namespace"}},
		{"uid immutable", pod, updated(pod, func(p *corev1.Pod) { p.Metadata.Uid = "uid-2" }), []string{"metadata.uid"}},
		{"creationTimestamp immutable", pod, updated(pod, func(p *corev1.Pod) { p.Metadata.CreationTimestamp = timestamppb.New(time0()) }), []string{"metadata.creationTimestamp"}},
		{"resourceVersion required", pod, updated(pod, func(p *corev1.Pod) { p.Metadata.ResourceVersion = "" }), []string{"metadata.resourceVersion"}},
		{"create checks still apply", pod, updated(pod, func(p *corev1.Pod) { p.Metadata.Labels["app"] = "a b" }), []string{"metadata.labels[app]"}},
		// validation.Pod spec.
		{"pod image may change", pod, updated(pod, func(p *corev1.Pod) { c0(p).Image = "nginx:1.26"; p.Spec.InitContainers[0].Image = "busybox:1.37" }), nil},
		{"pod activeDeadlineSeconds lowered", pod, updated(pod, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = proto.Int64(60) }), nil},
		{"pod activeDeadlineSeconds raised", pod, updated(pod, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = proto.Int64(7200) }), []string{"spec.activeDeadlineSeconds"}},
		{"pod toleration added", pod, updated(pod, func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, &corev1.Toleration{Key: "k", Operator: "Exists"})
		}), nil},
		{"pod toleration removed", pod, updated(pod, func(p *corev1.Pod) { p.Spec.Tolerations = p.Spec.Tolerations[1:] }),
			[]string{"spec.tolerations[0]"}},
		{"pod other spec field", pod, updated(pod, func(p *corev1.Pod) { c0(p).Ports[0].ContainerPort = 81 }), []string{"spec"}},
		{"pod nodeName", pod, updated(pod, func(p *corev1.Pod) { p.Spec.NodeName = "node-2" }), []string{"spec"}},
		// Workloads.
		{"deploy replicas may change", deploy, updated(deploy, func(d *appsv1.Deployment) { d.Spec.Replicas = proto.Int32(5) }), nil},
		{"deploy selector immutable", deploy, updated(deploy, func(d *appsv1.Deployment) { d.Spec.Selector.MatchExpressions = nil }), []string{"spec.selector"}},
		{"rs selector immutable", rs, updated(rs, func(r *appsv1.ReplicaSet) { r.Spec.Selector.MatchExpressions = nil }), []string{"spec.selector"}},
		{"job selector immutable", job, updated(job, func(j *batchv1.Job) { j.Spec.Selector.MatchExpressions = nil }), []string{"spec.selector"}},
		{"job template immutable", job, updated(job, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5" }), []string{"spec.template"}},
		{"job template mutable while suspended", suspended, updated(suspended, func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5" }), nil},
		{"job parallelism may change", job, updated(job, func(j *batchv1.Job) { j.Spec.Parallelism = proto.Int32(4) }), nil},
		{"job completions immutable", job, updated(job, func(j *batchv1.Job) { j.Spec.Completions = proto.Int32(9) }), []string{"spec.completions"}},
		{"job completionMode immutable", job, updated(job, func(j *batchv1.Job) { j.Spec.CompletionMode = proto.String("Indexed") }), []string{"spec.completionMode"}},
		// validation.Service.
		{"service clusterIP immutable", svc, updated(svc, func(s *corev1.Service) { s.Spec.ClusterIp, s.Spec.ClusterIps = "10.96.0.21", nil }), []string{"spec.clusterIP"}},
		{"service clusterIP may be set once", stored(updated(svc, func(s *corev1.Service) { s.Spec.ClusterIp, s.Spec.ClusterIps = "", nil })), svc, nil},
		{"service to ExternalName releases clusterIP", svc, updated(svc, func(s *corev1.Service) {
			s.Spec = &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com"}
		}), nil},
		// validation.ConfigMap and validation.Secret.
		{"immutable configmap data", cm, updated(cm, func(c *corev1.ConfigMap) { c.Data["level"] = "info" }), []string{"data"}},
		{"immutable configmap binaryData", cm, updated(cm, func(c *corev1.ConfigMap) { delete(c.BinaryData, "logo.png") }), []string{"binaryData"}},
		{"immutable configmap flag", cm, updated(cm, func(c *corev1.ConfigMap) { c.Immutable = proto.Bool(false) }), []string{"immutable"}},
		{"immutable configmap labels ok", cm, updated(cm, func(c *corev1.ConfigMap) { c.Metadata.Labels["x"] = "y" }), nil},
		{"mutable configmap data", stored(validConfigMap()), updated(stored(validConfigMap()), func(c *corev1.ConfigMap) { c.Data["level"] = "info" }), nil},
		{"immutable secret data", sec, updated(sec, func(s *corev1.Secret) { s.Data["password"] = []byte("x") }), []string{"data"}},
		{"secret type immutable", sec, updated(sec, func(s *corev1.Secret) { s.Type = "example.com/custom" }), []string{"type"}},
		// validation.Node.
		{"node podCIDR immutable", node, updated(node, func(n *corev1.Node) { n.Spec.PodCidr = "10.244.9.0/24"; n.Spec.PodCidrs = nil }),
			[]string{"spec.podCIDR", "spec.podCIDRs"}},
		{"node podCIDR may be set once", stored(updated(node, func(n *corev1.Node) { n.Spec.PodCidr, n.Spec.PodCidrs = "", nil })), node, nil},
		{"node unschedulable may change", node, updated(node, func(n *corev1.Node) { n.Spec.Unschedulable = true }), nil},
		// validation.PriorityClass.
		{"priority value immutable", pc, updated(pc, func(p *schedulingv1.PriorityClass) { p.Value = 5 }), []string{"value"}},
	}
	for _, c := range cases {
		checkPaths(t, c.name, registry.ValidateUpdate(c.obj, c.old), c.want)
	}
}

func TestValidateStatusUpdate(t *testing.T) {
	pod := stored(validPod())
	failed := updated(pod, func(p *corev1.Pod) { p.Status.Phase = "Failed" })
	deploy := stored(validDeployment())
	rs := stored(validReplicaSet())
	job := stored(validJob())
	indexed := updated(job, func(j *batchv1.Job) {
		j.Spec.CompletionMode, j.Spec.Completions = proto.String("Indexed"), proto.Int32(10)
	})
	node := stored(validNode())
	ns := stored(validNamespace())
	svc := stored(validService())

	cases := []updateCase{
		{"pod ok", pod, updated(pod, func(p *corev1.Pod) { p.Status.Phase = "Succeeded" }), nil},
		{"pod phase", pod, updated(pod, func(p *corev1.Pod) { p.Status.Phase = "Done" }), []string{"status.phase"}},
		{"pod terminal phase sticks", failed, updated(failed, func(p *corev1.Pod) { p.Status.Phase = "Running" }), []string{"status.phase"}},
		{"pod podIP", pod, updated(pod, func(p *corev1.Pod) { p.Status.PodIp = "10.244.1"; p.Status.PodIps = nil }), []string{"status.podIP"}},
		{"pod podIPs[0] matches", pod, updated(pod, func(p *corev1.Pod) { p.Status.PodIps[0].Ip = "10.244.1.6" }), []string{"status.podIPs[0].ip"}},
		{"pod hostIP", pod, updated(pod, func(p *corev1.Pod) { p.Status.HostIp = "host"; p.Status.HostIps = nil }), []string{"status.hostIP"}},
		{"pod condition status", pod, updated(pod, func(p *corev1.Pod) { p.Status.Conditions[0].Status = "Maybe" }), []string{"status.conditions[0].status"}},
		{"pod condition type", pod, updated(pod, func(p *corev1.Pod) { p.Status.Conditions[0].Type = "" }), []string{"status.conditions[0].type"}},
		{"pod restartCount", pod, updated(pod, func(p *corev1.Pod) { p.Status.ContainerStatuses[0].RestartCount = -1 }), []string{"status.containerStatuses[0].restartCount"}},
		{"pod two states", pod, updated(pod, func(p *corev1.Pod) {
			p.Status.ContainerStatuses[0].State.Waiting = &corev1.ContainerStateWaiting{Reason: "x"}
		}), []string{"status.containerStatuses[0].state.running"}},
		{"pod qosClass", pod, updated(pod, func(p *corev1.Pod) { p.Status.QosClass = "Gold" }), []string{"status.qosClass"}},
		{"pod metadata still immutable", pod, updated(pod, func(p *corev1.Pod) { p.Metadata.Name = "x" }), []string{"metadata.name"}},
		{"deploy counts", deploy, updated(deploy, func(d *appsv1.Deployment) { d.Status.UnavailableReplicas = -1 }), []string{"status.unavailableReplicas"}},
		{"deploy ready > replicas", deploy, updated(deploy, func(d *appsv1.Deployment) { d.Status.ReadyReplicas = 4 }), []string{"status.readyReplicas"}},
		{"deploy collisionCount", deploy, updated(deploy, func(d *appsv1.Deployment) { d.Status.CollisionCount = proto.Int32(-1) }), []string{"status.collisionCount"}},
		{"rs counts", rs, updated(rs, func(r *appsv1.ReplicaSet) { r.Status.Replicas = -1 }),
			[]string{"status.availableReplicas", "status.fullyLabeledReplicas", "status.readyReplicas", "status.replicas"}},
		{"rs available > ready", rs, updated(rs, func(r *appsv1.ReplicaSet) { r.Status.AvailableReplicas = 2; r.Status.ReadyReplicas = 1 }), []string{"status.availableReplicas"}},
		{"job counts", job, updated(job, func(j *batchv1.Job) { j.Status.Failed = -1; j.Status.Ready = proto.Int32(-1) }), []string{"status.failed", "status.ready"}},
		{"job completedIndexes need Indexed", job, updated(job, func(j *batchv1.Job) { j.Status.CompletedIndexes = "0" }), []string{"status.completedIndexes"}},
		{"job completedIndexes ok", indexed, updated(indexed, func(j *batchv1.Job) { j.Status.CompletedIndexes = "0,2,3,5-7,9" }), nil},
		{"job completedIndexes empty ok", indexed, updated(indexed, func(j *batchv1.Job) { j.Status.CompletedIndexes = "" }), nil},
		{"job completedIndexes not below completions", indexed, updated(indexed, func(j *batchv1.Job) { j.Status.CompletedIndexes = "1,8-10" }),
			[]string{"status.completedIndexes"}},
		{"job completedIndexes out of order", indexed, updated(indexed, func(j *batchv1.Job) { j.Status.CompletedIndexes = "3,1" }), []string{"status.completedIndexes"}},
		{"job completedIndexes overlap", indexed, updated(indexed, func(j *batchv1.Job) { j.Status.CompletedIndexes = "1-3,3" }), []string{"status.completedIndexes"}},
		{"job completedIndexes backwards interval", indexed, updated(indexed, func(j *batchv1.Job) { j.Status.CompletedIndexes = "4-2" }), []string{"status.completedIndexes"}},
		{"job completedIndexes one-index interval", indexed, updated(indexed, func(j *batchv1.Job) { j.Status.CompletedIndexes = "2-2" }), []string{"status.completedIndexes"}},
		{"job completedIndexes malformed", indexed, updated(indexed, func(j *batchv1.Job) { j.Status.CompletedIndexes = "1,,2" }), []string{"status.completedIndexes"}},
		{"job completedIndexes sign", indexed, updated(indexed, func(j *batchv1.Job) { j.Status.CompletedIndexes = "+1" }), []string{"status.completedIndexes"}},
		{"job completion before start", job, updated(job, func(j *batchv1.Job) { j.Status.CompletionTime = timestamppb.New(time0()) }), []string{"status.completionTime"}},
		{"node capacity", node, updated(node, func(n *corev1.Node) { n.Status.Allocatable["memory"] = q("-1") }), []string{"status.allocatable[memory]"}},
		{"node kubelet port", node, updated(node, func(n *corev1.Node) { n.Status.DaemonEndpoints.KubeletEndpoint.Port = 70000 }),
			[]string{"status.daemonEndpoints.kubeletEndpoint.Port"}},
		{"namespace phase", ns, updated(ns, func(n *corev1.Namespace) { n.Status.Phase = "Deleted" }), []string{"status.phase"}},
		{"service lb ip", svc, updated(svc, func(s *corev1.Service) { s.Status.LoadBalancer.Ingress[0].Ip = "x" }), []string{"status.loadBalancer.ingress[0].ip"}},
		{"configmap has no status", stored(validConfigMap()), stored(validConfigMap()), []string{"status"}},
	}
	for _, c := range cases {
		checkPaths(t, c.name, registry.ValidateStatusUpdate(c.obj, c.old), c.want)
	}
}

// time0 is a time well before the fixtures' timestamps.
func time0() time.Time { return time.Now().Add(-1000 * time.Hour) }

func TestErrorsNameFields(t *testing.T) {
	// Every error carries a field path.
	p := validPod()
	p.Metadata.Name = ""
	p.Spec.Containers[0].Name = ""
	p.Spec.Volumes[0].EmptyDir = nil
	for _, e := range registry.ValidateCreate(p) {
		if e.Field == "" {
			t.Errorf("error without a field path: %v", e)
		}
	}
	if s := fmt.Sprint(registry.ValidateCreate(p).ToAggregate()); !strings.Contains(s, "spec.containers[0].name") {
		t.Errorf("aggregate message lacks the path: %s", s)
	}
}
