package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	k8serrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// fieldManagers builds and keeps one structured-merge-diff field manager
// per kind and subresource. Safe for concurrent use.
type fieldManagers struct {
	tc     managedfields.TypeConverter
	custom func(k *scheme.Kind) managedfields.TypeConverter
	mu     sync.Mutex
	m      map[string]*managedfields.FieldManager
}

// get returns the field manager of kind k's objects written through sub
// ("" or "status"). Custom resources are typed by their definition's
// schema (fieldManagers.custom), or else by a deduced converter (every
// field a scalar or an atomic-free map); their managers are built afresh,
// as their kinds come and go.
func (f *fieldManagers) get(k *scheme.Kind, sub string) (*managedfields.FieldManager, error) {
	gvk := schema.GroupVersionKind{Group: k.Group, Version: k.Version, Kind: k.Kind}
	if k.Dynamic {
		var tc managedfields.TypeConverter
		if f.custom != nil {
			tc = f.custom(k)
		}
		if tc == nil {
			tc = managedfields.NewDeducedTypeConverter()
		}
		fm, err := managedfields.NewDefaultFieldManager(tc, oneVersion{}, oneVersion{}, oneVersion{}, gvk, gvk.GroupVersion(), sub, nil)
		if err != nil {
			return nil, apierrors.Internal("the field manager of %s: %v", k.Kind, err)
		}
		return fm, nil
	}
	key := k.APIVersion() + "/" + k.Kind + "/" + sub
	f.mu.Lock()
	defer f.mu.Unlock()
	if fm, ok := f.m[key]; ok {
		return fm, nil
	}
	fm, err := managedfields.NewDefaultFieldManager(f.tc, oneVersion{}, oneVersion{}, oneVersion{}, gvk, gvk.GroupVersion(), sub, nil)
	if err != nil {
		return nil, apierrors.Internal("the field manager of %s: %v", k.Kind, err)
	}
	if f.m == nil {
		f.m = map[string]*managedfields.FieldManager{}
	}
	f.m[key] = fm
	return fm, nil
}

// oneVersion is the object converter, defaulter and creater of the field
// managers: Keel serves each kind at one version, its storage version, so
// conversion is the identity; defaults are set by the API after the
// merge; new objects are unstructured.
type oneVersion struct{}

func (oneVersion) Convert(in, out, _ any) error {
	from, ok1 := in.(runtime.Unstructured)
	to, ok2 := out.(runtime.Unstructured)
	if !ok1 || !ok2 {
		return fmt.Errorf("converting %T to %T: only unstructured objects convert", in, out)
	}
	to.SetUnstructuredContent(from.UnstructuredContent())
	return nil
}

func (oneVersion) ConvertToVersion(in runtime.Object, _ runtime.GroupVersioner) (runtime.Object, error) {
	return in, nil
}

