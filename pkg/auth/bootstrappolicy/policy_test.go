package bootstrappolicy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"keel.dev/keel/pkg/api"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/bootstrappolicy"
	"keel.dev/keel/pkg/auth/rbac"
	"keel.dev/keel/pkg/registry"
	_ "keel.dev/keel/pkg/registry/all"
)

// req is one request: "VERB GROUP/RESOURCE[/SUB] [NAMESPACE/]NAME", with
// "core" for the core group and "-" for no namespace or name.
type req string

func (r req) attrs(t *testing.T) auth.Attributes {
	t.Helper()
	f := strings.Fields(string(r))
	if len(f) != 3 {
		t.Fatalf("bad request %q", r)
	}
	group, resource, _ := strings.Cut(f[1], "/")
	if group == "core" {
		group = ""
	}
	a := auth.Attributes{Verb: f[0], APIGroup: group, Resource: resource}
	if f[2] != "-" {
		ns, name, ok := strings.Cut(f[2], "/")
		if !ok {
			name, ns = ns, ""
		}
		a.Namespace, a.Name = ns, name
	}
	return a
}

func allows(rules []*rbacv1.PolicyRule, a auth.Attributes) bool {
	return slices.ContainsFunc(rules, func(r *rbacv1.PolicyRule) bool { return rbac.RuleAllows(r, a) })
}

func role(t *testing.T, name string) *rbacv1.ClusterRole {
	t.Helper()
	for _, r := range bootstrappolicy.ClusterRoles() {
		if r.GetMetadata().GetName() == name {
			return r
		}
	}
	t.Fatalf("no bootstrap ClusterRole %q", name)
	return nil
}

