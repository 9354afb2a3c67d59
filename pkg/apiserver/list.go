package apiserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/anypb"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/storage"
	"keel.dev/keel/pkg/watchcache"
)

// consistentWait bounds how long a consistent List waits for the watch cache
// to reach etcd's revision before reading etcd directly.
const consistentWait = 3 * time.Second

// selectedName is the one object name a field selector requires
// (metadata.name=NAME), else "". As in Kubernetes, a list or watch of one
// name is authorized with that name: a kubelet may watch one Secret, or
// its own Node, by name.
func selectedName(p watchcache.Predicate) string {
	if p.Field == nil {
		return ""
	}
	name, _ := p.Field.RequiresExactMatch("metadata.name")
	return name
}

// readAttributes are what a list or watch of r with pred is authorized
// as: its selected name, and its label selector.
func readAttributes(verb string, r *resource, ns string, p watchcache.Predicate) auth.Attributes {
	return auth.Attributes{Verb: verb, APIGroup: r.kind.Group, Resource: r.kind.Resource, Namespace: ns, Name: selectedName(p), LabelSelector: p.Label}
}

// predicate parses a request's namespace and selectors.
func (r *resource) predicate(ns, labelSel, fieldSel string) (watchcache.Predicate, error) {
	p := watchcache.Predicate{}
	if r.kind.Namespaced {
		p.Namespace = ns
	}
	if labelSel != "" {
		sel, err := labels.Parse(labelSel)
		if err != nil {
			return p, apierrors.BadRequest("invalid label selector %q: %v", labelSel, err)
		}
		p.Label = sel
	}
	if fieldSel != "" {
		sel, err := fields.ParseSelector(fieldSel)
		if err != nil {
			return p, apierrors.BadRequest("invalid field selector %q: %v", fieldSel, err)
		}
		if bad := r.checkFieldSelector(sel); len(bad) > 0 {
			return p, apierrors.BadRequest("field label not supported for %s: %s", r.kind.Resource, joinQuoted(bad))
		}
		p.Field = sel
	}
	return p, nil
}

// List implements the API, served from the watch cache: resourceVersion
// "0" takes the cache as it is; empty waits until the cache has caught up
// with etcd's current revision (a consistent read); a number waits until
// the cache is at least that new. With limit, every page shows the first
// page's revision: the cache rebuilds it from its window of recent
// changes, and once the window has moved past it the page is read from
// etcd at that revision (Expired once etcd has compacted it). A cache that
// cannot catch up in time is bypassed: the list is read from etcd.
func (s *Server) List(ctx context.Context, req *apiv1.ListRequest) (*apiv1.ListResponse, error) {
	if k, ok := computedKind(req.GetResource()); ok {
		return s.listComputed(ctx, k, req)
	}
	r, err := s.lookup(ctx, req.GetResource())
	if err != nil {
		return nil, err
	}
	pred, err := r.predicate(req.GetNamespace(), req.GetLabelSelector(), req.GetFieldSelector())
	if err != nil {
		return nil, err
	}
	if err := s.authorizeRequest(ctx, readAttributes("list", r, req.GetNamespace(), pred)); err != nil {
		return nil, err
	}
	if req.GetLimit() < 0 {
		return nil, apierrors.BadRequest("limit must be >= 0, got %d", req.GetLimit())
	}
	limit := req.GetLimit()
	if req.GetContinue() != "" {
		t, err := decodeContinue(req.GetContinue())
		if err != nil {
			return nil, err
		}
		if prefix := r.nsPrefix(pred.Namespace); !strings.HasPrefix(t.Start, prefix) {
			return nil, apierrors.BadRequest("continue token does not belong to this list")
		}
		return s.listAt(ctx, r, pred, limit, t)
	}
	minRev, err := parseRV(req.GetResourceVersion())
	if err != nil {
		return nil, err
	}
	switch req.GetResourceVersionMatch() {
	case "", "NotOlderThan":
	case "Exact":
		if minRev <= 0 {
			return nil, apierrors.BadRequest("resourceVersionMatch Exact needs a resourceVersion other than 0")
		}
		if err := s.waitForCache(ctx, r, minRev); err != nil {
			return nil, err
		}
		return s.listAt(ctx, r, pred, limit, continueToken{Rev: minRev})
	default:
		return nil, apierrors.BadRequest("resourceVersionMatch %q: must be NotOlderThan or Exact", req.GetResourceVersionMatch())
	}
	if req.GetResourceVersion() == "" {
		if minRev, err = s.store.Revision(ctx); err != nil {
			return nil, storageErr(err, r, "")
		}
	}
	if minRev > 0 {
		wctx, cancel := context.WithTimeout(ctx, consistentWait)
		err := r.cache.WaitForRevision(wctx, minRev)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			s.log.Warn("watch cache behind etcd; listing from etcd")
			return s.listPage(ctx, r, pred, limit, continueToken{})
		}
	}
	if limit > 0 {
		return s.listAt(ctx, r, pred, limit, continueToken{Rev: r.cache.Revision()})
	}
	entries, rev, err := r.cache.List(pred)
	if err != nil {
		return nil, apierrors.Unavailable("%s: %v", r.kind.Resource, err)
	}
	resp := &apiv1.ListResponse{Items: make([]*anypb.Any, len(entries)), ResourceVersion: strconv.FormatInt(rev, 10)}
	url := r.kind.TypeURL()
	for i, e := range entries {
		resp.Items[i] = &anypb.Any{TypeUrl: url, Value: e.Raw}
	}
	return resp, nil
}

