package envvars

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

type fakeSource struct {
	cms         map[string]*corev1.ConfigMap // by ns/name
	secrets     map[string]*corev1.Secret
	services    map[string][]*corev1.Service // by namespace
	allocatable map[string]resource.Quantity
	err         error
}

func (f *fakeSource) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if f.err != nil {
		return nil, f.err
	}
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NotFound("configmaps", name)
}

func (f *fakeSource) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NotFound("secrets", name)
}

func (f *fakeSource) Services(ns string) ([]*corev1.Service, error) { return f.services[ns], nil }

type withAllocatable struct{ *fakeSource }

func (w withAllocatable) NodeAllocatable() map[string]resource.Quantity { return w.allocatable }

func svc(ns, name, ip string, ports ...*corev1.ServicePort) *corev1.Service {
	return &corev1.Service{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: &corev1.ServiceSpec{ClusterIp: ip, Ports: ports}}
}

func q(s string) *metav1.Quantity { return &metav1.Quantity{String_: s} }

func testPod(ns string, links *bool, c *corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: "web-1", Namespace: ns, Uid: "uid-1",
			Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"team": "a"}},
		Spec: &corev1.PodSpec{NodeName: "node-1", ServiceAccountName: "sa", EnableServiceLinks: links,
			Containers: []*corev1.Container{c, {Name: "side", Resources: &corev1.ResourceRequirements{Limits: map[string]*metav1.Quantity{"memory": q("64Mi")}}}}},
		Status: &corev1.PodStatus{PodIp: "10.0.0.9", PodIps: []*corev1.PodIP{{Ip: "10.0.0.9"}, {Ip: "fd00::9"}}, HostIp: "192.168.1.1"},
	}
}

func flat(list []*runtimeapi.KeyValue) []string {
	var out []string
	for _, kv := range list {
		out = append(out, kv.Key+"="+string(kv.Value))
	}
	return out
}

func standardSource() *fakeSource {
	return &fakeSource{
		cms: map[string]*corev1.ConfigMap{
			"app/cfg": {Data: map[string]string{"mode": "fast", "level": "3", "bad=key": "x"}, BinaryData: map[string][]byte{"bin": []byte("b")}},
		},
		secrets: map[string]*corev1.Secret{
			"app/creds": {Data: map[string][]byte{"user": []byte("admin"), "pass": []byte("s3cret")}},
		},
		services: map[string][]*corev1.Service{
			"default": {
				svc("default", "kubernetes", "10.96.0.1", &corev1.ServicePort{Name: "https", Port: 443, Protocol: "TCP"}),
				svc("default", "other", "10.96.0.2", &corev1.ServicePort{Port: 80}),
			},
			"app": {
				svc("app", "redis-master", "10.96.1.5", &corev1.ServicePort{Port: 6379}, &corev1.ServicePort{Name: "metrics", Port: 9121, Protocol: "TCP"}),
				svc("app", "dns", "10.96.1.10", &corev1.ServicePort{Name: "dns", Port: 53, Protocol: "UDP"}),
				svc("app", "headless", "None", &corev1.ServicePort{Port: 80}),
				svc("app", "ext", "", &corev1.ServicePort{Port: 80}),
				svc("app", "v6", "fd00::1", &corev1.ServicePort{Port: 8080}),
			},
		},
	}
}

