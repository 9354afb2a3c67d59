// Package customresource is the strategy of custom resources: the kinds
// CustomResourceDefinitions add. Each served version of a definition is a
// dynamic kind (scheme.Kind.Dynamic) whose objects are
// keel.apiextensions.v1.CustomResource messages; its strategy, built from
// the definition by Strategies, does what Kubernetes' apiextensions-apiserver
// does, with its libraries: pruning of unknown fields and defaulting from
// the structural schema, OpenAPI v3 schema validation (every failing field
// path), x-kubernetes-validations CEL rules, the status and scale
// subresources, and additionalPrinterColumns as table columns.
package customresource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8sapiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	structuralobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/client-go/util/jsonpath"

	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/registry/apiextensions/customresourcedefinition"
	"keel.dev/keel/pkg/scheme"
)

// Strategies returns the strategies of crd's kinds: one per served
// version, and the storage version's (first) even if it is not served.
// Every kind's Storage is the storage version's kind. Each version's
// objects are pruned, defaulted and validated with that version's own
// schema: whichever of the versions' strategies is called with an object,
// the object's apiVersion picks the schema (see Normalize, Validate).
func Strategies(crd *apiextv1.CustomResourceDefinition) ([]registry.Strategy, error) {
	in, err := customresourcedefinition.Internal(crd)
	if err != nil {
		return nil, err
	}
	storage := customresourcedefinition.StorageVersion(crd)
	if storage == "" {
		return nil, fmt.Errorf("%s has no storage version", crd.GetMetadata().GetName())
	}
	var out []registry.Strategy
	var storageKind *scheme.Kind
	for _, v := range in.Spec.Versions {
		if !v.Served && v.Name != storage {
			continue
		}
		s, err := newStrategy(in, v)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", v.Name, err)
		}
		if v.Name == storage {
			storageKind = s.kind
			out = append([]registry.Strategy{s}, out...)
		} else {
			out = append(out, s)
		}
	}
	versions := map[string]*Strategy{}
	for _, s := range out {
		versions[s.Info().APIVersion()] = s.(*Strategy)
	}
	indexed := indexedFields(versions)
	for _, s := range out[1:] {
		s.(*Strategy).kind.Storage = storageKind
	}
	for _, s := range out {
		s.Info().Behaviour = s
		s.(*Strategy).versions = versions
		s.(*Strategy).indexed = indexed
	}
	return out, nil
}

// Strategy is the strategy of one version of a custom resource kind. It is
// immutable once built: safe for concurrent use.
type Strategy struct {
	kind       *scheme.Kind
	served     bool
	structural *structuralschema.Structural // nil: no schema
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator // nil: no rules
	status     bool
	scale      *k8sapiext.CustomResourceSubresourceScale
	columns    []column
	categories []string
	// versions are the strategies of the definition's versions, by
	// apiVersion (this one included); shared, read-only.
	versions map[string]*Strategy
	// selectable are the version's selectableFields.
	selectable []selectableField
	// indexed are the selectableFields of every version, each label once
	// (the first version's path, versions in order); shared, read-only.
	indexed []selectableField
}

