// Package bootstrappolicy is the RBAC policy every cluster has: the
// ClusterRoles and ClusterRoleBindings the apiserver reconciles at start
// (see Reconcile), with Kubernetes' names, labels and annotations.
//
// The daemons' roles grant what each Keel daemon does and nothing more:
// the verbs and resources its code calls (including its leader-election
// Lease and the Events it records). The controller-manager's garbage
// collector and namespace controller act on every kind the apiserver
// serves, as they do in their code, so their rules are derived from the
// registered kinds (pkg/registry) when ClusterRoles is called; every other
// rule names its resources.
//
// The user-facing roles admin, edit and view are aggregated, as in
// Kubernetes: their rules are filled in by the clusterrole-aggregation
// controller from the system:aggregate-to-* roles (and any ClusterRole an
// operator labels to join them).
//
// Everything here is a pure function of its inputs (and of the registered
// kinds); the apiserver does the writing.
package bootstrappolicy

import (
	"cmp"
	"maps"
	"slices"
	"strings"

	"keel.dev/keel/pkg/api"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/bootstraptoken"
	"keel.dev/keel/pkg/registry"
)

// ControllerRolePrefix begins the name of each controller's ClusterRole and
// ClusterRoleBinding: system:controller:SERVICEACCOUNT, as in Kubernetes.
const ControllerRolePrefix = "system:controller:"

// Labels and annotations of the bootstrap policy, with Kubernetes' names.
const (
	// LabelBootstrapping, with value BootstrappingRBACDefaults, marks every
	// object of the bootstrap policy.
	LabelBootstrapping        = "kubernetes.io/bootstrapping"
	BootstrappingRBACDefaults = "rbac-defaults"
	// AnnotationAutoupdate: the apiserver reconciles an object of the
	// bootstrap policy at start unless this annotation is "false".
	AnnotationAutoupdate = "rbac.authorization.kubernetes.io/autoupdate"
	// A ClusterRole with one of these labels set to "true" adds its rules
	// to admin, edit or view.
	LabelAggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	LabelAggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	LabelAggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// Names of the bootstrap ClusterRoles (and of the ClusterRoleBindings that
// give them).
const (
	ClusterAdmin     = "cluster-admin"
	Admin            = "admin"
	Edit             = "edit"
	View             = "view"
	AggregateToAdmin = "system:aggregate-to-admin"
	AggregateToEdit  = "system:aggregate-to-edit"
	AggregateToView  = "system:aggregate-to-view"
	// AggregatedMetricsReader reads metrics.k8s.io (kubectl top); it is
	// aggregated into view, edit and admin, as metrics-server's install
	// does.
	AggregatedMetricsReader = "system:aggregated-metrics-reader"
	Scheduler               = "system:kube-scheduler"
	ControllerManager       = "system:kube-controller-manager"
	NodeProxier             = "system:node-proxier"
	Node                    = "system:node"
	PublicInfoViewer        = "system:public-info-viewer"
	Discovery               = "system:discovery"
	Monitoring              = "system:monitoring"
	BasicUser               = "system:basic-user"

	// NodeBootstrapper may create and read CertificateSigningRequests:
	// what a joining kubelet's bootstrap identity needs.
	NodeBootstrapper = "system:node-bootstrapper"
	// NodeClient and SelfNodeClient are what the csrapproving controller
	// asks for (SubjectAccessReview) before it approves a kubelet client
	// CSR: "create" on certificatesigningrequests/nodeclient lets a
	// bootstrap identity get a node certificate, on
	// certificatesigningrequests/selfnodeclient lets a node renew its own.
	NodeClient     = "system:certificates.k8s.io:certificatesigningrequests:nodeclient"
	SelfNodeClient = "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient"
	// The approver roles: "approve" on one signer each.
	KubeAPIServerClientApprover        = "system:certificates.k8s.io:kube-apiserver-client-approver"
	KubeAPIServerClientKubeletApprover = "system:certificates.k8s.io:kube-apiserver-client-kubelet-approver"
	KubeletServingApprover             = "system:certificates.k8s.io:kubelet-serving-approver"

	// The bindings that let bootstrap tokens join nodes and nodes renew
	// their certificates, with kubeadm's names.
	KubeletBootstrapBinding            = "kubeadm:kubelet-bootstrap"
	NodeAutoapproveBootstrapBinding    = "kubeadm:node-autoapprove-bootstrap"
	NodeAutoapproveCertRotationBinding = "kubeadm:node-autoapprove-certificate-rotation"
)

// GroupMonitoring is the group that may read the apiserver's health and
// metrics endpoints (bound to system:monitoring).
const GroupMonitoring = "system:monitoring"

// The leader-election Leases of the scheduler and the controller-manager
// (their --leader-elect-resource-name defaults): each may read and renew
// only its own.
const (
	SchedulerLease         = "keel-scheduler"
	ControllerManagerLease = "keel-controller-manager"
)

// API groups the rules name.
const (
	groupCore          = ""
	groupApps          = "apps"
	groupBatch         = "batch"
	groupCoordination  = "coordination.k8s.io"
	groupDiscovery     = "discovery.k8s.io"
	groupAuthorization = "authorization.k8s.io"
	groupAuthn         = "authentication.k8s.io"
	groupCertificates  = "certificates.k8s.io"
	groupPolicy        = api.GroupPolicy
	groupStorage       = api.GroupStorage
	groupNetworking    = api.GroupNetworking
	groupNode          = api.GroupNode
)

// Verb sets of the user-facing roles, as Kubernetes groups them.
var (
	read      = []string{"get", "list", "watch"}
	write     = []string{"create", "update", "patch", "delete", "deletecollection"}
	readWrite = append(slices.Clone(read), write...)
	listWatch = []string{"list", "watch"}
)

// rule grants verbs on resources of group.
func rule(verbs []string, group string, resources ...string) *rbacv1.PolicyRule {
	return &rbacv1.PolicyRule{Verbs: slices.Clone(verbs), ApiGroups: []string{group}, Resources: resources}
}

// named limits r to the objects called names.
func named(r *rbacv1.PolicyRule, names ...string) *rbacv1.PolicyRule {
	r.ResourceNames = names
	return r
}

// urls grants get on non-resource URLs.
func urls(paths ...string) *rbacv1.PolicyRule {
	return &rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceUrls: paths}
}

