package apiserver

// Exec, attach and port-forward sessions over the REST surface: the
// pods/exec, pods/attach and pods/portforward subresources, which
// kubectl upgrades to WebSocket (exec and attach with Kubernetes'
// v5.channel.k8s.io protocol, port-forward with SPDY tunnelled in
// WebSocket) or to SPDY. The apiserver authorizes the caller (verb
// create, as Kubernetes), finds the pod's node and opens a SPDY session
// on its kubelet's streaming endpoint (kubeletv1.StreamPath) with its
// kubelet client certificate, translating WebSocket to SPDY with
// Kubernetes' own handlers (k8s.io/apiserver/pkg/util/proxy).

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap"
	utilproxy "k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"keel.dev/keel/pkg/apierrors"
	kubeletv1 "keel.dev/keel/pkg/apis/kubelet/v1"
	"keel.dev/keel/pkg/apiserver/audit"
	"keel.dev/keel/pkg/auth"
)

// connectSubresources are the pods' subresources Connect serves.
var connectSubresources = map[string]bool{"exec": true, "attach": true, "portforward": true}

// Connect serves a session of pods/exec, pods/attach or pods/portforward
// (the subresource sub) of pod ns/name for the REST surface
// (rest.Config.Connect); it returns an error only before answering.
func (s *Server) Connect(w http.ResponseWriter, r *http.Request, ns, name, sub string) (err error) {
	ctx := r.Context()
	if !connectSubresources[sub] {
		return apierrors.MethodNotAllowed("pods/" + sub)
	}
	// Audited as Kubernetes audits it: one long-running request, its
	// verb create.
	var rec *audit.Record
	if s.cfg.Auditor != nil {
		req := audit.Request{Attributes: auth.Attributes{Verb: "create", Resource: "pods/" + sub, Namespace: ns, Name: name},
			SourceIPs: []string{hostOf(r.RemoteAddr)}, UserAgent: r.UserAgent(), LongRunning: true}
		req.Attributes.User, _ = auth.UserFrom(ctx)
		if by, ok := auth.ImpersonatorFrom(ctx); ok {
			req.Impersonator = &by
		}
		ctx, rec = s.cfg.Auditor.Begin(ctx, req)
	}
	defer func() {
		if err != nil {
			rec.Complete(err, nil, nil)
		}
	}()
	if err := s.authorize(ctx, "create", "pods/"+sub, ns, name); err != nil {
		return err
	}
	q := r.URL.Query()
	pod, node, err := s.podAndNode(ctx, ns, name)
	if err != nil {
		return err
	}
	var container string
	kq := url.Values{}
	var opts proxy.Options
	if sub != "portforward" {
		if container, err = chooseContainer(pod, q.Get("container")); err != nil {
			return err
		}
		for _, p := range []struct {
			name string
			v    *bool
		}{{"stdin", &opts.Stdin}, {"stdout", &opts.Stdout}, {"stderr", &opts.Stderr}, {"tty", &opts.Tty}} {
			if v := q.Get(p.name); v != "" {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return apierrors.BadRequest("%s %q: not a boolean", p.name, v)
				}
				*p.v = b
				kq.Set(p.name, strconv.FormatBool(b))
			}
		}
		if opts.Tty {
			opts.Stderr = false
		}
		if !opts.Stdin && !opts.Stdout && !opts.Stderr {
			return apierrors.BadRequest("you must specify at least 1 of stdin, stdout, stderr")
		}
		if sub == "exec" {
			if len(q["command"]) == 0 {
				return apierrors.BadRequest("a command is required")
			}
			kq["command"] = q["command"]
		}
	}
	tc, addr, err := s.kubeletTLS(node)
	if err != nil {
		return err
	}
	// SPDY runs over HTTP/1.1: the kubelet serves its streaming
	// endpoint on connections that negotiate it.
	tc.NextProtos = []string{"http/1.1"}
	transport := &http.Transport{TLSClientConfig: tc, TLSHandshakeTimeout: kubeletConnectTimeout}
	loc := &url.URL{Scheme: "https", Host: addr, Path: kubeletv1.StreamPath(sub, ns, name, container), RawQuery: kq.Encode()}
	// The caller's credentials stay here: the kubelet trusts the
	// apiserver's certificate alone.
	r.Header.Del("Authorization")
	for k := range r.Header {
		if strings.HasPrefix(k, "Impersonate-") {
			r.Header.Del(k)
		}
	}
	upgrade := utilproxy.NewUpgradeAwareHandler(loc, transport, false, true, streamResponder{s.log})
	var h http.Handler
	var protocol string
	switch {
	case sub != "portforward" && wsstream.IsWebSocketRequestWithStreamCloseProtocol(r):
		h, protocol = proxy.NewStreamTranslatorHandler(loc, transport, 0, opts), "websocket "+remotecommand.StreamProtocolV5Name
	case sub == "portforward" && wsstream.IsWebSocketRequestWithTunnelingProtocol(r):
		h, protocol = proxy.NewTunnelingHandler(upgrade), "spdy tunnelled in websocket"
	default:
		h, protocol = upgrade, "spdy"
	}
	s.log.Info("streaming session", zap.String("subresource", sub), zap.String("pod", ns+"/"+name),
		zap.String("container", container), zap.String("node", node.GetMetadata().GetName()), zap.String("protocol", protocol))
	h.ServeHTTP(w, r.WithContext(ctx))
	rec.CompleteCode(http.StatusSwitchingProtocols)
	return nil
}

// streamResponder answers a session the kubelet did not take.
type streamResponder struct{ log *zap.Logger }

func (r streamResponder) Error(w http.ResponseWriter, req *http.Request, err error) {
	r.log.Info("streaming session failed", zap.String("path", req.URL.Path), zap.Error(err))
	apierrors.WriteHTTP(w, apierrors.Unavailable("streaming to the kubelet: %v", err))
}