func TestFromServices(t *testing.T) {
	got := flat(FromServices([]*corev1.Service{
		svc("app", "redis-master", "10.96.1.5", &corev1.ServicePort{Port: 6379}, &corev1.ServicePort{Name: "metrics-port", Port: 9121, Protocol: "TCP"}),
		svc("app", "v6", "fd00::1", &corev1.ServicePort{Port: 8080, Protocol: "SCTP"}),
		svc("app", "headless", "None", &corev1.ServicePort{Port: 80}),
	}))
	want := []string{
		"REDIS_MASTER_SERVICE_HOST=10.96.1.5",
		"REDIS_MASTER_SERVICE_PORT=6379",
		"REDIS_MASTER_SERVICE_PORT_METRICS_PORT=9121",
		"REDIS_MASTER_PORT=tcp://10.96.1.5:6379",
		"REDIS_MASTER_PORT_6379_TCP=tcp://10.96.1.5:6379",
		"REDIS_MASTER_PORT_6379_TCP_PROTO=tcp",
		"REDIS_MASTER_PORT_6379_TCP_PORT=6379",
		"REDIS_MASTER_PORT_6379_TCP_ADDR=10.96.1.5",
		"REDIS_MASTER_PORT_9121_TCP=tcp://10.96.1.5:9121",
		"REDIS_MASTER_PORT_9121_TCP_PROTO=tcp",
		"REDIS_MASTER_PORT_9121_TCP_PORT=9121",
		"REDIS_MASTER_PORT_9121_TCP_ADDR=10.96.1.5",
		"V6_SERVICE_HOST=fd00::1",
		"V6_SERVICE_PORT=8080",
		"V6_PORT=sctp://[fd00::1]:8080",
		"V6_PORT_8080_SCTP=sctp://[fd00::1]:8080",
		"V6_PORT_8080_SCTP_PROTO=sctp",
		"V6_PORT_8080_SCTP_PORT=8080",
		"V6_PORT_8080_SCTP_ADDR=fd00::1",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("FromServices (-want +got):\n%s", d)
	}
}

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	for in, want := range map[string]string{
		"plain":              "plain",
		"$(A)":               "a",
		"x-$(A)-y":           "x-a-y",
		"$(A)$(A)":           "aa",
		"$(EMPTY)!":          "!",
		"$(MISSING)":         "$(MISSING)",
		"$$(A)":              "$(A)",
		"$$":                 "$",
		"$$$(A)":             "$a",
		"cost $5":            "cost $5",
		"$(A":                "$(A",
		"$()":                "$()",
		"$":                  "$",
		"tail$":              "tail$",
		"$(A)/$(MISSING)/$$": "a/$(MISSING)/$",
	} {
		if got := Expand(in, lookup); got != want {
			t.Errorf("Expand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestResolve(t *testing.T) {
	yes, no := proto.Bool(true), proto.Bool(false)
	kubeVars := []string{
		"KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443", "KUBERNETES_SERVICE_PORT_HTTPS=443",
		"KUBERNETES_PORT=tcp://10.96.0.1:443", "KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO=tcp", "KUBERNETES_PORT_443_TCP_PORT=443", "KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1",
	}
	for _, tt := range []struct {
		name    string
		ns      string
		links   *bool
		c       *corev1.Container
		src     Source
		want    []string // nil: only check wantErr / contains
		has     []string
		lacks   []string
		wantErr string
	}{
		{
			name:  "no links: only the kubernetes service",
			ns:    "app",
			links: no,
			c:     &corev1.Container{Name: "c", Env: []*corev1.EnvVar{{Name: "X", Value: "1"}}},
			want:  append([]string{"X=1"}, kubeVars...),
		},
		{
			name:  "links: services of the namespace, sorted, after the kubernetes one",
			ns:    "app",
			links: nil, // defaults to true
			c:     &corev1.Container{Name: "c"},
			has: []string{"DNS_SERVICE_HOST=10.96.1.10", "DNS_SERVICE_PORT_DNS=53", "DNS_PORT=udp://10.96.1.10:53",
				"REDIS_MASTER_SERVICE_PORT=6379", "REDIS_MASTER_PORT_9121_TCP_ADDR=10.96.1.5", "V6_PORT=tcp://[fd00::1]:8080",
				"KUBERNETES_SERVICE_HOST=10.96.0.1"},
			lacks: []string{"HEADLESS_SERVICE_HOST", "EXT_SERVICE_HOST", "OTHER_SERVICE_HOST"},
		},
		{
			name:  "default namespace: its own services with links",
			ns:    "default",
			links: yes,
			c:     &corev1.Container{Name: "c"},
			has:   []string{"KUBERNETES_SERVICE_HOST=10.96.0.1", "OTHER_SERVICE_HOST=10.96.0.2"},
		},
		{
			name:  "default namespace without links: still the kubernetes service",
			ns:    "default",
			links: no,
			c:     &corev1.Container{Name: "c"},
			want:  kubeVars,
		},
		{
			name:  "envFrom with prefix, env overrides, expansion and service refs",
			ns:    "app",
			links: yes,
			c: &corev1.Container{Name: "c",
				EnvFrom: []*corev1.EnvFromSource{
					{ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "cfg"}, Prefix: "CFG_"},
					{SecretRef: &corev1.SecretEnvSource{Name: "creds"}},
					{ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "absent", Optional: yes}},
				},
				Env: []*corev1.EnvVar{
					{Name: "CFG_level", Value: "9"},
					{Name: "URL", Value: "redis://$(user):$(pass)@$(REDIS_MASTER_SERVICE_HOST):$(REDIS_MASTER_SERVICE_PORT)/$(LATER)"},
					{Name: "LATER", Value: "x"},
					{Name: "ESC", Value: "$$(user)"},
				},
			},
			has: []string{"CFG_level=9", "CFG_mode=fast", "user=admin", "pass=s3cret",
				"URL=redis://admin:s3cret@10.96.1.5:6379/$(LATER)", "LATER=x", "ESC=$(user)"},
			lacks: []string{"CFG_bad=key", "CFG_bin"},
		},
		{
			name:  "valueFrom: keys, fields and resources",
			ns:    "app",
			links: no,
			c: &corev1.Container{Name: "c",
				Resources: &corev1.ResourceRequirements{
					Limits:   map[string]*metav1.Quantity{"cpu": q("1500m"), "memory": q("128Mi")},
					Requests: map[string]*metav1.Quantity{"cpu": q("250m")},
				},
				Env: []*corev1.EnvVar{
					{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "cfg", Key: "mode"}}},
					{Name: "BIN", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "cfg", Key: "bin"}}},
					{Name: "OPT1", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "cfg", Key: "nope", Optional: yes}}},
					{Name: "OPT2", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "gone", Key: "k", Optional: yes}}},
					{Name: "OPT3", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "gone", Key: "k", Optional: yes}}},
					{Name: "USER", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "creds", Key: "user"}}},
					{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					{Name: "UID", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
					{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
					{Name: "NOLABEL", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['none']"}}},
					{Name: "TEAM", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['team']"}}},
					{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
					{Name: "SA", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.serviceAccountName"}}},
					{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "IPS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIPs"}}},
					{Name: "HOST", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
					{Name: "HOSTS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIPs"}}},
					{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
					{Name: "CPU_M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu", Divisor: q("1m")}}},
					{Name: "REQ_CPU_M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: q("1m")}}},
					{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory"}}},
					{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: q("1Mi")}}},
					{Name: "REQ_MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.memory", Divisor: q("1Mi")}}},
					{Name: "SIDE_MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "side", Resource: "limits.memory", Divisor: q("1Mi")}}},
					{Name: "SIDE_CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "side", Resource: "limits.cpu"}}},
				},
			},
			src: withAllocatable{&fakeSource{}},
			want: append([]string{"MODE=fast", "BIN=b", "USER=admin", "POD=web-1", "NS=app", "UID=uid-1", "APP=web", "NOLABEL=", "TEAM=a",
				"NODE=node-1", "SA=sa", "IP=10.1.1.1", "IPS=10.1.1.1,10.0.0.9,fd00::9", "HOST=192.168.9.9", "HOSTS=192.168.9.9",
				"CPU=2", "CPU_M=1500", "REQ_CPU_M=250", "MEM=134217728", "MEM_MI=128", "REQ_MEM_MI=128", "SIDE_MEM_MI=64", "SIDE_CPU=7"}, kubeVars...),
		},
		{
			name: "missing configmap", ns: "app", c: &corev1.Container{Name: "c", Env: []*corev1.EnvVar{
				{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "gone", Key: "k"}}}}},
			wantErr: `env var "A": configmap "gone" not found`,
		},
		{
			name: "missing configmap key", ns: "app", c: &corev1.Container{Name: "c", Env: []*corev1.EnvVar{
				{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "cfg", Key: "k"}}}}},
			wantErr: `env var "A": key "k" not found in configmap "cfg"`,
		},
		{
			name: "missing secret", ns: "app", c: &corev1.Container{Name: "c", Env: []*corev1.EnvVar{
				{Name: "B", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "gone", Key: "k"}}}}},
			wantErr: `env var "B": secret "gone" not found`,
		},
		{
			name: "missing secret key", ns: "app", c: &corev1.Container{Name: "c", Env: []*corev1.EnvVar{
				{Name: "B", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "creds", Key: "k"}}}}},
			wantErr: `env var "B": key "k" not found in secret "creds"`,
		},
		{
			name: "missing envFrom secret", ns: "app", c: &corev1.Container{Name: "c", EnvFrom: []*corev1.EnvFromSource{
				{SecretRef: &corev1.SecretEnvSource{Name: "gone"}}}},
			wantErr: `envFrom[0]: secret "gone" not found`,
		},
		{
			name: "source error", ns: "app", c: &corev1.Container{Name: "c", EnvFrom: []*corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "cfg", Optional: yes}}}},
			src:     &fakeSource{err: errors.New("cache not synced")},
			wantErr: `envFrom[0]: reading configmap "cfg": cache not synced`,
		},
		{
			name: "bad field path", ns: "app", c: &corev1.Container{Name: "c", Env: []*corev1.EnvVar{
				{Name: "F", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.hostname"}}}}},
			wantErr: `env var "F": unsupported fieldRef fieldPath "spec.hostname"`,
		},
		{
			name: "resource of a missing container", ns: "app", c: &corev1.Container{Name: "c", Env: []*corev1.EnvVar{
				{Name: "R", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "x", Resource: "limits.cpu"}}}}},
			wantErr: `env var "R": resourceFieldRef: no container "x" in the pod`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			std := standardSource()
			switch s := src.(type) {
			case nil:
				src = std
			case withAllocatable:
				s.cms, s.secrets, s.services = std.cms, std.secrets, std.services
				s.allocatable = map[string]resource.Quantity{"cpu": resource.MustParse("6500m")}
			}
			pod := testPod(tt.ns, tt.links, tt.c)
			got, err := Resolve(pod, tt.c, "10.1.1.1", "192.168.9.9", src)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			flatGot := flat(got)
			if tt.want != nil {
				if d := cmp.Diff(tt.want, flatGot); d != "" {
					t.Errorf("env (-want +got):\n%s", d)
				}
			}
			for _, h := range tt.has {
				if !contains(flatGot, h) {
					t.Errorf("missing %s in %v", h, flatGot)
				}
			}
			for _, l := range tt.lacks {
				for _, g := range flatGot {
					if strings.HasPrefix(g, l) {
						t.Errorf("unexpected %s", g)
					}
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A same-named service in the pod's namespace wins over default's
// kubernetes service; a variable set in env wins over a service variable.
func TestServicePrecedence(t *testing.T) {
	src := standardSource()
	src.services["app"] = append(src.services["app"], svc("app", "kubernetes", "10.96.7.7", &corev1.ServicePort{Port: 443}))
	c := &corev1.Container{Name: "c", Env: []*corev1.EnvVar{{Name: "DNS_SERVICE_HOST", Value: "mine"}}}
	got, err := Resolve(testPod("app", nil, c), c, "", "", src)
	if err != nil {
		t.Fatal(err)
	}
	f := flat(got)
	if !contains(f, "KUBERNETES_SERVICE_HOST=10.96.7.7") || !contains(f, "DNS_SERVICE_HOST=mine") || f[0] != "DNS_SERVICE_HOST=mine" {
		t.Errorf("env %v", f)
	}
	// Pod IP from the status when none is given.
	c2 := &corev1.Container{Name: "c", Env: []*corev1.EnvVar{{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIPs"}}}}}
	got, err = Resolve(testPod("app", proto.Bool(false), c2), c2, "", "", src)
	if err != nil {
		t.Fatal(err)
	}
	if f := flat(got); f[0] != "IP=10.0.0.9,fd00::9" {
		t.Errorf("env %v", f)
	}
}