func (oneVersion) ConvertFieldLabel(_ schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

func (oneVersion) Default(runtime.Object) {}

func (oneVersion) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// applyOptions reads fieldManager and force and checks them against the
// patch type, as Kubernetes' PatchOptions validation: an apply needs a
// field manager, force is for applies only.
func applyOptions(r *http.Request, apply bool) (manager string, force bool, err error) {
	q := r.URL.Query()
	manager, force = q.Get("fieldManager"), isTrue(q.Get("force"))
	var errs field.ErrorList
	switch {
	case apply && manager == "":
		errs = append(errs, field.Required(field.NewPath("fieldManager"), "is required for apply patch"))
	case !apply && q.Has("force"):
		errs = append(errs, field.Forbidden(field.NewPath("force"), "may not be specified for non-apply patch"))
	}
	if len(errs) > 0 {
		return "", false, apierrors.Invalid("PatchOptions.meta.k8s.io", "", errs)
	}
	return manager, force, nil
}

// toUnstructured is obj as Kubernetes' JSON, unstructured.
func toUnstructured(obj proto.Message) (*unstructured.Unstructured, error) {
	b, err := manifestJSON(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return nil, apierrors.Internal("decoding the stored object: %v", err)
	}
	return u, nil
}

// managerErr maps a field manager's error: a conflict keeps Kubernetes'
// message and causes (409); anything else is the request's fault, a
// body that does not fit the kind's schema (400).
func managerErr(err error) error {
	var se *k8serrors.StatusError
	if errors.As(err, &se) && k8serrors.IsConflict(se) {
		e := &apierrors.Error{Reason: apierrors.ReasonConflict, Message: se.ErrStatus.Message}
		if d := se.ErrStatus.Details; d != nil {
			for _, c := range d.Causes {
				e.Causes = append(e.Causes, apierrors.Cause{Type: string(c.Type), Message: c.Message, Field: c.Field})
			}
		}
		return e
	}
	return apierrors.BadRequest("%v", err)
}

// apply answers a server-side apply (PATCH with
// application/apply-patch+yaml): the body, a partial object in YAML or
// JSON, is merged into the object (created when missing) as the
// structured-merge-diff field manager merges it with the kind's OpenAPI
// schema, and the fields it sets become fieldManager's in
// metadata.managedFields. Fields another manager owns with another value
// are a 409 Conflict unless force=true, which takes them over.
func (h *Handler) apply(w http.ResponseWriter, r *http.Request, q *request, body []byte) error {
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	manager, force, err := applyOptions(r, true)
	if err != nil {
		return err
	}
	fm, err := h.fms.get(q.kind, q.sub)
	if err != nil {
		return err
	}
	js, err := yaml.YAMLToJSON(body)
	if err != nil {
		return apierrors.BadRequest("the apply patch is not valid YAML or JSON: %v", err)
	}
	applied := &unstructured.Unstructured{}
	if err := applied.UnmarshalJSON(js); err != nil {
		return apierrors.BadRequest("the apply patch: %v", err)
	}
	if applied.GetAPIVersion() != q.kind.APIVersion() || applied.GetKind() != q.kind.Kind {
		return apierrors.BadRequest("the apply patch is a %s %s, the URL names a %s %s", applied.GetAPIVersion(), applied.GetKind(), q.kind.APIVersion(), q.kind.Kind)
	}
	for attempt := 0; ; attempt++ {
		live, err := h.getObject(r, q)
		missing := apierrors.IsNotFound(err)
		if err != nil && !missing {
			return err
		}
		var liveU runtime.Object
		if missing {
			if q.sub != "" {
				return err
			}
			liveU, _ = oneVersion{}.New(applied.GroupVersionKind())
		} else if liveU, err = toUnstructured(live); err != nil {
			return err
		}
		merged, err := fm.Apply(liveU, applied.DeepCopy(), manager, force)
		if err != nil {
			return managerErr(err)
		}
		b, err := json.Marshal(merged.(runtime.Unstructured).UnstructuredContent())
		if err != nil {
			return apierrors.Internal("encoding the applied object: %v", err)
		}
		next, err := decode(w, r, b, q.kind)
		if err != nil {
			return err
		}
		if err := matchTarget(q, next); err != nil {
			return err
		}
		var out *anypb.Any
		code := http.StatusOK
		if missing {
			a, err := scheme.Pack(next)
			if err != nil {
				return apierrors.Internal("%v", err)
			}
			out, err = h.cfg.API.Create(r.Context(), &apiv1.CreateRequest{Resource: q.resource(), Namespace: q.namespace, Object: a, DryRun: dry})
			code = http.StatusCreated
		} else {
			out, err = h.put(r, q, next, dry)
		}
		if (apierrors.IsConflict(err) || missing && apierrors.IsAlreadyExists(err)) && attempt < patchRetries {
			continue
		}
		if err != nil {
			return err
		}
		return h.answer(w, r, code, q.kind, out)
	}
}

// trackUpdate records a write (a create, whose live object is empty; a
// PUT or a non-apply PATCH of live, nil: read it) of next as manager's in
// next's managedFields, as Kubernetes records every write that names a
// fieldManager: the fields the write set or changed become manager's
// (operation Update). Without a manager nothing is recorded
// and next keeps the managedFields it has (the API keeps the stored ones
// when it has none).
func (h *Handler) trackUpdate(r *http.Request, q *request, live, next proto.Message) (proto.Message, error) {
	manager, _, err := applyOptions(r, false)
	if err != nil || manager == "" || h.fms.tc == nil {
		return next, err
	}
	fm, err := h.fms.get(q.kind, q.sub)
	if err != nil {
		return nil, err
	}
	if live == nil {
		if live, err = h.getObject(r, q); err != nil {
			return nil, err
		}
	}
	liveU, err := toUnstructured(live)
	if err != nil {
		return nil, err
	}
	nextU, err := toUnstructured(next)
	if err != nil {
		return nil, err
	}
	// As in Kubernetes, a write the field manager cannot type (duplicate
	// keys in a list map, such as two env vars of one name) records
	// nothing rather than being refused.
	tracked := fm.UpdateNoErrors(liveU, nextU, manager)
	b, err := json.Marshal(tracked.(runtime.Unstructured).UnstructuredContent())
	if err != nil {
		return nil, apierrors.Internal("encoding the updated object: %v", err)
	}
	out := q.kind.New()
	if err := manifest.DecodeInto(b, out); err != nil {
		return nil, decodeErr(q.kind, err)
	}
	return out, nil
}
