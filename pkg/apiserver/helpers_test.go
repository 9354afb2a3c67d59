package apiserver_test

// Helpers shared by the apiserver integration tests. Every test starts its
// own embedded etcd and apiserver (testserver), talks to it over real gRPC,
// and waits on conditions (watch events, polling) with a deadline: no sleeps.

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"

	"keel.dev/keel/pkg/apierrors"
	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/scheme"
	"keel.dev/keel/pkg/testutil"
)

// waitTimeout bounds every wait for an event or a condition.
const waitTimeout = 20 * time.Second

// client is one test's connection to one apiserver. Its helpers return
// errors (usable from any goroutine); the must* forms fail the test.
type client struct {
	t    testing.TB
	ctx  context.Context
	api  apiv1.APIClient
	etcd *clientv3.Client
	srv  *testserver.APIServer
}

// newClient wraps a running apiserver. The context ends with the test.
func newClient(t testing.TB, a *testserver.APIServer) *client {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return &client{t: t, ctx: ctx, api: a.API, etcd: a.Etcd, srv: a}
}

// start runs a fresh etcd and apiserver and returns a client to it.
func start(t testing.TB, configure func(*apiserver.Config)) *client {
	t.Helper()
	_, a := testserver.StartAll(t, configure)
	return newClient(t, a)
}

func pack(t testing.TB, obj proto.Message) *apiv1.CreateRequest {
	t.Helper()
	a, err := scheme.Pack(obj)
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	return &apiv1.CreateRequest{Object: a}
}

func unpack[T proto.Message](a interface {
	GetTypeUrl() string
	GetValue() []byte
}) (T, error) {
	var zero T
	k, ok := scheme.ByTypeURL(a.GetTypeUrl())
	if !ok {
		return zero, fmt.Errorf("unknown type %q", a.GetTypeUrl())
	}
	m := k.New()
	if err := proto.Unmarshal(a.GetValue(), m); err != nil {
		return zero, err
	}
	out, ok := m.(T)
	if !ok {
		return zero, fmt.Errorf("got a %T, want a %T", m, zero)
	}
	return out, nil
}

func resourceOf(obj proto.Message) string {
	k, ok := scheme.ByMessage(obj)
	if !ok {
		panic(fmt.Sprintf("%T is not a registered kind", obj))
	}
	return k.Resource
}

// create stores obj through the API; the resource comes from its kind and
// the namespace from its metadata.
func create[T proto.Message](c *client, obj T) (T, error) {
	var zero T
	a, err := scheme.Pack(obj)
	if err != nil {
		return zero, err
	}
	out, err := c.api.Create(c.ctx, &apiv1.CreateRequest{Resource: resourceOf(obj), Object: a})
	if err != nil {
		return zero, err
	}
	return unpack[T](out)
}

func mustCreate[T proto.Message](c *client, obj T) T {
	c.t.Helper()
	out, err := create(c, obj)
	if err != nil {
		c.t.Fatalf("create %s %s: %v", resourceOf(obj), scheme.Meta(obj).GetName(), err)
	}
	return out
}

// get reads one object; T names the kind.
func get[T proto.Message](c *client, ns, name string) (T, error) {
	var zero T
	out, err := c.api.Get(c.ctx, &apiv1.GetRequest{Resource: resourceOf(zero), Namespace: ns, Name: name})
	if err != nil {
		return zero, err
	}
	return unpack[T](out)
}

func mustGet[T proto.Message](c *client, ns, name string) T {
	c.t.Helper()
	out, err := get[T](c, ns, name)
	if err != nil {
		c.t.Fatalf("get %s/%s: %v", ns, name, err)
	}
	return out
}

// mustGetAny reads one object of any kind by resource name.
func mustGetAny(c *client, resource, ns, name string) proto.Message {
	c.t.Helper()
	out, err := c.api.Get(c.ctx, &apiv1.GetRequest{Resource: resource, Namespace: ns, Name: name})
	if err != nil {
		c.t.Fatalf("get %s %s/%s: %v", resource, ns, name, err)
	}
	obj, err := unpack[proto.Message](out)
	if err != nil {
		c.t.Fatal(err)
	}
	return obj
}

