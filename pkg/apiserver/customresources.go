package apiserver

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
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
// kept while group, plural and scope are unchanged). A definition gets
// the cleanup finalizer when created; once deleted, its objects are
// deleted one by one (cleanUpCRD) while its kinds are still served but
// for creates, then the finalizer is removed; when the definition is gone
// its kinds are no longer served and whatever is left under its prefix
// is deleted.

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
	// cleaning: cleanUpCRD runs for this definition.
	cleaning bool
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
// Established and either not being deleted or held by the cleanup
// finalizer: then it keeps serving them, but for creates, while
// cleanUpCRD deletes its objects.
func (s *Server) installCRD(ctx context.Context, crd *apiextv1.CustomResourceDefinition) {
	name := crd.GetMetadata().GetName()
	deleting := crd.GetMetadata().GetDeletionTimestamp() != nil
	if !customresourcedefinition.Established(crd) || deleting && !slices.Contains(crd.GetMetadata().GetFinalizers(), customresourcedefinition.CleanupFinalizer) {
		s.uninstallCRD(ctx, name)
		return
	}
	if deleting {
		defer s.cleanUpCRD(ctx, crd)
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
	// The cache is kept while the objects stay where they are and are
	// indexed the same way; otherwise (the selectable fields, which its
	// decoder computes, changed) a new cache is built, and the old one
	// stopped once the new one serves. Nothing stored is deleted.
	samePlace := old != nil && old.r.prefix() == r.prefix() && old.r.kind.Namespaced == k.Namespaced
	var stale *installedCRD
	if samePlace && old.r.fieldNames.Equal(r.fieldNames) {
		r.cache = old.r.cache
		r.wrote(old.r.written.Load())
	} else {
		if samePlace {
			r.wrote(old.r.written.Load())
		}
		stale, old = old, nil
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
	if stale != nil {
		stale.cancel() // its watches end; their clients watch again
	}
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

// cleanUpCRD starts, once per definition, deleting the objects of crd,
// which is being deleted: creates are refused from now on; every object
// is deleted as a client's delete would (its own finalizers hold it), and
// once none is left the cleanup finalizer is removed, so the deletion of
// the definition completes (and uninstallCRD stops serving it). Every
// apiserver does this; their writes are idempotent.
func (s *Server) cleanUpCRD(ctx context.Context, crd *apiextv1.CustomResourceDefinition) {
	name := crd.GetMetadata().GetName()
	s.crds.mu.Lock()
	in := s.crds.byCRD[name]
	start := in != nil && !in.cleaning
	if start {
		in.cleaning = true
		in.r.terminating.Store(true)
	}
	s.crds.mu.Unlock()
	if !start {
		return
	}
	go func() {
		log := s.log.With(zap.String("customResourceDefinition", name))
		for {
			done, err := s.cleanUpStep(asAPIServer(ctx), name, in.r)
			if err != nil && ctx.Err() == nil {
				log.Warn("deleting the custom resources of a deleted definition", zap.Error(err))
			}
			if done {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
}

// cleanUpStep makes one pass of cleanUpCRD over the definition name and
// its resource r: it marks the definition Terminating, deletes the
// objects not yet being deleted and, when none is left, removes the
// cleanup finalizer. done: nothing more to do (the finalizer is gone, or
// the definition is); otherwise objects wait for their finalizers, or a
// write failed.
func (s *Server) cleanUpStep(ctx context.Context, name string, r *resource) (done bool, err error) {
	crd := &apiextv1.CustomResourceDefinition{}
	a, err := s.Get(ctx, &apiv1.GetRequest{Resource: crdResource, Name: name})
	if err == nil {
		err = a.UnmarshalTo(crd)
	}
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if crd.GetMetadata().GetDeletionTimestamp() == nil || !slices.Contains(crd.GetMetadata().GetFinalizers(), customresourcedefinition.CleanupFinalizer) {
		return true, nil
	}
	if customresourcedefinition.SetTerminating(crd, time.Now()) {
		if crd, err = s.writeCRD(ctx, crd, s.UpdateStatus); err != nil {
			return false, err
		}
	}
	left, err := s.deleteAll(ctx, r)
	if err != nil || left > 0 {
		return false, err
	}
	crd.Metadata.Finalizers = slices.DeleteFunc(crd.Metadata.Finalizers, func(f string) bool { return f == customresourcedefinition.CleanupFinalizer })
	_, err = s.writeCRD(ctx, crd, s.Update)
	return err == nil, err
}

// writeCRD writes crd through write (Update or UpdateStatus) and returns
// what was stored.
func (s *Server) writeCRD(ctx context.Context, crd *apiextv1.CustomResourceDefinition,
	write func(context.Context, *apiv1.UpdateRequest) (*anypb.Any, error)) (*apiextv1.CustomResourceDefinition, error) {
	b, err := scheme.Pack(crd)
	if err != nil {
		return nil, err
	}
	a, err := write(ctx, &apiv1.UpdateRequest{Resource: crdResource, Object: b})
	if err != nil {
		return nil, err
	}
	out := &apiextv1.CustomResourceDefinition{}
	return out, a.UnmarshalTo(out)
}

// deleteAll deletes every object of r not being deleted yet, as a
// client's delete would, and returns how many objects are left (those
// whose finalizers hold them).
func (s *Server) deleteAll(ctx context.Context, r *resource) (left int, err error) {
	res := r.kind.QualifiedResource()
	list, err := s.List(ctx, &apiv1.ListRequest{Resource: res})
	if err != nil {
		return 0, err
	}
	for _, item := range list.GetItems() {
		obj, err := r.unpack(item)
		if err != nil {
			return 0, err
		}
		m := scheme.Meta(obj)
		if m.GetDeletionTimestamp() != nil {
			left++
			continue
		}
		resp, err := s.Delete(ctx, &apiv1.DeleteRequest{Resource: res, Namespace: m.GetNamespace(), Name: m.GetName()})
		if err != nil && !apierrors.IsNotFound(err) {
			return 0, err
		}
		if err == nil && !resp.GetDeleted() {
			left++ // marked, not gone: its finalizers hold it
		}
	}
	return left, nil
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
