package openapi

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Definition names of the types Keel writes as Kubernetes' apimachinery
// types, and of the types the operations refer to that have no message.
const (
	timeName        = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
	quantityName    = "io.k8s.apimachinery.pkg.api.resource.Quantity"
	intOrStringName = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
	rawName         = "io.k8s.apimachinery.pkg.runtime.RawExtension"
	metaPrefix      = "io.k8s.apimachinery.pkg.apis.meta.v1."
	listMetaName    = metaPrefix + "ListMeta"
	statusName      = metaPrefix + "Status"
	patchName       = metaPrefix + "Patch"
	watchEventName  = metaPrefix + "WatchEvent"
	deleteOptsName  = metaPrefix + "DeleteOptions"
	scaleName       = "io.k8s.api.autoscaling.v1.Scale"
)

// special are the messages whose definition is not named after their
// package: the value types manifests write as scalars.
var special = map[protoreflect.FullName]string{
	"google.protobuf.Timestamp": timeName,
	"keel.meta.v1.Quantity":     quantityName,
	"keel.meta.v1.IntOrString":  intOrStringName,
	"keel.meta.v1.RawExtension": rawName,
}

// DefinitionName is the name Kubernetes gives the definition of message
// md's type, so that kubectl and client generators find it:
// keel.core.v1.Pod is io.k8s.api.core.v1.Pod, keel.meta.v1.ObjectMeta is
// io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta, and the value types
// are apimachinery's (Time, Quantity, IntOrString, RawExtension).
func DefinitionName(md protoreflect.MessageDescriptor) string {
	if n, ok := special[md.FullName()]; ok {
		return n
	}
	pkg := strings.TrimPrefix(string(md.ParentFile().Package()), "keel.")
	if pkg == "meta.v1" {
		return metaPrefix + string(md.Name())
	}
	if pkg == "apiextensions.v1" {
		return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1." + string(md.Name())
	}
	return "io.k8s.api." + pkg + "." + string(md.Name())
}