// TestDaemonRoles: each daemon's role allows every request its code makes
// (read from pkg/scheduler, pkg/controller/..., pkg/proxy, pkg/kubelet)
// and refuses what it has no business doing.
func TestDaemonRoles(t *testing.T) {
	cases := []struct {
		role    string
		allowed []req
		refused []req
	}{
		{bootstrappolicy.Scheduler, []req{
			"list core/pods -", "watch core/pods -", "get core/pods team/web", "delete core/pods team/victim",
			"create core/pods/binding team/web", "update core/pods/status team/web",
			"list core/nodes -", "watch core/nodes -", "list core/namespaces -", "watch core/namespaces -",
			"create core/events team/-", "update core/events team/web.1",
			"create coordination.k8s.io/leases kube-system/-", "get coordination.k8s.io/leases kube-system/keel-scheduler",
			"update coordination.k8s.io/leases kube-system/keel-scheduler",
			"list core/persistentvolumes -", "watch core/persistentvolumes -", "list core/persistentvolumeclaims -",
			"watch core/persistentvolumeclaims -", "update core/persistentvolumeclaims team/data",
			"list storage.k8s.io/storageclasses -", "watch storage.k8s.io/storageclasses -",
			"list storage.k8s.io/csinodes -", "watch storage.k8s.io/csinodes -",
		}, []req{
			"update core/persistentvolumes pv1", "delete core/persistentvolumeclaims team/data", "update storage.k8s.io/storageclasses fast", "update storage.k8s.io/csinodes n1",
			"list core/secrets -", "get core/secrets team/token", "list core/configmaps -", "create core/pods team/-",
			"update core/pods team/web", "update core/nodes n1", "delete core/nodes n1",
			"update coordination.k8s.io/leases kube-system/keel-controller-manager",
			"update coordination.k8s.io/leases kube-node-lease/n1", "create rbac.authorization.k8s.io/clusterrolebindings -",
		}},
		{bootstrappolicy.ControllerManager, []req{
			"create coordination.k8s.io/leases kube-system/-", "update coordination.k8s.io/leases kube-system/keel-controller-manager",
			"create core/events team/-", "update core/events team/web.1",
			"list apps/replicasets -", "watch apps/replicasets -", "update apps/replicasets/status team/web",
			"create core/pods team/-", "delete core/pods team/web-1", "update core/pods team/web-1",
			"list apps/deployments -", "update apps/deployments/status team/web", "create apps/replicasets team/-",
			"update apps/replicasets team/web-1", "delete apps/replicasets team/web-1",
			"list batch/jobs -", "update batch/jobs/status team/j", "delete batch/jobs team/j",
			"list core/services -", "create core/endpoints team/-", "update core/endpoints team/web", "delete core/endpoints team/web",
			"list core/nodes -", "update core/nodes n1", "update core/nodes/status n1", "get core/nodes n1",
			"update core/pods/status team/web", "create discovery.k8s.io/endpointslices team/-",
			"list coordination.k8s.io/leases -", "watch coordination.k8s.io/leases -",
			"list core/namespaces -", "update core/namespaces team", "create core/serviceaccounts team/-",
			"list core/serviceaccounts -",
			// The namespace controller empties a namespace of every kind.
			"list core/secrets team/-", "delete core/secrets team/token", "delete rbac.authorization.k8s.io/rolebindings team/b",
			// The garbage collector reads owners of any kind and deletes dependents.
			"get core/namespaces team", "get apps/deployments team/web", "update core/configmaps team/c",
			"list rbac.authorization.k8s.io/roles -", "watch rbac.authorization.k8s.io/roles -",
			// The aggregation controller.
			"list rbac.authorization.k8s.io/clusterroles -", "update rbac.authorization.k8s.io/clusterroles admin",
			"escalate rbac.authorization.k8s.io/clusterroles admin",
			// The root CA publisher.
			"list core/configmaps -", "watch core/configmaps -", "create core/configmaps team/-",
			"update core/configmaps team/kube-root-ca.crt",
		}, []req{
			"create core/secrets team/-", "update core/secrets/status team/x", "create core/pods/binding team/web",
			"create core/namespaces -",
			// (The garbage collector may update and delete any Lease, as
			// it may any object of a garbage-collected kind.)
			"delete core/nodes n1", "create rbac.authorization.k8s.io/clusterrolebindings -", "bind rbac.authorization.k8s.io/clusterroles cluster-admin",
			"create rbac.authorization.k8s.io/clusterroles -", "create core/pods/exec team/web",
		}},
		{bootstrappolicy.NodeProxier, []req{
			"list core/services -", "watch core/services -", "list core/endpoints -", "watch core/endpoints -",
			"list discovery.k8s.io/endpointslices -", "watch discovery.k8s.io/endpointslices -",
		}, []req{
			"get core/services team/web", "update core/endpoints team/web", "update discovery.k8s.io/endpointslices team/web-abcde", "list core/pods -", "list core/secrets -",
			"list core/nodes -",
		}},
		{bootstrappolicy.Node, []req{
			"create core/nodes -", "get core/nodes n1", "update core/nodes n1", "list core/nodes -", "watch core/nodes -",
			"update core/nodes/status n1",
			"get coordination.k8s.io/leases kube-node-lease/n1", "create coordination.k8s.io/leases kube-node-lease/-",
			"update coordination.k8s.io/leases kube-node-lease/n1",
			"list core/pods -", "watch core/pods -", "get core/pods team/web", "delete core/pods team/web",
			"update core/pods/status team/web",
			"list core/configmaps -", "get core/configmaps team/c", "list core/secrets -", "get core/secrets team/s",
			"list core/services team/-", "watch core/services -",
			"create core/events team/-", "update core/events team/e",
			"create core/serviceaccounts/token team/default",
			"get core/persistentvolumeclaims team/data", "get core/persistentvolumes pv-1", "get storage.k8s.io/volumeattachments csi-1",
			"create storage.k8s.io/csinodes n1", "update storage.k8s.io/csinodes n1", "get storage.k8s.io/csinodes n1",
			"list storage.k8s.io/csidrivers -", "watch storage.k8s.io/csidrivers -",
			"get node.k8s.io/runtimeclasses gvisor", "watch node.k8s.io/runtimeclasses -",
		}, []req{
			"create node.k8s.io/runtimeclasses -", "update node.k8s.io/runtimeclasses gvisor",
			"create core/persistentvolumeclaims team/-", "update core/persistentvolumes pv-1", "create core/persistentvolumes -",
			"update storage.k8s.io/volumeattachments csi-1", "create storage.k8s.io/csidrivers -", "list storage.k8s.io/storageclasses -",
			"create core/pods team/-", "update core/pods team/web", "create core/pods/binding team/web",
			"delete core/nodes n1", "update core/secrets team/s", "create core/configmaps team/-",
			"delete coordination.k8s.io/leases kube-node-lease/n1", "list core/endpoints -", "get core/namespaces team",
			"create rbac.authorization.k8s.io/rolebindings team/-",
		}},
	}
	for _, c := range cases {
		rules := role(t, c.role).GetRules()
		for _, r := range c.allowed {
			if !allows(rules, r.attrs(t)) {
				t.Errorf("%s refused %q, which its daemon does", c.role, r)
			}
		}
		for _, r := range c.refused {
			if allows(rules, r.attrs(t)) {
				t.Errorf("%s allowed %q", c.role, r)
			}
		}
	}
}

