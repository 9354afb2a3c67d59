package apiserver

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	policyv1 "keel.dev/keel/pkg/apis/policy/v1"
	"keel.dev/keel/pkg/labelselector"
	"keel.dev/keel/pkg/scheme"
)

// maxDisruptedPods is how many evictions a budget may hold unconfirmed
// by the disruption controller (status.disruptedPods) before further
// evictions are refused, as Kubernetes' MaxDisruptedPodSize.
const maxDisruptedPods = 2000

// evict answers a create on pods/eviction: it deletes the named pod with
// the Eviction's deleteOptions when the pod's PodDisruptionBudget allows
// it, as Kubernetes' eviction subresource does:
//   - a pod already terminating, or Pending, Succeeded or Failed, is
//     deleted whatever its budget;
//   - a pod no budget selects is deleted; one that several select is an
//     InternalError (the subresource supports one budget per pod);
//   - a pod that is not ready is deleted without spending the budget
//     when its budget's unhealthyPodEvictionPolicy is AlwaysAllow, or
//     when the budget has its desired healthy pods;
//   - otherwise the budget's status.disruptionsAllowed must be positive:
//     it is decremented and the pod recorded in status.disruptedPods,
//     written at the budget's resourceVersion so that two concurrent
//     evictions cannot spend the same disruption; when it is 0 the
//     eviction is refused with TooManyRequests and a DisruptionBudget
//     cause naming the budget.
//
// Pods deleted without spending the budget carry a resourceVersion
// precondition, so a pod that changed meanwhile is decided again. The
// caller needs create on pods/eviction only, not delete on pods.
func (s *Server) evict(ctx context.Context, call CreateCall) (proto.Message, error) {
	ev := call.Object.(*policyv1.Eviction)
	if n := ev.GetMetadata().GetName(); n != "" && n != call.Name {
		return nil, apierrors.BadRequest("name in URL does not match name in Eviction object")
	}
	opts := ev.GetDeleteOptions()
	req := &apiv1.DeleteRequest{Resource: "pods", Namespace: call.Namespace, Name: call.Name,
		GracePeriodSeconds: opts.GracePeriodSeconds, PropagationPolicy: opts.GetPropagationPolicy(),
		DryRun: call.DryRun || slices.Contains(opts.GetDryRun(), "All")}
	if p := opts.GetPreconditions(); p != nil {
		req.Preconditions = &apiv1.Preconditions{Uid: p.GetUid(), ResourceVersion: p.GetResourceVersion()}
	}
	for attempt := 0; ; attempt++ {
		retry, err := s.evictOnce(ctx, req)
		if retry && attempt < conflictRetries {
			continue
		}
		if err != nil {
			return nil, err
		}
		return ev, nil
	}
}

