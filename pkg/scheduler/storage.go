package scheduler

import (
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	storagev1 "keel.dev/keel/pkg/apis/storage/v1"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/scheduler/framework"
)

// storageStores is plugins.StorageLister over the informers' stores.
type storageStores struct {
	claims  *informer.Store[*corev1.PersistentVolumeClaim]
	volumes *informer.Store[*corev1.PersistentVolume]
	classes *informer.Store[*storagev1.StorageClass]
	nodes   *informer.Store[*storagev1.CSINode]
}

func (s storageStores) Claim(ns, name string) (*corev1.PersistentVolumeClaim, bool) {
	return s.claims.GetByName(ns, name)
}

func (s storageStores) Volume(name string) (*corev1.PersistentVolume, bool) {
	return s.volumes.GetByName("", name)
}

func (s storageStores) Volumes() []*corev1.PersistentVolume { return s.volumes.List() }

func (s storageStores) Class(name string) (*storagev1.StorageClass, bool) {
	return s.classes.GetByName("", name)
}

func (s storageStores) CSINode(name string) (*storagev1.CSINode, bool) {
	return s.nodes.GetByName("", name)
}

// registerStorage registers the handlers that re-queue pods on changes
// of claims, volumes, StorageClasses and CSINodes. The plugins read these objects
// from the informers' stores directly; the loop only learns that they
// changed.
func (s *Scheduler) registerStorage(push func(event)) []informer.Registration {
	moved := func(r framework.EventResource, a framework.ActionType, label string) {
		push(event{kind: storageChange, storage: framework.ClusterEvent{Resource: r, Action: a, Label: label}})
	}
	return []informer.Registration{
		s.claims.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolumeClaim]{
			AddFunc: func(*corev1.PersistentVolumeClaim) {
				moved(framework.PersistentVolumeClaimEvent, framework.Add, "PvcAdd")
			},
			UpdateFunc: func(_, _ *corev1.PersistentVolumeClaim) {
				moved(framework.PersistentVolumeClaimEvent, framework.UpdateObject, "PvcUpdate")
			},
		}),
		s.volumes.AddEventHandler(informer.HandlerFuncs[*corev1.PersistentVolume]{
			AddFunc: func(*corev1.PersistentVolume) { moved(framework.PersistentVolumeEvent, framework.Add, "PvAdd") },
			UpdateFunc: func(_, _ *corev1.PersistentVolume) {
				moved(framework.PersistentVolumeEvent, framework.UpdateObject, "PvUpdate")
			},
		}),
		s.classes.AddEventHandler(informer.HandlerFuncs[*storagev1.StorageClass]{
			AddFunc: func(*storagev1.StorageClass) { moved(framework.StorageClassEvent, framework.Add, "StorageClassAdd") },
			UpdateFunc: func(_, _ *storagev1.StorageClass) {
				moved(framework.StorageClassEvent, framework.UpdateObject, "StorageClassUpdate")
			},
		}),
		s.csiNodes.AddEventHandler(informer.HandlerFuncs[*storagev1.CSINode]{
			AddFunc:    func(*storagev1.CSINode) { moved(framework.CSINodeEvent, framework.Add, "CSINodeAdd") },
			UpdateFunc: func(_, _ *storagev1.CSINode) { moved(framework.CSINodeEvent, framework.UpdateObject, "CSINodeUpdate") },
		}),
	}
}
