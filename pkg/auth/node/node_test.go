package node_test

import (
	"context"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/node"
)

func nodeUser(name string) auth.User {
	return auth.User{Name: auth.NodeUser(name), Groups: []string{auth.GroupNodes, auth.GroupAuthenticated}}
}

func pod(ns, name, nodeName string) *corev1.Pod {
	return &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: &corev1.PodSpec{
		NodeName:           nodeName,
		ServiceAccountName: "runner",
		ImagePullSecrets:   []*corev1.LocalObjectReference{{Name: "pull"}},
		Volumes: []*corev1.Volume{
			{Name: "s", Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret"}},
			{Name: "c", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "vol-cm"}},
			{Name: "p", Projected: &corev1.ProjectedVolumeSource{Sources: []*corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				{ConfigMap: &corev1.ConfigMapProjection{Name: "kube-root-ca.crt"}},
				{Secret: &corev1.SecretProjection{Name: "proj-secret"}},
			}}},
		},
		InitContainers: []*corev1.Container{{Name: "init", EnvFrom: []*corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{Name: "envfrom-secret"}}}}},
		Containers: []*corev1.Container{{Name: "c",
			EnvFrom: []*corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{Name: "envfrom-cm"}}},
			Env: []*corev1.EnvVar{
				{Name: "A", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Name: "env-secret", Key: "k"}}},
				{Name: "B", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Name: "env-cm", Key: "k"}}},
			}}},
	}}
}

func TestPodRefs(t *testing.T) {
	var got []string
	node.PodRefs(pod("ns", "p", "n1"), func(resource, name string) { got = append(got, resource+"/"+name) })
	want := []string{"serviceaccounts/runner", "secrets/pull", "secrets/vol-secret", "configmaps/vol-cm",
		"configmaps/kube-root-ca.crt", "secrets/proj-secret",
		"secrets/envfrom-secret", "configmaps/envfrom-cm", "secrets/env-secret", "configmaps/env-cm"}
	if len(got) != len(want) {
		t.Fatalf("PodRefs = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("PodRefs = %v, want %v", got, want)
		}
	}
}

