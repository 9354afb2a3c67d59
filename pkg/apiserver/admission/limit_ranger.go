package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
)

// LimitRangerAnnotation records on a pod which defaults LimitRanger set.
const LimitRangerAnnotation = "kubernetes.io/limit-ranger"

// LimitRanger enforces the LimitRanges of a new pod's namespace, as
// Kubernetes' plugin of that name: mutating, it gives each container the
// default limits and default requests of the Container items for the
// resources it names none of; validating, it refuses a pod whose
// containers (Container items) or whole (Pod items) fall outside min and
// max or exceed maxLimitRequestRatio.
type LimitRanger struct{}

var (
	_ Mutator   = LimitRanger{}
	_ Validator = LimitRanger{}
)

// Name implements Mutator and Validator.
func (LimitRanger) Name() string { return "LimitRanger" }

// limitRanges returns the LimitRanges of the pod being created, or nil
// when the request is not a pod create.
func limitRanges(ctx context.Context, a *Attributes, o Objects) (*corev1.Pod, []*corev1.LimitRange, error) {
	pod, ok := a.Object.(*corev1.Pod)
	if a.Operation != Create || !ok || a.Subresource != "" {
		return nil, nil, nil
	}
	all, err := o.List(ctx, "limitranges")
	if err != nil {
		return nil, nil, err
	}
	var out []*corev1.LimitRange
	for _, m := range all {
		if lr := m.(*corev1.LimitRange); lr.GetMetadata().GetNamespace() == a.Namespace {
			out = append(out, lr)
		}
	}
	slices.SortFunc(out, func(x, y *corev1.LimitRange) int {
		return strings.Compare(x.GetMetadata().GetName(), y.GetMetadata().GetName())
	})
	return pod, out, nil
}

// Admit implements Mutator.
func (LimitRanger) Admit(ctx context.Context, a *Attributes, o Objects) error {
	pod, lrs, err := limitRanges(ctx, a, o)
	if pod == nil || err != nil {
		return err
	}
	var set []string
	for _, lr := range lrs {
		for _, item := range lr.GetSpec().GetLimits() {
			if item.GetType() != api.LimitTypeContainer {
				continue
			}
			for _, c := range append(slices.Clone(pod.GetSpec().GetInitContainers()), pod.GetSpec().GetContainers()...) {
				set = append(set, applyDefaults(c, item)...)
			}
		}
	}
	if len(set) > 0 {
		if pod.Metadata.Annotations == nil {
			pod.Metadata.Annotations = map[string]string{}
		}
		pod.Metadata.Annotations[LimitRangerAnnotation] = "LimitRanger plugin set: " + strings.Join(set, "; ")
	}
	return nil
}

// applyDefaults gives c item's default limits and requests it lacks and
// says what it set ("cpu request for container web").
func applyDefaults(c *corev1.Container, item *corev1.LimitRangeItem) []string {
	var set []string
	if c.Resources == nil {
		c.Resources = &corev1.ResourceRequirements{}
	}
	r := c.Resources
	fill := func(dst *map[string]*metav1.Quantity, src map[string]*metav1.Quantity, what string) {
		for _, name := range sortedNames(src) {
			if _, ok := (*dst)[name]; ok {
				continue
			}
			if *dst == nil {
				*dst = map[string]*metav1.Quantity{}
			}
			(*dst)[name] = proto.Clone(src[name]).(*metav1.Quantity)
			set = append(set, fmt.Sprintf("%s %s for container %s", name, what, c.GetName()))
		}
	}
	fill(&r.Requests, item.GetDefaultRequest(), "request")
	fill(&r.Limits, item.GetDefault(), "limit")
	return set
}

// Validate implements Validator.
func (LimitRanger) Validate(ctx context.Context, a *Attributes, o Objects) error {
	pod, lrs, err := limitRanges(ctx, a, o)
	if pod == nil || err != nil {
		return err
	}
	var errs []string
	for _, lr := range lrs {
		for _, item := range lr.GetSpec().GetLimits() {
			switch item.GetType() {
			case api.LimitTypeContainer:
				for _, c := range append(slices.Clone(pod.GetSpec().GetInitContainers()), pod.GetSpec().GetContainers()...) {
					reqs, err1 := api.ParseResourceList(c.GetResources().GetRequests())
					lims, err2 := api.ParseResourceList(c.GetResources().GetLimits())
					if err1 != nil || err2 != nil {
						continue // validation has refused the pod already
					}
					errs = append(errs, checkLimits(api.LimitTypeContainer, item, reqs, lims)...)
				}
			case api.LimitTypePod:
				reqs, err1 := api.PodRequests(pod.GetSpec(), api.PodRequestsOptions{})
				lims, err2 := api.PodLimits(pod.GetSpec())
				if err1 != nil || err2 != nil {
					continue
				}
				errs = append(errs, checkLimits(api.LimitTypePod, item, reqs, lims)...)
			}
		}
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return apierrors.Forbidden(a.Kind.QualifiedResource(), a.Name, errs[0])
	}
	return apierrors.Forbidden(a.Kind.QualifiedResource(), a.Name, "["+strings.Join(errs, ", ")+"]")
}

// checkLimits checks one container's or pod's requests and limits
// against item, in Kubernetes' words.
func checkLimits(typ string, item *corev1.LimitRangeItem, reqs, lims map[string]resource.Quantity) []string {
	var errs []string
	for _, name := range sortedNames(item.GetMin()) {
		minQ, err := resource.ParseQuantity(item.GetMin()[name].GetString_())
		if err != nil {
			continue
		}
		req, hasReq := reqs[name]
		lim, hasLim := lims[name]
		switch {
		case !hasReq:
			errs = append(errs, fmt.Sprintf("minimum %s usage per %s is %s.  No request is specified", name, typ, minQ.String()))
		case req.Cmp(minQ) < 0:
			errs = append(errs, fmt.Sprintf("minimum %s usage per %s is %s, but request is %s", name, typ, minQ.String(), req.String()))
		case hasLim && lim.Cmp(minQ) < 0:
			errs = append(errs, fmt.Sprintf("minimum %s usage per %s is %s, but limit is %s", name, typ, minQ.String(), lim.String()))
		}
	}
	for _, name := range sortedNames(item.GetMax()) {
		maxQ, err := resource.ParseQuantity(item.GetMax()[name].GetString_())
		if err != nil {
			continue
		}
		req, hasReq := reqs[name]
		lim, hasLim := lims[name]
		switch {
		case !hasLim:
			errs = append(errs, fmt.Sprintf("maximum %s usage per %s is %s.  No limit is specified", name, typ, maxQ.String()))
		case lim.Cmp(maxQ) > 0:
			errs = append(errs, fmt.Sprintf("maximum %s usage per %s is %s, but limit is %s", name, typ, maxQ.String(), lim.String()))
		case hasReq && req.Cmp(maxQ) > 0:
			errs = append(errs, fmt.Sprintf("maximum %s usage per %s is %s, but request is %s", name, typ, maxQ.String(), req.String()))
		}
	}
	for _, name := range sortedNames(item.GetMaxLimitRequestRatio()) {
		ratio, err := resource.ParseQuantity(item.GetMaxLimitRequestRatio()[name].GetString_())
		if err != nil {
			continue
		}
		req, hasReq := reqs[name]
		lim, hasLim := lims[name]
		switch {
		case !hasReq || req.IsZero():
			errs = append(errs, fmt.Sprintf("%s max limit to request ratio per %s is %s, but no request is specified or request is 0", name, typ, ratio.String()))
		case !hasLim || lim.IsZero():
			errs = append(errs, fmt.Sprintf("%s max limit to request ratio per %s is %s, but no limit is specified or limit is 0", name, typ, ratio.String()))
		default:
			observed := float64(lim.MilliValue()) / float64(req.MilliValue())
			if observed > float64(ratio.MilliValue())/1000 {
				errs = append(errs, fmt.Sprintf("%s max limit to request ratio per %s is %s, but provided ratio is %f", name, typ, ratio.String(), observed))
			}
		}
	}
	return errs
}

// sortedNames are the keys of a resource list, sorted.
func sortedNames(list map[string]*metav1.Quantity) []string {
	names := make([]string, 0, len(list))
	for n := range list {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
