// Package prober runs a container's liveness, readiness and startup probes
// the way the Kubernetes kubelet does.
//
// Prober runs one probe once (httpGet, tcpSocket, exec, grpc). Manager runs
// one worker goroutine per probe of every container it was told about, keeps
// each container's derived state (started, ready, liveness failed) and
// reports changes on a channel. The kubelet's pod workers read that state;
// they own the containers and decide on restarts.
package prober

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	"keel.dev/keel/pkg/kubelet/cri"
)

// Result is a probe outcome.
type Result int

const (
	// Unknown: the probe could not be run (for example the runtime did not
	// answer, or a named port does not exist). Kubernetes ignores such
	// results: they neither pass nor fail the probe.
	Unknown Result = iota
	// Success: the probe passed.
	Success
	// Failure: the probe ran and failed (non-2xx/3xx answer, refused
	// connection, non-zero exit, timeout).
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	}
	return "Unknown"
}

// UserAgent is sent with HTTP probes that do not set their own.
const UserAgent = "keel-probe/1.0"

// maxBody is how much of an HTTP answer a probe reads for its message.
const maxBody = 10 << 10

// maxRedirects bounds the same-host redirects an HTTP probe follows.
const maxRedirects = 10

// DefaultTimeout is a probe's timeout when timeoutSeconds is not positive.
const DefaultTimeout = time.Second

// Prober runs one probe once. The zero value with Runtime set is ready to
// use; it is safe for concurrent use.
type Prober struct {
	// Runtime runs exec probes (ExecSync).
	Runtime cri.Runtime
	// Transport, when not nil, carries HTTP probes instead of the default:
	// no proxy, no keep-alive (every probe opens a new connection, as the
	// kubelet does), HTTPS without certificate verification.
	Transport http.RoundTripper
	// Dialer, when not nil, makes tcpSocket and HTTP connections (the
	// default transport uses it); the probe's timeout still applies.
	Dialer *net.Dialer

	once      sync.Once
	transport http.RoundTripper
}

func (p *Prober) init() {
	p.once.Do(func() {
		if p.Transport != nil {
			p.transport = p.Transport
			return
		}
		p.transport = NewTransport(p.dialer())
	})
}

// NewTransport is the kubelet's transport for HTTP probes and hooks: no
// proxy, no keep-alive (every request opens a new connection, as the
// kubelet does), HTTPS without certificate verification, connections made
// by d.
func NewTransport(d *net.Dialer) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		DisableKeepAlives:   true,
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // probes and hooks do not verify, as in Kubernetes
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        -1,
	}
}

func (p *Prober) dialer() *net.Dialer {
	if p.Dialer != nil {
		return p.Dialer
	}
	return &net.Dialer{}
}

// Timeout returns the time limit of one run of probe: timeoutSeconds, or
// DefaultTimeout when that is not positive.
func Timeout(probe *corev1.Probe) time.Duration {
	if s := probe.GetTimeoutSeconds(); s > 0 {
		return time.Duration(s) * time.Second
	}
	return DefaultTimeout
}

// Probe runs probe once against container c of pod, within the probe's
// timeout (and ctx):
//
//   - httpGet: GET scheme://host:port/path with the probe's headers, host
//     defaulting to podIP; HTTPS is not verified. A status in [200, 400) is
//     Success. Redirects are followed on the same host only; a redirect to
//     another host counts as Success, as in Kubernetes.
//   - tcpSocket: a TCP connection to host:port (host defaulting to podIP)
//     is Success.
//   - exec: the command runs in the container through the runtime's
//     ExecSync; exit status 0 is Success, any other, or running past the
//     timeout, is Failure.
//   - grpc: the standard gRPC health check (grpc.health.v1) of podIP:port;
//     SERVING is Success.
//
// port may be a number or the name of one of the container's ports. The
// message is the probe's output (the HTTP body, the command's output) or why
// it failed. A non-nil error means the probe could not be run (Unknown): a
// bad probe spec, a named port that does not exist, no pod IP, or a runtime
// error other than a timeout.
func (p *Prober) Probe(ctx context.Context, pod *corev1.Pod, c *corev1.Container, probe *corev1.Probe, containerID, podIP string) (Result, string, error) {
	if probe == nil {
		return Unknown, "", errors.New("no probe")
	}
	timeout := Timeout(probe)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case probe.GetExec() != nil:
		return p.probeExec(ctx, probe.GetExec(), containerID, timeout)
	case probe.GetHttpGet() != nil:
		return p.probeHTTP(ctx, c, probe.GetHttpGet(), podIP, timeout)
	case probe.GetTcpSocket() != nil:
		return p.probeTCP(ctx, c, probe.GetTcpSocket(), podIP, timeout)
	case probe.GetGrpc() != nil:
		return p.probeGRPC(ctx, probe.GetGrpc(), podIP, timeout)
	}
	return Unknown, "", errors.New("the probe has no handler (exec, httpGet, tcpSocket or grpc)")
}