// mustBeGone asserts that Get of the object answers NotFound.
func mustBeGone[T proto.Message](c *client, ns, name string) {
	c.t.Helper()
	_, err := get[T](c, ns, name)
	if !apierrors.IsNotFound(err) {
		c.t.Fatalf("get %s/%s: got %v, want NotFound", ns, name, err)
	}
}

func update[T proto.Message](c *client, obj T) (T, error) {
	return doUpdate(c, obj, c.api.Update)
}

func updateStatus[T proto.Message](c *client, obj T) (T, error) {
	return doUpdate(c, obj, c.api.UpdateStatus)
}

func doUpdate[T proto.Message](c *client, obj T, call func(context.Context, *apiv1.UpdateRequest, ...grpc.CallOption) (*anypb.Any, error)) (T, error) {
	var zero T
	a, err := scheme.Pack(obj)
	if err != nil {
		return zero, err
	}
	out, err := call(c.ctx, &apiv1.UpdateRequest{Resource: resourceOf(obj), Object: a})
	if err != nil {
		return zero, err
	}
	return unpack[T](out)
}

func mustUpdate[T proto.Message](c *client, obj T) T {
	c.t.Helper()
	out, err := update(c, obj)
	if err != nil {
		c.t.Fatalf("update %s %s: %v", resourceOf(obj), scheme.Meta(obj).GetName(), err)
	}
	return out
}

func mustUpdateStatus[T proto.Message](c *client, obj T) T {
	c.t.Helper()
	out, err := updateStatus(c, obj)
	if err != nil {
		c.t.Fatalf("update status of %s %s: %v", resourceOf(obj), scheme.Meta(obj).GetName(), err)
	}
	return out
}

// list lists a resource; T names the kind. req.Resource is filled in.
func list[T proto.Message](c *client, req *apiv1.ListRequest) ([]T, *apiv1.ListResponse, error) {
	var zero T
	r := proto.Clone(req).(*apiv1.ListRequest)
	r.Resource = resourceOf(zero)
	resp, err := c.api.List(c.ctx, r)
	if err != nil {
		return nil, nil, err
	}
	out := make([]T, 0, len(resp.GetItems()))
	for _, a := range resp.GetItems() {
		o, err := unpack[T](a)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, o)
	}
	return out, resp, nil
}

func mustList[T proto.Message](c *client, req *apiv1.ListRequest) ([]T, string) {
	c.t.Helper()
	items, resp, err := list[T](c, req)
	if err != nil {
		c.t.Fatalf("list: %v", err)
	}
	return items, resp.GetResourceVersion()
}

func mustDelete(c *client, req *apiv1.DeleteRequest) *apiv1.DeleteResponse {
	c.t.Helper()
	resp, err := c.api.Delete(c.ctx, req)
	if err != nil {
		c.t.Fatalf("delete %s %s/%s: %v", req.GetResource(), req.GetNamespace(), req.GetName(), err)
	}
	return resp
}

// names returns the objects' names in order.
func names[T proto.Message](objs []T) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = scheme.Meta(o).GetName()
	}
	return out
}

// mustNamespace creates a namespace and, as the service account
// controller would, its "default" ServiceAccount (pods need it), and
// returns its name.
func mustNamespace(c *client, name string) string {
	c.t.Helper()
	mustCreate(c, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: name}})
	if err := testserver.DefaultServiceAccounts(c.ctx, c.srv.Server, name); err != nil {
		c.t.Fatal(err)
	}
	return name
}

// fromYAML decodes a Kubernetes-form document into a new T.
func fromYAML[T proto.Message](t testing.TB, doc string) T {
	t.Helper()
	var zero T
	m := zero.ProtoReflect().New().Interface()
	if err := manifest.DecodeInto([]byte(doc), m); err != nil {
		t.Fatalf("decoding test object: %v\n%s", err, doc)
	}
	return m.(T)
}

