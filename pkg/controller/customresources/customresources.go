// Package customresources lets a controller-manager's controllers see
// custom resources: it follows the CustomResourceDefinitions, registers
// each Established definition's kinds in the process (registry.SetDynamic,
// as the apiserver does), so that its clients and informers can read and
// write them, and tells the controllers that act on every kind (the
// garbage collector) about each kind newly served.
package customresources

import (
	"slices"
	"sync"

	"go.uber.org/zap"

	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/registry/apiextensions/customresource"
	"keel.dev/keel/pkg/registry/apiextensions/customresourcedefinition"
	"keel.dev/keel/pkg/scheme"
)

// Follow follows the definitions through f's informer and calls onKind
// once with the storage kind of each definition (by uid) that becomes
// served; a definition deleted (once its objects are gone) or no longer
// Established has its kinds removed from the process. onKind runs on the
// informer's goroutine. log may be nil.
func Follow(f *informer.Factory, log *zap.Logger, onKind func(*scheme.Kind)) {
	if log == nil {
		log = zap.NewNop()
	}
	var mu sync.Mutex
	announced := map[string]bool{} // definition uids
	install := func(crd *apiextv1.CustomResourceDefinition) {
		name := crd.GetMetadata().GetName()
		// A definition being deleted is followed while the apiserver
		// serves it: until its objects are gone (CleanupFinalizer).
		if !customresourcedefinition.Established(crd) || crd.GetMetadata().GetDeletionTimestamp() != nil &&
			!slices.Contains(crd.GetMetadata().GetFinalizers(), customresourcedefinition.CleanupFinalizer) {
			remove(log, name)
			return
		}
		ss, err := customresource.Strategies(crd)
		if err == nil {
			err = registry.SetDynamic(name, ss)
		}
		if err != nil {
			log.Warn("cannot follow the custom resource", zap.String("customResourceDefinition", name), zap.Error(err))
			return
		}
		mu.Lock()
		first := !announced[crd.GetMetadata().GetUid()]
		announced[crd.GetMetadata().GetUid()] = true
		mu.Unlock()
		if first {
			log.Info("following custom resources", zap.String("customResourceDefinition", name), zap.String("resource", ss[0].Info().QualifiedResource()))
			onKind(ss[0].Info())
		}
	}
	informer.For[*apiextv1.CustomResourceDefinition](f).AddEventHandler(informer.HandlerFuncs[*apiextv1.CustomResourceDefinition]{
		AddFunc:    install,
		UpdateFunc: func(_, crd *apiextv1.CustomResourceDefinition) { install(crd) },
		DeleteFunc: func(crd *apiextv1.CustomResourceDefinition) { remove(log, crd.GetMetadata().GetName()) },
	})
}

func remove(log *zap.Logger, name string) {
	if err := registry.SetDynamic(name, nil); err != nil {
		log.Warn("removing the custom resource's kinds", zap.String("customResourceDefinition", name), zap.Error(err))
	}
}
