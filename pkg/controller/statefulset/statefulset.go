// Package statefulset is the StatefulSet controller: it keeps a
// StatefulSet's pods NAME-<ordinal> for the ordinals of its replicas,
// created in order and removed in reverse (OrderedReady) or all at once
// (Parallel), each after the PersistentVolumeClaims of the
// volumeClaimTemplates, whose owners follow the
// persistentVolumeClaimRetentionPolicy; rolls the pods to a new template
// revision under updateStrategy; keeps the template's history as
// ControllerRevisions (pkg/controller/history); and reports status.
//
// A sync reads the caches, brings the history up to date, decides (Decide,
// a pure plan) and writes the plan.
package statefulset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/record"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/controller"
	"keel.dev/keel/pkg/controller/history"
	"keel.dev/keel/pkg/labelselector"
	"keel.dev/keel/pkg/manifest"
)

// Controller reconciles StatefulSets. Create it with New, then Run.
type Controller struct {
	client *client.Client
	sets   *informer.Informer[*appsv1.StatefulSet]
	pods   *informer.Informer[*corev1.Pod]
	revs   *informer.Informer[*appsv1.ControllerRevision]
	claims *informer.Informer[*corev1.PersistentVolumeClaim]
	queue  workqueue.Interface[string]
	rec    record.EventRecorder
	clock  clock.Clock
	log    *zap.Logger
}

// New registers the controller's handlers on f's StatefulSet, Pod,
// ControllerRevision and PersistentVolumeClaim informers. rec may be nil (no events); log may be
// nil.
func New(c *client.Client, f *informer.Factory, rec record.EventRecorder, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	ctl := &Controller{client: c, sets: informer.For[*appsv1.StatefulSet](f), pods: f.Pods(),
		revs: informer.For[*appsv1.ControllerRevision](f), claims: informer.For[*corev1.PersistentVolumeClaim](f),
		queue: workqueue.New[string]("statefulset"), rec: rec, clock: clock.RealClock{}, log: log.Named("statefulset")}
	enqueue := func(s *appsv1.StatefulSet) { ctl.queue.Add(informer.KeyOf(s)) }
	ctl.sets.AddEventHandler(informer.HandlerFuncs[*appsv1.StatefulSet]{
		AddFunc: enqueue, UpdateFunc: func(_, s *appsv1.StatefulSet) { enqueue(s) }, DeleteFunc: enqueue,
	})
	ctl.pods.AddEventHandler(informer.HandlerFuncs[*corev1.Pod]{
		AddFunc: ctl.podChanged,
		UpdateFunc: func(old, p *corev1.Pod) {
			if old.GetMetadata().GetResourceVersion() == p.GetMetadata().GetResourceVersion() {
				return
			}
			ctl.podChanged(old)
			ctl.podChanged(p)
		},
		DeleteFunc: ctl.podChanged,
	})
	ctl.claims.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolumeClaim]{
		AddFunc: ctl.claimChanged,
		UpdateFunc: func(old, c *corev1.PersistentVolumeClaim) {
			if old.GetMetadata().GetResourceVersion() != c.GetMetadata().GetResourceVersion() {
				ctl.claimChanged(c)
			}
		},
		DeleteFunc: ctl.claimChanged,
	})
	return ctl
}

// Synced reports whether the controller's caches have synced.
func (c *Controller) Synced() bool {
	return c.sets.HasSynced() && c.pods.HasSynced() && c.revs.HasSynced() && c.claims.HasSynced()
}

// Run waits for the caches, then runs workers until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.sets.HasSynced, c.pods.HasSynced, c.revs.HasSynced, c.claims.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// podChanged queues the StatefulSet controlling pod, or, for an orphan,
// every StatefulSet of its namespace whose selector matches it.
func (c *Controller) podChanged(p *corev1.Pod) {
	ns := p.GetMetadata().GetNamespace()
	if ref := api.ControllerRef(p.GetMetadata()); ref != nil {
		if ref.GetKind() == "StatefulSet" {
			c.queue.Add(ns + "/" + ref.GetName())
		}
		return
	}
	sets, err := c.sets.Store().ByIndex(informer.NamespaceIndex, ns)
	if err != nil {
		return
	}
	for _, s := range sets {
		if labelselector.Matches(s.GetSpec().GetSelector(), p.GetMetadata().GetLabels()) {
			c.queue.Add(informer.KeyOf(s))
		}
	}
}

