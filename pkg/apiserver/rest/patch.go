package rest

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/scheme"
)

// Patch content types.
const (
	mergePatchType     = "application/merge-patch+json"
	jsonPatchType      = "application/json-patch+json"
	strategicPatchType = "application/strategic-merge-patch+json"
	applyPatchType     = "application/apply-patch+yaml"
)

// patchRetries bounds the re-reads of a patch that met a concurrent
// write: a patch that pins no resourceVersion is applied again to the
// fresh object, as Kubernetes does.
const patchRetries = 5

// readPatch reads a PATCH body after checking its content type: JSON
// merge patch, JSON patch, strategic merge patch (with Config.PatchMeta)
// and, where apply is true, server-side apply (with
// Config.TypeConverter) are served.
func (h *Handler) readPatch(w http.ResponseWriter, r *http.Request, apply bool) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == mergePatchType, mt == jsonPatchType, mt == strategicPatchType && h.cfg.PatchMeta != nil,
		mt == applyPatchType && apply && h.cfg.TypeConverter != nil:
	case mt == applyPatchType, mt == strategicPatchType:
		return nil, apierrors.UnsupportedMediaType("the body of the request was in an unknown format - accepted media types include: %s, %s, %s (%s is not served here)", jsonPatchType, mergePatchType, strategicPatchType, mt)
	default:
		return nil, apierrors.UnsupportedMediaType("the body of the request was in an unknown format - accepted media types include: %s, %s, %s, %s", jsonPatchType, mergePatchType, strategicPatchType, applyPatchType)
	}
	return h.readLimited(w, r)
}

// applyPatch applies the request's patch to the JSON document cur, an
// object of message md (nil: a Scale).
func (h *Handler) applyPatch(r *http.Request, md protoreflect.MessageDescriptor, cur, patch []byte) ([]byte, error) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == strategicPatchType {
		out, err := strategicpatch.StrategicMergePatchUsingLookupPatchMeta(cur, patch, h.cfg.PatchMeta(md))
		if err != nil {
			return nil, apierrors.BadRequest("the strategic merge patch: %v", err)
		}
		return out, nil
	}
	doc, err := decodeJSON(cur)
	if err != nil {
		return nil, apierrors.Internal("decoding the stored object: %v", err)
	}
	p, err := decodeJSON(patch)
	if err != nil {
		return nil, apierrors.BadRequest("the patch is not valid JSON: %v", err)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == jsonPatchType {
		ops, ok := p.([]any)
		if !ok {
			return nil, apierrors.BadRequest("a JSON patch is a list of operations")
		}
		if doc, err = jsonPatch(doc, ops); err != nil {
			return nil, err
		}
	} else {
		doc = mergePatch(doc, p)
	}
	return json.Marshal(doc)
}

// decodeJSON decodes JSON keeping numbers exact (json.Number).
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// mergePatch applies a JSON merge patch (RFC 7386): objects merge key by
// key, null removes a key, anything else replaces.
func mergePatch(doc, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	dm, ok := doc.(map[string]any)
	if !ok {
		dm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(dm, k)
			continue
		}
		dm[k] = mergePatch(dm[k], v)
	}
	return dm
}