// indexedFields is the union of the versions' selectableFields, each
// label once, the versions taken in the order of their apiVersions.
func indexedFields(versions map[string]*Strategy) []selectableField {
	var out []selectableField
	seen := map[string]bool{}
	for _, v := range slices.Sorted(maps.Keys(versions)) {
		for _, f := range versions[v].selectable {
			if !seen[f.label] {
				seen[f.label] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// selectableField is one of a version's selectableFields: its field
// selector label ("spec.color") and its JSONPath.
type selectableField struct {
	label string
	path  *jsonpath.JSONPath
}

// at returns the strategy of cr's own version (cr's apiVersion), which
// may be another version of the definition than s's: each version's
// objects are fitted to and checked by its own schema. s when cr's
// version is none of the definition's.
func (s *Strategy) at(cr *apiextv1.CustomResource) *Strategy {
	if o, ok := s.versions[cr.GetApiVersion()]; ok {
		return o
	}
	return s
}

// column is one of additionalPrinterColumns.
type column struct {
	def  registry.Column
	typ  string
	path *jsonpath.JSONPath
}

var _ registry.Strategy = (*Strategy)(nil)

func newStrategy(crd *k8sapiext.CustomResourceDefinition, v k8sapiext.CustomResourceDefinitionVersion) (*Strategy, error) {
	sp := crd.Spec
	s := &Strategy{
		kind: &scheme.Kind{Group: sp.Group, Version: v.Name, Kind: sp.Names.Kind, Resource: sp.Names.Plural,
			ShortNames: sp.Names.ShortNames, Namespaced: sp.Scope == k8sapiext.NamespaceScoped,
			Message: &apiextv1.CustomResource{}, Dynamic: true},
		served:     v.Served,
		categories: sp.Names.Categories,
	}
	// The internal form keeps what every version shares once, on the
	// spec: these helpers find a version's own or the shared one.
	subresources, err := k8sapiext.GetSubresourcesForVersion(crd, v.Name)
	if err != nil {
		return nil, err
	}
	if subresources != nil {
		s.status = subresources.Status != nil
		s.scale = subresources.Scale
	}
	schema, err := k8sapiext.GetSchemaForVersion(crd, v.Name)
	if err != nil {
		return nil, err
	}
	if schema != nil && schema.OpenAPIV3Schema != nil {
		st, err := structuralschema.NewStructural(schema.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("the schema is not structural: %w", err)
		}
		s.structural = st
		val, _, err := apiservervalidation.NewSchemaValidator(schema.OpenAPIV3Schema)
		if err != nil {
			return nil, err
		}
		s.validator = val
		s.cel = cel.NewValidator(st, true, celconfig.PerCallLimit)
	}
	// As the internal form keeps them: on the spec when every version
	// shares them, else on each version.
	sel := v.SelectableFields
	if crd.Spec.SelectableFields != nil {
		sel = crd.Spec.SelectableFields
	}
	for _, f := range sel {
		jp := jsonpath.New("selectableField")
		jp.AllowMissingKeys(true)
		if err := jp.Parse("{" + f.JSONPath + "}"); err != nil {
			return nil, fmt.Errorf("selectable field %s: %w", f.JSONPath, err)
		}
		s.selectable = append(s.selectable, selectableField{label: strings.TrimPrefix(f.JSONPath, "."), path: jp})
	}
	columns, err := k8sapiext.GetColumnsForVersion(crd, v.Name)
	if err != nil {
		return nil, err
	}
	for _, c := range columns {
		jp := jsonpath.New(c.Name)
		jp.AllowMissingKeys(true)
		if err := jp.Parse("{" + c.JSONPath + "}"); err != nil {
			return nil, fmt.Errorf("column %s: %w", c.Name, err)
		}
		s.columns = append(s.columns, column{def: registry.Column{Name: strings.ToUpper(c.Name), Wide: c.Priority > 0}, typ: c.Type, path: jp})
	}
	return s, nil
}

// Info implements registry.Strategy.
func (s *Strategy) Info() *scheme.Kind { return s.kind }

// Schema is the version's structural schema (what keelctl explain
// shows), nil if it has none. It must not be modified.
func (s *Strategy) Schema() *structuralschema.Structural { return s.structural }

// Served reports whether the version is served (the storage version may
// not be).
func (s *Strategy) Served() bool { return s.served }

// NameValidation implements registry.Strategy: names are DNS subdomains.
func (s *Strategy) NameValidation() apivalidation.ValidateNameFunc {
	return apivalidation.NameIsDNSSubdomain
}

// HasStatus implements registry.Strategy: the version has the status
// subresource.
func (s *Strategy) HasStatus() bool { return s.status }

// StatusOnCreate implements registry.Strategy.
func (s *Strategy) StatusOnCreate() bool { return false }

// TracksGeneration implements registry.Strategy: custom resources count
// their spec changes.
func (s *Strategy) TracksGeneration() bool { return true }

// Normalize fits a decoded object to its version's schema, in place, as
// Kubernetes does when it decodes a custom resource: unknown fields are
// pruned (unless x-kubernetes-preserve-unknown-fields keeps them), then
// defaults are set. The apiserver calls it on every object a write
// carries, at the version the write names.
func (s *Strategy) Normalize(obj proto.Message) {
	cr := obj.(*apiextv1.CustomResource)
	s = s.at(cr)
	if s.structural == nil {
		return
	}
	u, err := content(cr)
	if err != nil {
		return // validation reports it
	}
	structuralpruning.Prune(u, s.structural, true)
	// Embedded resources' metadata loses its unknown fields too; a
	// malformed one is left to validation.
	structuralobjectmeta.Coerce(nil, u, s.structural, false, false)
	structuraldefaulting.Default(u, s.structural)
	setContent(cr, u)
}

// Prune drops the fields of obj that its schema does not know, as
// Kubernetes does when it decodes a custom resource (so that what a write
// carries is typed by the schema from then on: field managers, admission),
// and lists their paths, sorted ("spec.unknownField"): fieldValidation
// Strict refuses them, Warn reports them. Nothing without a schema.
func (s *Strategy) Prune(obj proto.Message) []string {
	cr := obj.(*apiextv1.CustomResource)
	s = s.at(cr)
	if s.structural == nil {
		return nil
	}
	u, err := content(cr)
	if err != nil {
		return nil // validation reports it
	}
	paths := structuralpruning.PruneWithOptions(u, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	if _, meta := structuralobjectmeta.CoerceWithOptions(nil, u, s.structural, false, structuralobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true}); len(meta) > 0 {
		paths = append(paths, meta...)
		slices.Sort(paths)
	}
	if len(paths) > 0 {
		setContent(cr, u)
	}
	return paths
}

// Default implements registry.Strategy (see Normalize).
func (s *Strategy) Default(obj proto.Message) { s.Normalize(obj) }

// PrepareForCreate implements registry.Strategy.
func (s *Strategy) PrepareForCreate(context.Context, proto.Message) {}

// PrepareForUpdate implements registry.Strategy: as in Kubernetes, a
// change to a top-level field other than metadata, spec and status (which
// the apiserver compares itself) counts as a spec change:
// metadata.generation goes up.
func (s *Strategy) PrepareForUpdate(obj, old proto.Message) {
	cr, o := obj.(*apiextv1.CustomResource), old.(*apiextv1.CustomResource)
	sameInline := maps.EqualFunc(cr.GetInline(), o.GetInline(), func(a, b *metav1.RawExtension) bool { return proto.Equal(a, b) })
	if !proto.Equal(cr.GetSpec(), o.GetSpec()) || sameInline || cr.GetMetadata() == nil {
		return
	}
	cr.Metadata.Generation++
}

// Validate implements registry.Strategy: the object's type, the schema
// and the validation rules of its version, every failing field reported.
func (s *Strategy) Validate(obj proto.Message) field.ErrorList {
	return s.validate(obj.(*apiextv1.CustomResource), nil)
}

// ValidateUpdate implements registry.Strategy: Validate, with the rules'
// transition checks against old.
func (s *Strategy) ValidateUpdate(obj, old proto.Message) field.ErrorList {
	return s.validate(obj.(*apiextv1.CustomResource), old.(*apiextv1.CustomResource))
}

// ValidateStatus implements registry.Strategy.
func (s *Strategy) ValidateStatus(obj, old proto.Message) field.ErrorList {
	return s.validate(obj.(*apiextv1.CustomResource), old.(*apiextv1.CustomResource))
}

func (s *Strategy) validate(cr, old *apiextv1.CustomResource) field.ErrorList {
	s = s.at(cr)
	var errs field.ErrorList
	if cr.GetKind() != s.kind.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), cr.GetKind(), "must be "+s.kind.Kind))
	}
	if cr.GetApiVersion() != s.kind.APIVersion() {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), cr.GetApiVersion(), "must be "+s.kind.APIVersion()))
	}
	u, err := content(cr)
	if err != nil {
		return append(errs, field.Invalid(field.NewPath("spec"), "", err.Error()))
	}
	if s.validator != nil {
		errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u, s.validator)...)
	}
	errs = append(errs, s.validateScale(u)...)
	var oldU map[string]any
	if old != nil {
		if oldU, err = content(old); err != nil {
			oldU = nil
		}
	}
	if s.structural != nil {
		// Embedded resources' apiVersion, kind and metadata
		// (x-kubernetes-embedded-resource).
		errs = append(errs, structuralobjectmeta.Validate(context.Background(), nil, u, s.structural, false)...)
		// x-kubernetes-list-type set and map: unique items, unique keys.
		// An update is checked only if the old object passed (as
		// Kubernetes ratchets it).
		if oldU == nil || len(structurallisttype.ValidateListSetsAndMaps(nil, s.structural, oldU)) == 0 {
			errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, s.structural, u)...)
		}
	}
	if s.cel != nil && !blocking(errs) {
		celErrs, _ := s.cel.Validate(context.Background(), nil, s.structural, u, oldU, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return errs
}

// blocking: errors after which the CEL rules are not evaluated (their
// inputs would not have the types the rules were checked against), as in
// Kubernetes.
func blocking(errs field.ErrorList) bool {
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true
		}
	}
	return false
}

