package server

// The streaming endpoint: exec, attach and port-forward sessions. The
// apiserver upgrades a request to kubeletv1.StreamPath (SPDY); the
// handler authenticates and authorizes it as the gRPC service does, asks
// the runtime (CRI Exec, Attach, PortForward) for a session on its
// streaming server, and proxies the upgraded connection there: the
// runtime speaks the streaming protocols itself.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	utilproxy "k8s.io/apimachinery/pkg/util/proxy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/auth"
	"keel.dev/keel/pkg/kubelet/cri"
)

// streamSetupTimeout bounds the runtime's answer to a streaming call.
const streamSetupTimeout = 30 * time.Second

// StreamHandler returns the streaming endpoint's handler. Requests must
// come over TLS with a verified client certificate (r.TLS).
func (s *Server) StreamHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/exec/{ns}/{pod}/{container}", s.stream("exec"))
	mux.HandleFunc("/attach/{ns}/{pod}/{container}", s.stream("attach"))
	mux.HandleFunc("/portForward/{ns}/{pod}", s.stream("portforward"))
	return mux
}

// stream serves one kind of session.
func (s *Server) stream(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, err := (&auth.Authenticator{}).AuthenticateHTTP(r)
		if err != nil {
			apierrors.WriteHTTP(w, err)
			return
		}
		if !allowed(u) {
			s.log.Warn("refused a caller", zap.String("user", u.Name), zap.String("path", r.URL.Path))
			apierrors.WriteHTTP(w, apierrors.ForbiddenPath(fmt.Sprintf("user %q may not use the kubelet API (only the apiserver may)", u.Name)))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			apierrors.WriteHTTP(w, apierrors.MethodNotAllowed(kind))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), streamSetupTimeout)
		defer cancel()
		loc, err := s.session(ctx, kind, r)
		if err != nil {
			apierrors.WriteHTTP(w, err)
			return
		}
		s.log.Debug(kind, zap.String("pod", r.PathValue("ns")+"/"+r.PathValue("pod")), zap.String("container", r.PathValue("container")))
		utilproxy.NewUpgradeAwareHandler(loc, nil, false, true, responder{s.log}).ServeHTTP(w, r)
	}
}

// session asks the runtime for a streaming session for r and returns
// its URL.
func (s *Server) session(ctx context.Context, kind string, r *http.Request) (*url.URL, error) {
	ns, name, container := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	if s.cfg.Runtime == nil {
		return nil, apierrors.Unavailable("the kubelet has no container runtime")
	}
	var raw string
	if kind == "portforward" {
		if ns == "" || name == "" {
			return nil, apierrors.BadRequest("namespace and name are required")
		}
		id, err := s.cfg.Pods.SandboxID(ns, name)
		if err != nil {
			return nil, lookupErr(err)
		}
		if raw, err = s.cfg.Runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: id}); err != nil {
			return nil, streamErr(err, fmt.Sprintf("pod %s/%s", ns, name))
		}
	} else {
		if err := requestPod(ns, name, container); err != nil {
			return nil, err
		}
		q := r.URL.Query()
		opts, err := streamOptions(q)
		if err != nil {
			return nil, err
		}
		id, err := s.cfg.Pods.ContainerID(ns, name, container)
		if err != nil {
			return nil, lookupErr(err)
		}
		where := fmt.Sprintf("container %q of pod %s/%s", container, ns, name)
		if kind == "exec" {
			if len(q["command"]) == 0 {
				return nil, apierrors.BadRequest("a command is required")
			}
			raw, err = s.cfg.Runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: q["command"],
				Tty: opts.Tty, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr})
		} else {
			raw, err = s.cfg.Runtime.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: id,
				Tty: opts.Tty, Stdin: opts.Stdin, Stdout: opts.Stdout, Stderr: opts.Stderr})
		}
		if err != nil {
			return nil, streamErr(err, where)
		}
	}
	loc, err := url.Parse(raw)
	if err != nil {
		return nil, apierrors.Internal("the runtime's streaming URL %q: %v", raw, err)
	}
	return loc, nil
}

// streamOptions reads the streams a session asks for: at least one; with
// a TTY, stderr is merged into stdout (as the CRI requires).
func streamOptions(q url.Values) (streams, error) {
	var o streams
	for _, p := range []struct {
		name string
		v    *bool
	}{{"stdin", &o.Stdin}, {"stdout", &o.Stdout}, {"stderr", &o.Stderr}, {"tty", &o.Tty}} {
		if s := q.Get(p.name); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				return o, apierrors.BadRequest("%s %q: not a boolean", p.name, s)
			}
			*p.v = b
		}
	}
	if o.Tty {
		o.Stderr = false
	}
	if !o.Stdin && !o.Stdout && !o.Stderr {
		return o, apierrors.BadRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}

// streams are the streams of an exec or attach session.
type streams struct{ Stdin, Stdout, Stderr, Tty bool }

// streamErr describes a failed streaming call for where, keeping the
// runtime's code.
func streamErr(err error, where string) error {
	code, msg := cri.Code(err), runtimeMessage(err)
	switch code {
	case codes.NotFound:
		return status.Errorf(codes.NotFound, "%s is not running: the runtime does not know it (%s)", where, msg)
	case codes.FailedPrecondition:
		return status.Errorf(codes.FailedPrecondition, "%s is not running (%s)", where, msg)
	}
	return status.Errorf(code, "streaming to %s: %s", where, msg)
}

// responder reports a failed proxying to the client.
type responder struct{ log *zap.Logger }

func (r responder) Error(w http.ResponseWriter, req *http.Request, err error) {
	r.log.Info("streaming session failed", zap.String("path", req.URL.Path), zap.Error(err))
	apierrors.WriteHTTP(w, apierrors.Internal("streaming: %v", err))
}
