package apiserver

import (
	"context"
	"strings"
	"sync"

	"go.uber.org/zap"
	k8smetav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	"keel.dev/keel/pkg/apiserver/openapi"
	"keel.dev/keel/pkg/apiserver/rest"
	"keel.dev/keel/pkg/printers"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/version"
)

// KubernetesMinor is the Kubernetes minor version whose API the REST
// surface speaks, reported by /version (clients such as Helm compare
// charts' kubeVersion constraints with it).
const KubernetesMinor = "32"

// restSubresources are the subresources the REST surface routes to the
// API besides status and scale: the creates answered by handleCreate,
// Bind and Logs, and the kinds' own update subresources.
var restSubresources = []rest.Subresource{
	{Resource: "pods", Name: "binding", Version: "v1", Kind: "Binding", Verbs: []string{"create"}},
	{Resource: "pods", Name: "eviction", Group: "policy", Version: "v1", Kind: "Eviction", Verbs: []string{"create"}},
	{Resource: "pods", Name: "log", Version: "v1", Kind: "Pod", Verbs: []string{"get"}},
	{Resource: "pods", Name: "exec", Version: "v1", Kind: "PodExecOptions", Verbs: []string{"create", "get"}, Connect: true},
	{Resource: "pods", Name: "attach", Version: "v1", Kind: "PodAttachOptions", Verbs: []string{"create", "get"}, Connect: true},
	{Resource: "pods", Name: "portforward", Version: "v1", Kind: "PodPortForwardOptions", Verbs: []string{"create", "get"}, Connect: true},
	{Resource: "serviceaccounts", Name: "token", Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest", Verbs: []string{"create"}},
	{Resource: "certificatesigningrequests", Name: "approval", Group: "certificates.k8s.io", Version: "v1", Kind: "CertificateSigningRequest", Verbs: []string{"get", "patch", "update"}},
}

// RESTConfig is the configuration of the REST surface over this server
// (see package rest): every resource request goes through API(). The
// caller may set the OpenAPI handlers and the Table converter before
// building the handler with rest.New.
func (s *Server) RESTConfig() rest.Config {
	v := version.Get()
	return rest.Config{
		API: localAPI{s},
		Version: map[string]string{
			"major": "1", "minor": KubernetesMinor,
			"gitVersion":   "v1." + KubernetesMinor + ".0+keel-" + strings.TrimPrefix(v.GitVersion, "v"),
			"gitCommit":    v.GitCommit,
			"gitTreeState": map[bool]string{true: "dirty", false: "clean"}[v.Modified],
			"goVersion":    v.GoVersion,
			"compiler":     "gc",
			"platform":     v.Platform,
		},
		Subresources:  restSubresources,
		OpenAPIV2:     s.openAPI.V2,
		OpenAPIV3:     s.openAPI.V3,
		Table:         s.restTable,
		PatchMeta:     openapi.PatchMeta,
		TypeConverter: s.openAPI.TypeConverter,
		CustomResourceTypeConverter: func(k *scheme.Kind) managedfields.TypeConverter {
			return s.openAPI.CustomResourceTypeConverter(k.Group, k.Kind)
		},
		Connect:      s.Connect,
		CatchUp:      s.catchUpCRDs,
		MaxBodyBytes: MaxRequestBytes,
		Logger:       s.log,
	}
}

// staticOpenAPI builds the registered kinds' OpenAPI documents once per
// process: they depend only on the registry and restSubresources.
var staticOpenAPI = sync.OnceValues(func() (*openapi.Static, error) { return openapi.Build(restSubresources) })

// newOpenAPI returns a server's OpenAPI handlers: the registered kinds'
// documents, and its custom resources' as it serves them. Documents that
// cannot be built are logged and answered 404.
func newOpenAPI(log *zap.Logger) *openapi.Handlers {
	st, err := staticOpenAPI()
	if err == nil {
		var h *openapi.Handlers
		if h, err = st.Handlers(); err == nil {
			return h
		}
	}
	log.Error("OpenAPI documents", zap.Error(err))
	return &openapi.Handlers{}
}

// restTable renders objs as a meta.k8s.io/v1 Table of keelctl's columns
// (rest.TableConverter), ages against the server's clock.
func (s *Server) restTable(k *scheme.Kind, objs []proto.Message, list *rest.ListMeta, includeObject string) (any, error) {
	policy := k8smetav1.IncludeObjectPolicy(includeObject)
	switch policy {
	case "", k8smetav1.IncludeNone, k8smetav1.IncludeMetadata, k8smetav1.IncludeObject:
	default:
		return nil, apierrors.BadRequest("includeObject=%s: must be None, Metadata or Object", includeObject)
	}
	t, err := printers.ToTable(k, objs, printers.TableOptions{IncludeObject: policy, Now: s.now().AsTime()})
	if err != nil {
		return nil, apierrors.Internal("rendering a table: %v", err)
	}
	if list != nil {
		t.ResourceVersion, t.Continue, t.RemainingItemCount = list.ResourceVersion, list.Continue, list.RemainingItemCount
	}
	return t, nil
}

// localAPI serves the API in process to callers that are already
// authenticated (the user is in the context: the REST surface), through
// the same interceptors as a gRPC call after authentication —
// impersonation is the caller's too — so that audit, metrics, panics and
// flow control treat both alike. Errors are gRPC status errors, as a
// gRPC client receives them (apierrors.FromStatus reads them).
type localAPI struct{ s *Server }

var _ rest.API = localAPI{}

// unary runs the unary method named by its short name ("Create") with req.
func (l localAPI) unary(ctx context.Context, name string, req proto.Message) (any, error) {
	for _, m := range apiv1.API_ServiceDesc.Methods {
		if m.MethodName != name {
			continue
		}
		dec := func(v any) error { proto.Merge(v.(proto.Message), req); return nil }
		return m.Handler(l.s, ctx, dec, chainUnary(l.s.unaryAfterAuthn()))
	}
	return nil, apierrors.ToStatus(apierrors.Internal("no API method %s", name))
}

// stream runs the streaming method named name with req, sending to ss.
func (l localAPI) stream(name string, req proto.Message, ss grpc.ServerStream) error {
	for _, d := range apiv1.API_ServiceDesc.Streams {
		if d.StreamName != name {
			continue
		}
		info := &grpc.StreamServerInfo{FullMethod: "/" + apiv1.API_ServiceDesc.ServiceName + "/" + name, IsServerStream: true}
		return chainStream(l.s.streamAfterAuthn())(l.s, &requestStream{ServerStream: ss, req: req}, info, d.Handler)
	}
	return apierrors.ToStatus(apierrors.Internal("no API stream %s", name))
}

func localUnary[T any](l localAPI, ctx context.Context, name string, req proto.Message) (T, error) {
	resp, err := l.unary(ctx, name, req)
	out, _ := resp.(T)
	return out, err
}

func (l localAPI) Create(ctx context.Context, req *apiv1.CreateRequest) (*anypb.Any, error) {
	return localUnary[*anypb.Any](l, ctx, "Create", req)
}

func (l localAPI) Get(ctx context.Context, req *apiv1.GetRequest) (*anypb.Any, error) {
	return localUnary[*anypb.Any](l, ctx, "Get", req)
}

func (l localAPI) List(ctx context.Context, req *apiv1.ListRequest) (*apiv1.ListResponse, error) {
	return localUnary[*apiv1.ListResponse](l, ctx, "List", req)
}

func (l localAPI) Update(ctx context.Context, req *apiv1.UpdateRequest) (*anypb.Any, error) {
	return localUnary[*anypb.Any](l, ctx, "Update", req)
}

func (l localAPI) UpdateStatus(ctx context.Context, req *apiv1.UpdateRequest) (*anypb.Any, error) {
	return localUnary[*anypb.Any](l, ctx, "UpdateStatus", req)
}

func (l localAPI) Delete(ctx context.Context, req *apiv1.DeleteRequest) (*apiv1.DeleteResponse, error) {
	return localUnary[*apiv1.DeleteResponse](l, ctx, "Delete", req)
}

func (l localAPI) Bind(ctx context.Context, req *apiv1.BindRequest) (*anypb.Any, error) {
	return localUnary[*anypb.Any](l, ctx, "Bind", req)
}

func (l localAPI) Watch(req *apiv1.WatchRequest, ss apiv1.API_WatchServer) error {
	return l.stream("Watch", req, ss)
}

func (l localAPI) Logs(req *apiv1.LogsRequest, ss apiv1.API_LogsServer) error {
	return l.stream("Logs", req, ss)
}

// requestStream gives a stream's handler its request as the first (and
// only) message received.
type requestStream struct {
	grpc.ServerStream
	req  proto.Message
	read bool
}

func (r *requestStream) RecvMsg(m any) error {
	if r.read {
		return apierrors.BadRequest("a stream takes one request")
	}
	r.read = true
	proto.Merge(m.(proto.Message), r.req)
	return nil
}

// chainUnary is the interceptors as one, first outermost.
func chainUnary(is []grpc.UnaryServerInterceptor) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		next := h
		for i := len(is) - 1; i >= 0; i-- {
			in, inner := is[i], next
			next = func(ctx context.Context, req any) (any, error) { return in(ctx, req, info, inner) }
		}
		return next(ctx, req)
	}
}

// chainStream is the stream interceptors as one, first outermost.
func chainStream(is []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		next := h
		for i := len(is) - 1; i >= 0; i-- {
			in, inner := is[i], next
			next = func(srv any, ss grpc.ServerStream) error { return in(srv, ss, info, inner) }
		}
		return next(srv, ss)
	}
}
