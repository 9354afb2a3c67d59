package storage

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var etcdLatency = promauto.NewHistogramVec(prometheus.HistogramOpts{
	Name:    "keel_etcd_request_duration_seconds",
	Help:    "Latency of etcd requests made by the apiserver, by operation.",
	Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
}, []string{"operation"})

// DefaultRequestTimeout bounds each etcd request: past it the call fails
// with ErrUnavailable instead of hanging while etcd is unreachable.
const DefaultRequestTimeout = 10 * time.Second

// Etcd implements Interface on etcd v3 clients.
type Etcd struct {
	client *clientv3.Client
	// watches carries the watch streams, on a connection of their own so
	// that a burst of events never queues in front of request replies.
	watches *clientv3.Client
	owned   bool // Close closes the clients
	leases  *leases
	// transformers transform values by key (see Transforming).
	transformers Transformers
	// RequestTimeout bounds each request (DefaultRequestTimeout if zero).
	// Set it before first use.
	RequestTimeout time.Duration
}

var _ Interface = (*Etcd)(nil)

// NewEtcd wraps one client for requests and watches; the caller keeps
// ownership of it.
func NewEtcd(c *clientv3.Client) *Etcd {
	return &Etcd{client: c, watches: c, leases: newLeases(c), RequestTimeout: DefaultRequestTimeout}
}

// OpenEtcd connects to etcd with one connection for requests and one for
// watches, over tlsConfig when it is not nil (see Dial); the etcd client logs
// to log (nil discards). Close releases both.
func OpenEtcd(endpoints []string, tlsConfig *tls.Config, log *zap.Logger) (*Etcd, error) {
	c, err := Dial(endpoints, tlsConfig, log)
	if err != nil {
		return nil, err
	}
	w, err := Dial(endpoints, tlsConfig, log)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &Etcd{client: c, watches: w, owned: true, leases: newLeases(c), RequestTimeout: DefaultRequestTimeout}, nil
}

// Close closes the connections OpenEtcd made; it does nothing for NewEtcd.
func (e *Etcd) Close() error {
	if !e.owned {
		return nil
	}
	return errors.Join(e.client.Close(), e.watches.Close())
}

// call runs one etcd request under the request timeout and maps its error:
// the request's own deadline passing while the caller's context is still
// live means etcd did not answer, which is ErrUnavailable.
func (e *Etcd) call(ctx context.Context, op string, f func(ctx context.Context) error) error {
	defer observe(op, time.Now())
	timeout := e.RequestTimeout
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := f(rctx)
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		return fmt.Errorf("%w: etcd did not answer within %s", ErrUnavailable, timeout)
	}
	return mapErr(err)
}

// Dial connects to etcd endpoints. With a tlsConfig (https:// endpoints,
// e.g. from pki.ClientTLSConfig: the etcd CA and a client certificate) every
// connection is TLS; without one the endpoints must be http:// or unix://.
func Dial(endpoints []string, tlsConfig *tls.Config, log *zap.Logger) (*clientv3.Client, error) {
	if log == nil {
		log = zap.NewNop()
	}
	return clientv3.New(clientv3.Config{
		Logger:               log.Named("etcd-client"),
		Endpoints:            endpoints,
		TLS:                  tlsConfig,
		DialTimeout:          10 * time.Second,
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		MaxCallSendMsgSize:   4 << 20,
		MaxCallRecvMsgSize:   1 << 30,
	})
}

func observe(op string, start time.Time) {
	etcdLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// mapErr turns etcd client errors into this package's sentinels.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, rpctypes.ErrCompacted) || errors.Is(err, rpctypes.ErrGRPCCompacted) {
		return fmt.Errorf("%w: %v", ErrCompacted, err)
	}
	if errors.Is(err, rpctypes.ErrLeaseNotFound) || errors.Is(err, rpctypes.ErrGRPCLeaseNotFound) {
		return fmt.Errorf("%w: %v", errLeaseNotFound, err)
	}
	if s, ok := status.FromError(err); ok {
		switch s.Code() {
		case codes.Canceled:
			return context.Canceled
		case codes.DeadlineExceeded:
			return context.DeadlineExceeded
		}
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}

func sideOps(sides []Side) (cmps []clientv3.Cmp, ops []clientv3.Op) {
	for _, s := range sides {
		if s.Delete {
			ops = append(ops, clientv3.OpDelete(s.Key))
			continue
		}
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(s.Key), "=", 0))
		ops = append(ops, clientv3.OpPut(s.Key, string(s.Value)))
	}
	return cmps, ops
}