func TestAuthorize(t *testing.T) {
	g := node.NewGraph()
	g.SetPod(pod("ns", "p", "n1"))
	g.SetPod(pod("other", "unbound", ""))
	z := node.New(g)
	n1 := nodeUser("n1")
	cases := []struct {
		name string
		at   auth.Attributes
		want bool
	}{
		{"not a node: no opinion", auth.Attributes{User: auth.User{Name: "alice", Groups: []string{auth.GroupAuthenticated}}, Verb: "get", Resource: "nodes", Name: "n1"}, false},
		{"node name without the group", auth.Attributes{User: auth.User{Name: auth.NodeUser("n1")}, Verb: "get", Resource: "nodes", Name: "n1"}, false},
		{"group without a node name", auth.Attributes{User: auth.User{Name: auth.NodeUser(""), Groups: []string{auth.GroupNodes}}, Verb: "get", Resource: "nodes"}, false},

		{"secret its pod mounts", auth.Attributes{User: n1, Verb: "get", Resource: "secrets", Namespace: "ns", Name: "vol-secret"}, true},
		{"secret from env", auth.Attributes{User: n1, Verb: "get", Resource: "secrets", Namespace: "ns", Name: "env-secret"}, true},
		{"secret from init container envFrom", auth.Attributes{User: n1, Verb: "get", Resource: "secrets", Namespace: "ns", Name: "envfrom-secret"}, true},
		{"image pull secret", auth.Attributes{User: n1, Verb: "get", Resource: "secrets", Namespace: "ns", Name: "pull"}, true},
		{"watch of one referenced secret", auth.Attributes{User: n1, Verb: "watch", Resource: "secrets", Namespace: "ns", Name: "vol-secret"}, true},
		{"list of one referenced configmap", auth.Attributes{User: n1, Verb: "list", Resource: "configmaps", Namespace: "ns", Name: "env-cm"}, true},
		{"list every secret", auth.Attributes{User: n1, Verb: "list", Resource: "secrets"}, false},
		{"list a namespace's secrets", auth.Attributes{User: n1, Verb: "list", Resource: "secrets", Namespace: "ns"}, false},
		{"secret no pod uses", auth.Attributes{User: n1, Verb: "get", Resource: "secrets", Namespace: "ns", Name: "db"}, false},
		{"same name in another namespace", auth.Attributes{User: n1, Verb: "get", Resource: "secrets", Namespace: "other", Name: "vol-secret"}, false},
		{"another node's secret", auth.Attributes{User: nodeUser("n2"), Verb: "get", Resource: "secrets", Namespace: "ns", Name: "vol-secret"}, false},
		{"update a referenced secret", auth.Attributes{User: n1, Verb: "update", Resource: "secrets", Namespace: "ns", Name: "vol-secret"}, false},
		{"configmap its pod mounts", auth.Attributes{User: n1, Verb: "get", Resource: "configmaps", Namespace: "ns", Name: "vol-cm"}, true},
		{"its pod's service account", auth.Attributes{User: n1, Verb: "get", Resource: "serviceaccounts", Namespace: "ns", Name: "runner"}, true},
		{"token of its pod's service account", auth.Attributes{User: n1, Verb: "create", Resource: "serviceaccounts/token", Namespace: "ns", Name: "runner"}, true},
		{"token of another service account", auth.Attributes{User: n1, Verb: "create", Resource: "serviceaccounts/token", Namespace: "ns", Name: "default"}, false},

		{"get any node", auth.Attributes{User: n1, Verb: "get", Resource: "nodes", Name: "n2"}, true},
		{"list nodes", auth.Attributes{User: n1, Verb: "list", Resource: "nodes"}, true},
		{"create its node", auth.Attributes{User: n1, Verb: "create", Resource: "nodes", Name: "n1"}, true},
		{"update its node", auth.Attributes{User: n1, Verb: "update", Resource: "nodes", Name: "n1"}, true},
		{"update its node's status", auth.Attributes{User: n1, Verb: "update", Resource: "nodes/status", Name: "n1"}, true},
		{"update another node", auth.Attributes{User: n1, Verb: "update", Resource: "nodes", Name: "n2"}, false},
		{"update another node's status", auth.Attributes{User: n1, Verb: "update", Resource: "nodes/status", Name: "n2"}, false},
		{"delete another node", auth.Attributes{User: n1, Verb: "delete", Resource: "nodes", Name: "n2"}, false},

		{"its lease", auth.Attributes{User: n1, Verb: "update", Resource: "leases", APIGroup: "coordination.k8s.io", Namespace: "kube-node-lease", Name: "n1"}, true},
		{"create its lease", auth.Attributes{User: n1, Verb: "create", Resource: "leases", APIGroup: "coordination.k8s.io", Namespace: "kube-node-lease", Name: "n1"}, true},
		{"another node's lease", auth.Attributes{User: n1, Verb: "update", Resource: "leases", APIGroup: "coordination.k8s.io", Namespace: "kube-node-lease", Name: "n2"}, false},
		{"a lease elsewhere", auth.Attributes{User: n1, Verb: "get", Resource: "leases", APIGroup: "coordination.k8s.io", Namespace: "kube-system", Name: "n1"}, false},

		{"watch pods", auth.Attributes{User: n1, Verb: "watch", Resource: "pods"}, true},
		{"update pod status (NodeRestriction narrows it)", auth.Attributes{User: n1, Verb: "update", Resource: "pods/status", Namespace: "ns", Name: "p"}, true},
		{"create events", auth.Attributes{User: n1, Verb: "create", Resource: "events", Namespace: "ns"}, true},
		{"create a CSR", auth.Attributes{User: n1, Verb: "create", Resource: "certificatesigningrequests", APIGroup: "certificates.k8s.io"}, true},
		{"watch services", auth.Attributes{User: n1, Verb: "watch", Resource: "services"}, true},
		{"create a deployment", auth.Attributes{User: n1, Verb: "create", Resource: "deployments", APIGroup: "apps", Namespace: "ns"}, false},
		{"read a role", auth.Attributes{User: n1, Verb: "get", Resource: "roles", APIGroup: "rbac.authorization.k8s.io", Namespace: "ns", Name: "r"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, reason, err := z.Authorize(context.Background(), c.at)
			if err != nil || got != c.want {
				t.Fatalf("Authorize = %v (%q), %v; want %v", got, reason, err, c.want)
			}
		})
	}
}

func TestGraphFollowsPods(t *testing.T) {
	g := node.NewGraph()
	ref := node.Ref{Resource: "secrets", Namespace: "ns", Name: "vol-secret"}
	g.SetPod(pod("ns", "a", "n1"))
	g.SetPod(pod("ns", "b", "n1"))
	g.DeletePod("ns", "a")
	if !g.References("n1", ref) {
		t.Fatal("a reference another pod on the node still makes was dropped")
	}
	g.SetPod(pod("ns", "b", "n2")) // moved (recreated elsewhere)
	if g.References("n1", ref) || !g.References("n2", ref) {
		t.Fatal("the reference did not follow the pod to its new node")
	}
	g.SetPod(pod("ns", "b", "")) // unbound
	if g.References("n2", ref) {
		t.Fatal("an unbound pod still grants its references")
	}
	g.Replace([]*corev1.Pod{pod("ns", "c", "n3")})
	if !g.References("n3", ref) || g.References("n2", ref) {
		t.Fatal("Replace did not make the pods given the whole graph")
	}
}
