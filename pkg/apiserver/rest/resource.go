package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"k8s.io/apimachinery/pkg/fields"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/registry"
	"keel.dev/keel/pkg/scheme"
)

// request is a resource request as its path and method name it.
type request struct {
	kind      *scheme.Kind
	strategy  registry.Strategy
	namespace string
	name      string
	sub       string
	// verb is the Kubernetes verb: get, list, watch, create, update,
	// patch, delete, deletecollection.
	verb string
}

// details names the request's target in a Status.
func (q *request) details() apierrors.StatusDetails {
	if q.kind == nil {
		return apierrors.StatusDetails{}
	}
	return apierrors.StatusDetails{Name: q.name, Group: q.kind.Group, Kind: q.kind.Resource}
}

// namespaceSubresources are the subresources of a Namespace, told apart
// from a resource inside the namespace (/api/v1/namespaces/NS/status is
// the Namespace's status, /api/v1/namespaces/NS/pods its pods).
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// parseRequest reads the kind, namespace, name and subresource from a
// resource path, and the verb from the method and query.
func parseRequest(r *http.Request, catchUp func(context.Context)) (*request, error) {
	group, version, parts, _ := splitGroupVersion(r.URL.Path)
	q := &request{}
	if parts[0] == "namespaces" && len(parts) > 1 {
		q.namespace = parts[1]
		if len(parts) > 2 && !namespaceSubresources[parts[2]] {
			parts = parts[2:]
		}
	}
	if len(parts) > 3 {
		return nil, &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: "the server could not find the requested resource"}
	}
	k, ok := kindOf(group, version, parts[0])
	if !ok && catchUp != nil {
		catchUp(r.Context())
		k, ok = kindOf(group, version, parts[0])
	}
	if !ok {
		return nil, &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("the server could not find the requested resource (%s %s)", strings.ToLower(r.Method), r.URL.Path)}
	}
	q.kind, q.strategy = k, registry.For(k)
	if !k.Namespaced {
		q.namespace = ""
	}
	if len(parts) > 1 {
		q.name = parts[1]
	}
	if len(parts) > 2 {
		q.sub = parts[2]
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case isTrue(r.URL.Query().Get("watch")):
			q.verb = "watch"
		case q.name != "":
			q.verb = "get"
		default:
			q.verb = "list"
		}
	case http.MethodPost:
		q.verb = "create"
	case http.MethodPut:
		q.verb = "update"
	case http.MethodPatch:
		q.verb = "patch"
	case http.MethodDelete:
		q.verb = "delete"
		if q.name == "" {
			q.verb = "deletecollection"
		}
	default:
		return nil, apierrors.MethodNotAllowed(k.Resource)
	}
	if q.name == "" && q.verb != "list" && q.verb != "watch" && q.verb != "create" && q.verb != "deletecollection" {
		return nil, apierrors.MethodNotAllowed(k.Resource)
	}
	if err := q.checkFieldSelector(r.URL.Query().Get("fieldSelector")); err != nil {
		return nil, err
	}
	return q, nil
}

// checkFieldSelector refuses, for a custom resource, field labels that
// the request's version does not declare in its selectableFields: the
// API behind (which knows no versions) accepts those of every version.
// Other kinds' selectors are the API's to check.
func (q *request) checkFieldSelector(sel string) error {
	if !q.kind.Dynamic || sel == "" || q.verb != "list" && q.verb != "watch" && q.verb != "deletecollection" {
		return nil
	}
	parsed, err := fields.ParseSelector(sel)
	if err != nil {
		return nil // the API words it
	}
	allowed := map[string]bool{"metadata.name": true, "metadata.namespace": true}
	for _, f := range q.strategy.SelectableFields() {
		allowed[f] = true
	}
	var bad []string
	for _, req := range parsed.Requirements() {
		if !allowed[req.Field] {
			bad = append(bad, strconv.Quote(req.Field))
		}
	}
	if len(bad) > 0 {
		return apierrors.BadRequest("field label not supported for %s: %s", q.kind.Resource, strings.Join(bad, ", "))
	}
	return nil
}

