// Package record writes Events (core/v1) about objects, as controllers and
// kubelets do: "Scheduled", "FailedScheduling", "Pulled", ...
//
// Eventf never blocks: it stamps the event and hands it to one of several
// writers (Config.Writers), each draining a bounded buffer into the
// apiserver, so that one slow write does not hold up the rest. When the
// writer's buffer is full the event is dropped and counted (Dropped).
// Repeats of the same event (same involved object, type, reason, message and
// source) always go to the same writer, and within the aggregation window
// (10 minutes) update the existing Event's count, series and lastTimestamp
// instead of creating another Event. Before that, a Correlator folds floods
// of similar events (differing only in their message) into one aggregate
// event and rate-limits each source's events about each object.
package record

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/utils/clock"

	"keel.dev/keel/pkg/api"
	"keel.dev/keel/pkg/apierrors"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/scheme"
)

// Event types.
const (
	Normal  = api.EventTypeNormal
	Warning = api.EventTypeWarning
)

// Defaults.
const (
	DefaultBufferSize        = 1000
	DefaultWriters           = 8
	DefaultAggregationWindow = 10 * time.Minute
	// maxCached bounds the aggregation cache.
	maxCached = 4096
	// writeAttempts bounds the tries of one write that fails with
	// Unavailable or a timeout.
	writeAttempts = 3
)

// EventRecorder is what code that records events depends on.
type EventRecorder interface {
	// Eventf records an event about obj. eventType is Normal or Warning;
	// reason is a short UpperCamelCase word; the message is
	// fmt.Sprintf(messageFmt, args...).
	Eventf(obj proto.Message, eventType, reason, messageFmt string, args ...any)
}

// Sink writes Events. ClientSink is the real one.
type Sink interface {
	Create(ctx context.Context, ev *corev1.Event) (*corev1.Event, error)
	Update(ctx context.Context, ev *corev1.Event) (*corev1.Event, error)
}

// ClientSink writes Events through c, each in its own namespace.
func ClientSink(c *client.Client) Sink { return clientSink{c} }

type clientSink struct{ c *client.Client }

func (s clientSink) Create(ctx context.Context, ev *corev1.Event) (*corev1.Event, error) {
	return s.c.Events(ev.GetMetadata().GetNamespace()).Create(ctx, ev, client.CreateOptions{})
}

func (s clientSink) Update(ctx context.Context, ev *corev1.Event) (*corev1.Event, error) {
	return s.c.Events(ev.GetMetadata().GetNamespace()).Update(ctx, ev, client.UpdateOptions{})
}

// Config configures a Recorder.
type Config struct {
	Sink Sink
	// Component and Host fill the events' source ("keel-scheduler",
	// "node-1").
	Component string
	Host      string
	// BufferSize is how many events may wait to be written, shared evenly
	// among the writers (default 1000).
	BufferSize int
	// Writers is how many writes may be in flight at once (default 8).
	Writers int
	// AggregationWindow: a repeat within it updates the existing Event
	// (default 10 minutes).
	AggregationWindow time.Duration
	// WriteTimeout bounds each write (default 10s).
	WriteTimeout time.Duration
	Clock        clock.PassiveClock
	Logger       *zap.Logger
}

var _ EventRecorder = (*Recorder)(nil)

