package registry

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/validation"
)

// Default sets the defaults of obj's kind on obj, in place. Messages of
// unregistered kinds are left alone.
func Default(obj proto.Message) {
	if s, ok := Of(obj); ok {
		s.Default(obj)
	}
}

// ValidateCreate returns every problem with a new object of any registered
// kind (nil if valid): its metadata, then its kind's own checks.
// metadata.name may be empty when metadata.generateName is set (the
// apiserver generates the name).
func ValidateCreate(obj proto.Message) field.ErrorList {
	s, errs := strategyOf(obj)
	if errs != nil {
		return errs
	}
	k := s.Info()
	var allErrs field.ErrorList
	if !k.CreateOnly { // never stored: its metadata names nothing
		allErrs = validation.ObjectMeta(scheme.Meta(obj), k.Namespaced, s.NameValidation(), field.NewPath("metadata"))
	}
	allErrs = append(allErrs, s.Validate(obj)...)
	return nilIfEmpty(allErrs)
}

// ValidateUpdate validates obj as a replacement of old (same kind):
// everything ValidateCreate checks plus what may not change.
// metadata.resourceVersion must be set on obj, and the system fields (uid,
// creationTimestamp, deletionTimestamp) must equal old's: the apiserver
// copies them from old before calling, so a difference is a client's
// attempt to change them.
func ValidateUpdate(obj, old proto.Message) field.ErrorList {
	s, errs := sameKind(obj, old)
	if errs != nil {
		return errs
	}
	allErrs := ValidateCreate(obj)
	allErrs = append(allErrs, validation.ObjectMetaUpdate(scheme.Meta(obj), scheme.Meta(old), field.NewPath("metadata"))...)
	allErrs = append(allErrs, s.ValidateUpdate(obj, old)...)
	return nilIfEmpty(allErrs)
}

// ValidateStatusUpdate validates a status-only change: obj's metadata
// against old's (immutable fields) and obj's status and its transitions
// from old's. Kinds without a status get a Forbidden error at "status".
func ValidateStatusUpdate(obj, old proto.Message) field.ErrorList {
	s, errs := sameKind(obj, old)
	if errs != nil {
		return errs
	}
	allErrs := validation.ObjectMetaUpdate(scheme.Meta(obj), scheme.Meta(old), field.NewPath("metadata"))
	if !s.HasStatus() {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("status"), fmt.Sprintf("%s has no status", s.Info().Kind)))
	} else {
		allErrs = append(allErrs, s.ValidateStatus(obj, old)...)
	}
	return nilIfEmpty(allErrs)
}

func strategyOf(obj proto.Message) (Strategy, field.ErrorList) {
	if obj == nil {
		return nil, field.ErrorList{field.Required(field.NewPath("kind"), "no object")}
	}
	s, ok := Of(obj)
	if !ok {
		return nil, field.ErrorList{field.Invalid(field.NewPath("kind"),
			string(obj.ProtoReflect().Descriptor().FullName()), "not a registered kind")}
	}
	return s, nil
}

func sameKind(obj, old proto.Message) (Strategy, field.ErrorList) {
	s, errs := strategyOf(obj)
	if errs != nil {
		return nil, errs
	}
	if old == nil || old.ProtoReflect().Descriptor().FullName() != obj.ProtoReflect().Descriptor().FullName() {
		return nil, field.ErrorList{field.Invalid(field.NewPath("kind"),
			string(obj.ProtoReflect().Descriptor().FullName()), "must be the same kind as the stored object")}
	}
	return s, nil
}

func nilIfEmpty(l field.ErrorList) field.ErrorList {
	if len(l) == 0 {
		return nil
	}
	return l
}