// explain reads, after a failed txn, the main key and the side keys that had
// to be absent, and says which precondition failed.
func explain(resp *clientv3.TxnResponse, wantRev int64, sides []Side, forCreate bool) error {
	main := resp.Responses[0].GetResponseRange()
	if forCreate {
		if len(main.Kvs) > 0 {
			return ErrExists
		}
	} else {
		if len(main.Kvs) == 0 {
			return ErrNotFound
		}
		if wantRev != 0 && main.Kvs[0].ModRevision != wantRev {
			return ErrConflict
		}
	}
	i := 1
	for _, s := range sides {
		if s.Delete {
			continue
		}
		if len(resp.Responses[i].GetResponseRange().Kvs) > 0 {
			return &SideKeyConflictError{Key: s.Key}
		}
		i++
	}
	// The preconditions changed between the txn and our reading of them.
	return ErrConflict
}

func elseGets(key string, sides []Side) []clientv3.Op {
	ops := []clientv3.Op{clientv3.OpGet(key)}
	for _, s := range sides {
		if !s.Delete {
			ops = append(ops, clientv3.OpGet(s.Key, clientv3.WithKeysOnly()))
		}
	}
	return ops
}

func (e *Etcd) Create(ctx context.Context, key string, value []byte, sides ...Side) (int64, error) {
	value, err := e.toStorage(key, value)
	if err != nil {
		return 0, err
	}
	guard := clientv3.Compare(clientv3.CreateRevision(key), "=", 0)
	return e.write(ctx, "create", guard, key, value, 0, sides, true)
}

// txn commits guard and the side keys' guards, then op and the side ops; on
// failure it says which precondition failed.
func (e *Etcd) txn(ctx context.Context, name string, guard clientv3.Cmp, op clientv3.Op, key string, rev int64, sides []Side, forCreate bool) (int64, error) {
	cmps, ops := sideOps(sides)
	cmps = append([]clientv3.Cmp{guard}, cmps...)
	ops = append([]clientv3.Op{op}, ops...)
	var resp *clientv3.TxnResponse
	err := e.call(ctx, name, func(ctx context.Context) (err error) {
		resp, err = e.client.Txn(ctx).If(cmps...).Then(ops...).Else(elseGets(key, sides)...).Commit()
		return err
	})
	if err != nil {
		return 0, err
	}
	if !resp.Succeeded {
		return 0, explain(resp, rev, sides, forCreate)
	}
	return resp.Header.Revision, nil
}