// Recorder records events asynchronously. Create it with New and stop it
// with Shutdown.
type Recorder struct {
	cfg   Config
	clock clock.PassiveClock
	log   *zap.Logger

	mu      sync.RWMutex // guards closed against queue sends
	closed  bool
	writers []*writer
	seed    maphash.Seed

	correlateMu sync.Mutex // guards correlator
	correlator  *Correlator

	dropped atomic.Uint64
	limited atomic.Uint64
	written atomic.Uint64

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// writer is one goroutine writing the events of its share of aggregation
// keys, in order.
type writer struct {
	queue chan item
	// cache is owned by the writer's goroutine.
	cache map[aggKey]*corev1.Event
}

type item struct {
	ev    *corev1.Event
	key   aggKey
	flush chan struct{} // set for a flush marker
}

// aggKey identifies repeats of one event. An aggregate event (combined)
// leaves out the message.
type aggKey struct {
	kind, namespace, name, uid, apiVersion, fieldPath string
	eventType, reason, message                        string
	component, host                                   string
	combined                                          bool
}

// New starts a recorder.
func New(cfg Config) (*Recorder, error) {
	if cfg.Sink == nil {
		return nil, errors.New("record: Sink is required")
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = DefaultBufferSize
	}
	if cfg.Writers <= 0 {
		cfg.Writers = DefaultWriters
	}
	if cfg.AggregationWindow <= 0 {
		cfg.AggregationWindow = DefaultAggregationWindow
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	r := &Recorder{cfg: cfg, clock: cfg.Clock, log: cfg.Logger, seed: maphash.MakeSeed()}
	if r.clock == nil {
		r.clock = clock.RealClock{}
	}
	r.correlator = NewCorrelator(CorrelatorConfig{Window: cfg.AggregationWindow, Clock: r.clock})
	if r.log == nil {
		r.log = zap.NewNop()
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	per := max(1, cfg.BufferSize/cfg.Writers)
	for range cfg.Writers {
		w := &writer{queue: make(chan item, per), cache: map[aggKey]*corev1.Event{}}
		r.writers = append(r.writers, w)
		r.wg.Add(1)
		go r.loop(w)
	}
	return r, nil
}

// Event records an event with a fixed message.
func (r *Recorder) Event(obj proto.Message, eventType, reason, message string) {
	r.record(obj, eventType, reason, message)
}

// Eventf records an event; see EventRecorder.
func (r *Recorder) Eventf(obj proto.Message, eventType, reason, messageFmt string, args ...any) {
	r.record(obj, eventType, reason, fmt.Sprintf(messageFmt, args...))
}

func (r *Recorder) record(obj proto.Message, eventType, reason, message string) {
	ref, err := Reference(obj)
	if err != nil {
		r.log.Warn("cannot record an event", zap.Error(err), zap.String("reason", reason))
		r.dropped.Add(1)
		return
	}
	now := timestamppb.New(r.clock.Now())
	ns := ref.GetNamespace()
	if ns == "" {
		ns = "default" // events about cluster-scoped objects, as in Kubernetes
	}
	ev := &corev1.Event{
		Metadata:       &metav1.ObjectMeta{Namespace: ns, Name: eventName(ref.GetName())},
		InvolvedObject: ref,
		Reason:         reason,
		Message:        message,
		Type:           eventType,
		Source:         &corev1.EventSource{Component: r.cfg.Component, Host: r.cfg.Host},
		FirstTimestamp: now,
		LastTimestamp:  now,
		Count:          1,
	}
	r.correlateMu.Lock()
	d := r.correlator.Correlate(ev)
	r.correlateMu.Unlock()
	if d.Skip {
		r.limited.Add(1)
		return
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.dropped.Add(1)
		return
	}
	select {
	case r.writerOf(d.Key).queue <- item{ev: d.Event, key: d.Key}:
	default:
		r.dropped.Add(1)
	}
}

// writerOf is the writer of every event with this aggregation key.
func (r *Recorder) writerOf(k aggKey) *writer {
	var h maphash.Hash
	h.SetSeed(r.seed)
	for _, f := range []string{k.kind, k.namespace, k.name, k.uid, k.apiVersion, k.fieldPath,
		k.eventType, k.reason, k.message, k.component, k.host} {
		h.WriteString(f)
		h.WriteByte(0)
	}
	if k.combined {
		h.WriteByte(1)
	}
	return r.writers[h.Sum64()%uint64(len(r.writers))]
}

// Dropped is the number of events dropped so far (buffer full, after
// Shutdown, or about an object that cannot be referenced).
func (r *Recorder) Dropped() uint64 { return r.dropped.Load() }

// Limited is the number of events not written because their source had
// used up its rate for the involved object (see Correlator).
func (r *Recorder) Limited() uint64 { return r.limited.Load() }

// Written is the number of successful writes (creates and count updates).
func (r *Recorder) Written() uint64 { return r.written.Load() }

// Flush waits until every event recorded before the call has been written
// (or given up on), or ctx ends.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return nil
	}
	var markers []chan struct{}
	for _, w := range r.writers {
		done := make(chan struct{})
		select {
		case w.queue <- item{flush: done}:
			markers = append(markers, done)
		case <-ctx.Done():
			r.mu.RUnlock()
			return ctx.Err()
		}
	}
	r.mu.RUnlock()
	for _, done := range markers {
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Shutdown writes what is buffered (until ctx ends) and stops the recorder;
// later events are dropped.
func (r *Recorder) Shutdown(ctx context.Context) error {
	err := r.Flush(ctx)
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
	return err
}

// Close is Shutdown with five seconds to write what is buffered: for a
// daemon's deferred call at exit.
func (r *Recorder) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.Shutdown(ctx)
}

func (r *Recorder) loop(w *writer) {
	defer r.wg.Done()
	for {
		select {
		case <-r.ctx.Done():
			return
		case it := <-w.queue:
			if it.flush != nil {
				close(it.flush)
				continue
			}
			r.write(w, it.ev, it.key)
		}
	}
}

// write creates the event, or updates the Event it repeats (same key):
// count and series, lastTimestamp and, for an aggregate event, the message.
func (r *Recorder) write(w *writer, ev *corev1.Event, key aggKey) {
	window := r.cfg.AggregationWindow
	if prev, ok := w.cache[key]; ok && ev.GetLastTimestamp().AsTime().Sub(prev.GetLastTimestamp().AsTime()) < window {
		next := proto.Clone(prev).(*corev1.Event)
		next.Count = prev.GetCount() + 1
		next.LastTimestamp = ev.GetLastTimestamp()
		next.Message = ev.GetMessage()
		next.Series = &corev1.EventSeries{Count: next.Count, LastObservedTime: ev.GetLastTimestamp()}
		updated, err := r.retry(func(ctx context.Context) (*corev1.Event, error) { return r.cfg.Sink.Update(ctx, next) })
		if err == nil {
			r.remember(w, key, updated)
			return
		}
		if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			r.log.Warn("updating an event failed; dropping it", zap.Error(err), zap.String("event", prev.GetMetadata().GetName()))
			r.dropped.Add(1)
			return
		}
		// Deleted (or changed) meanwhile: record this occurrence afresh.
		delete(w.cache, key)
	}
	created, err := r.retry(func(ctx context.Context) (*corev1.Event, error) { return r.cfg.Sink.Create(ctx, ev) })
	if apierrors.IsAlreadyExists(err) {
		// Two events named in the same nanosecond: rename and try again.
		ev.Metadata.Name = eventName(ev.GetInvolvedObject().GetName()) + strconv.FormatUint(rand.Uint64()%0xfffff, 16)
		created, err = r.retry(func(ctx context.Context) (*corev1.Event, error) { return r.cfg.Sink.Create(ctx, ev) })
	}
	if err != nil {
		r.log.Warn("creating an event failed; dropping it", zap.Error(err), zap.String("reason", ev.GetReason()))
		r.dropped.Add(1)
		return
	}
	r.remember(w, key, created)
}

func (r *Recorder) retry(call func(ctx context.Context) (*corev1.Event, error)) (*corev1.Event, error) {
	var err error
	for attempt := 0; attempt < writeAttempts; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(time.Duration(attempt) * 100 * time.Millisecond)
			select {
			case <-r.ctx.Done():
				t.Stop()
				return nil, err
			case <-t.C:
			}
		}
		ctx, cancel := context.WithTimeout(r.ctx, r.cfg.WriteTimeout)
		var out *corev1.Event
		out, err = call(ctx)
		cancel()
		if err == nil {
			r.written.Add(1)
			return out, nil
		}
		if !apierrors.IsUnavailable(err) && apierrors.ReasonOf(err) != apierrors.ReasonTimeout {
			return nil, err
		}
	}
	return nil, err
}

