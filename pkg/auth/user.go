// Package auth authenticates API callers and defines the seam where
// authorization plugs in.
//
// Authentication is by client certificate, following the Kubernetes
// convention: the verified certificate's Subject CommonName is the user name
// and its Subject Organization entries are the user's groups. The gRPC
// interceptors in this package (UnaryServerInterceptor,
// StreamServerInterceptor) put the authenticated User into the request
// context; handlers read it back with UserFrom.
//
// A plain-text listener is allowed only on loopback and only when the
// apiserver asks for it; connections accepted by InsecureLoopbackListener and
// served with ServerCredentials are authenticated as UserInsecureLoopback in
// GroupMasters.
package auth

import (
	"context"
	"slices"
	"strings"
)

// Well-known user and group names. They follow Kubernetes so that an
// operator's expectations (and later RBAC bindings) carry over.
const (
	// GroupMasters is the superuser group: the default authorizer of a later
	// issue (RBAC) lets members do anything.
	GroupMasters = "system:masters"
	// GroupAuthenticated is added to every authenticated user.
	GroupAuthenticated = "system:authenticated"
	// GroupUnauthenticated is the group of UserAnonymous.
	GroupUnauthenticated = "system:unauthenticated"
	// UserAnonymous is a caller without credentials, when the apiserver
	// accepts them (--anonymous-auth).
	UserAnonymous = "system:anonymous"
	// GroupNodes is the group of kubelet identities.
	GroupNodes = "system:nodes"
	// NodeUserPrefix prefixes a node name to form the kubelet's user name.
	NodeUserPrefix = "system:node:"
	// ServiceAccountUserPrefix prefixes "NAMESPACE:NAME" to form a service
	// account's user name.
	ServiceAccountUserPrefix = "system:serviceaccount:"
	// GroupServiceAccounts is the group of every service account.
	GroupServiceAccounts = "system:serviceaccounts"
	// ServiceAccountGroupPrefix prefixes a namespace to form the group of
	// that namespace's service accounts.
	ServiceAccountGroupPrefix = "system:serviceaccounts:"

	// UserAdmin is the cluster administrator created by `keelctl pki init`.
	UserAdmin = "admin"
	// UserScheduler is the identity of keel-scheduler.
	UserScheduler = "system:kube-scheduler"
	// UserControllerManager is the identity of keel-controller-manager.
	UserControllerManager = "system:kube-controller-manager"
	// UserProxy is the identity of keel-proxy.
	UserProxy = "system:kube-proxy"
	// UserAPIServer is the identity the apiserver presents to kubelets.
	UserAPIServer = "system:apiserver"
	// UserInsecureLoopback is the user of every caller that connected through
	// the plain-text loopback listener. It is a member of GroupMasters.
	UserInsecureLoopback = "system:anonymous-loopback"
)

// NodeUser returns the user name of the kubelet on node nodeName
// ("system:node:" + nodeName).
func NodeUser(nodeName string) string { return NodeUserPrefix + nodeName }

// ServiceAccountUser returns the user name of service account name in
// namespace ns.
func ServiceAccountUser(ns, name string) string { return ServiceAccountUserPrefix + ns + ":" + name }

// ServiceAccountGroups returns the groups of a service account of
// namespace ns: GroupServiceAccounts and the namespace's own.
func ServiceAccountGroups(ns string) []string {
	return []string{GroupServiceAccounts, ServiceAccountGroupPrefix + ns}
}

// SplitServiceAccountUser returns the namespace and name of a service
// account user name, and false when user is not one.
func SplitServiceAccountUser(user string) (ns, name string, ok bool) {
	rest, ok := strings.CutPrefix(user, ServiceAccountUserPrefix)
	if !ok {
		return "", "", false
	}
	ns, name, ok = strings.Cut(rest, ":")
	if !ok || ns == "" || name == "" || strings.Contains(name, ":") {
		return "", "", false
	}
	return ns, name, true
}

// User is an authenticated caller. Values are immutable by convention: code
// that receives a User must not modify its Groups slice.
type User struct {
	// Name is the user name (the certificate's CommonName).
	Name string
	// Groups are the user's groups (the certificate's Organization entries,
	// then GroupAuthenticated).
	Groups []string
	// UID identifies the user across name reuse (a ServiceAccount's uid);
	// empty for certificates.
	UID string
	// Extra is what an authenticator knows beyond name and groups, by
	// Kubernetes' keys ("authentication.kubernetes.io/pod-name").
	Extra map[string][]string
}

// InGroup reports whether u is a member of group.
func (u User) InGroup(group string) bool { return slices.Contains(u.Groups, group) }

type userKey struct{}

// WithUser returns a copy of ctx that carries u.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user stored in ctx by WithUser (or by the
// authentication interceptors), and whether there was one.
func UserFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(userKey{}).(User)
	return u, ok
}