// jsonPatch applies a JSON patch (RFC 6902): add, remove, replace, move,
// copy and test, each at a JSON pointer.
func jsonPatch(doc any, ops []any) (any, error) {
	for i, o := range ops {
		op, ok := o.(map[string]any)
		if !ok {
			return nil, apierrors.BadRequest("JSON patch operation %d is not an object", i)
		}
		name, _ := op["op"].(string)
		path, _ := op["path"].(string)
		from, _ := op["from"].(string)
		value, hasValue := op["value"]
		var err error
		switch name {
		case "add", "replace":
			if !hasValue {
				return nil, apierrors.BadRequest("JSON patch operation %d (%s %s) has no value", i, name, path)
			}
			doc, err = pointerSet(doc, path, value, name == "replace")
		case "remove":
			doc, _, err = pointerRemove(doc, path)
		case "move", "copy":
			var v any
			if name == "move" {
				doc, v, err = pointerRemove(doc, from)
			} else {
				v, err = pointerGet(doc, from)
			}
			if err == nil {
				doc, err = pointerSet(doc, path, deepCopy(v), false)
			}
		case "test":
			var v any
			if v, err = pointerGet(doc, path); err == nil && !jsonEqual(v, value) {
				err = apierrors.BadRequest("JSON patch test failed at %s", path)
			}
		default:
			return nil, apierrors.BadRequest("JSON patch operation %d: unknown op %q", i, name)
		}
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// pointer splits a JSON pointer into its unescaped tokens.
func pointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, apierrors.BadRequest("JSON pointer %q does not start with /", p)
	}
	toks := strings.Split(p[1:], "/")
	for i, t := range toks {
		toks[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return toks, nil
}

// index reads an array index token; end allows "-" and len(a).
func index(tok string, n int, end bool) (int, error) {
	if end && tok == "-" {
		return n, nil
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i > n || (!end && i == n) {
		return 0, apierrors.BadRequest("JSON patch: index %q out of range", tok)
	}
	return i, nil
}

func pointerGet(doc any, p string) (any, error) {
	toks, err := pointer(p)
	if err != nil {
		return nil, err
	}
	cur := doc
	for _, t := range toks {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, apierrors.BadRequest("JSON patch: %s does not exist", p)
			}
			cur = v
		case []any:
			i, err := index(t, len(c), false)
			if err != nil {
				return nil, err
			}
			cur = c[i]
		default:
			return nil, apierrors.BadRequest("JSON patch: %s does not exist", p)
		}
	}
	return cur, nil
}

// pointerSet adds (or, with replace, replaces an existing) value at p.
func pointerSet(doc any, p string, v any, replace bool) (any, error) {
	toks, err := pointer(p)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return v, nil
	}
	parent, err := pointerGet(doc, "/"+strings.Join(escape(toks[:len(toks)-1]), "/"))
	if len(toks) == 1 {
		parent, err = doc, nil
	}
	if err != nil {
		return nil, err
	}
	last := toks[len(toks)-1]
	switch c := parent.(type) {
	case map[string]any:
		if _, ok := c[last]; replace && !ok {
			return nil, apierrors.BadRequest("JSON patch: %s does not exist", p)
		}
		c[last] = v
		return doc, nil
	case []any:
		i, err := index(last, len(c), !replace)
		if err != nil {
			return nil, err
		}
		if replace {
			c[i] = v
			return doc, nil
		}
		c = append(c[:i], append([]any{v}, c[i:]...)...)
		return pointerSet(doc, "/"+strings.Join(escape(toks[:len(toks)-1]), "/"), c, true)
	}
	return nil, apierrors.BadRequest("JSON patch: the parent of %s is not an object or array", p)
}

// pointerRemove removes the value at p and returns it.
func pointerRemove(doc any, p string) (any, any, error) {
	toks, err := pointer(p)
	if err != nil {
		return nil, nil, err
	}
	if len(toks) == 0 {
		return nil, nil, apierrors.BadRequest("JSON patch: cannot remove the whole document")
	}
	v, err := pointerGet(doc, p)
	if err != nil {
		return nil, nil, err
	}
	parentPath := "/" + strings.Join(escape(toks[:len(toks)-1]), "/")
	parent := doc
	if len(toks) > 1 {
		if parent, err = pointerGet(doc, parentPath); err != nil {
			return nil, nil, err
		}
	}
	last := toks[len(toks)-1]
	switch c := parent.(type) {
	case map[string]any:
		delete(c, last)
		return doc, v, nil
	case []any:
		i, _ := index(last, len(c), false)
		c = append(c[:i:i], c[i+1:]...)
		if len(toks) == 1 {
			return c, v, nil
		}
		doc, err = pointerSet(doc, parentPath, c, true)
		return doc, v, err
	}
	return nil, nil, apierrors.BadRequest("JSON patch: %s does not exist", p)
}

func escape(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return out
}

func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	c, _ := decodeJSON(b)
	return c
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// patch answers a PATCH of the object or of its status: the patch is
// applied to the stored object's JSON, which is then stored as an update
// would store it (retrying on a concurrent write unless the patch pins a
// resourceVersion).
func (h *Handler) patch(w http.ResponseWriter, r *http.Request, q *request) error {
	dry, err := dryRun(r)
	if err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == strategicPatchType && q.kind.Dynamic {
		// As in Kubernetes: custom resources declare no patch strategies.
		return apierrors.UnsupportedMediaType("the body of the request was in an unknown format - accepted media types include: %s, %s, %s", jsonPatchType, mergePatchType, applyPatchType)
	}
	body, err := h.readPatch(w, r, true)
	if err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == applyPatchType {
		return h.apply(w, r, q, body)
	}
	for attempt := 0; ; attempt++ {
		obj, err := h.getObject(r, q)
		if err != nil {
			return err
		}
		rv := metaRV(obj)
		cur, err := manifestJSON(obj)
		if err != nil {
			return err
		}
		patched, err := h.applyPatch(r, q.kind.Message.ProtoReflect().Descriptor(), cur, body)
		if err != nil {
			return err
		}
		next, err := decode(w, r, patched, q.kind)
		if err != nil {
			return err
		}
		if err := matchTarget(q, next); err != nil {
			return err
		}
		pinned := metaRV(next) != rv
		if next, err = h.trackUpdate(r, q, obj, next); err != nil {
			return err
		}
		out, err := h.put(r, q, next, dry)
		if apierrors.IsConflict(err) && !pinned && attempt < patchRetries {
			continue
		}
		if err != nil {
			return err
		}
		return h.answer(w, r, http.StatusOK, q.kind, out)
	}
}

func metaRV(obj proto.Message) string { return scheme.Meta(obj).ResourceVersion }
