// Command authz-bench measures authorization decisions as the apiserver
// makes them with --authorization-mode=Node,RBAC (system:masters first,
// then the Node authorizer, then RBAC), in process: the Node authorizer's
// graph holds -pods pods spread over -nodes nodes, each pod referencing a
// Secret and a ConfigMap, and RBAC reads the bootstrap ClusterRoleBindings
// plus -bindings RoleBindings in one namespace, finding a caller's through
// the subject index (rbac.Index) the apiserver keeps. It prints the p50 and p99
// of each kind of request.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"keel.dev/keel/hack/bench/benchutil"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
	"keel.dev/keel/pkg/auth/node"
	"keel.dev/keel/pkg/auth/rbac"
)

var (
	pods     = flag.Int("pods", 10000, "pods in the node graph")
	nodes    = flag.Int("nodes", 100, "nodes the pods are spread over")
	bindings = flag.Int("bindings", 1000, "RoleBindings in the namespace the requests are in")
	requests = flag.Int("requests", 20000, "decisions measured per kind of request")
	runs     = flag.Int("runs", 3, "repetitions")
)

// roles is rbac.Roles over fixed roles, the bindings found through an
// rbac.Index as the apiserver finds them.
type roles struct {
	*rbac.Index
	crs   map[string]*rbacv1.ClusterRole
	roles map[string]*rbacv1.Role
}

func (r roles) ClusterRole(name string) *rbacv1.ClusterRole { return r.crs[name] }
func (r roles) Role(ns, name string) *rbacv1.Role           { return r.roles[ns+"/"+name] }

func main() {
	flag.Parse()
	const ns = "bench"
	g := node.NewGraph()
	var all []*corev1.Pod
	for i := 0; i < *pods; i++ {
		all = append(all, &corev1.Pod{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: "pod-" + strconv.Itoa(i)}, Spec: &corev1.PodSpec{
			NodeName:           "node-" + strconv.Itoa(i%*nodes),
			ServiceAccountName: "default",
			Volumes: []*corev1.Volume{
				{Name: "s", Secret: &corev1.SecretVolumeSource{SecretName: "secret-" + strconv.Itoa(i)}},
				{Name: "c", ConfigMap: &corev1.ConfigMapVolumeSource{Name: "cm-" + strconv.Itoa(i)}},
			}}})
	}
	g.Replace(all)

	r := roles{Index: rbac.NewIndex(), crs: map[string]*rbacv1.ClusterRole{}, roles: map[string]*rbacv1.Role{}}
	crbs := bootstrappolicy.ClusterRoleBindings()
	r.ReplaceClusterRoleBindings(crbs)
	for _, cr := range bootstrappolicy.ClusterRoles() {
		r.crs[cr.GetMetadata().GetName()] = cr
	}
	r.roles[ns+"/pod-reader"] = &rbacv1.Role{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: "pod-reader"},
		Rules: []*rbacv1.PolicyRule{{Verbs: []string{"get", "list", "watch"}, ApiGroups: []string{""}, Resources: []string{"pods"}}}}
	var rbs []*rbacv1.RoleBinding
	for i := 0; i < *bindings; i++ {
		rbs = append(rbs, &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: "b-" + strconv.Itoa(i)},
			RoleRef:  &rbacv1.RoleRef{ApiGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "pod-reader"},
			Subjects: []*rbacv1.Subject{{Kind: "User", ApiGroup: "rbac.authorization.k8s.io", Name: "user-" + strconv.Itoa(i)}}})
	}
	r.ReplaceRoleBindings(rbs)
	chain := []auth.Authorizer{
		auth.AuthorizerFunc(func(_ context.Context, a auth.Attributes) (bool, string, error) {
			return a.User.InGroup(auth.GroupMasters), "", nil
		}),
		node.New(g),
		rbac.Authorizer{Roles: r},
	}
	authorize := func(a auth.Attributes) bool {
		for _, z := range chain {
			if ok, _, _ := z.Authorize(context.Background(), a); ok {
				return true
			}
		}
		return false
	}

	kubelet := auth.User{Name: auth.NodeUser("node-7"), Groups: []string{auth.GroupNodes, auth.GroupAuthenticated}}
	last := auth.User{Name: "user-" + strconv.Itoa(*bindings-1), Groups: []string{auth.GroupAuthenticated}}
	stranger := auth.User{Name: "stranger", Groups: []string{auth.GroupAuthenticated}}
	kinds := []struct {
		name string
		a    auth.Attributes
		want bool
	}{
		{"kubelet gets its pod's Secret (Node allows)", auth.Attributes{User: kubelet, Verb: "get", Resource: "secrets", Namespace: ns, Name: "secret-7"}, true},
		{"kubelet gets another node's Secret (Node, then RBAC, deny)", auth.Attributes{User: kubelet, Verb: "get", Resource: "secrets", Namespace: ns, Name: "secret-8"}, false},
		{"user bound by the last RoleBinding lists pods (RBAC allows)", auth.Attributes{User: last, Verb: "list", Resource: "pods", Namespace: ns}, true},
		{"unbound user lists pods (RBAC denies)", auth.Attributes{User: stranger, Verb: "list", Resource: "pods", Namespace: ns}, false},
	}
	fmt.Printf("authz: in-process Node,RBAC decisions; %d pods on %d nodes in the node graph, %d RoleBindings in the namespace, %d bootstrap ClusterRoleBindings; %d decisions per kind, %d runs\n",
		g.Len(), *nodes, *bindings, len(crbs), *requests, *runs)
	fmt.Printf("machine: %s\n", benchutil.Machine())
	for _, k := range kinds {
		var p50, p99 []float64
		for run := 0; run < *runs; run++ {
			d := make(benchutil.Durations, 0, *requests)
			for i := 0; i < *requests; i++ {
				start := time.Now()
				got := authorize(k.a)
				d = append(d, time.Since(start))
				if got != k.want {
					fmt.Fprintf(os.Stderr, "%s: decided %v, want %v\n", k.name, got, k.want)
					os.Exit(1)
				}
			}
			p50 = append(p50, float64(d.Percentile(50).Nanoseconds())/1e3)
			p99 = append(p99, float64(d.Percentile(99).Nanoseconds())/1e3)
		}
		fmt.Printf("  %-62s p50 %s µs   p99 %s µs (min / median / max of runs)\n", k.name, benchutil.Spread(p50, "%.1f"), benchutil.Spread(p99, "%.1f"))
	}
}