// claimChanged queues each StatefulSet of the claim's namespace whose
// claim it is by name (TEMPLATE-SET-ORDINAL): a pod waiting for its claim
// to go, or a claim's owners to keep.
func (c *Controller) claimChanged(pvc *corev1.PersistentVolumeClaim) {
	sets, err := c.sets.Store().ByIndex(informer.NamespaceIndex, pvc.GetMetadata().GetNamespace())
	if err != nil {
		return
	}
	for _, s := range sets {
		for _, ct := range s.GetSpec().GetVolumeClaimTemplates() {
			rest, ok := strings.CutPrefix(pvc.GetMetadata().GetName(), ct.GetMetadata().GetName()+"-")
			if _, member := Ordinal(s.GetMetadata().GetName(), rest); ok && member {
				c.queue.Add(informer.KeyOf(s))
				break
			}
		}
	}
}

// sync reconciles one StatefulSet.
func (c *Controller) sync(ctx context.Context, key string) error {
	set, ok := c.sets.Store().Get(key)
	if !ok {
		return nil
	}
	sel, err := labelselector.Parse(set.GetSpec().GetSelector())
	if err != nil {
		c.log.Warn("invalid selector; skipping", zap.String("statefulset", key), zap.Error(err))
		return nil
	}
	ns, uid := set.GetMetadata().GetNamespace(), set.GetMetadata().GetUid()
	all, err := c.pods.Store().ByIndex(informer.NamespaceIndex, ns)
	if err != nil {
		return err
	}
	claim := controller.DecideClaim(set.GetMetadata(), sel, all,
		controller.ClaimOptions[*corev1.Pod]{Release: true, Adoptable: func(p *corev1.Pod) bool {
			_, member := Ordinal(set.GetMetadata().GetName(), p.GetMetadata().GetName())
			return member && controller.IsPodActive(p)
		}})
	pods, err := c.applyClaim(ctx, set, claim)
	if err != nil {
		return err
	}
	revs, err := c.revs.Store().ByIndex(informer.NamespaceIndex, ns)
	if err != nil {
		return err
	}
	owned := history.Owned(revs, uid)
	hp, err := c.history(ctx, set, owned)
	if err != nil {
		return err
	}
	update := Revision{Name: hp.Update.GetMetadata().GetName(), Template: set.GetSpec().GetTemplate()}
	current := update
	for _, r := range owned {
		if r.GetMetadata().GetName() == set.GetStatus().GetCurrentRevision() && r.GetMetadata().GetName() != update.Name {
			t, err := RevisionTemplate(r)
			if err != nil {
				return fmt.Errorf("revision %s: %w", r.GetMetadata().GetName(), err)
			}
			current = Revision{Name: r.GetMetadata().GetName(), Template: t}
		}
	}
	claims := map[string]*corev1.PersistentVolumeClaim{}
	if len(set.GetSpec().GetVolumeClaimTemplates()) > 0 {
		pvcs, err := c.claims.Store().ByIndex(informer.NamespaceIndex, ns)
		if err != nil {
			return err
		}
		for _, pvc := range pvcs {
			claims[pvc.GetMetadata().GetName()] = pvc
		}
	}
	plan := Decide(Input{Set: set, Pods: pods, Current: current, Update: update, Claims: claims, Now: c.clock.Now()})
	manageErr := c.apply(ctx, set, plan)
	// Pods carry the revision's name; status.currentRevision stays too.
	histErr := controller.TruncateRevisions(ctx, c.client, set.GetMetadata().GetNamespace(), hp.Old,
		history.InUse(pods, func(r *appsv1.ControllerRevision) string { return r.GetMetadata().GetName() }, current.Name),
		set.GetSpec().GetRevisionHistoryLimit())
	if plan.Status != nil {
		next := proto.Clone(set).(*appsv1.StatefulSet)
		next.Status = plan.Status
		if _, err := client.For[*appsv1.StatefulSet](c.client, ns).UpdateStatus(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return errors.Join(manageErr, histErr, fmt.Errorf("updating status: %w", err))
		}
	}
	if manageErr == nil && plan.RequeueAfter > 0 {
		c.queue.AddAfter(key, plan.RequeueAfter+time.Second/10)
	}
	return errors.Join(manageErr, histErr)
}

