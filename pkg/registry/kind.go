package registry

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/scheme"
)

// Kind is a kind's strategy with typed hooks: a kind package fills one in
// and pkg/registry/all registers it. T is the kind's message type
// (*corev1.Pod). A nil hook means the kind has nothing to do there
// (no defaults, nothing immutable, no describe beyond the generic one…);
// the registry test lists which hooks every kind must set.
type Kind[T scheme.Object] struct {
	// Group, Version, Kind, Resource, ShortNames and Namespaced name the
	// kind as Kubernetes does; Message is filled in from T.
	Identity scheme.Kind

	// NameIsDNSLabel: metadata.name is a DNS-1123 label (Namespace,
	// Service); otherwise a DNS-1123 subdomain.
	NameIsDNSLabel bool
	// NameIsPathSegment: metadata.name is any name that can be a URL path
	// segment (not "." or "..", no "/" or "%"), as the RBAC kinds' names
	// are ("system:node").
	NameIsPathSegment bool
	// StatusOnCreatePermitted: a create keeps the status it carries.
	StatusOnCreatePermitted bool
	// GenerationTracked: metadata.generation counts spec changes.
	GenerationTracked bool

	DefaultFunc func(obj T)
	// PrepareForCreateFunc sets what the apiserver owns on a create, from
	// the request's context (the caller: auth.UserFrom(ctx)).
	PrepareForCreateFunc func(ctx context.Context, obj T)
	PrepareForUpdateFunc func(obj, old T)
	ValidateFunc         func(obj T) field.ErrorList
	ValidateUpdateFunc   func(obj, old T) field.ErrorList
	ValidateStatusFunc   func(obj, old T) field.ErrorList
	GracePeriodFunc      func(obj T, requested *int64) int64
	PrepareForDeleteFunc func(obj T)
	HoldsDeletionFunc    func(obj T) bool
	// Fields are the field selectors beyond metadata.name/namespace: JSON
	// paths ending at a string or bool ("spec.nodeName").
	Fields []string

	TableColumns []Column
	RowFunc      func(obj T, now time.Time) []string
	RelatedFunc  func(obj T) []Query
	DescribeFunc func(obj T, in DescribeInput) string
	// CategoryNames are the categories of the kind ("all").
	CategoryNames []string
	// ScaleReplicas and SetReplicas are the scale subresource: where the
	// replica count lives (both nil: the kind cannot be scaled).
	ScaleReplicas func(obj T) *int32
	SetReplicas   func(obj T, n int32)
	// ExposeFunc is what `keelctl expose` puts a Service in front of.
	ExposeFunc func(obj T) *Exposure
	Watchers   Watchers
	// Subresources are the update subresources beyond status, by name
	// (a CertificateSigningRequest's "approval").
	Subresources map[string]SubresourceOf[T]
	// TTLFunc is how long objects of the kind are kept after their last
	// write (nil: until deleted).
	TTLFunc func(opts StorageOptions) time.Duration

	info *scheme.Kind
}

var _ Strategy = (*Kind[scheme.Object])(nil)

// Info implements Strategy.
func (k *Kind[T]) Info() *scheme.Kind {
	if k.info == nil {
		id := k.Identity
		var zero T
		id.Message = zero
		k.info = &id
	}
	return k.info
}

// NameValidation implements Strategy.
func (k *Kind[T]) NameValidation() apivalidation.ValidateNameFunc {
	if k.NameIsDNSLabel {
		return apivalidation.NameIsDNSLabel
	}
	if k.NameIsPathSegment {
		return path.ValidatePathSegmentName
	}
	return apivalidation.NameIsDNSSubdomain
}

// HasStatus implements Strategy: the message has a status field.
func (k *Kind[T]) HasStatus() bool {
	return k.Info().Message.ProtoReflect().Descriptor().Fields().ByName("status") != nil
}

// StatusOnCreate implements Strategy.
func (k *Kind[T]) StatusOnCreate() bool { return k.StatusOnCreatePermitted }

// TracksGeneration implements Strategy.
func (k *Kind[T]) TracksGeneration() bool { return k.GenerationTracked }

// Default implements Strategy.
func (k *Kind[T]) Default(obj proto.Message) {
	if k.DefaultFunc != nil {
		k.DefaultFunc(obj.(T))
	}
}

// PrepareForCreate implements Strategy.
func (k *Kind[T]) PrepareForCreate(ctx context.Context, obj proto.Message) {
	if k.PrepareForCreateFunc != nil {
		k.PrepareForCreateFunc(ctx, obj.(T))
	}
}

// PrepareForUpdate implements Strategy.
func (k *Kind[T]) PrepareForUpdate(obj, old proto.Message) {
	if k.PrepareForUpdateFunc != nil {
		k.PrepareForUpdateFunc(obj.(T), old.(T))
	}
}

// Validate implements Strategy.
func (k *Kind[T]) Validate(obj proto.Message) field.ErrorList {
	if k.ValidateFunc == nil {
		return nil
	}
	return k.ValidateFunc(obj.(T))
}

