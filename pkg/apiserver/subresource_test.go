package apiserver_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/scheme"
)

// TestCreateOnSubresource: a create naming a subresource reaches the
// handler registered for it, authorized as "create" on
// "<resource>/<subresource>" with the object's name and namespace, with its
// object defaulted and validated, and its answer is returned; a
// subresource nobody serves, or a create without the object's name, is
// refused without reaching any handler.
func TestCreateOnSubresource(t *testing.T) {
	var asked []auth.Attributes
	c := start(t, func(cfg *apiserver.Config) {
		cfg.Authorizer = auth.AuthorizerFunc(func(_ context.Context, a auth.Attributes) (bool, string, error) {
			asked = append(asked, a)
			return a.User.Name != "mallory", "", nil
		})
	})
	var got []apiserver.CreateCall
	apiserver.HandleCreate(c.srv.Server, "serviceaccounts/echo", func(_ context.Context, call apiserver.CreateCall) (proto.Message, error) {
		got = append(got, call)
		cm := proto.Clone(call.Object).(*corev1.ConfigMap)
		cm.Data = map[string]string{"to": call.Name}
		return cm, nil
	})
	obj, err := scheme.Pack(&corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: "question"}})
	if err != nil {
		t.Fatal(err)
	}
	req := func(name, sub string) *apiv1.CreateRequest {
		return &apiv1.CreateRequest{Resource: "serviceaccounts", Namespace: "team", Name: name, Subresource: sub, Object: obj}
	}
	as := func(name string) context.Context {
		return auth.WithUser(c.ctx, auth.User{Name: name, Groups: []string{auth.GroupAuthenticated}})
	}

	out, err := c.srv.Server.Create(as("alice"), req("builder", "echo"))
	if err != nil {
		t.Fatalf("create on serviceaccounts/echo: %v", err)
	}
	m, _, err := scheme.Unpack(out)
	if err != nil {
		t.Fatal(err)
	}
	if cm, ok := m.(*corev1.ConfigMap); !ok || cm.GetData()["to"] != "builder" {
		t.Fatalf("answer %v, want the handler's ConfigMap naming builder", m)
	}
	if len(got) != 1 || got[0].Name != "builder" || got[0].Namespace != "team" || got[0].Subresource != "echo" || got[0].User.Name != "alice" {
		t.Fatalf("handler saw %+v", got)
	}
	last := asked[len(asked)-1]
	if last.Verb != "create" || last.Resource != "serviceaccounts/echo" || last.Namespace != "team" || last.Name != "builder" {
		t.Fatalf("authorized %+v, want create serviceaccounts/echo team/builder", last)
	}

	for _, tc := range []struct {
		name   string
		ctx    context.Context
		req    *apiv1.CreateRequest
		reason apierrors.Reason
	}{
		{"unknown subresource", as("alice"), req("builder", "nope"), apierrors.ReasonMethodNotAllowed},
		{"no name", as("alice"), req("", "echo"), apierrors.ReasonBadRequest},
		{"denied", as("mallory"), req("builder", "echo"), apierrors.ReasonForbidden},
		{"no object", as("alice"), &apiv1.CreateRequest{Resource: "serviceaccounts", Namespace: "team", Name: "b", Subresource: "echo"}, apierrors.ReasonBadRequest},
	} {
		_, err := c.srv.Server.Create(tc.ctx, tc.req)
		if r := apierrors.ReasonOf(err); r != tc.reason {
			t.Errorf("%s: error %v (%s), want %s", tc.name, err, r, tc.reason)
		}
	}
	if len(got) != 1 {
		t.Errorf("refused creates reached the handler: %+v", got[1:])
	}
}

// TestUpdateOnSubresource: an update names "status" (as UpdateStatus) or
// a subresource its kind declares; any other is MethodNotAllowed and
// changes nothing.
func TestUpdateOnSubresource(t *testing.T) {
	c := start(t, nil)
	ns := mustCreate(c, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}})
	a, err := scheme.Pack(ns)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.api.Update(c.ctx, &apiv1.UpdateRequest{Resource: "namespaces", Object: a, Subresource: "approval"})
	if apierrors.ReasonOf(apierrors.FromStatus(err)) != apierrors.ReasonMethodNotAllowed {
		t.Fatalf("update on namespaces/approval: %v, want MethodNotAllowed", err)
	}
	_, err = c.api.UpdateStatus(c.ctx, &apiv1.UpdateRequest{Resource: "namespaces", Object: a, Subresource: "approval"})
	if apierrors.ReasonOf(apierrors.FromStatus(err)) != apierrors.ReasonBadRequest {
		t.Fatalf("UpdateStatus naming another subresource: %v, want BadRequest", err)
	}
	writesNothing(c, "a refused subresource update", func() {
		c.api.Update(c.ctx, &apiv1.UpdateRequest{Resource: "namespaces", Object: a, Subresource: "approval"})
	})
	// Update naming "status" is UpdateStatus: only the status is taken.
	ns.Status = &corev1.NamespaceStatus{Phase: "Terminating"}
	ns.Metadata.Labels = map[string]string{"ignored": "yes"}
	if a, err = scheme.Pack(ns); err != nil {
		t.Fatal(err)
	}
	if _, err := c.api.Update(c.ctx, &apiv1.UpdateRequest{Resource: "namespaces", Object: a, Subresource: "status"}); err != nil {
		t.Fatalf("update on namespaces/status: %v", err)
	}
	got := mustGet[*corev1.Namespace](c, "", "team")
	if got.GetStatus().GetPhase() != "Terminating" || got.GetMetadata().GetLabels()["ignored"] != "" {
		t.Fatalf("after an update on status: %v, want the status taken and the labels not", got)
	}
}
