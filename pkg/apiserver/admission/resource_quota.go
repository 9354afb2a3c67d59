package admission

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/quota"
	"keel.dev/keel/pkg/scheme"
)

// QuotaStatusWriter writes the status of a ResourceQuota for the
// ResourceQuota plugin.
type QuotaStatusWriter interface {
	// UpdateQuotaStatus stores q's status if q's resourceVersion is
	// still the stored one, else fails with an apierrors Conflict.
	UpdateQuotaStatus(ctx context.Context, q *corev1.ResourceQuota) error
}

// quotaChargeAttempts bounds how often one quota is re-read and charged
// again after a concurrent charge changed it.
const quotaChargeAttempts = 32

// ResourceQuota enforces the ResourceQuotas of a new object's namespace,
// as Kubernetes' plugin of that name. For every quota whose scopes select
// the object and whose spec.hard names a resource the object uses (see
// package quota), it refuses the create when used + requested would pass
// hard ("exceeded quota: q, requested: pods=1, used: pods=2, limited:
// pods=2"), or when a pod's container does not name a compute resource
// the quota limits ("failed quota: q: must specify limits.cpu for: c").
// Otherwise it charges the usage to each quota's status.used with an
// optimistic-concurrency write, re-reading and deciding again when
// another charge came first, so concurrent creates never pass hard
// together. A quota whose status.used does not name a resource yet is
// charged from the namespace's objects as they are. A charge whose write
// then fails stays until the resourcequota controller recomputes usage.
// An update is charged what it adds to its object's usage (a Service
// turned NodePort or LoadBalancer, more node ports) against the quotas
// that tracked the old object too (quota.Increase), and only that is
// checked: pod constraints are a create's. Dry runs are checked but not
// charged.
type ResourceQuota struct {
	Status QuotaStatusWriter
	// Now is the clock deciding whether a deleted pod still counts; nil
	// is time.Now.
	Now func() time.Time
}

var _ Validator = ResourceQuota{}

// Name implements Validator.
func (ResourceQuota) Name() string { return "ResourceQuota" }

