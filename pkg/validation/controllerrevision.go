package validation

import (
	"bytes"
	"encoding/json"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
)

// ControllerRevision validates a revision: data, when set, is a JSON
// object, and revision is not negative.
func ControllerRevision(cr *appsv1.ControllerRevision) field.ErrorList {
	allErrs := validateNonnegative(cr.GetRevision(), field.NewPath("revision"))
	if raw := cr.GetData().GetRaw(); len(raw) > 0 {
		if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("data"), "<raw>", "must be a JSON object"))
		}
	}
	return allErrs
}

// ControllerRevisionUpdate: data never changes (the revision number may,
// as a controller re-promotes an old revision on a rollback).
func ControllerRevisionUpdate(cr, old *appsv1.ControllerRevision) field.ErrorList {
	if !bytes.Equal(cr.GetData().GetRaw(), old.GetData().GetRaw()) {
		return field.ErrorList{field.Invalid(field.NewPath("data"), "<raw>", apivalidation.FieldImmutableErrorMsg)}
	}
	return nil
}
