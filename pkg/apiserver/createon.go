package apiserver

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// CreateCall is a create that the apiserver answers instead of storing:
// on a create-only kind (Resource "selfsubjectaccessreviews") or on a
// subresource of a stored object (Resource "serviceaccounts", Name
// "default", Subresource "token"). It has been authenticated, authorized
// (verb "create" on the resource, or on "<resource>/<subresource>" with
// Namespace and Name) and its Object defaulted and validated by its kind's
// strategy when it reaches a handler.
type CreateCall struct {
	User        auth.User
	Resource    string
	Namespace   string
	Name        string
	Subresource string
	// Object is the request's object, of a registered kind; the handler
	// may change it and return it as its answer.
	Object proto.Message
	DryRun bool
}

// createHandler answers a CreateCall with an object of a registered kind
// (usually Object with its status filled in).
type createHandler func(ctx context.Context, call CreateCall) (proto.Message, error)

// handleCreate registers h for key: the resource of a create-only kind,
// or "<resource>/<subresource>". Called from New only.
func (s *Server) handleCreate(key string, h createHandler) {
	if s.creates == nil {
		s.creates = map[string]createHandler{}
	}
	s.creates[key] = h
}

// createAnswered serves a create the apiserver answers (see CreateCall):
// req names a subresource or a create-only kind.
func (s *Server) createAnswered(ctx context.Context, req *apiv1.CreateRequest) (*anypb.Any, error) {
	call := CreateCall{Resource: req.GetResource(), Namespace: req.GetNamespace(), Name: req.GetName(),
		Subresource: req.GetSubresource(), DryRun: req.GetDryRun()}
	call.User, _ = auth.UserFrom(ctx)
	key, res := call.Resource, call.Resource
	if call.Subresource != "" {
		r, err := s.lookup(ctx, call.Resource)
		if err != nil {
			return nil, err
		}
		if call.Name == "" {
			return nil, apierrors.BadRequest("a create on the %s subresource of %s needs the object's name", call.Subresource, r.kind.Resource)
		}
		if !r.kind.Namespaced {
			call.Namespace = ""
		}
		key = r.kind.Resource + "/" + call.Subresource
		res = key
	} else if k, ok := scheme.ByResource(call.Resource); ok {
		key, res = k.Resource, k.Resource
		if !k.Namespaced {
			call.Namespace = ""
		}
	}
	h, ok := s.creates[key]
	if !ok {
		return nil, apierrors.MethodNotAllowed(key)
	}
	if err := s.authorize(ctx, "create", res, call.Namespace, call.Name); err != nil {
		return nil, err
	}
	if req.GetObject() == nil {
		return nil, apierrors.BadRequest("request has no object")
	}
	obj, k, err := scheme.UnpackKnown(req.GetObject())
	if err != nil {
		return nil, apierrors.BadRequest("%v", err)
	}
	if call.Subresource == "" && k.Resource != key {
		return nil, apierrors.BadRequest("object of kind %s sent to resource %q", k.Kind, key)
	}
	if m := scheme.Meta(obj); k.Namespaced && m.Namespace == "" {
		m.Namespace = call.Namespace
	}
	st := registry.For(k)
	st.Default(obj)
	if errs := registry.ValidateCreate(obj); len(errs) > 0 {
		return nil, apierrors.Invalid(k.QualifiedKind(), scheme.Meta(obj).GetName(), errs)
	}
	call.Object = obj
	out, err := h(ctx, call)
	if err != nil {
		return nil, err
	}
	b, err := proto.Marshal(out)
	if err != nil {
		return nil, apierrors.Internal("encoding the answer: %v", err)
	}
	ak, _ := scheme.ByMessage(out)
	if ak == nil {
		return nil, apierrors.Internal("the %s handler answered with an unregistered message %T", key, out)
	}
	return &anypb.Any{TypeUrl: ak.TypeURL(), Value: b}, nil
}