// applyClaim adopts and releases the claim's pods and returns the owned
// ones (without those whose adoption failed).
func (c *Controller) applyClaim(ctx context.Context, set *appsv1.StatefulSet, claim controller.Claim[*corev1.Pod]) ([]*corev1.Pod, error) {
	if len(claim.Adopt) == 0 && len(claim.Release) == 0 {
		return claim.Owned, nil
	}
	var errs []error
	failed := map[*corev1.Pod]bool{}
	pc := c.client.Pods(set.GetMetadata().GetNamespace())
	write := func(p *corev1.Pod, owner *appsv1.StatefulSet) error {
		next := proto.Clone(p).(*corev1.Pod)
		var refs = next.Metadata.OwnerReferences[:0]
		for _, r := range next.Metadata.OwnerReferences {
			if !r.GetController() {
				refs = append(refs, r)
			}
		}
		if owner != nil {
			refs = append(refs, controller.NewControllerRef(owner))
		}
		next.Metadata.OwnerReferences = refs
		if _, err := pc.Update(ctx, next, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		return nil
	}
	for _, p := range claim.Release {
		errs = append(errs, write(p, nil))
	}
	for _, p := range claim.Adopt {
		if err := write(p, set); err != nil {
			errs = append(errs, err)
			failed[p] = true
		}
	}
	var owned []*corev1.Pod
	for _, p := range claim.Owned {
		if !failed[p] {
			owned = append(owned, p)
		}
	}
	return owned, errors.Join(errs...)
}

// RevisionData is what a StatefulSet's ControllerRevision records: the
// JSON of {"spec":{"template":…}}, keys sorted.
func RevisionData(set *appsv1.StatefulSet) ([]byte, error) {
	m, err := manifest.ToMap(&appsv1.StatefulSet{Spec: &appsv1.StatefulSetSpec{Template: set.GetSpec().GetTemplate()}})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{"spec": m["spec"]})
}

// RevisionTemplate is the pod template a revision made by RevisionData
// records.
func RevisionTemplate(r *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	set := &appsv1.StatefulSet{}
	if err := manifest.DecodeInto(r.GetData().GetRaw(), set); err != nil {
		return nil, err
	}
	return set.GetSpec().GetTemplate(), nil
}

// history brings set's revisions up to date with its template and returns
// the plan (its Update is stored when it returns). A revision name taken
// by other data raises status.collisionCount and fails the sync, which
// then retries under the new hash.
func (c *Controller) history(ctx context.Context, set *appsv1.StatefulSet, revs []*appsv1.ControllerRevision) (history.Plan, error) {
	data, err := RevisionData(set)
	if err != nil {
		return history.Plan{}, err
	}
	ns := set.GetMetadata().GetNamespace()
	owner := history.Owner{APIVersion: "apps/v1", Kind: "StatefulSet", Meta: set.GetMetadata()}
	hp := history.Next(owner, revs, set.GetSpec().GetTemplate().GetMetadata().GetLabels(), data, set.GetStatus().GetCollisionCount())
	err = controller.StoreRevision(ctx, c.client, ns, owner, hp, func(ctx context.Context) error {
		next := proto.Clone(set).(*appsv1.StatefulSet)
		if next.Status == nil {
			next.Status = &appsv1.StatefulSetStatus{}
		}
		next.Status.CollisionCount = proto.Int32(set.GetStatus().GetCollisionCount() + 1)
		_, err := client.For[*appsv1.StatefulSet](c.client, ns).UpdateStatus(ctx, next, client.UpdateOptions{})
		return err
	})
	return hp, err
}

