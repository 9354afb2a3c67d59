package defaults_test

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/defaults"
	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
)

func q(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }

// defaultedContainer is what a container {name, image} becomes in a template.
func defaultedContainer(name, image, pull string) *corev1.Container {
	return &corev1.Container{Name: name, Image: image, ImagePullPolicy: pull,
		TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: "File"}
}

// defaultedSpec is a defaulted pod spec with the given containers.
func defaultedSpec(restartPolicy string, cs ...*corev1.Container) *corev1.PodSpec {
	return &corev1.PodSpec{Containers: cs, RestartPolicy: restartPolicy, DnsPolicy: "ClusterFirst",
		TerminationGracePeriodSeconds: proto.Int64(30), SchedulerName: "default-scheduler",
		SecurityContext: &corev1.PodSecurityContext{}}
}

type defaultCase struct {
	name    string
	in, out proto.Message
}

func runCases(t *testing.T, cases []defaultCase) {
	t.Helper()
	for _, c := range cases {
		got := proto.Clone(c.in)
		registry.Default(got)
		if diff := cmp.Diff(c.out, got, protocmp.Transform()); diff != "" {
			t.Errorf("%s: Apply (-want +got):\n%s", c.name, diff)
		}
		// Idempotent.
		again := proto.Clone(got)
		registry.Default(again)
		if diff := cmp.Diff(got, again, protocmp.Transform()); diff != "" {
			t.Errorf("%s: second Apply changed the object (-first +second):\n%s", c.name, diff)
		}
	}
}

