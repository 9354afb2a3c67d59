package rbac

import (
	"slices"
	"strings"
	"sync"

	"keel.dev/keel/pkg/api"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/auth"
)

// Index holds ClusterRoleBindings and RoleBindings by the subjects they
// name, so that the bindings that may apply to a caller are found in time
// proportional to their number, not to every binding's: the Roles.Bindings
// of an apiserver. A User subject and a ServiceAccount subject are filed
// under the user name they match (a service account's is
// system:serviceaccount:NAMESPACE:NAME, a RoleBinding's namespace when the
// subject names none), a Group subject under the group; a ServiceAccount
// subject of a ClusterRoleBinding without a namespace, and subjects of
// other kinds, match no one and are not filed.
//
// The zero Index is not usable; NewIndex makes one. It is safe for
// concurrent use. It keeps the binding objects it is given: callers must
// not modify them afterwards.
type Index struct {
	mu       sync.RWMutex
	clusters map[string]*rbacv1.ClusterRoleBinding            // by name
	bound    map[string]map[string]*rbacv1.RoleBinding        // namespace → name →
	cluster  map[string]map[string]*rbacv1.ClusterRoleBinding // subject key → name →
	// namespaced is namespace → subject key → name → binding.
	namespaced map[string]map[string]map[string]*rbacv1.RoleBinding
}

// NewIndex returns an empty Index.
func NewIndex() *Index {
	return &Index{
		clusters:   map[string]*rbacv1.ClusterRoleBinding{},
		bound:      map[string]map[string]*rbacv1.RoleBinding{},
		cluster:    map[string]map[string]*rbacv1.ClusterRoleBinding{},
		namespaced: map[string]map[string]map[string]*rbacv1.RoleBinding{},
	}
}

// subjectKeys are the index keys of subjects in a binding of namespace
// ("" for a ClusterRoleBinding), without repeats.
func subjectKeys(subjects []*rbacv1.Subject, namespace string) []string {
	var keys []string
	for _, s := range subjects {
		var k string
		switch s.GetKind() {
		case api.SubjectKindUser:
			k = userKey(s.GetName())
		case api.SubjectKindGroup:
			k = groupKey(s.GetName())
		case api.SubjectKindServiceAccount:
			ns := s.GetNamespace()
			if ns == "" {
				ns = namespace
			}
			if ns == "" {
				continue
			}
			k = userKey(auth.ServiceAccountUser(ns, s.GetName()))
		default:
			continue
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

func userKey(name string) string  { return "u:" + name }
func groupKey(name string) string { return "g:" + name }

// callerKeys are the index keys u matches.
func callerKeys(u auth.User) []string {
	keys := make([]string, 0, len(u.Groups)+1)
	keys = append(keys, userKey(u.Name))
	for _, g := range u.Groups {
		keys = append(keys, groupKey(g))
	}
	return keys
}

// ReplaceClusterRoleBindings makes bindings the index's ClusterRoleBindings.
func (ix *Index) ReplaceClusterRoleBindings(bindings []*rbacv1.ClusterRoleBinding) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.clusters = map[string]*rbacv1.ClusterRoleBinding{}
	ix.cluster = map[string]map[string]*rbacv1.ClusterRoleBinding{}
	for _, b := range bindings {
		ix.setCluster(b)
	}
}

// SetClusterRoleBinding adds b, or replaces the binding of its name.
func (ix *Index) SetClusterRoleBinding(b *rbacv1.ClusterRoleBinding) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.deleteCluster(b.GetMetadata().GetName())
	ix.setCluster(b)
}

// DeleteClusterRoleBinding removes the ClusterRoleBinding name, if held.
func (ix *Index) DeleteClusterRoleBinding(name string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.deleteCluster(name)
}

func (ix *Index) setCluster(b *rbacv1.ClusterRoleBinding) {
	name := b.GetMetadata().GetName()
	ix.clusters[name] = b
	for _, k := range subjectKeys(b.GetSubjects(), "") {
		if ix.cluster[k] == nil {
			ix.cluster[k] = map[string]*rbacv1.ClusterRoleBinding{}
		}
		ix.cluster[k][name] = b
	}
}

func (ix *Index) deleteCluster(name string) {
	old, ok := ix.clusters[name]
	if !ok {
		return
	}
	delete(ix.clusters, name)
	for _, k := range subjectKeys(old.GetSubjects(), "") {
		delete(ix.cluster[k], name)
		if len(ix.cluster[k]) == 0 {
			delete(ix.cluster, k)
		}
	}
}

// ReplaceRoleBindings makes bindings the index's RoleBindings, in every
// namespace.
func (ix *Index) ReplaceRoleBindings(bindings []*rbacv1.RoleBinding) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.bound = map[string]map[string]*rbacv1.RoleBinding{}
	ix.namespaced = map[string]map[string]map[string]*rbacv1.RoleBinding{}
	for _, b := range bindings {
		ix.setNamespaced(b)
	}
}

