package apiserver

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/apierrors"
	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/auth/node"
	"keel.dev/keel/pkg/auth/serviceaccount"
	"keel.dev/keel/pkg/scheme"
)

// tokenRequest answers a create on serviceaccounts/token: a token of the
// named service account for the request's audiences (default the
// apiserver's) and expiration (capped by ServiceAccountMaxTokenExpiration),
// bound to the request's Pod or Secret, which must exist (with the uid
// given, if any). A node may only ask for tokens bound to a pod bound to
// it, of the pod's own service account: create-only kinds skip admission,
// so this handler is NodeRestriction's check too. The answer is the
// request with the audiences and lifetime granted and, unless a dry run,
// the token. Decides everything before signing.
func (s *Server) tokenRequest(ctx context.Context, call CreateCall) (proto.Message, error) {
	r := call.Object.(*authenticationv1.TokenRequest)
	if s.signer == nil {
		return nil, &apierrors.Error{Reason: apierrors.ReasonMethodNotAllowed, Message: "the server does not allow this method on the requested resource (serviceaccounts/token): " +
			"the apiserver issues tokens only with --service-account-signing-key-file"}
	}
	if ns := r.GetMetadata().GetNamespace(); ns != "" && ns != call.Namespace {
		return nil, apierrors.BadRequest("the namespace of the TokenRequest (%s) does not match the namespace of the service account (%s)", ns, call.Namespace)
	}
	obj, _, err := s.read(ctx, s.resources["serviceaccounts"], call.Namespace, call.Name)
	if err != nil {
		return nil, err
	}
	sa := obj.(*corev1.ServiceAccount)
	req := serviceaccount.Request{Namespace: call.Namespace, ServiceAccountName: call.Name, ServiceAccountUID: sa.GetMetadata().GetUid()}

	spec := r.GetSpec()
	nodeName, isNode := node.NodeName(call.User)
	ref := spec.GetBoundObjectRef()
	if isNode && ref.GetKind() != "Pod" {
		return nil, apierrors.Forbidden("serviceaccounts/token", call.Name, fmt.Sprintf("node %q may only request tokens bound to a pod", nodeName))
	}
	switch ref.GetKind() {
	case "Pod":
		pod, err := s.boundObject(ctx, "pods", call.Namespace, ref)
		if err != nil {
			return nil, err
		}
		p := pod.(*corev1.Pod)
		if p.GetSpec().GetServiceAccountName() != call.Name {
			return nil, apierrors.BadRequest("cannot bind token for serviceaccount %q to pod %q running with serviceaccount %q", call.Name, ref.GetName(), p.GetSpec().GetServiceAccountName())
		}
		if isNode && p.GetSpec().GetNodeName() != nodeName {
			return nil, apierrors.Forbidden("serviceaccounts/token", call.Name, fmt.Sprintf("node %q may not request a token bound to pod %q, which is not bound to it", nodeName, ref.GetName()))
		}
		req.Pod = &serviceaccount.Ref{Name: ref.GetName(), UID: scheme.Meta(p).GetUid()}
	case "Secret":
		sec, err := s.boundObject(ctx, "secrets", call.Namespace, ref)
		if err != nil {
			return nil, err
		}
		req.Secret = &serviceaccount.Ref{Name: ref.GetName(), UID: scheme.Meta(sec).GetUid()}
	}

	req.Audiences = slices.Clone(spec.GetAudiences())
	if len(req.Audiences) == 0 {
		req.Audiences = s.apiAudiences()
	}
	exp := time.Duration(spec.GetExpirationSeconds()) * time.Second
	if max := s.cfg.ServiceAccountMaxTokenExpiration; max > 0 && exp > max {
		exp = max
	}
	req.Expiration = exp
	r.Spec.Audiences = slices.Clone(req.Audiences)
	secs := int64(exp / time.Second)
	r.Spec.ExpirationSeconds = &secs
	if call.DryRun {
		return r, nil
	}
	tok, expires, err := s.signer.Issue(req)
	if err != nil {
		return nil, apierrors.Internal("issuing a token for serviceaccount %s/%s: %v", call.Namespace, call.Name, err)
	}
	r.Status = &authenticationv1.TokenRequestStatus{Token: tok, ExpirationTimestamp: timestamppb.New(expires)}
	return r, nil
}

// boundObject reads the object of resource a token is to be bound to: it
// must exist and, when ref names a uid, have it.
func (s *Server) boundObject(ctx context.Context, resource, namespace string, ref *authenticationv1.BoundObjectReference) (proto.Message, error) {
	obj, _, err := s.read(ctx, s.resources[resource], namespace, ref.GetName())
	if err != nil {
		return nil, err
	}
	if uid := ref.GetUid(); uid != "" && uid != scheme.Meta(obj).GetUid() {
		return nil, apierrors.Conflict(resource, ref.GetName(), fmt.Sprintf("the UID in the bound object reference (%s) does not match the object's (%s): it may have been deleted and recreated", uid, scheme.Meta(obj).GetUid()))
	}
	return obj, nil
}
