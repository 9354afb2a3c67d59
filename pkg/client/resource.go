package client

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/scheme"
)

// ListOptions select and page a List.
type ListOptions struct {
	// LabelSelector and FieldSelector use Kubernetes' syntax
	// ("app=web,tier!=db", "spec.nodeName=node-1").
	LabelSelector string
	FieldSelector string
	// Limit > 0 returns at most Limit items and a Continue token for the
	// next page; Continue is the token of the previous page.
	Limit    int64
	Continue string
	// ResourceVersion "" (the default) asks for a consistent list, at least
	// as new as etcd's current revision; "0" accepts the apiserver's cache
	// as it is (faster, possibly a little stale).
	ResourceVersion string
}

// WatchOptions select a Watch.
type WatchOptions struct {
	LabelSelector string
	FieldSelector string
	// ResourceVersion "" or "0" starts with the current state as Added
	// events; otherwise the watch sends every change after that version
	// (apierrors.IsExpired if the server no longer holds it: list again).
	ResourceVersion string
	// AllowBookmarks asks for Bookmark events, which carry only a newer
	// resourceVersion to resume from.
	AllowBookmarks bool
}

// CreateOptions modify a Create.
type CreateOptions struct {
	// DryRun validates and returns the object without storing it.
	DryRun bool
}

// UpdateOptions modify an Update or UpdateStatus.
type UpdateOptions struct {
	DryRun bool
}

// Preconditions must hold for a Delete to proceed (apierrors.IsConflict
// otherwise).
type Preconditions struct {
	UID             string
	ResourceVersion string
}

// DeleteOptions modify a Delete.
type DeleteOptions struct {
	// GracePeriodSeconds overrides a pod's terminationGracePeriodSeconds; 0
	// deletes at once. Nil keeps the default.
	GracePeriodSeconds *int64
	Preconditions      *Preconditions
	// PropagationPolicy is "Background" (default), "Foreground" or "Orphan".
	PropagationPolicy string
	DryRun            bool
}

// List is one List answer.
type List[T proto.Message] struct {
	Items []T
	// ResourceVersion is the state the list reflects: watch from it.
	ResourceVersion string
	// Continue is the token of the next page ("" on the last page).
	Continue string
	// RemainingItemCount estimates the items after this page (0 if unknown).
	RemainingItemCount int64
}

// EventType is the type of a watch event.
type EventType string

const (
	Added    EventType = "ADDED"
	Modified EventType = "MODIFIED"
	Deleted  EventType = "DELETED"
	Bookmark EventType = "BOOKMARK"
)

// Event is one watch event.
type Event[T proto.Message] struct {
	Type EventType
	// Object is the new state, the last state for Deleted, and for Bookmark
	// an empty object whose only meaningful field is
	// metadata.resourceVersion.
	Object T
}

// Watcher is an open watch.
type Watcher[T proto.Message] interface {
	// Next blocks for the next event. It returns io.EOF when the server ended
	// the watch normally (watch again from the last resourceVersion), the
	// context's error after Stop or cancellation, or an API error:
	// apierrors.IsExpired (list again), a TooManyRequests error (this watcher
	// fell behind: resume from the last resourceVersion), or Unavailable.
	Next() (Event[T], error)
	// Stop ends the watch; Next then returns an error. Safe to call more
	// than once and concurrently with Next.
	Stop()
}

// Resource is a typed client of one kind, in one namespace ("" for
// cluster-scoped kinds, or for every namespace in List and Watch). T is the
// kind's message type (*corev1.Pod), or proto.Message for a dynamic client
// (Client.Resource). Resources are cheap: create them as needed.
type Resource[T proto.Message] struct {
	api       apiv1.APIClient
	kind      *scheme.Kind
	namespace string
}

// For returns the typed client of T's kind in namespace (ignored for
// cluster-scoped kinds). It panics if T is not a registered kind: that is a
// programming error.
func For[T scheme.Object](c *Client, namespace string) *Resource[T] {
	var zero T
	k, ok := scheme.ByMessage(zero)
	if !ok {
		panic(fmt.Sprintf("client: %T is not a registered kind", zero))
	}
	return newResource[T](c, k, namespace)
}