// evictOnce decides and performs one eviction attempt (see evict); retry
// is true when it failed on a write of its own that lost a race.
func (s *Server) evictOnce(ctx context.Context, req *apiv1.DeleteRequest) (retry bool, err error) {
	pods := s.resources["pods"]
	obj, rev, err := s.read(ctx, pods, req.GetNamespace(), req.GetName())
	if err != nil {
		return false, err
	}
	pod := obj.(*corev1.Pod)
	pin := false // delete only the pod as read: the decision depended on its state
	switch {
	case pod.GetMetadata().GetDeletionTimestamp() != nil:
	case api.IsPodTerminal(pod) || pod.GetStatus().GetPhase() == api.PodPending:
		pin = true
	default:
		budgets, err := s.podBudgets(ctx, pod)
		if err != nil {
			return false, err
		}
		if len(budgets) > 1 {
			return false, apierrors.Internal("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
		}
		if len(budgets) == 1 {
			pdb := budgets[0]
			st := pdb.GetStatus()
			unhealthyAllowed := pdb.GetSpec().GetUnhealthyPodEvictionPolicy() == api.AlwaysAllowPolicy ||
				(st.GetDesiredHealthy() > 0 && st.GetCurrentHealthy() >= st.GetDesiredHealthy())
			if !api.IsPodReady(pod) && unhealthyAllowed {
				pin = true
			} else if err := s.spendDisruption(ctx, pdb.GetMetadata().GetNamespace(), pdb.GetMetadata().GetName(), pod, req.GetDryRun()); err != nil {
				return apierrors.IsConflict(err), err
			}
		}
	}
	d := proto.Clone(req).(*apiv1.DeleteRequest)
	if pin && d.GetPreconditions().GetResourceVersion() == "" {
		if d.Preconditions == nil {
			d.Preconditions = &apiv1.Preconditions{}
		}
		d.Preconditions.ResourceVersion = strconv.FormatInt(rev, 10)
	}
	_, err = s.deleteRetrying(ctx, pods, d)
	return pin && req.GetPreconditions().GetResourceVersion() == "" && apierrors.IsConflict(err), err
}

// podBudgets returns the PodDisruptionBudgets of the pod's namespace
// whose selector selects it (a budget without selector selects nothing),
// from the cache.
func (s *Server) podBudgets(ctx context.Context, pod *corev1.Pod) ([]*policyv1.PodDisruptionBudget, error) {
	r := s.resources["poddisruptionbudgets"]
	if err := r.caughtUp(ctx); err != nil {
		return nil, err
	}
	all, err := r.cachedList(pod.GetMetadata().GetNamespace(), nil)
	if err != nil {
		return nil, err
	}
	var out []*policyv1.PodDisruptionBudget
	for _, o := range all {
		pdb := o.(*policyv1.PodDisruptionBudget)
		if labelselector.Matches(pdb.GetSpec().GetSelector(), pod.GetMetadata().GetLabels()) {
			out = append(out, pdb)
		}
	}
	return out, nil
}

// spendDisruption takes one disruption from the named budget for pod, as
// read from etcd now: refused (TooManyRequests, with the budget named in
// a DisruptionBudget cause) when the controller has not processed the
// budget's spec yet or it allows none, else written back at the read
// revision (a Conflict when another writer came first) with
// disruptionsAllowed decremented and the pod in disruptedPods. A dry run
// decides without writing.
func (s *Server) spendDisruption(ctx context.Context, ns, name string, pod *corev1.Pod, dryRun bool) error {
	r := s.resources["poddisruptionbudgets"]
	obj, rev, err := s.read(ctx, r, ns, name)
	if err != nil {
		return err
	}
	pdb := obj.(*policyv1.PodDisruptionBudget)
	st := pdb.GetStatus()
	refuse := func(why string) error {
		return apierrors.TooManyRequestsWithCauses(api.EvictionRefusedMessage, apierrors.Cause{Type: api.DisruptionBudgetCause, Message: why})
	}
	switch {
	case st.GetObservedGeneration() < pdb.GetMetadata().GetGeneration():
		return refuse(fmt.Sprintf("The disruption budget %s is still being processed by the server.", name))
	case st.GetDisruptionsAllowed() < 0:
		return apierrors.Forbidden("poddisruptionbudget.policy", name, "pdb disruptions allowed is negative")
	case len(st.GetDisruptedPods()) > maxDisruptedPods:
		return apierrors.Forbidden("poddisruptionbudget.policy", name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller")
	case st.GetDisruptionsAllowed() == 0:
		return refuse(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", name, st.GetDesiredHealthy(), st.GetCurrentHealthy()))
	}
	if dryRun {
		return nil
	}
	next := proto.Clone(pdb).(*policyv1.PodDisruptionBudget)
	st2 := next.Status
	st2.DisruptionsAllowed--
	if st2.DisruptionsAllowed == 0 {
		api.SetDisruptionAllowedCondition(st2, pdb.GetMetadata().GetGeneration(), s.now().AsTime(), "")
	}
	if st2.DisruptedPods == nil {
		st2.DisruptedPods = map[string]*timestamppb.Timestamp{}
	}
	st2.DisruptedPods[pod.GetMetadata().GetName()] = s.now()
	scheme.Meta(next).ResourceVersion = ""
	scheme.Meta(pdb).ResourceVersion = ""
	_, err = s.commit(ctx, r, next, pdb, rev, false)
	return err
}
