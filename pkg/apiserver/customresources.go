package apiserver

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/registry/apiextensions/customresource"
	"keel.dev/keel/pkg/registry/apiextensions/customresourcedefinition"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/storage"
	"keel.dev/keel/pkg/watchcache"
)

// Custom resources: the apiserver follows the CustomResourceDefinitions'
// watch cache, and for each Established definition serves its kinds
// (registry.SetDynamic) from a resource of their own — a watch cache and
// the etcd prefix /keel/<group>/<plural>/ — built like a static kind's.
// A definition's update rebuilds its kinds' strategies (the cache is
// kept while group, plural and scope are unchanged); its deletion stops
// serving them and deletes every object stored under its prefix.

// crdResource is the resource of CustomResourceDefinitions.
const crdResource = "customresourcedefinitions"

// customResources are the resources of the definitions this apiserver
// serves. Safe for concurrent use.
type customResources struct {
	mu sync.RWMutex
	// byResource: by qualified resource ("crontabs.stable.example.com").
	byResource map[string]*resource
	// byCRD: by definition name, what was installed for it.
	byCRD map[string]*installedCRD
}

type installedCRD struct {
	uid        string
	generation int64
	r          *resource
	cancel     context.CancelFunc
}

// get returns the resource that stores k's objects.
func (c *customResources) get(k *scheme.Kind) (*resource, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	r, ok := c.byResource[k.StorageKind().QualifiedResource()]
	return r, ok
}

// dynamicResource returns the resource of a dynamic kind; if this
// apiserver does not serve it yet it waits (briefly) for the definitions'
// view to catch up with what the definitions' cache holds, so that a
// definition this apiserver has just stored is served.
func (s *Server) dynamicResource(ctx context.Context, k *scheme.Kind) (*resource, error) {
	if r, ok := s.crds.get(k); ok {
		return r, nil
	}
	s.catchUpCRDs(ctx)
	if r, ok := s.crds.get(k); ok {
		return r, nil
	}
	return nil, apierrors.NotFound(k.QualifiedResource(), "")
}