func (r *Recorder) remember(w *writer, key aggKey, ev *corev1.Event) {
	// Forget what can no longer aggregate, then anything.
	now := r.clock.Now()
	evict(w.cache, max(1, maxCached/len(r.writers)), func(e *corev1.Event) bool {
		return now.Sub(e.GetLastTimestamp().AsTime()) >= r.cfg.AggregationWindow
	})
	w.cache[key] = ev
}

// eventName is the involved object's name and the wall-clock time in
// nanoseconds, in hex, as in Kubernetes.
func eventName(objName string) string {
	return objName + "." + strconv.FormatInt(time.Now().UnixNano(), 16)
}

func keyOf(ev *corev1.Event) aggKey {
	io := ev.GetInvolvedObject()
	return aggKey{
		kind: io.GetKind(), namespace: io.GetNamespace(), name: io.GetName(), uid: io.GetUid(),
		apiVersion: io.GetApiVersion(), fieldPath: io.GetFieldPath(),
		eventType: ev.GetType(), reason: ev.GetReason(), message: ev.GetMessage(),
		component: ev.GetSource().GetComponent(), host: ev.GetSource().GetHost(),
	}
}

// Reference is the ObjectReference of a registered kind's object (kind,
// apiVersion, namespace, name, uid, resourceVersion). An
// *corev1.ObjectReference is returned as a copy.
func Reference(obj proto.Message) (*corev1.ObjectReference, error) {
	if obj == nil {
		return nil, errors.New("record: no object")
	}
	if ref, ok := obj.(*corev1.ObjectReference); ok {
		return proto.Clone(ref).(*corev1.ObjectReference), nil
	}
	k, ok := scheme.ByMessage(obj)
	if !ok {
		return nil, fmt.Errorf("record: %s is not a registered kind", obj.ProtoReflect().Descriptor().FullName())
	}
	m := client.ObjectMeta(obj)
	if m.GetName() == "" {
		return nil, fmt.Errorf("record: the %s has no name", k.Kind)
	}
	return &corev1.ObjectReference{
		Kind:            k.Kind,
		ApiVersion:      k.APIVersion(),
		Namespace:       m.GetNamespace(),
		Name:            m.GetName(),
		Uid:             m.GetUid(),
		ResourceVersion: m.GetResourceVersion(),
	}, nil
}
