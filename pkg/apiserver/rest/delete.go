package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/scheme"
)

// deleteOptions is a meta/v1 DeleteOptions, from the body or the query.
type deleteOptions struct {
	Kind               string   `json:"kind,omitempty"`
	APIVersion         string   `json:"apiVersion,omitempty"`
	GracePeriodSeconds *int64   `json:"gracePeriodSeconds,omitempty"`
	PropagationPolicy  string   `json:"propagationPolicy,omitempty"`
	OrphanDependents   *bool    `json:"orphanDependents,omitempty"`
	DryRun             []string `json:"dryRun,omitempty"`
	Preconditions      *struct {
		UID             *string `json:"uid,omitempty"`
		ResourceVersion *string `json:"resourceVersion,omitempty"`
	} `json:"preconditions,omitempty"`
}

// readDeleteOptions reads DeleteOptions from the body (JSON, or
// Kubernetes' protobuf) when there is one, else from the query.
func (h *Handler) readDeleteOptions(w http.ResponseWriter, r *http.Request, q *request) (*apiv1.DeleteRequest, error) {
	body, err := h.readBody(w, r)
	if err != nil {
		return nil, err
	}
	var o deleteOptions
	if len(body) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return nil, apierrors.BadRequest("DeleteOptions in body: %v", err)
		}
	}
	v := r.URL.Query()
	if s := v.Get("gracePeriodSeconds"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, apierrors.BadRequest("gracePeriodSeconds %q: not an integer", s)
		}
		o.GracePeriodSeconds = &n
	}
	if s := v.Get("propagationPolicy"); s != "" {
		o.PropagationPolicy = s
	}
	if s := v.Get("orphanDependents"); s != "" {
		b := isTrue(s)
		o.OrphanDependents = &b
	}
	if d := v["dryRun"]; len(d) > 0 {
		o.DryRun = d
	}
	req := &apiv1.DeleteRequest{Resource: q.resource(), Namespace: q.namespace, Name: q.name,
		GracePeriodSeconds: o.GracePeriodSeconds, PropagationPolicy: o.PropagationPolicy}
	if o.OrphanDependents != nil && o.PropagationPolicy == "" {
		req.PropagationPolicy = "Background"
		if *o.OrphanDependents {
			req.PropagationPolicy = "Orphan"
		}
	}
	switch {
	case len(o.DryRun) == 0:
	case len(o.DryRun) == 1 && o.DryRun[0] == "All":
		req.DryRun = true
	default:
		return nil, apierrors.BadRequest("dryRun %q: the only dry-run value is All", o.DryRun)
	}
	if p := o.Preconditions; p != nil {
		req.Preconditions = &apiv1.Preconditions{}
		if p.UID != nil {
			req.Preconditions.Uid = *p.UID
		}
		if p.ResourceVersion != nil {
			req.Preconditions.ResourceVersion = *p.ResourceVersion
		}
	}
	return req, nil
}

// delete answers a DELETE of one object: the object as it is left (marked
// for deletion while finalizers or a grace period hold it), or as it was
// when it is gone.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request, q *request) error {
	req, err := h.readDeleteOptions(w, r, q)
	if err != nil {
		return err
	}
	resp, err := h.cfg.API.Delete(r.Context(), req)
	if err != nil {
		return err
	}
	return h.answer(w, r, http.StatusOK, q.kind, resp.GetObject())
}

// deleteCollection answers a DELETE of the collection: every object the
// selectors match is deleted with the request's options, each as its own
// delete (authorized, admitted and audited as such).
func (h *Handler) deleteCollection(w http.ResponseWriter, r *http.Request, q *request) error {
	opts, err := h.readDeleteOptions(w, r, q)
	if err != nil {
		return err
	}
	v := r.URL.Query()
	list, err := h.cfg.API.List(r.Context(), &apiv1.ListRequest{Resource: q.resource(), Namespace: q.namespace,
		LabelSelector: v.Get("labelSelector"), FieldSelector: v.Get("fieldSelector")})
	if err != nil {
		return err
	}
	for _, a := range list.GetItems() {
		obj, err := q.unpack(a)
		if err != nil {
			return err
		}
		m := scheme.Meta(obj)
		req := proto.Clone(opts).(*apiv1.DeleteRequest)
		req.Namespace, req.Name = m.Namespace, m.Name
		if _, err := h.cfg.API.Delete(r.Context(), req); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Success"})
	return nil
}
