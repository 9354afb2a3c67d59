package manifest_test

import (
	"bytes"
	"encoding/json"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	certificatesv1 "keel.dev/keel/pkg/apis/certificates/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	networkingv1 "keel.dev/keel/pkg/apis/networking/v1"
	nodev1 "keel.dev/keel/pkg/apis/node/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/manifest"
)

const examplesDir = "../../manifests/examples"

// exampleChecks holds, per file under manifests/examples, a check of a few
// decoded fields. Every example file must have one.
var exampleChecks = map[string]func(t *testing.T, objs []manifest.Object){
	"nginx-deployment.yaml": func(t *testing.T, objs []manifest.Object) {
		d := one[*appsv1.Deployment](t, objs)
		c := d.GetSpec().GetTemplate().GetSpec().GetContainers()[0]
		eq(t, "name", d.GetMetadata().GetName(), "nginx-deployment")
		eq(t, "replicas", d.GetSpec().GetReplicas(), int32(3))
		eq(t, "selector", d.GetSpec().GetSelector().GetMatchLabels()["app"], "nginx")
		eq(t, "image", c.GetImage(), "nginx:1.14.2")
		eq(t, "containerPort", c.GetPorts()[0].GetContainerPort(), int32(80))
	},
	"statefulset.yaml": func(t *testing.T, objs []manifest.Object) {
		s := one[*appsv1.StatefulSet](t, objs)
		ct := s.GetSpec().GetVolumeClaimTemplates()[0]
		eq(t, "serviceName", s.GetSpec().GetServiceName(), "nginx")
		eq(t, "minReadySeconds", s.GetSpec().GetMinReadySeconds(), int32(10))
		eq(t, "claim template", ct.GetMetadata().GetName(), "www")
		eq(t, "storageClassName", ct.GetSpec().GetStorageClassName(), "my-storage-class")
		eq(t, "storage", ct.GetSpec().GetResources().GetRequests()["storage"].GetString_(), "1Gi")
	},
	"job.yaml": func(t *testing.T, objs []manifest.Object) {
		j := one[*batchv1.Job](t, objs)
		ps := j.GetSpec().GetTemplate().GetSpec()
		eq(t, "name", j.GetMetadata().GetName(), "pi")
		eq(t, "backoffLimit", j.GetSpec().GetBackoffLimit(), int32(4))
		eq(t, "restartPolicy", ps.GetRestartPolicy(), "Never")
		eq(t, "image", ps.GetContainers()[0].GetImage(), "perl:5.34.0")
		cmd := ps.GetContainers()[0].GetCommand()
		eq(t, "command", len(cmd), 4)
		eq(t, "command[3]", cmd[3], "print bpi(2000)")
	},
	"cronjob.yaml": func(t *testing.T, objs []manifest.Object) {
		cj := one[*batchv1.CronJob](t, objs)
		ps := cj.GetSpec().GetJobTemplate().GetSpec().GetTemplate().GetSpec()
		eq(t, "schedule", cj.GetSpec().GetSchedule(), "* * * * *")
		eq(t, "restartPolicy", ps.GetRestartPolicy(), "OnFailure")
		eq(t, "command[2]", ps.GetContainers()[0].GetCommand()[2], "date; echo Hello from the Kubernetes cluster")
	},
	"service.yaml": func(t *testing.T, objs []manifest.Object) {
		s := one[*corev1.Service](t, objs)
		p := s.GetSpec().GetPorts()[0]
		eq(t, "name", s.GetMetadata().GetName(), "my-service")
		eq(t, "selector", s.GetSpec().GetSelector()["app.kubernetes.io/name"], "MyApp")
		eq(t, "protocol", p.GetProtocol(), "TCP")
		eq(t, "port", p.GetPort(), int32(80))
		eq(t, "targetPort.type", p.GetTargetPort().GetType(), int32(0))
		eq(t, "targetPort", p.GetTargetPort().GetIntVal(), int32(9376))
	},
	"service-nodeport.yaml": func(t *testing.T, objs []manifest.Object) {
		s := one[*corev1.Service](t, objs)
		eq(t, "type", s.GetSpec().GetType(), "NodePort")
		eq(t, "nodePort", s.GetSpec().GetPorts()[0].GetNodePort(), int32(30007))
		eq(t, "targetPort", s.GetSpec().GetPorts()[0].GetTargetPort().GetIntVal(), int32(80))
	},
	"configmap.yaml": func(t *testing.T, objs []manifest.Object) {
		c := one[*corev1.ConfigMap](t, objs)
		eq(t, "name", c.GetMetadata().GetName(), "game-demo")
		eq(t, "player_initial_lives", c.GetData()["player_initial_lives"], "3")
		eq(t, "game.properties", c.GetData()["game.properties"], "enemy.types=aliens,monsters\nplayer.maximum-lives=5\n")
		eq(t, "keys", len(c.GetData()), 4)
	},
	"configmap-pod.yaml": func(t *testing.T, objs []manifest.Object) {
		p := one[*corev1.Pod](t, objs)
		c := p.GetSpec().GetContainers()[0]
		eq(t, "env[0].configMapKeyRef.key", c.GetEnv()[0].GetValueFrom().GetConfigMapKeyRef().GetKey(), "player_initial_lives")
		eq(t, "volumeMounts[0].readOnly", c.GetVolumeMounts()[0].GetReadOnly(), true)
		v := p.GetSpec().GetVolumes()[0]
		eq(t, "volumes[0].configMap.name", v.GetConfigMap().GetName(), "game-demo")
		eq(t, "volumes[0].configMap.items[1].path", v.GetConfigMap().GetItems()[1].GetPath(), "user-interface.properties")
	},
	"secret.yaml": func(t *testing.T, objs []manifest.Object) {
		s := one[*corev1.Secret](t, objs)
		eq(t, "type", s.GetType(), "Opaque")
		eq(t, "username", string(s.GetData()["username"]), "admin")
		eq(t, "password", string(s.GetData()["password"]), "1f2d1e2e67df")
	},
	"rbac-role.yaml": func(t *testing.T, objs []manifest.Object) {
		r := one[*rbacv1.Role](t, objs)
		eq(t, "resources", strings.Join(r.GetRules()[0].GetResources(), ","), "pods,pods/log")
		eq(t, "apiGroups", len(r.GetRules()[0].GetApiGroups()), 1)
	},
	"rbac-rolebinding.yaml": func(t *testing.T, objs []manifest.Object) {
		b := one[*rbacv1.RoleBinding](t, objs)
		eq(t, "roleRef", b.GetRoleRef().GetKind()+"/"+b.GetRoleRef().GetName(), "Role/pod-reader")
		eq(t, "subject", b.GetSubjects()[1].GetKind()+"/"+b.GetSubjects()[1].GetName(), "ServiceAccount/build-robot")
	},
	"rbac-clusterrole.yaml": func(t *testing.T, objs []manifest.Object) {
		r := one[*rbacv1.ClusterRole](t, objs)
		eq(t, "nonResourceURLs", strings.Join(r.GetRules()[1].GetNonResourceUrls(), ","), "/healthz,/healthz/*")
	},
	"rbac-clusterrole-aggregated.yaml": func(t *testing.T, objs []manifest.Object) {
		r := one[*rbacv1.ClusterRole](t, objs)
		eq(t, "aggregation selector", r.GetAggregationRule().GetClusterRoleSelectors()[0].GetMatchLabels()["rbac.example.com/aggregate-to-monitoring"], "true")
	},
	"rbac-clusterrolebinding.yaml": func(t *testing.T, objs []manifest.Object) {
		b := one[*rbacv1.ClusterRoleBinding](t, objs)
		eq(t, "subject namespace", b.GetSubjects()[1].GetNamespace(), "kube-system")
	},
	"serviceaccount.yaml": func(t *testing.T, objs []manifest.Object) {
		sa := one[*corev1.ServiceAccount](t, objs)
		eq(t, "name", sa.GetMetadata().GetName(), "build-robot")
		eq(t, "automountServiceAccountToken", sa.GetAutomountServiceAccountToken(), false)
		eq(t, "imagePullSecrets", sa.GetImagePullSecrets()[0].GetName(), "registry-credentials")
	},
	"exec-liveness.yaml": func(t *testing.T, objs []manifest.Object) {
		p := one[*corev1.Pod](t, objs)
		pr := p.GetSpec().GetContainers()[0].GetLivenessProbe()
		eq(t, "name", p.GetMetadata().GetName(), "liveness-exec")
		eq(t, "exec.command[1]", pr.GetExec().GetCommand()[1], "/tmp/healthy")
		eq(t, "initialDelaySeconds", pr.GetInitialDelaySeconds(), int32(5))
		eq(t, "periodSeconds", pr.GetPeriodSeconds(), int32(5))
	},
	"pod-resources.yaml": func(t *testing.T, objs []manifest.Object) {
		p := one[*corev1.Pod](t, objs)
		r := p.GetSpec().GetContainers()[0].GetResources()
		eq(t, "requests.cpu", r.GetRequests()["cpu"].GetString_(), "250m")
		eq(t, "requests.memory", r.GetRequests()["memory"].GetString_(), "64Mi")
		eq(t, "limits.memory", r.GetLimits()["memory"].GetString_(), "128Mi")
		eq(t, "containers", len(p.GetSpec().GetContainers()), 2)
	},
	"deployment-rolling-update.yaml": func(t *testing.T, objs []manifest.Object) {
		d := one[*appsv1.Deployment](t, objs)
		s := d.GetSpec().GetStrategy()
		eq(t, "strategy.type", s.GetType(), "RollingUpdate")
		eq(t, "maxSurge.type", s.GetRollingUpdate().GetMaxSurge().GetType(), int32(1))
		eq(t, "maxSurge", s.GetRollingUpdate().GetMaxSurge().GetStrVal(), "25%")
		eq(t, "maxUnavailable.type", s.GetRollingUpdate().GetMaxUnavailable().GetType(), int32(0))
		eq(t, "maxUnavailable", s.GetRollingUpdate().GetMaxUnavailable().GetIntVal(), int32(1))
	},
	"namespace-dev.yaml": func(t *testing.T, objs []manifest.Object) {
		n := one[*corev1.Namespace](t, objs)
		eq(t, "name", n.GetMetadata().GetName(), "development")
		eq(t, "labels.name", n.GetMetadata().GetLabels()["name"], "development")
	},
	"priorityclass.yaml": func(t *testing.T, objs []manifest.Object) {
		pc := one[*schedulingv1.PriorityClass](t, objs)
		eq(t, "name", pc.GetMetadata().GetName(), "high-priority")
		eq(t, "value", pc.GetValue(), int32(1000000))
		eq(t, "globalDefault", pc.GetGlobalDefault(), false)
		eq(t, "description", pc.GetDescription(), "This priority class should be used for XYZ service pods only.")
	},
	"certificatesigningrequest.yaml": func(t *testing.T, objs []manifest.Object) {
		c := one[*certificatesv1.CertificateSigningRequest](t, objs)
		// request is base64 in JSON and YAML, the PEM bytes once decoded.
		eq(t, "request", strings.HasPrefix(string(c.GetSpec().GetRequest()), "-----BEGIN CERTIFICATE REQUEST-----"), true)
		eq(t, "signerName", c.GetSpec().GetSignerName(), "kubernetes.io/kube-apiserver-client")
		eq(t, "expirationSeconds", c.GetSpec().GetExpirationSeconds(), int32(86400))
		eq(t, "usages", strings.Join(c.GetSpec().GetUsages(), ","), "client auth")
	},
	"replication-controller.yaml": func(t *testing.T, objs []manifest.Object) {
		rc := one[*corev1.ReplicationController](t, objs)
		eq(t, "replicas", rc.GetSpec().GetReplicas(), int32(3))
		eq(t, "selector", rc.GetSpec().GetSelector()["app"], "nginx")
		eq(t, "containerPort", rc.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetPorts()[0].GetContainerPort(), int32(80))
	},
	"resource-quota.yaml": func(t *testing.T, objs []manifest.Object) {
		q := one[*corev1.ResourceQuota](t, objs)
		eq(t, "requests.memory", q.GetSpec().GetHard()["requests.memory"].GetString_(), "1Gi")
		eq(t, "limits.cpu", q.GetSpec().GetHard()["limits.cpu"].GetString_(), "2")
	},
	"limit-range.yaml": func(t *testing.T, objs []manifest.Object) {
		lr := one[*corev1.LimitRange](t, objs)
		item := lr.GetSpec().GetLimits()[0]
		eq(t, "type", item.GetType(), "Container")
		eq(t, "default", item.GetDefault()["cpu"].GetString_(), "500m")
		eq(t, "min", item.GetMin()["cpu"].GetString_(), "100m")
	},
	"pdb.yaml": func(t *testing.T, objs []manifest.Object) {
		pdb := one[*policyv1.PodDisruptionBudget](t, objs)
		eq(t, "minAvailable", pdb.GetSpec().GetMinAvailable().GetIntVal(), int32(2))
		eq(t, "maxUnavailable unset", pdb.GetSpec().GetMaxUnavailable() == nil, true)
		eq(t, "selector", pdb.GetSpec().GetSelector().GetMatchLabels()["app"], "zookeeper")
	},
	"lease.yaml": func(t *testing.T, objs []manifest.Object) {
		l := one[*coordinationv1.Lease](t, objs)
		eq(t, "holderIdentity", l.GetSpec().GetHolderIdentity(), "node-1")
		eq(t, "leaseDurationSeconds", l.GetSpec().GetLeaseDurationSeconds(), int32(40))
		eq(t, "renewTime", l.GetSpec().GetRenewTime().AsTime(), time.Date(2024, 5, 1, 10, 0, 30, 0, time.UTC))
		// leaseTransitions is optional: an explicit 0 is kept.
		eq(t, "leaseTransitions set", l.GetSpec().LeaseTransitions != nil, true)
	},
	"frontend.yaml": func(t *testing.T, objs []manifest.Object) {
		rs := one[*appsv1.ReplicaSet](t, objs)
		eq(t, "name", rs.GetMetadata().GetName(), "frontend")
		eq(t, "replicas", rs.GetSpec().GetReplicas(), int32(3))
		eq(t, "image", rs.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage(),
			"us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5")
	},
	"pv-volume.yaml": func(t *testing.T, objs []manifest.Object) {
		pv := one[*corev1.PersistentVolume](t, objs)
		eq(t, "storageClassName", pv.GetSpec().GetStorageClassName(), "manual")
		eq(t, "capacity", pv.GetSpec().GetCapacity()["storage"].GetString_(), "10Gi")
		eq(t, "accessModes", pv.GetSpec().GetAccessModes()[0], "ReadWriteOnce")
		eq(t, "hostPath", pv.GetSpec().GetHostPath().GetPath(), "/mnt/data")
	},
	"pv-claim.yaml": func(t *testing.T, objs []manifest.Object) {
		pvc := one[*corev1.PersistentVolumeClaim](t, objs)
		eq(t, "storageClassName", pvc.GetSpec().GetStorageClassName(), "manual")
		eq(t, "requests", pvc.GetSpec().GetResources().GetRequests()["storage"].GetString_(), "3Gi")
	},
	"ingress.yaml": func(t *testing.T, objs []manifest.Object) {
		ing := one[*networkingv1.Ingress](t, objs)
		spec := ing.GetSpec()
		eq(t, "ingressClassName", spec.GetIngressClassName(), "web-routers")
		eq(t, "tls secretName", spec.GetTls()[0].GetSecretName(), "shop-tls")
		eq(t, "host", spec.GetRules()[0].GetHost(), "shop.example.com")
		p := spec.GetRules()[0].GetHttp().GetPaths()[0]
		eq(t, "pathType", p.GetPathType(), "Prefix")
		eq(t, "service", p.GetBackend().GetService().GetName(), "cart")
		eq(t, "port number", p.GetBackend().GetService().GetPort().GetNumber(), int32(8080))
		eq(t, "port name", spec.GetRules()[0].GetHttp().GetPaths()[1].GetBackend().GetService().GetPort().GetName(), "http")
		eq(t, "resource kind", spec.GetRules()[1].GetHttp().GetPaths()[0].GetBackend().GetResource().GetKind(), "Bucket")
	},
	"ingressclass.yaml": func(t *testing.T, objs []manifest.Object) {
		ic := one[*networkingv1.IngressClass](t, objs)
		eq(t, "controller", ic.GetSpec().GetController(), "example.com/ingress-controller")
		eq(t, "parameters kind", ic.GetSpec().GetParameters().GetKind(), "RouterConfig")
		eq(t, "parameters scope unset", ic.GetSpec().GetParameters().Scope == nil, true)
	},
	"networkpolicy.yaml": func(t *testing.T, objs []manifest.Object) {
		np := one[*networkingv1.NetworkPolicy](t, objs)
		spec := np.GetSpec()
		eq(t, "podSelector", spec.GetPodSelector().GetMatchLabels()["app"], "api")
		eq(t, "policyTypes", len(spec.GetPolicyTypes()), 2)
		from := spec.GetIngress()[0].GetFrom()
		eq(t, "cidr", from[0].GetIpBlock().GetCidr(), "10.20.0.0/16")
		eq(t, "except", from[0].GetIpBlock().GetExcept()[0], "10.20.5.0/24")
		eq(t, "namespaceSelector", from[1].GetNamespaceSelector().GetMatchLabels()["team"], "storefront")
		eq(t, "port", spec.GetIngress()[0].GetPorts()[0].GetPort().GetIntVal(), int32(8443))
		eq(t, "named port", spec.GetIngress()[0].GetPorts()[1].GetPort().GetStrVal(), "metrics")
		eq(t, "endPort", spec.GetEgress()[0].GetPorts()[0].GetEndPort(), int32(5433))
	},
	"runtimeclass.yaml": func(t *testing.T, objs []manifest.Object) {
		rc := one[*nodev1.RuntimeClass](t, objs)
		eq(t, "handler", rc.GetHandler(), "runsc")
		eq(t, "overhead cpu", rc.GetOverhead().GetPodFixed()["cpu"].GetString_(), "250m")
		eq(t, "nodeSelector", rc.GetScheduling().GetNodeSelector()["runtime.example.com/sandboxed"], "true")
		eq(t, "toleration", rc.GetScheduling().GetTolerations()[0].GetEffect(), "NoSchedule")
	},
	"podtemplate.yaml": func(t *testing.T, objs []manifest.Object) {
		pt := one[*corev1.PodTemplate](t, objs)
		tmpl := pt.GetTemplate()
		eq(t, "template label", tmpl.GetMetadata().GetLabels()["tier"], "worker")
		eq(t, "restartPolicy", tmpl.GetSpec().GetRestartPolicy(), "OnFailure")
		eq(t, "image", tmpl.GetSpec().GetContainers()[0].GetImage(), "busybox:1.36")
		eq(t, "cpu", tmpl.GetSpec().GetContainers()[0].GetResources().GetRequests()["cpu"].GetString_(), "100m")
	},
	"storageclass.yaml": func(t *testing.T, objs []manifest.Object) {
		sc := one[*storagev1.StorageClass](t, objs)
		eq(t, "provisioner", sc.GetProvisioner(), "csi-driver.example-vendor.example")
		eq(t, "reclaimPolicy", sc.GetReclaimPolicy(), "Retain")
		eq(t, "allowVolumeExpansion", sc.GetAllowVolumeExpansion(), true)
		eq(t, "volumeBindingMode", sc.GetVolumeBindingMode(), "WaitForFirstConsumer")
		eq(t, "parameters", sc.GetParameters()["guaranteedReadWriteLatency"], "true")
	},
}

