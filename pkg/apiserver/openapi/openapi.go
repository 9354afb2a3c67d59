// Package openapi builds the apiserver's OpenAPI documents — Swagger 2.0 at
// /openapi/v2 and OpenAPI 3 at /openapi/v3 (an index of group versions and
// one document per group version) — from the kinds' proto descriptors,
// their doc comments (pkg/apis/apidocs) and the strategy registry, so that
// kubectl explain, kubectl's validation and client generators find what
// they look for in Kubernetes' documents: definitions named as
// Kubernetes names them (io.k8s.api.core.v1.Pod), each kind's
// x-kubernetes-group-version-kind, the patch strategies, merge keys, list
// and map types and required fields of k8s.io/api (zz_generated.k8stags.go),
// and every operation's path and parameters.
//
// The documents are built once, by New; the handlers serve them from
// memory with ETags, and in protobuf for clients that ask for it.
package openapi

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"

	"keel.dev/keel/pkg/apiserver/rest"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/version"
)

// Handlers serve the OpenAPI documents: the registered kinds' and those of
// the custom resources added with SetCustomResourceDefinition. Safe for
// concurrent use.
type Handlers struct {
	// V2 serves GET /openapi/v2: JSON, or protobuf when the Accept header
	// asks for application/com.github.proto-openapi.spec.v2@v1.0+protobuf.
	// It holds the registered kinds and the custom resources.
	V2 http.Handler
	// V3 serves GET /openapi/v3 (the index) and /openapi/v3/<group
	// version path> ("/openapi/v3/apis/apps/v1"); with ?hash= matching
	// the document's, the answer may be cached forever.
	V3 http.Handler
	// TypeConverter types the registered kinds' objects by the OpenAPI 3
	// schemas, for server-side apply and managedFields.
	TypeConverter managedfields.TypeConverter

	static *Static
	v2     *handler.OpenAPIService
	v3     *handler3.OpenAPIService
	crds   customResourceDocs
}

// Static are the documents of the registered kinds, built once by Build
// and shared by every Handlers made from them. Immutable.
type Static struct {
	v2      *spec.Swagger
	v3      map[string]*spec3.OpenAPI
	schemas map[string]*spec.Schema // every definition, by name
	tc      managedfields.TypeConverter
}

// Build builds the documents of every registered kind, with subs (the
// subresources the REST API serves beyond status and scale).
func Build(subs []rest.Subresource) (*Static, error) {
	st := &Static{v2: V2Document(subs), v3: V3Documents(subs), schemas: map[string]*spec.Schema{}}
	for _, doc := range st.v3 {
		for name, sc := range doc.Components.Schemas {
			// A kind's definition is in every document that refers to it
			// (a PersistentVolumeClaim in apps/v1's, for StatefulSets'
			// claim templates), but names its group-version-kind only in
			// its own group version's: that is the one apply needs.
			if prev, ok := st.schemas[name]; ok && prev.Extensions[extGVK] != nil {
				continue
			}
			st.schemas[name] = sc
		}
	}
	tc, err := managedfields.NewTypeConverter(st.schemas, false)
	if err != nil {
		return nil, fmt.Errorf("the server-side apply types: %w", err)
	}
	st.tc = tc
	return st, nil
}

// New builds the documents (Build) and returns their handlers.
func New(subs []rest.Subresource) (*Handlers, error) {
	st, err := Build(subs)
	if err != nil {
		return nil, err
	}
	return st.Handlers()
}

// Handlers returns handlers serving the static documents, ready to serve
// custom resources' too.
func (st *Static) Handlers() (*Handlers, error) {
	v2 := handler.NewOpenAPIService(st.v2)
	mux2 := http.NewServeMux()
	v2.RegisterOpenAPIVersionedService("/openapi/v2", mux2)
	v3 := handler3.NewOpenAPIService()
	for key, doc := range st.v3 {
		v3.UpdateGroupVersion(key, doc)
	}
	mux3 := &prefixMux{ServeMux: http.NewServeMux()}
	if err := v3.RegisterOpenAPIV3VersionedService("/openapi/v3", mux3); err != nil {
		return nil, err
	}
	return &Handlers{V2: mux2, V3: mux3, TypeConverter: st.tc, static: st, v2: v2, v3: v3}, nil
}

