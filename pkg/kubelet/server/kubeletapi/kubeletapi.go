// Package kubeletapi is the gRPC service a kubelet serves on its port
// (10250) for the apiserver: keel.kubelet.v1.Kubelet, with the methods Logs
// and Exec. It reuses the request and response messages of the API
// (keel.api.v1: LogsRequest, LogsChunk, ExecRequest, ExecResponse), whose
// comments in proto/keel/api/v1/api.proto define their meaning; the kubelet
// receives requests that the apiserver has already authorized and
// completed (the container is always named).
//
// The service is declared here by hand rather than generated, to keep the
// kubelet's protocol out of the public API's proto files; the wire format is
// ordinary protobuf over gRPC. The apiserver side uses Client, the kubelet
// registers a Handler with Register.
package kubeletapi

import (
	"context"

	"google.golang.org/grpc"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
)

// ServiceName is the gRPC service name.
const ServiceName = "keel.kubelet.v1.Kubelet"

// Full method names.
const (
	LogsMethod = "/" + ServiceName + "/Logs"
	ExecMethod = "/" + ServiceName + "/Exec"
)

// DefaultPort is the kubelet's port when the Node does not say.
const DefaultPort = 10250

// MaxMessageSize bounds the messages of the service on both sides: an Exec
// response carries the command's whole output.
const MaxMessageSize = 64 << 20

// Handler is what a kubelet implements.
type Handler interface {
	// Logs streams a container's log (see apiv1.LogsRequest).
	Logs(*apiv1.LogsRequest, grpc.ServerStreamingServer[apiv1.LogsChunk]) error
	// Exec runs a command in a container (see apiv1.ExecRequest).
	Exec(context.Context, *apiv1.ExecRequest) (*apiv1.ExecResponse, error)
}

// Register installs h on s.
func Register(s grpc.ServiceRegistrar, h Handler) {
	s.RegisterService(&serviceDesc, h)
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*Handler)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Exec",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(apiv1.ExecRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				return srv.(Handler).Exec(ctx, req.(*apiv1.ExecRequest))
			}
			if interceptor == nil {
				return call(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: ExecMethod}, call)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Logs",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(apiv1.LogsRequest)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(Handler).Logs(in, &grpc.GenericServerStream[apiv1.LogsRequest, apiv1.LogsChunk]{ServerStream: stream})
		},
	}},
	Metadata: "keel.dev/keel/pkg/kubelet/server/kubeletapi",
}

// Client calls a kubelet's service.
type Client struct {
	cc grpc.ClientConnInterface
}

// NewClient returns a Client over cc.
func NewClient(cc grpc.ClientConnInterface) *Client { return &Client{cc: cc} }

// Logs opens a log stream; receive LogsChunks until io.EOF.
func (c *Client) Logs(ctx context.Context, in *apiv1.LogsRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[apiv1.LogsChunk], error) {
	stream, err := c.cc.NewStream(ctx, &serviceDesc.Streams[0], LogsMethod, opts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[apiv1.LogsRequest, apiv1.LogsChunk]{ClientStream: stream}
	if err := x.ClientStream.SendMsg(in); err != nil {
		return nil, err
	}
	if err := x.ClientStream.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}

// Exec runs a command.
func (c *Client) Exec(ctx context.Context, in *apiv1.ExecRequest, opts ...grpc.CallOption) (*apiv1.ExecResponse, error) {
	out := new(apiv1.ExecResponse)
	if err := c.cc.Invoke(ctx, ExecMethod, in, out, opts...); err != nil {
		return nil, err
	}
	return out, nil
}