func TestPodDefaults(t *testing.T) {
	pod := func(spec *corev1.PodSpec) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: spec}
	}
	withPod := func(spec *corev1.PodSpec, qos string) *corev1.Pod {
		spec.EnableServiceLinks = proto.Bool(true)
		p := pod(spec)
		p.Status = &corev1.PodStatus{Phase: "Pending", QosClass: qos}
		return p
	}

	full := defaultedSpec("Always", defaultedContainer("c", "nginx:1.25", "IfNotPresent"))
	full.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 80, Protocol: "TCP"}, {ContainerPort: 53, Protocol: "UDP"}}
	full.Containers[0].LivenessProbe = &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Port: api.IntOrStringFromInt(80), Path: "/", Scheme: "HTTP"},
		TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3}
	full.Containers[0].ReadinessProbe = &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: api.IntOrStringFromInt(80)},
		TimeoutSeconds: 5, PeriodSeconds: 2, SuccessThreshold: 2, FailureThreshold: 1}
	full.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HttpGet: &corev1.HTTPGetAction{Port: api.IntOrStringFromInt(80), Path: "/stop", Scheme: "HTTP"}}}
	full.Containers[0].Env = []*corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "metadata.name"}}}}
	full.Containers[0].Resources = &corev1.ResourceRequirements{
		Limits:   map[string]*metav1.Quantity{"cpu": q("1"), "memory": q("64Mi")},
		Requests: map[string]*metav1.Quantity{"cpu": q("500m"), "memory": q("64Mi")},
	}
	full.Volumes = []*corev1.Volume{
		{Name: "a", EmptyDir: &corev1.EmptyDirVolumeSource{}},
		{Name: "b", HostPath: &corev1.HostPathVolumeSource{Path: "/x", Type: proto.String("")}},
		{Name: "c", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cm", DefaultMode: proto.Int32(0o644)}},
		{Name: "d", Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: proto.Int32(0o400)}},
		{Name: "e", Projected: &corev1.ProjectedVolumeSource{DefaultMode: proto.Int32(0o644)}},
		{Name: "f", DownwardApi: &corev1.DownwardAPIVolumeSource{DefaultMode: proto.Int32(0o644)}},
		{Name: "g", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}},
	}
	fullIn := &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "nginx:1.25",
		Ports:          []*corev1.ContainerPort{{ContainerPort: 80}, {ContainerPort: 53, Protocol: "UDP"}},
		LivenessProbe:  &corev1.Probe{HttpGet: &corev1.HTTPGetAction{Port: api.IntOrStringFromInt(80)}},
		ReadinessProbe: &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: api.IntOrStringFromInt(80)}, TimeoutSeconds: 5, PeriodSeconds: 2, SuccessThreshold: 2, FailureThreshold: 1},
		Lifecycle:      &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HttpGet: &corev1.HTTPGetAction{Port: api.IntOrStringFromInt(80), Path: "/stop"}}},
		Env:            []*corev1.EnvVar{{Name: "N", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		Resources: &corev1.ResourceRequirements{
			Limits:   map[string]*metav1.Quantity{"cpu": q("1"), "memory": q("64Mi")},
			Requests: map[string]*metav1.Quantity{"cpu": q("500m")},
		},
	}}, Volumes: []*corev1.Volume{
		{Name: "a"},
		{Name: "b", HostPath: &corev1.HostPathVolumeSource{Path: "/x"}},
		{Name: "c", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cm"}},
		{Name: "d", Secret: &corev1.SecretVolumeSource{SecretName: "s", DefaultMode: proto.Int32(0o400)}},
		{Name: "e", Projected: &corev1.ProjectedVolumeSource{}},
		{Name: "f", DownwardApi: &corev1.DownwardAPIVolumeSource{}},
		{Name: "g", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}},
	}}

	hostNet := defaultedSpec("Never", defaultedContainer("c", "busybox", "Always"))
	hostNet.HostNetwork = true
	hostNet.Containers[0].Ports = []*corev1.ContainerPort{{ContainerPort: 8080, HostPort: 8080, Protocol: "TCP"}}

	guaranteed := defaultedSpec("Always", defaultedContainer("c", "busybox@sha256:abc", "IfNotPresent"))
	guaranteed.Containers[0].Resources = &corev1.ResourceRequirements{
		Limits:   map[string]*metav1.Quantity{"cpu": q("1"), "memory": q("1Gi")},
		Requests: map[string]*metav1.Quantity{"cpu": q("1000m"), "memory": q("1Gi")},
	}
	init := defaultedSpec("Always", defaultedContainer("c", "app:v1", "IfNotPresent"))
	init.InitContainers = []*corev1.Container{defaultedContainer("i", "registry:5000/tool", "Always")}
	sa := defaultedSpec("Always", defaultedContainer("c", "app:latest", "Always"))
	sa.ServiceAccountName, sa.ServiceAccount = "robot", "robot"

	cases := []defaultCase{
		{"minimal", pod(&corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox"}}}),
			withPod(defaultedSpec("Always", defaultedContainer("c", "busybox", "Always")), "BestEffort")},
		{"full", pod(fullIn), withPod(full, "Burstable")},
		{"set values kept", pod(&corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox", ImagePullPolicy: "Never",
			TerminationMessagePath: "/tmp/t", TerminationMessagePolicy: "FallbackToLogsOnError"}},
			RestartPolicy: "OnFailure", DnsPolicy: "Default", TerminationGracePeriodSeconds: proto.Int64(0),
			SchedulerName: "mine", EnableServiceLinks: proto.Bool(false), SecurityContext: &corev1.PodSecurityContext{RunAsUser: proto.Int64(1)}}),
			&corev1.Pod{Metadata: &metav1.ObjectMeta{Name: "p", Namespace: "default"},
				Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox", ImagePullPolicy: "Never",
					TerminationMessagePath: "/tmp/t", TerminationMessagePolicy: "FallbackToLogsOnError"}},
					RestartPolicy: "OnFailure", DnsPolicy: "Default", TerminationGracePeriodSeconds: proto.Int64(0),
					SchedulerName: "mine", EnableServiceLinks: proto.Bool(false), SecurityContext: &corev1.PodSecurityContext{RunAsUser: proto.Int64(1)}},
				Status: &corev1.PodStatus{Phase: "Pending", QosClass: "BestEffort"}}},
		{"hostNetwork hostPort", pod(&corev1.PodSpec{HostNetwork: true, RestartPolicy: "Never",
			Containers: []*corev1.Container{{Name: "c", Image: "busybox", Ports: []*corev1.ContainerPort{{ContainerPort: 8080}}}}}),
			withPod(hostNet, "BestEffort")},
		{"guaranteed from limits", pod(&corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "busybox@sha256:abc",
			Resources: &corev1.ResourceRequirements{Limits: map[string]*metav1.Quantity{"cpu": q("1"), "memory": q("1Gi")},
				Requests: map[string]*metav1.Quantity{"cpu": q("1000m")}}}}}),
			withPod(guaranteed, "Guaranteed")},
		{"init containers", pod(&corev1.PodSpec{InitContainers: []*corev1.Container{{Name: "i", Image: "registry:5000/tool"}},
			Containers: []*corev1.Container{{Name: "c", Image: "app:v1"}}}), withPod(init, "BestEffort")},
		{"serviceAccount alias", pod(&corev1.PodSpec{ServiceAccount: "robot", Containers: []*corev1.Container{{Name: "c", Image: "app:latest"}}}),
			withPod(sa, "BestEffort")},
		{"nil spec", &corev1.Pod{}, &corev1.Pod{Spec: &corev1.PodSpec{RestartPolicy: "Always", DnsPolicy: "ClusterFirst",
			TerminationGracePeriodSeconds: proto.Int64(30), SchedulerName: "default-scheduler", SecurityContext: &corev1.PodSecurityContext{},
			EnableServiceLinks: proto.Bool(true)}, Status: &corev1.PodStatus{Phase: "Pending", QosClass: "BestEffort"}}},
		{"status kept", &corev1.Pod{Spec: defaultedSpec("Always"), Status: &corev1.PodStatus{Phase: "Running", QosClass: "Burstable"}},
			&corev1.Pod{Spec: func() *corev1.PodSpec {
				s := defaultedSpec("Always")
				s.EnableServiceLinks = proto.Bool(true)
				return s
			}(),
				Status: &corev1.PodStatus{Phase: "Running", QosClass: "Burstable"}}},
	}
	runCases(t, cases)
}

