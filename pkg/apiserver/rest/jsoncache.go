package rest

import (
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
)

// jsonCache remembers the Kubernetes JSON of the objects the API answered
// with, by their stored bytes: the same bytes always encode to the same
// JSON, so a list of a thousand unchanged pods, or an event sent to many
// watchers, is encoded once rather than on every answer. It holds at most
// limit bytes (keys and JSON): entries live in two generations; when the
// current one reaches half the limit it becomes the previous one and the
// previous one is dropped, and an entry found in the previous one moves
// to the current one. Custom resources are not cached (their JSON depends
// on the version asked for). The zero value caches nothing; safe for
// concurrent use.
type jsonCache struct {
	limit int

	mu        sync.Mutex
	cur, prev map[string]jsonEntry // by the Any's value
	curBytes  int
}

// jsonEntry is one object's JSON and the type URL of the bytes it came
// from (different kinds may, rarely, share bytes).
type jsonEntry struct {
	typeURL string
	json    []byte
}

func newJSONCache(limit int) *jsonCache {
	return &jsonCache{limit: limit, cur: map[string]jsonEntry{}, prev: map[string]jsonEntry{}}
}

// appendJSON appends the JSON of a, an object of kind k the API answered
// with, to b. obj, when not nil, is the message a encodes (the API's
// scheme.Answer), which spares decoding a. The returned slice is b's; the
// cache keeps its own copy.
func (c *jsonCache) appendJSON(b []byte, k *scheme.Kind, a *anypb.Any, obj proto.Message) ([]byte, error) {
	if c == nil || c.limit <= 0 || k.Dynamic {
		return encodeAny(b, k, a, obj)
	}
	if j, ok := c.lookup(a); ok {
		return append(b, j...), nil
	}
	start := len(b)
	b, err := encodeAny(b, k, a, obj)
	if err != nil {
		return b, err
	}
	c.store(a, b[start:])
	return b, nil
}

func (c *jsonCache) lookup(a *anypb.Any) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cur[string(a.GetValue())]
	if !ok {
		if e, ok = c.prev[string(a.GetValue())]; ok && e.typeURL == a.GetTypeUrl() {
			c.addLocked(string(a.GetValue()), e)
		}
	}
	if !ok || e.typeURL != a.GetTypeUrl() {
		return nil, false
	}
	return e.json, true
}

func (c *jsonCache) store(a *anypb.Any, json []byte) {
	e := jsonEntry{typeURL: a.GetTypeUrl(), json: append([]byte(nil), json...)}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addLocked(string(a.GetValue()), e)
}

// addLocked adds e under key to the current generation, starting a new
// generation first when the current one is full. An entry larger than a
// generation is not kept.
func (c *jsonCache) addLocked(key string, e jsonEntry) {
	size := len(key) + len(e.json)
	if size > c.limit/2 {
		return
	}
	if c.curBytes+size > c.limit/2 {
		c.prev, c.cur, c.curBytes = c.cur, map[string]jsonEntry{}, 0
	}
	if _, ok := c.cur[key]; !ok {
		c.curBytes += size
	}
	c.cur[key] = e
}

// encodeAny appends the JSON of a, an object of kind k, to b, decoding a
// unless obj, the message it encodes, is given: a custom resource stored
// at another version of its definition is converted (conversion None:
// only its apiVersion changes).
func encodeAny(b []byte, k *scheme.Kind, a *anypb.Any, obj proto.Message) ([]byte, error) {
	var err error
	if obj == nil {
		if obj, err = unpack(a); err != nil {
			return b, err
		}
	}
	k.Stamp(obj)
	if b, err = manifest.AppendJSON(b, obj); err != nil {
		return b, apierrors.Internal("encoding %s: %v", k.Kind, err)
	}
	return b, nil
}
