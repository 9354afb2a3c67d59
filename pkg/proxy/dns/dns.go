// Package dns is keel-proxy's node-local cluster DNS server. It answers the
// names of the Kubernetes DNS-based service discovery specification
// (<svc>.<ns>.svc.<domain> and friends) from the proxy's informer caches and
// forwards every other name to the node's own resolvers.
//
// A daemon uses it in three steps: EnsureLocalAddress puts the cluster DNS
// address on a local link (so the address can be bound and pods reach it
// through their default route), New builds the Server over the caches, and
// Serve binds that address over UDP and TCP. RemoveLocalAddress undoes the
// first step when the node stops serving DNS.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	discoveryv1 "keel.dev/keel/pkg/apis/discovery/v1"
)

// Source is the cluster state the server answers from (the proxy's informer
// stores). Implementations must be safe for concurrent use; the Server never
// modifies what they return.
type Source interface {
	Service(namespace, name string) (*corev1.Service, bool)
	// EndpointSlices are the slices of the Service namespace/name.
	EndpointSlices(namespace, name string) []*discoveryv1.EndpointSlice
}

// Config configures a Server. The zero value of every field picks its default.
type Config struct {
	// Domain is the cluster domain the server is authoritative for.
	// Default "cluster.local".
	Domain string
	// Upstreams are host:port of the resolvers asked, in order, for names
	// outside Domain. With none, such names get SERVFAIL.
	Upstreams []string
	// TTL of every record the server owns, and of negative answers.
	// Default 5 seconds.
	TTL uint32
	// Timeout bounds one attempt at one upstream (the UDP query, and the TCP
	// retry when the UDP answer is truncated). Default 2 seconds.
	Timeout time.Duration
}

// Defaults of Config.
const (
	DefaultDomain  = "cluster.local"
	DefaultTTL     = 5
	DefaultTimeout = 2 * time.Second
)

const (
	// advertisedUDPSize is the EDNS0 payload size of our responses: the
	// size recommended by DNS flag day 2020 to avoid fragmentation.
	advertisedUDPSize = 1232
	// upstreamUDPSize is the EDNS0 payload size asked of upstreams; larger
	// answers come back truncated and are asked again over TCP.
	upstreamUDPSize = dns.DefaultMsgSize
)

// Server answers DNS queries: names inside the cluster domain from its
// Source, every other name from its upstreams. It holds no cache of its own:
// every answer reflects the Source at the time of the query. All methods are
// safe for concurrent use.
type Server struct {
	zone      zone
	upstreams []string
	udp, tcp  *dns.Client
	log       *zap.Logger
	responses *prometheus.CounterVec
}

var _ dns.Handler = (*Server)(nil)

// New returns a Server answering from src. log may be nil.
func New(cfg Config, src Source, log *zap.Logger) *Server {
	domain := strings.Trim(strings.ToLower(cfg.Domain), ".")
	if domain == "" {
		domain = DefaultDomain
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Server{
		zone:      zone{domain: dns.Fqdn(domain), ttl: ttl, src: src},
		upstreams: append([]string(nil), cfg.Upstreams...),
		udp:       &dns.Client{Net: "udp", Timeout: timeout},
		tcp:       &dns.Client{Net: "tcp", Timeout: timeout},
		log:       log,
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keel_proxy_dns_responses_total",
			Help: "DNS responses sent, by where the answer came from (cluster or upstream) and response code.",
		}, []string{"source", "rcode"}),
	}
}

// Register adds the server's metrics to reg. Call it at most once per
// registry.
func (s *Server) Register(reg prometheus.Registerer) error {
	return reg.Register(s.responses)
}

// Serve answers on addr (host:port) over UDP and TCP. It returns once both
// sockets are bound, or the error binding either (then neither stays open),
// and serves in the background until ctx ends, when both listeners close.
// A nil return therefore means the server is ready: queries that arrive
// before the serving goroutines run wait in the socket buffers. The host of
// addr must be a local address (see EnsureLocalAddress). Serve may be called
// again, with another address, to answer on several.
func (s *Server) Serve(ctx context.Context, addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	// The TCP socket takes the port UDP got, so ":0" yields one port for both.
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return fmt.Errorf("dns: %w", err)
	}
	go s.run(ctx, &dns.Server{PacketConn: pc, Handler: s})
	go s.run(ctx, &dns.Server{Listener: l, Handler: s})
	return nil
}

