package validation_test

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	_ "keel.dev/keel/pkg/registry/all"
)

// Fixtures: one fully valid object of each kind, exercising most fields.
// Each call returns a fresh copy that a test case may mutate.

func q(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }

func meta(name string) *metav1.ObjectMeta {
	return &metav1.ObjectMeta{
		Name: name, Namespace: "default",
		Labels:      map[string]string{"app": "web", "example.com/tier": "frontend"},
		Annotations: map[string]string{"example.com/owner": "team-a", "Note": "free text"},
	}
}

func clusterMeta(name string) *metav1.ObjectMeta {
	m := meta(name)
	m.Namespace = ""
	return m
}

func validPodSpec() *corev1.PodSpec {
	return &corev1.PodSpec{
		Volumes: []*corev1.Volume{
			{Name: "cache", EmptyDir: &corev1.EmptyDirVolumeSource{Medium: "Memory", SizeLimit: q("64Mi")}},
			{Name: "host", HostPath: &corev1.HostPathVolumeSource{Path: "/var/log", Type: proto.String("Directory")}},
			{Name: "config", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "web-config", DefaultMode: proto.Int32(0o644),
				Items: []*corev1.KeyToPath{{Key: "app.conf", Path: "conf/app.conf", Mode: proto.Int32(0o600)}}}},
			{Name: "creds", Secret: &corev1.SecretVolumeSource{SecretName: "web-creds", Optional: proto.Bool(true)}},
			{Name: "kube-api-access-x7k2p", Projected: &corev1.ProjectedVolumeSource{DefaultMode: proto.Int32(0o644), Sources: []*corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: proto.Int64(3607)}},
				{ConfigMap: &corev1.ConfigMapProjection{Name: "kube-root-ca.crt", Items: []*corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
				{DownwardApi: &corev1.DownwardAPIProjection{Items: []*corev1.DownwardAPIVolumeFile{
					{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "metadata.namespace"}},
					{Path: "app", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}},
					{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "web", Resource: "limits.memory"}},
				}}},
				{Secret: &corev1.SecretProjection{Name: "web-creds", Optional: proto.Bool(true)}},
			}}},
			{Name: "podinfo", DownwardApi: &corev1.DownwardAPIVolumeSource{DefaultMode: proto.Int32(0o640), Items: []*corev1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "web", Resource: "requests.cpu", Divisor: q("1m")}},
			}}},
			{Name: "data", PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-web-0", ReadOnly: true}},
		},
		InitContainers: []*corev1.Container{{
			Name: "init", Image: "busybox:1.36", Command: []string{"sh", "-c", "true"},
		}},
		Containers: []*corev1.Container{{
			Name: "web", Image: "registry.local:5000/nginx:1.25", Args: []string{"-g", "daemon off;"},
			WorkingDir: "/srv",
			Ports: []*corev1.ContainerPort{
				{Name: "http", ContainerPort: 80, Protocol: "TCP"},
				{Name: "metrics", ContainerPort: 9090, HostPort: 9090, Protocol: "UDP", HostIp: "127.0.0.1"},
			},
			Env: []*corev1.EnvVar{
				{Name: "MODE", Value: "prod"},
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "APP_LABEL", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{ApiVersion: "v1", FieldPath: "metadata.labels['app']"}}},
				{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: q("1m")}}},
				{Name: "LEVEL", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "web-config", Key: "level"}}},
				{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "web-creds", Key: "password"}}},
			},
			EnvFrom: []*corev1.EnvFromSource{
				{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "web-config"}},
				{SecretRef: &corev1.SecretEnvSource{Name: "web-creds"}},
			},
			Resources: &corev1.ResourceRequirements{
				Requests: map[string]*metav1.Quantity{"cpu": q("250m"), "memory": q("64Mi")},
				Limits:   map[string]*metav1.Quantity{"cpu": q("1"), "memory": q("128Mi"), "example.com/gpu": q("1")},
			},
			VolumeMounts: []*corev1.VolumeMount{
				{Name: "cache", MountPath: "/cache"},
				{Name: "config", MountPath: "/etc/web", ReadOnly: true, SubPath: "conf"},
				{Name: "creds", MountPath: "/creds"},
			},
			LivenessProbe: &corev1.Probe{
				HttpGet:             &corev1.HTTPGetAction{Path: "/healthz", Port: api.IntOrStringFromString("http"), Scheme: "HTTP", HttpHeaders: []*corev1.HTTPHeader{{Name: "X-Probe", Value: "1"}}},
				InitialDelaySeconds: 3, TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
				TerminationGracePeriodSeconds: proto.Int64(10),
			},
			ReadinessProbe: &corev1.Probe{TcpSocket: &corev1.TCPSocketAction{Port: api.IntOrStringFromInt(80)}, SuccessThreshold: 2},
			StartupProbe:   &corev1.Probe{Exec: &corev1.ExecAction{Command: []string{"cat", "/tmp/ready"}}},
			Lifecycle: &corev1.Lifecycle{
				PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}},
				PreStop:   &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}},
			},
			ImagePullPolicy: "IfNotPresent",
			SecurityContext: &corev1.SecurityContext{RunAsUser: proto.Int64(1000), RunAsNonRoot: proto.Bool(true),
				AllowPrivilegeEscalation: proto.Bool(false), Capabilities: &corev1.Capabilities{Drop: []string{"ALL"}}},
		}},
		RestartPolicy:                 "Always",
		TerminationGracePeriodSeconds: proto.Int64(30),
		ActiveDeadlineSeconds:         proto.Int64(3600),
		DnsPolicy:                     "ClusterFirst",
		DnsConfig:                     &corev1.PodDNSConfig{Nameservers: []string{"10.96.0.10"}, Searches: []string{"svc.cluster.local"}, Options: []*corev1.PodDNSConfigOption{{Name: "ndots", Value: proto.String("2")}}},
		NodeSelector:                  map[string]string{"kubernetes.io/os": "linux"},
		ServiceAccountName:            "web",
		NodeName:                      "node-1",
		Hostname:                      "web-0",
		Subdomain:                     "web",
		SchedulerName:                 "default-scheduler",
		PriorityClassName:             "high",
		Priority:                      proto.Int32(1000),
		PreemptionPolicy:              proto.String("Never"),
		SecurityContext:               &corev1.PodSecurityContext{FsGroup: proto.Int64(2000), SupplementalGroups: []int64{3000}},
		Affinity: &corev1.Affinity{
			NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []*corev1.NodeSelectorTerm{{
					MatchExpressions: []*corev1.NodeSelectorRequirement{
						{Key: "topology.kubernetes.io/zone", Operator: "In", Values: []string{"a", "b"}},
						{Key: "example.com/cores", Operator: "Gt", Values: []string{"4"}},
						{Key: "example.com/old", Operator: "DoesNotExist"},
					},
					MatchFields: []*corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: "NotIn", Values: []string{"node-9"}}},
				}}},
				PreferredDuringSchedulingIgnoredDuringExecution: []*corev1.PreferredSchedulingTerm{{Weight: 50,
					Preference: &corev1.NodeSelectorTerm{MatchExpressions: []*corev1.NodeSelectorRequirement{{Key: "disk", Operator: "In", Values: []string{"ssd"}}}}}},
			},
			PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []*corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}},
				Namespaces:    []string{"default"},
				TopologyKey:   "kubernetes.io/hostname",
			}}},
			PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []*corev1.WeightedPodAffinityTerm{{
				Weight: 100,
				PodAffinityTerm: &corev1.PodAffinityTerm{
					LabelSelector:     &metav1.LabelSelector{MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "app", Operator: "In", Values: []string{"web"}}}},
					NamespaceSelector: &metav1.LabelSelector{},
					TopologyKey:       "topology.kubernetes.io/zone",
				},
			}}},
		},
		Tolerations: []*corev1.Toleration{
			{Key: "dedicated", Operator: "Equal", Value: "web", Effect: "NoSchedule"},
			{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: proto.Int64(300)},
			{Operator: "Exists"},
		},
		TopologySpreadConstraints: []*corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: "DoNotSchedule",
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, MinDomains: proto.Int32(2),
			MatchLabelKeys: []string{"pod-template-hash"},
		}},
		HostAliases:        []*corev1.HostAlias{{Ip: "10.0.0.1", Hostnames: []string{"db.local"}}},
		EnableServiceLinks: proto.Bool(true),
	}
}