// resource names q's resource to the API: qualified by its group for a
// custom resource, whose plural another group may have too, and for a
// kind whose plural the core group has too (pods.metrics.k8s.io).
func (q *request) resource() string {
	if k, _ := scheme.ByResource(q.kind.Resource); q.kind.Dynamic || k != q.kind {
		return q.kind.QualifiedResource()
	}
	return q.kind.Resource
}

func isTrue(s string) bool { return s == "true" || s == "1" }

// serveResource answers a resource request. Its context carries a
// scheme.Answer, so that an object the API stores is answered with
// without decoding it again.
func (h *Handler) serveResource(w http.ResponseWriter, r *http.Request) {
	r = r.WithContext(scheme.WithAnswer(r.Context(), new(scheme.Answer)))
	q, err := parseRequest(r, h.cfg.CatchUp)
	if err != nil {
		apierrors.WriteHTTP(w, err)
		return
	}
	if err := h.route(w, r, q); err != nil {
		apierrors.WriteStatus(w, err, q.details())
	}
}

// route serves q, or returns the error to answer with (nothing written).
func (h *Handler) route(w http.ResponseWriter, r *http.Request, q *request) error {
	switch q.sub {
	case "":
	case "status":
		if !q.strategy.HasStatus() {
			return notFoundErr(r)
		}
	case "scale":
		if q.strategy.Scale() == nil {
			return notFoundErr(r)
		}
		return h.scale(w, r, q)
	default:
		s, ok := h.subs[q.kind.Resource+"/"+q.sub]
		if !ok || q.kind.Computed {
			return notFoundErr(r)
		}
		return h.subresource(w, r, q, s)
	}
	if q.kind.CreateOnly && q.verb != "create" || q.kind.Computed && q.verb != "get" && q.verb != "list" {
		return apierrors.MethodNotAllowed(q.kind.Resource)
	}
	switch q.verb {
	case "get":
		return h.get(w, r, q)
	case "list":
		return h.list(w, r, q)
	case "watch":
		return h.watch(w, r, q)
	case "create":
		if q.name != "" {
			return apierrors.MethodNotAllowed(q.kind.Resource)
		}
		return h.create(w, r, q)
	case "update":
		return h.update(w, r, q)
	case "patch":
		return h.patch(w, r, q)
	case "delete":
		return h.delete(w, r, q)
	case "deletecollection":
		return h.deleteCollection(w, r, q)
	}
	return apierrors.MethodNotAllowed(q.kind.Resource)
}

func notFoundErr(r *http.Request) error {
	return &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: fmt.Sprintf("the server could not find the requested resource (%s %s)", strings.ToLower(r.Method), r.URL.Path)}
}

// get answers a get of the object (or of its status).
func (h *Handler) get(w http.ResponseWriter, r *http.Request, q *request) error {
	a, err := h.cfg.API.Get(r.Context(), &apiv1.GetRequest{Resource: q.resource(), Namespace: q.namespace, Name: q.name})
	if err != nil {
		return err
	}
	return h.answer(w, r, http.StatusOK, q.kind, a)
}

// unpack decodes an object the API answered with.
func unpack(a *anypb.Any) (proto.Message, error) {
	obj, _, err := scheme.Unpack(a)
	if err != nil {
		return nil, apierrors.Internal("decoding the answer: %v", err)
	}
	return obj, nil
}

// unpack decodes an object the API answered with, at the request's
// version: a custom resource stored at another version of its definition
// is converted (conversion None: only its apiVersion changes).
func (q *request) unpack(a *anypb.Any) (proto.Message, error) {
	obj, err := unpack(a)
	if err == nil && q.kind.Dynamic {
		q.kind.Stamp(obj)
	}
	return obj, err
}

