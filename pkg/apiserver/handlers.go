package apiserver

import (
	"context"
	"errors"
	"fmt"
	"keel.dev/keel/pkg/apiserver/admission"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/storage"
)

// conflictRetries bounds the server-side retries of operations that re-read
// and re-apply on a conflict the caller did not cause (delete, bind,
// allocation races).
const conflictRetries = 16

func (s *Server) now() *timestamppb.Timestamp {
	return timestamppb.New(s.cfg.Now().UTC().Truncate(time.Second))
}

// pack encodes obj as an answer of r's kind: a custom resource at the
// storage version, as stored (its Any type URL names that version).
func (r *resource) pack(obj proto.Message) (*anypb.Any, error) {
	b, err := proto.Marshal(r.toStorage(obj))
	if err != nil {
		return nil, err
	}
	return &anypb.Any{TypeUrl: r.kind.TypeURL(), Value: b}, nil
}

// normalizer is a strategy that fits every object a write carries to its
// kind's schema before anything else (a custom resource's: pruning and
// defaulting).
type normalizer interface{ Normalize(obj proto.Message) }

// unpack decodes a request's object, which must be of the resource's kind
// (for a custom resource, of any of its versions: the object stays at
// that version, with which it is defaulted and validated, until commit
// stores it at the storage version).
func (r *resource) unpack(a *anypb.Any) (proto.Message, error) {
	if a == nil {
		return nil, apierrors.BadRequest("request has no object")
	}
	obj, k, err := scheme.UnpackKnown(a)
	if err != nil {
		return nil, apierrors.BadRequest("%v", err)
	}
	if !r.versionOf(k) {
		return nil, apierrors.BadRequest("object of kind %s sent to resource %q (kind %s)", k.Kind, r.kind.Resource, r.kind.Kind)
	}
	if n, ok := r.strategy.(normalizer); ok {
		n.Normalize(obj)
	}
	return obj, nil
}

// versionOf reports whether k is r's kind, or (for a custom resource)
// another version of it.
func (r *resource) versionOf(k *scheme.Kind) bool {
	return k == r.kind || k.Dynamic && r.kind.Dynamic && k.Group == r.kind.Group && k.Resource == r.kind.Resource
}

// atVersionOf returns stored, an object of r read from storage, at the
// version of obj, an object a request carries: stored itself when they
// share it, else a copy with obj's apiVersion (conversion None: only
// apiVersion changes), so that a write compares, validates and answers at
// the request's version.
func (r *resource) atVersionOf(stored, obj proto.Message) proto.Message {
	if !r.kind.Dynamic {
		return stored
	}
	k, ok := scheme.ByMessage(obj)
	if !ok || k.SameAs(r.kind) {
		return stored
	}
	out := proto.Clone(stored)
	k.Stamp(out)
	return out
}

// toStorage returns obj at r's storage version: obj itself, or for a
// custom resource written at another version, a copy with the storage
// version's apiVersion (conversion None).
func (r *resource) toStorage(obj proto.Message) proto.Message {
	if !r.kind.Dynamic {
		return obj
	}
	if k, ok := scheme.ByMessage(obj); ok && k.SameAs(r.kind) {
		return obj
	}
	out := proto.Clone(obj)
	r.kind.Stamp(out)
	return out
}

func parseRV(rv string) (int64, error) {
	if rv == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(rv, 10, 64)
	if err != nil || n < 0 {
		return 0, apierrors.BadRequest("invalid resourceVersion %q", rv)
	}
	return n, nil
}

