package openapi

import (
	"maps"
	"net/http"
	"slices"

	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Media types of requests and answers.
var (
	patchTypes = []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
	produces   = []string{"application/json", "application/yaml"}
	watchTypes = []string{"application/json;stream=watch"}
)

func (o operation) produces() []string {
	if o.text {
		return []string{"text/plain"}
	}
	if o.watch {
		return append(append([]string(nil), produces...), watchTypes...)
	}
	return produces
}

func (o operation) consumes() []string {
	if o.patch {
		return patchTypes
	}
	return []string{"*/*"}
}

// extensions are the x-kubernetes-action and
// x-kubernetes-group-version-kind of an operation.
func (o operation) extensions() spec.Extensions {
	return spec.Extensions{
		extAction: o.action,
		extGVK:    map[string]any{"group": o.group, "version": o.version, "kind": o.kind},
	}
}

// answer is the schema of the operation's answer with status code c: a
// string for plain text, else a reference to its definition.
func (o operation) answer(defs *schemas, c int) *spec.Schema {
	if o.text {
		return spec.StringProperty()
	}
	return refPtr(defs.ref(o.responses[c], ""))
}

// codes are the operation's status codes, in order.
func (o operation) codes() []int { return slices.Sorted(maps.Keys(o.responses)) }

func v2Param(p param) spec.Parameter {
	return spec.Parameter{
		ParamProps:        spec.ParamProps{Name: p.name, In: p.in, Description: p.description, Required: p.required},
		SimpleSchema:      spec.SimpleSchema{Type: p.typ},
		CommonValidations: spec.CommonValidations{UniqueItems: p.unique},
	}
}

// v2Path renders a path in Swagger 2.0's form.
func v2Path(p path, defs *schemas) spec.PathItem {
	var item spec.PathItem
	for _, prm := range p.params {
		item.Parameters = append(item.Parameters, v2Param(prm))
	}
	for _, o := range p.ops {
		op := &spec.Operation{
			OperationProps: spec.OperationProps{
				ID: o.id, Description: o.description, Tags: []string{o.tag},
				Consumes: o.consumes(), Produces: o.produces(), Schemes: []string{"https"},
				Responses: &spec.Responses{ResponsesProps: spec.ResponsesProps{StatusCodeResponses: map[int]spec.Response{
					http.StatusUnauthorized: {ResponseProps: spec.ResponseProps{Description: "Unauthorized"}},
				}}},
			},
			VendorExtensible: spec.VendorExtensible{Extensions: o.extensions()},
		}
		if o.body != "" {
			op.Parameters = append(op.Parameters, spec.Parameter{ParamProps: spec.ParamProps{
				Name: "body", In: "body", Required: o.method != "delete", Schema: refPtr(defs.ref(o.body, "")),
			}})
		}
		for _, q := range o.query {
			op.Parameters = append(op.Parameters, v2Param(q))
		}
		for _, c := range o.codes() {
			op.Responses.StatusCodeResponses[c] = spec.Response{ResponseProps: spec.ResponseProps{
				Description: http.StatusText(c), Schema: o.answer(defs, c),
			}}
		}
		*map[string]**spec.Operation{"get": &item.Get, "put": &item.Put, "post": &item.Post, "delete": &item.Delete, "patch": &item.Patch}[o.method] = op
	}
	return item
}

func v3Param(p param) *spec3.Parameter {
	return &spec3.Parameter{ParameterProps: spec3.ParameterProps{
		Name: p.name, In: p.in, Description: p.description, Required: p.required,
		Schema: &spec.Schema{SchemaProps: spec.SchemaProps{Type: spec.StringOrArray{p.typ}, UniqueItems: p.unique}},
	}}
}

// content maps each media type to schema.
func content(types []string, schema spec.Schema) map[string]*spec3.MediaType {
	out := make(map[string]*spec3.MediaType, len(types))
	for _, t := range types {
		s := schema
		out[t] = &spec3.MediaType{MediaTypeProps: spec3.MediaTypeProps{Schema: &s}}
	}
	return out
}

// v3Path renders a path in OpenAPI 3's form.
func v3Path(p path, defs *schemas) *spec3.Path {
	item := &spec3.Path{}
	for _, prm := range p.params {
		item.Parameters = append(item.Parameters, v3Param(prm))
	}
	for _, o := range p.ops {
		op := &spec3.Operation{
			OperationProps: spec3.OperationProps{
				OperationId: o.id, Description: o.description, Tags: []string{o.tag},
				Responses: &spec3.Responses{ResponsesProps: spec3.ResponsesProps{StatusCodeResponses: map[int]*spec3.Response{
					http.StatusUnauthorized: {ResponseProps: spec3.ResponseProps{Description: "Unauthorized"}},
				}}},
			},
			VendorExtensible: spec.VendorExtensible{Extensions: o.extensions()},
		}
		if o.body != "" {
			op.RequestBody = &spec3.RequestBody{RequestBodyProps: spec3.RequestBodyProps{
				Content:  content(o.consumes(), defs.ref(o.body, "")),
				Required: o.method != "delete",
			}}
		}
		for _, q := range o.query {
			op.Parameters = append(op.Parameters, v3Param(q))
		}
		for _, c := range o.codes() {
			op.Responses.StatusCodeResponses[c] = &spec3.Response{ResponseProps: spec3.ResponseProps{
				Description: http.StatusText(c), Content: content(o.produces(), *o.answer(defs, c)),
			}}
		}
		*map[string]**spec3.Operation{"get": &item.Get, "put": &item.Put, "post": &item.Post, "delete": &item.Delete, "patch": &item.Patch}[o.method] = op
	}
	return item
}