// wantsTable: the client asks for a meta.k8s.io Table.
func wantsTable(r *http.Request) bool {
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		p := mediaParams(a)
		if p["as"] == "Table" && p["g"] == "meta.k8s.io" {
			return true
		}
	}
	return false
}

// list answers a list: the items of the kind with the list's metadata.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, q *request) error {
	v := r.URL.Query()
	req := &apiv1.ListRequest{Resource: q.resource(), Namespace: q.namespace,
		LabelSelector: v.Get("labelSelector"), FieldSelector: v.Get("fieldSelector"),
		Continue: v.Get("continue"), ResourceVersion: v.Get("resourceVersion")}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return apierrors.BadRequest("limit %q: not an integer", s)
		}
		req.Limit = n
	}
	switch m := v.Get("resourceVersionMatch"); m {
	case "":
	case "NotOlderThan", "Exact":
		if req.ResourceVersion == "" {
			return apierrors.BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
		}
		req.ResourceVersionMatch = m
	default:
		return apierrors.BadRequest("resourceVersionMatch %q: must be NotOlderThan or Exact", m)
	}
	resp, err := h.cfg.API.List(r.Context(), req)
	if err != nil {
		return err
	}
	lm := &ListMeta{ResourceVersion: resp.GetResourceVersion(), Continue: resp.GetContinue()}
	if n := resp.GetRemainingItemCount(); n > 0 {
		lm.RemainingItemCount = &n
	}
	if h.cfg.Table != nil && wantsTable(r) {
		objs := make([]proto.Message, len(resp.GetItems()))
		for i, a := range resp.GetItems() {
			if objs[i], err = q.unpack(a); err != nil {
				return err
			}
		}
		t, err := h.cfg.Table(q.kind, objs, lm, v.Get("includeObject"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	}
	// Written straight from the messages, or from the JSON cache: a list
	// of thousands of objects is the API's largest answer, assembled in a
	// reused buffer.
	meta, err := json.Marshal(lm)
	if err != nil {
		return apierrors.Internal("encoding the list metadata: %v", err)
	}
	buf := listBuffers.Get().(*[]byte)
	defer putListBuffer(buf)
	b := append((*buf)[:0], `{"kind":"`+q.kind.Kind+`List","apiVersion":"`+q.kind.APIVersion()+`","metadata":`...)
	b = append(append(b, meta...), `,"items":[`...)
	for i, a := range resp.GetItems() {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = h.json.appendJSON(b, q.kind, a, nil); err != nil {
			return err
		}
	}
	b = append(b, "]}"...)
	*buf = b
	writeRaw(w, http.StatusOK, b)
	return nil
}

// listBuffers holds the buffers lists are assembled in, so that a list of
// thousands of objects does not allocate megabytes on every call. A
// buffer over maxPooledList is left to the garbage collector.
var listBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledList = 16 << 20

func putListBuffer(b *[]byte) {
	if cap(*b) <= maxPooledList {
		listBuffers.Put(b)
	}
}

// Body decoding.

// bodyKind is what a request body says it is.
type bodyKind struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// readBody reads the request's body, refusing content types other than
// JSON, YAML and Kubernetes' protobuf (415) and bodies over the limit
// (413). A protobuf body is returned as the JSON of the same object.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	proto := false
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		proto = err == nil && mt == protobufType
		if err != nil || (mt != "application/json" && mt != "application/yaml" && mt != "application/x-yaml" && mt != "text/yaml" && !proto) {
			return nil, apierrors.UnsupportedMediaType("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, %s", protobufType)
		}
	}
	b, err := h.readLimited(w, r)
	if err != nil || !proto || len(b) == 0 {
		return b, err
	}
	return protobufToJSON(b)
}

