// Package serviceaccount is the strategy of the ServiceAccount kind (v1):
// the identity pods run as. The serviceaccount controller creates
// "default" in every namespace; the ServiceAccount admission plugin makes
// pods that name none run as it.
package serviceaccount

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Strategy is the ServiceAccount kind's strategy.
var Strategy = &registry.Kind[*corev1.ServiceAccount]{
	Identity:     scheme.Kind{Version: "v1", Kind: "ServiceAccount", Resource: "serviceaccounts", ShortNames: []string{"sa"}, Namespaced: true},
	ValidateFunc: validate,
	TableColumns: printers.ServiceAccountColumns,
	RowFunc:      printers.ServiceAccountRow,
	DescribeFunc: printers.DescribeServiceAccount,
	Watchers:     registry.Watchers{GarbageCollected: true},
}

// validate: the secrets it names are names of the namespace's objects.
func validate(sa *corev1.ServiceAccount) field.ErrorList {
	var errs field.ErrorList
	for i, r := range sa.GetSecrets() {
		p := field.NewPath("secrets").Index(i).Child("name")
		if r.GetName() == "" {
			errs = append(errs, field.Required(p, ""))
			continue
		}
		errs = append(errs, validation.DNS1123Subdomain(r.GetName(), p)...)
	}
	for i, r := range sa.GetImagePullSecrets() {
		p := field.NewPath("imagePullSecrets").Index(i).Child("name")
		if r.GetName() == "" {
			errs = append(errs, field.Required(p, ""))
			continue
		}
		errs = append(errs, validation.DNS1123Subdomain(r.GetName(), p)...)
	}
	return errs
}