// ForKind returns the client of kind k in namespace, with objects typed as
// scheme.Object (each is of k's message type): for code that serves every
// kind alike, such as the garbage collector.
func ForKind(c *Client, k *scheme.Kind, namespace string) *Resource[scheme.Object] {
	return newResource[scheme.Object](c, k, namespace)
}

// ResourceOf returns the dynamic client of kind k in namespace (ignored
// for cluster-scoped kinds).
func (c *Client) ResourceOf(k *scheme.Kind, namespace string) *Resource[proto.Message] {
	return newResource[proto.Message](c, k, namespace)
}

func newResource[T proto.Message](c *Client, k *scheme.Kind, namespace string) *Resource[T] {
	if !k.Namespaced {
		namespace = ""
	}
	return &Resource[T]{api: c.api, kind: k, namespace: namespace}
}

// Resource returns a dynamic client of the kind named by resource (plural,
// singular or short name: "pods", "pod", "po"), as keelctl needs.
func (c *Client) Resource(resource, namespace string) (*Resource[proto.Message], error) {
	k, ok := scheme.ByResource(resource)
	if !ok {
		return nil, apierrors.BadRequest("the server doesn't have a resource type %q", resource)
	}
	return newResource[proto.Message](c, k, namespace), nil
}

// resourceName names r's kind in requests: its plural, qualified by its
// group for a custom resource (whose plural another group's kind may
// share) and when the bare plural is another kind's
// ("pods.metrics.k8s.io").
func (r *Resource[T]) resourceName() string {
	if r.kind.Dynamic {
		return r.kind.QualifiedResource()
	}
	if k, ok := scheme.ByResource(r.kind.Resource); ok && !k.SameAs(r.kind) {
		return r.kind.QualifiedResource()
	}
	return r.kind.Resource
}

// Kind is the kind served by r.
func (r *Resource[T]) Kind() *scheme.Kind { return r.kind }

// Namespace is r's namespace ("" for all namespaces or a cluster-scoped kind).
func (r *Resource[T]) Namespace() string { return r.namespace }

// InNamespace returns the same client in another namespace.
func (r *Resource[T]) InNamespace(namespace string) *Resource[T] {
	if !r.kind.Namespaced {
		namespace = ""
	}
	return &Resource[T]{api: r.api, kind: r.kind, namespace: namespace}
}

func (r *Resource[T]) needName(name string) error {
	if name == "" {
		return apierrors.BadRequest("%s: a name is required", r.kind.Resource)
	}
	if r.kind.Namespaced && r.namespace == "" {
		return apierrors.BadRequest("%s %q: a namespace is required", r.kind.Resource, name)
	}
	return nil
}

// Get reads the named object from etcd (a linearizable read).
func (r *Resource[T]) Get(ctx context.Context, name string) (T, error) {
	var zero T
	if err := r.needName(name); err != nil {
		return zero, err
	}
	a, err := r.api.Get(ctx, &apiv1.GetRequest{Resource: r.resourceName(), Namespace: r.namespace, Name: name})
	if err != nil {
		return zero, apierrors.FromStatus(err)
	}
	return r.decode(a)
}

// List lists the objects of r's namespace (every namespace if "").
func (r *Resource[T]) List(ctx context.Context, opts ListOptions) (*List[T], error) {
	resp, err := r.api.List(ctx, &apiv1.ListRequest{
		Resource:        r.resourceName(),
		Namespace:       r.namespace,
		LabelSelector:   opts.LabelSelector,
		FieldSelector:   opts.FieldSelector,
		Limit:           opts.Limit,
		Continue:        opts.Continue,
		ResourceVersion: opts.ResourceVersion,
	})
	if err != nil {
		return nil, apierrors.FromStatus(err)
	}
	out := &List[T]{
		Items:              make([]T, 0, len(resp.GetItems())),
		ResourceVersion:    resp.GetResourceVersion(),
		Continue:           resp.GetContinue(),
		RemainingItemCount: resp.GetRemainingItemCount(),
	}
	for _, a := range resp.GetItems() {
		obj, err := r.decode(a)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, obj)
	}
	return out, nil
}