// validateScale checks the replica counts the scale subresource reads.
func (s *Strategy) validateScale(u map[string]any) field.ErrorList {
	if s.scale == nil {
		return nil
	}
	var errs field.ErrorList
	for _, p := range []string{s.scale.SpecReplicasPath, s.scale.StatusReplicasPath} {
		v, ok := lookup(u, p)
		if !ok || v == nil {
			continue
		}
		n, isInt := v.(int64)
		switch {
		case !isInt:
			errs = append(errs, field.Invalid(field.NewPath(p), v, "should be an integer"))
		case n < 0:
			errs = append(errs, field.Invalid(field.NewPath(p), n, "should be a non-negative integer"))
		case n > math.MaxInt32:
			errs = append(errs, field.Invalid(field.NewPath(p), n, fmt.Sprintf("should be less than or equal to %v", math.MaxInt32)))
		}
	}
	return errs
}

// GracePeriod implements registry.Strategy: custom resources go at once.
func (s *Strategy) GracePeriod(proto.Message, *int64) int64 { return 0 }

// PrepareForDelete implements registry.Strategy.
func (s *Strategy) PrepareForDelete(proto.Message) {}

// HoldsDeletion implements registry.Strategy.
func (s *Strategy) HoldsDeletion(proto.Message) bool { return false }