// apply writes the plan: first the claims (owners, then missing ones),
// then, concurrently, the pods to create (those whose claims all exist)
// and, once every claim's owners are written, the pods to delete,
// recording Kubernetes' events. An object that already exists (the cache
// had not shown it) or is already gone is not an error.
func (c *Controller) apply(ctx context.Context, set *appsv1.StatefulSet, plan Plan) error {
	name, ns := set.GetMetadata().GetName(), set.GetMetadata().GetNamespace()
	cc := client.For[*corev1.PersistentVolumeClaim](c.client, ns)
	claimErrs := make([]error, len(plan.UpdateClaims)+len(plan.CreateClaims))
	each(len(plan.UpdateClaims), func(i int) {
		pvc := plan.UpdateClaims[i]
		if _, err := cc.Update(ctx, pvc, client.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			claimErrs[i] = fmt.Errorf("updating the owners of claim %s: %w", pvc.GetMetadata().GetName(), err)
		}
	})
	ownersErr := errors.Join(claimErrs...)
	each(len(plan.CreateClaims), func(i int) {
		pc := plan.CreateClaims[i]
		claim := pc.Claim.GetMetadata().GetName()
		_, err := cc.Create(ctx, pc.Claim, client.CreateOptions{})
		switch {
		case apierrors.IsAlreadyExists(err):
		case err != nil:
			claimErrs[len(plan.UpdateClaims)+i] = fmt.Errorf("creating claim %s: %w", claim, err)
			c.event(set, record.Warning, "FailedCreate", "create Claim %s for Pod %s in StatefulSet %s failed error: %v", claim, pc.Pod, name, err)
		default:
			c.event(set, record.Normal, "SuccessfulCreate", "create Claim %s Pod %s in StatefulSet %s success", claim, pc.Pod, name)
		}
	})
	blocked := map[string]bool{} // pods with a claim not created
	for i, pc := range plan.CreateClaims {
		if claimErrs[len(plan.UpdateClaims)+i] != nil {
			blocked[pc.Pod] = true
		}
	}

	errs := make([]error, len(plan.Create)+len(plan.Delete))
	pods := c.client.Pods(ns)
	each(len(plan.Create)+len(plan.Delete), func(i int) {
		if i < len(plan.Create) {
			p := plan.Create[i]
			if blocked[p.GetMetadata().GetName()] {
				return
			}
			_, err := pods.Create(ctx, p, client.CreateOptions{})
			switch {
			case apierrors.IsAlreadyExists(err):
			case err != nil:
				errs[i] = err
				c.event(set, record.Warning, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %v", p.GetMetadata().GetName(), name, err)
			default:
				c.event(set, record.Normal, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful", p.GetMetadata().GetName(), name)
			}
			return
		}
		if ownersErr != nil {
			return
		}
		p := plan.Delete[i-len(plan.Create)]
		_, _, err := pods.Delete(ctx, p.GetMetadata().GetName(),
			client.DeleteOptions{Preconditions: &client.Preconditions{UID: p.GetMetadata().GetUid()}})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs[i] = err
			c.event(set, record.Warning, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %v", p.GetMetadata().GetName(), name, err)
		default:
			c.event(set, record.Normal, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful", p.GetMetadata().GetName(), name)
		}
	})
	return errors.Join(append(claimErrs, errs...)...)
}

// each calls f(0) … f(n-1) concurrently, at most 100 at a time, and
// returns when all have returned.
func each(n int, f func(i int)) {
	var wg sync.WaitGroup
	limit := make(chan struct{}, 100)
	for i := range n {
		wg.Go(func() {
			limit <- struct{}{}
			defer func() { <-limit }()
			f(i)
		})
	}
	wg.Wait()
}

func (c *Controller) event(set *appsv1.StatefulSet, typ, reason, format string, args ...any) {
	if c.rec != nil {
		c.rec.Eventf(set, typ, reason, format, args...)
	}
}
