package apiserver

import (
	"context"
	"sort"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/scheme"
)

// ReadCall is a get or list of a computed kind (scheme.Kind.Computed),
// which the apiserver answers from elsewhere instead of storage. It has
// been authenticated and authorized (verb "get" or "list" on the kind's
// resource in its group) when it reaches a handler.
type ReadCall struct {
	User auth.User
	Kind *scheme.Kind
	// Namespace is "" for a cluster-scoped kind, and for a list across
	// namespaces.
	Namespace string
	// Name is set for a get, empty for a list.
	Name string
	// Label selects the objects of a list (nil: all); the caller applies
	// the field selector (metadata.name, metadata.namespace) to what the
	// handler returns.
	Label labels.Selector
}

// readHandler answers a ReadCall with the objects of the call's kind: for
// a get, the one named (or a NotFound error); for a list, those that
// match, in any order.
type readHandler func(ctx context.Context, call ReadCall) ([]proto.Message, error)

// handleRead registers h for a computed kind, by its qualified resource
// ("pods.metrics.k8s.io"). Called from New only.
func (s *Server) handleRead(qualifiedResource string, h readHandler) {
	if s.reads == nil {
		s.reads = map[string]readHandler{}
	}
	s.reads[qualifiedResource] = h
}

// computedKind returns the computed kind a request's resource names, if
// it names one.
func computedKind(resource string) (*scheme.Kind, bool) {
	k, ok := scheme.ByResource(resource)
	return k, ok && k.Computed
}

// computedFields are the field selectors of computed kinds.
var computedFields = map[string]bool{"metadata.name": true, "metadata.namespace": true}

// getComputed answers a get of a computed kind.
func (s *Server) getComputed(ctx context.Context, k *scheme.Kind, req *apiv1.GetRequest) (*anypb.Any, error) {
	ns := req.GetNamespace()
	if !k.Namespaced {
		ns = ""
	}
	if err := s.authorizeRequest(ctx, auth.Attributes{Verb: "get", APIGroup: k.Group, Resource: k.Resource, Namespace: ns, Name: req.GetName()}); err != nil {
		return nil, err
	}
	if req.GetName() == "" {
		return nil, apierrors.BadRequest("a name is required")
	}
	if k.Namespaced && ns == "" {
		return nil, apierrors.BadRequest("a namespace is required")
	}
	h := s.reads[k.QualifiedResource()]
	if h == nil {
		return nil, apierrors.MethodNotAllowed(k.QualifiedResource())
	}
	call := ReadCall{Kind: k, Namespace: ns, Name: req.GetName()}
	call.User, _ = auth.UserFrom(ctx)
	objs, err := h(ctx, call)
	if err != nil {
		return nil, err
	}
	if len(objs) != 1 {
		return nil, apierrors.NotFound(k.QualifiedResource(), req.GetName())
	}
	return packAnswer(objs[0])
}

// listComputed answers a list of a computed kind: every object the
// handler returns that the field selector selects, sorted by namespace
// and name, in one page (limit and continue are ignored, as
// metrics-server ignores them).
func (s *Server) listComputed(ctx context.Context, k *scheme.Kind, req *apiv1.ListRequest) (*apiv1.ListResponse, error) {
	ns := req.GetNamespace()
	if !k.Namespaced {
		ns = ""
	}
	var label labels.Selector
	if ls := req.GetLabelSelector(); ls != "" {
		sel, err := labels.Parse(ls)
		if err != nil {
			return nil, apierrors.BadRequest("invalid label selector %q: %v", ls, err)
		}
		label = sel
	}
	var field fields.Selector
	if fs := req.GetFieldSelector(); fs != "" {
		sel, err := fields.ParseSelector(fs)
		if err != nil {
			return nil, apierrors.BadRequest("invalid field selector %q: %v", fs, err)
		}
		for _, r := range sel.Requirements() {
			if !computedFields[r.Field] {
				return nil, apierrors.BadRequest("field label not supported for %s: %q", k.Resource, r.Field)
			}
		}
		field = sel
	}
	name := ""
	if field != nil {
		name, _ = field.RequiresExactMatch("metadata.name")
	}
	if err := s.authorizeRequest(ctx, auth.Attributes{Verb: "list", APIGroup: k.Group, Resource: k.Resource, Namespace: ns, Name: name, LabelSelector: label}); err != nil {
		return nil, err
	}
	h := s.reads[k.QualifiedResource()]
	if h == nil {
		return nil, apierrors.MethodNotAllowed(k.QualifiedResource())
	}
	call := ReadCall{Kind: k, Namespace: ns, Label: label}
	call.User, _ = auth.UserFrom(ctx)
	objs, err := h(ctx, call)
	if err != nil {
		return nil, err
	}
	sort.Slice(objs, func(i, j int) bool {
		a, b := scheme.Meta(objs[i]), scheme.Meta(objs[j])
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
	resp := &apiv1.ListResponse{}
	for _, o := range objs {
		m := scheme.Meta(o)
		if field != nil && !field.Matches(fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()}) {
			continue
		}
		a, err := packAnswer(o)
		if err != nil {
			return nil, err
		}
		resp.Items = append(resp.Items, a)
	}
	return resp, nil
}

func packAnswer(m proto.Message) (*anypb.Any, error) {
	a, err := scheme.Pack(m)
	if err != nil {
		return nil, apierrors.Internal("%v", err)
	}
	return a, nil
}
