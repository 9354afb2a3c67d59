package apiserver

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
	"keel.dev/keel/pkg/apiserver/kubernetesservice"
	"keel.dev/keel/pkg/storage"
)

// leaseKeyPrefix holds one key per apiserver address (see
// kubernetesservice.Lease), renewed by that apiserver and deleted by any
// apiserver once expired.
const leaseKeyPrefix = "/keel/apiserverleases/"

// runKubernetesService keeps the Service default/kubernetes and its
// Endpoints (package kubernetesservice) every EndpointReconcileInterval
// until ctx ends, then withdraws this apiserver's address. ctx must carry
// a user allowed everything. The caller has reconciled once already.
func (s *Server) runKubernetesService(ctx context.Context) {
	t := time.NewTicker(s.cfg.EndpointReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Leave at once rather than after the lease's TTL, as far as
			// etcd still answers within a few seconds.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := s.reconcileKubernetesService(sctx, false); err != nil {
				s.log.Info("could not withdraw this apiserver from the kubernetes Endpoints; its lease expires instead", zap.Error(err))
			}
			return
		case <-t.C:
		}
		if err := s.reconcileKubernetesService(ctx, true); err != nil && ctx.Err() == nil {
			s.log.Warn("reconciling the kubernetes Service", zap.Error(err))
		}
	}
}

// reconcileKubernetesService renews this apiserver's lease (serving) or
// deletes it (stopping), deletes expired leases, and brings the Service
// (when serving), the Endpoints and the EndpointSlice default/kubernetes
// to what
// package kubernetesservice decides from the live leases.
func (s *Server) reconcileKubernetesService(ctx context.Context, serving bool) error {
	own := kubernetesservice.Lease{IP: s.cfg.AdvertiseAddress, Port: s.cfg.SecurePort, Expires: s.cfg.Now().Add(s.cfg.EndpointLeaseTTL)}
	if serving {
		if err := s.putLease(ctx, own); err != nil {
			return err
		}
	} else if _, err := s.store.Delete(ctx, leaseKeyPrefix+own.Key(), 0); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("deleting this apiserver's lease: %w", err)
	}
	live, err := s.liveLeases(ctx)
	if err != nil {
		return err
	}
	if serving {
		want := kubernetesservice.DesiredService(s.alloc.FirstIP().String(), s.cfg.SecurePort)
		if err := s.reconcileObject(ctx, "services", kubernetesservice.Namespace, kubernetesservice.Name, func(have proto.Message) (proto.Message, bool) {
			cur, _ := have.(*corev1.Service)
			if next, recreate := kubernetesservice.Service(want, cur, live); next != nil {
				return next, recreate
			}
			return nil, false
		}); err != nil {
			return err
		}
	}
	if err := s.reconcileObject(ctx, "endpoints", kubernetesservice.Namespace, kubernetesservice.Name, func(have proto.Message) (proto.Message, bool) {
		cur, _ := have.(*corev1.Endpoints)
		if next := kubernetesservice.Endpoints(live, cur); next != nil {
			return next, false
		}
		return nil, false
	}); err != nil {
		return err
	}
	return s.reconcileObject(ctx, "endpointslices", kubernetesservice.Namespace, kubernetesservice.Name, func(have proto.Message) (proto.Message, bool) {
		cur, _ := have.(*discoveryv1.EndpointSlice)
		if next, recreate := kubernetesservice.EndpointSlice(live, cur); next != nil {
			return next, recreate
		}
		return nil, false
	})
}

// putLease writes l, creating or overwriting its key.
func (s *Server) putLease(ctx context.Context, l kubernetesservice.Lease) error {
	key := leaseKeyPrefix + l.Key()
	for range reconcileAttempts {
		kv, err := s.store.Get(ctx, key)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			_, err = s.store.Create(ctx, key, l.Encode())
		case err == nil:
			_, err = s.store.Update(ctx, key, kv.ModRevision, l.Encode())
		}
		if errors.Is(err, storage.ErrExists) || errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
			continue // another apiserver on the same address, or its cleanup: look again
		}
		if err != nil {
			return fmt.Errorf("renewing this apiserver's lease: %w", err)
		}
		return nil
	}
	return fmt.Errorf("renewing this apiserver's lease %s: still conflicting after %d attempts", key, reconcileAttempts)
}

// liveLeases reads every apiserver's lease and deletes those expired (or
// unreadable), returning the rest.
func (s *Server) liveLeases(ctx context.Context) ([]kubernetesservice.Lease, error) {
	res, err := s.store.List(ctx, leaseKeyPrefix, storage.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading the apiservers' leases: %w", err)
	}
	var all []kubernetesservice.Lease
	kvs := map[string]*storage.KeyValue{} // by Lease.Key
	for _, kv := range res.Items {
		l, err := kubernetesservice.DecodeLease(kv.Value)
		if err != nil {
			s.log.Warn("deleting an unreadable apiserver lease", zap.String("key", kv.Key), zap.Error(err))
			s.deleteLease(ctx, kv.Key, kv.ModRevision)
			continue
		}
		all = append(all, l)
		kvs[l.Key()] = kv
	}
	live, expired := kubernetesservice.Live(all, s.cfg.Now())
	for _, l := range expired {
		s.log.Info("apiserver lease expired: dropping it from the kubernetes Endpoints", zap.String("address", l.Key()))
		s.deleteLease(ctx, kvs[l.Key()].Key, kvs[l.Key()].ModRevision)
	}
	return live, nil
}

// deleteLease deletes key at revision rev: a lease renewed meanwhile stays.
// A failure only delays the cleanup to the next round.
func (s *Server) deleteLease(ctx context.Context, key string, rev int64) {
	if _, err := s.store.Delete(ctx, key, rev); err != nil && !errors.Is(err, storage.ErrNotFound) && !errors.Is(err, storage.ErrConflict) {
		s.log.Warn("deleting an apiserver lease", zap.String("key", key), zap.Error(err))
	}
}
