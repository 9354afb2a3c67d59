package openapi

import (
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
)

// PatchMeta is the strategic merge patch metadata of message md's
// fields, for strategicpatch.StrategicMergePatchUsingLookupPatchMeta: the
// patch strategies and merge keys Kubernetes declares on the same fields
// of its Go types (a pod's containers merged by name, its volumes by name
// with retainKeys…), the same the OpenAPI documents carry as
// x-kubernetes-patch-strategy and x-kubernetes-patch-merge-key. A field
// without one, a field md does not have and every field when md is nil
// (a Scale) have no strategy: lists are replaced, as in a JSON merge
// patch; unknown fields are left to the decoding that follows.
func PatchMeta(md protoreflect.MessageDescriptor) strategicpatch.LookupPatchMeta {
	return patchMeta{md: md}
}

// patchMeta looks fields up in md; with values, md is the type of the
// values of a map, whatever their key.
type patchMeta struct {
	md     protoreflect.MessageDescriptor
	values bool
}

// field returns the lookup of the values of the field key names (their
// message, or a map's values') and its strategy and merge key; a list's
// lookup is of its elements.
func (p patchMeta) field(key string) (patchMeta, strategicpatch.PatchMeta) {
	var meta strategicpatch.PatchMeta
	if p.md == nil {
		return patchMeta{}, meta
	}
	if p.values {
		return patchMeta{md: p.md}, meta
	}
	fd := p.md.Fields().ByJSONName(key)
	if fd == nil {
		return patchMeta{}, meta
	}
	if tags, ok := k8sFields[DefinitionName(p.md)][key]; ok {
		if tags.PatchStrategy != "" {
			meta.SetPatchStrategies(strings.Split(tags.PatchStrategy, ","))
		}
		meta.SetPatchMergeKey(tags.PatchMergeKey)
	}
	switch {
	case fd.IsMap():
		return patchMeta{md: fd.MapValue().Message(), values: true}, meta
	case fd.Message() != nil:
		return patchMeta{md: fd.Message()}, meta
	}
	return patchMeta{}, meta
}

// LookupPatchMetadataForStruct: the lookup of an object field's value.
func (p patchMeta) LookupPatchMetadataForStruct(key string) (strategicpatch.LookupPatchMeta, strategicpatch.PatchMeta, error) {
	sub, meta := p.field(key)
	return sub, meta, nil
}

// LookupPatchMetadataForSlice: the lookup of a list field's elements.
func (p patchMeta) LookupPatchMetadataForSlice(key string) (strategicpatch.LookupPatchMeta, strategicpatch.PatchMeta, error) {
	sub, meta := p.field(key)
	return sub, meta, nil
}

// Name is the message's full name.
func (p patchMeta) Name() string {
	if p.md == nil {
		return ""
	}
	return string(p.md.FullName())
}
