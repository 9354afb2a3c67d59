package api

import metav1 "keel.dev/keel/pkg/apis/meta/v1"

// ControllerRef returns the owner reference marked controller, or nil.
func ControllerRef(meta *metav1.ObjectMeta) *metav1.OwnerReference {
	for _, r := range meta.GetOwnerReferences() {
		if r.GetController() {
			return r
		}
	}
	return nil
}