func verbs(v ...string) []string { return v }

// meta is the metadata of a bootstrap object: its name, the bootstrapping
// label (plus extra labels) and the autoupdate annotation.
func meta(name string, extraLabels ...string) *metav1.ObjectMeta {
	labels := map[string]string{LabelBootstrapping: BootstrappingRBACDefaults}
	for _, l := range extraLabels {
		labels[l] = "true"
	}
	return &metav1.ObjectMeta{Name: name, Labels: labels, Annotations: map[string]string{AnnotationAutoupdate: "true"}}
}

func aggregation(label string) *rbacv1.AggregationRule {
	return &rbacv1.AggregationRule{ClusterRoleSelectors: []*metav1.LabelSelector{{MatchLabels: map[string]string{label: "true"}}}}
}

// ClusterRoles returns the bootstrap ClusterRoles, fresh objects the caller
// may modify, in a fixed order.
// The controllers' roles, system:controller:SERVICEACCOUNT, each hold the
// rules of the controllers that act as that ServiceAccount
// (ControllerRules).
func ClusterRoles() []*rbacv1.ClusterRole {
	role := func(m *metav1.ObjectMeta, rules ...*rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{Metadata: m, Rules: rules}
	}
	roles := []*rbacv1.ClusterRole{
		role(meta(ClusterAdmin),
			&rbacv1.PolicyRule{Verbs: []string{"*"}, ApiGroups: []string{"*"}, Resources: []string{"*"}},
			&rbacv1.PolicyRule{Verbs: []string{"*"}, NonResourceUrls: []string{"*"}}),

		// The user-facing roles: admin holds edit, which holds view.
		{Metadata: meta(Admin), AggregationRule: aggregation(LabelAggregateToAdmin)},
		{Metadata: meta(Edit, LabelAggregateToAdmin), AggregationRule: aggregation(LabelAggregateToEdit)},
		{Metadata: meta(View, LabelAggregateToAdmin, LabelAggregateToEdit), AggregationRule: aggregation(LabelAggregateToView)},
		role(meta(AggregateToAdmin, LabelAggregateToAdmin), aggregateToAdminRules()...),
		role(meta(AggregateToEdit, LabelAggregateToEdit), aggregateToEditRules()...),
		role(meta(AggregateToView, LabelAggregateToView), aggregateToViewRules()...),
		role(meta(AggregatedMetricsReader, LabelAggregateToView, LabelAggregateToEdit, LabelAggregateToAdmin),
			rule(verbs("get", "list", "watch"), api.GroupMetrics, "pods", "nodes")),

		role(meta(Scheduler), SchedulerRules()...),
		role(meta(ControllerManager), ControllerManagerRules()...),
		role(meta(NodeProxier), ProxierRules()...),
		role(meta(Node), NodeRules()...),

		role(meta(PublicInfoViewer), urls("/healthz", "/livez", "/readyz", "/version", "/version/")),
		role(meta(Discovery), urls("/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/")),
		role(meta(Monitoring), urls("/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis", "/readyz", "/readyz/*")),
		role(meta(BasicUser),
			rule(verbs("create"), groupAuthorization, "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule(verbs("create"), groupAuthn, "selfsubjectreviews")),

		role(meta(NodeBootstrapper), rule(verbs("create", "get", "list", "watch"), groupCertificates, "certificatesigningrequests")),
		role(meta(NodeClient), rule(verbs("create"), groupCertificates, "certificatesigningrequests/nodeclient")),
		role(meta(SelfNodeClient), rule(verbs("create"), groupCertificates, "certificatesigningrequests/selfnodeclient")),
		role(meta(KubeAPIServerClientApprover), named(rule(verbs("approve"), groupCertificates, "signers"), api.SignerKubeAPIServerClient)),
		role(meta(KubeAPIServerClientKubeletApprover), named(rule(verbs("approve"), groupCertificates, "signers"), api.SignerKubeAPIServerClientKubelet)),
		role(meta(KubeletServingApprover), named(rule(verbs("approve"), groupCertificates, "signers"), api.SignerKubeletServing)),
	}
	for _, sa := range ControllerServiceAccounts() {
		var rules []*rbacv1.PolicyRule
		for _, c := range ControllerRules() {
			if c.ServiceAccount == sa {
				rules = append(rules, c.Rules...)
			}
		}
		roles = append(roles, role(meta(ControllerRolePrefix+sa), Compact(rules)...))
	}
	return roles
}

// ClusterRoleBindings returns the bootstrap ClusterRoleBindings, fresh
// objects, in a fixed order. Each is named after its role, but for those
// that let bootstrap tokens join nodes, named as kubeadm's; each
// controller's role is bound to its ServiceAccount in kube-system, for
// keel-controller-manager --use-service-account-credentials. system:node is
// not bound (as in Kubernetes): nodes are authorized by the Node
// authorizer, or by a binding the operator makes.
func ClusterRoleBindings() []*rbacv1.ClusterRoleBinding {
	user := func(name string) *rbacv1.Subject {
		return &rbacv1.Subject{Kind: api.SubjectKindUser, ApiGroup: api.GroupRBAC, Name: name}
	}
	group := func(name string) *rbacv1.Subject {
		return &rbacv1.Subject{Kind: api.SubjectKindGroup, ApiGroup: api.GroupRBAC, Name: name}
	}
	bindAs := func(name, role string, subjects ...*rbacv1.Subject) *rbacv1.ClusterRoleBinding {
		return &rbacv1.ClusterRoleBinding{Metadata: meta(name),
			RoleRef: &rbacv1.RoleRef{ApiGroup: api.GroupRBAC, Kind: api.RoleKindClusterRole, Name: role}, Subjects: subjects}
	}
	bind := func(role string, subjects ...*rbacv1.Subject) *rbacv1.ClusterRoleBinding {
		return bindAs(role, role, subjects...)
	}
	bindings := []*rbacv1.ClusterRoleBinding{
		bind(ClusterAdmin, group(auth.GroupMasters)),
		bind(Scheduler, user(auth.UserScheduler)),
		bind(ControllerManager, user(auth.UserControllerManager)),
		bind(NodeProxier, user(auth.UserProxy)),
		bind(Monitoring, group(GroupMonitoring)),
		bind(Discovery, group(auth.GroupAuthenticated)),
		bind(BasicUser, group(auth.GroupAuthenticated)),
		bind(PublicInfoViewer, group(auth.GroupAuthenticated), group(auth.GroupUnauthenticated)),
		bindAs(KubeletBootstrapBinding, NodeBootstrapper, group(bootstraptoken.Group)),
		bindAs(NodeAutoapproveBootstrapBinding, NodeClient, group(bootstraptoken.Group)),
		bindAs(NodeAutoapproveCertRotationBinding, SelfNodeClient, group(auth.GroupNodes)),
	}
	for _, sa := range ControllerServiceAccounts() {
		bindings = append(bindings, bind(ControllerRolePrefix+sa,
			&rbacv1.Subject{Kind: api.SubjectKindServiceAccount, Namespace: api.NamespaceSystem, Name: sa}))
	}
	return bindings
}

// aggregateToViewRules: reading a namespace's workloads and their
// configuration, but not its Secrets, Leases or RBAC objects.
func aggregateToViewRules() []*rbacv1.PolicyRule {
	return []*rbacv1.PolicyRule{
		rule(read, groupCore, "pods", "pods/status", "pods/log", "services", "services/status", "endpoints", "configmaps", "serviceaccounts", "events"),
		rule(read, groupCore, "namespaces", "namespaces/status"),
		rule(read, groupApps, "deployments", "deployments/status", "replicasets", "replicasets/status"),
		rule(read, groupApps, "daemonsets", "daemonsets/status", "controllerrevisions"),
		rule(read, groupApps, "statefulsets", "statefulsets/status", "statefulsets/scale"),
		rule(read, groupBatch, "jobs", "jobs/status", "cronjobs", "cronjobs/status"),
		rule(read, groupDiscovery, "endpointslices"),
		rule(read, groupPolicy, "poddisruptionbudgets", "poddisruptionbudgets/status"),
		rule(read, groupCore, "persistentvolumeclaims", "persistentvolumeclaims/status"),
		rule(read, groupNetworking, "ingresses", "ingresses/status", "networkpolicies"),
	}
}

// aggregateToEditRules: view plus changing workloads and their
// configuration, Secrets included, and running commands in pods; not
// roles or bindings, nor Endpoints (which would let a user redirect a
// Service anywhere).
func aggregateToEditRules() []*rbacv1.PolicyRule {
	return []*rbacv1.PolicyRule{
		rule(read, groupCore, "pods/exec", "pods/attach", "pods/portforward", "secrets"),
		rule(verbs("impersonate"), groupCore, "serviceaccounts"),
		rule(write, groupCore, "pods", "pods/exec", "pods/attach", "pods/portforward"),
		rule(write, groupCore, "services", "configmaps", "secrets", "serviceaccounts", "events"),
		rule(verbs("create"), groupCore, "serviceaccounts/token"),
		rule(write, groupApps, "deployments", "replicasets"),
		rule(write, groupApps, "daemonsets"),
		rule(write, groupApps, "statefulsets", "statefulsets/scale"),
		rule(write, groupBatch, "jobs", "cronjobs"),
		rule(verbs("create"), groupCore, "pods/eviction"),
		rule(write, groupPolicy, "poddisruptionbudgets"),
		rule(write, groupCore, "persistentvolumeclaims"),
		rule(write, groupNetworking, "ingresses", "networkpolicies"),
	}
}

// aggregateToAdminRules: edit plus the namespace's roles and bindings
// (RBAC's escalation check still limits what an admin grants).
func aggregateToAdminRules() []*rbacv1.PolicyRule {
	return []*rbacv1.PolicyRule{
		rule(verbs("create"), groupAuthorization, "localsubjectaccessreviews"),
		rule(readWrite, api.GroupRBAC, "roles", "rolebindings"),
	}
}

// SchedulerRules is what keel-scheduler does: watch pods, nodes and
// namespaces; bind pods, write their status (conditions, nominated node),
// delete preemption victims; record Events; hold its Lease. VolumeBinding
// watches claims, volumes and StorageClasses and annotates claims with
// the node chosen (the PV controller binds them); NodeVolumeLimits
// watches CSINodes.
func SchedulerRules() []*rbacv1.PolicyRule {
	return []*rbacv1.PolicyRule{
		rule(verbs("get", "list", "watch", "delete"), groupCore, "pods"),
		rule(verbs("create"), groupCore, "pods/binding"),
		rule(verbs("update"), groupCore, "pods/status"),
		rule(listWatch, groupCore, "nodes", "namespaces"),
		rule(verbs("create", "update"), groupCore, "events"),
		rule(verbs("create"), groupCoordination, "leases"),
		named(rule(verbs("get", "update"), groupCoordination, "leases"), SchedulerLease),
		rule(listWatch, groupCore, "persistentvolumes"),
		rule(verbs("list", "watch", "update"), groupCore, "persistentvolumeclaims"),
		rule(listWatch, groupStorage, "storageclasses", "csinodes"),
	}
}

// ProxierRules is what keel-proxy does: watch Services and their
// EndpointSlices (Endpoints too, as Kubernetes' node-proxier may).
func ProxierRules() []*rbacv1.PolicyRule {
	return []*rbacv1.PolicyRule{
		rule(listWatch, groupCore, "services", "endpoints"),
		rule(listWatch, groupDiscovery, "endpointslices"),
	}
}

// NodeRules is what a kubelet does: register and update its Node and its
// status, renew its Lease; watch the pods (bound to it), Nodes, Services
// (for the pods' environment), ConfigMaps and Secrets (for volumes and
// environment), write its pods' status and delete them once stopped;
// record Events; ask for service-account tokens for its pods and for
// certificates; read its pods' claims and volumes, the VolumeAttachments
// to it and CSIDrivers, and keep its CSINode; read RuntimeClasses. The Node authorizer narrows these to the node's own
// objects; RBAC alone grants them as written.
func NodeRules() []*rbacv1.PolicyRule {
	return []*rbacv1.PolicyRule{
		rule(verbs("create", "get", "list", "watch", "update"), groupCore, "nodes"),
		rule(verbs("update"), groupCore, "nodes/status"),
		rule(verbs("get", "create", "update"), groupCoordination, "leases"),
		rule(verbs("get", "list", "watch", "delete"), groupCore, "pods"),
		rule(verbs("update"), groupCore, "pods/status"),
		rule(read, groupCore, "configmaps", "secrets"),
		rule(listWatch, groupCore, "services"),
		rule(verbs("create", "update"), groupCore, "events"),
		rule(verbs("create"), groupCore, "serviceaccounts/token"),
		rule(verbs("create", "get", "list", "watch"), groupCertificates, "certificatesigningrequests"),
		// Storage: its pods' claims and their volumes, the attachments to
		// the node, its CSINode, and the CSI drivers' settings.
		rule(verbs("get"), groupCore, "persistentvolumeclaims", "persistentvolumes"),
		rule(read, groupStorage, "volumeattachments"),
		rule(verbs("get", "create", "update", "patch", "delete"), groupStorage, "csinodes"),
		rule(read, groupStorage, "csidrivers"),
		// The handler of a pod's RuntimeClass.
		rule(read, groupNode, "runtimeclasses"),
	}
}

// ControllerManagerRules is what keel-controller-manager's controllers do
// (the union of ControllerRules), compacted: one rule per API group and
// verb set.
//
// A rule on every group (the garbage collector's, for custom resources)
// lends the controller-manager only its reads, which its shared informers
// need: it would otherwise write to every kind, nodes and Secrets
// included. Without --use-service-account-credentials custom resources
// are therefore watched but not collected.
func ControllerManagerRules() []*rbacv1.PolicyRule {
	var all []*rbacv1.PolicyRule
	for _, c := range ControllerRules() {
		for _, r := range c.Rules {
			if slices.Contains(r.ApiGroups, "*") {
				r = &rbacv1.PolicyRule{ApiGroups: r.ApiGroups, Resources: r.Resources,
					Verbs: slices.DeleteFunc(slices.Clone(r.Verbs), func(v string) bool { return v != "get" && v != "list" && v != "watch" })}
			}
			all = append(all, r)
		}
	}
	return Compact(all)
}

// Controller is one controller of keel-controller-manager and what it
// does through the API.
type Controller struct {
	Name string
	// ServiceAccount is who the controller acts as under
	// --use-service-account-credentials: the ServiceAccount of that name
	// in kube-system, named as Kubernetes' (the CSR controllers share
	// certificate-controller). Empty for the process's own needs, which
	// its own identity keeps.
	ServiceAccount string
	Rules          []*rbacv1.PolicyRule
}

// ControllerRules lists the controller-manager's controllers and the rules
// each needs ("leader-election" and "service-account-credentials" are the
// process's own needs: its Lease, and the ServiceAccounts of the
// controllers and their tokens under --use-service-account-credentials).
// The garbage collector's and the namespace controller's rules are
// derived from the registered kinds, as the controllers derive what they
// watch and delete.
func ControllerRules() []Controller {
	events := rule(verbs("create", "update"), groupCore, "events")
	controllers := []Controller{
		{"replicaset", "replicaset-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupApps, "replicasets"),
			rule(verbs("update"), groupApps, "replicasets/status"),
			rule(verbs("list", "watch", "create", "update", "delete"), groupCore, "pods"),
			events,
		}},
		{"deployment", "deployment-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupApps, "deployments"),
			rule(verbs("update"), groupApps, "deployments/status"),
			rule(verbs("list", "watch", "create", "update", "delete"), groupApps, "replicasets"),
			rule(listWatch, groupCore, "pods"),
			events,
		}},
		{"daemonset", "daemon-set-controller", []*rbacv1.PolicyRule{
			// get: the status write retries a conflict on a fresh read.
			rule(verbs("get", "list", "watch"), groupApps, "daemonsets"),
			rule(verbs("update"), groupApps, "daemonsets/status"),
			rule(listWatch, groupCore, "nodes"),
			// update: adopting and releasing pods.
			rule(verbs("list", "watch", "create", "update", "delete"), groupCore, "pods"),
			rule(verbs("get", "list", "watch", "create", "update", "delete"), groupApps, "controllerrevisions"),
			events,
		}},
		{"statefulset", "statefulset-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupApps, "statefulsets"),
			rule(verbs("update"), groupApps, "statefulsets/status"),
			rule(verbs("list", "watch", "create", "update", "delete"), groupCore, "pods"),
			rule(verbs("get", "list", "watch", "create", "update", "delete"), groupApps, "controllerrevisions"),
			rule(verbs("list", "watch", "create", "update"), groupCore, "persistentvolumeclaims"),
			events,
		}},
		{"job", "job-controller", []*rbacv1.PolicyRule{
			rule(verbs("list", "watch", "delete"), groupBatch, "jobs"),
			rule(verbs("update"), groupBatch, "jobs/status"),
			rule(verbs("list", "watch", "create", "delete"), groupCore, "pods"),
			events,
		}},
		{"cronjob", "cronjob-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupBatch, "cronjobs"),
			rule(verbs("update"), groupBatch, "cronjobs/status"),
			rule(verbs("get", "list", "watch", "create", "delete"), groupBatch, "jobs"),
			events,
		}},
		{"endpoints", "endpoint-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupCore, "services", "pods"),
			rule(verbs("list", "watch", "create", "update", "delete"), groupCore, "endpoints"),
		}},
		{"endpointslice", "endpointslice-controller", []*rbacv1.PolicyRule{
			// endpoints: those of Services without a selector are mirrored.
			rule(listWatch, groupCore, "services", "pods", "nodes", "endpoints"),
			rule(verbs("list", "watch", "create", "update", "delete"), groupDiscovery, "endpointslices"),
		}},
		{"nodelifecycle", "node-controller", []*rbacv1.PolicyRule{
			rule(verbs("list", "watch", "update"), groupCore, "nodes"),
			rule(verbs("update"), groupCore, "nodes/status"),
			rule(listWatch, groupCoordination, "leases"),
			rule(verbs("list", "watch", "delete"), groupCore, "pods"),
			rule(verbs("update"), groupCore, "pods/status"),
		}},
		{"podgc", "pod-garbage-collector", []*rbacv1.PolicyRule{
			rule(verbs("list", "watch", "delete"), groupCore, "pods"),
			rule(verbs("get", "list", "watch"), groupCore, "nodes"),
		}},
		{"serviceaccount", "service-account-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupCore, "namespaces"),
			rule(verbs("list", "watch", "create"), groupCore, "serviceaccounts"),
		}},
		{"namespace", "namespace-controller", append(append([]*rbacv1.PolicyRule{
			rule(verbs("list", "watch", "update"), groupCore, "namespaces"),
		}, kindRules(verbs("list", "delete"), func(s registry.Strategy) bool { return s.Info().Namespaced })...),
			// Custom resources in the namespace, of any group.
			rule(verbs("list", "delete"), "*", "*"))},
		{"garbagecollector", "generic-garbage-collector", append(append(
			// An owner reference may name an object of any kind.
			kindRules(verbs("get"), func(registry.Strategy) bool { return true }),
			kindRules(verbs("list", "watch", "update", "delete"), func(s registry.Strategy) bool { return s.Watched().GarbageCollected })...),
			// Custom resources, whose groups no policy can name ahead: as
			// Kubernetes' collector, it may act on any (and follows the
			// definitions to know them).
			rule(verbs("get", "list", "watch", "update", "delete"), "*", "*"))},
		{"root-ca-cert-publisher", "root-ca-cert-publisher", []*rbacv1.PolicyRule{
			rule(listWatch, groupCore, "namespaces"),
			rule(verbs("get", "list", "watch", "create", "update"), groupCore, "configmaps"),
		}},
		{"tokencleaner", "token-cleaner", []*rbacv1.PolicyRule{
			rule(verbs("list", "watch", "delete"), groupCore, "secrets"),
		}},
		{"csrapproving", "certificate-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupCertificates, "certificatesigningrequests"),
			rule(verbs("update"), groupCertificates, "certificatesigningrequests/approval"),
			named(rule(verbs("approve"), groupCertificates, "signers"), api.SignerKubeAPIServerClientKubelet),
			rule(verbs("create"), groupAuthorization, "subjectaccessreviews"),
		}},
		{"csrsigning", "certificate-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupCertificates, "certificatesigningrequests"),
			rule(verbs("update"), groupCertificates, "certificatesigningrequests/status"),
			named(rule(verbs("sign"), groupCertificates, "signers"),
				api.SignerKubeAPIServerClient, api.SignerKubeAPIServerClientKubelet, api.SignerKubeletServing),
		}},
		{"csrcleaner", "certificate-controller", []*rbacv1.PolicyRule{
			rule(verbs("list", "watch", "delete"), groupCertificates, "certificatesigningrequests"),
		}},
		{"replicationcontroller", "replication-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupCore, "replicationcontrollers"),
			rule(verbs("update"), groupCore, "replicationcontrollers/status"),
			rule(verbs("list", "watch", "create", "update", "delete"), groupCore, "pods"),
			events,
		}},
		{"resourcequota", "resourcequota-controller", []*rbacv1.PolicyRule{
			rule(verbs("get"), groupCore, "resourcequotas"),
			rule(verbs("update"), groupCore, "resourcequotas/status"),
			// A quota may count the objects of any namespaced kind, custom
			// resources' too.
			rule(listWatch, "*", "*"),
		}},
		{"disruption", "disruption-controller", append([]*rbacv1.PolicyRule{
			rule(listWatch, groupPolicy, "poddisruptionbudgets"),
			rule(verbs("update"), groupPolicy, "poddisruptionbudgets/status"),
			rule(listWatch, groupCore, "pods"),
			rule(listWatch, groupApps, "replicasets", "deployments"),
			events,
			// The scale of a pod's controller of any other scalable kind.
		}, kindRules(verbs("get"), func(s registry.Strategy) bool { return s.Scale() != nil })...)},
		// The PV controller binds claims to volumes, provisions and
		// reclaims volumes, and reads the node a claim waits for (and,
		// for a CSI driver's topology, that node's CSINode).
		{"persistentvolume-binder", "persistent-volume-binder", []*rbacv1.PolicyRule{
			rule(verbs("get", "list", "watch", "create", "update", "delete"), groupCore, "persistentvolumes"),
			rule(verbs("update"), groupCore, "persistentvolumes/status"),
			rule(verbs("get", "list", "watch", "update"), groupCore, "persistentvolumeclaims"),
			rule(verbs("update"), groupCore, "persistentvolumeclaims/status"),
			rule(listWatch, groupStorage, "storageclasses"),
			rule(verbs("get"), groupStorage, "csinodes"),
			rule(listWatch, groupCore, "nodes"),
			events,
		}},
		// The attach-detach controller keeps a VolumeAttachment per CSI
		// volume and node its pods use.
		{"attachdetach", "attachdetach-controller", []*rbacv1.PolicyRule{
			rule(listWatch, groupCore, "pods", "persistentvolumeclaims", "persistentvolumes"),
			rule(listWatch, groupStorage, "csidrivers"),
			rule(verbs("list", "watch", "create", "delete"), groupStorage, "volumeattachments"),
		}},
		// The CSI attacher (Kubernetes' external-attacher sidecar) attaches
		// the VolumeAttachments of the drivers of --csi-controller-endpoints:
		// its finalizer, and the status.
		{"csi-attacher", "csi-attacher", []*rbacv1.PolicyRule{
			rule(verbs("list", "watch", "update"), groupStorage, "volumeattachments"),
			rule(verbs("update"), groupStorage, "volumeattachments/status"),
			rule(listWatch, groupCore, "persistentvolumes"),
			rule(listWatch, groupStorage, "csinodes"),
		}},
		{"pvc-protection", "pvc-protection-controller", []*rbacv1.PolicyRule{
			rule(verbs("list", "watch", "update"), groupCore, "persistentvolumeclaims"),
			rule(listWatch, groupCore, "pods"),
		}},
		{"pv-protection", "pv-protection-controller", []*rbacv1.PolicyRule{
			rule(verbs("list", "watch", "update"), groupCore, "persistentvolumes"),
		}},
		{"clusterrole-aggregation", "clusterrole-aggregation-controller", []*rbacv1.PolicyRule{
			// escalate: an aggregated role may grant what the
			// controller-manager itself does not hold.
			rule(verbs("list", "watch", "update", "escalate"), api.GroupRBAC, "clusterroles"),
		}},
	}
	var accounts []string
	for _, c := range controllers {
		if !slices.Contains(accounts, c.ServiceAccount) {
			accounts = append(accounts, c.ServiceAccount)
		}
	}
	return append([]Controller{
		{"leader-election", "", []*rbacv1.PolicyRule{
			rule(verbs("create"), groupCoordination, "leases"),
			named(rule(verbs("get", "update"), groupCoordination, "leases"), ControllerManagerLease),
		}},
		{"service-account-credentials", "", []*rbacv1.PolicyRule{
			rule(verbs("create"), groupCore, "serviceaccounts"),
			named(rule(verbs("create"), groupCore, "serviceaccounts/token"), accounts...),
		}},
	}, controllers...)
}