// Create implements the API.
func (s *Server) Create(ctx context.Context, req *apiv1.CreateRequest) (*anypb.Any, error) {
	if k, ok := scheme.ByResource(req.GetResource()); req.GetSubresource() != "" || ok && k.CreateOnly {
		return s.createAnswered(ctx, req)
	}
	r, err := s.lookup(ctx, req.GetResource())
	if err != nil {
		return nil, err
	}
	if r.terminating.Load() {
		return nil, &apierrors.Error{Reason: apierrors.ReasonMethodNotAllowed, Message: "create not allowed while custom resource definition is terminating"}
	}
	obj, err := r.unpack(req.GetObject())
	if err != nil {
		return nil, err
	}
	meta := scheme.Meta(obj)
	if req.GetNamespace() != "" && r.kind.Namespaced {
		if meta.Namespace != "" && meta.Namespace != req.GetNamespace() {
			return nil, apierrors.BadRequest("the namespace of the object (%s) does not match the namespace of the request (%s)", meta.Namespace, req.GetNamespace())
		}
		meta.Namespace = req.GetNamespace()
	}
	if err := s.authorizeOn(ctx, "create", r, r.kind.Resource, meta.Namespace, meta.Name); err != nil {
		return nil, err
	}

	// Server-owned metadata.
	generated := meta.Name == "" && meta.GenerateName != ""
	meta.Uid = uuid.NewString()
	meta.ResourceVersion = ""
	meta.Generation = 0
	if r.strategy.TracksGeneration() {
		meta.Generation = 1
	}
	meta.CreationTimestamp = s.now()
	meta.DeletionTimestamp = nil
	meta.DeletionGracePeriodSeconds = nil
	if generated {
		meta.Name = meta.GenerateName + api.RandomSuffix()
	}
	if r.hasStatus && !r.strategy.StatusOnCreate() {
		scheme.SetField(obj, "status", r.kind.New())
	}
	r.strategy.Default(obj)
	r.strategy.PrepareForCreate(ctx, obj)
	attrs := &admission.Attributes{Operation: admission.Create, Kind: r.kind, Namespace: meta.Namespace, Name: meta.Name, Object: obj, DryRun: req.GetDryRun()}
	if err := s.admission.Admit(ctx, attrs, admissionObjects{s}); err != nil {
		return nil, err
	}
	if errs := registry.ValidateCreate(obj); len(errs) > 0 {
		return nil, apierrors.Invalid(r.kind.QualifiedKind(), meta.Name, errs)
	}
	if err := s.admission.Validate(ctx, attrs, admissionObjects{s}); err != nil {
		return nil, err
	}

	for attempt := 0; ; attempt++ {
		stored, err := s.commit(ctx, r, obj, nil, 0, req.GetDryRun())
		if generated && apierrors.IsAlreadyExists(err) && attempt < 8 {
			meta.Name = meta.GenerateName + api.RandomSuffix()
			continue
		}
		return stored, err
	}
}

// commit stores obj: a create when old is nil, else an update of old
// (stored at revision rev), and returns the stored object. A Service's ClusterIP and NodePorts are assigned
// here and written as side keys in the same transaction; a random pick that
// another apiserver took first is re-picked.
func (s *Server) commit(ctx context.Context, r *resource, obj, old proto.Message, rev int64, dryRun bool) (*anypb.Any, error) {
	meta := scheme.Meta(obj)
	key := r.key(meta.Namespace, meta.Name)
	svc, isSvc := obj.(*corev1.Service)
	oldSvc, _ := old.(*corev1.Service)
	avoid := map[string]bool{}
	for attempt := 0; ; attempt++ {
		work := r.toStorage(obj)
		var sideOps []storage.Side
		var as *assignment
		if isSvc {
			ws := proto.Clone(svc).(*corev1.Service)
			var err error
			if as, err = s.alloc.assign(ws, oldSvc, avoid); err != nil {
				return nil, err
			}
			work, sideOps = ws, sides(serviceKeys(ws), serviceKeys(oldSvc), key)
		}
		b, err := marshal(r, work)
		if err != nil {
			return nil, err
		}
		if dryRun {
			// As Kubernetes answers: an update keeps the version it
			// would replace; a create has none yet.
			if old != nil {
				b = withVersion(b, rev)
			}
			return r.raw(b), nil
		}
		var newRev int64
		wctx := ctx
		if r.ttl > 0 {
			wctx = storage.WithTTL(ctx, r.ttl)
		}
		if old == nil {
			newRev, err = s.store.Create(wctx, key, b, sideOps...)
		} else {
			newRev, err = s.store.Update(wctx, key, rev, b, sideOps...)
		}
		var side *storage.SideKeyConflictError
		if errors.As(err, &side) && attempt < conflictRetries {
			retry, aerr := as.conflict(meta.Name, side.Key)
			if !retry {
				return nil, aerr
			}
			avoid[side.Key] = true
			if attempt == conflictRetries/2 {
				// Random picks keep colliding: learn every taken address.
				taken, terr := s.alloc.taken(ctx)
				if terr != nil {
					return nil, storageErr(terr, r, meta.Name)
				}
				for k := range taken {
					avoid[k] = true
				}
			}
			continue
		}
		if err != nil {
			return nil, storageErr(err, r, meta.Name)
		}
		r.wrote(newRev)
		out := r.raw(withVersion(b, newRev))
		if scheme.WantsAnswer(ctx) {
			scheme.Meta(work).ResourceVersion = strconv.FormatInt(newRev, 10)
			scheme.OfferAnswer(ctx, out, work)
		}
		return out, nil
	}
}

