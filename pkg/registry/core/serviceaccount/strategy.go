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
	var names []string
	for _, r := range sa.GetSecrets() {
		names = append(names, r.GetName())
	}
	errs := objectNames(names, field.NewPath("secrets"))
	names = names[:0]
	for _, r := range sa.GetImagePullSecrets() {
		names = append(names, r.GetName())
	}
	return append(errs, objectNames(names, field.NewPath("imagePullSecrets"))...)
}

// objectNames checks each reference's name, at p[i].name.
func objectNames(names []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, n := range names {
		np := p.Index(i).Child("name")
		if n == "" {
			errs = append(errs, field.Required(np, ""))
			continue
		}
		errs = append(errs, validation.DNS1123Subdomain(n, np)...)
	}
	return errs
}