// SetRoleBinding adds b, or replaces the binding of its namespace and name.
func (ix *Index) SetRoleBinding(b *rbacv1.RoleBinding) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.deleteNamespaced(b.GetMetadata().GetNamespace(), b.GetMetadata().GetName())
	ix.setNamespaced(b)
}

// DeleteRoleBinding removes the RoleBinding namespace/name, if held.
func (ix *Index) DeleteRoleBinding(namespace, name string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.deleteNamespaced(namespace, name)
}

func (ix *Index) setNamespaced(b *rbacv1.RoleBinding) {
	ns, name := b.GetMetadata().GetNamespace(), b.GetMetadata().GetName()
	if ix.bound[ns] == nil {
		ix.bound[ns] = map[string]*rbacv1.RoleBinding{}
		ix.namespaced[ns] = map[string]map[string]*rbacv1.RoleBinding{}
	}
	ix.bound[ns][name] = b
	for _, k := range subjectKeys(b.GetSubjects(), ns) {
		if ix.namespaced[ns][k] == nil {
			ix.namespaced[ns][k] = map[string]*rbacv1.RoleBinding{}
		}
		ix.namespaced[ns][k][name] = b
	}
}

func (ix *Index) deleteNamespaced(ns, name string) {
	old, ok := ix.bound[ns][name]
	if !ok {
		return
	}
	delete(ix.bound[ns], name)
	for _, k := range subjectKeys(old.GetSubjects(), ns) {
		delete(ix.namespaced[ns][k], name)
		if len(ix.namespaced[ns][k]) == 0 {
			delete(ix.namespaced[ns], k)
		}
	}
	if len(ix.bound[ns]) == 0 {
		delete(ix.bound, ns)
		delete(ix.namespaced, ns)
	}
}

// Bindings implements Roles.Bindings: exactly the ClusterRoleBindings and
// (namespace not "") RoleBindings of namespace that name u, one of its
// groups, or its service account, each once, ordered by name.
func (ix *Index) Bindings(u auth.User, namespace string) ([]*rbacv1.ClusterRoleBinding, []*rbacv1.RoleBinding) {
	keys := callerKeys(u)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var crbs []*rbacv1.ClusterRoleBinding
	for _, k := range keys {
		for _, b := range ix.cluster[k] {
			crbs = append(crbs, b)
		}
	}
	var rbs []*rbacv1.RoleBinding
	if namespace != "" {
		for _, k := range keys {
			for _, b := range ix.namespaced[namespace][k] {
				rbs = append(rbs, b)
			}
		}
	}
	// A binding naming the caller twice (its user and a group) is listed
	// under both keys: sort by name, then keep one of each.
	return byName(crbs), byName(rbs)
}

// byName sorts bindings by name and drops repeats.
func byName[B interface{ GetMetadata() *metav1.ObjectMeta }](bs []B) []B {
	name := func(b B) string { return b.GetMetadata().GetName() }
	slices.SortFunc(bs, func(a, b B) int { return strings.Compare(name(a), name(b)) })
	return slices.CompactFunc(bs, func(a, b B) bool { return name(a) == name(b) })
}