// ControllerServiceAccounts are the names of the controllers'
// ServiceAccounts in kube-system (see Controller.ServiceAccount), each
// once, in the order of ControllerRules.
func ControllerServiceAccounts() []string {
	var out []string
	for _, c := range ControllerRules() {
		if c.ServiceAccount != "" && !slices.Contains(out, c.ServiceAccount) {
			out = append(out, c.ServiceAccount)
		}
	}
	return out
}

// ControllerServiceAccount is the ServiceAccount the controller called
// name acts as under --use-service-account-credentials; false for a name
// that is not a controller's.
func ControllerServiceAccount(name string) (string, bool) {
	for _, c := range ControllerRules() {
		if c.Name == name && c.ServiceAccount != "" {
			return c.ServiceAccount, true
		}
	}
	return "", false
}

// kindRules grants verbs on every registered kind that pick selects, one
// rule per API group.
func kindRules(verbs []string, pick func(registry.Strategy) bool) []*rbacv1.PolicyRule {
	byGroup := map[string][]string{}
	for _, s := range registry.All() {
		if k := s.Info(); k.Stored() && pick(s) {
			byGroup[k.Group] = append(byGroup[k.Group], k.Resource)
		}
	}
	var out []*rbacv1.PolicyRule
	for _, g := range slices.Sorted(maps.Keys(byGroup)) {
		out = append(out, rule(verbs, g, byGroup[g]...))
	}
	return out
}