func validPod() *corev1.Pod {
	return &corev1.Pod{Metadata: meta("web-0"), Spec: validPodSpec(), Status: &corev1.PodStatus{
		Phase: "Running", PodIp: "10.244.1.5", PodIps: []*corev1.PodIP{{Ip: "10.244.1.5"}}, HostIp: "192.168.1.10",
		HostIps: []*corev1.HostIP{{Ip: "192.168.1.10"}}, StartTime: timestamppb.Now(), QosClass: "Burstable",
		Conditions: []*corev1.PodCondition{{Type: "Ready", Status: "True"}},
		ContainerStatuses: []*corev1.ContainerStatus{{Name: "web", Ready: true, RestartCount: 1, Image: "nginx:1.25",
			State:     &corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timestamppb.Now()}},
			LastState: &corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}},
	}}
}

func template(restartPolicy string) *corev1.PodTemplateSpec {
	spec := validPodSpec()
	spec.RestartPolicy = restartPolicy
	spec.ActiveDeadlineSeconds = nil
	spec.NodeName = ""
	return &corev1.PodTemplateSpec{
		Metadata: &metav1.ObjectMeta{Labels: map[string]string{"app": "web", "track": "stable"}},
		Spec:     spec,
	}
}

func selector() *metav1.LabelSelector {
	return &metav1.LabelSelector{
		MatchLabels:      map[string]string{"app": "web"},
		MatchExpressions: []*metav1.LabelSelectorRequirement{{Key: "track", Operator: "In", Values: []string{"stable", "canary"}}},
	}
}

func validDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{Metadata: meta("web"), Spec: &appsv1.DeploymentSpec{
		Replicas: proto.Int32(3), Selector: selector(), Template: template("Always"),
		Strategy: &appsv1.DeploymentStrategy{Type: "RollingUpdate", RollingUpdate: &appsv1.RollingUpdateDeployment{
			MaxUnavailable: api.IntOrStringFromInt(0), MaxSurge: api.IntOrStringFromString("25%")}},
		MinReadySeconds: 5, RevisionHistoryLimit: proto.Int32(10), ProgressDeadlineSeconds: proto.Int32(600),
	}, Status: &appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 2, UnavailableReplicas: 1,
		Conditions: []*appsv1.DeploymentCondition{{Type: "Available", Status: "True"}}}}
}

func validReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{Metadata: meta("web-abc"), Spec: &appsv1.ReplicaSetSpec{
		Replicas: proto.Int32(2), Selector: selector(), Template: template(""), MinReadySeconds: 1,
	}, Status: &appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1}}
}

func validJob() *batchv1.Job {
	return &batchv1.Job{Metadata: meta("pi"), Spec: &batchv1.JobSpec{
		Parallelism: proto.Int32(2), Completions: proto.Int32(4), BackoffLimit: proto.Int32(4),
		ActiveDeadlineSeconds: proto.Int64(600), TtlSecondsAfterFinished: proto.Int32(100),
		CompletionMode: proto.String("NonIndexed"), Suspend: proto.Bool(false),
		Selector: selector(), ManualSelector: proto.Bool(true), Template: template("Never"),
	}, Status: &batchv1.JobStatus{Active: 1, Succeeded: 2, Failed: 1, Ready: proto.Int32(1), StartTime: timestamppb.Now()}}
}

func validService() *corev1.Service {
	return &corev1.Service{Metadata: meta("web"), Spec: &corev1.ServiceSpec{
		Type:     "NodePort",
		Selector: map[string]string{"app": "web"},
		Ports: []*corev1.ServicePort{
			{Name: "http", Protocol: "TCP", Port: 80, TargetPort: api.IntOrStringFromString("http"), NodePort: 30080, AppProtocol: proto.String("http")},
			{Name: "dns", Protocol: "UDP", Port: 53, TargetPort: api.IntOrStringFromInt(5353)},
		},
		ClusterIp: "10.96.0.20", ClusterIps: []string{"10.96.0.20"}, ExternalIps: []string{"192.168.1.100"},
		SessionAffinity: "ClientIP", SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIp: &corev1.ClientIPConfig{TimeoutSeconds: proto.Int32(600)}},
		ExternalTrafficPolicy: "Local", InternalTrafficPolicy: proto.String("Cluster"),
		IpFamilies: []string{"IPv4"}, IpFamilyPolicy: proto.String("SingleStack"),
	}, Status: &corev1.ServiceStatus{LoadBalancer: &corev1.LoadBalancerStatus{Ingress: []*corev1.LoadBalancerIngress{{Ip: "1.2.3.4"}}}}}
}

