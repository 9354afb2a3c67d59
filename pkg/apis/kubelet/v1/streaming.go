package kubeletv1

import "net/url"

// The kubelet's streaming endpoint serves exec, attach and port-forward
// sessions over HTTPS on the kubelet port: connections that negotiate
// HTTP/1.1 (ALPN "http/1.1", or none) reach it, those that negotiate h2
// reach the gRPC service. A session is an upgrade (SPDY, or WebSocket
// where the runtime speaks it) of a request to StreamPath, whose query
// carries the options as pods/exec and pods/attach take them (command,
// stdin, stdout, stderr, tty). Only the apiserver may call it, as for
// the gRPC service.

// StreamPath is the endpoint's path for subresource ("exec", "attach" or
// "portforward") of container in pod ns/pod (portforward names no
// container).
func StreamPath(subresource, ns, pod, container string) string {
	switch subresource {
	case "portforward":
		return "/portForward/" + url.PathEscape(ns) + "/" + url.PathEscape(pod)
	default:
		return "/" + subresource + "/" + url.PathEscape(ns) + "/" + url.PathEscape(pod) + "/" + url.PathEscape(container)
	}
}