// Validate implements Validator.
func (p ResourceQuota) Validate(ctx context.Context, a *Attributes, o Objects) error {
	if (a.Operation != Create && a.Operation != Update) || a.Subresource != "" || a.Namespace == "" {
		return nil
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	usage, err := quota.Usage(a.Object, now)
	if err != nil {
		return apierrors.BadRequest("%v", err)
	}
	var oldUsage quota.List
	if a.Operation == Update {
		if oldUsage, err = quota.Usage(a.OldObject, now); err != nil {
			return apierrors.Internal("the usage of the stored object: %v", err)
		}
	}
	// delta is what the request charges q.
	delta := func(q *corev1.ResourceQuota) quota.List {
		if a.Operation == Update && quota.Matches(q, a.OldObject) {
			return quota.Increase(oldUsage, usage)
		}
		return usage
	}
	quotas, err := namespaceQuotas(ctx, a.Namespace, o)
	if err != nil {
		return err
	}
	// Decide on every quota before charging any, so that a refusal
	// charges nothing.
	var charge []string
	for _, q := range quotas {
		next, err := p.decide(ctx, a, o, q, delta(q), now)
		if err != nil {
			return err
		}
		if next != nil {
			charge = append(charge, q.GetMetadata().GetName())
		}
	}
	if a.DryRun {
		return nil // admitted, but nothing stored to charge for
	}
	for _, name := range charge {
		if err := p.charge(ctx, a, o, name, delta, now); err != nil {
			return err
		}
	}
	return nil
}

// charge writes delta into the named quota, deciding again on a fresh
// read after each conflict.
func (p ResourceQuota) charge(ctx context.Context, a *Attributes, o Objects, name string, delta func(*corev1.ResourceQuota) quota.List, now time.Time) error {
	for range quotaChargeAttempts {
		m, err := o.Get(ctx, "resourcequotas", a.Namespace, name)
		if apierrors.IsNotFound(err) {
			return nil // deleted meanwhile: nothing to charge
		}
		if err != nil {
			return err
		}
		q := m.(*corev1.ResourceQuota)
		next, err := p.decide(ctx, a, o, q, delta(q), now)
		if err != nil || next == nil {
			return err
		}
		err = p.Status.UpdateQuotaStatus(ctx, next)
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return apierrors.Conflict("resourcequotas", name, "too many concurrent charges; please try again")
}

// decide checks a.Object's delta against q: an error refuses the request,
// a nil quota means q does not track it, else it is q with delta charged.
func (p ResourceQuota) decide(ctx context.Context, a *Attributes, o Objects, q *corev1.ResourceQuota, delta quota.List, now time.Time) (*corev1.ResourceQuota, error) {
	if !quota.Matches(q, a.Object) {
		return nil, nil
	}
	hardAPI := q.GetSpec().GetHard()
	forbidden := func(format string, args ...any) error {
		return apierrors.Forbidden(a.Kind.QualifiedResource(), a.Name, fmt.Sprintf(format, args...))
	}
	if pod, ok := a.Object.(*corev1.Pod); ok && a.Operation == Create {
		if err := quota.PodConstraints(hardAPI, pod); err != nil {
			return nil, forbidden("failed quota: %s: %v", q.GetMetadata().GetName(), err)
		}
	}
	var names []string
	for name := range delta {
		if _, ok := hardAPI[name]; ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	used := quota.Parse(q.GetStatus().GetUsed())
	for name := range hardAPI {
		if _, ok := used[name]; !ok {
			fresh, err := p.recount(ctx, a.Namespace, o, q, now)
			if err != nil {
				return nil, err
			}
			used = fresh
			break
		}
	}
	hard := quota.Parse(hardAPI)
	next := quota.Add(used, quota.List{})
	var exceeded []string
	for _, name := range names {
		v := next[name]
		v.Add(delta[name])
		next[name] = v
		if limit, ok := hard[name]; ok && v.Cmp(limit) > 0 {
			exceeded = append(exceeded, name)
		}
	}
	if len(exceeded) > 0 {
		return nil, forbidden("exceeded quota: %s, requested: %s, used: %s, limited: %s", q.GetMetadata().GetName(),
			quota.Format(delta, exceeded), quota.Format(used, exceeded), quota.Format(hard, exceeded))
	}
	out := proto.Clone(q).(*corev1.ResourceQuota)
	out.Status = &corev1.ResourceQuotaStatus{Hard: quota.ToAPI(hard), Used: quota.ToAPI(next)}
	return out, nil
}

// recount computes q's usage from the objects of namespace.
func (ResourceQuota) recount(ctx context.Context, namespace string, o Objects, q *corev1.ResourceQuota, now time.Time) (quota.List, error) {
	var objs []proto.Message
	for _, k := range quota.Kinds(q.GetSpec().GetHard()) {
		all, err := o.List(ctx, k.Resource)
		if err != nil {
			return nil, err
		}
		for _, m := range all {
			if scheme.Meta(m).Namespace == namespace {
				objs = append(objs, m)
			}
		}
	}
	used, err := quota.Used(q, objs, now)
	if err != nil {
		return nil, apierrors.Internal("computing the usage of quota %s: %v", q.GetMetadata().GetName(), err)
	}
	return used, nil
}

// namespaceQuotas are the ResourceQuotas of namespace, by name.
func namespaceQuotas(ctx context.Context, namespace string, o Objects) ([]*corev1.ResourceQuota, error) {
	all, err := o.List(ctx, "resourcequotas")
	if err != nil {
		return nil, err
	}
	var out []*corev1.ResourceQuota
	for _, m := range all {
		if q := m.(*corev1.ResourceQuota); q.GetMetadata().GetNamespace() == namespace {
			out = append(out, q)
		}
	}
	slices.SortFunc(out, func(x, y *corev1.ResourceQuota) int {
		return strings.Compare(x.GetMetadata().GetName(), y.GetMetadata().GetName())
	})
	return out, nil
}
