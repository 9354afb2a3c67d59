package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/labelselector"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// subresource answers a request for one of Config.Subresources.
func (h *Handler) subresource(w http.ResponseWriter, r *http.Request, q *request, s Subresource) error {
	allowed := false
	for _, v := range s.Verbs {
		allowed = allowed || v == q.verb
	}
	if !allowed {
		return apierrors.MethodNotAllowed(q.kind.Resource + "/" + q.sub)
	}
	switch {
	case s.Connect:
		if h.cfg.Connect == nil {
			return apierrors.MethodNotAllowed(q.kind.Resource + "/" + q.sub)
		}
		return h.cfg.Connect(w, r, q.namespace, q.name, q.sub)
	case q.verb == "get" && s.Name == "log":
		return h.logs(w, r, q)
	case q.verb == "create" && s.Name == "binding":
		return h.bind(w, r, q)
	case q.verb == "create":
		return h.createOn(w, r, q, s)
	case q.verb == "update":
		return h.update(w, r, q)
	case q.verb == "patch":
		return h.patch(w, r, q)
	}
	return apierrors.MethodNotAllowed(q.kind.Resource + "/" + q.sub)
}

// createOn answers a POST to a subresource whose body is an object of a
// registered kind (a policy/v1 Eviction, an authentication.k8s.io/v1
// TokenRequest): the API's answer is returned.
func (h *Handler) createOn(w http.ResponseWriter, r *http.Request, q *request, s Subresource) error {
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	k, ok := scheme.ByGVK(groupVersionString(s.Group, s.Version), s.Kind)
	if !ok {
		return apierrors.Internal("subresource %s/%s: kind %s is not registered", q.kind.Resource, q.sub, s.Kind)
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	obj, err := decode(w, r, body, k)
	if err != nil {
		return err
	}
	if m := scheme.Meta(obj); m != nil && m.Name == "" {
		m.Name = q.name
	}
	a, err := scheme.Pack(obj)
	if err != nil {
		return apierrors.Internal("%v", err)
	}
	out, err := h.cfg.API.Create(r.Context(), &apiv1.CreateRequest{Resource: q.resource(), Namespace: q.namespace,
		Name: q.name, Subresource: q.sub, Object: a, DryRun: dry})
	if err != nil {
		return err
	}
	return h.answer(w, r, http.StatusCreated, k, out)
}

func groupVersionString(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

// binding is a core/v1 Binding.
type binding struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Metadata   struct {
		Name      string `json:"name,omitempty"`
		Namespace string `json:"namespace,omitempty"`
		UID       string `json:"uid,omitempty"`
	} `json:"metadata"`
	Target struct {
		APIVersion string `json:"apiVersion,omitempty"`
		Kind       string `json:"kind,omitempty"`
		Name       string `json:"name"`
	} `json:"target"`
}

// bind answers POST pods/NAME/binding: the pod is bound to the target
// node.
func (h *Handler) bind(w http.ResponseWriter, r *http.Request, q *request) error {
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	var b binding
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return apierrors.BadRequest("Binding in body: %v", err)
	}
	if _, err := h.cfg.API.Bind(r.Context(), &apiv1.BindRequest{Namespace: q.namespace, Name: q.name,
		NodeName: b.Target.Name, Uid: b.Metadata.UID}); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Success", "code": http.StatusCreated})
	return nil
}

// logs answers GET pods/NAME/log: the container's log as text/plain,
// streamed as it comes with follow.
func (h *Handler) logs(w http.ResponseWriter, r *http.Request, q *request) error {
	v := r.URL.Query()
	req := &apiv1.LogsRequest{Namespace: q.namespace, Name: q.name, Container: v.Get("container"),
		Follow: isTrue(v.Get("follow")), Previous: isTrue(v.Get("previous")), Timestamps: isTrue(v.Get("timestamps"))}
	for _, p := range []struct {
		name string
		set  func(int64)
	}{
		{"tailLines", func(n int64) { req.TailLines = &n }},
		{"sinceSeconds", func(n int64) { req.SinceSeconds = n }},
		{"limitBytes", func(n int64) { req.LimitBytes = n }},
	} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 0 {
				return apierrors.BadRequest("%s %q: not a non-negative integer", p.name, s)
			}
			p.set(n)
		}
	}
	s := &httpStream{ctx: r.Context(), w: w, contentType: "text/plain", encode: func(m any) ([]byte, error) {
		c, ok := m.(*apiv1.LogsChunk)
		if !ok {
			return nil, fmt.Errorf("rest: a log sends LogsChunks, not %T", m)
		}
		return c.GetData(), nil
	}}
	err := h.cfg.API.Logs(req, logStream{s})
	if err != nil && !s.started {
		return err
	}
	s.start()
	return nil
}

// logStream is the httpStream of a log.
type logStream struct{ *httpStream }

func (s logStream) Send(c *apiv1.LogsChunk) error { return s.SendMsg(c) }

// Scale subresource (autoscaling/v1 Scale).