func configMap(ns, name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns}, Data: data}
}

func pod(ns, name string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		Metadata: &metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:     &corev1.PodSpec{Containers: []*corev1.Container{{Name: "app", Image: "busybox:1.36"}}},
	}
}

func rvOf(obj proto.Message) int64 {
	n, err := strconv.ParseInt(scheme.Meta(obj).GetResourceVersion(), 10, 64)
	if err != nil {
		panic(fmt.Sprintf("resourceVersion %q of %s: %v", scheme.Meta(obj).GetResourceVersion(), scheme.Meta(obj).GetName(), err))
	}
	return n
}

// etcdRevision is etcd's current revision: unchanged across a request means
// the request wrote nothing at all.
func etcdRevision(c *client) int64 {
	c.t.Helper()
	resp, err := c.etcd.Get(c.ctx, "/keel/-probe-")
	if err != nil {
		c.t.Fatalf("etcd revision: %v", err)
	}
	return resp.Header.Revision
}

// writesNothing runs fn and fails the test if etcd's revision moved.
func writesNothing(c *client, what string, fn func()) {
	c.t.Helper()
	before := etcdRevision(c)
	fn()
	if after := etcdRevision(c); after != before {
		c.t.Errorf("%s wrote to etcd: revision %d -> %d", what, before, after)
	}
}

// wantCode fails unless err is a gRPC status with the code.
func wantCode(t testing.TB, err error, want codes.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want)
	}
	if got := status.Code(err); got != want {
		t.Fatalf("got %s (%v), want %s", got, err, want)
	}
}

// fieldsOf returns the field paths listed in an InvalidArgument's details.
func fieldsOf(t testing.TB, err error) []string {
	t.Helper()
	e, ok := apierrors.FromStatus(err).(*apierrors.Error)
	if !ok {
		t.Fatalf("not an API error: %v", err)
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	sort.Strings(out)
	return out
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, waitTimeout, "waiting for "+what, testutil.Condition(cond, "not yet"))
}

// event is one received watch event, or the stream's end (err set).
type event struct {
	Type string
	Obj  proto.Message
	err  error
}

func (e event) name() string { return scheme.Meta(e.Obj).GetName() }
func (e event) rv() int64    { return rvOf(e.Obj) }

// watcher receives a Watch stream in a goroutine.
type watcher struct {
	t      testing.TB
	ch     chan event
	cancel context.CancelFunc
	// keepBookmarks: next returns BOOKMARK events too (else it skips them).
	keepBookmarks bool
}

// watch opens a watch; the stream is cancelled when the test ends. req's
// Resource is filled from T.
func watch[T proto.Message](c *client, req *apiv1.WatchRequest) *watcher {
	c.t.Helper()
	var zero T
	r := proto.Clone(req).(*apiv1.WatchRequest)
	r.Resource = resourceOf(zero)
	ctx, cancel := context.WithCancel(c.ctx)
	stream, err := c.api.Watch(ctx, r)
	if err != nil {
		cancel()
		c.t.Fatalf("watch: %v", err)
	}
	w := &watcher{t: c.t, ch: make(chan event, 1024), cancel: cancel}
	c.t.Cleanup(cancel)
	go func() {
		defer close(w.ch)
		for {
			ev, err := stream.Recv()
			var e event
			if err != nil {
				e = event{err: err}
			} else if obj, uerr := unpack[proto.Message](ev.GetObject()); uerr != nil {
				e = event{err: uerr}
			} else {
				e = event{Type: ev.GetType(), Obj: obj}
			}
			select {
			case w.ch <- e:
			case <-ctx.Done():
				return
			}
			if e.err != nil {
				return
			}
		}
	}()
	return w
}

// syncedWatch opens a watch from resourceVersion "0" with bookmarks and
// returns once the server has registered it: after the initial ADDED events
// (returned) and the bookmark that follows them.
func syncedWatch[T proto.Message](c *client, req *apiv1.WatchRequest) (*watcher, []event) {
	c.t.Helper()
	r := proto.Clone(req).(*apiv1.WatchRequest)
	r.ResourceVersion, r.AllowBookmarks = "0", true
	w := watch[T](c, r)
	w.keepBookmarks = true
	var initial []event
	for {
		e := w.next()
		if e.Type == "BOOKMARK" {
			break
		}
		initial = append(initial, e)
	}
	w.keepBookmarks = false
	return w, initial
}

