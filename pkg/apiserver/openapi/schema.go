package openapi

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"keel.dev/keel/pkg/apis/apidocs"
	"keel.dev/keel/pkg/apiserver/rest"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// Extension names Kubernetes' OpenAPI documents use.
const (
	extGVK           = "x-kubernetes-group-version-kind"
	extPatchStrategy = "x-kubernetes-patch-strategy"
	extPatchMergeKey = "x-kubernetes-patch-merge-key"
	extListType      = "x-kubernetes-list-type"
	extListMapKeys   = "x-kubernetes-list-map-keys"
	extMapType       = "x-kubernetes-map-type"
	extAction        = "x-kubernetes-action"
)

// schemas builds definitions from message descriptors in one document's
// form: Swagger 2.0 (references under #/definitions/, a reference beside
// a description) or OpenAPI 3 (under #/components/schemas/, a reference
// wrapped in allOf so that its description stands).
type schemas struct {
	v3   bool
	defs spec.Definitions
}

func newSchemas(v3 bool) *schemas {
	s := &schemas{v3: v3, defs: spec.Definitions{}}
	s.addMetaTypes()
	return s
}

// ref is a schema referring to definition name, with a description.
func (s *schemas) ref(name, description string) spec.Schema {
	prefix := "#/definitions/"
	if s.v3 {
		prefix = "#/components/schemas/"
	}
	r := spec.Schema{SchemaProps: spec.SchemaProps{Ref: spec.MustCreateRef(prefix + name)}}
	if !s.v3 {
		r.Description = description
		return r
	}
	if description == "" {
		return r
	}
	return spec.Schema{SchemaProps: spec.SchemaProps{AllOf: []spec.Schema{r}, Description: description}}
}

// kind adds the definition of a kind's message (with apiVersion, kind and
// its group-version-kind) and, for a stored kind, of its list.
func (s *schemas) kind(k *scheme.Kind) {
	name := s.message(k.Message.ProtoReflect().Descriptor())
	def := s.defs[name]
	def.SetProperty("apiVersion", *spec.StringProperty().WithDescription(apiVersionDoc))
	def.SetProperty("kind", *spec.StringProperty().WithDescription(kindDoc))
	def.AddExtension(extGVK, gvk(k, k.Kind))
	s.defs[name] = def
	if k.CreateOnly {
		return
	}
	list := spec.Schema{SchemaProps: spec.SchemaProps{
		Description: k.Kind + "List is a list of " + k.Kind + " objects.",
		Type:        spec.StringOrArray{"object"},
		Required:    []string{"items"},
		Properties: map[string]spec.Schema{
			"apiVersion": *spec.StringProperty().WithDescription(apiVersionDoc),
			"kind":       *spec.StringProperty().WithDescription(kindDoc),
			"items":      *spec.ArrayProperty(refPtr(s.ref(name, ""))).WithDescription("The " + k.Resource + " of the list."),
			"metadata":   s.ref(listMetaName, "Standard list metadata."),
		},
	}}
	list.AddExtension(extGVK, gvk(k, k.Kind+"List"))
	s.defs[name+"List"] = list
}

// subresourceKind adds the definition of the kind a subresource takes
// and answers, and returns its name: a registered kind's, or an object
// named after the kind for one that has no message (a Binding).
func (s *schemas) subresourceKind(x rest.Subresource) string {
	apiVersion := x.Version
	if x.Group != "" {
		apiVersion = x.Group + "/" + x.Version
	}
	if k, ok := scheme.ByGVK(apiVersion, x.Kind); ok {
		s.kind(k)
		return DefinitionName(k.Message.ProtoReflect().Descriptor())
	}
	pkg := x.Group
	if pkg == "" {
		pkg = "core"
	}
	name := "io.k8s.api." + strings.Split(pkg, ".")[0] + "." + x.Version + "." + x.Kind
	def := spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}, Description: x.Kind + " is the body of the " + x.Name + " subresource."}}
	def.AddExtension(extGVK, []any{map[string]any{"group": x.Group, "version": x.Version, "kind": x.Kind}})
	s.defs[name] = def
	return name
}

func refPtr(s spec.Schema) *spec.Schema { return &s }

// gvk is the x-kubernetes-group-version-kind value naming kind in k's
// group and version.
func gvk(k *scheme.Kind, kind string) []any {
	return []any{map[string]any{"group": k.Group, "version": k.Version, "kind": kind}}
}