// scaleObject is an autoscaling/v1 Scale.
type scaleObject struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Metadata   struct {
		Name              string `json:"name,omitempty"`
		Namespace         string `json:"namespace,omitempty"`
		UID               string `json:"uid,omitempty"`
		ResourceVersion   string `json:"resourceVersion,omitempty"`
		CreationTimestamp string `json:"creationTimestamp,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Replicas *int32 `json:"replicas,omitempty"`
	} `json:"spec"`
	Status struct {
		Replicas int32  `json:"replicas"`
		Selector string `json:"selector,omitempty"`
	} `json:"status"`
}

// scaleOf is obj's Scale: spec.replicas as the kind's strategy keeps it,
// status.replicas and the spec's selector.
func (q *request) scaleOf(obj proto.Message) *scaleObject {
	m := scheme.Meta(obj)
	s := &scaleObject{Kind: "Scale", APIVersion: "autoscaling/v1"}
	s.Metadata.Name, s.Metadata.Namespace, s.Metadata.UID, s.Metadata.ResourceVersion = m.Name, m.Namespace, m.Uid, m.ResourceVersion
	if m.CreationTimestamp != nil {
		s.Metadata.CreationTimestamp = m.CreationTimestamp.AsTime().UTC().Format("2006-01-02T15:04:05Z")
	}
	n := int32(0)
	if p := q.strategy.Scale().Replicas(obj); p != nil {
		n = *p
	}
	s.Spec.Replicas = &n
	if status := q.strategy.Scale().Status; status != nil {
		s.Status.Replicas, s.Status.Selector = status(obj)
		return s
	}
	if st := scheme.Field(obj, "status"); st != nil {
		if fd := st.ProtoReflect().Descriptor().Fields().ByName("replicas"); fd != nil && fd.Kind() == protoreflect.Int32Kind {
			s.Status.Replicas = int32(st.ProtoReflect().Get(fd).Int())
		}
	}
	if spec := scheme.Field(obj, "spec"); spec != nil {
		if sel, ok := scheme.Field(spec, "selector").(*metav1.LabelSelector); ok && sel != nil {
			if ls, err := labelselector.Parse(sel); err == nil {
				s.Status.Selector = ls.String()
			}
		}
	}
	return s
}

// scale answers the scale subresource: GET, PUT and PATCH of the
// object's Scale.
func (h *Handler) scale(w http.ResponseWriter, r *http.Request, q *request) error {
	switch q.verb {
	case "get":
	case "update", "patch":
		return h.writeScale(w, r, q)
	default:
		return apierrors.MethodNotAllowed(q.kind.Resource + "/scale")
	}
	obj, err := h.getObject(r, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, q.scaleOf(obj))
	return nil
}

// getObject reads q's object through the API.
func (h *Handler) getObject(r *http.Request, q *request) (proto.Message, error) {
	a, err := h.cfg.API.Get(r.Context(), &apiv1.GetRequest{Resource: q.resource(), Namespace: q.namespace, Name: q.name})
	if err != nil {
		return nil, err
	}
	return q.unpack(a)
}

// writeScale answers a PUT or PATCH of the Scale: the object's replica
// count is updated through the API's scale subresource, which bumps its
// generation as any spec change does.
func (h *Handler) writeScale(w http.ResponseWriter, r *http.Request, q *request) error {
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	var body []byte
	if q.verb == "update" {
		if body, err = h.readBody(w, r); err != nil {
			return err
		}
	} else if body, err = h.readPatch(w, r, false); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		obj, err := h.getObject(r, q)
		if err != nil {
			return err
		}
		in := body
		if q.verb == "patch" {
			cur, err := json.Marshal(q.scaleOf(obj))
			if err != nil {
				return apierrors.Internal("%v", err)
			}
			if in, err = h.applyPatch(r, nil, cur, body); err != nil {
				return err
			}
		}
		var s scaleObject
		dec := json.NewDecoder(bytes.NewReader(in))
		if r.URL.Query().Get("fieldValidation") == "Strict" {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(&s); err != nil {
			return apierrors.BadRequest("Scale in body: %v", err)
		}
		if s.Spec.Replicas == nil {
			return apierrors.Invalid("Scale.autoscaling", q.name, field.ErrorList{field.Required(field.NewPath("spec", "replicas"), "")})
		}
		pinned := s.Metadata.ResourceVersion != "" && (q.verb == "update" || s.Metadata.ResourceVersion != scheme.Meta(obj).ResourceVersion)
		if pinned {
			scheme.Meta(obj).ResourceVersion = s.Metadata.ResourceVersion
		}
		q.strategy.Scale().SetReplicas(obj, *s.Spec.Replicas)
		out, err := h.put(r, q, obj, dry)
		if apierrors.IsConflict(err) && !pinned && attempt < patchRetries {
			continue
		}
		if err != nil {
			return err
		}
		stored, err := q.unpack(out)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, q.scaleOf(stored))
		return nil
	}
}

// manifestJSON is obj in Kubernetes' JSON form, ready to be patched.
func manifestJSON(obj proto.Message) ([]byte, error) {
	b, err := manifest.AppendJSON(nil, obj)
	if err != nil {
		return nil, apierrors.Internal("encoding: %v", err)
	}
	return b, nil
}