// readLimited reads the body up to the limit.
func (h *Handler) readLimited(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, apierrors.TooLarge("the request body", -1, int(h.cfg.MaxBodyBytes))
	}
	if err != nil {
		return nil, apierrors.BadRequest("reading the request body: %v", err)
	}
	return b, nil
}

// decode decodes a body into a new object of kind k, as the request's
// fieldValidation says: Strict fails on unknown fields, Warn (the
// default) drops them with a Warning header each, Ignore drops them.
func decode(w http.ResponseWriter, r *http.Request, body []byte, k *scheme.Kind) (proto.Message, error) {
	obj := k.New()
	mode := r.URL.Query().Get("fieldValidation")
	var unknown []string
	var err error
	switch mode {
	case "Strict":
		err = manifest.DecodeInto(body, obj)
	case "", "Warn", "Ignore":
		unknown, err = manifest.DecodeIntoLenient(body, obj)
	default:
		return nil, apierrors.BadRequest("fieldValidation %q: must be Strict, Warn or Ignore", mode)
	}
	if err != nil {
		return nil, decodeErr(k, err)
	}
	if pr, ok := k.Behaviour.(pruner); ok {
		pruned := pr.Prune(obj)
		if mode == "Strict" && len(pruned) > 0 {
			return nil, strictErr(k, pruned)
		}
		unknown = append(unknown, pruned...)
	}
	if mode != "Ignore" {
		for _, f := range unknown {
			w.Header().Add("Warning", fmt.Sprintf("299 - %s", strconv.Quote("unknown field \""+f+"\"")))
		}
	}
	return obj, nil
}

// pruner is the behaviour of a kind whose objects are pruned of the
// fields their schema does not know (custom resources) as they are
// decoded: Prune drops them and lists them ("spec.unknownField"), for
// fieldValidation.
type pruner interface {
	Prune(obj proto.Message) []string
}

// strictErr refuses an object of kind k with the unknown fields paths, as
// Kubernetes words it for custom resources: 400 with a cause per field.
func strictErr(k *scheme.Kind, paths []string) error {
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = "unknown field " + strconv.Quote(p)
	}
	e := apierrors.BadRequest("%s in version %q cannot be handled as a %s: strict decoding error: %s", k.Kind, k.Version, k.Kind, strings.Join(quoted, ", "))
	for _, p := range paths {
		e.Causes = append(e.Causes, apierrors.Cause{Type: "FieldValueInvalid", Message: "unknown field", Field: p})
	}
	return e
}

// decodeErr is the answer to a body that does not decode: 400 naming
// every bad field, as Kubernetes' strict decoding errors.
func decodeErr(k *scheme.Kind, err error) error {
	var list manifest.ErrorList
	if !errors.As(err, &list) {
		return apierrors.BadRequest("%v", err)
	}
	msgs := make([]string, len(list))
	for i, e := range list {
		msgs[i] = e.Error()
	}
	e := apierrors.BadRequest("%s in body: %s", k.Kind, strings.Join(msgs, ", "))
	for _, le := range list {
		e.Causes = append(e.Causes, apierrors.Cause{Type: "FieldValueInvalid", Message: le.Message, Field: le.Path})
	}
	return e
}

// dryRun reads the dryRun parameter: All, or nothing.
func dryRun(r *http.Request) (bool, error) {
	switch v := r.URL.Query()["dryRun"]; {
	case len(v) == 0:
		return false, nil
	case len(v) == 1 && v[0] == "All":
		return true, nil
	default:
		return false, apierrors.BadRequest("dryRun %q: the only dry-run value is All", strings.Join(v, ","))
	}
}

// create answers a POST to the collection.
func (h *Handler) create(w http.ResponseWriter, r *http.Request, q *request) error {
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	obj, err := decode(w, r, body, q.kind)
	if err != nil {
		return err
	}
	if obj, err = h.trackUpdate(r, q, q.kind.New(), obj); err != nil {
		return err
	}
	a, err := scheme.Pack(obj)
	if err != nil {
		return apierrors.Internal("%v", err)
	}
	out, err := h.cfg.API.Create(r.Context(), &apiv1.CreateRequest{Resource: q.resource(), Namespace: q.namespace, Object: a, DryRun: dry})
	if err != nil {
		return err
	}
	code := http.StatusCreated
	if q.kind.CreateOnly {
		code = http.StatusOK
	}
	return h.answer(w, r, code, q.kind, out)
}

