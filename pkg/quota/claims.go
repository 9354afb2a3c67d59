package quota

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// StorageClassSuffix ends the per-class names of claim usage:
// <class>.storageclass.storage.k8s.io/requests.storage and
// <class>.storageclass.storage.k8s.io/persistentvolumeclaims.
const StorageClassSuffix = ".storageclass." + api.GroupStorage + "/"

// ResourceRequestsStorage is the storage all of a namespace's claims ask
// for.
const ResourceRequestsStorage = "requests." + api.ResourceStorage

// addClaimUsage adds what a claim uses besides its object counts, as
// Kubernetes' claim evaluator: the storage it requests, in all and under
// its class, and one claim of its class.
func addClaimUsage(u List, pvc *corev1.PersistentVolumeClaim) error {
	size := resource.Quantity{}
	if q, ok := pvc.GetSpec().GetResources().GetRequests()[api.ResourceStorage]; ok {
		v, err := resource.ParseQuantity(q.GetString_())
		if err != nil {
			return err
		}
		size = v
	}
	u[ResourceRequestsStorage] = size
	if class := pvc.GetSpec().GetStorageClassName(); class != "" {
		u[class+StorageClassSuffix+ResourceRequestsStorage] = size.DeepCopy()
		u[class+StorageClassSuffix+api.ResourcePersistentVolumeClaims] = *resource.NewQuantity(1, resource.DecimalSI)
	}
	return nil
}

// claimResource: name is a resource claims use (requests.storage or a
// per-class one).
func claimResource(name string) bool {
	return name == ResourceRequestsStorage || strings.Contains(name, StorageClassSuffix)
}