// SelectableFields implements registry.Strategy: the version's
// selectableFields, by label ("spec.color").
func (s *Strategy) SelectableFields() []string {
	var out []string
	for _, f := range s.selectable {
		out = append(out, f.label)
	}
	return out
}

// IndexedFields are the labels FieldSet sets: the selectableFields of
// every version of the definition, sorted, each once. With conversion
// None a path finds the same value whatever the version an object is
// read at.
func (s *Strategy) IndexedFields() []string {
	out := make([]string, len(s.indexed))
	for i, f := range s.indexed {
		out[i] = f.label
	}
	slices.Sort(out)
	return out
}

// FieldSet is what field selectors see of obj beyond its metadata: the
// value at each of IndexedFields' paths, printed as Kubernetes prints it
// ("" when absent). It reads obj as it is (every version's paths).
func (s *Strategy) FieldSet(obj proto.Message) fields.Set {
	out := fields.Set{}
	if len(s.indexed) == 0 {
		return out
	}
	u, err := content(obj.(*apiextv1.CustomResource))
	for _, f := range s.indexed {
		out[f.label] = ""
		if err != nil {
			continue
		}
		results, err := f.path.FindResults(u)
		if err != nil || len(results) != 1 || len(results[0]) != 1 {
			continue
		}
		if v := results[0][0].Interface(); v != nil {
			out[f.label] = fmt.Sprint(v)
		}
	}
	return out
}

// Columns implements registry.Strategy: NAME, then the
// additionalPrinterColumns (priority > 0 ones wide), or NAME and AGE when
// the version declares none.
func (s *Strategy) Columns() []registry.Column {
	if len(s.columns) == 0 {
		return []registry.Column{{Name: "NAME"}, {Name: "AGE"}}
	}
	out := []registry.Column{{Name: "NAME"}}
	for _, c := range s.columns {
		out = append(out, c.def)
	}
	return out
}

// Row implements registry.Strategy: each column's JSONPath evaluated on
// the object; "<none>" where it finds nothing; dates as ages.
func (s *Strategy) Row(obj proto.Message, now time.Time) []string {
	cr := obj.(*apiextv1.CustomResource)
	m := cr.GetMetadata()
	if len(s.columns) == 0 {
		return []string{m.GetName(), printers.Age(m.GetCreationTimestamp(), now)}
	}
	u, err := whole(cr)
	row := []string{m.GetName()}
	for _, c := range s.columns {
		row = append(row, cell(c, u, err, now))
	}
	return row
}

func cell(c column, u map[string]any, err error, now time.Time) string {
	if err != nil {
		return "<error>"
	}
	results, err := c.path.FindResults(u)
	if err != nil || len(results) == 0 || len(results[0]) == 0 {
		return "<none>"
	}
	var parts []string
	for _, r := range results[0] {
		v := r.Interface()
		switch x := v.(type) {
		case string:
			if c.typ == "date" {
				if t, err := time.Parse(time.RFC3339, x); err == nil {
					parts = append(parts, printers.Age(timestamp(t), now))
					continue
				}
			}
			parts = append(parts, x)
		case nil:
			parts = append(parts, "<none>")
		case map[string]any, []any:
			b, _ := json.Marshal(x)
			parts = append(parts, string(b))
		default:
			parts = append(parts, fmt.Sprint(x))
		}
	}
	return strings.Join(parts, ",")
}

// Related implements registry.Strategy.
func (s *Strategy) Related(proto.Message) []registry.Query { return nil }

// Describe implements registry.Strategy: the generic description.
func (s *Strategy) Describe(in registry.DescribeInput) string { return printers.DescribeGeneric(in) }

// Categories implements registry.Strategy.
func (s *Strategy) Categories() []string { return s.categories }