// prefixMux is the ServeMux handler3 registers on.
type prefixMux struct{ *http.ServeMux }

// HandlePrefix registers h for every path under prefix (which ends in /).
func (m *prefixMux) HandlePrefix(prefix string, h http.Handler) { m.Handle(prefix, h) }

func info() *spec.Info {
	return &spec.Info{InfoProps: spec.InfoProps{Title: "Keel", Version: version.Get().GitVersion}}
}

// V2Document is the Swagger 2.0 document of every registered kind, with
// subs.
func V2Document(subs []rest.Subresource) *spec.Swagger {
	defs := newSchemas(false)
	paths := map[string]spec.PathItem{}
	for _, s := range registry.All() {
		defs.kind(s.Info())
		for _, p := range kindPaths(s, subs, defs) {
			paths[p.path] = v2Path(p, defs)
		}
	}
	return &spec.Swagger{SwaggerProps: spec.SwaggerProps{
		Swagger:     "2.0",
		Info:        info(),
		Paths:       &spec.Paths{Paths: paths},
		Definitions: defs.defs,
		SecurityDefinitions: spec.SecurityDefinitions{
			"BearerToken": {SecuritySchemeProps: spec.SecuritySchemeProps{Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication"}},
		},
		Security: []map[string][]string{{"BearerToken": {}}},
	}}
}

// V3Documents are the OpenAPI 3 documents, by group version path key
// ("api/v1", "apis/apps/v1"); each holds its group version's paths and
// the definitions they refer to.
func V3Documents(subs []rest.Subresource) map[string]*spec3.OpenAPI {
	out := map[string]*spec3.OpenAPI{}
	for key, strategies := range kindsOf(registry.All()) {
		defs := newSchemas(true)
		paths := map[string]*spec3.Path{}
		for _, s := range strategies {
			defs.kind(s.Info())
			for _, p := range kindPaths(s, subs, defs) {
				paths[p.path] = v3Path(p, defs)
			}
		}
		doc := &spec3.OpenAPI{
			Version:    "3.0.0",
			Info:       info(),
			Paths:      &spec3.Paths{Paths: paths},
			Components: &spec3.Components{Schemas: map[string]*spec.Schema{}},
		}
		for _, name := range referenced(defs, paths) {
			s := defs.defs[name]
			doc.Components.Schemas[name] = &s
		}
		doc.Components.SecuritySchemes = spec3.SecuritySchemes{"BearerToken": {SecuritySchemeProps: spec3.SecuritySchemeProps{Type: "apiKey", Name: "authorization", In: "header", Description: "Bearer Token authentication"}}}
		doc.SecurityRequirement = []map[string][]string{{"BearerToken": {}}}
		out[key] = doc
	}
	return out
}

// referenced returns the definitions the paths refer to, directly or
// through other definitions, sorted.
func referenced(defs *schemas, paths map[string]*spec3.Path) []string {
	seen := map[string]bool{}
	var visit func(s *spec.Schema)
	visit = func(s *spec.Schema) {
		if s == nil {
			return
		}
		if ref := s.Ref.String(); ref != "" {
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			if !seen[name] {
				seen[name] = true
				d := defs.defs[name]
				visit(&d)
			}
		}
		for _, p := range s.Properties {
			visit(&p)
		}
		for i := range s.AllOf {
			visit(&s.AllOf[i])
		}
		for i := range s.OneOf {
			visit(&s.OneOf[i])
		}
		if s.Items != nil {
			visit(s.Items.Schema)
		}
		if s.AdditionalProperties != nil {
			visit(s.AdditionalProperties.Schema)
		}
	}
	for _, p := range paths {
		for _, op := range []*spec3.Operation{p.Get, p.Put, p.Post, p.Delete, p.Patch} {
			if op == nil {
				continue
			}
			if op.RequestBody != nil {
				for _, mt := range op.RequestBody.Content {
					visit(mt.Schema)
				}
			}
			for _, r := range op.Responses.StatusCodeResponses {
				for _, mt := range r.Content {
					visit(mt.Schema)
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}