// continueToken is the opaque List continuation: the snapshot revision and
// the key after which the next page starts.
type continueToken struct {
	Rev   int64  `json:"rv"`
	Start string `json:"start"`
}

func encodeContinue(t continueToken) string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Rev <= 0 || t.Start == "" {
		return t, apierrors.BadRequest("invalid continue token")
	}
	return t, nil
}

// listAt is one page of limit items at t.Rev from key t.Start (t.Rev 0:
// the cache's current revision), from the watch cache, or from etcd when
// the cache no longer holds (or does not yet hold) that revision.
func (s *Server) listAt(ctx context.Context, r *resource, pred watchcache.Predicate, limit int64, t continueToken) (*apiv1.ListResponse, error) {
	entries, next, err := r.cache.ListAt(t.Rev, pred, t.Start, int(limit))
	if err != nil {
		return s.listPage(ctx, r, pred, limit, t)
	}
	resp := &apiv1.ListResponse{Items: make([]*anypb.Any, len(entries)), ResourceVersion: strconv.FormatInt(t.Rev, 10)}
	url := r.kind.TypeURL()
	for i, e := range entries {
		resp.Items[i] = &anypb.Any{TypeUrl: url, Value: e.Raw}
	}
	if next != "" {
		resp.Continue = encodeContinue(continueToken{Rev: t.Rev, Start: next})
	}
	return resp, nil
}

// listPage reads one page of limit items (0: all) from etcd at revision
// t.Rev (0: the current one) from key t.Start. Items the selectors drop do
// not count towards the limit, so a page may take several etcd reads.
func (s *Server) listPage(ctx context.Context, r *resource, pred watchcache.Predicate, limit int64, t continueToken) (*apiv1.ListResponse, error) {
	prefix := r.nsPrefix(pred.Namespace)
	opts := storage.ListOptions{Revision: t.Rev, StartKey: t.Start}
	resp := &apiv1.ListResponse{}
	url := r.kind.TypeURL()
	for {
		if limit > 0 {
			opts.Limit = limit - int64(len(resp.Items)) + 1 // one more tells whether more remain
		}
		page, err := s.store.List(ctx, prefix, opts)
		if errors.Is(err, storage.ErrCompacted) {
			return nil, apierrors.Expired("the resourceVersion %d of this list is too old: etcd has compacted it; list again from the start", t.Rev)
		}
		if err != nil {
			return nil, storageErr(err, r, "")
		}
		opts.Revision = page.Revision
		for i, kv := range page.Items {
			if limit > 0 && int64(len(resp.Items)) == limit {
				resp.Continue = encodeContinue(continueToken{Rev: page.Revision, Start: kv.Key})
				break
			}
			e, err := r.decode(kv.Key, kv.Value, kv.ModRevision)
			if err != nil {
				return nil, apierrors.Internal("decoding %s: %v", kv.Key, err)
			}
			if pred.Matches(e) {
				resp.Items = append(resp.Items, &anypb.Any{TypeUrl: url, Value: e.Raw})
			}
			if i == len(page.Items)-1 {
				opts.StartKey = kv.Key + "\x00"
			}
		}
		if resp.Continue != "" || !page.More || len(page.Items) == 0 {
			break
		}
	}
	resp.ResourceVersion = strconv.FormatInt(opts.Revision, 10)
	return resp, nil
}

// waitForCache waits (at most consistentWait) until the kind's cache has
// reached rev: a version beyond it is refused as Kubernetes refuses one
// (504, "Too large resource version").
func (s *Server) waitForCache(ctx context.Context, r *resource, rev int64) error {
	wctx, cancel := context.WithTimeout(ctx, consistentWait)
	defer cancel()
	if err := r.cache.WaitForRevision(wctx, rev); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return apierrors.Timeout("Too large resource version: %d, current: %d", rev, r.cache.Revision())
	}
	return nil
}