// Scale implements registry.Strategy: the scale subresource, where the
// version has one (specReplicasPath read and written).
func (s *Strategy) Scale() *registry.Scale {
	if s.scale == nil {
		return nil
	}
	path := strings.TrimPrefix(s.scale.SpecReplicasPath, ".")
	return &registry.Scale{
		Replicas: func(obj proto.Message) *int32 {
			u, err := content(obj.(*apiextv1.CustomResource))
			if err != nil {
				return nil
			}
			v, ok := lookup(u, path)
			n, isInt := v.(int64)
			if !ok || !isInt {
				return nil
			}
			r := int32(n)
			return &r
		},
		SetReplicas: func(obj proto.Message, n int32) {
			cr := obj.(*apiextv1.CustomResource)
			u, err := content(cr)
			if err != nil {
				return
			}
			set(u, path, int64(n))
			setContent(cr, u)
		},
		Status: func(obj proto.Message) (int32, string) {
			u, err := content(obj.(*apiextv1.CustomResource))
			if err != nil {
				return 0, ""
			}
			var replicas int32
			if v, ok := lookup(u, s.scale.StatusReplicasPath); ok {
				if n, isInt := v.(int64); isInt {
					replicas = int32(n)
				}
			}
			var selector string
			if p := s.scale.LabelSelectorPath; p != nil {
				if v, ok := lookup(u, *p); ok {
					selector, _ = v.(string)
				}
			}
			return replicas, selector
		},
	}
}

// Expose implements registry.Strategy: custom resources are not exposed.
func (s *Strategy) Expose(proto.Message) *registry.Exposure { return nil }

// Watched implements registry.Strategy.
func (s *Strategy) Watched() registry.Watchers { return registry.Watchers{} }

// Subresource implements registry.Strategy: none beyond status and scale.
func (s *Strategy) Subresource(string) *registry.Subresource { return nil }

// TTL implements registry.Strategy: kept until deleted.
func (s *Strategy) TTL(registry.StorageOptions) time.Duration { return 0 }

// content is the object as the schema sees it: apiVersion, kind,
// metadata (name, namespace… as in its manifest), spec, status and the
// other top-level fields, with JSON numbers as int64 or float64.
func content(cr *apiextv1.CustomResource) (map[string]any, error) {
	u := map[string]any{}
	fields := map[string]*metav1.RawExtension{}
	for key, raw := range cr.GetInline() {
		if !reserved[key] {
			fields[key] = raw
		}
	}
	fields["spec"], fields["status"] = cr.GetSpec(), cr.GetStatus()
	u["apiVersion"], u["kind"] = cr.GetApiVersion(), cr.GetKind()
	for key, raw := range fields {
		if len(raw.GetRaw()) == 0 {
			continue
		}
		var v any
		if err := utiljson.Unmarshal(raw.GetRaw(), &v); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		u[key] = v
	}
	if m := cr.GetMetadata(); m != nil {
		mm, err := manifest.ToMap(m)
		if err != nil {
			return nil, err
		}
		var v any
		b, err := json.Marshal(mm)
		if err != nil {
			return nil, err
		}
		if err := utiljson.Unmarshal(b, &v); err != nil {
			return nil, err
		}
		u["metadata"] = v
	}
	return u, nil
}

// whole is content for printing (the same).
func whole(cr *apiextv1.CustomResource) (map[string]any, error) { return content(cr) }

// reserved are the top-level fields a CustomResource has fields of its
// own for: never in its inline map.
var reserved = map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "spec": true, "status": true}

// setContent writes spec, status and the other top-level fields of u
// back into cr (metadata, apiVersion and kind are cr's own).
func setContent(cr *apiextv1.CustomResource, u map[string]any) {
	cr.Spec = rawOf(u["spec"])
	cr.Status = rawOf(u["status"])
	cr.Inline = nil
	for key, v := range u {
		if reserved[key] {
			continue
		}
		if raw := rawOf(v); raw != nil {
			if cr.Inline == nil {
				cr.Inline = map[string]*metav1.RawExtension{}
			}
			cr.Inline[key] = raw
		}
	}
}

func rawOf(v any) *metav1.RawExtension {
	if v == nil {
		return nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return &metav1.RawExtension{Raw: bytes.TrimSuffix(buf.Bytes(), []byte("\n"))}
}

// lookup finds a dotted path (".spec.replicas") in u.
func lookup(u map[string]any, path string) (any, bool) {
	var cur any = u
	for _, p := range strings.Split(strings.TrimPrefix(path, "."), ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// set sets a dotted path in u, creating the objects on the way.
func set(u map[string]any, path string, v any) {
	parts := strings.Split(strings.TrimPrefix(path, "."), ".")
	cur := u
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
}

func timestamp(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }
