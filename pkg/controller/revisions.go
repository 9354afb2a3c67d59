package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/controller/history"
)

// StoreRevision stores what the history plan hp decided for the revisions
// of owner (a DaemonSet or StatefulSet in namespace ns): the renumbered or
// the new revision, which carries the owner's annotations as in Kubernetes
// (kubernetes.io/change-cause shows in rollout history). A new revision
// whose name another revision already holds is fine when it is the same
// revision of the same owner (made by an earlier sync the cache has not
// shown yet); otherwise raiseCollision must bump the owner's
// status.collisionCount, and StoreRevision fails so that the sync is
// retried under the new hash.
func StoreRevision(ctx context.Context, c *client.Client, ns string, owner history.Owner, hp history.Plan, raiseCollision func(context.Context) error) error {
	rc := client.For[*appsv1.ControllerRevision](c, ns)
	switch {
	case hp.Renumber:
		if _, err := rc.Update(ctx, hp.Update, client.UpdateOptions{}); err != nil {
			return fmt.Errorf("renumbering revision %s: %w", hp.Update.GetMetadata().GetName(), err)
		}
	case hp.Create:
		hp.Update.Metadata.Annotations = maps.Clone(owner.Meta.GetAnnotations())
		_, err := rc.Create(ctx, hp.Update, client.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		existing, err := rc.Get(ctx, hp.Update.GetMetadata().GetName())
		if err != nil {
			return err
		}
		if history.Equal(existing, hp.Update) && api.ControllerRef(existing.GetMetadata()).GetUid() == owner.Meta.GetUid() {
			return nil
		}
		if err := raiseCollision(ctx); err != nil {
			return err
		}
		return fmt.Errorf("revision name %s is taken: collisionCount raised", hp.Update.GetMetadata().GetName())
	}
	return nil
}

// TruncateRevisions deletes, from old (an owner's revisions in namespace
// ns other than the current one), those history.Truncate picks for
// revisionHistoryLimit limit: the oldest of those not live. A revision
// already gone is not an error.
func TruncateRevisions(ctx context.Context, c *client.Client, ns string, old []*appsv1.ControllerRevision, live func(*appsv1.ControllerRevision) bool, limit int32) error {
	rc := client.For[*appsv1.ControllerRevision](c, ns)
	var errs []error
	for _, r := range history.Truncate(old, live, limit) {
		if _, _, err := rc.Delete(ctx, r.GetMetadata().GetName(), client.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