func (p *Prober) probeExec(ctx context.Context, a *corev1.ExecAction, containerID string, timeout time.Duration) (Result, string, error) {
	if p.Runtime == nil {
		return Unknown, "", errors.New("exec probe: no container runtime")
	}
	if len(a.GetCommand()) == 0 {
		return Unknown, "", errors.New("exec probe: empty command")
	}
	if containerID == "" {
		return Unknown, "", errors.New("exec probe: no container ID")
	}
	resp, err := p.Runtime.ExecSync(ctx, containerID, a.GetCommand(), timeout)
	if err != nil {
		if cri.Code(err) == codes.DeadlineExceeded || errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
			return Failure, fmt.Sprintf("command %q timed out after %v", a.GetCommand(), timeout), nil
		}
		return Unknown, "", fmt.Errorf("exec probe: %w", err)
	}
	out := string(resp.GetStdout()) + string(resp.GetStderr())
	if resp.GetExitCode() == 0 {
		return Success, out, nil
	}
	msg := fmt.Sprintf("command %q exited with %d", a.GetCommand(), resp.GetExitCode())
	if out != "" {
		msg += ": " + truncate(out)
	}
	return Failure, msg, nil
}

func (p *Prober) probeHTTP(ctx context.Context, c *corev1.Container, a *corev1.HTTPGetAction, podIP string, timeout time.Duration) (Result, string, error) {
	req, err := NewHTTPGetRequest(ctx, c, a, podIP, UserAgent)
	if err != nil {
		return Unknown, "", fmt.Errorf("http probe: %w", err)
	}
	p.init()
	client := &http.Client{
		Transport: p.transport,
		Timeout:   timeout,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if r.URL.Hostname() != via[0].URL.Hostname() {
				// Another host: stop here; the 3xx answer counts as success.
				return http.ErrUseLastResponse
			}
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return Failure, fmt.Sprintf("Get %q: %v", req.URL.String(), unwrapURLError(err)), nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return Success, string(body), nil
	}
	return Failure, fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode), nil
}

// NewHTTPGetRequest builds the GET request of an httpGet action (a probe's
// or a lifecycle hook's) against container c: scheme://host:port/path,
// host defaulting to podIP, port a number or the name of one of c's ports,
// the action's headers (a Host header sets the request's host), and
// userAgent and Accept */* unless the action sets them. The error says
// what is wrong with the action (no pod IP, unknown port name, scheme).
func NewHTTPGetRequest(ctx context.Context, c *corev1.Container, a *corev1.HTTPGetAction, podIP, userAgent string) (*http.Request, error) {
	port, err := api.ResolveContainerPort(a.GetPort(), c)
	if err != nil {
		return nil, err
	}
	host := a.GetHost()
	if host == "" {
		host = podIP
	}
	if host == "" {
		return nil, errors.New("no pod IP yet")
	}
	scheme := strings.ToLower(a.GetScheme())
	if scheme == "" {
		scheme = "http"
	}
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("unsupported scheme %q", a.GetScheme())
	}
	path := a.GetPath()
	if path == "" {
		path = "/"
	} else if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("bad path %q: %v", a.GetPath(), err)
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(host, strconv.Itoa(int(port)))

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	for _, h := range a.GetHttpHeaders() {
		if strings.EqualFold(h.GetName(), "Host") {
			req.Host = h.GetValue()
			continue
		}
		req.Header.Add(h.GetName(), h.GetValue())
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", userAgent)
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "*/*")
	}
	return req, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (p *Prober) probeTCP(ctx context.Context, c *corev1.Container, a *corev1.TCPSocketAction, podIP string, timeout time.Duration) (Result, string, error) {
	port, err := api.ResolveContainerPort(a.GetPort(), c)
	if err != nil {
		return Unknown, "", fmt.Errorf("tcp probe: %w", err)
	}
	host := a.GetHost()
	if host == "" {
		host = podIP
	}
	if host == "" {
		return Unknown, "", errors.New("tcp probe: no pod IP yet")
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)))
	conn, err := p.dialer().DialContext(ctx, "tcp", addr)
	if err != nil {
		return Failure, fmt.Sprintf("dial tcp %s: %v", addr, unwrapOpError(err)), nil
	}
	_ = conn.Close()
	return Success, "", nil
}

func unwrapOpError(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

func (p *Prober) probeGRPC(ctx context.Context, a *corev1.GRPCAction, podIP string, timeout time.Duration) (Result, string, error) {
	if podIP == "" {
		return Unknown, "", errors.New("grpc probe: no pod IP yet")
	}
	if a.GetPort() <= 0 || a.GetPort() > 65535 {
		return Unknown, "", fmt.Errorf("grpc probe: invalid port %d", a.GetPort())
	}
	addr := net.JoinHostPort(podIP, strconv.Itoa(int(a.GetPort())))
	d := p.dialer()
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUserAgent(UserAgent),
		grpc.WithContextDialer(func(ctx context.Context, s string) (net.Conn, error) { return d.DialContext(ctx, "tcp", s) }),
	)
	if err != nil {
		return Unknown, "", fmt.Errorf("grpc probe: %v", err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: a.GetService()})
	if err != nil {
		switch status.Code(err) {
		case codes.DeadlineExceeded:
			return Failure, fmt.Sprintf("timeout: health rpc to %s did not complete within %v", addr, timeout), nil
		case codes.Unimplemented:
			return Failure, fmt.Sprintf("the service at %s does not implement the grpc health protocol (grpc.health.v1.Health)", addr), nil
		}
		return Failure, fmt.Sprintf("health rpc to %s failed: %v", addr, err), nil
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return Failure, fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus()), nil
	}
	return Success, "", nil
}

func truncate(s string) string {
	const max = 1024
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