// Get implements the API: a linearizable read from etcd.
func (s *Server) Get(ctx context.Context, req *apiv1.GetRequest) (*anypb.Any, error) {
	if k, ok := computedKind(req.GetResource()); ok {
		return s.getComputed(ctx, k, req)
	}
	r, err := s.lookup(ctx, req.GetResource())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeOn(ctx, "get", r, r.kind.Resource, req.GetNamespace(), req.GetName()); err != nil {
		return nil, err
	}
	if req.GetName() == "" {
		return nil, apierrors.BadRequest("a name is required")
	}
	kv, err := s.store.Get(ctx, r.key(req.GetNamespace(), req.GetName()))
	if err != nil {
		return nil, storageErr(err, r, req.GetName())
	}
	return r.raw(withVersion(kv.Value, kv.ModRevision)), nil
}

// read gets one object from etcd, with its ModRevision.
func (s *Server) read(ctx context.Context, r *resource, ns, name string) (proto.Message, int64, error) {
	if name == "" {
		return nil, 0, apierrors.BadRequest("a name is required")
	}
	kv, err := s.store.Get(ctx, r.key(ns, name))
	if err != nil {
		return nil, 0, storageErr(err, r, name)
	}
	obj, err := r.unmarshal(kv.Value, kv.ModRevision)
	if err != nil {
		return nil, 0, apierrors.Internal("decoding %s %s: %v", r.kind.Kind, name, err)
	}
	return obj, kv.ModRevision, nil
}

// readAt returns the object at revision rev, from the cache when it holds
// exactly that revision, else from etcd; the result may be at another
// revision if the object changed since.
func (s *Server) readAt(ctx context.Context, r *resource, ns, name string, rev int64) (proto.Message, int64, error) {
	if e, ok := r.cache.Get(r.key(ns, name)); ok && e.Rev == rev {
		obj := r.kind.New()
		if err := proto.Unmarshal(e.Raw, obj); err == nil {
			return obj, rev, nil
		}
	}
	return s.read(ctx, r, ns, name)
}

// Update implements the API: spec and metadata change, status is kept.
func (s *Server) Update(ctx context.Context, req *apiv1.UpdateRequest) (*anypb.Any, error) {
	return s.update(ctx, req, req.GetSubresource())
}

// UpdateStatus implements the API: only status changes.
func (s *Server) UpdateStatus(ctx context.Context, req *apiv1.UpdateRequest) (*anypb.Any, error) {
	if sub := req.GetSubresource(); sub != "" && sub != "status" {
		return nil, apierrors.BadRequest("UpdateStatus updates the status subresource, not %q", sub)
	}
	return s.update(ctx, req, "status")
}

