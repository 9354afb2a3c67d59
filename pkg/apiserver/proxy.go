package apiserver

// Logs and Exec: the pods/log and pods/exec subresources (the unary exec
// of the gRPC API; sessions with streams are in streaming.go). The apiserver
// authorizes the caller, finds the pod's node and that node's kubelet
// (status.addresses InternalIP, status.daemonEndpoints.kubeletEndpoint.Port,
// default 10250), and forwards the call to the kubelet's service
// (keel.kubelet.v1.Kubelet, pkg/apis/kubelet/v1) over TLS with Config.KubeletClientTLS,
// verifying that the kubelet's serving certificate is valid for the node's
// name. Log chunks are passed on as they arrive.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
)

// kubeletConnectTimeout bounds the connection to a kubelet.
const kubeletConnectTimeout = 10 * time.Second

// Logs implements the API: see proto/keel/api/v1/api.proto.
func (s *Server) Logs(req *apiv1.LogsRequest, stream grpc.ServerStreamingServer[apiv1.LogsChunk]) error {
	ctx := stream.Context()
	ns, name := req.GetNamespace(), req.GetName()
	if err := s.authorize(ctx, "get", "pods/log", ns, name); err != nil {
		return err
	}
	if req.TailLines != nil && req.GetTailLines() < 0 {
		return apierrors.BadRequest("tail_lines must not be negative")
	}
	if req.GetSinceSeconds() < 0 {
		return apierrors.BadRequest("since_seconds must not be negative")
	}
	if req.GetLimitBytes() < 0 {
		return apierrors.BadRequest("limit_bytes must not be negative")
	}
	pod, node, err := s.podAndNode(ctx, ns, name)
	if err != nil {
		return err
	}
	container, err := chooseContainer(pod, req.GetContainer())
	if err != nil {
		return err
	}
	kreq := proto.Clone(req).(*apiv1.LogsRequest)
	kreq.Container = container
	conn, addr, err := s.dialKubelet(node)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ks, err := kubeletv1.NewKubeletClient(conn).Logs(ctx, kreq)
	if err != nil {
		return kubeletErr(err, node, addr)
	}
	for {
		chunk, err := ks.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return status.FromContextError(ctx.Err()).Err()
			}
			return kubeletErr(err, node, addr)
		}
		if err := stream.Send(chunk); err != nil {
			return err
		}
	}
}

// Exec implements the API: see proto/keel/api/v1/api.proto.
func (s *Server) Exec(ctx context.Context, req *apiv1.ExecRequest) (*apiv1.ExecResponse, error) {
	ns, name := req.GetNamespace(), req.GetName()
	if err := s.authorize(ctx, "create", "pods/exec", ns, name); err != nil {
		return nil, err
	}
	if len(req.GetCommand()) == 0 {
		return nil, apierrors.BadRequest("a command is required")
	}
	if req.GetTimeoutSeconds() < 0 {
		return nil, apierrors.BadRequest("timeout_seconds must not be negative")
	}
	pod, node, err := s.podAndNode(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	container, err := chooseContainer(pod, req.GetContainer())
	if err != nil {
		return nil, err
	}
	kreq := proto.Clone(req).(*apiv1.ExecRequest)
	kreq.Container = container
	conn, addr, err := s.dialKubelet(node)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, err := kubeletv1.NewKubeletClient(conn).Exec(ctx, kreq)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, kubeletErr(err, node, addr)
	}
	return resp, nil
}

// podAndNode reads a pod and the node it is bound to.
func (s *Server) podAndNode(ctx context.Context, ns, name string) (*corev1.Pod, *corev1.Node, error) {
	if ns == "" || name == "" {
		return nil, nil, apierrors.BadRequest("namespace and name are required")
	}
	obj, _, err := s.read(ctx, s.resources["pods"], ns, name)
	if err != nil {
		return nil, nil, err
	}
	pod := obj.(*corev1.Pod)
	nodeName := pod.GetSpec().GetNodeName()
	if nodeName == "" {
		return nil, nil, apierrors.Unavailable("pod %s/%s is not scheduled to a node yet", ns, name)
	}
	obj, _, err = s.read(ctx, s.resources["nodes"], "", nodeName)
	if apierrors.IsNotFound(err) {
		return nil, nil, apierrors.Unavailable("node %q of pod %s/%s is not registered", nodeName, ns, name)
	}
	if err != nil {
		return nil, nil, err
	}
	return pod, obj.(*corev1.Node), nil
}

