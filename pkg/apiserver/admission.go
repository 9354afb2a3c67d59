package apiserver

import (
	"context"
	"errors"
	"fmt"
	"keel.dev/keel/pkg/apiserver/admission"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	schedulingv1 "keel.dev/keel/pkg/apis/scheduling/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/storage"
)

// Objects every cluster has, created at start when missing.
var (
	defaultNamespaces = admission.Immortal
	systemPriorities  = []*schedulingv1.PriorityClass{
		{Metadata: &metav1.ObjectMeta{Name: api.SystemClusterCritical}, Value: 2000000000,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
		{Metadata: &metav1.ObjectMeta{Name: api.SystemNodeCritical}, Value: 2000001000,
			Description: "Used for system critical pods that must not be moved from their current node."},
	}
)

// asAPIServer is ctx for the apiserver's own writes: it acts as itself, a
// cluster admin, whatever authorizer runs.
func asAPIServer(ctx context.Context) context.Context {
	return auth.WithUser(ctx, auth.User{Name: auth.UserAPIServer, Groups: []string{auth.GroupMasters, auth.GroupAuthenticated}})
}

func (s *Server) bootstrap(ctx context.Context) error {
	ctx = asAPIServer(ctx)
	var objs []proto.Message
	for _, ns := range defaultNamespaces {
		objs = append(objs, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}})
	}
	for _, pc := range systemPriorities {
		objs = append(objs, proto.Clone(pc))
	}
	objs = append(objs, api.LocalPathStorageClass())
	for _, obj := range objs {
		k, _ := scheme.ByMessage(obj)
		if _, ok := s.resources[k.Resource].cache.Get(s.resources[k.Resource].key("", scheme.Meta(obj).Name)); ok {
			continue
		}
		a, err := scheme.Pack(obj)
		if err != nil {
			return err
		}
		if _, err := s.Create(ctx, &apiv1.CreateRequest{Resource: k.Resource, Object: a}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s %s: %w", k.Kind, scheme.Meta(obj).Name, err)
		}
	}
	return s.reconcileRBAC(ctx)
}

// admissionObjects is what admission plugins read: the apiserver's
// caches, once they reflect this apiserver's own writes, falling back to
// etcd for an object they do not hold yet (created an instant ago,
// perhaps through another apiserver).
type admissionObjects struct{ s *Server }

var _ admission.Objects = admissionObjects{}

// Get implements admission.Objects.
func (o admissionObjects) Get(ctx context.Context, resource, namespace, name string) (proto.Message, error) {
	r, err := o.s.lookup(ctx, resource)
	if err != nil {
		return nil, err
	}
	if err := r.caughtUp(ctx); err != nil {
		return nil, err
	}
	if m, err := r.cachedGet(namespace, name); m != nil || err != nil {
		return m, err
	}
	kv, err := o.s.store.Get(ctx, r.key(namespace, name))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, apierrors.NotFound(r.kind.QualifiedResource(), name)
	}
	if err != nil {
		return nil, storageErr(err, r, name)
	}
	m, err := r.unmarshal(kv.Value, kv.ModRevision)
	if err != nil {
		return nil, apierrors.Internal("decoding %s %s: %v", r.kind.Kind, name, err)
	}
	return m, nil
}

// List implements admission.Objects, from the cache.
func (o admissionObjects) List(ctx context.Context, resource string) ([]proto.Message, error) {
	r, err := o.s.lookup(ctx, resource)
	if err != nil {
		return nil, err
	}
	if err := r.caughtUp(ctx); err != nil {
		return nil, err
	}
	return r.cachedList("", nil)
}

// quotaStatus writes ResourceQuota status for the ResourceQuota admission
// plugin, as the apiserver itself, with the quota's resourceVersion as
// precondition.
type quotaStatus struct{ s *Server }

var _ admission.QuotaStatusWriter = quotaStatus{}

// UpdateQuotaStatus implements admission.QuotaStatusWriter.
func (w quotaStatus) UpdateQuotaStatus(ctx context.Context, q *corev1.ResourceQuota) error {
	a, err := scheme.Pack(q)
	if err != nil {
		return err
	}
	_, err = w.s.UpdateStatus(asAPIServer(ctx), &apiv1.UpdateRequest{Resource: "resourcequotas", Object: a})
	return err
}