func validEndpoints() *corev1.Endpoints {
	return &corev1.Endpoints{Metadata: meta("web"), Subsets: []*corev1.EndpointSubset{{
		Addresses: []*corev1.EndpointAddress{{Ip: "10.244.1.5", NodeName: proto.String("node-1"),
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "web-0", Namespace: "default"}}},
		NotReadyAddresses: []*corev1.EndpointAddress{{Ip: "10.244.2.7", Hostname: "web-1"}},
		Ports:             []*corev1.EndpointPort{{Name: "http", Port: 80, Protocol: "TCP"}, {Name: "dns", Port: 53, Protocol: "UDP"}},
	}}}
}

func validConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: meta("web-config"),
		Data:       map[string]string{"app.conf": "x=1", "level": "debug", "_underscore-ok.1": "y"},
		BinaryData: map[string][]byte{"logo.png": {0x89, 0x50}},
	}
}

func validSecret() *corev1.Secret {
	return &corev1.Secret{Metadata: meta("web-creds"), Type: "Opaque",
		Data:       map[string][]byte{"password": []byte("hunter2")},
		StringData: map[string]string{"username": "admin"},
	}
}

func validEvent() *corev1.Event {
	return &corev1.Event{Metadata: meta("web-0.17a"),
		InvolvedObject: &corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-0", Uid: "u1", ApiVersion: "v1"},
		Reason:         "Scheduled", Message: "assigned default/web-0 to node-1", Type: "Normal", Count: 1,
		Source: &corev1.EventSource{Component: "default-scheduler"}, FirstTimestamp: timestamppb.Now(), LastTimestamp: timestamppb.Now(),
		ReportingComponent: "default-scheduler",
	}
}

func validNamespace() *corev1.Namespace {
	return &corev1.Namespace{Metadata: clusterMeta("team-a"),
		Spec: &corev1.NamespaceSpec{Finalizers: []string{"kubernetes"}}, Status: &corev1.NamespaceStatus{Phase: "Active"}}
}

func validNode() *corev1.Node {
	return &corev1.Node{Metadata: clusterMeta("node-1.example.com"),
		Spec: &corev1.NodeSpec{PodCidr: "10.244.1.0/24", PodCidrs: []string{"10.244.1.0/24", "fd00:1::/64"}, ProviderId: "keel://node-1",
			Taints: []*corev1.Taint{{Key: "dedicated", Value: "web", Effect: "NoSchedule"}, {Key: "dedicated", Value: "web", Effect: "NoExecute", TimeAdded: timestamppb.Now()}}},
		Status: &corev1.NodeStatus{
			Capacity:        map[string]*metav1.Quantity{"cpu": q("4"), "memory": q("8Gi"), "pods": q("110")},
			Allocatable:     map[string]*metav1.Quantity{"cpu": q("3800m"), "memory": q("7Gi"), "pods": q("110")},
			Conditions:      []*corev1.NodeCondition{{Type: "Ready", Status: "True", LastHeartbeatTime: timestamppb.Now()}},
			Addresses:       []*corev1.NodeAddress{{Type: "InternalIP", Address: "192.168.1.10"}, {Type: "Hostname", Address: "node-1"}},
			DaemonEndpoints: &corev1.NodeDaemonEndpoints{KubeletEndpoint: &corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo:        &corev1.NodeSystemInfo{MachineId: "m", KubeletVersion: "v0.1.0", OperatingSystem: "linux", Architecture: "amd64"},
			Images:          []*corev1.ContainerImage{{Names: []string{"busybox:1.36"}, SizeBytes: 1000}},
		}}
}

func validLease() *coordinationv1.Lease {
	return &coordinationv1.Lease{Metadata: meta("node-1"), Spec: &coordinationv1.LeaseSpec{
		HolderIdentity: proto.String("node-1"), LeaseDurationSeconds: proto.Int32(40),
		AcquireTime: timestamppb.Now(), RenewTime: timestamppb.Now(), LeaseTransitions: proto.Int32(0),
	}}
}

func validPriorityClass() *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{Metadata: clusterMeta("high"), Value: 1000000000, Description: "high",
		PreemptionPolicy: proto.String("PreemptLowerPriority")}
}

// validObjects returns one valid object of every kind.
func validObjects() []proto.Message {
	return []proto.Message{
		validPod(), validDeployment(), validReplicaSet(), validJob(), validService(), validEndpoints(),
		validConfigMap(), validSecret(), validEvent(), validNamespace(), validNode(), validLease(), validPriorityClass(),
	}
}