// chooseContainer returns the container a request is about: the one named
// (a container or an init container of the pod), else the pod's default
// container (annotation), else its only container.
func chooseContainer(pod *corev1.Pod, name string) (string, error) {
	var names, inits []string
	for _, c := range pod.GetSpec().GetContainers() {
		names = append(names, c.GetName())
	}
	for _, c := range pod.GetSpec().GetInitContainers() {
		inits = append(inits, c.GetName())
	}
	podName := pod.GetMetadata().GetName()
	choices := fmt.Sprintf("choose one of: %v", names)
	if len(inits) > 0 {
		choices += fmt.Sprintf(" or one of the init containers: %v", inits)
	}
	if name != "" {
		if slices.Contains(names, name) || slices.Contains(inits, name) {
			return name, nil
		}
		return "", apierrors.BadRequest("container %s is not valid for pod %s: %s", name, podName, choices)
	}
	if d := pod.GetMetadata().GetAnnotations()[api.DefaultContainerAnnotation]; d != "" && slices.Contains(names, d) {
		return d, nil
	}
	if len(names) == 1 {
		return names[0], nil
	}
	return "", apierrors.BadRequest("a container name must be specified for pod %s, %s", podName, choices)
}

// kubeletAddress returns host:port of a node's kubelet: its InternalIP
// (else ExternalIP, else Hostname address) and kubelet port.
func kubeletAddress(node *corev1.Node) (string, error) {
	var host string
	for _, typ := range []string{api.NodeInternalIP, api.NodeExternalIP, api.NodeHostName} {
		for _, a := range node.GetStatus().GetAddresses() {
			if a.GetType() == typ && a.GetAddress() != "" {
				host = a.GetAddress()
				break
			}
		}
		if host != "" {
			break
		}
	}
	if host == "" {
		return "", apierrors.Unavailable("node %q has no address in its status (the kubelet has not reported one)", node.GetMetadata().GetName())
	}
	port := int(node.GetStatus().GetDaemonEndpoints().GetKubeletEndpoint().GetPort())
	if port <= 0 {
		port = kubeletv1.DefaultPort
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// kubeletTLS returns the client TLS configuration for node's kubelet
// (it must present a certificate of the cluster CA valid for the node's
// name) and the kubelet's address.
func (s *Server) kubeletTLS(node *corev1.Node) (*tls.Config, string, error) {
	nodeName := node.GetMetadata().GetName()
	if s.cfg.KubeletClientTLS == nil {
		return nil, "", apierrors.Unavailable("cannot reach the kubelet of node %q: the apiserver has no kubelet client certificate (--kubelet-client-certificate, --kubelet-client-key, --kubelet-certificate-authority)", nodeName)
	}
	addr, err := kubeletAddress(node)
	if err != nil {
		return nil, "", err
	}
	tc := s.cfg.KubeletClientTLS.Clone()
	tc.ServerName = nodeName
	return tc, addr, nil
}

// dialKubelet opens a connection to node's kubelet (see kubeletTLS).
func (s *Server) dialKubelet(node *corev1.Node) (*grpc.ClientConn, string, error) {
	tc, addr, err := s.kubeletTLS(node)
	if err != nil {
		return nil, "", err
	}
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(credentials.NewTLS(tc)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: kubeletConnectTimeout}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(kubeletv1.MaxMessageSize), grpc.MaxCallSendMsgSize(kubeletv1.MaxMessageSize)),
		grpc.WithUserAgent("keel-apiserver"),
	)
	if err != nil {
		return nil, "", apierrors.Internal("kubelet client for node %q: %v", node.GetMetadata().GetName(), err)
	}
	return conn, addr, nil
}

// kubeletErr turns an error from a kubelet into the caller's: the
// kubelet's own answers (NotFound, InvalidArgument, FailedPrecondition, …)
// pass through; failing to reach it or being refused by it is Unavailable
// naming the node.
func kubeletErr(err error, node *corev1.Node, addr string) error {
	nodeName := node.GetMetadata().GetName()
	st, ok := status.FromError(err)
	if !ok {
		return apierrors.Unavailable("kubelet of node %q at %s: %v", nodeName, addr, err)
	}
	switch st.Code() {
	case codes.Unavailable:
		return apierrors.Unavailable("cannot reach the kubelet of node %q at %s: %s", nodeName, addr, st.Message())
	case codes.Unauthenticated, codes.PermissionDenied:
		return apierrors.Unavailable("the kubelet of node %q at %s refused the apiserver: %s", nodeName, addr, st.Message())
	case codes.Unimplemented:
		return apierrors.Unavailable("the kubelet of node %q at %s does not serve logs and exec: %s", nodeName, addr, st.Message())
	}
	// The kubelet's answer as it is: a status error keeps its code
	// (FailedPrecondition included) and its details through ToStatus.
	return err
}