func TestWorkloadDefaults(t *testing.T) {
	labels := map[string]string{"app": "web"}
	tmplIn := func() *corev1.PodTemplateSpec {
		return &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: "nginx:1.25",
				Resources: &corev1.ResourceRequirements{Limits: map[string]*metav1.Quantity{"cpu": q("1")}}}}}}
	}
	// Templates get pod spec defaults but, as in Kubernetes, not requests
	// from limits nor enableServiceLinks.
	tmplOut := func(restartPolicy string) *corev1.PodTemplateSpec {
		c := defaultedContainer("c", "nginx:1.25", "IfNotPresent")
		c.Resources = &corev1.ResourceRequirements{Limits: map[string]*metav1.Quantity{"cpu": q("1")}}
		return &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: defaultedSpec(restartPolicy, c)}
	}
	sel := func() *metav1.LabelSelector { return &metav1.LabelSelector{MatchLabels: labels} }
	m := func() *metav1.ObjectMeta { return &metav1.ObjectMeta{Name: "web", Namespace: "default"} }

	cases := []defaultCase{
		{"deployment", &appsv1.Deployment{Metadata: m(), Spec: &appsv1.DeploymentSpec{Selector: sel(), Template: tmplIn()}},
			&appsv1.Deployment{Metadata: m(), Spec: &appsv1.DeploymentSpec{Selector: sel(), Template: tmplOut("Always"),
				Replicas: proto.Int32(1), RevisionHistoryLimit: proto.Int32(10), ProgressDeadlineSeconds: proto.Int32(600),
				Strategy: &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: api.IntOrStringFromString("25%"), MaxSurge: api.IntOrStringFromString("25%")}}}}},
		{"deployment partial rollingUpdate", &appsv1.Deployment{Metadata: m(), Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(0),
			Strategy: &appsv1.DeploymentStrategy{RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: api.IntOrStringFromInt(1)}}}},
			&appsv1.Deployment{Metadata: m(), Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(0),
				RevisionHistoryLimit: proto.Int32(10), ProgressDeadlineSeconds: proto.Int32(600),
				Strategy: &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxUnavailable: api.IntOrStringFromString("25%"), MaxSurge: api.IntOrStringFromInt(1)}}}}},
		{"deployment recreate", &appsv1.Deployment{Metadata: m(), Spec: &appsv1.DeploymentSpec{Strategy: &appsv1.DeploymentStrategy{Type: "Recreate"},
			RevisionHistoryLimit: proto.Int32(2), ProgressDeadlineSeconds: proto.Int32(60)}},
			&appsv1.Deployment{Metadata: m(), Spec: &appsv1.DeploymentSpec{Replicas: proto.Int32(1), Strategy: &appsv1.DeploymentStrategy{Type: "Recreate"},
				RevisionHistoryLimit: proto.Int32(2), ProgressDeadlineSeconds: proto.Int32(60)}}},
		{"replicaset", &appsv1.ReplicaSet{Metadata: m(), Spec: &appsv1.ReplicaSetSpec{Selector: sel(), Template: tmplIn()}},
			&appsv1.ReplicaSet{Metadata: m(), Spec: &appsv1.ReplicaSetSpec{Selector: sel(), Template: tmplOut("Always"), Replicas: proto.Int32(1)}}},
		{"replicaset replicas kept", &appsv1.ReplicaSet{Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(0)}},
			&appsv1.ReplicaSet{Spec: &appsv1.ReplicaSetSpec{Replicas: proto.Int32(0)}}},
	}
	runCases(t, cases)
}

