package openapi

import (
	"fmt"
	"maps"
	"slices"
	"sync"

	k8sapiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// customResourceDocs are the OpenAPI 3 documents and apply types of the
// custom resources, built by apiextensions-apiserver's builder as
// Kubernetes builds them.
type customResourceDocs struct {
	mu sync.Mutex
	// byGV holds, by group version path key ("apis/stable.example.com/v1")
	// and definition name, the document of each served version.
	byGV map[string]map[string]*spec3.OpenAPI
	// keys are the group version keys of each definition's documents.
	keys map[string][]string
	// types type each definition's objects (all its versions), by
	// "GROUP/KIND".
	types map[string]managedfields.TypeConverter
	// typeKey is the types key of each definition, by name.
	typeKey map[string]string
	// v2 holds each definition's Swagger 2.0 document (its served
	// versions merged), by name: /openapi/v2 is the static document
	// merged with them.
	v2 map[string]*spec.Swagger
}

// SetCustomResourceDefinition serves the documents of crd's served
// versions in /openapi/v3 (with the other definitions of their group
// versions) and in /openapi/v2 (merged into the registered kinds'
// document, which wins any conflict), replacing those of its previous
// generation, and types its objects for server-side apply
// (CustomResourceTypeConverter). On error (a schema the builder refuses)
// nothing changes.
func (h *Handlers) SetCustomResourceDefinition(crd *k8sapiextv1.CustomResourceDefinition) error {
	docs := map[string]*spec3.OpenAPI{}
	var all []*spec3.OpenAPI
	v2 := &spec.Swagger{}
	for _, v := range crd.Spec.Versions {
		if v.Served {
			// As Kubernetes builds it: defaults pruned, as the static
			// document's are, so that the two merge cleanly.
			doc, err := builder.BuildOpenAPIV2(crd, v.Name, builder.Options{V2: true, IncludeSelectableFields: true})
			if err != nil {
				return fmt.Errorf("the OpenAPI v2 document of %s version %s: %w", crd.Name, v.Name, err)
			}
			doc.Definitions = handler.PruneDefaults(doc.Definitions)
			if v2, err = builder.MergeSpecs(v2, doc); err != nil {
				return fmt.Errorf("the OpenAPI v2 document of %s: %w", crd.Name, err)
			}
		}
		doc, err := builder.BuildOpenAPIV3(crd, v.Name, builder.Options{V2: false, IncludeSelectableFields: true})
		if err != nil {
			return fmt.Errorf("the OpenAPI document of %s version %s: %w", crd.Name, v.Name, err)
		}
		all = append(all, doc)
		// A group version of the registered kinds keeps its own document.
		if key := "apis/" + crd.Spec.Group + "/" + v.Name; v.Served && (h.static == nil || h.static.v3[key] == nil) {
			docs[key] = doc
		}
	}
	merged, err := builder.MergeSpecsV3(all...)
	if err != nil {
		return fmt.Errorf("the OpenAPI documents of %s: %w", crd.Name, err)
	}
	tc, err := managedfields.NewTypeConverter(merged.Components.Schemas, crd.Spec.PreserveUnknownFields)
	if err != nil {
		return fmt.Errorf("the server-side apply types of %s: %w", crd.Name, err)
	}
	return h.crds.set(h, crd.Name, crd.Spec.Group+"/"+crd.Spec.Names.Kind, docs, v2, tc)
}

// RemoveCustomResourceDefinition stops serving the documents of the
// definition name and typing its objects.
func (h *Handlers) RemoveCustomResourceDefinition(name string) {
	// Nothing to build: set cannot fail.
	_ = h.crds.set(h, name, "", nil, nil, nil)
}

// CustomResourceTypeConverter types the objects of the custom resource
// kind of group for server-side apply; nil when no definition of it was
// set.
func (h *Handlers) CustomResourceTypeConverter(group, kind string) managedfields.TypeConverter {
	c := &h.crds
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.types[group+"/"+kind]
}

// set replaces the documents and types of the definition name with docs
// (by group version key), v2 and tc under typeKey (none: removes them),
// and serves each group version it touched anew, and /openapi/v2.
func (c *customResourceDocs) set(h *Handlers, name, typeKey string, docs map[string]*spec3.OpenAPI, v2 *spec.Swagger, tc managedfields.TypeConverter) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byGV == nil {
		c.byGV, c.keys = map[string]map[string]*spec3.OpenAPI{}, map[string][]string{}
		c.types, c.typeKey = map[string]managedfields.TypeConverter{}, map[string]string{}
		c.v2 = map[string]*spec.Swagger{}
	}
	// Decide: /openapi/v2, the registered kinds' document with every
	// definition's.
	nextV2 := maps.Clone(c.v2)
	delete(nextV2, name)
	if v2 != nil {
		nextV2[name] = v2
	}
	var mergedV2 *spec.Swagger
	if h.static != nil && h.v2 != nil {
		var specs []*spec.Swagger
		for _, n := range slices.Sorted(maps.Keys(nextV2)) {
			specs = append(specs, nextV2[n])
		}
		m, err := builder.MergeSpecs(h.static.v2, specs...)
		if err != nil {
			return fmt.Errorf("the OpenAPI v2 document: %w", err)
		}
		mergedV2 = m
	}
	// Decide: the merged document of every group version touched.
	touched := map[string]map[string]*spec3.OpenAPI{}
	for _, key := range append(slices.Clone(c.keys[name]), slices.Collect(maps.Keys(docs))...) {
		next := maps.Clone(c.byGV[key])
		if next == nil {
			next = map[string]*spec3.OpenAPI{}
		}
		delete(next, name)
		if d, ok := docs[key]; ok {
			next[name] = d
		}
		touched[key] = next
	}
	merged := map[string]*spec3.OpenAPI{}
	for key, byName := range touched {
		if len(byName) == 0 {
			continue
		}
		var specs []*spec3.OpenAPI
		for _, n := range slices.Sorted(maps.Keys(byName)) {
			specs = append(specs, byName[n])
		}
		m, err := builder.MergeSpecsV3(specs...)
		if err != nil {
			return fmt.Errorf("the OpenAPI document of %s: %w", key, err)
		}
		merged[key] = m
	}
	// Act.
	if mergedV2 != nil {
		if err := h.v2.UpdateSpec(mergedV2); err != nil {
			return fmt.Errorf("serving the OpenAPI v2 document: %w", err)
		}
	}
	c.v2 = nextV2
	for key, byName := range touched {
		if len(byName) == 0 {
			delete(c.byGV, key)
			if h.v3 != nil {
				h.v3.DeleteGroupVersion(key)
			}
			continue
		}
		c.byGV[key] = byName
		if h.v3 != nil {
			h.v3.UpdateGroupVersion(key, merged[key])
		}
	}
	delete(c.types, c.typeKey[name])
	delete(c.typeKey, name)
	delete(c.keys, name)
	if docs != nil {
		c.keys[name] = slices.Sorted(maps.Keys(docs))
		c.types[typeKey], c.typeKey[name] = tc, typeKey
	}
	return nil
}