// next returns the next event, failing the test on timeout or stream end.
func (w *watcher) next() event {
	w.t.Helper()
	e := w.nextOrEnd()
	if e.err != nil {
		w.t.Fatalf("watch ended: %v", e.err)
	}
	return e
}

// nextOrEnd returns the next event or the stream's end.
func (w *watcher) nextOrEnd() event {
	w.t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-w.ch:
			if !ok {
				w.t.Fatalf("watch channel closed")
			}
			if e.err == nil && e.Type == "BOOKMARK" && !w.keepBookmarks {
				continue
			}
			return e
		case <-timer.C:
			w.t.Fatalf("no watch event within %s", waitTimeout)
		}
	}
}

// expect returns the next event and fails unless it has the type and the
// object's name.
func (w *watcher) expect(typ, name string) event {
	w.t.Helper()
	e := w.next()
	if e.Type != typ || e.name() != name {
		w.t.Fatalf("got %s %s (rv %s), want %s %s", e.Type, e.name(), scheme.Meta(e.Obj).GetResourceVersion(), typ, name)
	}
	return e
}

// end waits for the stream to end and returns its error.
func (w *watcher) end() error {
	w.t.Helper()
	for {
		e := w.nextOrEnd()
		if e.err != nil {
			return e.err
		}
	}
}

// diffContains lists the fields set in want whose value differs in got:
// everything the caller set must come back unchanged (got may hold more,
// e.g. defaults).
func diffContains(want, got proto.Message) []string {
	var diffs []string
	var walk func(path string, w, g protoreflect.Message)
	var value func(path string, fd protoreflect.FieldDescriptor, w, g protoreflect.Value)
	value = func(path string, fd protoreflect.FieldDescriptor, w, g protoreflect.Value) {
		if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
			walk(path, w.Message(), g.Message())
			return
		}
		if !w.Equal(g) {
			diffs = append(diffs, fmt.Sprintf("%s: want %v, got %v", path, w, g))
		}
	}
	walk = func(path string, w, g protoreflect.Message) {
		w.Range(func(fd protoreflect.FieldDescriptor, wv protoreflect.Value) bool {
			p := path + "." + string(fd.Name())
			if !g.Has(fd) {
				diffs = append(diffs, p+": missing")
				return true
			}
			gv := g.Get(fd)
			switch {
			case fd.IsList():
				wl, gl := wv.List(), gv.List()
				if wl.Len() != gl.Len() {
					diffs = append(diffs, fmt.Sprintf("%s: want %d items, got %d", p, wl.Len(), gl.Len()))
					return true
				}
				for i := 0; i < wl.Len(); i++ {
					value(fmt.Sprintf("%s[%d]", p, i), fd, wl.Get(i), gl.Get(i))
				}
			case fd.IsMap():
				gm := gv.Map()
				wv.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
					kp := fmt.Sprintf("%s[%v]", p, k.Interface())
					if !gm.Has(k) {
						diffs = append(diffs, kp+": missing")
						return true
					}
					value(kp, fd.MapValue(), v, gm.Get(k))
					return true
				})
			default:
				value(p, fd, wv, gv)
			}
			return true
		})
	}
	walk("", want.ProtoReflect(), got.ProtoReflect())
	return diffs
}

func text(m proto.Message) string {
	return prototext.MarshalOptions{Multiline: true}.Format(m)
}

// assertEqual fails unless the messages are equal.
func assertEqual(t testing.TB, what string, want, got proto.Message) {
	t.Helper()
	if !proto.Equal(want, got) {
		t.Fatalf("%s differ:\nwant %s\ngot  %s", what, text(want), text(got))
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func containsAll(msg string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			return false
		}
	}
	return true
}