// update replaces the object's spec and metadata (sub ""), its status
// (sub "status"), its replica count (sub "scale", for the kinds with a
// scale subresource) or what the kind's subresource sub may change.
func (s *Server) update(ctx context.Context, req *apiv1.UpdateRequest, sub string) (*anypb.Any, error) {
	r, err := s.lookup(ctx, req.GetResource())
	if err != nil {
		return nil, err
	}
	obj, err := r.unpack(req.GetObject())
	if err != nil {
		return nil, err
	}
	meta := scheme.Meta(obj)
	status := sub == "status"
	var named *registry.Subresource
	verb, res := "update", r.kind.Resource
	// The scale subresource: only the replica count changes.
	scale := sub == "scale" && r.strategy.Scale() != nil
	switch {
	case scale:
		res += "/scale"
	case status:
		if !r.hasStatus {
			return nil, apierrors.BadRequest("%s have no status", r.kind.Resource)
		}
		res += "/status"
	case sub != "":
		res += "/" + sub
		if named = r.strategy.Subresource(sub); named == nil {
			return nil, apierrors.MethodNotAllowed(res)
		}
	}
	if err := s.authorizeOn(ctx, verb, r, res, meta.Namespace, meta.Name); err != nil {
		return nil, err
	}
	if meta.Name == "" {
		return nil, apierrors.Invalid(r.kind.QualifiedKind(), "", field.ErrorList{field.Required(field.NewPath("metadata", "name"), "")})
	}
	rev, err := parseRV(meta.ResourceVersion)
	if err != nil {
		return nil, err
	}
	if rev == 0 {
		return nil, apierrors.Invalid(r.kind.QualifiedKind(), meta.Name, field.ErrorList{
			field.Required(field.NewPath("metadata", "resourceVersion"), "must be specified for an update")})
	}
	old, oldRev, err := s.readAt(ctx, r, meta.Namespace, meta.Name, rev)
	if err != nil {
		return nil, err
	}
	if oldRev != rev {
		return nil, apierrors.ConflictModified(r.kind.QualifiedResource(), meta.Name)
	}
	old = r.atVersionOf(old, obj)
	oldMeta := scheme.Meta(old)
	if meta.Uid != "" && meta.Uid != oldMeta.Uid {
		return nil, apierrors.Conflict(r.kind.QualifiedResource(), meta.Name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", meta.Uid, oldMeta.Uid))
	}

	var next proto.Message
	switch {
	case status:
		next = proto.Clone(old)
		scheme.SetField(next, "status", obj)
		if errs := registry.ValidateStatusUpdate(next, old); len(errs) > 0 {
			return nil, apierrors.Invalid(r.kind.QualifiedKind(), meta.Name, errs)
		}
	case scale:
		next = proto.Clone(old)
		if n := r.strategy.Scale().Replicas(obj); n != nil {
			r.strategy.Scale().SetReplicas(next, *n)
		}
		if r.strategy.TracksGeneration() && !proto.Equal(scheme.Field(next, "spec"), scheme.Field(old, "spec")) {
			scheme.Meta(next).Generation++
		}
		if errs := registry.ValidateUpdate(next, old); len(errs) > 0 {
			return nil, apierrors.Invalid(r.kind.QualifiedKind(), meta.Name, errs)
		}
	case named != nil:
		next = named.Prepare(proto.Clone(old), obj)
		errs := append(registry.ValidateUpdate(next, old), named.Validate(next, old)...)
		if len(errs) > 0 {
			return nil, apierrors.Invalid(r.kind.QualifiedKind(), meta.Name, errs)
		}
	default:
		next = obj
		nm := scheme.Meta(next)
		nm.Uid, nm.CreationTimestamp, nm.Generation = oldMeta.Uid, oldMeta.CreationTimestamp, oldMeta.Generation
		nm.DeletionTimestamp, nm.DeletionGracePeriodSeconds = oldMeta.DeletionTimestamp, oldMeta.DeletionGracePeriodSeconds
		nm.GenerateName = oldMeta.GenerateName
		if len(nm.ManagedFields) == 0 {
			// A writer that does not track fields (gRPC clients, REST
			// clients naming no fieldManager) keeps the record of those that do.
			nm.ManagedFields = oldMeta.ManagedFields
		}
		if r.hasStatus {
			scheme.SetField(next, "status", old)
		}
		r.strategy.Default(next)
		r.strategy.PrepareForUpdate(next, old)
		if r.strategy.TracksGeneration() && !proto.Equal(scheme.Field(next, "spec"), scheme.Field(old, "spec")) {
			nm.Generation++
		}
		if errs := registry.ValidateUpdate(next, old); len(errs) > 0 {
			return nil, apierrors.Invalid(r.kind.QualifiedKind(), meta.Name, errs)
		}
	}
	attrs := &admission.Attributes{Operation: admission.Update, Kind: r.kind, Namespace: meta.Namespace, Name: meta.Name, Object: next, OldObject: old, Subresource: sub}
	if err := s.admission.Validate(ctx, attrs, admissionObjects{s}); err != nil {
		return nil, err
	}
	scheme.Meta(next).ResourceVersion = ""
	scheme.Meta(old).ResourceVersion = ""
	if proto.Equal(next, old) {
		// Nothing changed: no write, no event, once etcd confirms that
		// old is current (the cache may trail it: a stale version is
		// refused as a write would refuse it) and stored the current way
		// (else it is written again, see Transforming).
		kv, err := s.store.Get(ctx, r.key(meta.Namespace, meta.Name))
		if err != nil {
			return nil, storageErr(err, r, meta.Name)
		}
		if kv.ModRevision != rev {
			return nil, apierrors.ConflictModified(r.kind.QualifiedResource(), meta.Name)
		}
		if !kv.Stale {
			scheme.Meta(old).ResourceVersion = strconv.FormatInt(rev, 10)
			return r.pack(old)
		}
	}
	return s.write(ctx, r, next, old, rev, req.GetDryRun())
}

// write stores next in place of old (at revision rev), or deletes the
// object instead when the update finishes a pending deletion
// (deletionTimestamp set, no finalizers, no grace left).
func (s *Server) write(ctx context.Context, r *resource, next, old proto.Message, rev int64, dryRun bool) (*anypb.Any, error) {
	if deletionComplete(r, next) {
		if dryRun {
			return r.pack(next)
		}
		gone, err := s.remove(ctx, r, old, rev)
		if err != nil {
			return nil, err
		}
		return r.pack(gone)
	}
	return s.commit(ctx, r, next, old, rev, dryRun)
}

// deletionComplete: the object is marked for deletion and nothing holds it
// any more (no finalizers, no grace period left, nothing its kind's
// strategy holds it by).
func deletionComplete(r *resource, obj proto.Message) bool {
	m := scheme.Meta(obj)
	if m.DeletionTimestamp == nil || len(m.Finalizers) > 0 || m.GetDeletionGracePeriodSeconds() > 0 {
		return false
	}
	return !r.strategy.HoldsDeletion(obj)
}

// remove deletes the object stored at rev and releases what it held.
func (s *Server) remove(ctx context.Context, r *resource, old proto.Message, rev int64) (proto.Message, error) {
	meta := scheme.Meta(old)
	var release []storage.Side
	if svc, ok := old.(*corev1.Service); ok {
		release = sides(nil, serviceKeys(svc), "")
	}
	delRev, err := s.store.Delete(ctx, r.key(meta.Namespace, meta.Name), rev, release...)
	if err != nil {
		return nil, storageErr(err, r, meta.Name)
	}
	r.wrote(delRev)
	meta.ResourceVersion = strconv.FormatInt(delRev, 10)
	return old, nil
}

// Delete implements the API, with graceful deletion for pods and
// finalizers for every kind.
func (s *Server) Delete(ctx context.Context, req *apiv1.DeleteRequest) (*apiv1.DeleteResponse, error) {
	r, err := s.lookup(ctx, req.GetResource())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeOn(ctx, "delete", r, r.kind.Resource, req.GetNamespace(), req.GetName()); err != nil {
		return nil, err
	}
	switch p := req.GetPropagationPolicy(); p {
	case "", api.DeletePropagationBackground, api.DeletePropagationForeground, api.DeletePropagationOrphan:
	default:
		return nil, apierrors.BadRequest("propagationPolicy %q: must be Background, Foreground or Orphan", p)
	}
	if g := req.GracePeriodSeconds; g != nil && *g < 0 {
		return nil, apierrors.BadRequest("gracePeriodSeconds must be >= 0, got %d", *g)
	}
	return s.deleteRetrying(ctx, r, req)
}

// deleteRetrying deletes as req says, deciding again on a fresh read when
// the object changed under it (unless req pins a resourceVersion). The
// caller has authorized the delete.
func (s *Server) deleteRetrying(ctx context.Context, r *resource, req *apiv1.DeleteRequest) (*apiv1.DeleteResponse, error) {
	for attempt := 0; ; attempt++ {
		resp, err := s.deleteOnce(ctx, r, req)
		if apierrors.IsConflict(err) && req.GetPreconditions().GetResourceVersion() == "" && attempt < conflictRetries {
			continue // changed under us: decide again on a fresh read
		}
		return resp, err
	}
}

func (s *Server) deleteOnce(ctx context.Context, r *resource, req *apiv1.DeleteRequest) (*apiv1.DeleteResponse, error) {
	old, rev, err := s.read(ctx, r, req.GetNamespace(), req.GetName())
	if err != nil {
		return nil, err
	}
	meta := scheme.Meta(old)
	attrs := &admission.Attributes{Operation: admission.Delete, Kind: r.kind, Namespace: meta.Namespace, Name: meta.Name, OldObject: old}
	if err := s.admission.Validate(ctx, attrs, admissionObjects{s}); err != nil {
		return nil, err
	}
	if pre := req.GetPreconditions(); pre != nil {
		if pre.GetUid() != "" && pre.GetUid() != meta.Uid {
			return nil, apierrors.Conflict(r.kind.QualifiedResource(), meta.Name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", pre.GetUid(), meta.Uid))
		}
		if pre.GetResourceVersion() != "" && pre.GetResourceVersion() != meta.ResourceVersion {
			return nil, apierrors.Conflict(r.kind.QualifiedResource(), meta.Name, fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", pre.GetResourceVersion(), meta.ResourceVersion))
		}
	}
	next := proto.Clone(old)
	nm := scheme.Meta(next)
	switch req.GetPropagationPolicy() {
	case api.DeletePropagationOrphan:
		addFinalizer(nm, api.FinalizerOrphan)
	case api.DeletePropagationForeground:
		addFinalizer(nm, api.FinalizerForeground)
	}
	grace := r.strategy.GracePeriod(next, req.GracePeriodSeconds)
	if nm.DeletionTimestamp != nil && nm.GetDeletionGracePeriodSeconds() < grace {
		grace = nm.GetDeletionGracePeriodSeconds() // a later delete may only shorten
	}
	if nm.DeletionTimestamp == nil || grace < nm.GetDeletionGracePeriodSeconds() {
		nm.DeletionTimestamp = timestamppb.New(s.now().AsTime().Add(time.Duration(grace) * time.Second))
		nm.DeletionGracePeriodSeconds = &grace
		r.strategy.PrepareForDelete(next)
	}
	if deletionComplete(r, next) {
		gone := old
		if !req.GetDryRun() {
			if gone, err = s.remove(ctx, r, old, rev); err != nil {
				return nil, err
			}
		}
		a, err := r.pack(gone)
		if err != nil {
			return nil, err
		}
		return &apiv1.DeleteResponse{Object: a, Deleted: true}, nil
	}
	scheme.Meta(old).ResourceVersion = ""
	nm.ResourceVersion = ""
	if proto.Equal(next, old) {
		meta.ResourceVersion = strconv.FormatInt(rev, 10)
		a, err := r.pack(old)
		if err != nil {
			return nil, err
		}
		return &apiv1.DeleteResponse{Object: a}, nil
	}
	if nm.DeletionTimestamp != nil && meta.DeletionTimestamp == nil && nm.Generation > 0 {
		nm.Generation++
	}
	a, err := s.write(ctx, r, next, old, rev, req.GetDryRun())
	if err != nil {
		return nil, err
	}
	return &apiv1.DeleteResponse{Object: a}, nil
}

func addFinalizer(m *metav1.ObjectMeta, f string) {
	for _, have := range m.Finalizers {
		if have == f {
			return
		}
	}
	m.Finalizers = append(m.Finalizers, f)
}

// Bind implements the pods/binding subresource: it sets spec.nodeName of an
// unbound pod and marks it scheduled.
func (s *Server) Bind(ctx context.Context, req *apiv1.BindRequest) (*anypb.Any, error) {
	r := s.resources["pods"]
	if err := s.authorize(ctx, "create", "pods/binding", req.GetNamespace(), req.GetName()); err != nil {
		return nil, err
	}
	if req.GetNodeName() == "" {
		return nil, apierrors.Invalid("Binding", req.GetName(), field.ErrorList{field.Required(field.NewPath("target", "name"), "")})
	}
	var rev int64
	for attempt := 0; ; attempt++ {
		var obj proto.Message
		var err error
		if attempt == 0 {
			// The scheduler binds what it just saw: the cache usually has it.
			if e, ok := r.cache.Get(r.key(req.GetNamespace(), req.GetName())); ok {
				obj, rev, err = s.readAt(ctx, r, req.GetNamespace(), req.GetName(), e.Rev)
			} else {
				obj, rev, err = s.read(ctx, r, req.GetNamespace(), req.GetName())
			}
		} else {
			obj, rev, err = s.read(ctx, r, req.GetNamespace(), req.GetName())
		}
		if err != nil {
			return nil, err
		}
		pod := obj.(*corev1.Pod)
		if req.GetUid() != "" && req.GetUid() != pod.GetMetadata().GetUid() {
			return nil, apierrors.Conflict("pods", req.GetName(), "the pod's UID does not match the binding's")
		}
		if pod.GetMetadata().GetDeletionTimestamp() != nil {
			return nil, apierrors.Conflict("pods", req.GetName(), "the pod is being deleted")
		}
		if n := pod.GetSpec().GetNodeName(); n != "" {
			return nil, apierrors.Conflict("pods", req.GetName(), fmt.Sprintf("pod %s is already assigned to node %q", req.GetName(), n))
		}
		if len(pod.GetSpec().GetSchedulingGates()) > 0 {
			return nil, apierrors.Conflict("pods", req.GetName(), fmt.Sprintf("pod %s has non-empty .spec.schedulingGates", req.GetName()))
		}
		pod.Spec.NodeName = req.GetNodeName()
		setPodCondition(pod, &corev1.PodCondition{Type: api.PodScheduled, Status: api.ConditionTrue, LastTransitionTime: s.now()})
		pod.Metadata.ResourceVersion = ""
		b, err := marshal(r, pod)
		if err != nil {
			return nil, err
		}
		newRev, err := s.store.Update(ctx, r.key(req.GetNamespace(), req.GetName()), rev, b)
		if errors.Is(err, storage.ErrConflict) && attempt < conflictRetries {
			continue
		}
		if err != nil {
			return nil, storageErr(err, r, req.GetName())
		}
		r.wrote(newRev)
		s.log.Debug("bound pod", zap.String("pod", req.GetNamespace()+"/"+req.GetName()), zap.String("node", req.GetNodeName()))
		return r.raw(withVersion(b, newRev)), nil
	}
}

// setPodCondition replaces the condition of the same type, or appends it.
func setPodCondition(pod *corev1.Pod, c *corev1.PodCondition) {
	if pod.Status == nil {
		pod.Status = &corev1.PodStatus{}
	}
	for i, have := range pod.Status.Conditions {
		if have.GetType() == c.GetType() {
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}
