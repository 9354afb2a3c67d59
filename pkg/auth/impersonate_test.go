package auth_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/auth"
)

// TestImpersonate: each part of the identity asked for needs the
// impersonate verb on it; the request then runs as the impersonated user,
// and the caller is kept.
func TestImpersonate(t *testing.T) {
	// alice may impersonate the user bob, the group devs, the service
	// account team/app and the uid 42; nothing else.
	allowed := map[string]bool{"users/bob": true, "groups/devs": true, "serviceaccounts/team/app": true, "uids/42": true}
	z := auth.AuthorizerFunc(func(_ context.Context, a auth.Attributes) (bool, string, error) {
		key := a.Resource + "/" + a.Name
		if a.Namespace != "" {
			key = a.Resource + "/" + a.Namespace + "/" + a.Name
		}
		return a.User.Name == "alice" && a.Verb == "impersonate" && allowed[key], "", nil
	})
	im := auth.Impersonator{Authorizer: z}
	alice := auth.User{Name: "alice", Groups: []string{"system:authenticated"}}
	for _, c := range []struct {
		name   string
		md     []string
		code   codes.Code
		user   string
		groups []string
	}{
		{"no impersonation", nil, codes.OK, "alice", []string{"system:authenticated"}},
		{"a user", []string{"impersonate-user", "bob"}, codes.OK, "bob", []string{"system:authenticated"}},
		{"a user and a group", []string{"impersonate-user", "bob", "impersonate-group", "devs"}, codes.OK, "bob", []string{"devs", "system:authenticated"}},
		{"a service account", []string{"impersonate-user", "system:serviceaccount:team:app"}, codes.OK, "system:serviceaccount:team:app",
			[]string{"system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"}},
		{"a uid", []string{"impersonate-user", "bob", "impersonate-uid", "42"}, codes.OK, "bob", []string{"system:authenticated"}},
		{"a user not allowed", []string{"impersonate-user", "root"}, codes.PermissionDenied, "", nil},
		{"a group not allowed", []string{"impersonate-user", "bob", "impersonate-group", "system:masters"}, codes.PermissionDenied, "", nil},
		{"an extra not allowed", []string{"impersonate-user", "bob", "impersonate-extra-scopes", "all"}, codes.PermissionDenied, "", nil},
		{"a group without a user", []string{"impersonate-group", "devs"}, codes.InvalidArgument, "", nil},
		{"two users", []string{"impersonate-user", "bob", "impersonate-user", "carol"}, codes.InvalidArgument, "", nil},
	} {
		ctx := auth.WithUser(metadata.NewIncomingContext(context.Background(), metadata.Pairs(c.md...)), alice)
		got, err := im.Impersonate(ctx)
		if code := status.Code(apierrors.ToStatus(err)); code != c.code {
			t.Errorf("%s: %v, want %v", c.name, err, c.code)
			continue
		}
		if err != nil {
			continue
		}
		u, _ := auth.UserFrom(got)
		if u.Name != c.user || !slices.Equal(u.Groups, c.groups) {
			t.Errorf("%s: runs as %v, want %s %v", c.name, u, c.user, c.groups)
		}
		if by, ok := auth.ImpersonatorFrom(got); ok != (len(c.md) > 0) || ok && by.Name != "alice" {
			t.Errorf("%s: impersonator %v %v", c.name, by, ok)
		}
	}
}

// TestImpersonateHTTP: an HTTPS request's Impersonate-* headers, of any
// case, ask for what the gRPC metadata does, with the same checks.
func TestImpersonateHTTP(t *testing.T) {
	z := auth.AuthorizerFunc(func(_ context.Context, a auth.Attributes) (bool, string, error) {
		return a.User.Name == "alice" && a.Verb == "impersonate" && (a.Resource == "users" && a.Name == "bob" ||
			a.Resource == "groups" && a.Name == "devs" || a.Resource == "userextras/scopes" && a.Name == "view"), "", nil
	})
	im := auth.Impersonator{Authorizer: z}
	ctx := auth.WithUser(context.Background(), auth.User{Name: "alice", Groups: []string{"system:authenticated"}})
	h := http.Header{}
	h.Set("Impersonate-User", "bob")
	h.Add("impersonate-group", "devs")
	h.Add("IMPERSONATE-EXTRA-Scopes", "view")
	h.Set("Authorization", "Bearer not-an-impersonation")
	got, err := im.ImpersonateHTTP(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := auth.UserFrom(got)
	if u.Name != "bob" || !slices.Equal(u.Groups, []string{"devs", "system:authenticated"}) || !slices.Equal(u.Extra["scopes"], []string{"view"}) {
		t.Errorf("runs as %+v, want bob of devs with scopes=view", u)
	}
	if by, ok := auth.ImpersonatorFrom(got); !ok || by.Name != "alice" {
		t.Errorf("impersonator %v %v, want alice", by, ok)
	}
	h.Set("Impersonate-Group", "system:masters")
	if _, err := im.ImpersonateHTTP(ctx, h); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `cannot impersonate resource "groups"`) {
		t.Errorf("impersonating system:masters: %v, want Forbidden naming the groups impersonation", err)
	}
	if got, err := im.ImpersonateHTTP(ctx, http.Header{"Accept": {"*/*"}}); err != nil || got != ctx {
		t.Errorf("no Impersonate-* header: %v, want the caller's context unchanged", err)
	}
}