func TestJobDefaults(t *testing.T) {
	jobTmpl := func(extra map[string]string) *corev1.PodTemplateSpec {
		l := map[string]string{"app": "pi"}
		for k, v := range extra {
			l[k] = v
		}
		return &corev1.PodTemplateSpec{Metadata: &metav1.ObjectMeta{Labels: l},
			Spec: &corev1.PodSpec{RestartPolicy: "Never", Containers: []*corev1.Container{{Name: "pi", Image: "perl:5.34.0"}}}}
	}
	jobTmplOut := func(extra map[string]string) *corev1.PodTemplateSpec {
		t := jobTmpl(extra)
		t.Spec = defaultedSpec("Never", defaultedContainer("pi", "perl:5.34.0", "IfNotPresent"))
		return t
	}
	generated := map[string]string{
		defaults.JobControllerUIDLabel: "uid-1", defaults.LegacyJobControllerUIDLabel: "uid-1", defaults.JobNameLabel: "pi", defaults.LegacyJobNameLabel: "pi",
	}
	jm := func(labels map[string]string) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{Name: "pi", Namespace: "default", Uid: "uid-1", Labels: labels}
	}
	defaultsSpec := func(s *batchv1.JobSpec) *batchv1.JobSpec {
		if s.BackoffLimit == nil {
			s.BackoffLimit = proto.Int32(6)
		}
		s.CompletionMode, s.Suspend, s.PodReplacementPolicy = proto.String("NonIndexed"), proto.Bool(false), proto.String("TerminatingOrFailed")
		return s
	}

	cases := []defaultCase{
		{"pi job: generated selector", &batchv1.Job{Metadata: jm(nil), Spec: &batchv1.JobSpec{BackoffLimit: proto.Int32(4), Template: jobTmpl(nil)}},
			&batchv1.Job{Metadata: jm(map[string]string{"app": "pi"}), Spec: defaultsSpec(&batchv1.JobSpec{
				BackoffLimit: proto.Int32(4), Completions: proto.Int32(1), Parallelism: proto.Int32(1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{defaults.JobControllerUIDLabel: "uid-1"}},
				Template: jobTmplOut(generated)})}},
		{"parallelism only", &batchv1.Job{Metadata: jm(map[string]string{"x": "y"}), Spec: &batchv1.JobSpec{Parallelism: proto.Int32(5), Template: jobTmpl(nil)}},
			&batchv1.Job{Metadata: jm(map[string]string{"x": "y"}), Spec: defaultsSpec(&batchv1.JobSpec{Parallelism: proto.Int32(5),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{defaults.JobControllerUIDLabel: "uid-1"}},
				Template: jobTmplOut(generated)})}},
		{"completions only", &batchv1.Job{Metadata: jm(map[string]string{"x": "y"}), Spec: &batchv1.JobSpec{Completions: proto.Int32(5), Template: jobTmpl(nil)}},
			&batchv1.Job{Metadata: jm(map[string]string{"x": "y"}), Spec: defaultsSpec(&batchv1.JobSpec{Completions: proto.Int32(5), Parallelism: proto.Int32(1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{defaults.JobControllerUIDLabel: "uid-1"}},
				Template: jobTmplOut(generated)})}},
		{"manual selector kept", &batchv1.Job{Metadata: jm(nil), Spec: &batchv1.JobSpec{ManualSelector: proto.Bool(true),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}, Template: jobTmpl(nil)}},
			&batchv1.Job{Metadata: jm(map[string]string{"app": "pi"}), Spec: defaultsSpec(&batchv1.JobSpec{ManualSelector: proto.Bool(true),
				Completions: proto.Int32(1), Parallelism: proto.Int32(1),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}, Template: jobTmplOut(nil)})}},
		{"no uid yet: no selector", &batchv1.Job{Metadata: &metav1.ObjectMeta{Name: "pi"}, Spec: &batchv1.JobSpec{Template: jobTmpl(nil)}},
			&batchv1.Job{Metadata: &metav1.ObjectMeta{Name: "pi", Labels: map[string]string{"app": "pi"}}, Spec: defaultsSpec(&batchv1.JobSpec{
				Completions: proto.Int32(1), Parallelism: proto.Int32(1), Template: jobTmplOut(nil)})}},
		{"backoffLimitPerIndex", &batchv1.Job{Spec: &batchv1.JobSpec{BackoffLimitPerIndex: proto.Int32(1), CompletionMode: proto.String("Indexed"), Completions: proto.Int32(3)}},
			&batchv1.Job{Spec: &batchv1.JobSpec{BackoffLimitPerIndex: proto.Int32(1), Completions: proto.Int32(3), Parallelism: proto.Int32(1),
				BackoffLimit: proto.Int32(2147483647), CompletionMode: proto.String("Indexed"), Suspend: proto.Bool(false),
				PodReplacementPolicy: proto.String("TerminatingOrFailed")}}},
	}
	runCases(t, cases)
}

