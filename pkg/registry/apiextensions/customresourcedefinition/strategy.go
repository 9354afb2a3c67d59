// Package customresourcedefinition is the strategy of the
// CustomResourceDefinition kind (apiextensions.k8s.io/v1). Definitions are
// validated by k8s.io/apiextensions-apiserver's own validation (structural
// schemas, names, versions, printer columns, CEL rules), so errors carry
// Kubernetes' field paths and wording. The apiserver accepts a
// definition's names at once: NamesAccepted and Established are set when
// it is stored, and the apiserver serves its kind as soon as it sees it
// (see package customresource).
package customresourcedefinition

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	k8sapiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	k8sapiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// CleanupFinalizer holds a deleted definition until every object of its
// kind is gone: the apiserver deletes them one by one, each waiting for
// its own finalizers, then removes it. A definition gets it when created.
const CleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io"

// Strategy is the CustomResourceDefinition kind's strategy.
var Strategy = &registry.Kind[*apiextv1.CustomResourceDefinition]{
	Identity: scheme.Kind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition",
		Resource: "customresourcedefinitions", ShortNames: []string{"crd", "crds"}},
	GenerationTracked: true,
	DefaultFunc:       Default,
	PrepareForCreateFunc: func(_ context.Context, crd *apiextv1.CustomResourceDefinition) {
		accept(crd, nil)
		if !slices.Contains(crd.GetMetadata().GetFinalizers(), CleanupFinalizer) {
			crd.Metadata.Finalizers = append(crd.Metadata.Finalizers, CleanupFinalizer)
		}
	},
	PrepareForUpdateFunc: accept,
	ValidateFunc:         Validate,
	ValidateUpdateFunc:   ValidateUpdate,
	ValidateStatusFunc:   ValidateStatus,
	TableColumns:         []registry.Column{{Name: "NAME"}, {Name: "CREATED AT"}},
	RowFunc: func(crd *apiextv1.CustomResourceDefinition, _ time.Time) []string {
		return []string{crd.GetMetadata().GetName(), crd.GetMetadata().GetCreationTimestamp().AsTime().UTC().Format(time.RFC3339)}
	},
	DescribeFunc: func(_ *apiextv1.CustomResourceDefinition, in registry.DescribeInput) string {
		return printers.DescribeGeneric(in)
	},
	Watchers: registry.Watchers{ReadByAPIServer: true},
}

// Default sets Kubernetes' defaults of apiextensions.k8s.io/v1: the
// singular name and list kind from the kind, conversion strategy None, a
// webhook service's port 443.
func Default(crd *apiextv1.CustomResourceDefinition) {
	if crd.Spec == nil {
		crd.Spec = &apiextv1.CustomResourceDefinitionSpec{}
	}
	sp := crd.Spec
	if sp.Names == nil {
		sp.Names = &apiextv1.CustomResourceDefinitionNames{}
	}
	if sp.Names.Singular == "" {
		sp.Names.Singular = strings.ToLower(sp.Names.Kind)
	}
	if sp.Names.ListKind == "" && sp.Names.Kind != "" {
		sp.Names.ListKind = sp.Names.Kind + "List"
	}
	if sp.Conversion == nil {
		sp.Conversion = &apiextv1.CustomResourceConversion{}
	}
	if sp.Conversion.Strategy == "" {
		sp.Conversion.Strategy = string(k8sapiextv1.NoneConverter)
	}
	if svc := sp.Conversion.GetWebhook().GetClientConfig().GetService(); svc != nil && svc.Port == nil {
		p := int32(443)
		svc.Port = &p
	}
}

// StorageVersion is the name of the version objects are stored at ("" if
// none is marked storage).
func StorageVersion(crd *apiextv1.CustomResourceDefinition) string {
	for _, v := range crd.GetSpec().GetVersions() {
		if v.GetStorage() {
			return v.GetName()
		}
	}
	return ""
}

// accept sets what the apiserver says of a stored definition: its names
// are accepted as given (the conditions NamesAccepted and Established
// True), and its storage version is among the stored versions. old is
// nil on create; on update status is old's already (the main resource
// does not change status).
func accept(crd, old *apiextv1.CustomResourceDefinition) {
	if crd.Status == nil {
		crd.Status = &apiextv1.CustomResourceDefinitionStatus{}
	}
	st := crd.Status
	st.AcceptedNames = proto.Clone(crd.GetSpec().GetNames()).(*apiextv1.CustomResourceDefinitionNames)
	if sv := StorageVersion(crd); sv != "" && !contains(st.StoredVersions, sv) {
		st.StoredVersions = append(st.StoredVersions, sv)
	}
	now := timestamppb.New(time.Now().UTC().Truncate(time.Second))
	setCondition(st, "NamesAccepted", "NoConflicts", "no conflicts found", now)
	setCondition(st, "Established", "InitialNamesAccepted", "the initial names have been accepted", now)
}