// TestControllerManagerCoversEveryKind: the garbage collector and the
// namespace controller work on every registered kind (as their code
// does), so a kind added later is covered without a policy change.
func TestControllerManagerCoversEveryKind(t *testing.T) {
	rules := role(t, bootstrappolicy.ControllerManager).GetRules()
	for _, s := range registry.All() {
		k := s.Info()
		if !k.Stored() {
			continue // never stored: nothing to collect
		}
		ns := ""
		if k.Namespaced {
			ns = "team"
		}
		check := func(verb, name string) {
			a := auth.Attributes{Verb: verb, APIGroup: k.Group, Resource: k.Resource, Namespace: ns, Name: name}
			if !allows(rules, a) {
				t.Errorf("the controller-manager may not %s %s", verb, k.QualifiedResource())
			}
		}
		check("get", "x")
		if k.Namespaced {
			check("list", "")
			check("delete", "x")
		}
		if s.Watched().GarbageCollected {
			for _, v := range []string{"list", "watch", "update", "delete"} {
				check(v, map[bool]string{true: "", false: "x"}[v == "list" || v == "watch"])
			}
		}
	}
}

// TestPolicyShape: every object is labelled and annotated as Kubernetes'
// bootstrap policy, every binding names an existing role, and the
// bindings give each daemon's identity its role.
func TestPolicyShape(t *testing.T) {
	roles := map[string]*rbacv1.ClusterRole{}
	for _, r := range bootstrappolicy.ClusterRoles() {
		m := r.GetMetadata()
		if roles[m.GetName()] != nil {
			t.Errorf("ClusterRole %s twice", m.GetName())
		}
		roles[m.GetName()] = r
		if m.GetLabels()[bootstrappolicy.LabelBootstrapping] != "rbac-defaults" || m.GetAnnotations()[bootstrappolicy.AnnotationAutoupdate] != "true" {
			t.Errorf("ClusterRole %s: labels %v annotations %v", m.GetName(), m.GetLabels(), m.GetAnnotations())
		}
		if (r.GetAggregationRule() == nil) == (len(r.GetRules()) == 0) {
			t.Errorf("ClusterRole %s: want rules or an aggregation rule, has %d rules and %v", m.GetName(), len(r.GetRules()), r.GetAggregationRule())
		}
		for _, rule := range r.GetRules() {
			if slices.Contains(rule.GetVerbs(), "*") && m.GetName() != bootstrappolicy.ClusterAdmin {
				t.Errorf("ClusterRole %s grants every verb: %v", m.GetName(), rule)
			}
		}
	}
	want := map[string]string{
		"cluster-admin":                                 "Group:system:masters",
		"system:kube-scheduler":                         "User:system:kube-scheduler",
		"system:kube-controller-manager":                "User:system:kube-controller-manager",
		"system:node-proxier":                           "User:system:kube-proxy",
		"system:monitoring":                             "Group:system:monitoring",
		"system:discovery":                              "Group:system:authenticated",
		"system:basic-user":                             "Group:system:authenticated",
		"system:public-info-viewer":                     "Group:system:authenticated Group:system:unauthenticated",
		"kubeadm:kubelet-bootstrap":                     "Group:system:bootstrappers",
		"kubeadm:node-autoapprove-bootstrap":            "Group:system:bootstrappers",
		"kubeadm:node-autoapprove-certificate-rotation": "Group:system:nodes",
	}
	// Each controller's role is bound to its ServiceAccount, with
	// Kubernetes' names.
	for _, sa := range []string{"replicaset-controller", "deployment-controller", "daemon-set-controller", "job-controller", "cronjob-controller", "endpoint-controller",
		"endpointslice-controller", "node-controller", "pod-garbage-collector", "service-account-controller", "namespace-controller",
		"generic-garbage-collector", "root-ca-cert-publisher", "token-cleaner", "certificate-controller",
		"clusterrole-aggregation-controller", "replication-controller", "resourcequota-controller", "disruption-controller",
		"statefulset-controller", "persistent-volume-binder", "pvc-protection-controller", "pv-protection-controller", "attachdetach-controller", "csi-attacher"} {
		want["system:controller:"+sa] = "ServiceAccount:kube-system/" + sa
	}
	got := map[string]string{}
	for _, b := range bootstrappolicy.ClusterRoleBindings() {
		m := b.GetMetadata()
		if m.GetLabels()[bootstrappolicy.LabelBootstrapping] != "rbac-defaults" || m.GetAnnotations()[bootstrappolicy.AnnotationAutoupdate] != "true" {
			t.Errorf("ClusterRoleBinding %s: labels %v annotations %v", m.GetName(), m.GetLabels(), m.GetAnnotations())
		}
		ref := b.GetRoleRef()
		if ref.GetKind() != api.RoleKindClusterRole || ref.GetApiGroup() != api.GroupRBAC || roles[ref.GetName()] == nil || ref.GetName() != m.GetName() && !strings.HasPrefix(m.GetName(), "kubeadm:") {
			t.Errorf("ClusterRoleBinding %s: roleRef %v", m.GetName(), ref)
		}
		var subjects []string
		for _, s := range b.GetSubjects() {
			if want := map[bool]string{true: "", false: api.GroupRBAC}[s.GetKind() == api.SubjectKindServiceAccount]; s.GetApiGroup() != want {
				t.Errorf("ClusterRoleBinding %s: subject %v with API group %q", m.GetName(), s, s.GetApiGroup())
			}
			if s.GetKind() == api.SubjectKindServiceAccount {
				subjects = append(subjects, s.GetKind()+":"+s.GetNamespace()+"/"+s.GetName())
				continue
			}
			subjects = append(subjects, s.GetKind()+":"+s.GetName())
		}
		got[m.GetName()] = strings.Join(subjects, " ")
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bindings\n got %v\nwant %v", got, want)
	}
	// Kubernetes does not bind system:node: the Node authorizer (or the
	// operator) decides what nodes may do.
	if _, ok := got[bootstrappolicy.Node]; ok {
		t.Error("system:node is bound")
	}
}