// message adds the definition of md's type, and of every type under it,
// and returns its name.
func (s *schemas) message(md protoreflect.MessageDescriptor) string {
	name := DefinitionName(md)
	if _, done := s.defs[name]; done {
		return name
	}
	def := spec.Schema{SchemaProps: spec.SchemaProps{
		Description: apidocs.Comment(md.FullName()),
		Type:        spec.StringOrArray{"object"},
	}}
	if mt := k8sStructTypes[name]; mt != "" {
		def.AddExtension(extMapType, mt)
	}
	s.defs[name] = def // before the fields: types may refer to themselves
	fields := md.Fields()
	props := make(map[string]spec.Schema, fields.Len())
	var required []string
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		tags := k8sFields[name][fd.JSONName()]
		props[fd.JSONName()] = s.field(fd, tags)
		if tags.Required {
			required = append(required, fd.JSONName())
		}
	}
	for _, key := range manifest.IgnoredFields(md.FullName()) {
		props[key] = *spec.StringProperty().WithDescription("Deprecated and no longer used: accepted and dropped.")
	}
	def.Properties = props
	sort.Strings(required)
	def.Required = required
	s.defs[name] = def
	return name
}

// field is the schema of a message field, with Kubernetes' extensions.
func (s *schemas) field(fd protoreflect.FieldDescriptor, tags k8sField) spec.Schema {
	doc := apidocs.Comment(fd.FullName())
	var out spec.Schema
	switch {
	case fd.IsList():
		out = *spec.ArrayProperty(refPtr(s.single(fd, ""))).WithDescription(doc)
	case fd.IsMap():
		out = *spec.MapProperty(refPtr(s.single(fd.MapValue(), ""))).WithDescription(doc)
	default:
		out = s.single(fd, doc)
	}
	if fd.IsMap() || fd.IsList() || fd.Message() == nil {
		// A reference carries no extensions of its own in Kubernetes'
		// documents either; a struct field's list and map types do.
		for _, kv := range [][2]string{{extPatchStrategy, tags.PatchStrategy}, {extPatchMergeKey, tags.PatchMergeKey}, {extListType, tags.ListType}, {extMapType, tags.MapType}} {
			if kv[1] != "" {
				out.AddExtension(kv[0], kv[1])
			}
		}
		if len(tags.ListMapKeys) > 0 {
			out.AddExtension(extListMapKeys, append([]any(nil), toAny(tags.ListMapKeys)...))
		}
	}
	if tags.Default != "" {
		// Server-side apply keys list items by their defaulted keys (a
		// port's protocol), as Kubernetes' documents let it.
		var v any
		if err := json.Unmarshal([]byte(tags.Default), &v); err != nil {
			panic(fmt.Sprintf("openapi: default of %s: %v", fd.FullName(), err))
		}
		out.Default = v
	}
	return out
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, v := range ss {
		out[i] = v
	}
	return out
}

// single is the schema of one value of fd's type: a reference for a
// message, a typed scalar otherwise.
func (s *schemas) single(fd protoreflect.FieldDescriptor, doc string) spec.Schema {
	var out *spec.Schema
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return s.ref(s.message(fd.Message()), doc)
	case protoreflect.StringKind:
		out = spec.StringProperty()
	case protoreflect.BytesKind:
		out = spec.StrFmtProperty("byte")
	case protoreflect.BoolKind:
		out = spec.BooleanProperty()
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		out = spec.Int32Property()
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		out = spec.Float64Property()
	case protoreflect.EnumKind:
		out = spec.StringProperty()
		vals := fd.Enum().Values()
		for i := 0; i < vals.Len(); i++ {
			out.Enum = append(out.Enum, string(vals.Get(i).Name()))
		}
	default:
		out = spec.Int64Property()
	}
	return *out.WithDescription(doc)
}

const (
	apiVersionDoc = "APIVersion defines the versioned schema of this representation of an object: \"v1\" for the core group, else \"group/version\"."
	kindDoc       = "Kind is the type of the object, in CamelCase."
)

