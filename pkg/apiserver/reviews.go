package apiserver

import (
	"context"
	"slices"

	"google.golang.org/protobuf/proto"

	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	authorizationv1 "keel.dev/keel/pkg/apis/authorization/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/auth/rbac"
)

// registerReviews installs the answers to the review kinds: the access
// reviews of authorization.k8s.io ask the apiserver's own authorizer, and
// SelfSubjectReview returns the caller as authenticated. Called from New.
func (s *Server) registerReviews() {
	s.handleCreate("selfsubjectaccessreviews", s.selfSubjectAccessReview)
	s.handleCreate("subjectaccessreviews", s.subjectAccessReview)
	s.handleCreate("localsubjectaccessreviews", s.localSubjectAccessReview)
	s.handleCreate("selfsubjectrulesreviews", s.selfSubjectRulesReview)
	s.handleCreate("selfsubjectreviews", selfSubjectReview)
}

// reviewAttributes are the authorizer's attributes of a review's request
// made by u (exactly one of res and nonRes is set: validation saw to it).
func reviewAttributes(u auth.User, res *authorizationv1.ResourceAttributes, nonRes *authorizationv1.NonResourceAttributes) auth.Attributes {
	if nonRes != nil {
		return auth.Attributes{User: u, Verb: nonRes.GetVerb(), Path: nonRes.GetPath()}
	}
	resource := res.GetResource()
	if res.GetSubresource() != "" {
		resource += "/" + res.GetSubresource()
	}
	return auth.Attributes{User: u, Verb: res.GetVerb(), APIGroup: res.GetGroup(), Resource: resource,
		Namespace: res.GetNamespace(), Name: res.GetName()}
}

// decide asks the authorizer about a and returns its answer as a review
// status; an authorizer failure is the status' evaluationError, not the
// call's error (as in Kubernetes).
func (s *Server) decide(ctx context.Context, a auth.Attributes) *authorizationv1.SubjectAccessReviewStatus {
	allowed, reason, err := s.cfg.Authorizer.Authorize(ctx, a)
	st := &authorizationv1.SubjectAccessReviewStatus{Allowed: allowed, Reason: reason}
	if err != nil {
		st.Allowed, st.EvaluationError = false, err.Error()
	}
	return st
}

func (s *Server) selfSubjectAccessReview(ctx context.Context, call CreateCall) (proto.Message, error) {
	r := call.Object.(*authorizationv1.SelfSubjectAccessReview)
	r.Status = s.decide(ctx, reviewAttributes(call.User, r.GetSpec().GetResourceAttributes(), r.GetSpec().GetNonResourceAttributes()))
	return r, nil
}

// specUser is the user a SubjectAccessReview's spec names.
func specUser(spec *authorizationv1.SubjectAccessReviewSpec) auth.User {
	return auth.User{Name: spec.GetUser(), Groups: spec.GetGroups(), UID: spec.GetUid()}
}

func (s *Server) subjectAccessReview(ctx context.Context, call CreateCall) (proto.Message, error) {
	r := call.Object.(*authorizationv1.SubjectAccessReview)
	spec := r.GetSpec()
	r.Status = s.decide(ctx, reviewAttributes(specUser(spec), spec.GetResourceAttributes(), spec.GetNonResourceAttributes()))
	return r, nil
}

func (s *Server) localSubjectAccessReview(ctx context.Context, call CreateCall) (proto.Message, error) {
	r := call.Object.(*authorizationv1.LocalSubjectAccessReview)
	spec := r.GetSpec()
	r.Status = s.decide(ctx, reviewAttributes(specUser(spec), spec.GetResourceAttributes(), nil))
	return r, nil
}

// selfSubjectRulesReview lists the caller's rules in spec.namespace: what
// RBAC grants it there and cluster-wide, everything for system:masters
// and under AlwaysAllow. An authorizer that cannot list what it allows
// (any mode but RBAC and AlwaysAllow, such as Node) makes the list
// incomplete.
func (s *Server) selfSubjectRulesReview(_ context.Context, call CreateCall) (proto.Message, error) {
	r := call.Object.(*authorizationv1.SelfSubjectRulesReview)
	st := &authorizationv1.SubjectRulesReviewStatus{}
	everything := call.User.InGroup(auth.GroupMasters)
	for _, m := range s.modes() {
		switch m {
		case ModeAlwaysAllow:
			everything = true
		case ModeRBAC:
			for _, rule := range (rbac.Authorizer{Roles: cachedRoles{s}}).RulesFor(call.User, r.GetSpec().GetNamespace()) {
				if len(rule.GetNonResourceUrls()) > 0 {
					st.NonResourceRules = append(st.NonResourceRules, &authorizationv1.NonResourceRule{
						Verbs: slices.Clone(rule.GetVerbs()), NonResourceUrls: slices.Clone(rule.GetNonResourceUrls())})
				}
				if len(rule.GetResources()) > 0 {
					st.ResourceRules = append(st.ResourceRules, &authorizationv1.ResourceRule{
						Verbs: slices.Clone(rule.GetVerbs()), ApiGroups: slices.Clone(rule.GetApiGroups()),
						Resources: slices.Clone(rule.GetResources()), ResourceNames: slices.Clone(rule.GetResourceNames())})
				}
			}
		default:
			st.Incomplete = true
		}
	}
	if everything {
		st.ResourceRules = append([]*authorizationv1.ResourceRule{{Verbs: []string{"*"}, ApiGroups: []string{"*"}, Resources: []string{"*"}}}, st.ResourceRules...)
		st.NonResourceRules = append([]*authorizationv1.NonResourceRule{{Verbs: []string{"*"}, NonResourceUrls: []string{"*"}}}, st.NonResourceRules...)
	}
	r.Status = st
	return r, nil
}

// selfSubjectReview answers who the caller is.
func selfSubjectReview(_ context.Context, call CreateCall) (proto.Message, error) {
	r := call.Object.(*authenticationv1.SelfSubjectReview)
	r.Status = &authenticationv1.SelfSubjectReviewStatus{UserInfo: &authenticationv1.UserInfo{
		Username: call.User.Name, Uid: call.User.UID, Groups: slices.Clone(call.User.Groups)}}
	return r, nil
}