// answer writes an object of kind k the API answered with, in Kubernetes'
// JSON, or as a Table when the client asks for one and Config.Table is
// set. The message a encodes is decoded only if the API did not offer it
// in the request's scheme.Answer (see serveResource).
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, code int, k *scheme.Kind, a *anypb.Any) error {
	obj := scheme.AnswerOf(r.Context()).Object(a)
	if h.cfg.Table != nil && wantsTable(r) {
		var err error
		if obj == nil {
			if obj, err = unpack(a); err != nil {
				return err
			}
		}
		k.Stamp(obj)
		t, err := h.cfg.Table(k, []proto.Message{obj}, nil, r.URL.Query().Get("includeObject"))
		if err != nil {
			return err
		}
		writeJSON(w, code, t)
		return nil
	}
	b, err := h.json.appendJSON(nil, k, a, obj)
	if err != nil {
		return err
	}
	writeRaw(w, code, b)
	return nil
}

// update answers a PUT of the object or of its status.
func (h *Handler) update(w http.ResponseWriter, r *http.Request, q *request) error {
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	obj, err := decode(w, r, body, q.kind)
	if err != nil {
		return err
	}
	if err := matchTarget(q, obj); err != nil {
		return err
	}
	// A body without a resourceVersion is an unconditional update, as
	// Kubernetes allows for its kinds (Helm writes its release Secrets
	// so): it replaces the object as it is now, read just before and
	// guarded by that read's resourceVersion, read again on a concurrent
	// write.
	unconditional := scheme.Meta(obj).ResourceVersion == ""
	for attempt := 0; ; attempt++ {
		var live proto.Message
		if unconditional {
			if live, err = h.getObject(r, q); err != nil {
				return err
			}
			scheme.Meta(obj).ResourceVersion = scheme.Meta(live).ResourceVersion
		}
		next, err := h.trackUpdate(r, q, live, obj)
		if err != nil {
			return err
		}
		out, err := h.put(r, q, next, dry)
		if apierrors.IsConflict(err) && unconditional && attempt < patchRetries {
			continue
		}
		if err != nil {
			return err
		}
		return h.answer(w, r, http.StatusOK, q.kind, out)
	}
}

// matchTarget checks that the body names the object of the path, and
// fills in what it leaves out.
func matchTarget(q *request, obj proto.Message) error {
	m := scheme.Meta(obj)
	if m.Name == "" {
		m.Name = q.name
	}
	if m.Name != q.name {
		return apierrors.BadRequest("the name of the object (%s) does not match the name on the URL (%s)", m.Name, q.name)
	}
	if q.kind.Namespaced {
		if m.Namespace == "" {
			m.Namespace = q.namespace
		}
		if m.Namespace != q.namespace {
			return apierrors.BadRequest("the namespace of the object (%s) does not match the namespace on the URL (%s)", m.Namespace, q.namespace)
		}
	}
	return nil
}

// put stores obj through the update of q's subresource.
func (h *Handler) put(r *http.Request, q *request, obj proto.Message, dry bool) (*anypb.Any, error) {
	a, err := scheme.Pack(obj)
	if err != nil {
		return nil, apierrors.Internal("%v", err)
	}
	req := &apiv1.UpdateRequest{Resource: q.resource(), Object: a, DryRun: dry}
	if q.sub == "status" {
		return h.cfg.API.UpdateStatus(r.Context(), req)
	}
	req.Subresource = q.sub
	return h.cfg.API.Update(r.Context(), req)
}