func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examplesDir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s: %v", examplesDir, err)
	}
	seen := map[string]bool{}
	for _, path := range files {
		name := filepath.Base(path)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := manifest.Decode(name, data)
			if err != nil {
				t.Fatalf("Decode:\n%v", err)
			}
			check, ok := exampleChecks[name]
			if !ok {
				t.Fatalf("no field checks for %s in exampleChecks", name)
			}
			check(t, objs)
			for _, o := range objs {
				if o.Source != name {
					t.Errorf("Source = %q, want %q", o.Source, name)
				}
				roundTrip(t, o.Message)
			}
		})
	}
	for name := range exampleChecks {
		if !seen[name] {
			t.Errorf("exampleChecks names %s, which is not in %s", name, examplesDir)
		}
	}
}

// roundTrip checks that m survives MarshalYAML→Decode, MarshalJSON→Decode
// and AppendJSON→Decode, and that AppendJSON writes the object ToMap
// describes.
func roundTrip(t *testing.T, m proto.Message) {
	t.Helper()
	appended := func(m proto.Message) ([]byte, error) { return manifest.AppendJSON(nil, m) }
	for _, f := range []struct {
		name    string
		marshal func(proto.Message) ([]byte, error)
	}{{"yaml", manifest.MarshalYAML}, {"json", manifest.MarshalJSON}, {"append.json", appended}} {
		b, err := f.marshal(m)
		if err != nil {
			t.Fatalf("Marshal %s: %v", f.name, err)
		}
		objs, err := manifest.Decode("round-trip."+f.name, b)
		if err != nil {
			t.Fatalf("Decode of Marshal%s output:\n%v\n%s", f.name, err, b)
		}
		if len(objs) != 1 {
			t.Fatalf("round trip (%s) gave %d objects", f.name, len(objs))
		}
		if !proto.Equal(objs[0].Message, m) {
			t.Fatalf("round trip (%s) changed the message:\nwant %v\ngot  %v\nmanifest:\n%s", f.name, m, objs[0].Message, b)
		}
	}
	obj, err := manifest.ToMap(m)
	if err != nil {
		t.Fatal(err)
	}
	viaMap, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := manifest.AppendJSON(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if want, got := generic(t, viaMap), generic(t, direct); !reflect.DeepEqual(want, got) {
		t.Fatalf("AppendJSON differs from ToMap:\nToMap      %s\nAppendJSON %s", viaMap, direct)
	}
}

// generic decodes JSON into maps, slices and json.Numbers.
func generic(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

func one[T proto.Message](t *testing.T, objs []manifest.Object) T {
	t.Helper()
	if len(objs) != 1 {
		t.Fatalf("got %d objects, want 1", len(objs))
	}
	m, ok := objs[0].Message.(T)
	if !ok {
		t.Fatalf("got %T", objs[0].Message)
	}
	if objs[0].Kind == nil || objs[0].Kind.Kind == "" {
		t.Fatalf("object has no kind")
	}
	return m
}

func eq[V comparable](t *testing.T, what string, got, want V) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