// ValidateUpdate implements Strategy.
func (k *Kind[T]) ValidateUpdate(obj, old proto.Message) field.ErrorList {
	if k.ValidateUpdateFunc == nil {
		return nil
	}
	return k.ValidateUpdateFunc(obj.(T), old.(T))
}

// ValidateStatus implements Strategy.
func (k *Kind[T]) ValidateStatus(obj, old proto.Message) field.ErrorList {
	if k.ValidateStatusFunc == nil {
		return nil
	}
	return k.ValidateStatusFunc(obj.(T), old.(T))
}

// GracePeriod implements Strategy: 0 (delete at once) unless the kind says
// otherwise.
func (k *Kind[T]) GracePeriod(obj proto.Message, requested *int64) int64 {
	if k.GracePeriodFunc == nil {
		return 0
	}
	return k.GracePeriodFunc(obj.(T), requested)
}

// PrepareForDelete implements Strategy.
func (k *Kind[T]) PrepareForDelete(obj proto.Message) {
	if k.PrepareForDeleteFunc != nil {
		k.PrepareForDeleteFunc(obj.(T))
	}
}

// HoldsDeletion implements Strategy.
func (k *Kind[T]) HoldsDeletion(obj proto.Message) bool {
	return k.HoldsDeletionFunc != nil && k.HoldsDeletionFunc(obj.(T))
}

// SelectableFields implements Strategy.
func (k *Kind[T]) SelectableFields() []string { return k.Fields }

// Columns implements Strategy.
func (k *Kind[T]) Columns() []Column { return k.TableColumns }

// Row implements Strategy.
func (k *Kind[T]) Row(obj proto.Message, now time.Time) []string { return k.RowFunc(obj.(T), now) }

// Related implements Strategy.
func (k *Kind[T]) Related(obj proto.Message) []Query {
	if k.RelatedFunc == nil {
		return nil
	}
	return k.RelatedFunc(obj.(T))
}

// Describe implements Strategy.
// A computed kind without DescribeFunc describes nothing.
func (k *Kind[T]) Describe(in DescribeInput) string {
	if k.DescribeFunc == nil {
		return ""
	}
	return k.DescribeFunc(in.Object.(T), in)
}

// Categories implements Strategy.
func (k *Kind[T]) Categories() []string { return k.CategoryNames }

// Scale implements Strategy.
func (k *Kind[T]) Scale() *Scale {
	if k.ScaleReplicas == nil {
		return nil
	}
	return &Scale{
		Replicas:    func(obj proto.Message) *int32 { return k.ScaleReplicas(obj.(T)) },
		SetReplicas: func(obj proto.Message, n int32) { k.SetReplicas(obj.(T), n) },
	}
}

// SubresourceOf is a typed update subresource (see Subresource).
type SubresourceOf[T scheme.Object] struct {
	// Prepare returns what is stored: stored (a copy the hook may change)
	// with what the subresource may change taken from in.
	Prepare func(stored, in T) T
	// Validate checks the result against the stored object, beyond
	// ValidateUpdate's metadata checks; nil accepts.
	Validate func(obj, old T) field.ErrorList
}

// Subresource implements Strategy.
func (k *Kind[T]) Subresource(name string) *Subresource {
	sub, ok := k.Subresources[name]
	if !ok || sub.Prepare == nil {
		return nil
	}
	return &Subresource{
		Prepare: func(stored, in proto.Message) proto.Message { return sub.Prepare(stored.(T), in.(T)) },
		Validate: func(obj, old proto.Message) field.ErrorList {
			if sub.Validate == nil {
				return nil
			}
			return sub.Validate(obj.(T), old.(T))
		},
	}
}

// TTL implements Strategy.
func (k *Kind[T]) TTL(opts StorageOptions) time.Duration {
	if k.TTLFunc == nil {
		return 0
	}
	return k.TTLFunc(opts)
}

// missingHooks lists the hooks every kind must set that k lacks (see Check).
func (k *Kind[T]) missingHooks() []string {
	var out []string
	if k.ValidateFunc == nil {
		out = append(out, "ValidateFunc")
	}
	if k.Identity.CreateOnly {
		// Never stored, listed or described: only validated.
		return out
	}
	if len(k.TableColumns) == 0 || k.RowFunc == nil {
		out = append(out, "TableColumns and RowFunc")
	}
	if k.DescribeFunc == nil && !k.Identity.Computed {
		out = append(out, "DescribeFunc")
	}
	if k.HasStatus() && k.ValidateStatusFunc == nil {
		out = append(out, "ValidateStatusFunc (the kind has a status)")
	}
	if (k.ScaleReplicas == nil) != (k.SetReplicas == nil) {
		out = append(out, "ScaleReplicas and SetReplicas together")
	}
	return out
}

// Expose implements Strategy.
func (k *Kind[T]) Expose(obj proto.Message) *Exposure {
	if k.ExposeFunc == nil {
		return nil
	}
	return k.ExposeFunc(obj.(T))
}

// Watched implements Strategy.
func (k *Kind[T]) Watched() Watchers { return k.Watchers }