// Create stores a new object and returns it as stored (with uid,
// resourceVersion, defaults). An object without a namespace is created in
// r's namespace. obj is not modified.
func (r *Resource[T]) Create(ctx context.Context, obj T, opts CreateOptions) (T, error) {
	var zero T
	a, err := r.encode(obj)
	if err != nil {
		return zero, err
	}
	out, err := r.api.Create(ctx, &apiv1.CreateRequest{Resource: r.resourceName(), Namespace: r.namespace, Object: a, DryRun: opts.DryRun})
	if err != nil {
		return zero, apierrors.FromStatus(err)
	}
	return r.decode(out)
}

// Update replaces the object's spec and metadata; its
// metadata.resourceVersion must be the stored one (apierrors.IsConflict
// otherwise: read again and retry, see RetryOnConflict). Status is kept.
func (r *Resource[T]) Update(ctx context.Context, obj T, opts UpdateOptions) (T, error) {
	return r.update(ctx, obj, opts, r.api.Update)
}

// UpdateStatus replaces only the object's status, with the same
// resourceVersion precondition as Update.
func (r *Resource[T]) UpdateStatus(ctx context.Context, obj T, opts UpdateOptions) (T, error) {
	return r.update(ctx, obj, opts, r.api.UpdateStatus)
}

// UpdateSubresource replaces what the named update subresource may change
// (a CertificateSigningRequest's "approval" conditions), with the same
// resourceVersion precondition as Update.
func (r *Resource[T]) UpdateSubresource(ctx context.Context, obj T, subresource string, opts UpdateOptions) (T, error) {
	return r.update(ctx, obj, opts, func(ctx context.Context, req *apiv1.UpdateRequest, o ...grpc.CallOption) (*anypb.Any, error) {
		req.Subresource = subresource
		return r.api.Update(ctx, req, o...)
	})
}

// CreateSubresource creates obj on the subresource of the named object (a
// TokenRequest on a ServiceAccount's "token") and returns the server's
// answer, an object of a registered kind.
func (r *Resource[T]) CreateSubresource(ctx context.Context, name, subresource string, obj proto.Message, opts CreateOptions) (proto.Message, error) {
	if err := r.needName(name); err != nil {
		return nil, err
	}
	a, err := scheme.Pack(obj)
	if err != nil {
		return nil, apierrors.BadRequest("%v", err)
	}
	out, err := r.api.Create(ctx, &apiv1.CreateRequest{Resource: r.resourceName(), Namespace: r.namespace, Name: name,
		Subresource: subresource, Object: a, DryRun: opts.DryRun})
	if err != nil {
		return nil, apierrors.FromStatus(err)
	}
	m, _, err := scheme.Unpack(out)
	if err != nil {
		return nil, apierrors.Internal("decoding a %s/%s answer: %v", r.kind.Resource, subresource, err)
	}
	return m, nil
}

func (r *Resource[T]) update(ctx context.Context, obj T, opts UpdateOptions,
	call func(context.Context, *apiv1.UpdateRequest, ...grpc.CallOption) (*anypb.Any, error)) (T, error) {
	var zero T
	a, err := r.encode(obj)
	if err != nil {
		return zero, err
	}
	out, err := call(ctx, &apiv1.UpdateRequest{Resource: r.resourceName(), Object: a, DryRun: opts.DryRun})
	if err != nil {
		return zero, apierrors.FromStatus(err)
	}
	return r.decode(out)
}

// Delete deletes the named object. It returns the object as it now stands
// and whether it is gone: a pod with a grace period, or an object with
// finalizers, stays (with a deletionTimestamp) until its holders let go.
func (r *Resource[T]) Delete(ctx context.Context, name string, opts DeleteOptions) (obj T, deleted bool, err error) {
	var zero T
	if err := r.needName(name); err != nil {
		return zero, false, err
	}
	req := &apiv1.DeleteRequest{
		Resource:           r.resourceName(),
		Namespace:          r.namespace,
		Name:               name,
		GracePeriodSeconds: opts.GracePeriodSeconds,
		PropagationPolicy:  opts.PropagationPolicy,
		DryRun:             opts.DryRun,
	}
	if p := opts.Preconditions; p != nil {
		req.Preconditions = &apiv1.Preconditions{Uid: p.UID, ResourceVersion: p.ResourceVersion}
	}
	resp, err := r.api.Delete(ctx, req)
	if err != nil {
		return zero, false, apierrors.FromStatus(err)
	}
	if resp.GetObject() == nil {
		return zero, resp.GetDeleted(), nil
	}
	obj, err = r.decode(resp.GetObject())
	return obj, resp.GetDeleted(), err
}

