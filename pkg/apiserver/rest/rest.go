// Package rest serves Kubernetes' REST/JSON API (what kubectl, client-go
// and Helm speak) over the apiserver's generic API: discovery (/api,
// /apis, per group and version, and the aggregated apidiscovery.k8s.io/v2
// form), /version, and for every kind get, list, watch, create, update,
// patch, delete and deletecollection with the subresources the apiserver
// has (status, scale, eviction, binding, token, log, and the streaming
// exec, attach and portforward, served by Config.Connect).
//
// The handler holds no semantics of its own: every resource request
// becomes a call of Config.API — the apiserver's gRPC handlers behind the
// same interceptors as gRPC calls (audit, metrics, flow control), which
// authorize it with the Kubernetes verb, admit, validate and store it —
// and its answer is translated to Kubernetes' JSON (package manifest) or
// to a meta/v1 Status (apierrors.Status). The caller authenticates the
// request before, as for gRPC (see apiserver.Server.HTTPHandler).
package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/scheme"
)

// API is the apiserver's generic API as the handler calls it: the methods
// of the gRPC service (apiv1.APIServer) it uses. Errors may be gRPC status
// errors (apierrors.FromStatus reads them).
type API interface {
	Create(context.Context, *apiv1.CreateRequest) (*anypb.Any, error)
	Get(context.Context, *apiv1.GetRequest) (*anypb.Any, error)
	List(context.Context, *apiv1.ListRequest) (*apiv1.ListResponse, error)
	Update(context.Context, *apiv1.UpdateRequest) (*anypb.Any, error)
	UpdateStatus(context.Context, *apiv1.UpdateRequest) (*anypb.Any, error)
	Delete(context.Context, *apiv1.DeleteRequest) (*apiv1.DeleteResponse, error)
	Bind(context.Context, *apiv1.BindRequest) (*anypb.Any, error)
	Watch(*apiv1.WatchRequest, apiv1.API_WatchServer) error
	Logs(*apiv1.LogsRequest, apiv1.API_LogsServer) error
}

// Config configures a Handler.
type Config struct {
	// API serves every resource request, authorizing it as the user of
	// the request's context (auth.WithUser).
	API API
	// Version is served as /version (a JSON object).
	Version any
	// Subresources are the subresources beyond status and scale that
	// API answers, for discovery and routing.
	Subresources []Subresource
	// OpenAPIV2 serves /openapi/v2 and OpenAPIV3 /openapi/v3 and below
	// (nil: 404).
	OpenAPIV2, OpenAPIV3 http.Handler
	// Table renders Table output when a client asks for it (Accept
	// application/json;as=Table;v=v1;g=meta.k8s.io); nil: the objects are
	// served as they are.
	Table TableConverter
	// PatchMeta gives the strategic merge patch strategies and merge
	// keys of a message's fields (md nil: of a Scale's); nil: strategic
	// merge patches are refused (415).
	PatchMeta func(md protoreflect.MessageDescriptor) strategicpatch.LookupPatchMeta
	// TypeConverter types objects by their OpenAPI schemas for
	// server-side apply and managedFields (structured-merge-diff); nil:
	// applies are refused (415) and no write is tracked.
	TypeConverter managedfields.TypeConverter
	// CustomResourceTypeConverter types the objects of a custom resource
	// kind for server-side apply; nil, or a nil answer: they are typed by
	// a deduced converter (every field a scalar or a map).
	CustomResourceTypeConverter func(k *scheme.Kind) managedfields.TypeConverter
	// Connect serves a streaming session of a subresource (pods exec,
	// attach, portforward: routed here whatever the verb), authorizing
	// it itself; it answers (upgrades) the request and returns an error
	// only before answering. nil: such requests are refused (405).
	Connect func(w http.ResponseWriter, r *http.Request, namespace, name, subresource string) error
	// CatchUp, when set, waits briefly until the custom resources of the
	// definitions this apiserver has just stored are served: asked before
	// a request for an unknown resource is refused.
	CatchUp func(ctx context.Context)
	// MaxBodyBytes bounds a request body (413 beyond it).
	MaxBodyBytes int64
	// JSONCacheBytes bounds the memory that keeps the JSON of recently
	// answered objects, so unchanged objects are not encoded again for
	// every list, get and watcher (0: DefaultJSONCacheBytes; negative:
	// no cache).
	JSONCacheBytes int
	Logger         *zap.Logger
}

// DefaultJSONCacheBytes is Config.JSONCacheBytes's default: the JSON of
// about ten thousand pods.
const DefaultJSONCacheBytes = 32 << 20

