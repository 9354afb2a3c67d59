package validation

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
)

// MaxDataSize is the limit on the total size of a ConfigMap's or Secret's
// values (1 MiB, as in Kubernetes).
const MaxDataSize = 1 << 20

func validateDataKey(key string, p *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsConfigMapKey(key) {
		allErrs = append(allErrs, field.Invalid(p, key, msg))
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// ConfigMap

func validateConfigMap(cm *corev1.ConfigMap) field.ErrorList {
	var allErrs field.ErrorList
	size := 0
	dp, bp := field.NewPath("data"), field.NewPath("binaryData")
	for _, k := range sortedKeys(cm.GetData()) {
		allErrs = append(allErrs, validateDataKey(k, dp.Key(k))...)
		size += len(cm.GetData()[k])
	}
	for _, k := range sortedKeys(cm.GetBinaryData()) {
		allErrs = append(allErrs, validateDataKey(k, bp.Key(k))...)
		if _, dup := cm.GetData()[k]; dup {
			allErrs = append(allErrs, field.Invalid(bp.Key(k), k, "duplicate of key present in data"))
		}
		size += len(cm.GetBinaryData()[k])
	}
	if size > MaxDataSize {
		allErrs = append(allErrs, field.TooLong(dp, "", MaxDataSize))
	}
	return allErrs
}

func validateConfigMapUpdate(cm, old *corev1.ConfigMap) field.ErrorList {
	if !old.GetImmutable() {
		return nil
	}
	var allErrs field.ErrorList
	if !cm.GetImmutable() {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
	}
	if !proto.Equal(&corev1.ConfigMap{Data: cm.GetData()}, &corev1.ConfigMap{Data: old.GetData()}) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
	}
	if !proto.Equal(&corev1.ConfigMap{BinaryData: cm.GetBinaryData()}, &corev1.ConfigMap{BinaryData: old.GetBinaryData()}) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("binaryData"), "field is immutable when `immutable` is set"))
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// Secret

// secretRequiredKeys are the data keys each well-known Secret type needs.
var secretRequiredKeys = map[string][]string{
	api.SecretTypeTLS:              {"tls.crt", "tls.key"},
	api.SecretTypeDockerConfigJSON: {".dockerconfigjson"},
	api.SecretTypeDockercfg:        {".dockercfg"},
	api.SecretTypeSSHAuth:          {"ssh-privatekey"},
}

func validateSecret(s *corev1.Secret) field.ErrorList {
	var allErrs field.ErrorList
	size := 0
	dp, sp := field.NewPath("data"), field.NewPath("stringData")
	has := map[string]bool{}
	for _, k := range sortedKeys(s.GetData()) {
		allErrs = append(allErrs, validateDataKey(k, dp.Key(k))...)
		size += len(s.GetData()[k])
		has[k] = true
	}
	for _, k := range sortedKeys(s.GetStringData()) {
		allErrs = append(allErrs, validateDataKey(k, sp.Key(k))...)
		if !has[k] {
			size += len(s.GetStringData()[k])
		}
		has[k] = true
	}
	if size > MaxDataSize {
		allErrs = append(allErrs, field.TooLong(dp, "", MaxDataSize))
	}
	for _, k := range secretRequiredKeys[s.GetType()] {
		if !has[k] {
			allErrs = append(allErrs, field.Required(dp.Key(k), fmt.Sprintf("required for a Secret of type %s", s.GetType())))
		}
	}
	if s.GetType() == api.SecretTypeBasicAuth && !has["username"] && !has["password"] {
		allErrs = append(allErrs, field.Required(dp, "one of `username` or `password` is required for a Secret of type kubernetes.io/basic-auth"))
	}
	if s.GetType() == api.SecretTypeServiceAccountToken && s.GetMetadata().GetAnnotations()[api.ServiceAccountNameAnnotation] == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("metadata", "annotations").Key(api.ServiceAccountNameAnnotation), ""))
	}
	return allErrs
}

func validateSecretUpdate(s, old *corev1.Secret) field.ErrorList {
	var allErrs field.ErrorList
	if s.GetType() != old.GetType() && old.GetType() != "" {
		allErrs = append(allErrs, field.Invalid(field.NewPath("type"), s.GetType(), "field is immutable"))
	}
	if !old.GetImmutable() {
		return allErrs
	}
	if !s.GetImmutable() {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
	}
	if !proto.Equal(&corev1.Secret{Data: s.GetData()}, &corev1.Secret{Data: old.GetData()}) || len(s.GetStringData()) > 0 {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("data"), "field is immutable when `immutable` is set"))
	}
	return allErrs
}

// ---------------------------------------------------------------------------
// Event

func validateEvent(e *corev1.Event) field.ErrorList {
	var allErrs field.ErrorList
	io := e.GetInvolvedObject()
	ip := field.NewPath("involvedObject")
	if io == nil {
		return field.ErrorList{field.Required(ip, "")}
	}
	if io.GetKind() == "" {
		allErrs = append(allErrs, field.Required(ip.Child("kind"), ""))
	}
	if io.GetName() == "" {
		allErrs = append(allErrs, field.Required(ip.Child("name"), ""))
	}
	if ns := io.GetNamespace(); ns != "" && ns != e.GetMetadata().GetNamespace() {
		allErrs = append(allErrs, field.Invalid(ip.Child("namespace"), ns, "does not match event.namespace"))
	}
	allErrs = append(allErrs, validateEnum(e.GetType(), field.NewPath("type"), "", api.EventTypeNormal, api.EventTypeWarning)...)
	allErrs = append(allErrs, validateNonnegative(int64(e.GetCount()), field.NewPath("count"))...)
	return allErrs
}