// Compact merges rules into as few as grant the same: the verbs on each
// API group, resource and set of resource names are joined, then the
// resources of a group with the same verbs and names share one rule.
// Rules over several API groups, and non-resource rules, are kept as they
// are. The result is sorted (group, then first resource) and its verbs
// and resources too.
func Compact(rules []*rbacv1.PolicyRule) []*rbacv1.PolicyRule {
	type atom struct{ group, resource, names string }
	verbsOf := map[atom][]string{}
	var kept []*rbacv1.PolicyRule
	for _, r := range rules {
		if len(r.GetApiGroups()) != 1 || len(r.GetNonResourceUrls()) > 0 {
			kept = append(kept, r)
			continue
		}
		names := strings.Join(slices.Sorted(slices.Values(r.GetResourceNames())), "\x00")
		for _, res := range r.GetResources() {
			a := atom{r.GetApiGroups()[0], res, names}
			verbsOf[a] = union(verbsOf[a], r.GetVerbs())
		}
	}
	type key struct{ group, verbs, names string }
	merged := map[key]*rbacv1.PolicyRule{}
	for a, vs := range verbsOf {
		k := key{a.group, strings.Join(vs, ","), a.names}
		r, ok := merged[k]
		if !ok {
			r = &rbacv1.PolicyRule{Verbs: vs, ApiGroups: []string{a.group}}
			if a.names != "" {
				r.ResourceNames = strings.Split(a.names, "\x00")
			}
			merged[k] = r
		}
		r.Resources = append(r.Resources, a.resource)
	}
	out := make([]*rbacv1.PolicyRule, 0, len(merged)+len(kept))
	for _, r := range merged {
		slices.Sort(r.Resources)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *rbacv1.PolicyRule) int {
		return cmp.Or(cmp.Compare(a.ApiGroups[0], b.ApiGroups[0]), cmp.Compare(a.Resources[0], b.Resources[0]),
			cmp.Compare(strings.Join(a.Verbs, ","), strings.Join(b.Verbs, ",")), cmp.Compare(len(a.ResourceNames), len(b.ResourceNames)))
	})
	return append(out, kept...)
}

// union is a and b's verbs, sorted, without duplicates.
func union(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