// Subresource is a subresource of a kind's objects that the API answers
// besides status and scale: POST pods/NAME/eviction with a policy/v1
// Eviction, GET pods/NAME/log…
type Subresource struct {
	// Resource is the parent ("pods"), Name the subresource ("eviction").
	Resource, Name string
	// Kind is the kind of the body and answer (policy/v1 Eviction); for
	// log, the parent's.
	Group, Version, Kind string
	Verbs                []string
	// Connect marks a streaming subresource, served by Config.Connect.
	Connect bool
}

// TableConverter renders objs (of kind k; one object for a get, the
// items of a list) as a meta.k8s.io/v1 Table ready for encoding/json.
// list carries a list's metadata (nil for a get); includeObject is the
// request's includeObject parameter ("" means Kubernetes' default,
// Metadata).
type TableConverter func(k *scheme.Kind, objs []proto.Message, list *ListMeta, includeObject string) (any, error)

// ListMeta is a list's metadata.
type ListMeta struct {
	ResourceVersion    string `json:"resourceVersion,omitempty"`
	Continue           string `json:"continue,omitempty"`
	RemainingItemCount *int64 `json:"remainingItemCount,omitempty"`
}

// Handler serves the REST API. It is safe for concurrent use.
type Handler struct {
	cfg  Config
	subs map[string]Subresource // by "resource/name"
	fms  *fieldManagers
	json *jsonCache
	// disc are the discovery documents, built for the custom resources
	// of generation discGen (scheme.DynamicGeneration).
	discMu  sync.Mutex
	disc    *discovery
	discGen uint64
}

// discovery returns the discovery documents, rebuilt when the custom
// resources changed.
func (h *Handler) discovery() *discovery {
	h.discMu.Lock()
	defer h.discMu.Unlock()
	if gen := scheme.DynamicGeneration(); h.disc == nil || gen != h.discGen {
		h.disc, h.discGen = newDiscovery(h.cfg.Subresources), gen
	}
	return h.disc
}

// New builds a Handler.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 3 << 20
	}
	if cfg.JSONCacheBytes == 0 {
		cfg.JSONCacheBytes = DefaultJSONCacheBytes
	}
	h := &Handler{cfg: cfg, subs: map[string]Subresource{}, fms: &fieldManagers{tc: cfg.TypeConverter, custom: cfg.CustomResourceTypeConverter}, json: newJSONCache(cfg.JSONCacheBytes)}
	for _, s := range cfg.Subresources {
		h.subs[s.Resource+"/"+s.Name] = s
	}
	return h
}

// Paths are the path prefixes the handler serves: each exact, and
// everything below it.
var Paths = []string{"/api", "/apis", "/version", "/openapi/v2", "/openapi/v3"}

// IsResourceRequest reports whether path names a resource (a kind's
// collection, an object or a subresource) rather than a non-resource URL
// such as discovery: resource requests are authorized by API with their
// verb, non-resource ones by the caller with the path.
func IsResourceRequest(path string) bool {
	_, _, rest, ok := splitGroupVersion(path)
	return ok && len(rest) > 0
}

// splitGroupVersion splits /api/v1/REST… and /apis/GROUP/VERSION/REST…
// into the group, version and the remaining segments.
func splitGroupVersion(path string) (group, version string, rest []string, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		return "", parts[1], parts[2:], true
	case len(parts) >= 3 && parts[0] == "apis":
		return parts[1], parts[2], parts[3:], true
	}
	return "", "", nil, false
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/version" || p == "/version/":
		writeJSON(w, http.StatusOK, h.cfg.Version)
		return
	case under(p, "/openapi/v2"):
		serveOr404(w, r, h.cfg.OpenAPIV2)
		return
	case under(p, "/openapi/v3"):
		serveOr404(w, r, h.cfg.OpenAPIV3)
		return
	}
	if IsResourceRequest(p) {
		h.serveResource(w, r)
		return
	}
	h.discovery().serve(w, r)
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func serveOr404(w http.ResponseWriter, r *http.Request, h http.Handler) {
	if h == nil {
		notFound(w, r)
		return
	}
	h.ServeHTTP(w, r)
}

// notFound is Kubernetes' answer to a path it does not serve.
func notFound(w http.ResponseWriter, r *http.Request) {
	apierrors.WriteHTTP(w, &apierrors.Error{Reason: apierrors.ReasonNotFound, Message: "the server could not find the requested resource"})
}

// writeJSON answers with v as JSON (Content-Type application/json unless
// the caller set another).
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		apierrors.WriteHTTP(w, apierrors.Internal("encoding the answer: %v", err))
		return
	}
	writeRaw(w, code, b)
}

// writeRaw answers with b, which is JSON (Content-Type application/json
// unless the caller set another).
func writeRaw(w http.ResponseWriter, code int, b []byte) {
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