// Watch opens a watch on r's namespace (every namespace if ""). The watch
// ends when ctx ends, when Stop is called, or when the server ends it (see
// Watcher.Next).
func (r *Resource[T]) Watch(ctx context.Context, opts WatchOptions) (Watcher[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := r.api.Watch(ctx, &apiv1.WatchRequest{
		Resource:        r.resourceName(),
		Namespace:       r.namespace,
		LabelSelector:   opts.LabelSelector,
		FieldSelector:   opts.FieldSelector,
		ResourceVersion: opts.ResourceVersion,
		AllowBookmarks:  opts.AllowBookmarks,
	})
	if err != nil {
		cancel()
		return nil, apierrors.FromStatus(err)
	}
	return &watcher[T]{r: r, stream: stream, ctx: ctx, cancel: cancel}, nil
}

type watcher[T proto.Message] struct {
	r      *Resource[T]
	stream apiv1.API_WatchClient
	ctx    context.Context
	cancel context.CancelFunc
}

func (w *watcher[T]) Next() (Event[T], error) {
	ev, err := w.stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return Event[T]{}, io.EOF
		}
		if w.ctx.Err() != nil {
			return Event[T]{}, w.ctx.Err()
		}
		return Event[T]{}, apierrors.FromStatus(err)
	}
	obj, err := w.r.decode(ev.GetObject())
	if err != nil {
		w.cancel()
		return Event[T]{}, err
	}
	switch t := EventType(ev.GetType()); t {
	case Added, Modified, Deleted, Bookmark:
		return Event[T]{Type: t, Object: obj}, nil
	default:
		w.cancel()
		return Event[T]{}, fmt.Errorf("watch %s: unknown event type %q", w.r.kind.Resource, ev.GetType())
	}
}

func (w *watcher[T]) Stop() { w.cancel() }

// encode packs obj, checking its kind and namespace against r's.
func (r *Resource[T]) encode(obj T) (*anypb.Any, error) {
	m := proto.Message(obj)
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil, apierrors.BadRequest("%s: no object", r.kind.Resource)
	}
	k, ok := scheme.ByMessage(m)
	if !ok || !k.SameAs(r.kind) {
		return nil, apierrors.BadRequest("object of type %s sent to resource %q (kind %s)", m.ProtoReflect().Descriptor().FullName(), r.kind.Resource, r.kind.Kind)
	}
	if r.kind.Namespaced && r.namespace != "" {
		if ns := ObjectMeta(m).GetNamespace(); ns == "" {
			// Fill in the namespace on a copy: obj stays the caller's.
			m = proto.Clone(m)
			scheme.Meta(m).Namespace = r.namespace
		} else if ns != r.namespace {
			return nil, apierrors.BadRequest("the namespace of the object (%s) does not match the namespace of the request (%s)", ns, r.namespace)
		}
	}
	return scheme.Pack(m)
}

func (r *Resource[T]) decode(a *anypb.Any) (T, error) {
	var zero T
	m, k, err := scheme.Unpack(a)
	if err != nil {
		return zero, apierrors.Internal("decoding a %s answer: %v", r.kind.Resource, err)
	}
	// The versions of a custom resource share the objects: the server
	// answers with the version it keeps.
	if !k.SameAs(r.kind) && !(k.Dynamic && k.Group == r.kind.Group && k.Kind == r.kind.Kind) {
		return zero, apierrors.Internal("%s answer holds a %s", r.kind.Resource, k.Kind)
	}
	t, ok := m.(T)
	if !ok {
		return zero, apierrors.Internal("%s answer: %T is not %T", r.kind.Resource, m, zero)
	}
	return t, nil
}

// ObjectMeta returns m's metadata without modifying m (unlike scheme.Meta,
// which creates missing metadata): nil when unset. Read it with the nil-safe
// getters.
func ObjectMeta(m proto.Message) *metav1.ObjectMeta {
	if o, ok := m.(scheme.Object); ok {
		return o.GetMetadata()
	}
	r := m.ProtoReflect()
	f := r.Descriptor().Fields().ByName("metadata")
	if f == nil || !r.Has(f) {
		return nil
	}
	md, _ := r.Get(f).Message().Interface().(*metav1.ObjectMeta)
	return md
}
