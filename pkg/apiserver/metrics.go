package apiserver

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"keel.dev/keel/pkg/apierrors"
	"keel.dev/keel/pkg/apiserver/audit"
)

var (
	requestTotal = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "keel_apiserver_request_total",
		Help: "API requests by verb, resource and gRPC code.",
	}, []string{"verb", "resource", "code"})
	requestLatency = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keel_apiserver_request_duration_seconds",
		Help:    "Latency of unary API requests by verb and resource.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, []string{"verb", "resource"})
	watchersGauge = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "keel_apiserver_registered_watchers",
		Help: "Open watch streams by resource.",
	}, []string{"resource"})
	watchEvents = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "keel_apiserver_watch_events_total",
		Help: "Watch events sent to clients by resource.",
	}, []string{"resource"})
)

// The flow control metrics, named and labelled as Kubernetes' API
// Priority and Fairness metrics.
var (
	flowExecuting = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "apiserver_flowcontrol_current_executing_requests",
		Help: "Requests executing, by priority level and flow schema.",
	}, []string{"priority_level", "flow_schema"})
	flowInQueue = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "apiserver_flowcontrol_current_inqueue_requests",
		Help: "Requests waiting in a queue, by priority level and flow schema.",
	}, []string{"priority_level", "flow_schema"})
	flowRejected = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "apiserver_flowcontrol_rejected_requests_total",
		Help: "Requests rejected, by priority level, flow schema and reason (queue-full, concurrency-limit, time-out, cancelled, too-many-watches).",
	}, []string{"priority_level", "flow_schema", "reason"})
	flowDispatched = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "apiserver_flowcontrol_dispatched_requests_total",
		Help: "Requests that got a seat, by priority level and flow schema.",
	}, []string{"priority_level", "flow_schema"})
	flowWait = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "apiserver_flowcontrol_request_wait_duration_seconds",
		Help:    "How long requests waited for a seat, by priority level, flow schema and whether they then executed.",
		Buckets: []float64{0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30},
	}, []string{"priority_level", "flow_schema", "execute"})
	flowNominalSeats = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "apiserver_flowcontrol_nominal_limit_seats",
		Help: "Seats of each priority level: its share of --max-requests-inflight + --max-mutating-requests-inflight.",
	}, []string{"priority_level"})
	flowCurrentSeats = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "apiserver_flowcontrol_current_limit_seats",
		Help: "Seats each priority level may use now (its nominal seats: levels do not lend seats).",
	}, []string{"priority_level"})
)

// flowObserver feeds the flow control metrics.
type flowObserver struct{}

func (flowObserver) Executing(level, schema string, delta int) {
	flowExecuting.WithLabelValues(level, schema).Add(float64(delta))
}

func (flowObserver) InQueue(level, schema string, delta int) {
	flowInQueue.WithLabelValues(level, schema).Add(float64(delta))
}

func (flowObserver) Dispatched(level, schema string, waited time.Duration) {
	flowDispatched.WithLabelValues(level, schema).Inc()
	flowWait.WithLabelValues(level, schema, "true").Observe(waited.Seconds())
}

func (flowObserver) Rejected(level, schema, reason string, waited time.Duration) {
	flowRejected.WithLabelValues(level, schema, reason).Inc()
	flowWait.WithLabelValues(level, schema, "false").Observe(waited.Seconds())
}

// registerCacheMetrics exports each cache's object count.
func registerCacheMetrics(s *Server) {
	for name, r := range s.resources {
		c := r.cache
		g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "keel_apiserver_storage_objects",
			Help:        "Objects in the watch cache by resource.",
			ConstLabels: prometheus.Labels{"resource": name},
		}, func() float64 { return float64(c.Len()) })
		// Several Servers in one process (tests) share the default registry:
		// the first one's gauges stay.
		_ = prometheus.Register(g)
	}
}

type resourced interface{ GetResource() string }

func requestResource(req any) string {
	if r, ok := req.(resourced); ok {
		return r.GetResource()
	}
	return "pods" // Bind
}

func verbOf(method string) string {
	return strings.ToLower(method[strings.LastIndexByte(method, '/')+1:])
}

// recovered turns a handler panic into an Internal error, so one bad request
// never takes the apiserver down, and notes it in the request's audit
// record.
func recovered(ctx context.Context, log *zap.Logger, method string, err *error) {
	if p := recover(); p != nil {
		audit.RecordFrom(ctx).Panicked(p)
		log.Error("panic in API handler", zap.String("method", method), zap.Any("panic", p), zap.Stack("stack"))
		*err = apierrors.Internal("internal error handling %s: %v", method, p)
	}
}

// unaryObserve records metrics, recovers panics and converts the handler's
// error into a gRPC status through apierrors.ToStatus.
func (s *Server) unaryObserve(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := func() (resp any, err error) {
		defer recovered(ctx, s.log, info.FullMethod, &err)
		return h(ctx, req)
	}()
	err = apierrors.ToStatus(err)
	verb, res := verbOf(info.FullMethod), requestResource(req)
	requestLatency.WithLabelValues(verb, res).Observe(time.Since(start).Seconds())
	requestTotal.WithLabelValues(verb, res, status.Code(err).String()).Inc()
	return resp, err
}

func (s *Server) streamObserve(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	rs := &resourceStream{ServerStream: ss}
	err := apierrors.ToStatus(func() (err error) {
		defer recovered(ss.Context(), s.log, info.FullMethod, &err)
		return h(srv, rs)
	}())
	requestTotal.WithLabelValues(verbOf(info.FullMethod), rs.resource, status.Code(err).String()).Inc()
	return err
}

// resourceStream remembers the resource named by a stream's request, so
// that streams are counted by resource like unary calls.
type resourceStream struct {
	grpc.ServerStream
	resource string
}

func (s *resourceStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if r, ok := m.(resourced); ok && err == nil && s.resource == "" {
		s.resource = r.GetResource()
	}
	return err
}