func (e *Etcd) Get(ctx context.Context, key string) (*KeyValue, error) {
	var resp *clientv3.GetResponse
	err := e.call(ctx, "get", func(ctx context.Context) (err error) {
		resp, err = e.client.Get(ctx, key)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, ErrNotFound
	}
	kv := resp.Kvs[0]
	return e.keyValue(string(kv.Key), kv.Value, kv.CreateRevision, kv.ModRevision)
}

func (e *Etcd) List(ctx context.Context, prefix string, o ListOptions) (*ListResult, error) {
	start := prefix
	if o.StartKey != "" {
		start = o.StartKey
	}
	opts := []clientv3.OpOption{clientv3.WithRange(clientv3.GetPrefixRangeEnd(prefix))}
	if o.Revision > 0 {
		opts = append(opts, clientv3.WithRev(o.Revision))
	}
	if o.Limit > 0 {
		opts = append(opts, clientv3.WithLimit(o.Limit))
	}
	var resp *clientv3.GetResponse
	err := e.call(ctx, "list", func(ctx context.Context) (err error) {
		resp, err = e.client.Get(ctx, start, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &ListResult{Revision: resp.Header.Revision, More: resp.More, Items: make([]*KeyValue, len(resp.Kvs))}
	if o.Revision > 0 {
		out.Revision = o.Revision
	}
	for i, kv := range resp.Kvs {
		if out.Items[i], err = e.keyValue(string(kv.Key), kv.Value, kv.CreateRevision, kv.ModRevision); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *Etcd) Update(ctx context.Context, key string, rev int64, value []byte, sides ...Side) (int64, error) {
	value, err := e.toStorage(key, value)
	if err != nil {
		return 0, err
	}
	guard := clientv3.Compare(clientv3.ModRevision(key), "=", rev)
	return e.write(ctx, "update", guard, key, value, rev, sides, false)
}

func (e *Etcd) Delete(ctx context.Context, key string, rev int64, sides ...Side) (int64, error) {
	guard := clientv3.Compare(clientv3.ModRevision(key), "=", rev)
	if rev == 0 {
		guard = clientv3.Compare(clientv3.CreateRevision(key), ">", 0)
	}
	return e.txn(ctx, "delete", guard, clientv3.OpDelete(key), key, rev, sides, false)
}

func (e *Etcd) Revision(ctx context.Context) (int64, error) {
	// A linearizable read of a key that never exists returns the current
	// revision in its header at the cost of one ReadIndex.
	var resp *clientv3.GetResponse
	err := e.call(ctx, "revision", func(ctx context.Context) (err error) {
		resp, err = e.client.Get(ctx, "\x00keel-revision", clientv3.WithKeysOnly())
		return err
	})
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

func (e *Etcd) Compact(ctx context.Context, rev int64) error {
	return e.call(ctx, "compact", func(ctx context.Context) error {
		_, err := e.client.Compact(ctx, rev)
		return err
	})
}

type etcdWatch struct {
	client *clientv3.Client
	values Transformers
	ctx    context.Context
	cancel context.CancelFunc
	events chan Event
	err    error // written before events is closed
}

func (e *Etcd) Watch(ctx context.Context, prefix string, rev int64) Watch {
	ctx, cancel := context.WithCancel(ctx)
	// Fail the watch, rather than hang, when this member loses its leader.
	ctx = clientv3.WithRequireLeader(ctx)
	w := &etcdWatch{client: e.watches, values: e.transformers, ctx: ctx, cancel: cancel, events: make(chan Event, 256)}
	wch := e.watches.Watch(ctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1),
		clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	go w.run(wch)
	return w
}

func (w *etcdWatch) run(wch clientv3.WatchChan) {
	defer close(w.events)
	for resp := range wch {
		if resp.CompactRevision != 0 {
			w.err = fmt.Errorf("%w: watch start revision compacted (oldest is %d)", ErrCompacted, resp.CompactRevision)
			w.cancel()
			return
		}
		if err := resp.Err(); err != nil {
			w.err = mapErr(err)
			w.cancel()
			return
		}
		if resp.IsProgressNotify() {
			if !w.send(Event{Type: EventProgress, ModRevision: resp.Header.Revision}) {
				return
			}
			continue
		}
		for _, ev := range resp.Events {
			out := Event{Key: string(ev.Kv.Key), ModRevision: ev.Kv.ModRevision, CreateRevision: ev.Kv.CreateRevision, Value: ev.Kv.Value}
			if ev.PrevKv != nil {
				out.PrevValue = ev.PrevKv.Value
			}
			if ev.Type == clientv3.EventTypeDelete {
				out.Type = EventDelete
				out.Value = out.PrevValue
			}
			if err := w.transform(&out); err != nil {
				w.err = err
				w.cancel()
				return
			}
			if !w.send(out) {
				return
			}
		}
	}
	if w.ctx.Err() == nil {
		w.err = fmt.Errorf("%w: watch channel closed", ErrUnavailable)
	} else if w.err == nil {
		w.err = w.ctx.Err()
	}
}

// transform reads an event's values through their key's transformer.
func (w *etcdWatch) transform(ev *Event) (err error) {
	if ev.PrevValue, _, err = fromStorage(w.values, ev.Key, ev.PrevValue); err != nil {
		return err
	}
	if ev.Type == EventDelete {
		ev.Value = ev.PrevValue
		return nil
	}
	ev.Value, _, err = fromStorage(w.values, ev.Key, ev.Value)
	return err
}

func (w *etcdWatch) send(ev Event) bool {
	select {
	case w.events <- ev:
		return true
	case <-w.ctx.Done():
		w.err = w.ctx.Err()
		return false
	}
}

func (w *etcdWatch) Events() <-chan Event { return w.events }
func (w *etcdWatch) Err() error           { return w.err }
func (w *etcdWatch) Stop()                { w.cancel() }

// RequestProgress asks etcd for a progress notification on this watch's
// stream (the client shares one stream among watches with the same context
// metadata, so others on it may receive one too, which is harmless).
func (w *etcdWatch) RequestProgress(ctx context.Context) error {
	return mapErr(w.client.RequestProgress(w.ctx))
}