// catchUpCRDs waits until the definitions' view reflects every write of
// definitions this apiserver made, for at most catchUpWait.
func (s *Server) catchUpCRDs(ctx context.Context) {
	r := s.resources[crdResource]
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, catchUpWait)
	defer cancel()
	if err := r.caughtUp(ctx); err != nil {
		return
	}
	want := r.cache.LastChange()
	for {
		s.crdView.mu.Lock()
		rev, changed := s.crdView.rev, s.crdView.changed
		s.crdView.mu.Unlock()
		if rev >= want {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// followCRDs starts serving the definitions the cache holds and keeps
// the served kinds in step with them until ctx ends.
func (s *Server) followCRDs(ctx context.Context) error {
	r := s.resources[crdResource]
	f := follower{
		what: "custom resources",
		replace: func(objs []proto.Message) {
			keep := map[string]bool{}
			for _, o := range objs {
				crd := o.(*apiextv1.CustomResourceDefinition)
				keep[crd.GetMetadata().GetName()] = true
				s.installCRD(ctx, crd)
			}
			s.crds.mu.RLock()
			var gone []string
			for name := range s.crds.byCRD {
				if !keep[name] {
					gone = append(gone, name)
				}
			}
			s.crds.mu.RUnlock()
			for _, name := range gone {
				s.uninstallCRD(ctx, name)
			}
		},
		set: func(obj proto.Message) { s.installCRD(ctx, obj.(*apiextv1.CustomResourceDefinition)) },
		remove: func(_, name string) {
			s.uninstallCRD(ctx, name)
		},
	}
	return s.followView(ctx, r, f, s.crdView)
}

// installCRD serves crd's kinds (again, if it changed), when it is
// Established and not being deleted.
func (s *Server) installCRD(ctx context.Context, crd *apiextv1.CustomResourceDefinition) {
	name := crd.GetMetadata().GetName()
	if !customresourcedefinition.Established(crd) || crd.GetMetadata().GetDeletionTimestamp() != nil {
		s.uninstallCRD(ctx, name)
		return
	}
	s.crds.mu.RLock()
	old := s.crds.byCRD[name]
	s.crds.mu.RUnlock()
	if old != nil && old.uid == crd.GetMetadata().GetUid() && old.generation == crd.GetMetadata().GetGeneration() {
		return
	}
	if old != nil && old.uid != crd.GetMetadata().GetUid() {
		s.uninstallCRD(ctx, name)
		old = nil
	}
	log := s.log.With(zap.String("customResourceDefinition", name))
	ss, err := customresource.Strategies(crd)
	if err != nil {
		log.Error("cannot serve the custom resource", zap.Error(err))
		return
	}
	if err := registry.SetDynamic(name, ss); err != nil {
		log.Error("cannot serve the custom resource", zap.Error(err))
		return
	}
	// Its OpenAPI documents and apply types: without them the resource is
	// still served, typed for apply by a deduced converter.
	if v1, err := customresourcedefinition.ToV1(crd); err != nil {
		log.Error("no OpenAPI document for the custom resource", zap.Error(err))
	} else if err := s.openAPI.SetCustomResourceDefinition(v1); err != nil {
		log.Error("no OpenAPI document for the custom resource", zap.Error(err))
	}
	k := ss[0].Info()
	r := newResource(k)
	if old != nil && old.r.prefix() == r.prefix() && old.r.kind.Namespaced == k.Namespaced {
		r.cache = old.r.cache
		r.wrote(old.r.written.Load())
	} else {
		if old != nil {
			s.uninstallCRD(ctx, name)
			old = nil
		}
		r.cache = watchcache.New(watchcache.Config{
			Resource:         k.QualifiedResource(),
			Prefix:           r.prefix(),
			Store:            s.store,
			Decode:           r.decode,
			WindowSize:       s.cfg.WatchCacheWindow,
			WatcherBuffer:    s.cfg.WatcherBuffer,
			BookmarkInterval: s.cfg.BookmarkInterval,
			Logger:           s.cfg.Logger,
		})
	}
	in := &installedCRD{uid: crd.GetMetadata().GetUid(), generation: crd.GetMetadata().GetGeneration(), r: r}
	if old != nil {
		in.cancel = old.cancel
	} else {
		cctx, cancel := context.WithCancel(ctx)
		in.cancel = cancel
		go r.cache.Run(cctx)
		wctx, wcancel := context.WithTimeout(cctx, 30*time.Second)
		err := r.cache.WaitForRevision(wctx, 1)
		wcancel()
		if err != nil {
			log.Error("the custom resource's cache did not list", zap.Error(err))
		}
	}
	s.crds.mu.Lock()
	s.crds.byCRD[name] = in
	s.crds.byResource[k.QualifiedResource()] = r
	s.crds.mu.Unlock()
	log.Info("serving custom resource", zap.String("resource", k.QualifiedResource()))
}

// uninstallCRD stops serving the kinds of the definition name and deletes
// every object stored for them.
func (s *Server) uninstallCRD(ctx context.Context, name string) {
	s.crds.mu.Lock()
	in := s.crds.byCRD[name]
	delete(s.crds.byCRD, name)
	if in != nil {
		delete(s.crds.byResource, in.r.kind.QualifiedResource())
	}
	s.crds.mu.Unlock()
	if in == nil {
		return
	}
	s.openAPI.RemoveCustomResourceDefinition(name)
	if err := registry.SetDynamic(name, nil); err != nil {
		s.log.Error("removing custom resource kinds", zap.String("customResourceDefinition", name), zap.Error(err))
	}
	in.cancel()
	if err := s.deletePrefix(ctx, in.r.prefix()); err != nil {
		s.log.Error("deleting custom resources", zap.String("customResourceDefinition", name), zap.Error(err))
	}
}

// deletePrefix deletes every key under prefix.
func (s *Server) deletePrefix(ctx context.Context, prefix string) error {
	for {
		l, err := s.store.List(ctx, prefix, storage.ListOptions{Limit: 500})
		if err != nil {
			return err
		}
		if len(l.Items) == 0 {
			return nil
		}
		for _, kv := range l.Items {
			if _, err := s.store.Delete(ctx, kv.Key, 0); err != nil && !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
	}
}