// addMetaTypes adds the apimachinery types that are written as scalars,
// and those the operations refer to that have no message.
func (s *schemas) addMetaTypes() {
	str := func(format, doc string) spec.Schema { return *spec.StrFmtProperty(format).WithDescription(doc) }
	s.defs[timeName] = str("date-time", "Time is a timestamp in RFC 3339 form, to the second, in UTC.")
	quantity := str("", "Quantity is an amount of a resource in its canonical form: \"250m\", \"64Mi\", \"2\".")
	intOrString := str("int-or-string", "IntOrString holds either an integer or a string (\"25%\", \"http\").")
	if s.v3 {
		quantity.Type = nil
		quantity.OneOf = []spec.Schema{*spec.StringProperty(), {SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"number"}}}}
		intOrString.Type = nil
		intOrString.OneOf = []spec.Schema{{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"integer"}}}, *spec.StringProperty()}
	}
	s.defs[quantityName] = quantity
	s.defs[intOrStringName] = intOrString
	s.defs[rawName] = spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}, Description: "RawExtension is an embedded object, in its JSON form."}}
	s.defs[patchName] = spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}, Description: "Patch is the body of a PATCH request: a JSON patch, a JSON merge patch, a strategic merge patch or an apply configuration, as its content type says."}}
	object := func(doc string, required []string, props map[string]spec.Schema) spec.Schema {
		return spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{"object"}, Description: doc, Required: required, Properties: props}}
	}
	s.defs[listMetaName] = object("ListMeta is the metadata of a list.", nil, map[string]spec.Schema{
		"resourceVersion":    str("", "The version of the list, to watch from."),
		"continue":           str("", "Set when the list was cut at limit: pass it as continue to get the next page."),
		"remainingItemCount": *spec.Int64Property().WithDescription("How many more items the following pages hold, when known."),
		"selfLink":           str("", "Deprecated, never set."),
	})
	s.defs[metaPrefix+"StatusCause"] = object("StatusCause is one cause of an error: the field and what is wrong with it.", nil, map[string]spec.Schema{
		"reason":  str("", "A machine-readable description of the cause (FieldValueInvalid…)."),
		"message": str("", "What is wrong, for people."),
		"field":   str("", "The path of the field at fault (\"spec.containers[0].name\")."),
	})
	s.defs[metaPrefix+"StatusDetails"] = object("StatusDetails says which object an error is about, and its causes.", nil, map[string]spec.Schema{
		"name":              str("", "The name of the object."),
		"group":             str("", "The API group of the object."),
		"kind":              str("", "The kind of the object."),
		"uid":               str("", "The UID of the object."),
		"causes":            *spec.ArrayProperty(refPtr(s.ref(metaPrefix+"StatusCause", ""))).WithDescription("Every cause of the error."),
		"retryAfterSeconds": *spec.Int32Property().WithDescription("How long to wait before retrying."),
	})
	status := object("Status is the result of an operation that returns no object, and of every error.", nil, map[string]spec.Schema{
		"apiVersion": *spec.StringProperty().WithDescription(apiVersionDoc),
		"kind":       *spec.StringProperty().WithDescription(kindDoc),
		"metadata":   s.ref(listMetaName, "Standard list metadata."),
		"status":     str("", "\"Success\" or \"Failure\"."),
		"message":    str("", "What happened, for people."),
		"reason":     str("", "A machine-readable reason (NotFound, AlreadyExists, Invalid…)."),
		"details":    s.ref(metaPrefix+"StatusDetails", "The object the status is about, and the causes of an error."),
		"code":       *spec.Int32Property().WithDescription("The HTTP status code."),
	})
	status.AddExtension(extGVK, []any{map[string]any{"group": "", "version": "v1", "kind": "Status"}})
	s.defs[statusName] = status
	s.defs[watchEventName] = object("WatchEvent is one event of a watch stream.", []string{"object", "type"}, map[string]spec.Schema{
		"type":   str("", "ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."),
		"object": s.ref(rawName, "The object as it is after the event; for ERROR, a Status."),
	})
	s.defs[scaleName+"Spec"] = object("ScaleSpec is the desired size of a scalable object.", nil, map[string]spec.Schema{
		"replicas": *spec.Int32Property().WithDescription("The desired number of replicas."),
	})
	s.defs[scaleName+"Status"] = object("ScaleStatus is the observed size of a scalable object.", []string{"replicas"}, map[string]spec.Schema{
		"replicas": *spec.Int32Property().WithDescription("The observed number of replicas."),
		"selector": str("", "The label selector of the replicas, in its string form."),
	})
	scale := object("Scale is the scale subresource of a scalable object.", nil, map[string]spec.Schema{
		"apiVersion": *spec.StringProperty().WithDescription(apiVersionDoc),
		"kind":       *spec.StringProperty().WithDescription(kindDoc),
		"metadata":   s.ref(s.message(metaMessage()), "Standard object metadata."),
		"spec":       s.ref(scaleName+"Spec", "The desired size."),
		"status":     s.ref(scaleName+"Status", "The observed size."),
	})
	scale.AddExtension(extGVK, []any{map[string]any{"group": "autoscaling", "version": "v1", "kind": "Scale"}})
	s.defs[scaleName] = scale
}