// run serves srv until ctx ends.
func (s *Server) run(ctx context.Context, srv *dns.Server) {
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	done := make(chan error, 1)
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-ctx.Done():
		// Shutdown refuses a server that has not started yet, so wait for
		// it to start (or to have failed).
		select {
		case <-started:
			if err := srv.Shutdown(); err != nil {
				s.log.Warn("stopping DNS listener", zap.Error(err))
			}
			<-done
		case err := <-done:
			s.serveFailed(srv, err)
		}
	case err := <-done:
		s.serveFailed(srv, err)
	}
}

func (s *Server) serveFailed(srv *dns.Server, err error) {
	if srv.PacketConn != nil {
		srv.PacketConn.Close()
	}
	if srv.Listener != nil {
		srv.Listener.Close()
	}
	if err != nil {
		s.log.Error("DNS listener stopped", zap.Error(err))
	}
}

// ServeDNS implements miekg/dns.Handler: it answers r on w, from the Source
// when the question is inside the cluster domain and from the upstreams
// otherwise (SERVFAIL when none answers).
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	m := new(dns.Msg)
	switch {
	case r.Opcode != dns.OpcodeQuery:
		m.SetRcode(r, dns.RcodeNotImplemented)
		s.reply(w, r, m, "cluster")
		return
	case len(r.Question) != 1:
		m.SetRcode(r, dns.RcodeFormatError)
		s.reply(w, r, m, "cluster")
		return
	}
	q := r.Question[0]
	if dns.IsSubDomain(s.zone.domain, strings.ToLower(dns.Fqdn(q.Name))) {
		m.SetReply(r)
		m.Authoritative = true
		m.RecursionAvailable = true
		s.answer(m, q, r)
		s.reply(w, r, m, "cluster")
		return
	}
	resp, err := s.forward(q, r)
	if err != nil {
		s.log.Debug("forwarding DNS query", zap.String("name", q.Name), zap.Error(err))
		m.SetRcode(r, dns.RcodeServerFailure)
		m.RecursionAvailable = true
		s.reply(w, r, m, "upstream")
		return
	}
	resp.Id = r.Id
	resp.Question = r.Question
	s.reply(w, r, resp, "upstream")
}

// reply sends m as the answer to r: with an OPT record when r had one, and
// truncated (TC set) to what the client accepts over UDP.
func (s *Server) reply(w dns.ResponseWriter, r, m *dns.Msg, source string) {
	m.Extra = withoutOPT(m.Extra)
	size := dns.MinMsgSize
	if opt := r.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
		m.SetEdns0(advertisedUDPSize, opt.Do())
	}
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		size = dns.MaxMsgSize
	}
	m.Truncate(size)
	s.responses.WithLabelValues(source, dns.RcodeToString[m.Rcode]).Inc()
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("writing DNS response", zap.Error(err))
	}
}

// errNoUpstreams is the forwarding error when Config.Upstreams is empty.
var errNoUpstreams = errors.New("no upstream resolvers configured")

// forward asks each upstream in turn the question q (on behalf of the client
// query r) and returns the first response, whatever its code. A UDP
// response with TC set is asked again over TCP of the same upstream.
func (s *Server) forward(q dns.Question, r *dns.Msg) (*dns.Msg, error) {
	if len(s.upstreams) == 0 {
		return nil, errNoUpstreams
	}
	query := new(dns.Msg)
	query.Id = dns.Id()
	query.RecursionDesired = true
	query.CheckingDisabled = r.CheckingDisabled
	query.Question = []dns.Question{q}
	do := false
	if opt := r.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	query.SetEdns0(upstreamUDPSize, do)

	var errs []error
	for _, up := range s.upstreams {
		resp, _, err := s.udp.Exchange(query, up)
		if err == nil && resp.Truncated {
			resp, _, err = s.tcp.Exchange(query, up)
		}
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", up, err))
	}
	return nil, errors.Join(errs...)
}

func withoutOPT(rrs []dns.RR) []dns.RR {
	out := rrs[:0]
	for _, rr := range rrs {
		if _, ok := rr.(*dns.OPT); !ok {
			out = append(out, rr)
		}
	}
	return out
}
