// Package clusterroleaggregation is the clusterrole-aggregation
// controller, as in Kubernetes: a ClusterRole with an aggregationRule
// holds the rules of every other ClusterRole one of its selectors matches
// (admin, edit and view are built this way from the system:aggregate-to-*
// roles, and an operator extends them by labelling a role of their own).
// The RBAC authorizer reads the rules the controller writes.
//
// Any ClusterRole change queues every aggregated ClusterRole; a sync reads
// the roles from the informer, Decide (pure) says what the aggregated
// role's rules must be, and the sync writes them.
package clusterroleaggregation

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/labelselector"
)

// Controller keeps aggregated ClusterRoles' rules. Create it with New,
// then Run.
type Controller struct {
	client *client.Client
	roles  *informer.Informer[*rbacv1.ClusterRole]
	queue  workqueue.Interface[string]
	log    *zap.Logger
}

// New registers the controller's handlers on f's ClusterRole informer;
// log may be nil.
func New(c *client.Client, f *informer.Factory, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, roles: informer.For[*rbacv1.ClusterRole](f),
		queue: workqueue.New[string]("clusterrole-aggregation"), log: log.Named("clusterrole-aggregation")}
	// A change to any role may change what an aggregated role selects.
	enqueue := func(*rbacv1.ClusterRole) {
		for _, r := range ctl.roles.Store().List() {
			if r.GetAggregationRule() != nil {
				ctl.queue.Add(r.GetMetadata().GetName())
			}
		}
	}
	ctl.roles.AddEventHandler(informer.HandlerFuncs[*rbacv1.ClusterRole]{
		AddFunc:    enqueue,
		UpdateFunc: func(_, r *rbacv1.ClusterRole) { enqueue(r) },
		DeleteFunc: enqueue,
	})
	return ctl
}

// Synced reports whether the ClusterRole informer has listed.
func (c *Controller) Synced() bool { return c.roles.HasSynced() }

// Run waits for the cache, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.roles.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	role, ok := c.roles.Store().GetByName("", name)
	if !ok {
		return nil
	}
	next := Decide(role, c.roles.Store().List())
	if next == nil {
		return nil
	}
	_, err := client.For[*rbacv1.ClusterRole](c.client, "").Update(ctx, next, client.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		// A conflict: the role changed since the cache showed it, and the
		// change queues it again; the error retries it with back-off.
		return fmt.Errorf("updating the rules of aggregated ClusterRole %s: %w", name, err)
	}
	c.log.Info("aggregated ClusterRole updated", zap.String("name", name), zap.Int("rules", len(next.GetRules())))
	return nil
}

// Decide returns role with the rules its aggregationRule selects: for each
// selector in order, the rules of the other ClusterRoles it matches, by
// name, each rule once. It returns nil when role has no aggregationRule or
// already holds exactly those rules. role and all are not modified.
func Decide(role *rbacv1.ClusterRole, all []*rbacv1.ClusterRole) *rbacv1.ClusterRole {
	if role.GetAggregationRule() == nil {
		return nil
	}
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b *rbacv1.ClusterRole) int {
		return strings.Compare(a.GetMetadata().GetName(), b.GetMetadata().GetName())
	})
	var rules []*rbacv1.PolicyRule
	for _, sel := range role.GetAggregationRule().GetClusterRoleSelectors() {
		for _, other := range sorted {
			if other.GetMetadata().GetName() == role.GetMetadata().GetName() || !labelselector.Matches(sel, other.GetMetadata().GetLabels()) {
				continue
			}
			for _, r := range other.GetRules() {
				if !slices.ContainsFunc(rules, func(have *rbacv1.PolicyRule) bool { return proto.Equal(have, r) }) {
					rules = append(rules, r)
				}
			}
		}
	}
	if slices.EqualFunc(rules, role.GetRules(), func(a, b *rbacv1.PolicyRule) bool { return proto.Equal(a, b) }) {
		return nil
	}
	next := proto.Clone(role).(*rbacv1.ClusterRole)
	next.Rules = make([]*rbacv1.PolicyRule, len(rules))
	for i, r := range rules {
		next.Rules[i] = proto.Clone(r).(*rbacv1.PolicyRule)
	}
	return next
}
