package apiserver

import (
	"context"
	"errors"
	"fmt"

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
	"keel.dev/keel/pkg/watchcache"
)

// Objects every cluster has, created at start when missing.
var (
	defaultNamespaces = []string{api.NamespaceDefault, api.NamespaceSystem, api.NamespacePublic, api.NamespaceNodeLease}
	systemPriorities  = []*schedulingv1.PriorityClass{
		{Metadata: &metav1.ObjectMeta{Name: api.SystemClusterCritical}, Value: 2000000000,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
		{Metadata: &metav1.ObjectMeta{Name: api.SystemNodeCritical}, Value: 2000001000,
			Description: "Used for system critical pods that must not be moved from their current node."},
	}
)

func (s *Server) bootstrap(ctx context.Context) error {
	// The apiserver acts as itself, a cluster admin, whatever authorizer runs.
	ctx = auth.WithUser(ctx, auth.User{Name: auth.UserAPIServer, Groups: []string{auth.GroupMasters, auth.GroupAuthenticated}})
	var objs []proto.Message
	for _, ns := range defaultNamespaces {
		objs = append(objs, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: ns}})
	}
	for _, pc := range systemPriorities {
		objs = append(objs, proto.Clone(pc))
	}
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
	return nil
}

// admitPriority is the Priority admission plugin: it resolves
// spec.priorityClassName (or the global default class) into spec.priority
// and spec.preemptionPolicy.
func (s *Server) admitPriority(ctx context.Context, pod *corev1.Pod) error {
	spec := pod.GetSpec()
	if spec == nil {
		return nil
	}
	pcs := s.resources["priorityclasses"]
	if err := pcs.caughtUp(ctx); err != nil {
		return err
	}
	name := spec.GetPriorityClassName()
	var class *schedulingv1.PriorityClass
	if name != "" {
		if e, ok := pcs.cache.Get(pcs.key("", name)); ok {
			m, err := pcs.object(e)
			if err != nil {
				return apierrors.Internal("decoding PriorityClass %s: %v", name, err)
			}
			class = m.(*schedulingv1.PriorityClass)
		} else {
			// Not cached (yet): it may have just been created, here or
			// through another apiserver, so ask etcd before refusing.
			kv, err := s.store.Get(ctx, pcs.key("", name))
			if errors.Is(err, storage.ErrNotFound) {
				return apierrors.Forbidden("pods", pod.GetMetadata().GetName(), fmt.Sprintf("no PriorityClass with name %s was found", name))
			}
			if err != nil {
				return storageErr(err, pcs, name)
			}
			m, err := pcs.unmarshal(kv.Value, kv.ModRevision)
			if err != nil {
				return apierrors.Internal("decoding PriorityClass %s: %v", name, err)
			}
			class = m.(*schedulingv1.PriorityClass)
		}
	} else {
		entries, _, err := pcs.cache.List(watchcache.Predicate{})
		if err != nil {
			return apierrors.Unavailable("priority classes: %v", err)
		}
		for _, e := range entries {
			if m, err := pcs.object(e); err == nil && m.(*schedulingv1.PriorityClass).GetGlobalDefault() {
				class = m.(*schedulingv1.PriorityClass)
				break
			}
		}
	}
	if class == nil {
		if spec.Priority == nil {
			zero := int32(0)
			spec.Priority = &zero
		}
		return nil
	}
	if spec.Priority != nil && *spec.Priority != class.GetValue() {
		return apierrors.Forbidden("pods", pod.GetMetadata().GetName(),
			fmt.Sprintf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *spec.Priority, class.GetValue()))
	}
	v := class.GetValue()
	spec.Priority = &v
	if spec.PreemptionPolicy == nil && class.PreemptionPolicy != nil {
		p := class.GetPreemptionPolicy()
		spec.PreemptionPolicy = &p
	}
	return nil
}