func TestServiceDefaults(t *testing.T) {
	m := func() *metav1.ObjectMeta { return &metav1.ObjectMeta{Name: "web", Namespace: "default"} }
	cases := []defaultCase{
		{"cluster ip", &corev1.Service{Metadata: m(), Spec: &corev1.ServiceSpec{Ports: []*corev1.ServicePort{
			{Port: 80}, {Port: 53, Protocol: "UDP", TargetPort: api.IntOrStringFromInt(5353)}, {Port: 443, TargetPort: api.IntOrStringFromString("https")}, {Port: 8080, TargetPort: api.IntOrStringFromInt(0)}}}},
			&corev1.Service{Metadata: m(), Spec: &corev1.ServiceSpec{Type: "ClusterIP", SessionAffinity: "None", InternalTrafficPolicy: proto.String("Cluster"),
				Ports: []*corev1.ServicePort{
					{Port: 80, Protocol: "TCP", TargetPort: api.IntOrStringFromInt(80)}, {Port: 53, Protocol: "UDP", TargetPort: api.IntOrStringFromInt(5353)},
					{Port: 443, Protocol: "TCP", TargetPort: api.IntOrStringFromString("https")}, {Port: 8080, Protocol: "TCP", TargetPort: api.IntOrStringFromInt(8080)}}}}},
		{"node port", &corev1.Service{Metadata: m(), Spec: &corev1.ServiceSpec{Type: "NodePort", SessionAffinity: "ClientIP",
			Ports: []*corev1.ServicePort{{Port: 80, NodePort: 30080}}}},
			&corev1.Service{Metadata: m(), Spec: &corev1.ServiceSpec{Type: "NodePort", SessionAffinity: "ClientIP",
				SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIp: &corev1.ClientIPConfig{TimeoutSeconds: proto.Int32(10800)}},
				ExternalTrafficPolicy: "Cluster", InternalTrafficPolicy: proto.String("Cluster"),
				Ports: []*corev1.ServicePort{{Port: 80, NodePort: 30080, Protocol: "TCP", TargetPort: api.IntOrStringFromInt(80)}}}}},
		{"load balancer", &corev1.Service{Spec: &corev1.ServiceSpec{Type: "LoadBalancer", ExternalTrafficPolicy: "Local"}},
			&corev1.Service{Spec: &corev1.ServiceSpec{Type: "LoadBalancer", SessionAffinity: "None", ExternalTrafficPolicy: "Local",
				InternalTrafficPolicy: proto.String("Cluster"), AllocateLoadBalancerNodePorts: proto.Bool(true)}}},
		{"external name", &corev1.Service{Spec: &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com"}},
			&corev1.Service{Spec: &corev1.ServiceSpec{Type: "ExternalName", ExternalName: "db.example.com", SessionAffinity: "None"}}},
		{"endpoints", &corev1.Endpoints{Subsets: []*corev1.EndpointSubset{{Ports: []*corev1.EndpointPort{{Port: 80}, {Port: 53, Protocol: "UDP"}}}}},
			&corev1.Endpoints{Subsets: []*corev1.EndpointSubset{{Ports: []*corev1.EndpointPort{{Port: 80, Protocol: "TCP"}, {Port: 53, Protocol: "UDP"}}}}}},
	}
	runCases(t, cases)
}