// SetTerminating sets the condition Terminating True on crd, whose
// objects are being deleted, and reports whether it changed anything.
func SetTerminating(crd *apiextv1.CustomResourceDefinition, now time.Time) bool {
	for _, c := range crd.GetStatus().GetConditions() {
		if c.GetType() == "Terminating" && c.GetStatus() == "True" {
			return false
		}
	}
	if crd.Status == nil {
		crd.Status = &apiextv1.CustomResourceDefinitionStatus{}
	}
	setCondition(crd.Status, "Terminating", "InstanceDeletionInProgress", "CustomResource deletion is in progress", timestamppb.New(now.UTC().Truncate(time.Second)))
	return true
}

func setCondition(st *apiextv1.CustomResourceDefinitionStatus, typ, reason, msg string, now *timestamppb.Timestamp) {
	for _, c := range st.Conditions {
		if c.Type == typ {
			if c.Status != "True" {
				c.Status, c.Reason, c.Message, c.LastTransitionTime = "True", reason, msg, now
			}
			return
		}
	}
	st.Conditions = append(st.Conditions, &apiextv1.CustomResourceDefinitionCondition{
		Type: typ, Status: "True", Reason: reason, Message: msg, LastTransitionTime: now})
}

// Established reports whether crd's Established condition is True.
func Established(crd *apiextv1.CustomResourceDefinition) bool {
	for _, c := range crd.GetStatus().GetConditions() {
		if c.GetType() == "Established" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// ToV1 converts crd to k8s.io/apiextensions-apiserver's v1 type, through
// its JSON (the two share every field).
func ToV1(crd *apiextv1.CustomResourceDefinition) (*k8sapiextv1.CustomResourceDefinition, error) {
	m, err := manifest.ToMap(crd)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	out := &k8sapiextv1.CustomResourceDefinition{}
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("converting the CustomResourceDefinition: %w", err)
	}
	return out, nil
}

// Internal converts crd to k8s.io/apiextensions-apiserver's internal type,
// what its validation and schema packages work on.
func Internal(crd *apiextv1.CustomResourceDefinition) (*k8sapiext.CustomResourceDefinition, error) {
	v1, err := ToV1(crd)
	if err != nil {
		return nil, err
	}
	out := &k8sapiext.CustomResourceDefinition{}
	if err := k8sapiextv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(v1, out, nil); err != nil {
		return nil, fmt.Errorf("converting the CustomResourceDefinition: %w", err)
	}
	return out, nil
}

// Validate checks a definition as Kubernetes does.
func Validate(crd *apiextv1.CustomResourceDefinition) field.ErrorList {
	in, err := Internal(crd)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("spec"), "", err.Error())}
	}
	return withoutMetadata(crdvalidation.ValidateCustomResourceDefinition(context.Background(), in))
}

// ValidateUpdate checks an update of a definition as Kubernetes does
// (immutable scope and group, stored versions kept…).
func ValidateUpdate(crd, old *apiextv1.CustomResourceDefinition) field.ErrorList {
	in, err := Internal(crd)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("spec"), "", err.Error())}
	}
	oldIn, err := Internal(old)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("spec"), "", err.Error())}
	}
	return withoutMetadata(crdvalidation.ValidateCustomResourceDefinitionUpdate(context.Background(), in, oldIn))
}

// ValidateStatus checks a status update.
func ValidateStatus(crd, old *apiextv1.CustomResourceDefinition) field.ErrorList {
	in, err := Internal(crd)
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("status"), "", err.Error())}
	}
	return withoutMetadata(crdvalidation.ValidateCustomResourceDefinitionStatus(&in.Status, field.NewPath("status")))
}

// withoutMetadata drops the library's checks of metadata that the
// registry makes for every kind already (so none is reported twice),
// keeping the definition's own rule for its name.
func withoutMetadata(errs field.ErrorList) field.ErrorList {
	var out field.ErrorList
	for _, e := range errs {
		if strings.HasPrefix(e.Field, "metadata") && !(e.Field == "metadata.name" && strings.Contains(e.Detail, "spec.names.plural+\".\"+spec.group")) {
			continue
		}
		out = append(out, e)
	}
	return out
}