// TestCompact: compaction grants exactly what its input grants.
func TestCompact(t *testing.T) {
	in := []*rbacv1.PolicyRule{
		{Verbs: []string{"list", "watch"}, ApiGroups: []string{""}, Resources: []string{"pods", "nodes"}},
		{Verbs: []string{"delete", "list"}, ApiGroups: []string{""}, Resources: []string{"pods"}},
		{Verbs: []string{"get"}, ApiGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{"a"}},
		{Verbs: []string{"create"}, ApiGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}},
		{Verbs: []string{"get"}, NonResourceUrls: []string{"/metrics"}},
	}
	out := bootstrappolicy.Compact(in)
	if len(out) != 5 {
		t.Errorf("compacted to %d rules, want 5: %v", len(out), out)
	}
	if missing := rbac.Uncovered(out, in); len(missing) > 0 {
		t.Errorf("compaction lost %v", missing)
	}
	if extra := rbac.Uncovered(in, out); len(extra) > 0 {
		t.Errorf("compaction added %v", extra)
	}
}

// TestControllerRoles: under --use-service-account-credentials each
// controller's ServiceAccount may do what that controller does and not
// what the others do; system:kube-controller-manager holds every
// controller's rules (the controllers act as it by default) and may
// create the controllers' ServiceAccounts and request their tokens only.
func TestControllerRoles(t *testing.T) {
	cases := []struct {
		serviceAccount   string
		allowed, refused []req
	}{
		{"replicaset-controller", []req{
			"list apps/replicasets -", "update apps/replicasets/status team/web", "create core/pods team/-",
			"delete core/pods team/web-1", "create core/events team/-",
		}, []req{
			"create apps/replicasets team/-", "update apps/deployments/status team/web", "create core/endpoints team/-",
			"update coordination.k8s.io/leases kube-system/keel-controller-manager", "create core/serviceaccounts/token kube-system/replicaset-controller",
		}},
		{"deployment-controller", []req{
			"list apps/deployments -", "update apps/deployments/status team/web", "create apps/replicasets team/-",
			"delete apps/replicasets team/web-1", "list core/pods -", "create core/events team/-",
		}, []req{"create core/pods team/-", "delete core/pods team/web-1", "update apps/replicasets/status team/web"}},
		{"daemon-set-controller", []req{
			"list apps/daemonsets -", "get apps/daemonsets team/agent", "update apps/daemonsets/status team/agent", "list core/nodes -", "create core/pods team/-",
			"delete core/pods team/agent-x", "update core/pods team/agent-x", "create apps/controllerrevisions team/-",
			"delete apps/controllerrevisions team/agent-1", "create core/events team/-",
		}, []req{"update apps/daemonsets team/agent", "update core/pods/status team/agent-x", "update core/nodes n1", "create apps/replicasets team/-"}},
		{"statefulset-controller", []req{
			"list apps/statefulsets -", "update apps/statefulsets/status team/web", "create core/pods team/-",
			"delete core/pods team/web-1", "create apps/controllerrevisions team/-", "delete apps/controllerrevisions team/web-1",
			"create core/events team/-", "watch core/persistentvolumeclaims -", "create core/persistentvolumeclaims team/-",
			"update core/persistentvolumeclaims team/www-web-0",
		}, []req{
			"update apps/statefulsets team/web", "create apps/replicasets team/-", "create core/secrets team/-",
			"delete core/persistentvolumeclaims team/www-web-0", "update core/persistentvolumeclaims/status team/www-web-0",
		}},
		{"job-controller", []req{"update batch/jobs/status team/j", "create core/pods team/-"},
			[]req{"create apps/replicasets team/-", "update core/nodes n1"}},
		{"cronjob-controller", []req{"list batch/cronjobs -", "update batch/cronjobs/status team/c", "create batch/jobs team/-", "delete batch/jobs team/c-1", "create core/events team/-"},
			[]req{"update batch/cronjobs team/c", "create core/pods team/-", "update batch/jobs/status team/c-1"}},
		{"endpoint-controller", []req{"list core/services -", "update core/endpoints team/web"},
			[]req{"create core/pods team/-", "create core/events team/-"}},
		{"endpointslice-controller", []req{"list core/services -", "list core/nodes -", "watch core/pods -", "watch core/endpoints -",
			"create discovery.k8s.io/endpointslices team/-", "update discovery.k8s.io/endpointslices team/web-abcde", "delete discovery.k8s.io/endpointslices team/web-abcde"},
			[]req{"update core/endpoints team/web", "create core/pods team/-", "update core/services team/web"}},
		{"node-controller", []req{"update core/nodes/status n1", "list coordination.k8s.io/leases -", "delete core/pods team/web",
			"update core/pods/status team/web"},
			[]req{"create core/pods team/-", "delete core/nodes n1"}},
		{"pod-garbage-collector", []req{"delete core/pods team/web", "get core/nodes n1"}, []req{"update core/nodes n1"}},
		{"service-account-controller", []req{"create core/serviceaccounts team/-"}, []req{"create core/serviceaccounts/token team/default"}},
		{"namespace-controller", []req{"update core/namespaces team", "delete core/secrets team/s", "delete rbac.authorization.k8s.io/rolebindings team/b",
			"delete stable.example.com/crontabs team/c"},
			[]req{"create core/pods team/-"}},
		{"generic-garbage-collector", []req{"get apps/deployments team/web", "delete core/pods team/web", "update core/configmaps team/c",
			"list apiextensions.k8s.io/customresourcedefinitions -", "delete stable.example.com/crontabs team/c"},
			[]req{"create core/pods team/-"}},
		{"root-ca-cert-publisher", []req{"create core/configmaps team/-", "update core/configmaps team/kube-root-ca.crt"},
			[]req{"list core/secrets -"}},
		{"token-cleaner", []req{"delete core/secrets kube-system/bootstrap-token-abcdef"}, []req{"create core/secrets team/-"}},
		{"certificate-controller", []req{
			"update certificates.k8s.io/certificatesigningrequests/approval c", "update certificates.k8s.io/certificatesigningrequests/status c",
			"delete certificates.k8s.io/certificatesigningrequests c", "list certificates.k8s.io/certificatesigningrequests -",
			"create authorization.k8s.io/subjectaccessreviews -",
		}, []req{"create core/pods team/-", "create certificates.k8s.io/certificatesigningrequests -"}},
		{"disruption-controller", []req{
			"list policy/poddisruptionbudgets -", "update policy/poddisruptionbudgets/status team/web", "list core/pods -",
			"list apps/replicasets -", "list apps/deployments -", "get apps/replicasets team/web", "create core/events team/-",
		}, []req{"update policy/poddisruptionbudgets team/web", "create core/pods/eviction team/web", "delete core/pods team/web"}},
		{"persistent-volume-binder", []req{
			"list core/persistentvolumes -", "get core/persistentvolumes pv-1", "create core/persistentvolumes -", "update core/persistentvolumes/status pv-1",
			"delete core/persistentvolumes pv-1", "update core/persistentvolumeclaims team/data", "update core/persistentvolumeclaims/status team/data",
			"get core/persistentvolumeclaims team/data", "list storage.k8s.io/storageclasses -", "list core/nodes -", "create core/events team/-",
			"get storage.k8s.io/csinodes n1",
		}, []req{"delete core/persistentvolumeclaims team/data", "create core/persistentvolumeclaims team/-", "update storage.k8s.io/storageclasses fast", "get core/secrets team/s",
			"update storage.k8s.io/csinodes n1"}},
		{"attachdetach-controller", []req{"list core/pods -", "watch core/persistentvolumeclaims -", "list core/persistentvolumes -", "list storage.k8s.io/csidrivers -",
			"create storage.k8s.io/volumeattachments -", "delete storage.k8s.io/volumeattachments csi-1"},
			[]req{"update storage.k8s.io/volumeattachments csi-1", "update storage.k8s.io/volumeattachments/status csi-1", "update core/persistentvolumes pv-1"}},
		{"csi-attacher", []req{"list storage.k8s.io/volumeattachments -", "update storage.k8s.io/volumeattachments csi-1",
			"update storage.k8s.io/volumeattachments/status csi-1", "list core/persistentvolumes -", "watch storage.k8s.io/csinodes -"},
			[]req{"create storage.k8s.io/volumeattachments -", "delete storage.k8s.io/volumeattachments csi-1", "update core/persistentvolumes pv-1", "get core/secrets team/s"}},
		{"pvc-protection-controller", []req{"list core/persistentvolumeclaims -", "update core/persistentvolumeclaims team/data", "list core/pods team/-"},
			[]req{"delete core/persistentvolumeclaims team/data", "update core/persistentvolumes pv-1", "update core/pods team/web"}},
		{"pv-protection-controller", []req{"list core/persistentvolumes -", "update core/persistentvolumes pv-1"},
			[]req{"delete core/persistentvolumes pv-1", "update core/persistentvolumeclaims team/data"}},
		{"clusterrole-aggregation-controller", []req{"update rbac.authorization.k8s.io/clusterroles admin", "escalate rbac.authorization.k8s.io/clusterroles admin"},
			[]req{"create rbac.authorization.k8s.io/clusterroles -", "create core/pods team/-"}},
		{"replication-controller", []req{"list core/replicationcontrollers -", "update core/replicationcontrollers/status team/web",
			"create core/pods team/-", "delete core/pods team/web-1", "create core/events team/-"},
			[]req{"create core/replicationcontrollers team/-", "update apps/replicasets/status team/web"}},
		{"resourcequota-controller", []req{"update core/resourcequotas/status team/q", "list core/pods -", "watch core/configmaps -", "list apps/deployments -"},
			[]req{"update core/resourcequotas team/q", "get core/secrets team/s", "create core/pods team/-"}},
	}
	cm := role(t, bootstrappolicy.ControllerManager).GetRules()
	if got, want := len(cases), len(bootstrappolicy.ControllerServiceAccounts()); got != want {
		t.Errorf("%d controller ServiceAccounts tested, %d exist", got, want)
	}
	for _, c := range cases {
		rules := role(t, bootstrappolicy.ControllerRolePrefix+c.serviceAccount).GetRules()
		for _, r := range c.allowed {
			if !allows(rules, r.attrs(t)) {
				t.Errorf("%s refused %q, which its controller does", c.serviceAccount, r)
			}
		}
		for _, r := range c.refused {
			if allows(rules, r.attrs(t)) {
				t.Errorf("%s allowed %q", c.serviceAccount, r)
			}
		}
		// The one exception: writes on every group (the collector's and the
		// namespace controller's, for custom resources) stay with their
		// ServiceAccounts.
		missing := slices.DeleteFunc(rbac.Uncovered(cm, rules), func(r string) bool {
			return strings.HasPrefix(r, `{APIGroups:["*"], Resources:["*"], Verbs:["`) &&
				(strings.Contains(r, `Verbs:["update"]`) || strings.Contains(r, `Verbs:["delete"]`))
		})
		if len(missing) > 0 {
			t.Errorf("%s lacks %s's rules %v", bootstrappolicy.ControllerManager, c.serviceAccount, missing)
		}
		if !allows(cm, req("create core/serviceaccounts/token kube-system/"+c.serviceAccount).attrs(t)) {
			t.Errorf("%s may not request a token of %s", bootstrappolicy.ControllerManager, c.serviceAccount)
		}
	}
	for _, r := range []req{"create core/serviceaccounts/token kube-system/default", "create core/serviceaccounts/token team/builder"} {
		if allows(cm, r.attrs(t)) {
			t.Errorf("%s allowed %q", bootstrappolicy.ControllerManager, r)
		}
	}
	if !allows(cm, req("create core/serviceaccounts kube-system/-").attrs(t)) {
		t.Errorf("%s may not create the controllers' ServiceAccounts", bootstrappolicy.ControllerManager)
	}
}

// TestDisruptionRules: as in Kubernetes, edit (and so admin) may evict
// pods and write PodDisruptionBudgets; view may read budgets only.
func TestDisruptionRules(t *testing.T) {
	edit, view := role(t, bootstrappolicy.AggregateToEdit).GetRules(), role(t, bootstrappolicy.AggregateToView).GetRules()
	for _, r := range []req{"create core/pods/eviction team/web", "create policy/poddisruptionbudgets team/-", "delete policy/poddisruptionbudgets team/web"} {
		if !allows(edit, r.attrs(t)) {
			t.Errorf("edit refused %q", r)
		}
		if allows(view, r.attrs(t)) {
			t.Errorf("view allowed %q", r)
		}
	}
	for _, r := range []req{"get policy/poddisruptionbudgets team/web", "list policy/poddisruptionbudgets -", "get policy/poddisruptionbudgets/status team/web"} {
		if !allows(view, r.attrs(t)) {
			t.Errorf("view refused %q", r)
		}
	}
}

// TestStreamingRules: as in Kubernetes, edit (and so admin) may exec in,
// attach to and port-forward to pods (verb create, as kubectl's sessions
// are authorized); view may not.
func TestStreamingRules(t *testing.T) {
	edit, view := role(t, bootstrappolicy.AggregateToEdit).GetRules(), role(t, bootstrappolicy.AggregateToView).GetRules()
	for _, r := range []req{"create core/pods/exec team/web", "create core/pods/attach team/web", "create core/pods/portforward team/web"} {
		if !allows(edit, r.attrs(t)) {
			t.Errorf("edit refused %q", r)
		}
		if allows(view, r.attrs(t)) {
			t.Errorf("view allowed %q", r)
		}
	}
}

// TestClaimRules: as in Kubernetes, edit (and so admin) may write
// PersistentVolumeClaims and view may read them; neither touches
// PersistentVolumes or StorageClasses, which are the cluster's.
func TestClaimRules(t *testing.T) {
	edit, view := role(t, bootstrappolicy.AggregateToEdit).GetRules(), role(t, bootstrappolicy.AggregateToView).GetRules()
	for _, r := range []req{"create core/persistentvolumeclaims team/-", "update core/persistentvolumeclaims team/data", "delete core/persistentvolumeclaims team/data"} {
		if !allows(edit, r.attrs(t)) {
			t.Errorf("edit refused %q", r)
		}
		if allows(view, r.attrs(t)) {
			t.Errorf("view allowed %q", r)
		}
	}
	for _, r := range []req{"get core/persistentvolumeclaims team/data", "list core/persistentvolumeclaims team/-", "get core/persistentvolumeclaims/status team/data"} {
		if !allows(view, r.attrs(t)) {
			t.Errorf("view refused %q", r)
		}
	}
	for _, r := range []req{"create core/persistentvolumes -", "delete storage.k8s.io/storageclasses standard", "update core/persistentvolumeclaims/status team/data"} {
		if allows(edit, r.attrs(t)) {
			t.Errorf("edit allowed %q", r)
		}
	}
}

// TestNetworkingRules: as in Kubernetes, edit (and so admin) may write
// Ingresses and NetworkPolicies and view may read them (and the
// Ingresses' status); neither writes an
// Ingress's status (its controller's) nor IngressClasses, which are the
// cluster's.
func TestNetworkingRules(t *testing.T) {
	edit, view := role(t, bootstrappolicy.AggregateToEdit).GetRules(), role(t, bootstrappolicy.AggregateToView).GetRules()
	for _, r := range []req{"create networking.k8s.io/ingresses team/-", "update networking.k8s.io/ingresses team/web", "patch networking.k8s.io/ingresses team/web",
		"delete networking.k8s.io/ingresses team/web", "deletecollection networking.k8s.io/ingresses team/-",
		"create networking.k8s.io/networkpolicies team/-", "patch networking.k8s.io/networkpolicies team/deny-all", "delete networking.k8s.io/networkpolicies team/deny-all"} {
		if !allows(edit, r.attrs(t)) {
			t.Errorf("edit refused %q", r)
		}
		if allows(view, r.attrs(t)) {
			t.Errorf("view allowed %q", r)
		}
	}
	for _, r := range []req{"get networking.k8s.io/ingresses team/web", "list networking.k8s.io/ingresses team/-", "watch networking.k8s.io/ingresses team/-",
		"get networking.k8s.io/ingresses/status team/web", "get networking.k8s.io/networkpolicies team/deny-all", "list networking.k8s.io/networkpolicies team/-"} {
		if !allows(view, r.attrs(t)) {
			t.Errorf("view refused %q", r)
		}
	}
	for _, r := range []req{"update networking.k8s.io/ingresses/status team/web", "create networking.k8s.io/ingressclasses -", "delete networking.k8s.io/ingressclasses nginx"} {
		if allows(edit, r.attrs(t)) || allows(view, r.attrs(t)) {
			t.Errorf("edit or view allowed %q", r)
		}
	}
}