func TestOtherDefaults(t *testing.T) {
	cases := []defaultCase{
		{"secret", &corev1.Secret{Data: map[string][]byte{"a": []byte("1"), "b": []byte("old")}, StringData: map[string]string{"b": "new", "c": "3"}},
			&corev1.Secret{Type: "Opaque", Data: map[string][]byte{"a": []byte("1"), "b": []byte("new"), "c": []byte("3")}}},
		{"secret type kept", &corev1.Secret{Type: "kubernetes.io/tls", StringData: map[string]string{"tls.crt": "x"}},
			&corev1.Secret{Type: "kubernetes.io/tls", Data: map[string][]byte{"tls.crt": []byte("x")}}},
		{"namespace create", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team-a"}},
			&corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{defaults.NamespaceNameLabel: "team-a"}},
				Spec: &corev1.NamespaceSpec{Finalizers: []string{"kubernetes"}}, Status: &corev1.NamespaceStatus{Phase: "Active"}}},
		{"namespace update keeps removed finalizer removed", &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team-a", ResourceVersion: "5"},
			Status: &corev1.NamespaceStatus{Phase: "Terminating"}},
			&corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team-a", ResourceVersion: "5", Labels: map[string]string{defaults.NamespaceNameLabel: "team-a"}},
				Spec: &corev1.NamespaceSpec{}, Status: &corev1.NamespaceStatus{Phase: "Terminating"}}},
		{"priority class", &schedulingv1.PriorityClass{Value: 5}, &schedulingv1.PriorityClass{Value: 5, PreemptionPolicy: proto.String("PreemptLowerPriority")}},
		{"priority class kept", &schedulingv1.PriorityClass{PreemptionPolicy: proto.String("Never")}, &schedulingv1.PriorityClass{PreemptionPolicy: proto.String("Never")}},
		{"node allocatable", &corev1.Node{Status: &corev1.NodeStatus{Capacity: map[string]*metav1.Quantity{"cpu": q("4")}}},
			&corev1.Node{Status: &corev1.NodeStatus{Capacity: map[string]*metav1.Quantity{"cpu": q("4")}, Allocatable: map[string]*metav1.Quantity{"cpu": q("4")}}}},
		{"lease untouched", &coordinationv1.Lease{Spec: &coordinationv1.LeaseSpec{}}, &coordinationv1.Lease{Spec: &coordinationv1.LeaseSpec{}}},
		{"configmap untouched", &corev1.ConfigMap{Data: map[string]string{"a": "b"}}, &corev1.ConfigMap{Data: map[string]string{"a": "b"}}},
		{"event untouched", &corev1.Event{Reason: "x"}, &corev1.Event{Reason: "x"}},
		{"non-kind message untouched", &corev1.PodSpec{}, &corev1.PodSpec{}},
	}
	runCases(t, cases)
}

// TestRoleBindingSubjectDefaults: User and Group subjects without an
// apiGroup get rbac.authorization.k8s.io; ServiceAccounts keep none.
func TestRoleBindingSubjectDefaults(t *testing.T) {
	subs := func() []*rbacv1.Subject {
		return []*rbacv1.Subject{{Kind: "User", Name: "jane"}, {Kind: "Group", Name: "ops"},
			{Kind: "ServiceAccount", Name: "robot", Namespace: "ci"}, {Kind: "User", ApiGroup: "example.com", Name: "odd"}}
	}
	rb := &rbacv1.RoleBinding{Subjects: subs()}
	defaults.RoleBinding(rb)
	crb := &rbacv1.ClusterRoleBinding{Subjects: subs()}
	defaults.ClusterRoleBinding(crb)
	for _, got := range [][]*rbacv1.Subject{rb.Subjects, crb.Subjects} {
		var groups []string
		for _, s := range got {
			groups = append(groups, s.GetApiGroup())
		}
		if want := "[rbac.authorization.k8s.io rbac.authorization.k8s.io  example.com]"; fmt.Sprint(groups) != want {
			t.Errorf("apiGroups %v, want %s", groups, want)
		}
	}
}

// TestVolumeWithoutSourceIsEmptyDir: a volume naming no source becomes an
// emptyDir; one naming any source (nfs here) keeps only that source.
func TestVolumeWithoutSourceIsEmptyDir(t *testing.T) {
	pod := &corev1.Pod{Spec: &corev1.PodSpec{Volumes: []*corev1.Volume{{Name: "bare"},
		{Name: "share", Nfs: &corev1.NFSVolumeSource{Server: "nfs.example.com", Path: "/exports"}}}}}
	defaults.Pod(pod)
	if pod.Spec.Volumes[0].GetEmptyDir() == nil {
		t.Errorf("a volume without a source: %v", pod.Spec.Volumes[0])
	}
	if pod.Spec.Volumes[1].GetEmptyDir() != nil || pod.Spec.Volumes[1].GetNfs() == nil {
		t.Errorf("an nfs volume: %v", pod.Spec.Volumes[1])
	}
}
