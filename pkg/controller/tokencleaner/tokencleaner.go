// Package tokencleaner deletes expired bootstrap tokens, as Kubernetes'
// token cleaner: a Secret of type bootstrap.kubernetes.io/token in
// kube-system whose expiration has passed is deleted (the apiserver
// already refuses it; this keeps kube-system tidy).
package tokencleaner

import (
	"context"
	"time"

	"go.uber.org/zap"

	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/auth/bootstraptoken"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
)

// Controller is the token cleaner. Create it with New, run it with Run.
type Controller struct {
	client  *client.Client
	secrets *informer.Informer[*corev1.Secret]
	queue   workqueue.Interface[string]
	now     func() time.Time
	log     *zap.Logger
}

// New builds the token cleaner over f's informer of the bootstrap token
// Secrets of kube-system; now is the clock (nil: time.Now).
func New(c *client.Client, f *informer.Factory, now func() time.Time, log *zap.Logger) *Controller {
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	ctl := &Controller{client: c, now: now, log: log.Named("tokencleaner"),
		secrets: informer.ForScope[*corev1.Secret](f, informer.Scope{Namespace: bootstraptoken.Namespace, FieldSelector: "type=" + bootstraptoken.SecretType}),
		queue:   workqueue.New[string]("tokencleaner")}
	enqueue := func(s *corev1.Secret) { ctl.schedule(s) }
	ctl.secrets.AddEventHandler(informer.HandlerFuncs[*corev1.Secret]{
		AddFunc:    enqueue,
		UpdateFunc: func(_, s *corev1.Secret) { enqueue(s) },
	})
	return ctl
}

// Synced tells whether the Secrets informer has listed.
func (c *Controller) Synced() bool { return c.secrets.HasSynced() }

// Run deletes expired tokens until ctx ends.
func (c *Controller) Run(ctx context.Context, workers int) {
	if !informer.WaitForCacheSync(ctx, c.secrets.HasSynced) {
		return
	}
	workqueue.Run(ctx, c.queue, workers, c.sync)
}

// Decide returns whether the token Secret s is to be deleted now, else
// how long until it is (0 and false: never, it does not expire). A Secret
// whose expiration is unreadable is kept: the apiserver refuses it, and an
// operator may fix or delete it.
func Decide(s *corev1.Secret, now time.Time) (remove bool, after time.Duration) {
	if s.GetType() != bootstraptoken.SecretType || s.GetMetadata().GetDeletionTimestamp() != nil {
		return false, 0
	}
	v, ok := s.GetData()[bootstraptoken.KeyExpiration]
	if !ok {
		return false, 0
	}
	t, err := time.Parse(time.RFC3339, string(v))
	if err != nil {
		return false, 0
	}
	if !now.Before(t) {
		return true, 0
	}
	return false, t.Sub(now)
}

func (c *Controller) schedule(s *corev1.Secret) {
	remove, after := Decide(s, c.now())
	switch {
	case remove:
		c.queue.Add(s.GetMetadata().GetName())
	case after > 0:
		c.queue.AddAfter(s.GetMetadata().GetName(), after)
	}
}

func (c *Controller) sync(ctx context.Context, name string) error {
	s, ok := c.secrets.Store().GetByName(bootstraptoken.Namespace, name)
	if !ok {
		return nil
	}
	remove, after := Decide(s, c.now())
	if !remove {
		if after > 0 {
			c.queue.AddAfter(name, after)
		}
		return nil
	}
	_, _, err := client.For[*corev1.Secret](c.client, bootstraptoken.Namespace).Delete(ctx, name,
		client.DeleteOptions{Preconditions: &client.Preconditions{UID: s.GetMetadata().GetUid()}})
	switch {
	case err == nil:
		c.log.Info("deleted expired bootstrap token", zap.String("secret", name))
	case apierrors.IsNotFound(err) || apierrors.IsConflict(err):
		// Gone already, or replaced by a new Secret of that name (which
		// its own event schedules).
	default:
		return err
	}
	return nil
}
