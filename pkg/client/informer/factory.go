package informer

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	coordinationv1 "keel.dev/keel/pkg/apis/coordination/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/scheme"
)

// Scope selects the objects of a shared informer.
type Scope struct {
	// Namespace is "" for every namespace (and for cluster-scoped kinds).
	Namespace     string
	LabelSelector string
	FieldSelector string
}

// Factory hands out shared informers: one per kind and Scope, however many
// controllers ask for it. Create one Factory per process, ask it for the
// informers every controller needs, then Start it.
type Factory struct {
	c      *client.Client
	resync time.Duration
	scope  Scope
	log    *zap.Logger

	mu        sync.Mutex
	informers map[factoryKey]runner
	started   map[factoryKey]bool
	ctx       context.Context
	wg        sync.WaitGroup
	cancel    context.CancelFunc
	shutdown  bool
}

type factoryKey struct {
	resource string
	scope    Scope
	// byKind: the informer ForKind hands out, typed scheme.Object.
	byKind bool
}

type runner interface {
	Run(ctx context.Context)
	HasSynced() bool
}

// FactoryOption configures a Factory.
type FactoryOption func(*Factory)

// WithNamespace makes For return informers of one namespace.
func WithNamespace(namespace string) FactoryOption {
	return func(f *Factory) { f.scope.Namespace = namespace }
}

// WithLabelSelector makes For return informers restricted by a label selector.
func WithLabelSelector(sel string) FactoryOption {
	return func(f *Factory) { f.scope.LabelSelector = sel }
}

// WithLogger logs the informers' list and watch failures.
func WithLogger(log *zap.Logger) FactoryOption {
	return func(f *Factory) { f.log = log }
}

// NewFactory returns a factory of informers over c, resyncing every resync
// (0: never).
func NewFactory(c *client.Client, resync time.Duration, opts ...FactoryOption) *Factory {
	f := &Factory{c: c, resync: resync, informers: map[factoryKey]runner{}, started: map[factoryKey]bool{}}
	for _, o := range opts {
		o(f)
	}
	return f
}

// For returns the shared informer of T in the factory's default scope.
func For[T scheme.Object](f *Factory) *Informer[T] {
	return ForScope[T](f, f.scope)
}

// ForScope returns the shared informer of T for scope. Informers requested
// after Start are started at once.
func ForScope[T scheme.Object](f *Factory, scope Scope) *Informer[T] {
	var zero T
	k, ok := scheme.ByMessage(zero)
	if !ok {
		panic("informer: not a registered kind")
	}
	return shared(f, k, scope, false, func(ns string) ListerWatcher[T] { return client.For[T](f.c, ns) })
}

// ForKind returns the shared informer of kind k in the factory's default
// scope, with objects typed as scheme.Object: for code that treats every
// kind alike (the garbage collector watches each kind its registry
// strategy marks). It is separate from For's typed informer of the kind,
// as Kubernetes' metadata informers are from its typed ones.
func ForKind(f *Factory, k *scheme.Kind) *Informer[scheme.Object] {
	return shared(f, k, f.scope, true, func(ns string) ListerWatcher[scheme.Object] { return client.ForKind(f.c, k, ns) })
}

// shared returns the factory's informer of k for scope, creating it over
// the client lw makes (and starting it after Start) the first time.
func shared[T scheme.Object](f *Factory, k *scheme.Kind, scope Scope, byKind bool, lw func(namespace string) ListerWatcher[T]) *Informer[T] {
	if !k.Namespaced {
		scope.Namespace = ""
	}
	key := factoryKey{resource: k.Resource, scope: scope, byKind: byKind}
	f.mu.Lock()
	defer f.mu.Unlock()
	if inf, ok := f.informers[key]; ok {
		return inf.(*Informer[T])
	}
	inf := New[T](lw(scope.Namespace), Options[T]{
		LabelSelector: scope.LabelSelector,
		FieldSelector: scope.FieldSelector,
		ResyncPeriod:  f.resync,
		Logger:        f.log,
	})
	f.informers[key] = inf
	if f.ctx != nil {
		f.startLocked(key, inf)
	}
	return inf
}

// Start runs every informer not yet running, until ctx ends or Shutdown.
func (f *Factory) Start(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ctx == nil {
		f.ctx, f.cancel = context.WithCancel(ctx)
	}
	for key, inf := range f.informers {
		f.startLocked(key, inf)
	}
}

func (f *Factory) startLocked(key factoryKey, inf runner) {
	if f.started[key] || f.shutdown {
		return
	}
	f.started[key] = true
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		inf.Run(f.ctx)
	}()
}

// WaitForCacheSync waits until every informer requested so far has synced,
// or ctx ends; it tells whether they all synced.
func (f *Factory) WaitForCacheSync(ctx context.Context) bool {
	f.mu.Lock()
	fns := make([]func() bool, 0, len(f.informers))
	for _, inf := range f.informers {
		fns = append(fns, inf.HasSynced)
	}
	f.mu.Unlock()
	return WaitForCacheSync(ctx, fns...)
}

// Shutdown stops every informer and waits for them, including their
// handlers' goroutines. Informers are not started after Shutdown.
func (f *Factory) Shutdown() {
	f.mu.Lock()
	f.shutdown = true
	if f.cancel != nil {
		f.cancel()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// Pods is For[*corev1.Pod].
func (f *Factory) Pods() *Informer[*corev1.Pod] { return For[*corev1.Pod](f) }

// Nodes is For[*corev1.Node].
func (f *Factory) Nodes() *Informer[*corev1.Node] { return For[*corev1.Node](f) }

// Namespaces is For[*corev1.Namespace].
func (f *Factory) Namespaces() *Informer[*corev1.Namespace] { return For[*corev1.Namespace](f) }

// Services is For[*corev1.Service].
func (f *Factory) Services() *Informer[*corev1.Service] { return For[*corev1.Service](f) }

// Endpoints is For[*corev1.Endpoints].
func (f *Factory) Endpoints() *Informer[*corev1.Endpoints] { return For[*corev1.Endpoints](f) }

// ConfigMaps is For[*corev1.ConfigMap].
func (f *Factory) ConfigMaps() *Informer[*corev1.ConfigMap] { return For[*corev1.ConfigMap](f) }

// Secrets is For[*corev1.Secret].
func (f *Factory) Secrets() *Informer[*corev1.Secret] { return For[*corev1.Secret](f) }

// Events is For[*corev1.Event].
func (f *Factory) Events() *Informer[*corev1.Event] { return For[*corev1.Event](f) }

// ReplicaSets is For[*appsv1.ReplicaSet].
func (f *Factory) ReplicaSets() *Informer[*appsv1.ReplicaSet] { return For[*appsv1.ReplicaSet](f) }

// Deployments is For[*appsv1.Deployment].
func (f *Factory) Deployments() *Informer[*appsv1.Deployment] { return For[*appsv1.Deployment](f) }

// Jobs is For[*batchv1.Job].
func (f *Factory) Jobs() *Informer[*batchv1.Job] { return For[*batchv1.Job](f) }

// CronJobs is For[*batchv1.CronJob].
func (f *Factory) CronJobs() *Informer[*batchv1.CronJob] { return For[*batchv1.CronJob](f) }

// Leases is For[*coordinationv1.Lease].
func (f *Factory) Leases() *Informer[*coordinationv1.Lease] { return For[*coordinationv1.Lease](f) }

// PriorityClasses is For[*schedulingv1.PriorityClass].
func (f *Factory) PriorityClasses() *Informer[*schedulingv1.PriorityClass] {
	return For[*schedulingv1.PriorityClass](f)
}
