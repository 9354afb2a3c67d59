package auth

import (
	"context"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"keel.dev/keel/pkg/apierrors"
)

// Impersonation metadata keys, Kubernetes' headers in gRPC's lower case
// (over HTTPS, the headers Impersonate-User, Impersonate-Group…, of any
// case): one user, any number of groups, a uid, and
// "impersonate-extra-KEY" values.
const (
	ImpersonateUserMetadata        = "impersonate-user"
	ImpersonateGroupMetadata       = "impersonate-group"
	ImpersonateUIDMetadata         = "impersonate-uid"
	ImpersonateExtraMetadataPrefix = "impersonate-extra-"
)

// Impersonator lets an authenticated caller act as another user, as
// Kubernetes does: for each part of the identity asked for, the caller
// must be allowed the "impersonate" verb on it — users (by name), groups,
// serviceaccounts (a "system:serviceaccount:NS:NAME" user: the service
// account NAME in NS), and in API group authentication.k8s.io uids and
// userextras/KEY (by value). The request then runs as the impersonated
// user, which gets GroupAuthenticated (and for a service account its
// groups) like an authenticated one; the caller is kept (see
// ImpersonatorFrom) for logs.
type Impersonator struct{ Authorizer Authorizer }

type impersonatorKey struct{}

// ImpersonatorFrom returns the user who impersonated the user of ctx,
// and whether one did.
func ImpersonatorFrom(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(impersonatorKey{}).(User)
	return u, ok
}

// Impersonate returns ctx unchanged when the gRPC request of ctx asks for
// no impersonation (its incoming metadata), else a context whose user is
// the impersonated one. A request that asks for groups, a uid or extras
// without a user is a BadRequest; one the caller may not make is
// Forbidden.
func (im Impersonator) Impersonate(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	return im.impersonate(ctx, md)
}

// ImpersonateHTTP is Impersonate for an HTTPS request: ctx carries the
// authenticated caller (WithUser), h the request's Impersonate-* headers,
// which ask for what the gRPC metadata of the same (lower-cased) names
// does, with the same checks.
func (im Impersonator) ImpersonateHTTP(ctx context.Context, h http.Header) (context.Context, error) {
	md := metadata.MD{}
	for k, vs := range h {
		if k := strings.ToLower(k); strings.HasPrefix(k, "impersonate-") {
			md[k] = append(md[k], vs...)
		}
	}
	return im.impersonate(ctx, md)
}

// impersonate does Impersonate's work on the impersonation keys of md
// (lower case), for the caller of ctx.
func (im Impersonator) impersonate(ctx context.Context, md metadata.MD) (context.Context, error) {
	users, groups, uids := md.Get(ImpersonateUserMetadata), md.Get(ImpersonateGroupMetadata), md.Get(ImpersonateUIDMetadata)
	extra := map[string][]string{}
	for k, v := range md {
		if key, ok := strings.CutPrefix(k, ImpersonateExtraMetadataPrefix); ok && key != "" {
			extra[key] = v
		}
	}
	if len(users) == 0 {
		if len(groups) > 0 || len(uids) > 0 || len(extra) > 0 {
			return nil, apierrors.BadRequest("requested impersonation of groups, uid or extra without impersonating a user")
		}
		return ctx, nil
	}
	if len(users) > 1 || len(uids) > 1 || users[0] == "" {
		return nil, apierrors.BadRequest("impersonate one non-empty user, with at most one uid")
	}
	caller, _ := UserFrom(ctx)
	check := func(group, resource, namespace, name string) error {
		return Check(ctx, im.Authorizer, Attributes{User: caller, Verb: "impersonate", APIGroup: group, Resource: resource, Namespace: namespace, Name: name})
	}
	as := User{Name: users[0]}
	var err error
	if sa, ok := strings.CutPrefix(as.Name, ServiceAccountUserPrefix); ok {
		ns, name, _ := strings.Cut(sa, ":")
		err = check("", "serviceaccounts", ns, name)
		as.Groups = ServiceAccountGroups(ns)
	} else {
		err = check("", "users", "", as.Name)
	}
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if err := check("", "groups", "", g); err != nil {
			return nil, err
		}
	}
	for _, uid := range uids {
		if err := check("authentication.k8s.io", "uids", "", uid); err != nil {
			return nil, err
		}
		as.UID = uid
	}
	for k, vs := range extra {
		for _, v := range vs {
			if err := check("authentication.k8s.io", "userextras/"+k, "", v); err != nil {
				return nil, err
			}
		}
	}
	if len(extra) > 0 {
		as.Extra = extra
	}
	as.Groups = append(as.Groups, groups...)
	if as.Name == UserAnonymous {
		as.Groups = append(as.Groups, GroupUnauthenticated)
	} else {
		as.Groups = withAuthenticated(as.Groups)
	}
	return context.WithValue(WithUser(ctx, as), impersonatorKey{}, caller), nil
}

// UnaryServerInterceptor impersonates (see Impersonate) on every unary
// call; install it right after the Authenticator's.
func (im Impersonator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := im.Impersonate(ctx)
		if err != nil {
			return nil, apierrors.ToStatus(err)
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is the streaming counterpart of
// UnaryServerInterceptor.
func (im Impersonator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := im.Impersonate(ss.Context())
		if err != nil {
			return apierrors.ToStatus(err)
		}
		return handler(srv, &userStream{ServerStream: ss, ctx: ctx})
	}
}
